"""The compiled read path answers as the reference path does, in one statement."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bench.queries import (
    PATIENT_CONTEXT_CAREGRAPH,
    PATIENT_LOOKUP_CAREGRAPH,
    PRACTITIONER_TRAVERSAL_CAREGRAPH,
    readme_examples,
    root_fields,
)
from caregraph.api import mcp
from caregraph.api.app import create_app
from caregraph.api.auth import Role
from caregraph.api.compiled import CONTEXT, ROOTS
from caregraph.api.direct import ROOTS as DIRECT_ROOTS
from caregraph.api.settings import ApiSettings
from caregraph.graph import compiled as graph_compiled
from caregraph.graph.readers import Reader
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import ADA, JANE, SMITH_NPI, Gql, KeyMaker, Run, bearer, principal

# the reference path, given time for its first plans on a busy host (as the compiled one is)
REFERENCE = ApiSettings(compiled_reads=False, query_timeout_s=120)
# waits for a statement's first plan (which the service does in the background)
PATIENT = ApiSettings(compiled_budget_s=120, query_timeout_s=120, compiled_wait_for_plan=True)

TRAVERSAL = """query($npi: String!, $first: Int!) {
  practitioner(npi: $npi) {
    key display
    encounters(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
      key start encounterClass
      claims(first: $first) { edges { node { controlNumber serviceStart status claimType } } }
      imagingStudies(first: $first) {
        edges { node { studyInstanceUid start modality description } }
      }
    } } }
  }
}"""


CURSORS = ("cursor", "startCursor", "endCursor", "nextCursor")


def plain(run: Run) -> Any:
    """A run's data with each cursor decoded: encrypting one draws a fresh nonce, so the same
    position is a different string in two answers."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: run.context.cursors.decode(v) if k in CURSORS and v else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(run.result.data)


# the service's settings, but the graph's fan-out (which the cost estimate reads, a round trip
# of its own every minute) kept for the test's length, so that only the statements are counted
SERVICE = ApiSettings(fanout_ttl_s=3600)


def both(gql: Gql, query: str, variables: dict[str, Any], role: Role) -> tuple[Run, Run]:
    who = principal(role)
    fast = gql(query, variables, settings=SERVICE, principal=who)
    slow = gql(query, variables, settings=REFERENCE, principal=who)
    return fast, slow


def test_the_traversal_is_one_statement_with_the_reference_answer(gql: Gql) -> None:
    who = principal(Role.clinician)  # the statement is planned per role (its projection)
    gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, settings=PATIENT, principal=who)
    fast, slow = both(gql, TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, Role.clinician)
    assert fast.result.errors == slow.result.errors
    assert plain(fast) == plain(slow)
    assert fast.result.data["practitioner"]["encounters"]["edges"]
    assert fast.context.reader.round_trips == 1
    assert slow.context.reader.round_trips > 1
    assert fast.context.reader.patients == slow.context.reader.patients


# -- one statement per request for the bench's questions, the README's and the MCP tools' ----

_ARGUMENT = re.compile(r'\b(identifier|npi)(\s*:\s*)"[^"]*"')
_OURS = {"patient": ADA, "patientContext": ADA, "encounter": "V100", "practitioner": SMITH_NPI}


def on_our_data(example: str) -> str:
    """A README example asked of this module's dataset: its patient, visit and clinician."""
    root = root_fields(example)[0]
    return _ARGUMENT.sub(lambda m: f'{m.group(1)}{m.group(2)}"{_OURS[root]}"', example)


