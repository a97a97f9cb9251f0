"""The schema on the shared Synthea CSV export (27 patients, 600 visits, 1,267 claims): what an
agent asks, checked against the same question asked of Neo4j in hand-written Cypher."""

from __future__ import annotations

import pytest
from neo4j import Driver

from caregraph.api.settings import ApiSettings
from caregraph.graph import schema as graph_schema
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology
from tests.api.conftest import SYNTHEA, Gql, make_gql, wipe
from tests.conftest import SAMPLES

pytestmark = pytest.mark.samples

BUSIEST = "5f8d3e13-bc80-dd66-0f1b-d24f9692a697"  # the patient with the most visits (64)
REFERENCE = ApiSettings(compiled_reads=False)  # one round trip per level
# the compiled path, waiting for Neo4j to plan a new statement rather than reading it the
# reference way meanwhile (what a service does for a shape it has not seen before)
COMPILED = ApiSettings(compiled_budget_s=120, query_timeout_s=120, compiled_wait_for_plan=True)
DOCTOR = "ed8b41e9-5365-3a49-ad5f-91bd8a8f174f"  # the provider with the most visits (49)


@pytest.fixture(scope="module")
def sample_gql(driver: Driver, neo4j_conn: Neo4jSettings) -> Gql:
    """The shared export loaded once for the module (the `samples` fixture is per test)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES}); a fresh clone has none")
    database = neo4j_conn.database
    wipe(driver, database)
    graph_schema.apply(driver, database, load_ontology(), force=True)
    report = load(
        [SAMPLES / "synthea-csv-v3.0.0"], driver=driver, database=database, source="synthea"
    )
    assert report.exit_code == 0, report.as_json()["rejects"]
    return make_gql(driver, database)


def cypher_count(driver: Driver, database: str, query: str, **params: object) -> int:
    records, _, _ = driver.execute_query(query, params, database_=database)
    return int(records[0][0])


def test_patient_context_counts_agree_with_cypher(
    sample_gql: Gql, driver: Driver, neo4j_conn: Neo4jSettings
) -> None:
    window = {"from": "2020-01-01T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    ctx = sample_gql(
        """query($id: String!, $from: DateTime, $to: DateTime) {
             patientContext(identifier: $id, from: $from, to: $to, budgetTokens: 600) {
               text estimatedTokens truncated totalEvents included { kind count }
               omitted { kind count } } }""",
        {"id": BUSIEST, **window},
    ).data["patientContext"]
    key = f"{SYNTHEA}|{BUSIEST}"
    db = neo4j_conn.database
    visits = cypher_count(
        driver, db,
        "MATCH (:Patient {key: $k})-[:HAS_ENCOUNTER]->(e) "
        "WHERE e.start >= datetime($from) AND e.start < datetime($to) RETURN count(e)",
        k=key, **window,
    )  # fmt: skip
    claims = cypher_count(
        driver, db,
        "MATCH (:Patient {key: $k})-[:HAS_CLAIM]->(c) WHERE datetime({date: c.serviceStart}) "
        ">= datetime($from) AND datetime({date: c.serviceStart}) < datetime($to) "
        "RETURN count(c)",
        k=key, **window,
    )  # fmt: skip
    per_kind = {k["kind"]: k["count"] for k in ctx["included"]}
    for k in ctx["omitted"]:
        per_kind[k["kind"]] = per_kind.get(k["kind"], 0) + k["count"]
    assert per_kind["Encounter"] == visits > 10
    assert per_kind["Claim"] == claims
    assert ctx["totalEvents"] == sum(per_kind.values())
    assert ctx["truncated"] is True and ctx["estimatedTokens"] <= 600


def test_a_three_level_traversal_in_constant_round_trips(
    sample_gql: Gql, driver: Driver, neo4j_conn: Neo4jSettings
) -> None:
    query = """query($id: String!, $n: Int) { patient(identifier: $id) {
      encounters(first: $n) { totalCount edges { node { start
        practitioners { edges { node { name { text } } } }
        organization { name }
        claims { edges { node { totalCharge items(first: 50) { edges { node {
          chargeAmount } } } } } } } } } } }"""
    sample_gql(query, {"id": BUSIEST, "n": 1})  # the fan-out is read and cached
    small = sample_gql(query, {"id": BUSIEST, "n": 2}, settings=REFERENCE)
    large = sample_gql(query, {"id": BUSIEST, "n": 64}, settings=REFERENCE)
    compiled = sample_gql(query, {"id": BUSIEST, "n": 64}, settings=COMPILED)
    edges = large.data["patient"]["encounters"]["edges"]
    assert len(edges) == 64 == large.data["patient"]["encounters"]["totalCount"]
    assert small.context.reader.round_trips == large.context.reader.round_trips == 4
    # the compiled path: the same answer in one statement
    assert compiled.result.data == large.data
    assert compiled.context.reader.round_trips == 1
    charged = sum(
        i["node"]["chargeAmount"]
        for e in edges
        for c in e["node"]["claims"]["edges"]
        for i in c["node"]["items"]["edges"]
    )
    expected = driver.execute_query(
        "MATCH (:Patient {key: $k})-[:HAS_ENCOUNTER]->(:Encounter)<-[:FOR_ENCOUNTER]-(:Claim)"
        "-[:HAS_ITEM]->(i) RETURN sum(i.chargeAmount) AS s",
        k=f"{SYNTHEA}|{BUSIEST}",
        database_=neo4j_conn.database,
    ).records[0]["s"]
    assert charged == pytest.approx(expected)


def test_a_practitioners_visits_page_by_page(sample_gql: Gql) -> None:
    query = """query($visit: String!, $after: String) { encounter(identifier: $visit) {
      practitioners { edges {
      node { encounters(first: 20, after: $after) { totalCount pageInfo { hasNextPage
        endCursor } edges { node { key start } } } } } } } }"""
    first_visit = sample_gql(
        """query($k: String!) { patient(identifier: $k) { encounters(first: 1) { edges {
             node { key practitioners { edges { node { key } } } } } } } }""",
        {"k": BUSIEST},
    ).data["patient"]["encounters"]["edges"][0]["node"]
    seen: list[tuple[str, str]] = []
    after = None
    while True:
        data = sample_gql(query, {"visit": first_visit["key"], "after": after}).data
        (doc,) = data["encounter"]["practitioners"]["edges"]
        page = doc["node"]["encounters"]
        seen += [(e["node"]["start"], e["node"]["key"]) for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == page["totalCount"] == len(set(seen))
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)  # by time, then key


def test_realistic_queries_pass_the_default_cost_limit(sample_gql: Gql) -> None:
    run = sample_gql(
        """query($id: String!) { patient(identifier: $id) { encounters(first: 100) { edges {
             node { claims(first: 100) { edges { node { items(first: 100) { totalCount } } } } }
           } } } }""",
        {"id": BUSIEST},
    )
    assert len(run.data["patient"]["encounters"]["edges"]) == 64
