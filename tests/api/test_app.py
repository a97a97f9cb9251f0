"""The service: /healthz, /readyz and a GraphQL round trip against the real Neo4j."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from caregraph.api.app import create_app
from caregraph.api.auth import Role
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import KeyMaker, bearer


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


def test_graphql_round_trip_reports_the_real_server(client: TestClient, api_key: KeyMaker) -> None:
    response = client.post(
        "/graphql",
        json={"query": "{ service { neo4jVersion neo4jEdition } }"},
        headers=bearer(api_key(Role.analyst)),
    )
    assert response.status_code == 200
    data = response.json()["data"]["service"]
    assert data["neo4jVersion"].startswith("5.26.")
    assert data["neo4jEdition"] == "community"


def test_graphiql_opens_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


# -- the context API through HTTP ------------------------------------------------------------


@pytest.fixture
def loaded_client(dataset: object, neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn)) as c:
        yield c


def test_patient_context_over_http(loaded_client: TestClient, api_key: KeyMaker) -> None:
    query = """query($id: String!) { patientContext(identifier: $id, budgetTokens: 400) {
               text truncated totalEvents } }"""
    response = loaded_client.post(
        "/graphql",
        json={"query": query, "variables": {"id": "HOSP|MRN001"}},
        headers=bearer(api_key(Role.clinician)),
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    ctx = body["data"]["patientContext"]
    assert ctx["totalEvents"] == 5 and ctx["truncated"] is False
    assert "JANE DOE" in ctx["text"] and "[E1] 2024-05-01T08:30-05:00 Encounter" in ctx["text"]


def test_errors_over_http_carry_the_callers_request_id(
    loaded_client: TestClient, api_key: KeyMaker
) -> None:
    query = '{ patient(identifier: "ada") { claims(first: 1000) { totalCount } } }'
    key = bearer(api_key(Role.billing))
    response = loaded_client.post(
        "/graphql", json={"query": query}, headers={"X-Request-ID": "agent-run-7", **key}
    )
    (error,) = response.json()["errors"]
    assert error["extensions"]["limit"] == "page size"
    assert error["extensions"]["requestId"] == "agent-run-7"
    # an id that is not a plain token is not taken over: the service makes its own
    odd = loaded_client.post(
        "/graphql",
        json={"query": query},
        headers={"X-Request-ID": "x <script>alert(1)</script>", **key},
    )
    rid = odd.json()["errors"][0]["extensions"]["requestId"]
    assert "script" not in rid and len(rid) == 32
