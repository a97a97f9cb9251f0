"""Patient.events: events of any kind, over a superclass, found through the ontology."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.api import paths
from caregraph.graph.settings import Neo4jSettings
from caregraph.ontology.model import load_ontology, shipped_files
from tests.api.conftest import ADA, JANE, Gql

EVENTS = """query($id: String!, $kind: String!, $from: DateTime, $to: DateTime, $first: Int) {
  patient(identifier: $id) { events(kind: $kind, from: $from, to: $to, first: $first) {
    totalCount edges { node { __typename kind time key
      ... on Encounter { description } ... on Claim { controlNumber }
      ... on GenericEvent { properties } } } } } }"""


def events(gql: Gql, kind: str, who: str = JANE, **more: object) -> dict:
    run = gql(EVENTS, {"id": who, "kind": kind, **more})
    connection: dict = run.data["patient"]["events"]
    return connection


def kinds(connection: dict) -> list[str]:
    return [e["node"]["__typename"] for e in connection["edges"]]


def test_every_event_of_a_patient(gql: Gql) -> None:
    every = events(gql, "Event")
    assert every["totalCount"] == 5
    assert kinds(every) == ["Claim", "Encounter", "Appointment", "ImagingStudy", "Remittance"]


def test_a_superclass_by_name_or_label(gql: Gql) -> None:
    assert kinds(events(gql, "ClinicalEvent")) == ["Encounter", "ImagingStudy"]
    assert kinds(events(gql, "clinical event")) == ["Encounter", "ImagingStudy"]
    assert kinds(events(gql, "FinancialEvent")) == ["Claim", "Remittance"]
    assert kinds(events(gql, "Scheduling event")) == ["Appointment"]
    assert kinds(events(gql, "Encounter")) == ["Encounter"]


def test_events_in_a_window(gql: Gql) -> None:
    spring = events(
        gql, "Event", ADA, **{"from": "2024-03-01T00:00:00Z", "to": "2024-04-01T00:00:00Z"}
    )
    assert [(e["node"]["kind"], e["node"]["time"][:10]) for e in spring["edges"]] == [
        ("Claim", "2024-03-05"),
        ("Encounter", "2024-03-05"),
        ("Remittance", "2024-03-15"),
    ]
    assert spring["totalCount"] == 3
    clinical = events(gql, "ClinicalEvent", ADA, **{"from": "2024-05-01T00:00:00Z"})
    assert [e["node"].get("description") for e in clinical["edges"]] == [
        "Chest pain", None, "Follow-up",
    ]  # fmt: skip


def test_an_unknown_kind_lists_the_event_classes(gql: Gql) -> None:
    (error,) = gql(EVENTS, {"id": JANE, "kind": "Patient"}).errors
    assert error["extensions"]["code"] == "BAD_ARGUMENT"
    assert "ClinicalEvent" in error["message"] and "FinancialEvent" in error["message"]


EXTRA = """
@prefix cg: <https://w3id.org/caregraph/ontology#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
cg:Referral a owl:Class ; rdfs:subClassOf cg:ClinicalEvent ; rdfs:label "Referral"@en ;
    rdfs:comment "A referral to another clinician."@en ; cg:domain "clinical" .
cg:hasReferral a owl:ObjectProperty ; rdfs:label "has referral"@en ;
    rdfs:domain cg:Patient ; rdfs:range cg:Referral ; cg:graphName "HAS_REFERRAL" .
"""


@pytest.fixture
def referral(
    dataset: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """An ontology with a new event class, and one such event in the graph (removed after)."""
    extra = tmp_path / "referral.ttl"
    extra.write_text(EXTRA)
    onto = load_ontology([*shipped_files(), extra])
    monkeypatch.setattr(paths, "ontology", lambda: onto)
    db = neo4j_conn.database
    dataset.execute_query(
        "MATCH (p:Patient {key: $p}) "
        "CREATE (p)-[:HAS_REFERRAL {sources: []}]->(:Entity:Event:ClinicalEvent:Referral "
        "{key: 'test|referral-1', start: datetime('2024-05-02T08:00:00Z'), status: 'active', "
        "display: 'referral to cardiology'})",
        p=JANE,
        database_=db,
    )
    try:
        yield
    finally:
        dataset.execute_query(
            "MATCH (r:Referral {key: 'test|referral-1'}) DETACH DELETE r", database_=db
        )


def test_a_class_the_ontology_adds_later_is_found_without_code(gql: Gql, referral: None) -> None:
    clinical = events(gql, "ClinicalEvent")
    assert kinds(clinical) == ["Encounter", "ImagingStudy", "GenericEvent"]
    added = clinical["edges"][-1]["node"]
    assert added["kind"] == "Referral" and added["time"] == "2024-05-02T08:00:00+00:00"
    assert added["properties"] == {
        "display": "referral to cardiology",
        "start": "2024-05-02T08:00:00+00:00",
        "status": "active",
    }
    assert kinds(events(gql, "Referral")) == ["GenericEvent"]
