"""A covered query answered without graphql-core's execution (api/direct.py) is the answer
graphql-core gives from the same read; anything it does not answer exactly is left to
graphql-core, which does not read the compiled statement again."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from bench.queries import (
    PATIENT_CONTEXT_CAREGRAPH,
    PATIENT_LOOKUP_CAREGRAPH,
    PRACTITIONER_TRAVERSAL_CAREGRAPH,
)
from caregraph.api import direct
from caregraph.api.auth import Role
from caregraph.api.direct import GIVE_UP, RETRY_EVERY, Direct
from caregraph.api.settings import ApiSettings
from tests.api.conftest import ADA, SMITH_NPI, Gql, Run, principal
from tests.api.test_compiled import plain

# the service's path, waiting for a statement's first plan (the service plans it in the
# background), with and without the direct answer
DIRECT = ApiSettings(compiled_budget_s=120, query_timeout_s=120, compiled_wait_for_plan=True)
EXECUTED = DIRECT.model_copy(update={"direct_answers": False})

# aliases, a field asked twice and merged, a fragment on an interface, an inline fragment on
# the type, __typename at every level, a list of identifiers, a to-one field, codings
SHAPES = """query($id: String!) {
  patient(identifier: $id) {
    __typename
    who: display
    ...entity
    name { family given }
    encounters(first: 3) {
      __typename totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor role node {
        __typename ...entity
        ... on Encounter { start encounterClass reasons { code system display } }
        again: start
        patient { key }
      } }
    }
    encounters(first: 3) { edges { node { status } } }
  }
}
fragment entity on Entity { key kind loaded identifiers { token system } }"""

# Edge.sources is read by its resolver, not in the one statement
IN_PART = """query($id: String!) {
  patient(identifier: $id) {
    key
    encounters(first: 3) { edges { sources { file } node { key start } } }
  }
}"""

DEEP_REFUSAL = """query($id: String!) {
  patient(identifier: $id) { key encounters(first: 2) { edges { node {
    key claims(first: 101) { edges { node { controlNumber } } }
  } } } }
}"""

DIRECTIVE = """query($id: String!, $with: Boolean!) {
  patient(identifier: $id) { key encounters(first: 2) @include(if: $with) {
    edges { node { key } } } }
}"""


def errors(run: Run) -> list[dict[str, Any]]:
    """The run's errors as sent, but for the request id (each request has its own)."""
    out = []
    for error in run.result.errors or []:
        formatted = dict(error.formatted)
        formatted["extensions"] = {
            k: v for k, v in (formatted.get("extensions") or {}).items() if k != "requestId"
        }
        out.append(formatted)
    return out


def both(gql: Gql, query: str, variables: dict[str, Any], role: Role) -> tuple[Run, Run]:
    who = principal(role)
    gql(query, variables, settings=DIRECT, principal=who)  # the statement planned, for both
    return (
        gql(query, variables, settings=DIRECT, principal=who),
        gql(query, variables, settings=EXECUTED, principal=who),
    )


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_aliases_fragments_and_typenames_answer_as_graphql_core_does(gql: Gql, role: Role) -> None:
    direct, executed = both(gql, SHAPES, {"id": ADA}, role)
    assert errors(direct) == errors(executed)
    assert plain(direct) == plain(executed)
    assert direct.context.reader.patients == executed.context.reader.patients
    assert not executed.context.answered_directly
    if role in (Role.admin, Role.clinician):  # roles that may read all of it
        assert executed.result.errors is None
        assert direct.context.answered_directly
        patient = direct.result.data["patient"]
        assert patient["encounters"]["edges"]
        # the answer's keys in graphql-core's order: where a response key is first asked
        assert list(patient) == list(executed.result.data["patient"])
        assert list(patient)[:5] == ["__typename", "who", "key", "kind", "loaded"]


def test_the_three_bench_questions_are_answered_directly(gql: Gql) -> None:
    for query, variables in (
        (PATIENT_LOOKUP_CAREGRAPH, {"identifier": ADA}),
        (PRACTITIONER_TRAVERSAL_CAREGRAPH, {"npi": SMITH_NPI, "first": 20}),
        (PATIENT_CONTEXT_CAREGRAPH, {"identifier": ADA, "from": "2024-01-01T00:00:00Z",
                                     "to": "2025-01-01T00:00:00Z"}),
    ):  # fmt: skip
        direct, executed = both(gql, query, variables, Role.clinician)
        assert direct.result.errors is None and executed.result.errors is None
        assert plain(direct) == plain(executed)
        assert direct.context.answered_directly
        assert direct.context.reader.round_trips == executed.context.reader.round_trips == 1


def test_a_document_covered_in_part_is_executed_without_a_second_statement(gql: Gql) -> None:
    direct, executed = both(gql, IN_PART, {"id": ADA}, Role.admin)
    assert direct.result.errors is None
    assert plain(direct) == plain(executed)
    assert not direct.context.answered_directly  # the sources' read would have waited
    # the one statement, then the sources' level: the same trips as graphql-core alone
    assert direct.context.reader.round_trips == executed.context.reader.round_trips
    assert any(e["sources"] for e in direct.result.data["patient"]["encounters"]["edges"])


def test_an_error_below_the_root_is_graphql_cores_error(gql: Gql) -> None:
    direct, executed = both(gql, DEEP_REFUSAL, {"id": ADA}, Role.clinician)
    assert direct.result.errors, "first: 101 is over the limit"
    assert errors(direct) == errors(executed)
    assert plain(direct) == plain(executed)
    assert not direct.context.answered_directly
    assert direct.context.reader.round_trips == executed.context.reader.round_trips


@pytest.mark.parametrize("included", [True, False])
def test_a_directive_is_left_to_graphql_core(gql: Gql, included: bool) -> None:
    direct, executed = both(gql, DIRECTIVE, {"id": ADA, "with": included}, Role.admin)
    assert plain(direct) == plain(executed)
    assert ("encounters" in direct.result.data["patient"]) is included
    assert not direct.context.answered_directly


def test_a_document_that_keeps_missing_is_left_to_graphql_core_but_tried_again(
    gql: Gql, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(direct, "RETRY_EVERY", 4)
    query = IN_PART + "\n# its own text: its own count of misses"
    for _ in range(GIVE_UP):
        gql(query, {"id": ADA}, settings=DIRECT)
    plans = Direct._plans
    assert plans is not None
    doc = plans.document(query, None, parse(query))
    assert doc is not None and doc.missed == GIVE_UP
    for _ in range(3):  # left to graphql-core: not tried
        run = gql(query, {"id": ADA}, settings=DIRECT)
        assert run.result.errors is None and not run.context.answered_directly
    assert doc.missed == GIVE_UP
    gql(query, {"id": ADA}, settings=DIRECT)  # the fourth: tried again
    assert doc.missed == GIVE_UP + 1
    assert RETRY_EVERY > 4  # the service's: one in many
