"""The search root fields (api/search.py): patients by demographics or an identifier value,
ranked, with their identifiers and sources; the two-facts rule; the roles; the audit of a
search; the directory searches."""

from __future__ import annotations

import json
from typing import Any

from neo4j import Driver

from caregraph.api.auth import Role
from caregraph.api.settings import ApiSettings
from caregraph.graph.keys_and_audit import query_audit
from tests.api.conftest import ADA, JANE, SMITH_NPI, Gql, principal
from tests.api.test_compiled import plain

SEARCH = """query Search($family: String, $given: String, $birthDate: String, $gender: String,
  $postalCode: String, $identifierValue: String, $first: Int, $after: String) {
  patients(family: $family, given: $given, birthDate: $birthDate, gender: $gender,
           postalCode: $postalCode, identifierValue: $identifierValue, first: $first,
           after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { score matchedOn patient {
      key birthDate name { family given }
      identifiers { token }
      sources { sourceSystem }
    } } }
  }
}"""

ANALYST_SEARCH = """query Search($birthDate: String, $gender: String) {
  patients(birthDate: $birthDate, gender: $gender) {
    edges { node { score matchedOn patient { key birthDate gender } } }
  }
}"""


def nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in data["patients"]["edges"]]


def test_a_patient_is_found_by_name_and_birth_date_with_identifiers_and_sources(
    gql: Gql,
) -> None:
    # "jane DOE", born in January 1980: the HL7 feed's Jane, whom the claim and the image
    # joined by demographics
    data = gql(SEARCH, {"family": "DOE", "given": "jane", "birthDate": "1980-01"}).data
    (found,) = nodes(data)
    assert found["patient"]["key"] == JANE
    assert found["score"] == 4 + 3 + 2 and found["matchedOn"] == ["family", "given", "birthDate"]
    tokens = {i["token"] for i in found["patient"]["identifiers"]}
    assert {"HOSP|MRN001", "LAKESIDE|RAD-7"} <= tokens
    assert {s["sourceSystem"] for s in found["patient"]["sources"]} >= {"adt", "pacs"}
    assert data["patients"]["totalCount"] == 1


def test_exact_matches_rank_before_prefixes_and_pages_follow_the_ranking(gql: Gql) -> None:
    # the twenty Crowd patients, born 1990-01-01: Person00 .. Person19
    exact = gql(SEARCH, {"family": "crowd", "given": "person01", "birthDate": "1990"}).data
    assert [n["patient"]["name"]["given"] for n in nodes(exact)] == [["Person01"]]
    prefix = gql(SEARCH, {"family": "cro", "given": "person1", "first": 4}).data
    page = nodes(prefix)
    # Person1 is no given name: every Person1x matches by prefix, Person10 .. Person19
    assert prefix["patients"]["totalCount"] == 10 and prefix["patients"]["pageInfo"]["hasNextPage"]
    assert {n["matchedOn"][0] for n in page} == {"family-prefix"}
    rest: list[dict[str, Any]] = []
    after = prefix["patients"]["pageInfo"]["endCursor"]
    while after:
        more = gql(SEARCH, {"family": "cro", "given": "person1", "first": 4, "after": after}).data
        rest += nodes(more)
        info = more["patients"]["pageInfo"]
        after = info["endCursor"] if info["hasNextPage"] else None
    givens = [n["patient"]["name"]["given"][0] for n in page + rest]
    assert givens == [f"Person{i}" for i in range(10, 20)]  # one score: by key, each once


def test_a_search_needs_two_facts_or_an_identifier_value(gql: Gql) -> None:
    refused = gql(SEARCH, {"family": "Doe"})
    (error,) = refused.errors
    assert error["extensions"]["code"] == "SEARCH_TOO_BROAD"
    assert error["extensions"]["given"] == ["family"]
    assert "Doe" not in error["message"]  # names the terms, never their values
    assert gql(SEARCH, {}).errors[0]["extensions"]["code"] == "SEARCH_TOO_BROAD"
    # a bare MRN: Jane's at HOSP, and Ana Rivera's at LAKESIDE
    by_value = gql(SEARCH, {"identifierValue": "MRN001"}).data
    assert len(nodes(by_value)) == 2
    assert all(n["matchedOn"] == ["identifier"] for n in nodes(by_value))
    bad = gql(SEARCH, {"family": "Doe", "birthDate": "1980-13"})
    assert bad.errors[0]["extensions"]["code"] == "BAD_ARGUMENT"


