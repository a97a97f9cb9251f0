"""`caregraph serve`: the GraphQL service on uvicorn."""

from __future__ import annotations

import os
import secrets

import typer

from caregraph.api.settings import ApiSettings
from caregraph.graph.driver import connection
from caregraph.graph.settings import Settings


def serve(
    host: str = typer.Option(None, help="Listen address (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8000)."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes (uvicorn's); about one per core."
    ),
) -> None:
    """Serve GraphQL (GraphiQL in a browser) at /graphql, MCP at /mcp, with /healthz and
    /readyz."""
    # imported here, not at the top: every `caregraph` command imports this module, and the
    # service (strawberry, FastAPI, the MCP SDK) takes seconds to import
    import uvicorn

    from caregraph.api.app import create_app

    api = ApiSettings()
    host = host or api.host
    port = port or api.port
    conn = connection(Settings())
    typer.echo(f"GraphiQL: http://{host}:{port}/graphql")
    typer.echo(f"MCP:      http://{host}:{port}/mcp")
    if workers == 1:
        uvicorn.run(
            create_app(conn), host=host, port=port, log_level=api.log_level,
            access_log=api.access_log,
        )  # fmt: skip
        return
    # Each worker is a new process that builds its app from the environment: the Neo4j it
    # talks to, and one cursor key for all of them (a cursor one worker gives out must page
    # on at another; the pseudonym key is shared through the state directory already).
    os.environ.update(
        NEO4J_URI=conn.uri or "",
        NEO4J_USERNAME=conn.username,
        NEO4J_PASSWORD=conn.password.get_secret_value() if conn.password else "",
        NEO4J_DATABASE=conn.database,
    )
    if api.cursor_key is None:
        os.environ["CAREGRAPH_API_CURSOR_KEY"] = secrets.token_urlsafe(32)
    uvicorn.run(
        "caregraph.api.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_level=api.log_level, access_log=api.access_log,
        timeout_worker_healthcheck=api.worker_healthcheck_s,
    )  # fmt: skip
