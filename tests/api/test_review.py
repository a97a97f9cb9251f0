"""The identity review over GraphQL (api/review.py): a steward lists candidates, accepts,
rejects and splits; other roles are refused; decisions name their caller, show in
`explainLink`, and the patients they concern are in the read audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from neo4j import Driver

from caregraph.api.auth import Role
from caregraph.graph import candidates as store
from caregraph.graph.candidates import Candidate
from caregraph.graph.explain import find_node
from caregraph.graph.keys_and_audit import query_audit
from tests.api.conftest import ADA, JANE, Gql, forget_dataset, principal
from tests.loaders.conftest import census

STEWARD = principal(Role.steward, "test:steward-review")
REVIEW = ("MatchCandidate", "IdentityDecision", "AuditEvent", "AuditHead")  # not data

CANDIDATES = """query($status: MatchStatus, $first: Int, $after: String) {
  matchCandidates(status: $status, first: $first, after: $after) {
    edges { node { key probability status evidence { field level bayesFactor }
      patients { key name { family } birthDate identifiers { system value } } } }
    pageInfo { hasNextPage endCursor } } }"""
ACCEPT = """mutation($c: String!, $why: String!) {
  acceptMatch(candidate: $c, reason: $why) { key kind rule actor reason survivor absorbed } }"""
REJECT = """mutation($c: String!, $why: String!) {
  rejectMatch(candidate: $c, reason: $why) { key kind actor } }"""
SPLIT = """mutation($p: String!, $why: String!) {
  splitPatient(patient: $p, reason: $why) { key kind undoes survivor absorbed } }"""
SAME = """query($a: String!, $b: String!) { explainLink(a: $a, b: $b) { same } }"""


@pytest.fixture
def proposed(gql: Gql, driver: Driver, database: str) -> Iterator[tuple[str, str, str]]:
    """Ada and Jane proposed as one person (they are not); the graph as it was afterwards."""
    ada, jane = find_node(driver, database, ADA)[0], find_node(driver, database, JANE)[0]
    x, y = sorted((ada, jane))
    evidence = {"family": {"level": "else", "bayesFactor": 0.2},
                "birth_date": {"level": "one edit", "bayesFactor": 40.0}}  # fmt: skip
    candidate = Candidate(x, y, 0.93, 3.7, json.dumps(evidence))
    store.write_candidates(driver, database, [candidate], "test-review")
    yield candidate.key, ada, jane
    driver.execute_query(
        "MATCH (n) WHERE n:MatchCandidate OR n:IdentityDecision DETACH DELETE n",
        database_=database,
    )
    forget_dataset()  # the next module loads its dataset afresh


def test_a_steward_reads_the_candidates_with_who_the_two_patients_are(
    gql: Gql, proposed: tuple[str, str, str]
) -> None:
    key, ada, jane = proposed
    page = gql(CANDIDATES, principal=STEWARD).data["matchCandidates"]
    (found,) = [e["node"] for e in page["edges"] if e["node"]["key"] == key]
    assert found["status"] == "open" and found["probability"] == pytest.approx(0.93)
    assert {e["field"]: e["level"] for e in found["evidence"]} == {
        "birth_date": "one edit",
        "family": "else",
    }
    assert {p["key"] for p in found["patients"]} == {ada, jane}
    assert all(p["identifiers"] and p["birthDate"] for p in found["patients"])


@pytest.mark.parametrize("role", [Role.clinician, Role.billing, Role.analyst])
def test_other_roles_may_neither_read_the_review_nor_decide(
    gql: Gql, proposed: tuple[str, str, str], role: Role
) -> None:
    key, _, _ = proposed
    for query, variables in ((CANDIDATES, {}), (ACCEPT, {"c": key, "why": "x"})):
        run = gql(query, variables, principal=principal(role))
        assert run.result.data is None
        (error,) = run.errors
        assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
        assert "stewards and admins" in error["message"]


def test_a_steward_does_not_read_clinical_data(gql: Gql, proposed: tuple[str, str, str]) -> None:
    run = gql(
        """query($id: String!) { patient(identifier: $id) { name { family }
        encounters { totalCount } } }""",
        {"id": JANE},
        principal=STEWARD,
    )
    assert [e["extensions"]["field"] for e in run.errors] == ["Patient.encounters"]


def test_accept_then_split_by_a_steward_round_trips_and_is_on_the_record(
    gql: Gql, driver: Driver, database: str, proposed: tuple[str, str, str]
) -> None:
    key, ada, jane = proposed
    before = census(driver, database, REVIEW)
    merged = gql(ACCEPT, {"c": key, "why": "ticket 4711"}, principal=STEWARD).data["acceptMatch"]
    assert merged["kind"] == "merge" and merged["rule"] == "steward"
    assert merged["actor"] == STEWARD.subject and merged["reason"] == "ticket 4711"
    assert {merged["survivor"], merged["absorbed"]} == {ada, jane}
    assert gql(SAME, {"a": ADA, "b": JANE}).data["explainLink"]["same"] is True
    # deciding again is refused, with the reason's code
    again = gql(ACCEPT, {"c": key, "why": "again"}, principal=STEWARD)
    refusal = again.errors[0]["extensions"]
    assert (refusal["code"], refusal["reason"]) == ("DECISION_REFUSED", "ALREADY_DECIDED")

    split = gql(SPLIT, {"p": merged["survivor"], "why": "two people"}, principal=STEWARD)
    (undone,) = split.data["splitPatient"]
    assert undone["kind"] == "split" and undone["undoes"] == merged["key"]
    assert gql(SAME, {"a": ADA, "b": JANE}).data["explainLink"]["same"] is False
    assert census(driver, database, REVIEW).differences(before) == {}
    statuses = gql(CANDIDATES, {"status": "SPLIT"}, principal=STEWARD).data
    assert [e["node"]["key"] for e in statuses["matchCandidates"]["edges"]] == [key]
    # the audit names the steward and both patients, for the decision and for the split
    mine = query_audit(driver, database, subject=STEWARD.subject, limit=50)
    for field in ("acceptMatch", "splitPatient"):
        assert any(set(r["patients"]) >= {ada, jane} and any(field in f for f in r["fields"])
                   for r in mine), field  # fmt: skip


def test_a_reject_needs_a_reason_and_keeps_the_pair_apart(
    gql: Gql, proposed: tuple[str, str, str]
) -> None:
    key, _, _ = proposed
    blank = gql(REJECT, {"c": key, "why": "  "}, principal=STEWARD)
    assert blank.errors[0]["extensions"]["code"] == "BAD_ARGUMENT"
    done = gql(REJECT, {"c": key, "why": "different people"}, principal=STEWARD).data
    assert done["rejectMatch"]["kind"] == "reject"
    assert gql(SAME, {"a": ADA, "b": JANE}).data["explainLink"]["same"] is False
    left: Any = gql(CANDIDATES, principal=STEWARD).data["matchCandidates"]["edges"]
    assert key not in {e["node"]["key"] for e in left}