def test_analysts_search_by_birth_year_and_gender_never_by_name(gql: Gql) -> None:
    analyst = principal(Role.analyst)
    by_name = gql(SEARCH, {"family": "Doe", "birthDate": "1980"}, principal=analyst)
    assert by_name.errors[0]["extensions"]["code"] == "FORBIDDEN_ARGUMENT"
    assert by_name.errors[0]["extensions"]["argument"] == "family"
    finer = gql(ANALYST_SEARCH, {"birthDate": "1980-01-02", "gender": "F"}, principal=analyst)
    assert finer.errors[0]["extensions"]["code"] == "FORBIDDEN_ARGUMENT"
    data = gql(ANALYST_SEARCH, {"birthDate": "1980", "gender": "female"}, principal=analyst).data
    (found,) = nodes(data)
    assert found["patient"]["key"].startswith("pseudonym:")
    assert found["patient"]["birthDate"] == "1980"
    # clinicians and billing search by name
    for role in (Role.clinician, Role.billing):
        ok = gql(SEARCH, {"family": "Doe", "birthDate": "1980"}, principal=principal(role))
        assert [n["patient"]["key"] for n in nodes(ok.data)] == [JANE]


def test_a_search_is_audited_with_its_terms_and_the_patients_it_returned(
    gql: Gql, dataset: Driver, database: str
) -> None:
    who = principal(Role.clinician, "test:search-audit")
    run = gql(SEARCH, {"family": "lovelace", "gender": "female"}, principal=who)
    assert [n["patient"]["key"] for n in nodes(run.data)] == [ADA]
    refused = gql(SEARCH, {"given": "Ada"}, principal=who)
    assert refused.errors
    events = {
        e["requestId"]: e
        for e in query_audit(dataset, database, subject="test:search-audit", limit=10)
    }
    found = events[run.context.request_id]
    search = json.loads(found["search"])
    assert search == {
        "patients": {
            "field": "patients",
            "terms": {"family": "lovelace", "gender": "female"},
            "returned": [ADA],
        }
    }
    assert found["patients"] == [ADA] and found["outcome"] == "ok"
    # a refused search is recorded too, with what it tried
    tried = events[refused.context.request_id]
    assert tried["outcome"] == "failed"
    assert json.loads(tried["search"])["patients"]["terms"] == {"given": "Ada"}
    assert tried.get("patients", []) == []
    # and admins read it as a search
    log = gql(
        "query($s: String) { auditLog(subject: $s, first: 5) { edges { node { search } } } }",
        {"s": "test:search-audit"},
    ).data
    assert any(
        e["node"]["search"] and e["node"]["search"]["patients"]["returned"] == [ADA]
        for e in log["auditLog"]["edges"]
    )


def test_practitioners_and_organizations_by_name(gql: Gql) -> None:
    doctors = gql(
        '{ practitioners(name: "smith") { edges { node { score matchedOn practitioner '
        "{ npi } } } } }"
    ).data
    assert [e["node"]["practitioner"]["npi"] for e in doctors["practitioners"]["edges"]] == [
        SMITH_NPI
    ]
    by_npi = gql(f'{{ practitioners(npi: "{SMITH_NPI}") {{ totalCount }} }}').data
    assert by_npi["practitioners"]["totalCount"] == 1
    house = gql(
        '{ practitioners(name: "gregory", specialty: "internal") { edges { node { '
        "practitioner { name { text } } } } } }"
    ).data
    assert [e["node"]["practitioner"]["name"]["text"] for e in house["practitioners"]["edges"]] == [
        "Gregory House"
    ]
    orgs = gql('{ organizations(name: "general") { edges { node { organization { name } } } } }')
    names = [e["node"]["organization"]["name"] for e in orgs.data["organizations"]["edges"]]
    assert names == ["General Hospital"]
    nothing = gql("{ practitioners { totalCount } }")
    assert nothing.errors[0]["extensions"]["code"] == "SEARCH_TOO_BROAD"


def test_round_trips_do_not_grow_with_the_page(gql: Gql) -> None:
    # the page of matches, their count and their identifiers and sources: one statement,
    # however many matched; the reference path's two (the matches and their count; the
    # identifiers and sources, one level: one batch) give the same answer
    variables: dict[str, Any] = {"family": "crowd", "birthDate": "1990"}
    gql(SEARCH, variables)  # the guardrails read the graph's counts once, then keep them
    few = gql(SEARCH, {**variables, "first": 2})
    many = gql(SEARCH, {**variables, "first": 20})
    assert len(nodes(few.data)) == 2 and len(nodes(many.data)) == 20
    assert few.context.reader.round_trips == many.context.reader.round_trips == 1
    reference = ApiSettings(compiled_reads=False)
    for run in (few, many):
        size = len(nodes(run.data))
        slow = gql(SEARCH, {**variables, "first": size}, settings=reference)
        assert slow.context.reader.round_trips == 2
        assert plain(run) == plain(slow)
        assert run.context.reader.patients == slow.context.reader.patients
