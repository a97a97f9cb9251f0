"""The FastAPI application: GraphQL at /graphql, /healthz and /readyz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from neo4j import Driver
from strawberry.fastapi import GraphQLRouter

from api import browser, graphiql
from api.context import Context
from api.schema import schema
from graph.driver import connection, open_driver, ping
from graph.settings import Neo4jSettings, Settings


def get_driver(request: Request) -> Driver:
    driver: Driver = request.app.state.driver
    return driver


def get_database(request: Request) -> str:
    database: str = request.app.state.database
    return database


DriverDep = Annotated[Driver, Depends(get_driver)]
DatabaseDep = Annotated[str, Depends(get_database)]


async def get_context(driver: DriverDep, database: DatabaseDep) -> Context:
    return Context(driver=driver, database=database)


def create_app(conn: Neo4jSettings | None = None) -> FastAPI:
    """Build the app; the driver is made once in the lifespan and closed on shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        target = conn or connection(Settings())
        app.state.driver = open_driver(target)
        app.state.database = target.database
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
