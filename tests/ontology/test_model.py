"""The shipped ontology read into the model: every vocabulary term declared, hierarchy, names."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import OWL, RDF, Graph, URIRef
from rdflib.compare import isomorphic

from caregraph.ontology.errors import InvalidOntologyError, OntologyParseError
from caregraph.ontology.model import NAME, load_ontology, shipped_files
from caregraph.ontology.vocab import CG, NS, graph_name

VOCAB = {URIRef(NS + name) for name in CG.__annotations__}
ANNOTATIONS = {
    CG.graphName, CG.domain, CG.caption, CG.multiValued,
    CG.dicomTag, CG.x12, CG.hl7v2, CG.bindsTerminology, CG.alias,
}  # fmt: skip


@pytest.fixture(scope="module")
def graph() -> Graph:
    return load_ontology().graph


def test_every_vocab_term_is_declared_in_the_turtle(graph: Graph) -> None:
    declared = {
        s
        for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty)
        for s in graph.subjects(RDF.type, kind)
    }
    assert sorted(VOCAB - declared) == []


def test_every_cg_term_in_the_turtle_is_in_vocab(graph: Graph) -> None:
    used = {t for triple in graph for t in triple if isinstance(t, URIRef) and t.startswith(NS)}
    assert sorted(used - VOCAB) == []


def test_kinds_of_terms_match_vocab_sections() -> None:
    onto = load_ontology()
    assert CG.Patient in onto.classes and CG.LoadRun in onto.classes
    assert CG.hasEncounter in onto.object_properties
    assert CG.birthDate in onto.datatype_properties
    assert set(onto.classes) | set(onto.object_properties) | set(onto.datatype_properties) == (
        VOCAB - ANNOTATIONS
    )


def test_labels_for_is_most_specific_first() -> None:
    onto = load_ontology()
    assert onto.labels_for(CG.Patient) == ("Patient", "Person", "Agent", "Entity")
    assert onto.labels_for(CG.Payer) == ("Payer", "Organization", "Agent", "Entity")
    assert onto.labels_for(CG.Encounter) == ("Encounter", "ClinicalEvent", "Event", "Entity")
    assert onto.labels_for(CG.Remittance) == ("Remittance", "FinancialEvent", "Event", "Entity")
    assert onto.labels_for(CG.ImagingSeries) == ("ImagingSeries", "Entity")
    assert onto.labels_for(CG.Identifier) == ("Identifier",)
    with pytest.raises(KeyError, match="hasEncounter"):
        onto.labels_for(CG.hasEncounter)


def test_subclasses_are_transitive_and_include_the_class() -> None:
    onto = load_ontology()
    assert onto.subclasses(CG.ClinicalEvent) == {
        CG.ClinicalEvent, CG.Encounter, CG.ImagingStudy, CG.ServiceRequest, CG.Condition,
        CG.Procedure,
    }  # fmt: skip
    assert onto.subclasses(CG.Agent) == {
        CG.Agent, CG.Person, CG.Patient, CG.Practitioner, CG.Organization, CG.Payer,
    }  # fmt: skip
    assert onto.subclasses(CG.SchedulingEvent) == {CG.SchedulingEvent, CG.Appointment, CG.Slot}
    assert onto.subclasses(CG.Patient) == {CG.Patient}
    assert CG.Identifier not in onto.subclasses(CG.Entity)
    # a coded meaning is not something a source records: no Entity label, its own key
    assert onto.labels_for(CG.Concept) == ("Concept",)
    assert onto.labels_for(CG.CodeSystem) == ("CodeSystem",)


def test_relationship_types_are_the_vocab_graph_names() -> None:
    onto = load_ontology()
    assert onto.relationship_type(CG.hasEncounter) == "HAS_ENCOUNTER"
    assert onto.relationship_type(CG.subClassOf) == "SUBCLASS_OF"
    for prop in onto.object_properties:
        assert onto.relationship_type(prop) == graph_name(prop)
        assert NAME.match(onto.relationship_type(prop))
    with pytest.raises(KeyError, match="birthDate"):
        onto.relationship_type(CG.birthDate)


def test_datatypes_are_xsd_local_names() -> None:
    onto = load_ontology()
    assert onto.datatype(CG.birthDate) == "date"
    assert onto.datatype(CG.start) == "dateTime"
    assert onto.datatype(CG.paymentAmount) == "decimal"
    assert onto.datatype(CG.numberOfSeries) == "integer"
    assert onto.datatype(CG.stub) == "boolean"
    assert onto.datatype(CG.familyName) == "string"
    assert onto.datatype(CG.hasEncounter) is None
    assert {onto.datatype(p) for p in onto.datatype_properties} <= {
        "string", "date", "dateTime", "decimal", "integer", "boolean",
    }  # fmt: skip
    multi = {p for p, d in onto.datatype_properties.items() if d.multi_valued}
    assert {CG.givenNames, CG.modality, CG.diagnosisCodes, CG.adjustments} <= multi


def test_every_term_has_a_label_and_a_definition() -> None:
    onto = load_ontology()
    for term in (*onto.classes.values(), *onto.object_properties.values(),
                 *onto.datatype_properties.values()):  # fmt: skip
        assert term.label, term.iri
        assert len(term.comment) > 20, term.iri


def test_classes_carry_domain_caption_keys_and_alignments() -> None:
    onto = load_ontology()
    patient = onto.classes[CG.Patient]
    assert patient.domain == "directory"
    assert patient.caption == CG.display
    assert patient.keys == (CG.key,)
    assert ("exactMatch", "http://hl7.org/fhir/Patient") in {
        (a.kind, a.target) for a in patient.alignments
    }
    study = onto.classes[CG.ImagingStudy]
    assert study.domain == "imaging"
    assert ("dicomTag", "(0020,000D) StudyInstanceUID") in {
        (a.kind, a.target) for a in study.alignments
    }
    assert onto.classes[CG.LoadRun].keys == (CG.runId,)
    assert {c.domain for c in onto.classes.values()} == {
        "directory", "clinical", "imaging", "scheduling", "financial", "provenance", "terminology",
    }  # fmt: skip
    birth = onto.datatype_properties[CG.birthDate]
    assert ("hl7v2", "PID-7") in {(a.kind, a.target) for a in birth.alignments}
    assert ("exactMatch", "http://hl7.org/fhir/Patient.birthDate") in {
        (a.kind, a.target) for a in birth.alignments
    }
    dx = onto.datatype_properties[CG.diagnosisCodes]
    assert dx.terminologies == (URIRef("http://hl7.org/fhir/sid/icd-10-cm"),)


def test_union_domains_are_flattened() -> None:
    onto = load_ontology()
    assert onto.object_properties[CG.forEncounter].domain == tuple(
        sorted(
            (CG.Claim, CG.ImagingStudy, CG.Appointment, CG.ServiceRequest, CG.Condition,
             CG.Procedure)
        )
    )  # fmt: skip
    assert onto.object_properties[CG.hasProvider].range == (CG.Organization, CG.Practitioner)


def test_conditions_procedures_and_their_codes() -> None:
    onto = load_ontology()
    assert onto.labels_for(CG.Condition) == ("Condition", "ClinicalEvent", "Event", "Entity")
    assert onto.labels_for(CG.Procedure) == ("Procedure", "ClinicalEvent", "Event", "Entity")
    for cls, fhir in ((CG.Condition, "Condition"), (CG.Procedure, "Procedure")):
        assert onto.classes[cls].keys == (CG.key,)
        assert ("exactMatch", f"http://hl7.org/fhir/{fhir}") in {
            (a.kind, a.target) for a in onto.classes[cls].alignments
        }
    assert onto.classes[CG.Concept].keys == (CG.key,)
    assert onto.relationship_type(CG.hasCode) == "HAS_CODE"
    assert onto.object_properties[CG.hasCode].range == (CG.Concept,)
    assert onto.object_properties[CG.hasReason].domain == (CG.Encounter, CG.Procedure)
    assert onto.relationship_type(CG.broader) == "BROADER"
    assert onto.object_properties[CG.broader].domain == (CG.Concept,)
    assert onto.object_properties[CG.hasDiagnosis].range == (CG.Condition, CG.Procedure)
    assert onto.datatype(CG.onset) == "dateTime"
    assert onto.datatype(CG.rank) == "integer"


def test_claims_and_remittances_point_their_codes_at_concepts() -> None:
    onto = load_ontology()
    props = onto.object_properties
    assert onto.relationship_type(CG.billsDiagnosis) == "BILLS_DIAGNOSIS"
    assert set(props[CG.billsDiagnosis].domain) == {CG.Claim, CG.ClaimItem}
    assert set(props[CG.hasCode].domain) == {CG.Condition, CG.Procedure, CG.ClaimItem}
    assert onto.relationship_type(CG.adjustedFor) == "ADJUSTED_FOR"
    assert onto.relationship_type(CG.hasRemark) == "HAS_REMARK"
    for rel in (CG.billsDiagnosis, CG.adjustedFor, CG.hasRemark):
        assert props[rel].range == (CG.Concept,)
    assert props[CG.adjustedFor].domain == props[CG.hasRemark].domain == (CG.Remittance,)
    assert onto.datatype(CG.amount) == "decimal"
    assert onto.datatype(CG.group) == "string"


def test_code_systems_are_individuals_aligned_to_their_canonical_uris() -> None:
    onto = load_ontology()
    canonical = {name: cs.uri for name, cs in onto.code_systems.items()}
    assert canonical["icd10cm"] == "http://hl7.org/fhir/sid/icd-10-cm"
    assert canonical["icd10pcs"] == "http://www.cms.gov/Medicare/Coding/ICD10"
    assert canonical["hcpcs"] == "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    assert canonical["cpt"] == "http://www.ama-assn.org/go/cpt"
    assert canonical["loinc"] == "http://loinc.org"
    assert canonical["snomedct"] == "http://snomed.info/sct"
    assert canonical["carc"] == "https://x12.org/codes/claim-adjustment-reason-codes"
    assert canonical["rarc"] == "https://x12.org/codes/remittance-advice-remark-codes"
    assert canonical["icd9cm"] == "http://hl7.org/fhir/sid/icd-9-cm"
    assert canonical["dicom-dcm"] == "http://dicom.nema.org/resources/ontology/DCM"
    assert canonical["v2-0203"] == "http://terminology.hl7.org/CodeSystem/v2-0203"
    # a source's spelling (an OID, an HL7 v2 mnemonic, Synthea's name, any case) is the system
    for spelling, name in (
        ("urn:oid:2.16.840.1.113883.6.90", "icd10cm"),
        ("I10", "icd10cm"),
        ("snomed-ct", "snomedct"),
        (" http://loinc.org ", "loinc"),
        ("HCPCS", "hcpcs"),
        ("urn:oid:2.16.840.1.113883.6.103", "icd9cm"),
        ("ICD-9-CM", "icd9cm"),
    ):
        found = onto.code_system(spelling)
        assert found is not None and found.name == name, spelling
    assert onto.code_system("http://example.org/local-codes") is None
    # every coded property's bound terminology that is a code system is one the ontology knows
    bound = {str(t) for p in onto.datatype_properties.values() for t in p.terminologies}
    assert {"http://hl7.org/fhir/sid/icd-10-cm", "http://snomed.info/sct"} <= bound
    assert {cs.uri for cs in onto.code_systems.values()} >= {
        t for t in bound if onto.code_system(t) is not None
    }


def test_a_code_system_without_one_canonical_uri_is_refused(tmp_path: Path) -> None:
    extra = tmp_path / "extra.ttl"
    extra.write_text(
        "@prefix cg: <https://w3id.org/caregraph/ontology#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "<https://w3id.org/caregraph/codesystem#odd> a owl:NamedIndividual, cg:CodeSystem .\n"
    )
    with pytest.raises(InvalidOntologyError, match="canonical URI"):
        load_ontology([*shipped_files(), extra])


def test_round_trip_through_rdflib_is_isomorphic() -> None:
    for path in shipped_files():
        original = Graph().parse(path, format="turtle")
        again = Graph().parse(data=original.serialize(format="turtle"), format="turtle")
        assert isomorphic(original, again), path
        assert len(again) == len(original)


def test_version_and_cache() -> None:
    onto = load_ontology()
    assert onto.version == "0.1.0"
    assert load_ontology() is onto
    assert len(onto.content_hash) == 64
    with pytest.raises(AttributeError, match="immutable"):
        onto.version = "9"


def test_a_label_that_is_not_a_plain_name_fails_loudly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix cg: <https://w3id.org/caregraph/ontology#> .\n"
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "cg:Fine a owl:Class .\n"
        'cg:rel a owl:ObjectProperty ; cg:graphName "HAS`) DETACH DELETE (n" .\n'
    )
    with pytest.raises(InvalidOntologyError, match="rel"):
        load_ontology([bad])


def test_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.ttl"
    bad.write_text("@prefix cg: <https://w3id.org/caregraph/ontology#> .\n\ncg:A cg:b .\n")
    with pytest.raises(OntologyParseError) as info:
        load_ontology([bad])
    assert info.value.line == 3
    assert str(bad) in str(info.value)
