"""Concepts in the API (api/types/concept.py): a code looked up by any spelling of its system,
with its ancestors and a paged walk of its descendants; terminology is readable by every
role, analysts included."""

from __future__ import annotations

from caregraph.api.auth import Role
from tests.api.conftest import Gql, principal

CONCEPT = """
query($system: String!, $code: String!, $first: Int, $after: String) {
  concept(system: $system, code: $code) {
    key system code display
    ancestors { code }
    descendants(first: $first, after: $after) { totalCount endCursor nodes { code display } }
  }
}"""


def test_a_code_by_an_alias_of_its_system_and_without_its_dot(cardiology: Gql) -> None:
    data = cardiology(CONCEPT, {"system": "ICD10CM", "code": "i214", "first": 5}).data
    found = data["concept"]
    assert found["key"] == "http://hl7.org/fhir/sid/icd-10-cm|I21.4"
    assert "NSTEMI" in found["display"]
    assert [a["code"] for a in found["ancestors"]] == ["I21", "I20-I25", "9"]
    assert found["descendants"] == {"totalCount": 0, "endCursor": None, "nodes": []}


def test_descendants_of_a_block_page_by_code(cardiology: Gql) -> None:
    wanted = {"system": "urn:oid:2.16.840.1.113883.6.90", "code": "I20-I25", "first": 10}
    first = cardiology(CONCEPT, wanted).data["concept"]["descendants"]
    codes = [n["code"] for n in first["nodes"]]
    assert codes == sorted(codes) and len(codes) == 10 and codes[0] == "I20"
    assert first["totalCount"] > 50 and first["endCursor"] == codes[-1]
    seen = list(codes)
    after = first["endCursor"]
    while after:
        page = cardiology(CONCEPT, {**wanted, "first": 50, "after": after}).data
        more = page["concept"]["descendants"]
        seen += [n["code"] for n in more["nodes"]]
        after = more["endCursor"]
    assert len(seen) == len(set(seen)) == first["totalCount"]
    assert {"I21", "I21.4", "I25.10"} <= set(seen) and "I10" not in seen


def test_an_unknown_code_is_null_and_analysts_read_terminology(cardiology: Gql) -> None:
    data = cardiology(
        CONCEPT, {"system": "ICD-10-CM", "code": "Z99.999"}, principal=principal(Role.analyst)
    ).data
    assert data["concept"] is None
    seen = cardiology(
        CONCEPT, {"system": "ICD-10-CM", "code": "I10"}, principal=principal(Role.analyst)
    ).data
    assert seen["concept"]["ancestors"] == [{"code": "I10-I1A"}, {"code": "9"}]


def test_a_concept_its_ancestors_and_its_pages_are_one_statement(cardiology: Gql) -> None:
    both_pages = """query($first: Int) {
      concept(system: "ICD-10-CM", code: "I20-I25") {
        key ...above
        head: descendants(first: $first) { totalCount endCursor nodes { code } }
        next: descendants(first: 3, after: "I21") { totalCount nodes { code } }
      }
    }
    fragment above on Concept { ancestors { code } }"""
    run = cardiology(both_pages, {"first": 4})
    assert run.result.errors is None
    found = run.data["concept"]
    assert [a["code"] for a in found["ancestors"]] == ["9"]
    assert [n["code"] for n in found["head"]["nodes"]] == ["I20", "I20.0", "I20.1", "I20.2"]
    assert found["head"]["endCursor"] == "I20.2"
    assert [n["code"] for n in found["next"]["nodes"]] == ["I21.0", "I21.01", "I21.02"]
    assert found["head"]["totalCount"] == found["next"]["totalCount"] > 50
    assert run.context.reader.round_trips == 1
    # the check above can fail: a page the lookup could not know of is read by its resolver
    alone = cardiology(CONCEPT, {"system": "ICD-10-CM", "code": "I21", "first": 2})
    assert alone.context.reader.round_trips == 1


def test_a_page_over_the_limit_is_refused_before_anything_is_read(cardiology: Gql) -> None:
    run = cardiology(CONCEPT, {"system": "ICD-10-CM", "code": "I20-I25", "first": 100_000})
    assert [e["extensions"]["code"] for e in run.errors] == ["LIMIT_EXCEEDED"]
    assert run.errors[0]["extensions"]["field"] == "concept.descendants"
    assert run.context.reader.round_trips == 0
