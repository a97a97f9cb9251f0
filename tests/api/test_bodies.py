"""Request bodies: too large is a 413 before parsing, not JSON or too deep a 400, both as
GraphQL error bodies."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from caregraph.api.app import create_app
from caregraph.api.auth import Role
from caregraph.api.bodies import json_depth
from caregraph.api.settings import ApiSettings
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import KeyMaker, bearer

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn, ApiSettings(max_body_bytes=32_768))) as c:
        yield c


def _error(response: object) -> dict[str, object]:
    (error,) = response.json()["errors"]  # type: ignore[attr-defined]
    return dict(error)


def test_a_body_over_the_limit_is_refused_with_413(client: TestClient, api_key: KeyMaker) -> None:
    key = bearer(api_key(Role.clinician))
    padding = "x" * 40_000
    query = "{ service { version } } # " + padding
    response = client.post("/graphql", json={"query": query}, headers=key)
    assert response.status_code == 413
    error = _error(response)
    assert error["extensions"] == {
        "code": "PAYLOAD_TOO_LARGE", "limit": 32_768, "setting": "CAREGRAPH_API_MAX_BODY_BYTES",
        "requestId": response.headers["x-request-id"],
    }  # fmt: skip
    assert "32768 bytes" in str(error["message"])


def test_a_body_without_a_length_is_counted_as_it_streams(
    client: TestClient, api_key: KeyMaker
) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:  # 10 MB, if anyone read it all
        nonlocal sent
        yield b'{"query": "{ service { version } }", "pad": "'
        for _ in range(10 * 1024):
            sent += 1
            yield b"x" * 1024
        yield b'"}'

    key = bearer(api_key(Role.clinician))
    start = time.monotonic()
    response = client.post("/graphql", content=chunks(), headers={**JSON, **key})
    assert response.status_code == 413
    assert time.monotonic() - start < 2


def test_a_body_under_the_limit_is_answered(client: TestClient, api_key: KeyMaker) -> None:
    key = bearer(api_key(Role.clinician))
    response = client.post("/graphql", json={"query": "{ service { version } }"}, headers=key)
    assert response.status_code == 200 and response.json()["data"]["service"]["version"]


def test_deep_or_broken_json_is_a_400_with_a_graphql_error(
    client: TestClient, api_key: KeyMaker
) -> None:
    key = {**JSON, **bearer(api_key(Role.clinician))}
    deep = b'{"query": "{ service { version } }", "variables": {"a": ' + b"[" * 10_000
    deep += b"]" * 10_000 + b"}}"
    for body, why in (
        (deep, "nests deeper than 64"),
        (b'{"query": "{ service { version } }"', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ):
        response = client.post("/graphql", content=body, headers=key)
        assert response.status_code == 400, response.text
        error = _error(response)
        assert error["extensions"]["code"] == "BAD_REQUEST"  # type: ignore[index]
        assert why in str(error["message"])


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[]") == 1
