"""The FastAPI application: GraphQL at /graphql, /healthz and /readyz."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from neo4j import Driver
from strawberry.fastapi import GraphQLRouter

from api import browser, graphiql
from api.context import Context
from api.fanout import FanoutCache
from api.schema import schema
from api.settings import ApiSettings
from graph.driver import connection, open_driver, ping
from graph.settings import Neo4jSettings, Settings

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def get_driver(request: Request) -> Driver:
    driver: Driver = request.app.state.driver
    return driver


def get_database(request: Request) -> str:
    database: str = request.app.state.database
    return database


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.api_settings
    return settings


DriverDep = Annotated[Driver, Depends(get_driver)]
DatabaseDep = Annotated[str, Depends(get_database)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]


async def get_context(
    request: Request, driver: DriverDep, database: DatabaseDep, settings: SettingsDep
) -> Context:
    context = Context(
        driver=driver,
        database=database,
        settings=settings,
        fanout=request.app.state.fanout,
    )
    given = request.headers.get("x-request-id", "")
    if _REQUEST_ID.match(given):  # a caller's own id ties its logs to ours; anything odd is not
        context.request_id = given
    return context


def create_app(conn: Neo4jSettings | None = None, settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the driver is made once in the lifespan and closed on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        target = conn or connection(Settings())
        app.state.driver = open_driver(target)
        app.state.database = target.database
        app.state.api_settings = settings or ApiSettings()
        app.state.fanout = FanoutCache()
        try:
            yield
        finally:
            app.state.driver.close()

    app = FastAPI(title="caregraph", lifespan=lifespan)
    app.include_router(
        GraphQLRouter(schema, context_getter=get_context, graphql_ide="graphiql"),
        prefix="/graphql",
    )

    app.include_router(browser.router)  # Neo4j Browser's guide and style
    graphiql.install(app)  # GraphiQL served from this machine, with examples

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(driver: DriverDep, database: DatabaseDep) -> JSONResponse:
        try:
            ping(driver, database)
        except Exception:  # any failure to answer means not ready; the reason is in the log
            return JSONResponse({"status": "unavailable", "neo4j": "unreachable"}, 503)
        return JSONResponse({"status": "ready", "neo4j": "reachable"})

    return app
