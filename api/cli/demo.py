"""`caregraph demo`: the README's run command: Neo4j up, demo data loaded, API serving."""

from __future__ import annotations

import typer
import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from graph.driver import connection
from graph.errors import GraphError
from graph.server import ManagedNeo4j
from graph.settings import Settings


def demo() -> None:
    """Start the managed Neo4j (unless NEO4J_URI is set), load the demo data and serve."""
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
    typer.echo("")
    typer.echo(f"  GraphiQL:       http://{api.host}:{api.port}/graphql")
    typer.echo(f"  Neo4j Browser:  {browser}")
    typer.echo(f"  Bolt:           {conn.uri}")
    typer.echo(f"  Neo4j login:    {credentials}")
    typer.echo("")
    uvicorn.run(create_app(conn), host=api.host, port=api.port, log_level="info")
