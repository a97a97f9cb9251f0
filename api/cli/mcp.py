"""`caregraph mcp`: the API's operations as MCP tools over stdio, for an agent on this machine."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import anyio
import typer

from caregraph.api import logs
from caregraph.api.access import pseudonyms
from caregraph.api.auth import Authenticator, AuthError, JwtVerifier, KeyStore, OidcSettings
from caregraph.api.settings import ApiSettings
from caregraph.graph.anchors import AnchorError, Anchors
from caregraph.graph.driver import connection, open_async_driver, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Neo4jSettings, Settings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from caregraph.api.context import Services


def mcp(
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="CAREGRAPH_API_KEY",
            help="The API key (or bearer JWT) the tools run as (default: CAREGRAPH_API_KEY).",
            show_default=False,
        ),
    ] = None,
    purpose: Annotated[
        str | None,
        typer.Option(
            "--purpose",
            envvar="CAREGRAPH_PURPOSE_OF_USE",
            help="Purpose of use recorded with every read (TREAT, HPAYMT, HOPERAT ...).",
        ),
    ] = None,
) -> None:
    """Serve the MCP tools over stdio as the key's caller (refuses to start without a valid key)."""
    if not key:
        typer.echo("error: no key: set CAREGRAPH_API_KEY or pass --key", err=True)
        raise typer.Exit(2)
    # imported here, not at the top: every `caregraph` command imports this module, and the
    # tools (the GraphQL schema, the MCP SDK) take seconds to import
    from caregraph.api.context import Services
    from caregraph.api.mcp import Tools, build, stdio_caller

    settings = Settings()
    api = ApiSettings()
    oidc = OidcSettings()
    logging.basicConfig(level=logging.WARNING)  # stderr: stdout carries the protocol
    logs.install()
    try:
        conn = connection(settings)
        # the service's timeouts: an agent's tool call hears at once that Neo4j is gone
        with session_driver(conn, **api.driver_timeouts()) as driver:
            authenticator = Authenticator(
                KeyStore(driver, conn.database), JwtVerifier(oidc) if oidc.issuer else None
            )
            try:
                principal = authenticator.authenticate(f"Bearer {key}")
            except AuthError as e:
                typer.echo(f"error: refusing to start: {e}", err=True)
                raise typer.Exit(2) from e
            services = Services(
                driver,
                conn.database,
                api,
                pseudonyms.load(api, settings.paths.home.resolve()),
                authenticator,
                Anchors.open(settings),
            )
            server = build(Tools(stdio_caller(authenticator, key, purpose), services))
            typer.echo(
                f"caregraph MCP over stdio as {principal.subject} ({principal.role})", err=True
            )
            try:
                anyio.run(_over_stdio, server, services, conn, api)
            finally:
                services.anchors.flush()
    except (GraphError, pseudonyms.PseudonymKeyError, AnchorError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


async def _over_stdio(
    server: MCPServer, services: Services, conn: Neo4jSettings, api: ApiSettings
) -> None:
    """The MCP server over stdio on its event loop, with the async driver that the compiled
    statements run through, made and closed on that loop (as the HTTP service's lifespan
    makes its own)."""
    services.async_driver = open_async_driver(conn, **api.driver_timeouts())
    try:
        await server.run_stdio_async()
    finally:
        await services.async_driver.close()
