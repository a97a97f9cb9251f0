"""`caregraph analyst start | stop | status | refresh`: the de-identified analyst graph."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caregraph.api.access import pseudonyms
from caregraph.api.cli import servers
from caregraph.api.cli.servers import refuse_external
from caregraph.api.settings import ApiSettings
from caregraph.graph.analyst import RefreshReport, freshness, refresh
from caregraph.graph.analyst_server import managed, writable_target
from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings
from caregraph.ontology.deidentification import PROFILE_FILE, ProfileError, load_profile
from caregraph.ontology.model import load_ontology

app = typer.Typer(
    help="The analyst graph: a de-identified, read-only copy of the graph for Neo4j Browser."
)


def _refuse_external(settings: Settings) -> None:
    refuse_external(
        settings.analyst.external,
        "ANALYST_NEO4J_URI",
        settings.analyst.uri,
        "the analyst graph is that server, and caregraph",
    )


@app.command()
def start() -> None:
    """Start the analyst graph's Neo4j read-only (or find it running)."""
    settings = Settings()
    _refuse_external(settings)
    servers.start(managed(settings), "analyst graph", "running read-only")


@app.command()
def stop() -> None:
    """Stop the analyst graph's Neo4j."""
    settings = Settings()
    _refuse_external(settings)
    servers.stop(managed(settings), "analyst graph")


@app.command()
def status() -> None:
    """Say whether the analyst graph runs, with its URLs (exit 3 when it does not)."""
    settings = Settings()
    if settings.analyst.external:
        typer.echo(f"external analyst graph at {settings.analyst.uri} (ANALYST_NEO4J_URI)")
        return
    servers.show(managed(settings).status(), "analyst graph", "running read-only")
    try:
        with session_driver(managed(settings).connection()) as driver:
            fresh = freshness(driver, "neo4j")
    except GraphError as e:
        typer.echo(f"  Fresh:   unknown ({e})")
        return
    newest = fresh.newest.iso_format() if fresh.newest is not None else "never refreshed"
    typer.echo(f"  Fresh:   {fresh.runs} load runs applied, the newest ended {newest}")


@app.command("refresh")
def refresh_command(
    full: Annotated[
        bool, typer.Option("--full", help="Wipe the analyst graph and copy everything.")
    ] = False,
    profile: Annotated[
        Path, typer.Option(help="The de-identification profile (TOML).")
    ] = PROFILE_FILE,
) -> None:
    """Copy what the load runs changed since the last refresh, de-identified, into the
    analyst graph (the managed one is writable only meanwhile, on private ports)."""
    settings = Settings()
    try:
        report = run_refresh(settings, profile, full=full)
    except (GraphError, ProfileError, pseudonyms.PseudonymKeyError) as e:
        typer.echo(f"error: the analyst graph was not refreshed: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(describe(report))
    if report.unclassified:
        names = ", ".join(f"{k}.{p}" for k, p in sorted(report.unclassified))
        typer.echo(
            f"warning: properties the profile does not classify were left out: {names}; "
            f"classify them in {profile}",
            err=True,
        )


def run_refresh(settings: Settings, profile: Path, *, full: bool = False) -> RefreshReport:
    """One refresh with the API's pseudonym key, from the main graph into the analyst graph."""
    onto = load_ontology()
    deid = Deidentifier(
        load_profile(onto, profile),
        pseudonyms.load(ApiSettings(), settings.paths.home.resolve()),
    )
    main = connection(settings)
    with (
        session_driver(main) as source,
        writable_target(settings) as target_conn,
        session_driver(target_conn) as target,
    ):
        return refresh(source, main.database, target, target_conn.database, deid, full=full)


def describe(report: RefreshReport) -> str:
    kind = "full" if report.full else "incremental"
    return (
        f"analyst graph refreshed ({kind}): {len(report.runs)} load runs, {report.nodes} nodes "
        f"and {report.relationships} relationships written in {report.seconds:.1f} s"
    )


def browser_line(settings: Settings) -> tuple[str, str]:
    """The analyst graph's Browser URL and login, as `caregraph demo` prints them."""
    if settings.analyst.external:
        return (
            "(external: its own Browser)",
            f"{settings.analyst.username} / (ANALYST_NEO4J_PASSWORD)",
        )
    server = managed(settings)
    return server.status().browser_url, f"neo4j / {server.password()}"
