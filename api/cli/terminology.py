"""`caregraph terminology load | list`: code systems' concepts and hierarchy as graph data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from neo4j.exceptions import DriverError, Neo4jError

from caregraph.graph import terminology as gt
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings
from caregraph.loaders import terminology as lt

app = typer.Typer(help="Load terminologies (ICD-10-CM, or a file of your own) into the graph.")

MAX_PROBLEMS_SHOWN = 20


@app.command()
def load(
    name: Annotated[
        str | None,
        typer.Argument(help=f"A code system caregraph ships: {', '.join(lt.names())}."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="A terminology CSV of your own (header system,code,display,parent), for a "
            "licensed one such as SNOMED CT, LOINC or CPT.",
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="The release of the file's terminology.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=50_000)] = 5000,
) -> None:
    """Load a code system's concepts, displays and BROADER hierarchy; a rerun changes nothing.
    Exit 0: loaded; 1: some lines of the file left out; 2: usage or fatal error."""
    if (name is None) == (file is None):
        typer.echo("error: give a code system name or --file, one of the two", err=True)
        raise typer.Exit(2)
    problems: list[lt.LineProblem] = []
    started = time.perf_counter()
    if file is not None:
        if not file.is_file():
            typer.echo(f"error: no such file: {file}", err=True)
            raise typer.Exit(2)
        try:
            releases, problems = lt.from_file(file, version)
        except (lt.TerminologyFileError, OSError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
    else:
        assert name is not None  # one of the two, checked above
        source = lt.BUILTIN.get(name.strip().lower())
        if source is None:
            typer.echo(
                f"error: caregraph ships no release of {name!r} (it ships "
                f"{', '.join(lt.names())}); load a licensed terminology with --file",
                err=True,
            )
            raise typer.Exit(2)
        if version is not None:
            typer.echo("error: --version is for --file (a shipped release knows its own)", err=True)
            raise typer.Exit(2)
        releases = [source()]
    typer.echo(f"release read in {time.perf_counter() - started:.1f} s")
    settings = Settings()
    try:
        with session_driver(connection(settings)) as driver:
            database = connection(settings).database
            reports = [
                lt.load(driver, database, r, batch_size, problems if i == 0 else None)
                for i, r in enumerate(releases)
            ]
    except (GraphError, DriverError, Neo4jError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for report in reports:
        _print(report)
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        typer.echo(f"left out: {file}, line {p.line}: {p.reason}")
    if len(problems) > MAX_PROBLEMS_SHOWN:
        typer.echo(f"... and {len(problems) - MAX_PROBLEMS_SHOWN} more lines left out")
    raise typer.Exit(1 if problems else 0)


def _print(r: lt.TerminologyReport) -> None:
    c = r.changes
    typer.echo(
        f"{r.name} {r.version} ({r.uri}): {r.concepts} concepts, {r.broader} BROADER links; "
        f"{c.concepts_created} concepts created, {c.displays_set} displays set, "
        f"{c.broader_created} BROADER created, {c.broader_removed} removed, "
        f"{c.parents_created} parents without display; "
        f"{'changed' if c.changed else 'unchanged'}; written in {r.seconds:.1f} s"
    )


@app.command("list")
def list_() -> None:
    """The code system releases loaded in the graph."""
    settings = Settings()
    try:
        with session_driver(connection(settings)) as driver:
            found = gt.releases(driver, connection(settings).database)
    except (GraphError, DriverError, Neo4jError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    if not found:
        typer.echo("no terminology loaded (caregraph terminology load icd10cm)")
    for r in found:
        typer.echo(f"{r.name} {r.version}: {r.concept_count} concepts ({r.uri}; {r.release})")