COVERED_README = [on_our_data(e) for e in readme_examples() if root_fields(e)[0] in ROOTS]
# the README's first example: Ada's visits are in its window (2024)
CONTEXT_README = [on_our_data(e) for e in readme_examples() if root_fields(e)[0] == CONTEXT]
# patientContext with levels below the patient and below the timeline's nodes, in the
# statement too
CONTEXT_BELOW = """query($id: String!, $after: String, $under: String, $budget: Int = 400) {
  patientContext(identifier: $id, budgetTokens: $budget, after: $after, underCode: $under) {
    text truncated totalEvents nextCursor
    patient { display identifiers { token } encounters(first: 2) { totalCount edges { node {
      start reasons { code } } } } }
    timeline { totalCount edges { cursor node { __typename kind time key
      identifiers { token }
      ... on Encounter { claims(first: 3) { edges { node { controlNumber } } } }
      ... on Claim { remittances(first: 3) { totalCount edges { node { paymentDate } } } }
    } } }
  }
}"""
ADA_SEARCH = {"family": "Lovelace", "birthDate": "1970-03-04"}
# below a union: each member's own levels, read below every provider, used below its kind's
PROVIDERS = """query($cn: String!) { claim(controlNumber: $cn) {
  controlNumber providers { totalCount edges { role node {
    __typename
    ... on Practitioner { npi organizations { edges { node { name } } } identifiers { token } }
    ... on Organization { npi name claims(first: 2) { totalCount edges { node { status } } } }
  } } }
} }"""
# events of a kind and its subclasses, from the ontology: a claim's payments reached through
# the claim, each event once however many ways lead to it
EVENTS = """query($id: String!, $kind: String!) { patient(identifier: $id) {
  events(kind: $kind, first: 30) { totalCount edges { node { __typename kind time key
    ... on Claim { controlNumber items { totalCount } }
    ... on Remittance { paymentDate }
  } } }
} }"""
ONE_STATEMENT = [
    ("bench (a) patient lookup", PATIENT_LOOKUP_CAREGRAPH, {"identifier": ADA}),
    ("bench (c) practitioner traversal", PRACTITIONER_TRAVERSAL_CAREGRAPH,
     {"npi": SMITH_NPI, "first": 20}),
    ("mcp find_patient", mcp.FIND_PATIENT, {"id": ADA}),
    ("mcp practitioner_context", mcp.PRACTITIONER_CONTEXT, {"npi": SMITH_NPI}),
    ("mcp encounter_context", mcp.ENCOUNTER_CONTEXT, {"id": "V100"}),
    ("mcp search_patients", mcp.search_patients_query(ADA_SEARCH), ADA_SEARCH),
    ("mcp explain_link", mcp.EXPLAIN_LINK, {"a": JANE, "b": "LAKESIDE|RAD-7"}),
    ("claim providers (a union)", PROVIDERS, {"cn": "V100"}),
    ("events of every kind", EVENTS, {"id": ADA, "kind": "Event"}),
    ("financial events", EVENTS, {"id": ADA, "kind": "FinancialEvent"}),
    # the claim's diagnosis code (a Concept the X12 record made), its ancestors and a page
    ("mcp concept_lookup", mcp.CONCEPT, {"system": "ICD-10-CM", "code": "R07.9", "first": 5}),
    *((f"README {i}", text, {}) for i, text in enumerate(COVERED_README)),
    ("README patientContext", CONTEXT_README[0], {}),
    ("bench (b) patient context", PATIENT_CONTEXT_CAREGRAPH,
     {"identifier": ADA, "from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}),
    ("mcp patient_context", mcp.PATIENT_CONTEXT, {"id": ADA, "budget": 300}),
    ("patientContext with levels below", CONTEXT_BELOW, {"id": ADA}),
    ("patientContext underCode", CONTEXT_BELOW, {"id": ADA, "under": "I20-I25"}),
]  # fmt: skip


def test_the_readme_has_covered_examples() -> None:
    assert len(COVERED_README) == 3  # the visit, the practitioner's schedule, the patient's visits
    assert len(CONTEXT_README) == 1


@pytest.mark.parametrize(
    ("name", "query", "variables"), ONE_STATEMENT, ids=[n for n, *_ in ONE_STATEMENT]
)
def test_one_statement_per_request(
    gql: Gql, name: str, query: str, variables: dict[str, Any]
) -> None:
    # the fan-out, which the cost estimate reads, is cached after this, and Neo4j's plan of
    # the statement (a first plan may take longer than the statement's budget on a busy host)
    gql(query, variables, settings=PATIENT)
    fast, slow = both(gql, query, variables, Role.admin)
    assert fast.result.errors is None and slow.result.errors is None
    assert plain(fast) == plain(slow)
    assert next(iter(fast.result.data.values())), name  # it found what it asked for
    assert fast.context.reader.round_trips == 1, name
    assert fast.context.reader.patients == slow.context.reader.patients
    # answered without graphql-core's execution: every root api/direct.py takes
    assert fast.context.answered_directly == (root_fields(query)[0] in DIRECT_ROOTS), name
    assert not slow.context.answered_directly


BENCH = [(name, query, variables) for name, query, variables in ONE_STATEMENT if "bench" in name]


def test_in_the_service_the_statement_runs_on_its_event_loop(
    gql: Gql, neo4j_conn: Neo4jSettings, api_key: KeyMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service, as `caregraph serve` builds it, runs a covered document's one statement
    through its async driver on the event loop (no thread hop), with the thread path's
    answer; a context made outside the service (the tests' ``gql``) runs it in a thread."""
    calls: Counter[str] = Counter()
    for name in ("run_within", "arun_within"):
        method = getattr(Reader, name)
        monkeypatch.setattr(
            Reader,
            name,
            lambda self, *a, _name=name, _method=method: calls.update([_name]) or _method(self, *a),
        )
    settings = PATIENT.model_copy(update={"fanout_ttl_s": 3600})
    key = api_key(Role.clinician)
    assert len(BENCH) == 3
    with TestClient(create_app(neo4j_conn, settings=settings)) as client:
        for name, query, variables in BENCH:
            ask = {"query": query, "variables": variables}
            client.post("/graphql", json=ask, headers=bearer(key))  # the fan-out read once
            calls.clear()
            response = client.post("/graphql", json=ask, headers=bearer(key))
            assert calls == {"arun_within": 1}, name
            calls.clear()
            threaded = gql(query, variables, settings=settings, principal=principal(Role.clinician))
            assert calls == {"run_within": 1}, name
            assert response.status_code == 200
            assert response.json() == {"data": threaded.result.data}, name


def test_every_mcp_tool_is_one_statement_but_the_two_that_are_not_traversals(gql: Gql) -> None:
    counted = {name.removeprefix("mcp ") for name, *_ in ONE_STATEMENT if name.startswith("mcp ")}
    # the scorecard's counts are a statement per measure (tests/api/types/
    # test_interoperability.py); the ontology is read from memory
    assert set(mcp.TOOL_NAMES) - counted == {"interoperability_scorecard", "ontology_lookup"}
    for query, variables in ((mcp.ONTOLOGY_CLASS, {"name": "Encounter"}),
                             (mcp.ONTOLOGY_PROPERTIES, {})):  # fmt: skip
        run = gql(query, variables, settings=SERVICE)
        assert run.data["ontology"]
        assert run.context.reader.round_trips == 0


def test_a_statement_past_its_budget_leaves_the_request_to_the_reference_path(
    gql: Gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, settings=PATIENT)  # fan-out cached
    outcomes: list[str] = []
    run = graph_compiled.Statement.run

    def recorded(self: graph_compiled.Statement[Any], reader: Any) -> Any:
        try:
            answer = run(self, reader)
        except graph_compiled.NotCompilableError:
            outcomes.append("given up")
            raise
        outcomes.append("answered")
        return answer

    monkeypatch.setattr(graph_compiled.Statement, "run", recorded)
    hurried = ApiSettings(compiled_budget_s=0.0001)  # no statement fits in it
    fast = gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, settings=hurried)
    slow = gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, settings=REFERENCE)
    assert fast.result.errors is None
    assert plain(fast) == plain(slow)
    # the statement given up, then the reference path's trips (how many depends on when the
    # DataLoaders' batches fill: not compared between the two)
    assert outcomes == ["given up"]
    assert fast.context.reader.round_trips > 1
    # the check above can fail: with time for it, the statement answers
    gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, settings=PATIENT)
    assert outcomes == ["given up", "answered"]


# the encounter_context tool's query (15 subqueries) and two counted connections more: 19
PAST_MAX_LEVELS = mcp.ENCOUNTER_CONTEXT.replace(
    "    patient {",
    "    conditions { totalCount edges { node { key } } }\n"
    "    procedures { totalCount edges { node { key } } }\n"
    "    patient {",
)


def test_a_statement_of_too_many_subqueries_is_left_to_the_reference_path(
    gql: Gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement of more than MAX_LEVELS subqueries would cost Neo4j more to plan the first
    time than the round trips it saves."""
    statements: list[object] = []
    read = graph_compiled.read
    monkeypatch.setattr(
        graph_compiled, "read", lambda *a, **k: statements.append(a[1]) or read(*a, **k)
    )
    variables = {"id": "V100"}
    gql(PAST_MAX_LEVELS, variables, settings=PATIENT)
    fast, slow = both(gql, PAST_MAX_LEVELS, variables, Role.admin)
    assert plain(fast) == plain(slow)
    assert statements == []  # no statement built, so none run: the reference path's trips
    # (how many depends on when the DataLoaders' batches fill: not compared between the two)
    assert fast.context.reader.round_trips > 1
    # the check above can fail: the tool's own query, four subqueries fewer, is one statement
    gql(mcp.ENCOUNTER_CONTEXT, variables, settings=SERVICE)
    assert len(statements) == 1


# -- patientContext ----------------------------------------------------------------------------


def test_a_context_page_after_a_cursor_is_one_statement_with_the_reference_answer(
    gql: Gql,
) -> None:
    who = principal(Role.clinician)  # the statement is planned per role (its projection)
    small = {"id": ADA, "budget": 120}
    first = gql(CONTEXT_BELOW, small, settings=PATIENT, principal=who).data["patientContext"]
    assert first["truncated"] and first["nextCursor"]
    variables = {**small, "after": first["nextCursor"]}
    gql(CONTEXT_BELOW, variables, settings=PATIENT, principal=who)  # planned
    fast, slow = both(gql, CONTEXT_BELOW, variables, Role.clinician)
    assert fast.result.errors is None and slow.result.errors is None
    assert plain(fast) == plain(slow)
    assert fast.result.data["patientContext"]["timeline"]["edges"]
    assert fast.context.reader.round_trips == 1
    assert slow.context.reader.round_trips > 2  # lookup, timeline, then the levels below
    assert fast.context.reader.patients == slow.context.reader.patients


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"id": ADA, "under": "nope|"}, "BAD_ARGUMENT"),  # refused after the lookup
        ({"id": "nobody|none", "under": "nope|"}, None),  # no patient: null, as ever
        ({"id": ADA, "under": "nope|x"}, None),  # a code of no known system: nothing under it
        ({"id": "MRN001"}, "AMBIGUOUS_IDENTIFIER"),
        ({"id": "nobody|none"}, None),
        ({"id": ADA, "after": "cg1.nonsense"}, "BAD_ARGUMENT"),
        ({"id": " "}, "BAD_ARGUMENT"),
    ],
)
def test_context_refusals_and_nulls_as_the_reference_path(
    gql: Gql, variables: dict[str, Any], code: str | None
) -> None:
    gql(CONTEXT_BELOW, variables, settings=PATIENT, principal=principal(Role.clinician))
    fast, slow = both(gql, CONTEXT_BELOW, variables, Role.clinician)
    assert plain(fast) == plain(slow)
    assert refused(fast) == refused(slow)
    assert [code for code, *_ in refused(fast)] == ([code] if code else [])
    assert fast.context.reader.patients == slow.context.reader.patients
    assert fast.context.reader.round_trips <= slow.context.reader.round_trips


_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def refused(run: Run) -> list[tuple[Any, ...]]:
    """A run's refusals: code, path and message (without the request id it may name)."""
    return [
        ((e.extensions or {}).get("code"), e.path, _REQUEST_ID.sub("<id>", e.message))
        for e in run.result.errors or ()
    ]


def test_a_context_over_its_budget_reads_nothing(gql: Gql) -> None:
    run = gql(CONTEXT_BELOW, {"id": ADA, "budget": 40})
    assert run.errors[0]["extensions"]["code"] == "BAD_ARGUMENT"
    assert run.context.reader.round_trips == 0


def test_context_with_compiled_reads_off_is_the_reference_path(gql: Gql) -> None:
    gql(CONTEXT_README[0], settings=PATIENT)  # the fan-out cached, the statement planned
    off = gql(CONTEXT_README[0], settings=REFERENCE)
    assert off.result.errors is None
    assert off.context.reader.round_trips == 3  # the lookup, then the timeline, identifiers
