"""`caregraph neo4j start | stop | status | env`: the managed Neo4j server."""

from __future__ import annotations

import shlex

import typer

from caregraph.api.cli import servers
from caregraph.api.cli.servers import refuse_external
from caregraph.graph.driver import connection
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Settings

app = typer.Typer(help="Run the managed Neo4j server (not used when NEO4J_URI is set).")


def _managed(settings: Settings) -> ManagedNeo4j:
    return ManagedNeo4j(settings.paths.neo4j_home, settings.managed)


def _refuse_external(settings: Settings) -> None:
    refuse_external(
        settings.neo4j.external, "NEO4J_URI", settings.neo4j.uri, "caregraph uses that server"
    )


@app.command()
def start() -> None:
    """Start Neo4j (or find it running) and wait until Bolt answers."""
    settings = Settings()
    _refuse_external(settings)
    servers.start(_managed(settings))


@app.command()
def stop() -> None:
    """Stop Neo4j cleanly and wait until it has exited."""
    settings = Settings()
    _refuse_external(settings)
    servers.stop(_managed(settings))


@app.command()
def status() -> None:
    """Say whether Neo4j runs, with pid, URLs and version (exit 3 when it does not)."""
    settings = Settings()
    if settings.neo4j.external:
        typer.echo(f"external Neo4j at {settings.neo4j.uri} (NEO4J_URI)")
        return
    servers.show(_managed(settings).status())


@app.command()
def env() -> None:
    """Print shell exports for the managed server: eval "$(caregraph neo4j env)"."""
    settings = Settings()
    conn = connection(settings)
    password = conn.password.get_secret_value() if conn.password else ""
    for name, value in (
        ("NEO4J_URI", conn.uri or ""),
        ("NEO4J_USERNAME", conn.username),
        ("NEO4J_PASSWORD", password),
        ("NEO4J_DATABASE", conn.database),
    ):
        typer.echo(f"export {name}={shlex.quote(value)}")
