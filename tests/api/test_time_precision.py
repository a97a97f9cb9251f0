"""Times known only to the year, month, day or hour: stored with their precision, shown as
known, and windowed honestly (issue 14: "dates and times with their precision, end to end")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import schema as graph_schema
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology
from tests.api.conftest import Gql, make_gql, wipe

PATIENT = "urn:mrn|P1"
CONTEXT = """query($from: DateTime, $to: DateTime) {
  patientContext(identifier: "urn:mrn|P1", from: $from, to: $to) {
    text timeline { edges { node { key time timePrecision } } } } }"""


def encounter(eid: str, start: str | None) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Encounter", "id": eid, "status": "finished",
        "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"},
        "identifier": [{"system": "urn:visit", "value": eid}],
    }  # fmt: skip
    if start is not None:
        body["period"] = {"start": start}
    return body


def bundle(path: Path, *encounters: dict[str, object]) -> Path:
    patient = {
        "resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970",
        "identifier": [{"system": "urn:mrn", "value": "P1"}],
    }  # fmt: skip
    entries = [{"resource": r} for r in (patient, *encounters)]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


@pytest.fixture(scope="module")
def loaded(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> Gql:
    database = neo4j_conn.database
    wipe(driver, database)
    graph_schema.apply(driver, database, load_ontology(), force=True)
    folder = tmp_path_factory.mktemp("precision")
    first = bundle(
        folder / "visits.json",
        encounter("month", "2008-03"),
        encounter("day", "2008-03-05"),
        encounter("moment", "2008-03-05T10:30:00-05:00"),
    )
    report = load([first], driver=driver, database=database, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    return make_gql(driver, database)


def stored(driver: Driver, database: str, visit: str) -> tuple[str, str | None]:
    records, _, _ = driver.execute_query(
        "MATCH (:Identifier {key: $k})-[:IDENTIFIES]->(e:Encounter) "
        "RETURN toString(e.start) AS start, e.startPrecision AS precision",
        k=f"urn:visit|{visit}",
        database_=database,
    )
    return records[0]["start"], records[0]["precision"]


def test_the_graph_keeps_the_first_instant_and_the_precision(
    loaded: Gql, driver: Driver, neo4j_conn: Neo4jSettings
) -> None:
    db = neo4j_conn.database
    assert stored(driver, db, "month") == ("2008-03-01T00:00:00Z", "month")
    assert stored(driver, db, "day") == ("2008-03-05T00:00:00Z", "day")
    assert stored(driver, db, "moment") == ("2008-03-05T10:30:00-05:00", None)


def test_the_api_says_how_precisely_each_time_is_known(loaded: Gql) -> None:
    ctx = loaded(CONTEXT).data["patientContext"]
    precision = {e["node"]["time"]: e["node"]["timePrecision"] for e in ctx["timeline"]["edges"]}
    assert precision == {
        "2008-03-01T00:00:00+00:00": "month",
        "2008-03-05T00:00:00+00:00": "day",
        "2008-03-05T10:30:00-05:00": "second",
    }
    lines = [x for x in ctx["text"].splitlines() if x.startswith("[")]
    assert [line.split(" ")[1] for line in lines] == [
        "2008-03", "2008-03-05", "2008-03-05T10:30-05:00",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # noon on the 5th to the 6th: the month and the day overlap it; 10:30-05:00 is 15:30Z
        ("2008-03-05T12:00:00Z", "2008-03-06T00:00:00Z", {"month", "day", "moment"}),
        # after 15:30Z on the 5th: the visit known to the second is out, the day still overlaps
        ("2008-03-05T16:00:00Z", "2008-03-06T00:00:00Z", {"month", "day"}),
        # April: the month ended at its start
        ("2008-04-01T00:00:00Z", "2008-05-01T00:00:00Z", set()),
        # before March: nothing, though the month's period starts at the window's end
        ("2008-02-01T00:00:00Z", "2008-03-01T00:00:00Z", set()),
    ],
)
def test_windows_include_an_event_whose_period_overlaps_them(
    loaded: Gql, start: str, end: str, expected: set[str]
) -> None:
    ctx = loaded(CONTEXT, {"from": start, "to": end}).data["patientContext"]
    times = {e["node"]["time"] for e in ctx["timeline"]["edges"]}
    by_time = {
        "2008-03-01T00:00:00+00:00": "month",
        "2008-03-05T00:00:00+00:00": "day",
        "2008-03-05T10:30:00-05:00": "moment",
    }
    assert {by_time[t] for t in times} == expected


def test_a_later_record_refines_or_keeps_a_time_never_erases_it(
    loaded: Gql, driver: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    db = neo4j_conn.database
    update = bundle(
        tmp_path / "update.json",
        encounter("month", "2008-03-04T09:15:00Z"),  # now known to the second
        encounter("day", None),  # an update that names the visit without its start
    )
    report = load([update], driver=driver, database=db, source="ehr2")
    assert report.exit_code == 0
    assert stored(driver, db, "month") == ("2008-03-04T09:15:00Z", None)
    assert stored(driver, db, "day") == ("2008-03-05T00:00:00Z", "day")
