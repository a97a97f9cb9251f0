"""MCP tools through the `mcp` package's own client: over streamable HTTP against the service
served by uvicorn on a free port, and over stdio against `python -m caregraph.api.cli.main mcp`. The
same authentication, role policy and audit as GraphQL apply."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from fastapi import FastAPI
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from neo4j import Driver

from caregraph.api.auth import KeyStore, Role
from caregraph.api.mcp import TOOL_NAMES
from caregraph.api.settings import ApiSettings
from caregraph.graph import keys_and_audit
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import JANE, PSEUDONYM_KEY, SMITH_NPI, KeyMaker
from tests.conftest import neo4j_env, serving

ROOT = Path(__file__).resolve().parents[2]

# one call of each tool, and what a caller who may read it all sees in the answer
CALLS: dict[str, tuple[dict[str, Any], str]] = {
    "find_patient": ({"identifier": JANE}, "JANE DOE"),
    "search_patients": ({"family": "doe", "given": "Jane", "birthDate": "1980"}, '"HOSP|MRN001"'),
    "patient_context": (
        {"identifier": JANE, "from": "2024-01-01T00:00:00Z", "budgetTokens": 400},
        "[E1] 2024-05-01T08:30-05:00 Encounter",
    ),
    "encounter_context": ({"identifier": "MAINHOSP|V100"}, "claim-visit-number"),
    "practitioner_context": (
        {"npi": SMITH_NPI, "from": "2024-04-01T00:00:00Z", "to": "2024-06-01T00:00:00Z"},
        "JANE DOE",
    ),
    "explain_link": ({"a": JANE, "b": "LAKESIDE|RAD-7"}, '"same": true'),
    "ontology_lookup": ({"name": "hasEncounter"}, "HAS_ENCOUNTER"),
    # the claim's HI diagnosis R079, found by the code system's X12 qualifier and undotted
    "concept_lookup": (
        {"system": "ABK", "code": "R079"},
        '"key": "http://hl7.org/fhir/sid/icd-10-cm|R07.9"',
    ),
    "interoperability_scorecard": (
        {"name": "claims-linked-to-encounter", "last": 2},
        "Share of the claims in the graph",
    ),
}


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


# -- over HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_app(neo4j_conn: Neo4jSettings) -> FastAPI:
    """The API the HTTP tests talk to (its state: the services of its one worker)."""
    from caregraph.api.app import create_app

    return create_app(neo4j_conn)


@pytest.fixture(scope="module")
def service(dataset: Driver, service_app: FastAPI) -> Iterator[str]:
    """The API on uvicorn on a free port; its /mcp URL."""
    with serving(service_app) as url:
        yield f"{url}/mcp"


@asynccontextmanager
async def http_session(url: str, headers: dict[str, str]) -> Any:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def test_http_session_lists_the_tools_and_calls_each_with_a_key(
    service: str, api_key: KeyMaker, driver: Driver, database: str
) -> None:
    key = api_key(Role.admin)

    async def go() -> dict[str, Any]:
        async with http_session(
            service, {"Authorization": f"Bearer {key}", "X-Purpose-Of-Use": "TREAT"}
        ) as session:
            listed = await session.list_tools()
            answers = {"tools": listed.tools}
            for name, (arguments, _) in CALLS.items():
                answers[name] = await session.call_tool(name, arguments)
            return answers

    answers = anyio.run(go)
    tools = {t.name: t for t in answers["tools"]}
    assert set(tools) == set(TOOL_NAMES)
    schema = tools["patient_context"].input_schema
    assert schema["required"] == ["identifier"]
    assert {"identifier", "from", "to", "budgetTokens", "after", "underCode"} <= set(
        schema["properties"]
    )
    assert tools["practitioner_context"].input_schema["properties"]["npi"]["type"] == "string"
    for name, (_, expected) in CALLS.items():
        result = answers[name]
        assert not result.is_error, (name, text_of(result))
        assert expected in text_of(result), (name, text_of(result))
    # each call is one audited read, over this channel, with the declared purpose
    events = keys_and_audit.query_audit(driver, database, subject=f"key:{key.split('_')[1]}")
    assert {e["channel"] for e in events} == {"mcp-http"}
    assert {e["purpose"] for e in events} == {"TREAT"}
    context_event = next(e for e in events if e["operation"] == "PatientContext")
    assert context_event["patients"] == [JANE] and "patientContext.text" in context_event["fields"]


def test_http_mcp_refuses_a_caller_without_a_key_or_with_a_bad_one(service: str) -> None:
    init = {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "0"}},
    }  # fmt: skip
    accept = {"Accept": "application/json, text/event-stream"}
    bare = httpx.post(service, json=init, headers=accept)
    assert bare.status_code == 401 and bare.headers["www-authenticate"].startswith("Bearer")
    assert "initialize" not in bare.text and "result" not in bare.json()
    wrong = httpx.post(service, json=init, headers={**accept, "Authorization": "Bearer cg_x_y"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]

    async def go() -> None:
        async with http_session(service, {}) as session:
            await session.list_tools()

    with pytest.raises(ExceptionGroup) as refused:  # the client cannot even initialize
        anyio.run(go)
    assert refused.group_contains(MCPError, depth=None)


def test_http_tools_follow_the_callers_role(service: str, api_key: KeyMaker) -> None:
    billing, analyst = api_key(Role.billing), api_key(Role.analyst)

    async def call(key: str, name: str, arguments: dict[str, Any]) -> Any:
        async with http_session(service, {"Authorization": f"Bearer {key}"}) as session:
            return await session.call_tool(name, arguments)

    visit = anyio.run(call, billing, "encounter_context", {"identifier": "MAINHOSP|V100"})
    data = json.loads(text_of(visit))["encounter"]
    assert data["encounterClass"].endswith("|IMP") and data["visitNumber"] == "V100"
    for clinical in ("reasonCode", "diagnosisCodes", "description", "encounterType"):
        assert clinical not in data  # taken out of the tool's query for billing
    assert data["claims"]["edges"][0]["node"]["totalCharge"] == 150.0
    refused = anyio.run(call, analyst, "find_patient", {"identifier": JANE})
    assert refused.is_error and "FORBIDDEN_FIELD" in text_of(refused)
    assert "may not look patient data up by identifier" in text_of(refused)
    schedule = anyio.run(call, analyst, "practitioner_context", {"npi": SMITH_NPI})
    patient = json.loads(text_of(schedule))["practitioner"]["encounters"]["edges"][0]["node"]
    assert patient["patient"]["key"].startswith("pseudonym:") and "name" not in patient["patient"]
    # the scorecard: counts for analysts, with each measure's history; refused to billing
    card = anyio.run(call, analyst, "interoperability_scorecard", {"last": 1})
    measures = json.loads(text_of(card))["interoperability"]["measures"]
    assert {m["name"] for m in measures} >= {"claims-linked-to-encounter", "records-rejected"}
    assert all(len(m["trend"]) <= 1 for m in measures)
    refused = anyio.run(call, billing, "interoperability_scorecard", {})
    assert refused.is_error and "FORBIDDEN_FIELD" in text_of(refused)
    assert "admins and analysts" in text_of(refused)


def test_search_patients_keeps_the_search_rules(service: str, api_key: KeyMaker) -> None:
    clinician, analyst = api_key(Role.clinician), api_key(Role.analyst)

    async def call(key: str, arguments: dict[str, Any]) -> Any:
        async with http_session(service, {"Authorization": f"Bearer {key}"}) as session:
            return await session.call_tool("search_patients", arguments)

    found = json.loads(text_of(anyio.run(call, clinician, {"identifierValue": "RAD-7"})))
    (match,) = found["patients"]["edges"]
    assert match["node"]["patient"]["key"] == JANE and match["node"]["matchedOn"] == ["identifier"]
    broad = anyio.run(call, clinician, {"family": "Doe"})
    assert broad.is_error and "[SEARCH_TOO_BROAD]" in text_of(broad)
    assert "Doe" not in text_of(broad)
    by_name = anyio.run(call, analyst, {"family": "Doe", "birthDate": "1980"})
    assert by_name.is_error and "[FORBIDDEN_ARGUMENT]" in text_of(by_name)
    by_year = json.loads(text_of(anyio.run(call, analyst, {"birthDate": "1980", "gender": "F"})))
    (patient,) = [e["node"]["patient"] for e in by_year["patients"]["edges"]]
    assert patient["key"].startswith("pseudonym:") and "name" not in patient
    assert "identifiers" not in patient  # taken out of the tool's query for analysts


class Clock:
    """The time the service's key cache sees, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


