"""The graphql-core schema behind the strawberry one: what validation, the cost estimate, the
policy's refusals, the audit's selection and the MCP tools' pruning read.

strawberry builds a ``graphql.GraphQLSchema`` and keeps it as ``Schema._schema``; it offers no
public accessor (its maintainers point to that attribute: strawberry-graphql/strawberry#2590),
and rebuilding one from the SDL would lose the field metadata (the traversal behind each
field) that the estimate and the projections read. So this is the one place caregraph reaches
for it: a strawberry release that moves it breaks here, and tests/api/test_type_system.py
keeps every other module off the private name.
"""

from __future__ import annotations

from graphql import GraphQLSchema
from strawberry import Schema


def graphql_core(schema: Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry built for ``schema``."""
    built: GraphQLSchema = schema._schema
    return built
