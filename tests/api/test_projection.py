"""A projection's Cypher, narrowed to the labels a read reaches, answers as the whole does: the
readers write only the ways to the patient that a node of the level's target labels can
take (graph/projection.py ``patients``), and the read audit must name the same patients."""

from __future__ import annotations

import pytest
from neo4j import Driver

from caregraph.api.access.policy import for_role
from caregraph.api.access.projections import lineage, projection
from caregraph.api.auth import Role
from caregraph.graph.names import quoted
from caregraph.graph.projection import Projection
from tests.api.conftest import Gql, principal


@pytest.mark.parametrize("role", list(Role))
def test_the_patients_of_every_node_are_the_same_read_under_any_label_it_carries(
    dataset: Driver, database: str, role: Role
) -> None:
    pj = projection(for_role(role))
    labels = [name for name, _ in lineage()]
    checked = 0
    for label in labels:
        narrowed = pj.patients("b", [label])
        records, _, _ = dataset.execute_query(
            f"MATCH (b:{quoted(label)}) RETURN b.key AS key, "
            f"{pj.patients('b')} AS whole, {narrowed} AS narrowed",
            database_=database,
        )
        for r in records:
            assert sorted(r["narrowed"]) == sorted(r["whole"]), (label, r["key"])
            checked += bool(r["whole"])
    assert checked > 0  # nodes that belong to a patient were among them


def test_a_level_that_reaches_no_kind_of_patient_data_writes_no_way_to_one() -> None:
    pj = projection(for_role(Role.admin))
    assert pj.patients("b", ["Location"]) == "[]"
    assert "HAS_ENCOUNTER" in pj.patients("b", ["Event"])  # every kind of event under it
    assert "HAS_ENCOUNTER" not in pj.patients("b", ["Claim"])
    # a label the ontology does not know could be any of them
    assert pj.patients("b", ["Unknown"]) == pj.patients("b")
    assert Projection(owners=pj.owners).patients("b", ["Location"]) == pj.patients("b")


READERS = (Role.admin, Role.clinician, Role.billing, Role.analyst)
TIMES = """{ practitioner(npi: "1234567893") { encounters { edges { node {
  start end time timePrecision
  appointments { edges { node { start end time } } }
} } } } }"""


def test_every_role_reads_the_instants_and_offsets_the_graph_holds(
    gql: Gql, dataset: Driver, database: str
) -> None:
    """Reads return zoned date-times as ISO text (graph/projection.py ``as_text``): each role
    reads the instant and offset the graph holds, and all read the same times and
    precisions."""
    stored, _, _ = dataset.execute_query(
        "MATCH (:Practitioner {npi: '1234567893'})<-[:HAS_PARTICIPANT]-(e:Encounter) "
        "RETURN e.start AS start, e.end AS end",
        database_=database,
    )
    held = sorted(
        (r["start"].to_native().isoformat(), r["end"] and r["end"].to_native().isoformat())
        for r in stored
    )
    assert held and all(start.endswith("-05:00") for start, _ in held)
    answers = [gql(TIMES, principal=principal(role)).data for role in READERS]
    for answer in answers:
        visits = answer["practitioner"]["encounters"]["edges"]
        assert sorted((v["node"]["start"], v["node"]["end"]) for v in visits) == held
        assert answer == answers[0]


def test_a_role_projection_returns_zoned_date_times_as_text(dataset: Driver, database: str) -> None:
    pj = projection(for_role(Role.clinician))
    assert {"start", "end", "onset"} <= pj.as_text
    records, _, _ = dataset.execute_query(
        f"MATCH (b:Encounter) RETURN {pj.node('b', ['Encounter'])} AS node", database_=database
    )
    starts = [r["node"]["start"] for r in records if r["node"].get("start") is not None]
    assert starts and all(isinstance(s, str) for s in starts)
