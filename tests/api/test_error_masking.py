"""Errors: expected ones as they are (with the request id), unexpected ones masked."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from caregraph.api import compiled
from caregraph.api.context import Context
from caregraph.api.schema import schema
from caregraph.api.settings import ApiSettings
from caregraph.graph.driver import open_driver
from caregraph.graph.readers import Reader
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import ADMIN, Gql

SECRET = "Ada Lovelace born 1970-03-04, SSN 999-11-1111"
REFERENCE = ApiSettings(compiled_reads=False)


def test_an_unexpected_error_is_masked_with_a_request_id(
    gql: Gql, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: Reader, requests: object) -> object:
        raise RuntimeError(f"internal state of {SECRET} in graph/readers.py line 42")

    monkeypatch.setattr(Reader, "pages", broken)
    with caplog.at_level(logging.ERROR, logger="caregraph.api"):
        run = gql(
            '{ patient(identifier: "ada") { key encounters { edges { node { key } } } } }',
            request_id="req-123",
            settings=REFERENCE,  # the reader broken is the reference path's
        )
    (error,) = run.errors
    assert error["message"] == (
        "Internal error: the request could not be completed. Quote request id req-123 when "
        "reporting it."
    )
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-123"}
    assert error["path"] == ["patient", "encounters"]
    # a connection cannot be null, so the patient is; nothing of the fault leaks
    assert run.result.data == {"patient": None}
    text = json.dumps(run.errors)
    for leak in ("Ada", "1970", "999-11", "RuntimeError", "readers.py", "Traceback"):
        assert leak not in text
    # the service log has it whole, under the same request id
    logged = [r for r in caplog.records if "req-123" in r.getMessage()]
    assert logged and logged[0].exc_info and SECRET in str(logged[0].exc_info[1])


def test_an_unexpected_error_on_the_compiled_path_is_masked_too(
    gql: Gql, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"internal state of {SECRET} in graph/compiled.py line 42")

    monkeypatch.setattr(compiled.compiled, "read", broken)
    with caplog.at_level(logging.ERROR, logger="caregraph.api"):
        run = gql(
            '{ patient(identifier: "ada") { key encounters { edges { node { key } } } } }',
            request_id="req-124",
            settings=ApiSettings(compiled_wait_for_plan=True),
        )
    (error,) = run.errors
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-124"}
    assert error["path"] == ["patient"]
    assert run.result.data == {"patient": None}
    assert SECRET not in json.dumps(run.result.errors[0].formatted)


def test_neo4j_gone_is_masked_too(neo4j_conn: Neo4jSettings) -> None:
    dead = open_driver(
        Neo4jSettings(uri="bolt://127.0.0.1:1", password="x"),  # type: ignore[arg-type]
        connection_timeout=1.0,
        acquisition_timeout=2.0,
        max_retry_time=0.0,
    )
    try:
        context = Context(driver=dead, database=neo4j_conn.database, principal=ADMIN)
        result = asyncio.run(
            schema.execute('{ patient(identifier: "ada") { key } }', context_value=context)
        )
    finally:
        dead.close()
    assert result.errors
    error = result.errors[0].formatted
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"  # said as such, still masked
    assert error["extensions"]["requestId"] == context.request_id
    assert "127.0.0.1" not in json.dumps(error) and "ServiceUnavailable" not in json.dumps(error)


def test_expected_errors_are_shown_with_the_request_id(gql: Gql) -> None:
    (error,) = gql('{ patient(identifier: "ada") { events(kind: "Banana") { totalCount } } }',
                   request_id="req-9").errors  # fmt: skip
    assert error["extensions"]["code"] == "BAD_ARGUMENT"
    assert error["extensions"]["requestId"] == "req-9"
    assert "not an event class of the ontology" in error["message"]


def test_query_mistakes_are_reported_not_masked(gql: Gql) -> None:
    (error,) = gql('{ patient(identifier: "ada") { nmae } }').errors
    assert "Cannot query field 'nmae'" in error["message"]
    (error,) = gql(
        '{ patient(identifier: "ada") { encounters(from: "not a date") { totalCount } } }'
    ).errors
    assert "DateTime" in error["message"] and error["extensions"].get("code") != "INTERNAL_ERROR"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ patient(identifier: "ada") { nmae } }', "Cannot query field 'nmae'"),
        ("{ practitioner { key } }", "practitioner(npi:)"),  # found by tests/api/test_fuzz.py
        ('{ patient(identifier: "ada") { key }', "Syntax Error"),
        ("query A { service { version } } query A { ontology { version } }", "only one"),
    ],
)
def test_query_mistakes_carry_a_code_a_client_can_act_on(
    gql: Gql, query: str, message: str
) -> None:
    # graphql-core gives parse and validation errors no code; the API's errors all have one
    (error,) = gql(query).errors
    assert message in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


def test_a_repeated_query_gets_its_own_request_id(gql: Gql) -> None:
    # parsing and validation are cached per query text; their errors must not be shared
    query = '{ patient(identifier: "ada") { nmae } }'
    first = gql(query, request_id="first").errors[0]["extensions"]["requestId"]
    second = gql(query, request_id="second").errors[0]["extensions"]["requestId"]
    assert (first, second) == ("first", "second")
