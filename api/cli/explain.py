"""`caregraph explain A [B]`: why two source records are one individual, or why two are linked.

What it prints names patients, so it is a read like any other: the read audit records it
(the OS user, channel ``cli``, the patients it shows) before anything is printed, and if the
record cannot be written nothing is printed and the command fails.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from neo4j import Driver

from caregraph.api.audit import record_cli_read
from caregraph.api.cli import options
from caregraph.graph.anchors import AnchorError, Anchors
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.explain import Because, explain_link, explain_node, find_node
from caregraph.graph.settings import Settings

FIELDS = ["explain.identifiers", "explain.records", "explain.links"]


def explain(
    first: Annotated[
        str, typer.Argument(help="An identifier token system|value, a key or a value.")
    ],
    second: Annotated[
        str | None, typer.Argument(help="A second one: why are they one, or linked?")
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="Purpose of use for the audit record (e.g. HOPERAT)."),
    ] = None,
) -> None:
    """Explain a node (its identifiers, records and rules) or the tie between two."""
    settings = Settings()
    conn = connection(settings)
    try:
        anchors = Anchors.open(settings)
        with session_driver(conn) as driver:
            lines, shown, code = _explain(driver, conn.database, first, second)
            with options.recorded_or_stop("; try again or check Neo4j and the state directory"):
                record_cli_read(driver, conn.database, anchors, "explain", shown, FIELDS, purpose)
    except (GraphError, AnchorError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for line in lines:
        typer.echo(line)
    if code:
        raise typer.Exit(code)


def _explain(
    driver: Driver, database: str, first: str, second: str | None
) -> tuple[list[str], list[str], int]:
    """What to print, the keys of the nodes it shows, and the exit code."""
    out: list[str] = []
    a = _one(find_node(driver, database, first), first)
    if second is None:
        node = explain_node(driver, database, a)
        out.append(f"{':'.join(node.labels)} {node.key} ({node.display or ''})")
        out.append("known by:")
        out.extend(_line(because) for because in node.identifiers)
        out.append("asserted by:")
        out.extend(
            f"  {rec.get('sourceSystem')} {rec.get('file')} {rec.get('position')} "
            f"(run {rec.get('runId')})"
            for rec in node.records
        )
        if node.inferred:
            out.append("links made by rules:")
            out.extend(_line(because) for because in node.inferred)
        if node.decisions:
            out.append("identity decisions:")
            out.extend(_line(because) for because in node.decisions)
        return out, [a, *(b.other for b in node.inferred if b.other)], 0
    b = _one(find_node(driver, database, second), second)
    if a == b:
        node = explain_node(driver, database, a)
        out.append(f"{first} and {second} are one {node.labels[0]} ({a}), because:")
        out.extend(_line(because) for because in node.identifiers)
        return out, [a], 0
    ties = explain_link(driver, database, a, b)
    if not ties:
        return [f"{first} and {second} are different and not directly linked"], [a, b], 1
    out.append(f"{a} and {b} are linked:")
    out.extend(_line(because) for because in ties)
    return out, [a, b], 0


def _one(keys: list[str], token: str) -> str:
    if not keys:
        typer.echo(f"error: nothing in the graph is known as {token}", err=True)
        raise typer.Exit(2)
    if len(keys) > 1:
        typer.echo(f"error: {token} names {len(keys)} nodes; give system|value", err=True)
        raise typer.Exit(2)
    return keys[0]


def _line(because: Because) -> str:
    evidence = f" evidence {json.dumps(because.evidence)}" if because.evidence else ""
    sources = f" from {', '.join(because.sources)}" if because.sources else ""
    return f"  {because.what}: rule {because.rule}{evidence}{sources}"
