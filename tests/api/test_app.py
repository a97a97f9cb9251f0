"""The service: /healthz, /readyz and a GraphQL round trip against the real Neo4j."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from graph.settings import Neo4jSettings


@pytest.fixture
def client(neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn)) as c:
        yield c


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_when_neo4j_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["neo4j"] == "reachable"


def test_readyz_when_neo4j_is_gone() -> None:
    unreachable = Neo4jSettings(uri="bolt://127.0.0.1:1", password="x")  # nothing listens on 1
    with TestClient(create_app(unreachable)) as c:
        response = c.get("/readyz")
    assert response.status_code == 503


def test_graphql_round_trip_reports_the_real_server(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ service { neo4jVersion neo4jEdition } }"})
    assert response.status_code == 200
    data = response.json()["data"]["service"]
    assert data["neo4jVersion"].startswith("5.26.")
    assert data["neo4jEdition"] == "community"


def test_graphiql_opens_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()
