"""GraphiQL served from this machine: the page, its files, and examples valid for the schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from graphql import parse, validate

from caregraph.api import graphiql
from caregraph.api.app import create_app
from caregraph.api.schema import schema
from caregraph.api.type_system import graphql_core
from caregraph.graph.settings import Neo4jSettings


@pytest.fixture
def client(neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn)) as c:
        yield c


def test_page_loads_graphiql_from_this_service(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.text
    assert "unpkg.com" not in page and "jsdelivr" not in page  # no CDN on a closed network
    for asset in graphiql.ASSETS:
        assert f'/graphiql/{asset.name}" integrity="{asset.integrity}"' in page
        served = client.get(f"/graphiql/{asset.name}")
        assert served.status_code == 200 and asset.matches(served.content)


def test_page_opens_the_examples_with_an_authorization_header(client: TestClient) -> None:
    page = client.get("/graphql", headers={"Accept": "text/html"}).text
    tabs = json.loads(re.search(r"const tabs = (\[.*?\]);\n", page, re.S).group(1))  # type: ignore[union-attr]
    assert [t["query"] for t in tabs] == [e.query for e in graphiql.EXAMPLES]
    assert json.loads(tabs[0]["headers"]) == {"Authorization": graphiql.AUTH_PLACEHOLDER}
    assert "shouldPersistHeaders: false" in page


def test_page_opens_without_credentials_while_queries_still_reach_graphql(
    client: TestClient,
) -> None:
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 200
    answer = client.get(
        "/graphql", params={"query": "{ service { neo4jEdition } }"}, headers={"Accept": "*/*"}
    )
    assert "<html" not in answer.text  # a GET with a query is GraphQL's, not the page's


def test_unknown_asset_is_not_served(client: TestClient) -> None:
    assert client.get("/graphiql/../../etc/passwd").status_code == 404
    assert client.get("/graphiql/other.js").status_code == 404


@pytest.mark.parametrize("example", graphiql.EXAMPLES, ids=lambda e: e.title)
def test_example_is_valid_against_the_schema(example: graphiql.Example) -> None:
    document = parse(example.query)
    errors = validate(graphql_core(schema), document)
    assert not errors, [e.message for e in errors]


def test_missing_files_give_a_page_that_says_what_to_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr(graphiql, "ASSET_DIR", tmp_path)
    page = graphiql.page()
    assert "make install" in page and "<script" not in page
