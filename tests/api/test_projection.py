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


TIMES = """{ practitioner(npi: "1234567893") { encounters { edges { node {
  start end time timePrecision
  appointments { edges { node { start end time } } }
} } } } }"""


@pytest.mark.parametrize("role", [Role.clinician, Role.billing, Role.analyst])
def test_a_role_reads_the_same_instants_and_offsets_as_an_admin(gql: Gql, role: Role) -> None:
    """The role projections return zoned date-times as ISO text (graph/projection.py
    ``as_text``), an admin's read returns the stored values: both answer the same."""
    admin = gql(TIMES).data  # .data: the answer, failing on any error
    visits = admin["practitioner"]["encounters"]["edges"]
    assert visits and all(v["node"]["start"].endswith("-05:00") for v in visits)
    assert gql(TIMES, principal=principal(role)).data == admin


def test_a_role_projection_returns_zoned_date_times_as_text(dataset: Driver, database: str) -> None:
    pj = projection(for_role(Role.clinician))
    assert {"start", "end", "onset"} <= pj.as_text
    records, _, _ = dataset.execute_query(
        f"MATCH (b:Encounter) RETURN {pj.node('b', ['Encounter'])} AS node", database_=database
    )
    starts = [r["node"]["start"] for r in records if r["node"].get("start") is not None]
    assert starts and all(isinstance(s, str) for s in starts)
