"""`caregraph serve`: the GraphQL service on uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from graph.driver import connection
from graph.settings import Settings


def serve(
    host: str = typer.Option(None, help="Listen address (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
) -> None:
    """Serve GraphQL (GraphiQL in a browser) at /graphql, with /healthz and /readyz."""
    api = ApiSettings()
    host = host or api.host
    port = port or api.port
    conn = connection(Settings())
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    uvicorn.run(create_app(conn), host=host, port=port, log_level="info")
