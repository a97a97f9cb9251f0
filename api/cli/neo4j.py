"""`caregraph neo4j start | stop | status | env`: the managed Neo4j server."""

from __future__ import annotations

import shlex

import typer

from graph.driver import connection
from graph.errors import GraphError
from graph.server import ManagedNeo4j
from graph.settings import Settings

app = typer.Typer(help="Run the managed Neo4j server (not used when NEO4J_URI is set).")


def _managed(settings: Settings) -> ManagedNeo4j:
    return ManagedNeo4j(settings.paths.neo4j_home, settings.managed)


def _refuse_external(settings: Settings) -> None:
    if settings.neo4j.external:
        typer.echo(
            f"NEO4J_URI is set ({settings.neo4j.uri}): caregraph uses that server and "
            "never starts its own.",
            err=True,
        )
        raise typer.Exit(2)


@app.command()
def start() -> None:
    """Start Neo4j (or find it running) and wait until Bolt answers."""
    settings = Settings()
    _refuse_external(settings)
    server = _managed(settings)
    try:
        status = server.start()
    except GraphError as e:
        typer.echo(f"error: Neo4j did not start: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"Neo4j {status.version} running (pid {status.pid})")
    typer.echo(f"  Bolt:    {status.bolt_uri}")
    typer.echo(f"  Browser: {status.browser_url}")
    typer.echo(f"  User:    neo4j   password in {server.password_file}")


@app.command()
def stop() -> None:
    """Stop Neo4j cleanly and wait until it has exited."""
    settings = Settings()
    _refuse_external(settings)
    if _managed(settings).stop():
        typer.echo("Neo4j stopped")
    else:
        typer.echo("Neo4j was not running")


@app.command()
def status() -> None:
    """Say whether Neo4j runs, with pid, URLs and version (exit 3 when it does not)."""
    settings = Settings()
    if settings.neo4j.external:
        typer.echo(f"external Neo4j at {settings.neo4j.uri} (NEO4J_URI)")
        return
    st = _managed(settings).status()
    state = f"running (pid {st.pid})" if st.running else "not running"
    typer.echo(f"Neo4j {st.version}: {state}")
    typer.echo(f"  Bolt:    {st.bolt_uri}")
    typer.echo(f"  Browser: {st.browser_url}")
    typer.echo(f"  Home:    {st.home}")
    if not st.running:
        raise typer.Exit(3)


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
