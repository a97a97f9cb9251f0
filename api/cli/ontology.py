"""`caregraph ontology check | diff | apply | generate`: the informaticists' workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from neo4j.exceptions import DriverError, Neo4jError

from caregraph.graph import schema
from caregraph.graph.driver import connection, open_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings
from caregraph.ontology.check import check as check_files
from caregraph.ontology.diff import diff_paths
from caregraph.ontology.errors import OntologyError, SchemaChangeRefused
from caregraph.ontology.grass import grass
from caregraph.ontology.model import ONTOLOGY_DIR, SHAPES_FILE, Ontology, load_ontology
from caregraph.ontology.schema_plan import ApplyReport, plan

app = typer.Typer(help="Check, compare and apply the ontology (ontology/*.ttl).")

GENERATED = ONTOLOGY_DIR / "generated"


def generated_files(onto: Ontology) -> dict[Path, str]:
    """The files generated from the ontology, by path: Browser style and guide, schema."""
    from caregraph.graph import (
        guide,  # the Browser guide pictures the ontology and holds the cookbook
    )
    from caregraph.graph.browser import GUIDE_FILE
    from caregraph.graph.ontology_picture import ontology_svg

    return {
        GENERATED / "caregraph.grass": grass(onto),
        GENERATED / "schema.cypher": schema.schema_script(plan(onto)),
        GUIDE_FILE: guide.guide(onto),
        guide.PICTURE_FILE: ontology_svg(onto) + "\n",
        guide.COOKBOOK_FILE: guide.cookbook(),
    }


@app.command()
def check(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Turtle files (default: the shipped ones).")
    ] = None,
) -> None:
    """Parse and validate the ontology and shapes; print each problem as file:line: term."""
    problems = check_files(files or None)
    for p in problems:
        typer.echo(str(p), err=p.severity == "error")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        typer.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"ontology ok ({warnings} warning(s))")


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The old ontology: a .ttl file or a directory.")],
    new: Annotated[Path, typer.Argument(help="The new ontology: a .ttl file or a directory.")],
) -> None:
    """What changed: classes, properties, keys, alignments and shapes."""
    try:
        result = diff_paths(old, new)
    except OntologyError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    for line in result.lines():
        typer.echo(line)


@app.command()
def apply(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Turtle files (default: the shipped ones); a shapes.ttl is the shapes."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report the impact; change nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Apply even if existing data breaks.")
    ] = False,
) -> None:
    """Report the impact on the graph and the API, then apply the ontology to Neo4j."""
    given = list(files or [])
    shapes = next((f for f in given if f.name == SHAPES_FILE), None)
    ttl = [f for f in given if f.name != SHAPES_FILE]
    try:
        onto = load_ontology(ttl or None)
    except OntologyError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    settings = Settings()
    try:
        conn = connection(settings)
        with open_driver(conn) as driver:
            report = schema.apply(
                driver, conn.database, onto, dry_run=dry_run, force=force, shapes_path=shapes
            )
    except SchemaChangeRefused as e:
        if isinstance(e.report, ApplyReport):
            for line in e.report.lines():
                typer.echo(line)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except OntologyError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except (GraphError, Neo4jError, DriverError, OSError) as e:
        typer.echo(f"error: Neo4j is not reachable or refused the change: {e}", err=True)
        raise typer.Exit(2) from e
    for line in report.lines():
        typer.echo(line)


@app.command()
def generate(
    check_only: Annotated[
        bool,
        typer.Option("--check", help="Fail if the committed files are out of date; write nothing."),
    ] = False,
) -> None:
    """Write ontology/generated/ (Browser style, schema Cypher) from the shipped ontology."""
    stale = []
    for path, text in generated_files(load_ontology()).items():
        current = path.read_text() if path.is_file() else None
        if current == text:
            continue
        stale.append(path)
        if not check_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            typer.echo(f"wrote {path}")
    if check_only and stale:
        typer.echo(f"out of date: {', '.join(str(p) for p in stale)}", err=True)
        raise typer.Exit(1)
    if not stale:
        typer.echo("generated files are up to date")
