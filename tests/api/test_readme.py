"""The README's GraphQL examples are valid against the schema, so the README stays true."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from api.schema import schema

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_graphql_example_in_the_readme_validates() -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has GraphQL examples"
    for block in blocks:
        for query in re.split(r"\n(?=# )", block.strip()):
            body = "\n".join(ln for ln in query.splitlines() if not ln.startswith("#"))
            errors = validate(schema._schema, parse(body))
            assert not errors, (body, [e.message for e in errors])