def test_a_key_revoked_during_an_http_session_stops_working_within_the_poll_interval(
    service: str, service_app: FastAPI, driver: Driver, database: str
) -> None:
    """Revoked elsewhere (`caregraph auth revoke`): the worker, which cached the key, refuses
    it from its next poll of the revocation counter on (every key_revocation_poll_s)."""
    keys = service_app.state.services.authenticator.keys
    real, clock = keys.clock, Clock()
    keys.clock = clock
    store = KeyStore(driver, database)
    key = store.create(Role.clinician, "agent")
    other = store.create(Role.clinician, "another agent")

    async def go() -> tuple[Any, MCPError | None, Any]:
        async with http_session(service, {"Authorization": f"Bearer {key}"}) as session:
            first = await session.call_tool("ontology_lookup", {"name": "Encounter"})
            store.revoke(key.split("_")[1])
            clock.now += ApiSettings().key_revocation_poll_s
            try:
                await session.call_tool("ontology_lookup", {"name": "Encounter"})
            except MCPError as e:  # the server's 401; the client reports no status with it
                refusal: MCPError | None = e
            else:
                refusal = None
        # the refusal is the revoked key's, not the service's: a live key still works
        async with http_session(service, {"Authorization": f"Bearer {other}"}) as session:
            after = await session.call_tool("ontology_lookup", {"name": "Encounter"})
        return first, refusal, after

    try:
        first, refusal, after = anyio.run(go)
    finally:
        keys.clock = real  # the module's other tests share the service
    assert not first.is_error and refusal is not None and not after.is_error
    bare = httpx.post(
        service,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {key}"},
    )
    assert bare.status_code == 401 and 'error="invalid_token"' in bare.headers["www-authenticate"]


