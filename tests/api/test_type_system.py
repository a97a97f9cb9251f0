"""strawberry's private ``Schema._schema`` is read in one place, api/type_system.py."""

from __future__ import annotations

import ast
from pathlib import Path

from graphql import GraphQLSchema

from caregraph.api.schema import schema
from caregraph.api.type_system import graphql_core

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "api" / "type_system.py"


def test_the_graphql_core_schema_is_strawberrys_own() -> None:
    built = graphql_core(schema)
    assert isinstance(built, GraphQLSchema)
    assert built.query_type is not None and "patient" in built.query_type.fields
    # the field metadata the cost estimate and projections read is there
    field = built.query_type.fields["patient"]
    assert field.extensions.get("strawberry-definition") is not None


def test_no_other_module_reads_the_private_attribute() -> None:
    readers = []
    for folder in ("api", "graph", "loaders", "ontology", "tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == HOME:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "_schema":
                    readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not readers, "use caregraph.api.type_system.graphql_core: " + ", ".join(readers)
