"""Guardrails: each limit refuses with which limit it is and how to narrow the query."""

from __future__ import annotations

import pytest
from neo4j import Driver

from caregraph.api.settings import ApiSettings
from caregraph.graph.readers import Reader, ReadTimeoutError
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import Gql


def refusal(gql: Gql, query: str, settings: ApiSettings, variables: dict | None = None) -> dict:
    run = gql(query, variables, settings=settings)
    (error,) = run.errors
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert "To narrow it:" in error["message"]
    return error


def nested(levels: int) -> str:
    """A query going back and forth between a visit and its patient, ``levels`` times."""
    inner = "key"
    for _ in range(levels):
        inner = f"patient {{ encounters {{ edges {{ node {{ {inner} }} }} }} }}"
    return '{ encounter(identifier: "ada-v1") { ' + inner + " } }"


def test_depth(gql: Gql) -> None:
    settings = ApiSettings(max_depth=10)
    assert gql(nested(2), settings=settings).data["encounter"]["patient"]
    error = refusal(gql, nested(3), settings)
    assert error["extensions"]["limit"] == "depth" and error["extensions"]["max"] == 10
    assert "deeper than 10 levels" in error["message"]
    assert "fewer levels of traversal" in error["message"]


def test_depth_is_on_by_default(gql: Gql) -> None:
    error = refusal(gql, nested(6), ApiSettings())
    assert error["extensions"]["limit"] == "depth"


def test_aliases(gql: Gql) -> None:
    query = "{ " + " ".join(f'p{i}: patient(identifier: "ada") {{ key }}' for i in range(4)) + " }"
    assert len(gql(query, settings=ApiSettings(max_aliases=4)).data) == 4
    error = refusal(gql, query, ApiSettings(max_aliases=3))
    assert error["extensions"]["limit"] == "aliases"
    assert "4 aliases, more than 3" in error["message"] and "split it" in error["message"]


def test_tokens(gql: Gql) -> None:
    query = '{ patient(identifier: "ada") { key name { text family given } birthDate gender } }'
    assert gql(query, settings=ApiSettings(max_tokens=40)).data["patient"]
    error = refusal(gql, query, ApiSettings(max_tokens=10))
    assert error["extensions"]["limit"] == "tokens"
    assert "more than 10 tokens" in error["message"]


def test_page_size(gql: Gql) -> None:
    query = '{ patient(identifier: "ada") { claims(first: 101) { edges { node { key } } } } }'
    error = refusal(gql, query, ApiSettings())
    assert error["extensions"]["limit"] == "page size"
    assert error["extensions"]["field"] == "patient.claims"
    assert "first: 101 at patient.claims is more than 100" in error["message"]
    assert "after: endCursor" in error["message"]
    # through a variable too, and refused before anything is read
    run = gql(
        'query($n: Int) { patient(identifier: "ada") { claims(first: $n) { totalCount } } }',
        {"n": 500},
    )
    assert run.errors[0]["extensions"]["limit"] == "page size"
    assert run.context.reader.round_trips == 0
    # the document's estimate is kept (api/limits.py Estimates), by the values it read: the
    # same text with another page size, or under another limit, is judged again
    same = 'query($n: Int) { patient(identifier: "ada") { claims(first: $n) { totalCount } } }'
    assert gql(same, {"n": 5}).data["patient"]["claims"]["totalCount"] >= 0
    assert gql(same, {"n": 500}).errors[0]["extensions"]["limit"] == "page size"
    assert gql(same, {"n": 500}, settings=ApiSettings(max_page_size=500)).data["patient"]


COSTLY = """{ encounter(identifier: "crowd00-v1") {
  practitioners(first: 100) { edges { node {
    encounters(first: 100) { edges { node {
      patient {
        encounters(first: 100) { edges { node {
          claims(first: 100) { edges { node {
            items(first: 100) { edges { node { chargeAmount } } }
          } } }
        } } }
      }
    } } }
  } } }
} }"""


def test_cost_uses_the_graphs_real_fanout(gql: Gql) -> None:
    # first: 100 five times over would be 10^10 rows if multiplied blindly; the graph's own
    # fan-out (a few visits per practitioner, about one claim per visit) keeps it small
    assert gql(COSTLY, settings=ApiSettings(max_depth=30)).data["encounter"]
    error = refusal(gql, COSTLY, ApiSettings(max_depth=30, max_cost=20))
    ext = error["extensions"]
    assert ext["limit"] == "cost" and ext["max"] == 20
    assert 20 < ext["estimate"] < 500
    assert ext["field"].startswith("encounter.practitioners")
    assert "lower `first`" in error["message"] and ext["field"] in error["message"]


def test_cost_is_refused_before_anything_runs(gql: Gql) -> None:
    gql(COSTLY, settings=ApiSettings(max_depth=30))  # the fan-out is cached now
    run = gql(COSTLY, settings=ApiSettings(max_depth=30, max_cost=20))
    assert run.errors[0]["extensions"]["limit"] == "cost"
    assert run.context.reader.round_trips == 0


def test_timeout_of_a_request(gql: Gql) -> None:
    query = """{ patient(identifier: "ada") { encounters { edges { node { claims { edges {
               node { items { edges { node { key } } } } } } } } } } }"""
    run = gql(query, settings=ApiSettings(query_timeout_s=0.001))
    errors = run.errors
    assert {e["extensions"]["limit"] for e in errors} == {"timeout"}
    assert "longer than 0.001 s" in errors[0]["message"]
    assert "from/to window" in errors[0]["message"]


def test_neo4j_stops_a_read_at_the_timeout(dataset: Driver, neo4j_conn: Neo4jSettings) -> None:
    reader = Reader(dataset, neo4j_conn.database, timeout_s=0.5)
    with pytest.raises(ReadTimeoutError) as e:
        # a read that would take many seconds: Neo4j's transaction timeout ends it
        reader.run("UNWIND range(1, 2000000000) AS x RETURN sum(x) AS s")
    assert e.value.limit_s == 0.5
    assert reader.run("RETURN 1 AS one")[0]["one"] == 1  # the next read is fine


def test_token_budget(gql: Gql) -> None:
    error = refusal(
        gql,
        '{ patientContext(identifier: "ada", budgetTokens: 50000) { text } }',
        ApiSettings(),
    )
    assert error["extensions"]["limit"] == "token budget"
    assert "after: nextCursor" in error["message"]
