"""`interoperability` in GraphQL: the scorecard's measures with their definitions, history and
the records behind them, for admins and analysts only (the records pseudonymised and audited).
"""

from __future__ import annotations

from typing import Any

import pytest
from neo4j import Driver

from caregraph.api.auth import Role
from caregraph.api.settings import ApiSettings
from caregraph.graph import scorecard
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import PSEUDONYMS, Gql, principal

MEASURES = """query($name: String, $source: String) {
  interoperability { measures(name: $name, source: $source) {
    name family domain source group unit value numerator denominator definition cypher
    trend(last: 50) { runId at value numerator denominator runSource }
  } }
}"""

RECORDS = """query {
  interoperability { measures(name: "patients-seen-in-several-sources") {
    source records(first: 100) { key kind sources }
  } }
}"""


def test_admin_reads_every_measure_as_the_graph_counts_it_with_its_history(
    gql: Gql, dataset: Driver, neo4j_conn: Neo4jSettings
) -> None:
    data: list[dict[str, Any]] = gql(MEASURES).data["interoperability"]["measures"]
    now = scorecard.measure(dataset, neo4j_conn.database)
    assert [(m["name"], m["source"], m["group"]) for m in data] == [
        (m.name, m.source, m.group) for m in now
    ]
    assert {m["name"] for m in data} == {d.name for d in scorecard.DEFINITIONS}
    runs, _, _ = dataset.execute_query(
        "MATCH (r:LoadRun) RETURN r.runId AS run, r.sourceSystem AS source ORDER BY r.endedAt",
        database_=neo4j_conn.database,
    )
    claims = next(
        m for m in data if (m["name"], m["source"]) == ("claims-linked-to-encounter", None)
    )
    assert claims["definition"].startswith("Share of the claims")
    assert "FOR_ENCOUNTER" in claims["cypher"]
    # one snapshot at the end of every load run of the dataset, naming the run and its source
    assert [(p["runId"], p["runSource"]) for p in claims["trend"]] == [
        (r["run"], r["source"]) for r in runs
    ]
    last = claims["trend"][-1]
    assert (last["numerator"], last["denominator"]) == (claims["numerator"], claims["denominator"])


def test_one_source_and_a_short_trend(gql: Gql) -> None:
    run = gql(
        """query { interoperability { measures(name: "records-rejected", source: "x12") {
        source group trend(last: 1) { runId } } } }"""
    )
    rows = run.data["interoperability"]["measures"]
    assert rows and {r["source"] for r in rows} <= {"x12", None}
    assert all(len(r["trend"]) == 1 for r in rows)
    bad = gql('query { interoperability { measures(name: "no-such-measure") { name } } }')
    assert bad.errors[0]["extensions"]["code"] == "BAD_ARGUMENT"


@pytest.mark.parametrize("role", [Role.clinician, Role.billing])
def test_clinicians_and_billing_are_refused(gql: Gql, role: Role) -> None:
    run = gql(MEASURES, principal=principal(role))
    assert run.result.data is None
    error = run.errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN_FIELD"
    assert "admins and analysts" in error["message"]


def test_analyst_reads_the_measures_and_the_records_behind_them_as_pseudonyms(
    gql: Gql, dataset: Driver, neo4j_conn: Neo4jSettings
) -> None:
    analyst = principal(Role.analyst, "test:analyst-scorecard")
    assert gql(MEASURES, principal=analyst).data["interoperability"]["measures"]
    run = gql(RECORDS, principal=analyst)
    everything = next(m for m in run.data["interoperability"]["measures"] if m["source"] is None)
    behind = scorecard.records_behind(
        dataset, neo4j_conn.database, "patients-seen-in-several-sources"
    )
    assert behind, "the dataset has patients seen by one source only"
    assert [r["key"] for r in everything["records"]] == [PSEUDONYMS(b.key) for b in behind]
    assert {r["kind"] for r in everything["records"]} == {"Patient"}
    # the records are patient data: the request noted the patients it showed, for the audit
    assert run.context.reader.patients >= {b.key for b in behind}


def test_the_measures_are_read_within_the_requests_time_and_counted(gql: Gql) -> None:
    """The measures, their history and the records behind them are read by the request's
    reader: within its time limit, and counted (a statement for the measure asked, one for
    the history of every measure answered)."""
    one = """query { interoperability { measures(name: "claims-linked-to-encounter") {
      value trend(last: 2) { runId } } } }"""
    run = gql(one)
    assert run.data["interoperability"]["measures"]
    assert run.context.reader.round_trips == 2
    hurried = gql(one, settings=ApiSettings(query_timeout_s=0.0005))
    assert [e["extensions"]["code"] for e in hurried.errors] == ["LIMIT_EXCEEDED"]
    assert hurried.errors[0]["extensions"]["limit"] == "timeout"
