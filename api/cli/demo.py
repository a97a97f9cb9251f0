"""`caregraph demo`: the README's run command: Neo4j up, demo data loaded, API serving."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from caregraph.api.access import pseudonyms
from caregraph.api.auth import KeyStore, Role
from caregraph.api.cli import analyst
from caregraph.api.settings import ApiSettings
from caregraph.graph import schema
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Settings
from caregraph.ontology.deidentification import PROFILE_FILE, ProfileError
from caregraph.ontology.model import load_ontology


def demo() -> None:
    """Start the managed Neo4j (unless NEO4J_URI is set), load the demo data and serve."""
    # imported here, not at the top: every `caregraph` command imports this module, and the
    # service and the loaders take seconds to import
    import uvicorn

    from caregraph.api.app import create_app
    from caregraph.loaders import terminology as lt
    from caregraph.loaders.demo import load_demo

    settings = Settings()
    api = ApiSettings()
    if not settings.neo4j.external:
        server = ManagedNeo4j(settings.paths.neo4j_home, settings.managed)
        try:
            status = server.start()
        except GraphError as e:
            typer.echo(f"error: Neo4j did not start: {e}", err=True)
            raise typer.Exit(1) from e
        browser = status.browser_url
        credentials = f"neo4j / {server.password()}"
    else:
        browser = "(external Neo4j: use its own Browser)"
        credentials = f"{settings.neo4j.username} / (NEO4J_PASSWORD)"
    conn = connection(settings)
    home = settings.paths.home.resolve()
    with session_driver(conn) as driver:
        schema.apply(driver, conn.database, load_ontology(), force=True)
        typer.echo("loading the demo data (Riverside Health, 12 patients, six source systems)")
        for report in load_demo(driver, conn.database, home / "demo"):
            typer.echo(
                f"  {report.source:<11} read {report.total('read'):>4}  "
                f"written {report.total('written'):>4}  rejected {report.total('rejected'):>3}"
            )
        # the codes' text and hierarchy (patientContext gives I21.4 as "Non-ST elevation
        # (NSTEMI) myocardial infarction"); a rerun compares and writes nothing
        typer.echo("loading ICD-10-CM (the CMS release caregraph ships)")
        icd = lt.load(driver, conn.database, lt.icd10cm())
        typer.echo(f"  {icd.name} {icd.version}: {icd.concepts} concepts in {icd.seconds:.0f} s")
        key = _demo_key(KeyStore(driver, conn.database), home / "demo-key")
    analyst_browser, analyst_login = _analyst_graph(settings)
    typer.echo("")
    typer.echo(f"  GraphiQL:       http://{api.host}:{api.port}/graphql")
    typer.echo(f"  API key:        {key}   (Authorization: Bearer <key>; role clinician)")
    typer.echo(f"  Neo4j Browser:  {browser}   (administrators: every right, real data)")
    typer.echo(f"  Bolt:           {conn.uri}")
    typer.echo(f"  Neo4j login:    {credentials}")
    typer.echo(f"  Analyst graph:  {analyst_browser}   (de-identified, read-only)")
    typer.echo(f"  Analyst login:  {analyst_login}")
    typer.echo("")
    uvicorn.run(create_app(conn), host=api.host, port=api.port, log_level="info")


def _analyst_graph(settings: Settings) -> tuple[str, str]:
    """Refresh the analyst graph (starting its managed Neo4j read-only); its Browser URL and
    login, or why there is none."""
    typer.echo("refreshing the analyst graph (de-identified by the HIPAA Safe Harbor profile)")
    try:
        report = analyst.run_refresh(settings, PROFILE_FILE)
    except (GraphError, ProfileError, pseudonyms.PseudonymKeyError) as e:
        typer.echo(f"warning: the analyst graph was not refreshed: {e}", err=True)
        return "(not available: see the warning above)", "-"
    typer.echo(f"  {analyst.describe(report)}")
    return analyst.browser_line(settings)


def _demo_key(keys: KeyStore, path: Path) -> str:
    """The demo's clinician key: made once, kept in the state directory (mode 0600)."""
    if path.exists():
        key = path.read_text().strip()
        try:
            keys.verify(key)
            return key
        except Exception:  # revoked or from another graph: make a new one
            path.unlink()
    key = keys.create(Role.clinician, "demo")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
