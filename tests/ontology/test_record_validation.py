"""Records checked against the shapes: what a user of `caregraph load` would see rejected."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from pyshacl import validate as shacl_validate
from rdflib import RDF, Graph, Literal, URIRef
from rdflib import namespace as rns  # XSD at module level upsets pytest's collection

from caregraph.loaders.records import Identifier, Link, Node, Record, Ref, SourceRef
from caregraph.ontology.errors import InvalidOntologyError
from caregraph.ontology.model import Ontology, load_ontology
from caregraph.ontology.record_validation import RecordValidator, shapes_path
from caregraph.ontology.vocab import CG

WHERE = SourceRef("ehr", "visits.ndjson", "line 7", "Encounter/e1")
MRN = Identifier("urn:mrn", "MRN-SECRET-123", "MR")


@pytest.fixture(scope="module")
def onto() -> Ontology:
    return load_ontology()


@pytest.fixture(scope="module")
def validator(onto: Ontology) -> RecordValidator:
    return RecordValidator(onto)


def patient(**props: object) -> Node:
    base: dict[URIRef, object] = {CG.familyName: "Lovelace", CG.birthDate: "1815-12-10"}
    base.update({getattr(CG, k): v for k, v in props.items()})
    return Node(CG.Patient, MRN.token, base, (MRN,))  # type: ignore[arg-type]


def encounter_record(*, start: object = "2024-03-01T09:30:00-05:00", linked: bool = True) -> Record:
    p = patient()
    e = Node(CG.Encounter, "urn:visit|V1", {CG.start: start} if start is not None else {})  # type: ignore[dict-item]
    links = [Link(CG.hasEncounter, p.ref, e.ref)] if linked else []
    return Record(WHERE, "fhir", "Encounter", [p, e], links)


def claim_record(items: int = 1, control: str | None = "CLM-1") -> Record:
    props = {CG.controlNumber: control} if control else {}
    claim = Node(CG.Claim, "urn:sub|CLM-1", props, ())  # type: ignore[arg-type]
    nodes = [claim]
    links = [Link(CG.hasClaim, Ref(CG.Patient, MRN.token), claim.ref)]
    for seq in range(1, items + 1):
        item = Node(CG.ClaimItem, f"urn:sub|CLM-1#{seq}", {CG.sequence: seq, CG.chargeAmount: 10.0})
        nodes.append(item)
        links.append(Link(CG.hasItem, claim.ref, item.ref))
    return Record(SourceRef("x12", "claims.837", "claim 2"), "x12", "837P claim", nodes, links)


def test_a_well_formed_encounter_passes(validator: RecordValidator) -> None:
    assert validator.problems(encounter_record()) == []


def test_an_encounter_without_start_or_patient_is_written_with_warnings(
    validator: RecordValidator,
) -> None:
    # FHIR R4 Encounter.period and Encounter.subject are 0..1; HL7 v2 PV1-44 is optional
    rec = encounter_record(start=None, linked=False)
    assert validator.problems(rec) == []
    found = validator.findings(rec)
    assert {(f.severity, f.kind) for f in found} == {("Warning", "incomplete")}
    warnings = validator.warnings(rec)
    assert "line 7: Encounter: start is absent (at least 1)" in warnings
    assert any("subject (incoming hasEncounter) is missing" in w for w in warnings)


def test_an_encounter_of_two_patients_is_a_violation(validator: RecordValidator) -> None:
    rec = encounter_record()
    other = Node(CG.Patient, "urn:mrn|other", {}, (Identifier("urn:mrn", "other"),))
    rec.nodes.append(other)
    rec.links.append(Link(CG.hasEncounter, other.ref, rec.nodes[1].ref))
    problems = validator.problems(rec)
    assert any("subject (incoming hasEncounter) has 2 values, at most 1" in p for p in problems)


def test_dates_must_parse_and_messages_never_echo_values(validator: RecordValidator) -> None:
    rec = encounter_record(start="2024-02-30T25:00:00")
    rec.nodes[0].props[CG.birthDate] = "10/12/1815"
    problems = validator.problems(rec)
    assert "line 7: Encounter: start is not an xsd:dateTime" in problems
    assert "line 7: Patient: birthDate is not an xsd:date" in problems
    text = " ".join(problems)
    for value in ("2024-02-30", "10/12/1815", "Lovelace", "MRN-SECRET-123"):
        assert value not in text


def test_partial_dates_and_date_only_starts_are_accepted(validator: RecordValidator) -> None:
    rec = encounter_record(start="2024-03-01")
    rec.nodes[0].props[CG.birthDate] = "1815-12"
    assert validator.problems(rec) == []


def test_unknown_terms_are_named(validator: RecordValidator) -> None:
    rec = encounter_record()
    rec.nodes[0].props[URIRef(CG._NS + "shoeSize")] = 42
    rec.links.append(Link(URIRef(CG._NS + "likes"), rec.nodes[0].ref, rec.nodes[1].ref))
    problems = validator.problems(rec)
    assert "line 7: Patient: cg:shoeSize is not a datatype property" in problems
    assert "line 7: link 2: cg:likes is not a relationship" in problems


def test_a_claim_needs_a_control_number_and_may_lack_items(validator: RecordValidator) -> None:
    assert validator.problems(claim_record()) == []
    rec = claim_record(items=0, control=None)
    problems = validator.problems(rec)
    assert problems == ["claim 2: Claim: controlNumber is required (at least 1)"]
    # FHIR R4 Claim.item is 0..*: a claim without lines is written with a warning
    assert any(
        w.startswith("claim 2: Claim: item (hasItem) is missing") for w in validator.warnings(rec)
    )


def test_values_must_fit_their_datatype(validator: RecordValidator) -> None:
    rec = claim_record()
    rec.nodes[1].props[CG.sequence] = "one"
    rec.nodes[1].props[CG.chargeAmount] = True
    problems = validator.problems(rec)
    assert "claim 2: ClaimItem: sequence is not an xsd:integer" in problems
    assert "claim 2: ClaimItem: chargeAmount is not an xsd:decimal" in problems


def test_patient_needs_an_identifier_and_a_fhir_gender(validator: RecordValidator) -> None:
    p = Node(CG.Patient, "urn:x|1", {CG.gender: "M"}, ())
    problems = validator.problems(Record(WHERE, "hl7v2", "ADT^A01", [p]))
    assert any("Patient: identifier" in x and "missing" in x for x in problems)
    assert any("Patient: gender is not one of male, female, other, unknown" in x for x in problems)


def test_study_without_uid_is_a_warning_not_a_rejection(validator: RecordValidator) -> None:
    study = Node(CG.ImagingStudy, "urn:synthea:ImagingStudy|s1", {CG.start: "2020-01-01"})
    rec = Record(WHERE, "synthea-csv", "imaging study", [study],
                 [Link(CG.hasImagingStudy, Ref(CG.Patient, "urn:x|1"), study.ref)])  # fmt: skip
    assert validator.problems(rec) == []
    assert any("studyInstanceUid is absent" in w for w in validator.warnings(rec))


def test_a_remittance_without_amount_or_claim_is_written_with_warnings(
    validator: RecordValidator,
) -> None:
    # FHIR R4 ClaimResponse.payment and .request are 0..1
    rem = Node(CG.Remittance, "urn:payer|R1", {CG.paymentDate: "2024-04-01"})
    rec = Record(WHERE, "x12", "835", [rem], [Link(CG.remits, rem.ref, Ref(CG.Claim, "urn:c|1"))])
    assert validator.problems(rec) == []
    assert validator.warnings(rec) == ["line 7: Remittance: paymentAmount is absent (at least 1)"]
    unmatched = Record(WHERE, "fhir", "ClaimResponse", [rem], [])
    assert validator.problems(unmatched) == []
    assert any("claim (remits) is missing" in w for w in validator.warnings(unmatched))


def test_shapes_naming_unknown_terms_are_refused(onto: Ontology, tmp_path: Path) -> None:
    bad = tmp_path / "shapes.ttl"
    bad.write_text(
        shapes_path().read_text() + "\ncgsh:X a sh:NodeShape ; sh:targetClass cg:Patient ;\n"
        "    sh:property [ sh:path cg:shoeSize ; sh:minCount 1 ] .\n"
    )
    with pytest.raises(InvalidOntologyError, match="cg:shoeSize"):
        RecordValidator(onto, bad)


# -- pyshacl agrees with the compiled checks ---------------------------------------------------


def to_rdf(rec: Record, onto: Ontology) -> Graph:
    """A record as RDF: nodes and refs as individuals typed with their class and superclasses."""
    g = Graph()

    def iri(key: str) -> URIRef:
        return URIRef("urn:node:" + key.replace(" ", "_").replace("|", "/"))

    def typed(subject: URIRef, cls: URIRef) -> None:
        for c in onto.superclasses(cls):
            g.add((subject, RDF.type, c))

    for ref in [x for link in rec.links for x in (link.src, link.dst)]:
        typed(iri(ref.key), ref.cls)
    for node in rec.nodes:
        typed(iri(node.key), node.cls)
        for prop, value in node.props.items():
            kind = onto.datatype(prop) or "string"
            for v in value if isinstance(value, list) else [value]:
                g.add((iri(node.key), prop, Literal(str(v), datatype=rns.XSD[kind])))
        for ident in node.identifiers:
            typed(iri(ident.token), CG.Identifier)
            g.add((iri(ident.token), CG.identifies, iri(node.key)))
    for link in rec.links:
        g.add((iri(link.src.key), link.rel, iri(link.dst.key)))
    return g


SAMPLES = {
    "good encounter": lambda: encounter_record(),
    "encounter without start or patient": lambda: encounter_record(start=None, linked=False),
    "encounter with a bad start": lambda: encounter_record(start="2024-13-01T00:00:00"),
    "good claim": lambda: claim_record(),
    "claim without items or control number": lambda: claim_record(items=0, control=None),
    "patient without identifier, with a v2 gender": lambda: Record(
        WHERE, "hl7v2", "ADT^A01", [Node(CG.Patient, "urn:x|1", {CG.gender: "M"}, ())]
    ),
    "study without uid (a warning only)": lambda: Record(
        WHERE,
        "synthea-csv",
        "imaging study",
        [Node(CG.ImagingStudy, "urn:s|1", {CG.numberOfSeries: 2})],
        [Link(CG.hasImagingStudy, Ref(CG.Patient, "urn:x|1"), Ref(CG.ImagingStudy, "urn:s|1"))],
    ),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_pyshacl_agrees(name: str, onto: Ontology, validator: RecordValidator) -> None:
    rec = SAMPLES[name]()
    data = to_rdf(rec, onto)
    _, results, _ = shacl_validate(data, shacl_graph=Graph().parse(shapes_path()))
    # the validator checks the individuals a record asserts; the ones it only refers to are
    # checked when their own record comes, so pyshacl's results on those are left out
    asserted = {URIRef("urn:node:" + n.key.replace("|", "/")) for n in rec.nodes}
    theirs = {
        (str(focus), str(path), str(component))
        for focus, path, component in _violations(results)
        if focus in asserted
    }
    ours = validator.problems(rec)
    assert len(theirs) == len(ours), (ours, theirs)
    # and about the same properties: each property pySHACL names is named by as many of ours
    # (a message names its property, or the relationship of an incoming link)
    named = Counter(re.split(r"[#/]", path)[-1] for _, path, _ in theirs)
    for prop, n in named.items():
        assert sum(1 for o in ours if re.search(rf"\b{prop}\b", o)) >= n, (prop, ours, theirs)


def _violations(results: Graph) -> list[tuple[object, object, object]]:
    sh = rns.SH
    out: list[tuple[object, object, object]] = []
    for r in results.subjects(RDF.type, sh.ValidationResult):
        if results.value(r, sh.resultSeverity) != sh.Violation:
            continue
        path = results.value(r, sh.resultPath)
        inverse = results.value(path, sh.inversePath) if path is not None else None
        component = results.value(r, sh.sourceConstraintComponent)
        out.append((results.value(r, sh.focusNode), inverse or path, component))
    return out
