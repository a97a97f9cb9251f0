"""`caregraph identity ...`: the probabilistic identity stage, run after loads, and a data
steward's decisions on what it proposes (docs/identity.md).

What `candidates list` and the decisions print names patients (their keys), so each is a
read like any other: the read audit records it (the OS user, channel ``cli``) before anything
is printed. A decision itself is recorded in the graph, with who, when and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from neo4j import Driver
from neo4j.exceptions import DriverError, Neo4jError

from caregraph.api.audit import cli_subject, record_cli_read
from caregraph.api.cli import options
from caregraph.graph import stewardship
from caregraph.graph.anchors import AnchorError, Anchors
from caregraph.graph.candidates import OPEN, list_candidates
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings
from caregraph.loaders.identity import ProbabilisticConfig

app = typer.Typer(help="Probable matches between patients, and the steward's decisions on them.")

Reason = Annotated[
    str, typer.Option("--reason", help="Why: recorded with the decision (no patient data).")
]


@app.command()
def candidates(
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0.5,
            max=1.0,
            help="Propose pairs whose match probability is at least this.",
        ),
    ] = ProbabilisticConfig.threshold,
    auto_merge: Annotated[
        float | None,
        typer.Option(
            "--auto-merge",
            min=0.5,
            max=1.0,
            help="Merge without review the pairs at least this probable (default: none).",
        ),
    ] = None,
) -> None:
    """Train a Fellegi-Sunter model (Splink) on the graph's patients and write the pairs above
    the threshold as (:MatchCandidate) nodes with their evidence per field; pairs a decision
    closed are not proposed again. Prints one JSON line of counts and time (no patient data).
    Exit 0: done; 2: Neo4j unreachable or failed."""
    # imported here, not at the top: every `caregraph` command imports this module, and
    # Splink (with pandas and DuckDB) takes about a second to import
    from caregraph.loaders import probabilistic

    settings = Settings()
    conn = connection(settings)
    config = ProbabilisticConfig(threshold=threshold, auto_merge=auto_merge)
    try:
        with session_driver(conn) as driver:
            result = probabilistic.run(driver, conn.database, config)
    except (GraphError, DriverError, Neo4jError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(json.dumps(result.as_json()))


@app.command("list")
def list_(
    status: Annotated[
        str, typer.Option("--status", help="open, accepted, rejected, split, or all.")
    ] = OPEN,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
) -> None:
    """Candidates, most probable first, one JSON line each: key, the two patients' keys,
    probability, match weight, status and the evidence per field."""

    def run(driver: Driver, database: str) -> tuple[list[dict[str, Any]], list[str]]:
        rows = list_candidates(
            driver, database, status=None if status == "all" else status, limit=limit
        )
        shown = [k for r in rows for k in r["patients"]]
        return [_jsonable(r) for r in rows], shown

    _audited("identity.list", run)


@app.command()
def accept(
    candidate: Annotated[str, typer.Argument(help="The candidate's key (from `list`).")],
    reason: Reason,
) -> None:
    """Merge the candidate's two patients (a split undoes it)."""
    _decision(
        "identity.accept",
        lambda d, db: [stewardship.accept(d, db, candidate, actor=cli_subject(), reason=reason)],
    )


@app.command()
def reject(
    candidate: Annotated[str, typer.Argument(help="The candidate's key (from `list`).")],
    reason: Reason,
) -> None:
    """Keep the candidate's two patients apart; the pair is never proposed again."""
    _decision(
        "identity.reject",
        lambda d, db: [stewardship.reject(d, db, candidate, actor=cli_subject(), reason=reason)],
    )


@app.command()
def split(
    patient: Annotated[str, typer.Argument(help="The merged patient's key.")],
    reason: Reason,
) -> None:
    """Undo every merge into the patient: the patients it absorbed are back as they were."""
    _decision(
        "identity.split",
        lambda d, db: stewardship.split(d, db, patient, actor=cli_subject(), reason=reason),
    )


def _decision(operation: str, decide: Callable[[Driver, str], list[stewardship.Decision]]) -> None:
    def run(driver: Driver, database: str) -> tuple[list[dict[str, Any]], list[str]]:
        try:
            done = decide(driver, database)
        except stewardship.DecisionError as e:
            typer.echo(f"error: {e.code}: {e}", err=True)
            raise typer.Exit(1) from e
        return [d.as_json() for d in done], [k for d in done for k in d.patients]

    _audited(operation, run)


def _audited(
    operation: str, run: Callable[[Driver, str], tuple[list[dict[str, Any]], list[str]]]
) -> None:
    """Run, record the read of the patients it shows, then print (nothing if not recorded)."""
    settings = Settings()
    conn = connection(settings)
    try:
        anchors = Anchors.open(settings)
        with session_driver(conn) as driver:
            lines, shown = run(driver, conn.database)
            with options.recorded_or_stop("; the decision, if any, is in the graph"):
                record_cli_read(driver, conn.database, anchors, operation, shown, [operation])
    except (GraphError, AnchorError, DriverError, Neo4jError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(2) from e
    for line in lines:
        typer.echo(json.dumps(line))


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if hasattr(v, "iso_format"):
            v = v.iso_format()
        elif k == "evidence" and isinstance(v, str):
            v = json.loads(v)
        out[k] = v
    return out