# -- over stdio ------------------------------------------------------------------------------


def stdio_env(neo4j_conn: Neo4jSettings, key: str | None) -> dict[str, str]:
    env = {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_API_PSEUDONYM_KEY": PSEUDONYM_KEY,
        "CAREGRAPH_PURPOSE_OF_USE": "HOPERAT",
        # each tool's one statement planned before it runs, so that the calls below run it
        # (through the command's async driver), not the reference path's first reads
        "CAREGRAPH_API_COMPILED_WAIT_FOR_PLAN": "true",
        # the tests' state directory (tests/conftest.py), never the checkout's .caregraph: the
        # subprocess gets no other environment, and would write its audit key and anchors there
        "CAREGRAPH_HOME": os.environ["CAREGRAPH_HOME"],
    }
    if key:
        env["CAREGRAPH_API_KEY"] = key
    return env


def stdio_params(neo4j_conn: Neo4jSettings, key: str | None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "caregraph.api.cli.main", "mcp"],
        env=stdio_env(neo4j_conn, key),
        cwd=str(ROOT),
    )


def test_stdio_session_lists_the_tools_and_calls_each_with_a_key(
    dataset: Driver, neo4j_conn: Neo4jSettings, api_key: KeyMaker, driver: Driver, database: str
) -> None:
    key = api_key(Role.admin)

    async def go() -> dict[str, Any]:
        async with (
            stdio_client(stdio_params(neo4j_conn, key)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            answers: dict[str, Any] = {"tools": (await session.list_tools()).tools}
            for name, (arguments, _) in CALLS.items():
                answers[name] = await session.call_tool(name, arguments)
            return answers

    answers = anyio.run(go)
    assert {t.name for t in answers["tools"]} == set(TOOL_NAMES)
    for name, (_, expected) in CALLS.items():
        result = answers[name]
        assert not result.is_error, (name, text_of(result))
        assert expected in text_of(result), (name, text_of(result))
    events = keys_and_audit.query_audit(driver, database, subject=f"key:{key.split('_')[1]}")
    assert {e["channel"] for e in events} == {"mcp-stdio"}
    assert {e["purpose"] for e in events} == {"HOPERAT"}


@pytest.mark.parametrize("key", [None, "cg_nokey_notasecret"], ids=["no key", "unknown key"])
def test_stdio_refuses_to_start_without_a_valid_key(
    neo4j_conn: Neo4jSettings, key: str | None
) -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "caregraph.api.cli.main", "mcp"],
        env={**stdio_env(neo4j_conn, key), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        input="",
    )
    assert done.returncode == 2
    assert ("no key" if key is None else "refusing to start") in done.stderr
    assert done.stdout == ""  # not one protocol message
