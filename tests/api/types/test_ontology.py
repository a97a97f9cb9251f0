"""ontology: what the graph means, for an agent: classes, properties, alignments."""

from __future__ import annotations

from tests.api.conftest import Gql


def nodes(connection: dict) -> list[dict]:
    return [e["node"] for e in connection["edges"]]


def test_a_class_with_its_hierarchy_domain_keys_and_alignments(gql: Gql) -> None:
    c = gql(
        """{ ontology { class(name: "Patient") { iri name label comment domain parents
             superclasses subclasses keys alignments { kind target } properties } } }"""
    ).data["ontology"]["class"]
    assert c["iri"] == "https://w3id.org/caregraph/ontology#Patient"
    assert (c["name"], c["label"], c["domain"]) == ("Patient", "Patient", "directory")
    assert c["comment"].startswith("A person who receives")
    assert c["parents"] == ["Person"] and c["superclasses"] == ["Person", "Agent", "Entity"]
    assert c["subclasses"] == [] and c["keys"] == ["key"]
    assert {"kind": "exactMatch", "target": "http://hl7.org/fhir/Patient"} in c["alignments"]
    assert {"kind": "hl7v2", "target": "PID"} in c["alignments"]
    assert {"birthDate", "familyName", "hasEncounter", "hasClaim"} <= set(c["properties"])


def test_a_superclass_by_label_lists_its_subclasses(gql: Gql) -> None:
    c = gql(
        """{ ontology { class(name: "clinical event") { name direct: subclasses
             all: subclasses(transitive: true) } } }"""
    ).data["ontology"]["class"]
    assert c["name"] == "ClinicalEvent"
    clinical = ["Condition", "Encounter", "ImagingStudy", "Procedure", "ServiceRequest"]
    assert c["direct"] == clinical
    assert c["all"] == clinical
    event = gql('{ ontology { class(name: "Event") { subclasses(transitive: true) } } }').data
    assert {"ClinicalEvent", "Encounter", "Claim", "Remittance", "Appointment"} <= set(
        event["ontology"]["class"]["subclasses"]
    )


def test_classes_filtered_by_domain(gql: Gql) -> None:
    financial = gql(
        '{ ontology { classes(domain: "financial", first: 50) { edges { node { name } } } } }'
    ).data["ontology"]["classes"]
    assert [n["name"] for n in nodes(financial)] == [
        "Claim", "ClaimItem", "Coverage", "FinancialEvent", "Payer", "Remittance",
    ]  # fmt: skip


def test_properties_relationships_and_datatypes(gql: Gql) -> None:
    data = gql(
        """{ ontology {
             rels: properties(kind: "object", first: 100) { totalCount edges { node {
               name relationshipType domain range } } }
             attrs: properties(kind: "datatype", first: 100) { edges { node {
               name range multiValued alignments { kind target } terminologies } } } } }"""
    ).data["ontology"]
    rels = {n["name"]: n for n in nodes(data["rels"])}
    assert rels["hasEncounter"] == {
        "name": "hasEncounter",
        "relationshipType": "HAS_ENCOUNTER",
        "domain": ["Patient"],
        "range": ["Encounter"],
    }
    assert rels["forEncounter"]["domain"] == [
        "Appointment", "Claim", "Condition", "ImagingStudy", "Procedure", "ServiceRequest",
    ]  # fmt: skip
    attrs = {n["name"]: n for n in nodes(data["attrs"])}
    assert attrs["birthDate"]["range"] == ["date"]
    assert attrs["givenNames"]["multiValued"] is True
    assert {"kind": "dicomTag", "target": "(0020,000D) StudyInstanceUID"} in attrs[
        "studyInstanceUid"
    ]["alignments"]


def test_alignments_of_every_term(gql: Gql) -> None:
    dicom = gql(
        '{ ontology { alignments(kind: "dicomTag", first: 100) { totalCount edges { node { '
        "term kind target } } } } }"
    ).data["ontology"]["alignments"]
    found = {(n["term"], n["target"]) for n in nodes(dicom)}
    assert ("studyInstanceUid", "(0020,000D) StudyInstanceUID") in found
    assert dicom["totalCount"] == len(found)


def test_version_and_whether_the_graph_holds_the_same_ontology(gql: Gql) -> None:
    onto = gql("{ ontology { version iri appliedVersion inSync } }").data["ontology"]
    assert onto == {
        "version": "0.1.0",
        "iri": "https://w3id.org/caregraph/ontology",
        "appliedVersion": "0.1.0",
        "inSync": True,
    }
