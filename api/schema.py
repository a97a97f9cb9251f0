"""The GraphQL schema: root fields gathered from one module per type."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context
from graph import readers


@strawberry.type(description="The service and the graph behind it.")
class Service:
    version: str
    neo4j_version: str
    neo4j_edition: str


@strawberry.type
class Query:
    @strawberry.field(description="Versions of caregraph and of the Neo4j it reads.")
    def service(self, info: Info[Context, None]) -> Service:
        from importlib.metadata import version

        ctx = info.context
        components = readers.server_components(ctx.driver, ctx.database)
        return Service(
            version=version("caregraph"),
            neo4j_version=components["version"],
            neo4j_edition=components["edition"],
        )


schema = strawberry.Schema(query=Query)
