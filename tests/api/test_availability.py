"""Neo4j out of reach: every path answers 503 with Retry-After, fast, and recovers by itself.

The end-to-end test stops the session's real Neo4j under a running app and starts it again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from neo4j import Driver

from caregraph.api.app import create_app
from caregraph.api.auth import Authenticator, KeyStore, Role
from caregraph.api.availability import Breaker
from caregraph.api.errors import ServiceUnavailableError
from caregraph.api.settings import ApiSettings
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import KeyMaker, bearer, make_gql

# Not a speed measurement: the bound tells "answered without waiting on the database" from the
# driver's retries, which held a request 33-58 s; generous, so a busy CI machine cannot flake it.
FAST = 10.0
UNREACHABLE = Neo4jSettings(uri="bolt://127.0.0.1:1", password="x")  # nothing listens on 1
QUERY = {"query": '{ patient(identifier: "HOSP|MRN001") { key } }'}
# a level below the lookup: the compiled path's one statement, through the service's async
# driver (QUERY's lookup alone is read through the synchronous one)
COVERED = {
    "query": '{ patient(identifier: "HOSP|MRN001") { key encounters(first: 2) { totalCount } } }'
}
MCP_INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "t", "version": "0"}},
}  # fmt: skip
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


def _timed(call: Any) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def _is_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) >= 1
    if response.request.url.path == "/readyz":
        assert response.json()["status"] == "unavailable"
        assert response.json()["retryAfter"] == int(response.headers["retry-after"])
        return
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryAfter"] == int(response.headers["retry-after"])
    assert "not available" in error["message"]


# -- the breaker on its own ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_refuses_at_once_then_lets_one_probe_through() -> None:
    clock = Clock()
    breaker = Breaker(open_s=5, clock=clock)
    breaker.admit("r1")  # closed: anyone
    assert breaker.failed().retry_after_s == 5
    with pytest.raises(ServiceUnavailableError) as refused:
        breaker.admit("r2")
    assert refused.value.retry_after_s == 5
    clock.now += 4.2
    with pytest.raises(ServiceUnavailableError) as refused:
        breaker.admit("r3")
    assert refused.value.retry_after_s == 1
    clock.now += 1
    breaker.admit("probe")  # one probe ...
    breaker.admit("probe")  # (the same request, admitted again by the GraphQL layer)
    with pytest.raises(ServiceUnavailableError):
        breaker.admit("r4")  # ... and nobody else while it runs
    breaker.succeeded()
    breaker.admit("r5")
    assert breaker.closed


def test_a_probe_that_never_reports_is_replaced() -> None:
    clock = Clock()
    breaker = Breaker(open_s=2, clock=clock)
    breaker.failed()
    clock.now += 2
    breaker.admit("lost")
    clock.now += 2.5
    breaker.admit("next")  # the lost probe's time is up


# -- GraphQL and the app on a Neo4j that is not there ----------------------------------------


def test_a_read_neo4j_cannot_answer_is_service_unavailable_not_internal() -> None:
    with open_driver(UNREACHABLE, acquisition_timeout=1, max_retry_time=0) as dead:
        breaker = Breaker(open_s=30)
        gql = make_gql(dead, "neo4j")
        start = time.monotonic()
        run = gql(QUERY["query"], breaker=breaker)
        elapsed = time.monotonic() - start
        (error,) = run.errors  # no AUDIT_FAILED beside it: nothing was read or answered
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["retryAfter"] == 30
        assert "127.0.0.1" not in error["message"]  # the driver's text stays in the log
        assert run.result.data is None and elapsed < FAST
        assert not breaker.closed
        # a query whose cost estimate reads the graph's fan-out, refused at once now
        traversal = '{ patient(identifier: "a|b") { encounters { edges { node { key } } } } }'
        (error,) = gql(traversal, breaker=breaker).errors
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"


def test_a_read_that_fails_after_the_key_check_is_a_503(
    driver: Driver, neo4j_conn: Neo4jSettings, api_key: KeyMaker
) -> None:
    key = api_key(Role.clinician)
    with TestClient(create_app(UNREACHABLE)) as client:
        # keys are checked against the live Neo4j, the reads go to the one that is not there:
        # what a JWT caller (no key check) meets when Neo4j goes away
        client.app.state.services.authenticator = Authenticator(  # type: ignore[attr-defined]
            KeyStore(driver, neo4j_conn.database)
        )
        response, elapsed = _timed(lambda: client.post("/graphql", json=QUERY, headers=bearer(key)))
    _is_unavailable(response)
    assert elapsed < FAST


def test_the_key_check_and_readiness_answer_503_with_retry_after() -> None:
    with TestClient(create_app(UNREACHABLE)) as client:
        for call in (
            lambda: client.post("/graphql", json=QUERY, headers=bearer("cg_abc_def")),
            lambda: client.post("/mcp", json=MCP_INIT, headers={**MCP_ACCEPT, **bearer("cg_a_b")}),
            lambda: client.get("/readyz"),
        ):
            response, elapsed = _timed(call)
            assert response.status_code == 503 and elapsed < FAST
            assert int(response.headers["retry-after"]) >= 1


# -- the real Neo4j stopped and started again ------------------------------------------------


@pytest.fixture
def server(managed_server: ManagedNeo4j | None) -> Iterator[ManagedNeo4j]:
    """The session's managed Neo4j, started again whatever the test did to it."""
    if managed_server is None:
        pytest.skip("Neo4j is external (NEO4J_URI): this test stops and starts the managed one")
    try:
        yield managed_server
    finally:
        managed_server.start()


def test_neo4j_stopped_then_started_again(
    server: ManagedNeo4j, neo4j_conn: Neo4jSettings, api_key: KeyMaker
) -> None:
    key = api_key(Role.clinician)
    settings = ApiSettings(unavailable_retry_after_s=2, compiled_wait_for_plan=True)
    with TestClient(create_app(neo4j_conn, settings)) as client:
        for ask in (QUERY, COVERED):
            response = client.post("/graphql", json=ask, headers=bearer(key))
            assert response.status_code == 200 and "errors" not in response.json()

        server.stop()
        # the first request to meet the stopped server is the async driver's statement
        first, elapsed = _timed(lambda: client.post("/graphql", json=COVERED, headers=bearer(key)))
        _is_unavailable(first)
        assert elapsed < FAST, f"the first 503 took {elapsed:.2f} s"
        print(f"\n503 with Neo4j down: first {elapsed * 1000:.0f} ms", end="")
        # the breaker is open: the others are refused without asking Neo4j
        for call in (
            lambda: client.post("/graphql", json=QUERY, headers=bearer(key)),
            lambda: client.post("/mcp", json=MCP_INIT, headers={**MCP_ACCEPT, **bearer(key)}),
            lambda: client.get("/readyz"),
        ):
            response, elapsed = _timed(call)
            _is_unavailable(response)
            assert elapsed < FAST
        print(f", then {elapsed * 1000:.0f} ms", end="")

        server.start()
        deadline = time.monotonic() + 30
        while True:  # as a client would: again after Retry-After, no restart of the API
            response = client.post("/graphql", json=QUERY, headers=bearer(key))
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(int(response.headers.get("retry-after", "1")))
        assert response.status_code == 200, response.text
        assert "errors" not in response.json()
        # the async driver's connections to the stopped server are replaced too
        response = client.post("/graphql", json=COVERED, headers=bearer(key))
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert client.get("/readyz").status_code == 200
