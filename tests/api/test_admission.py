"""Admission control: a worker at its limit refuses at once (503 OVERLOADED, Retry-After) or
after a bounded wait in its queue; a caller over its rate gets 429 RATE_LIMITED; health checks
are never refused for load."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from caregraph.api.app import create_app
from caregraph.api.auth import Role
from caregraph.api.context import Services
from caregraph.api.settings import ApiSettings
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import KeyMaker, bearer

QUERY = {"query": "{ __typename }"}


def _client(conn: Neo4jSettings, **settings: object) -> TestClient:
    return TestClient(create_app(conn, ApiSettings(**settings)))  # type: ignore[arg-type]


class Occupied:
    """Every place of the worker's gate taken from outside, as long-running requests would."""

    def __init__(self, client: TestClient) -> None:
        services: Services = client.app.state.services  # type: ignore[attr-defined]
        self.gate = services.gate
        self.client = client
        self.tokens = [object() for _ in range(self.gate.in_flight)]

    def __enter__(self) -> Occupied:
        for token in self.tokens:
            self.client.portal.call(self.gate.limiter.acquire_on_behalf_of, token)  # type: ignore[union-attr]
        return self

    def __exit__(self, *_: object) -> None:
        for token in self.tokens:
            self.client.portal.call(self._release, token)  # type: ignore[union-attr]

    async def _release(self, token: object) -> None:
        self.gate.limiter.release_on_behalf_of(token)


@pytest.fixture
def full(neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    """A worker that lets two requests run and none wait."""
    with _client(neo4j_conn, max_in_flight=2, max_queued=0) as c:
        yield c


def test_a_request_beyond_the_limit_is_refused_at_once_with_503(
    full: TestClient, api_key: KeyMaker
) -> None:
    key = bearer(api_key(Role.clinician))
    with Occupied(full):
        refused = full.post("/graphql", json=QUERY, headers=key)
        health = full.get("/healthz"), full.get("/readyz")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "OVERLOADED"
    assert error["extensions"]["retryAfter"] == 1
    assert "CAREGRAPH_API_MAX_IN_FLIGHT" in error["message"]
    assert error["extensions"]["requestId"] == refused.headers["x-request-id"]
    # liveness and readiness are answered whatever the load
    assert [r.status_code for r in health] == [200, 200]
    # places freed: answered again, no restart
    answered = full.post("/graphql", json=QUERY, headers=key)
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"data": {"__typename": "Query"}}


def test_a_queued_request_waits_at_most_its_bound_then_is_refused(
    neo4j_conn: Neo4jSettings, api_key: KeyMaker
) -> None:
    key = bearer(api_key(Role.clinician))
    with _client(neo4j_conn, max_in_flight=1, max_queued=4, max_queue_wait_s=0.2) as client:
        with Occupied(client):
            refused = client.post("/graphql", json=QUERY, headers=key)
        gate = client.app.state.services.gate  # type: ignore[attr-defined]
        answered = client.post("/graphql", json=QUERY, headers=key)
    assert refused.status_code == 503
    assert "no place freed in time" in refused.json()["errors"][0]["message"]
    assert answered.status_code == 200
    assert (gate.admitted, gate.refused) == (1, 1)


def test_a_caller_over_its_rate_gets_429_and_others_do_not(
    neo4j_conn: Neo4jSettings, api_key: KeyMaker
) -> None:
    first, second = bearer(api_key(Role.clinician)), bearer(api_key(Role.billing))
    with _client(neo4j_conn, rate_limit="2/minute") as client:
        statuses = [client.post("/graphql", json=QUERY, headers=first) for _ in range(3)]
        other = client.post("/graphql", json=QUERY, headers=second)
        anonymous = client.post("/graphql", json=QUERY)
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[2]
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    (error,) = limited.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["rate"] == "2 per 1 minute"
    assert other.status_code == 200  # per caller
    assert anonymous.status_code == 401  # no key: refused as before, not counted


def test_an_unreadable_rate_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        ApiSettings(rate_limit="lots per second")
