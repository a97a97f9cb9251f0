"""FHIR R4: the project's own bundle and NDJSON, and facts from the shared samples.

Record-level tests read files with ``LOADER.read(path, "ehr")`` and check the Records a user
would expect from each resource; graph-level tests load through the real pipeline into the
session's Neo4j and check the same facts with Cypher.
"""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from rdflib import URIRef

from caregraph.loaders import keys, registry
from caregraph.loaders.fhir import LOADER
from caregraph.loaders.records import Item, Link, Node, Record, Ref, Skipped
from caregraph.ontology.vocab import CG, local_name
from tests.loaders.conftest import Load, count, fingerprint

DATA = Path(__file__).resolve().parents[1] / "data" / "fhir"
BUNDLE = DATA / "clinic-bundle.json"
NDJSON = DATA / "patients.ndjson"
MRN = "urn:oid:2.16.840.1.113883.3.4242.1"
VISIT = "urn:oid:2.16.840.1.113883.3.4242.2"
NPI = keys.NPI_SYSTEM
SYNTHEA = "https://github.com/synthetichealth/synthea"


def local(rtype: str, rid: str, source: str = "ehr") -> str:
    return keys.source_local(source, rtype, rid).token


def read(path: Path, source: str = "ehr") -> list[Item]:
    return list(LOADER.read(path, source))


def records(items: Iterable[Item]) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def by_id(items: Iterable[Item]) -> dict[str, Record]:
    return {r.ref.record_id or "": r for r in records(items)}


def node(rec: Record, cls: URIRef) -> Node:
    found = [n for n in rec.nodes if n.cls == cls]
    assert len(found) == 1, [n.cls for n in rec.nodes]
    return found[0]


def links(rec: Record, rel: URIRef) -> list[Link]:
    return [x for x in rec.links if x.rel == rel]


def ends(rec: Record, rel: URIRef) -> set[tuple[str, str, str | None]]:
    """(src key, dst key, role) of the record's links of one relationship."""
    out = set()
    for x in links(rec, rel):
        role = x.props.get(CG.role)
        out.add((x.src.key, x.dst.key, role if isinstance(role, str) else None))
    return out


def kinds(items: Iterable[Item]) -> Counter[str]:
    out: Counter[str] = Counter()
    for i in items:
        out[i.kind if isinstance(i, Record | Skipped) else "rejected"] += 1
    return out


# -- detection --------------------------------------------------------------------------------


def test_detects_fhir_json_and_ndjson_but_not_dicom_json_or_other_json(tmp_path: Path) -> None:
    assert LOADER.detect(BUNDLE, BUNDLE.read_bytes()[:65536])
    assert LOADER.detect(NDJSON, NDJSON.read_bytes())
    dicom = tmp_path / "study.json"
    dicom.write_text(json.dumps([{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}]))
    assert not LOADER.detect(dicom, dicom.read_bytes())
    other = tmp_path / "config.json"
    other.write_text('{"name": "not fhir", "items": [1, 2]}')
    assert not LOADER.detect(other, other.read_bytes())
    renamed = tmp_path / "export.txt"  # by content, not by name
    renamed.write_bytes(NDJSON.read_bytes())
    assert registry.detect(renamed) is LOADER
    assert registry.detect(BUNDLE) is LOADER


# -- the project's own bundle -----------------------------------------------------------------


def test_every_entry_of_the_bundle_is_one_item_in_order() -> None:
    items = read(BUNDLE)
    assert [i.ref.position for i in items] == [f"entry {n}" for n in range(1, 15)]
    assert all(i.ref.file == str(BUNDLE) for i in items)
    assert [type(i).__name__ for i in items] == ["Record"] * 13 + ["Skipped"]
    skipped = items[-1]
    assert isinstance(skipped, Skipped) and skipped.kind == "Observation"
    assert skipped.ref.record_id == "Observation/obs-1"
    assert kinds(items) == Counter(
        {
            "Patient": 1, "Practitioner": 1, "Organization": 2, "Location": 1, "Encounter": 1,
            "Schedule": 1, "Slot": 1, "Appointment": 1, "Coverage": 1, "Claim": 1,
            "ClaimResponse": 1, "ImagingStudy": 1, "Observation": 1,
        }
    )  # fmt: skip


def test_patient_keyed_by_its_mrn_with_its_official_name() -> None:
    rec = by_id(read(BUNDLE))["Patient/pat-1"]
    p = node(rec, CG.Patient)
    assert p.key == f"{MRN}|MRN-20417"
    assert [i.token for i in p.identifiers] == [
        f"{MRN}|MRN-20417",
        "http://hl7.org/fhir/sid/us-ssn|999-41-2041",
        local("Patient", "pat-1"),
    ]
    assert p.identifiers[0].type == "MR"
    assert p.props[CG.familyName] == "Lindqvist"  # the official name, not the old one
    assert p.props[CG.givenNames] == ["Ada", "Maria"]
    assert p.props[CG.display] == "Ada Maria Lindqvist"
    assert p.props[CG.birthDate] == "1962-03-14"
    assert p.props[CG.gender] == "female"
    assert p.props[CG.addressLine] == "12 Harbour Lane, Flat 3"
    assert (p.props[CG.city], p.props[CG.state], p.props[CG.postalCode]) == (
        "Portsmouth",
        "NH",
        "03801",
    )
    assert p.props[CG.phone] == "555-0141"  # the phone, not the e-mail
    assert CG.deceased not in p.props  # the source does not say


def test_practitioner_and_organizations_with_npi_and_the_payer() -> None:
    recs = by_id(read(BUNDLE))
    doc = node(recs["Practitioner/doc-1"], CG.Practitioner)
    assert doc.key == f"{NPI}|1234567893" and doc.props[CG.npi] == "1234567893"
    assert doc.identifiers[0].type == "NPI"
    assert doc.props[CG.display] == "Chidi Okafor"
    clinic = node(recs["Organization/org-clinic"], CG.Organization)
    assert clinic.key == f"{NPI}|1245319599" and clinic.props[CG.npi] == "1245319599"
    assert clinic.props[CG.name] == "Harbour Family Clinic"
    payer = node(recs["Organization/org-payer"], CG.Payer)  # type "pay"
    assert payer.key == "urn:oid:2.16.840.1.113883.6.300|60054"
    assert payer.props[CG.payerId] == "60054"
    assert payer.props[CG.name] == "Granite State Health Plan"
    loc = recs["Location/loc-1"]
    assert ends(loc, CG.managedBy) == {
        (node(loc, CG.Location).key, local("Organization", "org-clinic"), None)
    }


def test_encounter_with_its_patient_practitioners_organization_and_location() -> None:
    rec = by_id(read(BUNDLE))["Encounter/enc-1"]
    enc = node(rec, CG.Encounter)
    assert enc.key == f"{VISIT}|V-88301"
    assert enc.props == {
        CG.status: "finished",
        CG.encounterClass: "AMB",
        CG.encounterType: "http://snomed.info/sct|185349003",
        CG.start: "2024-05-02T09:00:00-04:00",
        CG.end: "2024-05-02T09:40:00-04:00",
        CG.reasonCode: "http://snomed.info/sct|38341003",
        CG.visitNumber: "V-88301",
        CG.display: "AMB 2024-05-02",
    }
    # subject by urn:uuid: the entry's Patient/pat-1
    assert ends(rec, CG.hasEncounter) == {(local("Patient", "pat-1"), enc.key, None)}
    assert ends(rec, CG.hasParticipant) == {
        (enc.key, f"{NPI}|1234567893", "attending"),  # conditional reference by NPI
        (enc.key, local("Practitioner", "doc-2"), "referring"),  # absolute URL, not in the bundle
    }
    assert ends(rec, CG.serviceProvider) == {(enc.key, local("Organization", "org-clinic"), None)}
    assert ends(rec, CG.atLocation) == {(enc.key, local("Location", "loc-1"), None)}
    assert ends(rec, CG.forEncounter) == {(local("Appointment", "appt-1"), enc.key, None)}
    participant = links(rec, CG.hasParticipant)[0]
    assert participant.dst.cls == CG.Practitioner


def test_appointment_schedule_and_slot() -> None:
    recs = by_id(read(BUNDLE))
    appt = recs["Appointment/appt-1"]
    a = node(appt, CG.Appointment)
    assert a.key == local("Appointment", "appt-1")
    assert a.props[CG.status] == "fulfilled"
    assert a.props[CG.start] == "2024-05-02T09:00:00-04:00"
    assert a.props[CG.minutesDuration] == 30
    assert a.props[CG.serviceType] == "http://terminology.hl7.org/CodeSystem/service-type|124"
    assert ends(appt, CG.hasAppointment) == {(local("Patient", "pat-1"), a.key, None)}
    assert ends(appt, CG.hasParticipant) == {
        (a.key, local("Practitioner", "doc-1"), "primary performer")
    }
    assert ends(appt, CG.atLocation) == {(a.key, local("Location", "loc-1"), None)}
    assert ends(appt, CG.bookedIn) == {(a.key, local("Slot", "slot-1"), None)}
    slot = recs["Slot/slot-1"]
    assert node(slot, CG.Slot).props[CG.end] == "2024-05-02T09:30:00-04:00"
    assert ends(slot, CG.inSchedule) == {
        (local("Slot", "slot-1"), local("Schedule", "sched-1"), None)
    }
    sched = recs["Schedule/sched-1"]
    assert {d for _, d, _ in ends(sched, CG.scheduleFor)} == {
        local("Practitioner", "doc-1"),
        local("Location", "loc-1"),
    }


def test_claim_with_items_encounter_providers_payer_and_coverage() -> None:
    rec = by_id(read(BUNDLE))["Claim/claim-1"]
    submitter = "urn:oid:2.16.840.1.113883.3.4242.7"
    claim = node(rec, CG.Claim)
    assert claim.key == keys.claim_key(submitter, "CLM-2024-0502")
    assert claim.props[CG.controlNumber] == "CLM-2024-0502"
    assert claim.props[CG.submitter] == submitter
    assert claim.props[CG.totalCharge] == 205.5 and claim.props[CG.currency] == "USD"
    assert claim.props[CG.claimType] == "professional"
    assert (claim.props[CG.serviceStart], claim.props[CG.serviceEnd]) == ("2024-05-02",) * 2
    assert claim.props[CG.diagnosisCodes] == ["http://hl7.org/fhir/sid/icd-10-cm|Z00.00"]
    assert local("Claim", "claim-1") in [i.token for i in claim.identifiers]

    items = sorted((n for n in rec.nodes if n.cls == CG.ClaimItem), key=lambda n: n.key)
    assert [i.key for i in items] == [keys.item_key(claim.key, 1), keys.item_key(claim.key, 2)]
    assert [(i.props[CG.procedureCode], i.props[CG.chargeAmount]) for i in items] == [
        ("http://www.ama-assn.org/go/cpt|99396", 180.0),
        ("http://www.ama-assn.org/go/cpt|36415", 25.5),  # unitPrice x quantity
    ]
    assert ends(rec, CG.hasItem) == {(claim.key, i.key, None) for i in items}
    assert ends(rec, CG.hasClaim) == {(local("Patient", "pat-1"), claim.key, None)}
    assert ends(rec, CG.forEncounter) == {(claim.key, local("Encounter", "enc-1"), None)}
    assert ends(rec, CG.hasProvider) == {
        (claim.key, local("Organization", "org-clinic"), "billing"),
        (claim.key, local("Practitioner", "doc-1"), "primary"),
        (items[0].key, local("Practitioner", "doc-1"), "primary"),  # careTeamSequence
    }
    (payer,) = links(rec, CG.hasPayer)
    assert payer.dst == Ref(CG.Payer, local("Organization", "org-payer"))
    assert ends(rec, CG.coveredBy) == {(claim.key, local("Coverage", "cov-1"), None)}


def coded(rec: Record, rel: URIRef, src_key: str) -> list[tuple[str, dict[str, object]]]:
    """(Concept key, link properties) of the record's ``rel`` links from ``src_key``."""
    return [
        (x.dst.key, {local_name(p): v for p, v in x.props.items()})
        for x in links(rec, rel)
        if x.src.key == src_key and x.dst.cls == CG.Concept
    ]


def test_claim_diagnoses_and_item_codes_are_concepts() -> None:
    rec = by_id(read(BUNDLE))["Claim/claim-1"]
    claim = node(rec, CG.Claim)
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    # diagnosis sequence 1, no type: a rank without a role
    assert coded(rec, CG.billsDiagnosis, claim.key) == [(f"{icd}|Z00.00", {"rank": 1})]
    first, second = (keys.item_key(claim.key, s) for s in (1, 2))
    assert coded(rec, CG.hasCode, first) == [("http://www.ama-assn.org/go/cpt|99396", {})]
    assert coded(rec, CG.hasCode, second) == [("http://www.ama-assn.org/go/cpt|36415", {})]
    assert coded(rec, CG.billsDiagnosis, first) == [(f"{icd}|Z00.00", {"rank": 1})]
    assert coded(rec, CG.billsDiagnosis, second) == []  # no diagnosisSequence


def test_claim_response_remits_its_claim() -> None:
    rec = by_id(read(BUNDLE))["ClaimResponse/cr-1"]
    rem = node(rec, CG.Remittance)
    assert rem.key == "urn:oid:2.16.840.1.113883.3.4242.8|ADJ-77120"
    assert rem.props[CG.paymentAmount] == 164.4
    assert rem.props[CG.totalCharge] == 205.5
    assert rem.props[CG.paymentDate] == "2024-05-21"
    assert rem.props[CG.adjustments] == ["submitted:205.50", "benefit:164.40"]
    assert ends(rec, CG.remits) == {(rem.key, local("Claim", "claim-1"), None)}
    (paid_by,) = links(rec, CG.paidBy)
    assert paid_by.dst.cls == CG.Payer and paid_by.dst.key == local("Organization", "org-payer")


def test_coverage_member_and_payer() -> None:
    rec = by_id(read(BUNDLE))["Coverage/cov-1"]
    cov = node(rec, CG.Coverage)
    # the member id keys the coverage in its own namespace: as a bare token it would also name
    # the member (a patient's identifier), and the identity step would merge the two
    assert cov.key == "urn:caregraph:coverage:urn:oid:2.16.840.1.113883.3.4242.9|GSH-55012"
    assert cov.props[CG.memberId] == "GSH-55012"
    assert cov.props[CG.subscriberId] == "GSH-55012-00"
    assert cov.props[CG.planName] == "Granite PPO Silver"
    assert cov.props[CG.relationship] == "self"
    assert ends(rec, CG.hasCoverage) == {(local("Patient", "pat-1"), cov.key, None)}
    (payer,) = links(rec, CG.hasPayer)
    assert payer.dst.cls == CG.Payer and payer.dst.key == local("Organization", "org-payer")


def test_imaging_study_keyed_by_uid_with_accession_series_and_order() -> None:
    rec = by_id(read(BUNDLE))["ImagingStudy/img-1"]
    study = node(rec, CG.ImagingStudy)
    assert study.key == keys.uid_key("2.25.4242001") == "urn:dicom:uid|2.25.4242001"
    assert study.props[CG.studyInstanceUid] == "2.25.4242001"
    assert study.props[CG.modality] == ["CR"]
    assert study.props[CG.start] == "2024-05-02T09:20:00-04:00"
    assert (study.props[CG.numberOfSeries], study.props[CG.numberOfInstances]) == (1, 2)
    assert study.props[CG.accessionNumber] == "ACC-3301"
    assert study.props[CG.accessionIssuer] == "Harbour RIS"
    # the accession is a property, not an identifier (it would merge the study with its order)
    assert [i.token for i in study.identifiers] == [study.key, local("ImagingStudy", "img-1")]
    series = node(rec, CG.ImagingSeries)
    assert series.key == keys.uid_key("2.25.4242001.1")
    assert series.props[CG.bodySite] == "http://snomed.info/sct|51185008"
    assert ends(rec, CG.hasSeries) == {(study.key, series.key, None)}
    assert ends(rec, CG.hasImagingStudy) == {(local("Patient", "pat-1"), study.key, None)}
    assert ends(rec, CG.forEncounter) == {(study.key, local("Encounter", "enc-1"), None)}
    assert ends(rec, CG.referredBy) == {(study.key, local("Practitioner", "doc-1"), None)}
    assert ends(rec, CG.basedOn) == {(study.key, local("ServiceRequest", "order-1"), None)}


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch", "searchset"])
def test_every_bundle_type_reads_the_same(kind: str, tmp_path: Path) -> None:
    bundle = json.loads(BUNDLE.read_text())
    bundle["type"] = kind
    if kind == "searchset":
        for e in bundle["entry"]:
            e.pop("request")
            e["search"] = {"mode": "match"}
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(bundle))
    mine, theirs = read(path), read(BUNDLE)
    assert kinds(mine) == kinds(theirs)
    assert [r.nodes for r in records(mine)] == [r.nodes for r in records(theirs)]


def test_entry_without_id_is_named_by_its_urn_uuid(tmp_path: Path) -> None:
    bundle = json.loads(BUNDLE.read_text())
    del bundle["entry"][0]["resource"]["id"]  # the Patient
    path = tmp_path / "no-id.json"
    path.write_text(json.dumps(bundle))
    recs = by_id(read(path))
    uuid = "4a1b0000-0000-4000-8000-000000000001"
    patient = node(recs[f"Patient/{uuid}"], CG.Patient)
    assert local("Patient", uuid) in [i.token for i in patient.identifiers]
    # the encounter's urn:uuid subject now names that id
    assert ends(recs["Encounter/enc-1"], CG.hasEncounter) == {
        (local("Patient", uuid), f"{VISIT}|V-88301", None)
    }


def test_absolute_fullurls_and_references(tmp_path: Path) -> None:
    base = "https://ehr.example.org/fhir"
    bundle = {
        "resourceType": "Bundle", "type": "searchset",
        "entry": [
            {"fullUrl": f"{base}/Patient/p9", "resource": {"resourceType": "Patient"}},
            {"fullUrl": f"{base}/Encounter/e9", "resource": {
                "resourceType": "Encounter", "status": "planned", "class": {"code": "AMB"},
                "subject": {"reference": f"{base}/Patient/p9/_history/3"},
                "period": {"start": "2024-01-02T08:00:00Z"}}},
        ],
    }  # fmt: skip
    path = tmp_path / "search.json"
    path.write_text(json.dumps(bundle))
    recs = by_id(read(path))
    assert set(recs) == {"Patient/p9", "Encounter/e9"}  # ids from the absolute fullUrls
    assert ends(recs["Encounter/e9"], CG.hasEncounter) == {
        (local("Patient", "p9"), local("Encounter", "e9"), None)
    }
    assert node(recs["Encounter/e9"], CG.Encounter).props[CG.start] == "2024-01-02T08:00:00Z"


def test_single_resource_file_and_logical_and_encoded_conditional_references(
    tmp_path: Path,
) -> None:
    role = {
        "resourceType": "PractitionerRole", "id": "role-1",
        "practitioner": {"identifier": {"system": "urn:oid:2.16.840.1.113883.4.6",
                                        "value": "1234567893"}},
        "organization": {"reference": f"Organization?identifier={NPI}%7C1245319599"},
        "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy",
                                   "code": "207Q00000X", "display": "Family Medicine"}]}],
    }  # fmt: skip
    path = tmp_path / "role.json"
    path.write_text(json.dumps(role))
    (item,) = read(path)
    assert isinstance(item, Record)
    assert (item.ref.position, item.ref.record_id) == ("file", "PractitionerRole/role-1")
    r = node(item, CG.PractitionerRole)
    assert r.props[CG.specialty] == "http://nucc.org/provider-taxonomy|207Q00000X"
    assert r.props[CG.display] == "Family Medicine"
    # the NPI's OID is the NPI system; %7C is the | of a token
    assert ends(item, CG.roleOf) == {(r.key, f"{NPI}|1234567893", None)}
    assert ends(item, CG.roleAt) == {(r.key, f"{NPI}|1245319599", None)}


def test_claim_response_of_another_servers_claim_is_written_with_a_warning(
    tmp_path: Path,
) -> None:
    # as FHIR R4's own ClaimResponse examples do: the claim is on the payer's server, by a URL
    # that names no FHIR R4 Type/id ("oralhealthclaim" is no resource type)
    claim_url = "http://www.BenefitsInc.com/fhir/oralhealthclaim/15476332402"
    response = {
        "resourceType": "ClaimResponse", "id": "R3500", "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                             "code": "oral"}]},
        "use": "claim", "patient": {"reference": "Patient/1"}, "created": "2014-08-16",
        "insurer": {"identifier": {"system": "http://www.jurisdiction.org/insurers",
                                   "value": "555123"}},
        "request": {"reference": claim_url},
        "outcome": "complete",
        "payment": {"type": {"coding": [{"code": "complete"}]}, "date": "2014-08-31",
                    "amount": {"value": 100.47, "currency": "USD"}},
    }  # fmt: skip
    path = tmp_path / "claimresponse-example.json"
    path.write_text(json.dumps(response))
    (item,) = read(path)
    assert isinstance(item, Record), getattr(item, "reason", "")
    rem = node(item, CG.Remittance)
    assert rem.props[CG.paymentAmount] == 100.47
    assert links(item, CG.remits) == []  # nothing here to link it to
    # ... but the reference is kept on the node, with the element it came from
    assert rem.props[CG.externalReference] == [f"ClaimResponse.request {claim_url}"]
    (warning,) = item.warnings
    assert warning.code == "unresolved-reference"
    assert warning.message.startswith("ClaimResponse.request.reference is an absolute URL")
    assert "15476332402" not in warning.message and "BenefitsInc" not in warning.message
    # a URL of another server that does end in Type/id is the resource of that type and id
    response["request"] = {"reference": "http://www.BenefitsInc.com/fhir/Claim/100150"}
    path.write_text(json.dumps(response))
    (item,) = read(path)
    assert isinstance(item, Record) and item.warnings == []
    assert ends(item, CG.remits) == {(rem.key, local("Claim", "100150"), None)}


def test_contained_resources_map_inline_when_modelled(tmp_path: Path) -> None:
    eob = {
        "resourceType": "ExplanationOfBenefit", "id": "eob-7", "status": "active",
        "identifier": [{"system": "urn:payer:claims", "value": "PCN-7"}],
        "contained": [
            {"resourceType": "Coverage", "id": "cov", "status": "active",
             "beneficiary": {"reference": "Patient/p7"}, "payor": [{"display": "Self pay"}]},
            {"resourceType": "ServiceRequest", "id": "ref", "status": "active",
             "intent": "order", "subject": {"reference": "Patient/p7"}},
        ],
        "type": {"coding": [{"code": "institutional"}]}, "use": "claim",
        "patient": {"reference": "Patient/p7"}, "created": "2024-02-01",
        "insurer": {"display": "Self pay"}, "provider": {"reference": "Organization/o7"},
        "referral": {"reference": "#ref"}, "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"reference": "#cov"}}],
        "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "99213"}]},
                  "encounter": [{"reference": "Encounter/e7"}]}],
        "payment": {"amount": {"value": 42.0, "currency": "USD"}},
    }  # fmt: skip
    path = tmp_path / "eob.json"
    path.write_text(json.dumps(eob))
    (rec,) = records(read(path))
    cov = node(rec, CG.Coverage)
    assert cov.key == local("Coverage", "ExplanationOfBenefit/eob-7#cov")
    assert ends(rec, CG.hasCoverage) == {(local("Patient", "p7"), cov.key, None)}
    claim = node(rec, CG.Claim)  # no Claim resource: the EOB asserts its claim
    assert claim.key == keys.claim_key("urn:payer:claims", "PCN-7")
    assert ends(rec, CG.coveredBy) == {(claim.key, cov.key, None)}
    assert ends(rec, CG.forEncounter) == {(claim.key, local("Encounter", "e7"), None)}
    assert node(rec, CG.Remittance).props[CG.paymentAmount] == 42.0
    assert not [n for n in rec.nodes if n.cls == CG.ServiceRequest]  # not modelled inline


def test_ndjson_one_record_per_line() -> None:
    items = read(NDJSON)
    assert [(i.ref.position, i.ref.record_id) for i in items] == [
        ("line 1", "Patient/p1"),
        ("line 2", "Patient/p2"),
        ("line 3", "Patient/p3"),
    ]
    assert [node(r, CG.Patient).props[CG.familyName] for r in records(items)] == [
        "Nakamura",
        "Oduya",
        "Petrov",
    ]


def test_ndjson_streams_in_flat_memory(tmp_path: Path) -> None:
    line = NDJSON.read_text().splitlines()[0]

    def peak_reading(lines: int) -> tuple[int, int]:
        path = tmp_path / f"Patient.{lines}.ndjson"
        with path.open("w") as fh:
            for n in range(lines):
                fh.write(line.replace('"p1"', f'"p{n}"').replace("MRN-30001", f"MRN-{n}") + "\n")
        tracemalloc.start()
        try:
            seen = sum(1 for item in LOADER.read(path, "ehr") if isinstance(item, Record))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert seen == lines
        return peak, path.stat().st_size

    read(NDJSON)  # the library's models are built on first use: not what is measured
    small, _ = peak_reading(1500)
    large, size = peak_reading(6000)
    assert large < small * 1.5, (small, large)  # four times the lines, not four times the memory
    assert large < size / 3, (large, size)


# -- the shared samples -----------------------------------------------------------------------


def fhir_samples(samples: Path) -> Path:
    return samples / "fhir"


def folder_kinds(folder: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for path in sorted(folder.iterdir()):
        out += kinds(read(path))
    return out


def test_sample_folders_counts_by_kind(samples: Path) -> None:
    fhir = fhir_samples(samples)
    synthea = folder_kinds(fhir / "synthea-r4-bundles")
    assert {k: v for k, v in synthea.items() if k[0].isupper()} == {
        "Patient": 2, "Practitioner": 2 + 1 + 102, "Organization": 2 + 1 + 102,
        "Encounter": 13, "Claim": 15, "ExplanationOfBenefit": 13, "ImagingStudy": 1,
        "Procedure": 9, "Condition": 5,
        # not modelled: skipped, and counted
        "Observation": 107, "Immunization": 7, "DiagnosticReport": 7, "MedicationRequest": 2,
    }  # fmt: skip
    assert "rejected" not in synthea
    bulk = folder_kinds(fhir / "bulk-ndjson-10pt")
    assert bulk == Counter(
        {"Encounter": 1215, "Location": 44, "Organization": 43, "Patient": 13,
         "Practitioner": 43, "PractitionerRole": 43}
    )  # fmt: skip
    carin = folder_kinds(fhir / "carin-bb")
    assert carin == Counter(
        {"ExplanationOfBenefit": 3, "Organization": 2, "Coverage": 1, "Patient": 1,
         "Practitioner": 1}
    )  # fmt: skip


CHET = "Chet_Thompson_eda17701-070d-4fae-9f7d-c8cd6263b63a.json"
CHET_PATIENT = "9e2f7a3b-94df-4b3d-bee2-360881649fa5"
STUDY_UID = "1.2.840.99999999.64756812.1559319190472"


def test_synthea_imaging_study_uid_and_modality(samples: Path) -> None:
    items = read(fhir_samples(samples) / "synthea-r4-bundles" / CHET)
    (rec,) = [r for r in records(items) if r.kind == "ImagingStudy"]
    assert rec.ref.record_id == "ImagingStudy/adf70108-2b60-4080-863e-86cfadc114f0"
    study = node(rec, CG.ImagingStudy)
    # Synthea writes the UID as urn:ietf:rfc:3986 with urn:oid:; the key is the bare UID
    assert study.key == f"urn:dicom:uid|{STUDY_UID}"
    assert study.props[CG.studyInstanceUid] == STUDY_UID
    assert study.props[CG.modality] == ["DX"]  # from its series (R4 has none on the study)
    assert study.props[CG.start] == "1954-11-04T10:10:39+00:00"
    series = node(rec, CG.ImagingSeries)
    assert series.props[CG.seriesInstanceUid] == "1.2.840.99999999.1.72767154.1559319190472"
    assert series.props[CG.bodySite] == "http://snomed.info/sct|344001"
    assert ends(rec, CG.hasImagingStudy) == {(local("Patient", CHET_PATIENT), study.key, None)}
    assert ends(rec, CG.forEncounter) == {
        (study.key, local("Encounter", "1face0fb-2ef0-47ae-ac8d-74253c2dc655"), None)
    }
    chet = by_id(items)[f"Patient/{CHET_PATIENT}"]
    assert node(chet, CG.Patient).props[CG.familyName] == "Thompson"
    assert local("Patient", CHET_PATIENT) in [i.token for i in node(chet, CG.Patient).identifiers]


def test_synthea_encounter_tokens_meet_practitioner_and_hospital_files(samples: Path) -> None:
    folder = fhir_samples(samples) / "synthea-r4-bundles"
    chet = by_id(read(folder / CHET))
    enc = chet["Encounter/1face0fb-2ef0-47ae-ac8d-74253c2dc655"]
    ((_, doc_token, _),) = ends(enc, CG.hasParticipant)
    ((_, org_token, _),) = ends(enc, CG.serviceProvider)
    doctors = {
        i.token: n for r in records(read(folder / "practitionerInformation1559319163815.json"))
        for n in r.nodes for i in n.identifiers
    }  # fmt: skip
    hospitals = {
        i.token: n for r in records(read(folder / "hospitalInformation1559319163815.json"))
        for n in r.nodes for i in n.identifiers
    }  # fmt: skip
    doctor = doctors[doc_token]
    assert doctor.key == f"{NPI}|80"  # Synthea 2019 writes short numbers under the NPI system
    assert CG.npi not in doctor.props  # not ten digits: no NPI property
    assert doctor.props[CG.familyName] == "Kub"
    hospital = hospitals[org_token]
    assert hospital.props[CG.name] == "CARNEY HOSPITAL"
    assert hospital.key == f"{SYNTHEA}|8b58cdd1-3d79-3126-8fe0-da2c54d6805c"


def test_synthea_eob_remits_its_claim_resource(samples: Path) -> None:
    items = by_id(read(fhir_samples(samples) / "synthea-r4-bundles" / CHET))
    rec = items["ExplanationOfBenefit/26c227ee-bf92-4493-9861-f0c6c5c9dea7"]
    rem = node(rec, CG.Remittance)
    assert rem.props[CG.paymentAmount] == 0.0 and rem.props[CG.totalCharge] == 125.0
    claim = local("Claim", "57b39dd3-860f-49ec-8737-ac956ef1f27a")
    assert ends(rec, CG.remits) == {(rem.key, claim, None)}
    assert f"Claim/{claim.rsplit('|', 1)[1]}" in items  # the Claim resource it names
    assert not [n for n in rec.nodes if n.cls == CG.Claim]  # that resource says what it is
    cov = node(rec, CG.Coverage)  # contained, mapped inline
    assert ends(rec, CG.coveredBy) == {(claim, cov.key, None)}
    assert ends(rec, CG.hasCoverage) == {(local("Patient", CHET_PATIENT), cov.key, None)}


def test_bulk_encounter_conditional_references_meet_their_records(samples: Path) -> None:
    bulk = fhir_samples(samples) / "bulk-ndjson-10pt"

    def tokens(name: str) -> dict[str, Node]:
        return {i.token: n for r in records(read(bulk / name)) for n in r.nodes
                for i in n.identifiers}  # fmt: skip

    encounters = records(read(bulk / "Encounter.000.ndjson"))
    first = encounters[0]
    assert (first.ref.position, first.ref.record_id) == (
        "line 1",
        "Encounter/00c7f717-4030-5582-2ed8-888ad2bc878e",
    )
    ((_, doc, role),) = ends(first, CG.hasParticipant)
    assert (doc, role) == (f"{NPI}|9999974493", "primary performer")
    practitioners, organizations = (
        tokens("Practitioner.000.ndjson"),
        tokens("Organization.000.ndjson"),
    )
    locations, patients = tokens("Location.000.ndjson"), tokens("Patient.000.ndjson")
    assert practitioners[doc].props[CG.npi] == "9999974493"
    ((_, org, _),) = ends(first, CG.serviceProvider)
    assert org == f"{SYNTHEA}|a261e1fc-9361-3633-a2c4-8569a04b818d"
    assert organizations[org].props[CG.name] == "NEWMAN MEMORIAL COUNTY HOSPITAL"
    ((_, loc, _),) = ends(first, CG.atLocation)
    assert locations[loc].props[CG.name] == "NEWMAN MEMORIAL COUNTY HOSPITAL"
    ((pat, _, _),) = ends(first, CG.hasEncounter)
    assert pat == local("Patient", "79a66c97-6131-3213-f3c9-4606946ab056") and pat in patients
    # every encounter's practitioner, organization, location and patient is in the export
    for rec in encounters:
        for rel, known in (
            (CG.hasParticipant, practitioners), (CG.serviceProvider, organizations),
            (CG.atLocation, locations),
        ):  # fmt: skip
            assert all(d in known for _, d, _ in ends(rec, rel)), rec.ref.where()
        assert all(s in patients for s, _, _ in ends(rec, CG.hasEncounter))


def test_bulk_patients(samples: Path) -> None:
    items = read(fhir_samples(samples) / "bulk-ndjson-10pt" / "Patient.000.ndjson")
    patients = [node(r, CG.Patient) for r in records(items)]
    # the "10 patient" export holds 13 Patient lines: 10 living and 3 who died
    assert len(patients) == 13
    assert sum(1 for p in patients if CG.deceased not in p.props) == 10
    assert all(p.identifiers[0].type == "MR" for p in patients)
    assert all(p.key.startswith("http://hospital.smarthealthit.org|") for p in patients)


def test_carin_eob_payment_and_claim(samples: Path) -> None:
    carin = fhir_samples(samples) / "carin-bb"
    (rec,) = records(read(carin / "ExplanationOfBenefit_ProfessionalEOBExample1.json"))
    rem = node(rec, CG.Remittance)
    assert rem.props[CG.paymentAmount] == 258.91  # the benefit total: CARIN has no payment
    assert rem.props[CG.totalCharge] == 820.0
    claim = node(rec, CG.Claim)  # CARIN EOBs are all there is of the claim
    uc = "https://www.upmchealthplan.com/fhir/EOBIdentifier"
    assert claim.key == keys.claim_key(uc, "ProfessionalEOBExample1")
    assert claim.props[CG.controlNumber] == "ProfessionalEOBExample1"
    assert claim.props[CG.diagnosisCodes] == [
        "http://hl7.org/fhir/sid/icd-10-cm|I70.249",
        "http://hl7.org/fhir/sid/icd-10-cm|L97.929",
    ]
    assert coded(rec, CG.billsDiagnosis, claim.key) == [
        ("http://hl7.org/fhir/sid/icd-10-cm|I70.249", {"role": "principal", "rank": 1}),
        ("http://hl7.org/fhir/sid/icd-10-cm|L97.929", {"role": "secondary", "rank": 2}),
    ]
    items = [n for n in rec.nodes if n.cls == CG.ClaimItem]
    assert len(items) == 6
    assert sorted(coded(rec, CG.hasCode, i.key)[0][0].rsplit("|")[1] for i in items) == [
        "37228", "37228", "37228", "75710", "75710", "75710",
    ]  # fmt: skip
    assert sorted(float(str(i.props[CG.chargeAmount])) for i in items) == [
        -751.2, -68.8, 68.8, 68.8, 751.2, 751.2,
    ]  # fmt: skip
    assert ends(rec, CG.remits) == {(rem.key, claim.key, None)}
    (paid_by,) = links(rec, CG.paidBy)
    assert (paid_by.dst.cls, paid_by.dst.key) == (
        CG.Payer,
        local("Organization", "PayerOrganizationExample1"),
    )
    assert ends(rec, CG.hasProvider) >= {
        (claim.key, local("Organization", "ProviderOrganization1"), "billing"),
        (claim.key, local("Practitioner", "Practitioner1"), "referring"),
    }
    (payer,) = records(read(carin / "Organization_PayerOrganizationExample1.json"))
    assert node(payer, CG.Payer).props[CG.name] == "UPMC Health Plan"
    assert local("Organization", "PayerOrganizationExample1") in [
        i.token for i in node(payer, CG.Payer).identifiers
    ]


# -- in the graph -----------------------------------------------------------------------------


def rows(driver: Driver, database: str, cypher: str, **params: Any) -> list[dict[str, Any]]:
    found, _, _ = driver.execute_query(cypher, params, database_=database)
    return [dict(r) for r in found]


def test_own_bundle_and_ndjson_load_into_the_graph(
    load: Load, driver: Driver, database: str
) -> None:
    report = load(BUNDLE, NDJSON, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert all(f.reconciles for f in report.files)
    assert (report.total("written"), report.total("skipped")) == (13 + 3, 1)
    (r,) = rows(
        driver, database,
        "MATCH (p:Patient {key: $mrn})-[:HAS_ENCOUNTER]->(e:Encounter {visitNumber: 'V-88301'}) "
        "MATCH (e)-[att:HAS_PARTICIPANT {role: 'attending'}]->(doc:Practitioner) "
        "MATCH (e)-[:SERVICE_PROVIDER]->(org:Organization) "
        "MATCH (p)-[:HAS_CLAIM]->(c:Claim)-[:FOR_ENCOUNTER]->(e) "
        "MATCH (c)-[:HAS_PAYER]->(payer:Payer) "
        "MATCH (rem:Remittance)-[:REMITS]->(c) "
        "MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)-[:FOR_ENCOUNTER]->(e) "
        "MATCH (p)-[:HAS_APPOINTMENT]->(a:Appointment)-[:FOR_ENCOUNTER]->(e) "
        "MATCH (p)-[:HAS_COVERAGE]->(cov:Coverage)<-[:COVERED_BY]-(c) "
        "RETURN doc.npi AS npi, org.name AS org, c.controlNumber AS claim, payer.name AS payer, "
        "rem.paymentAmount AS paid, s.modality AS modality, cov.memberId AS member",
        mrn=f"{MRN}|MRN-20417",
    )  # fmt: skip
    assert r == {
        "npi": "1234567893", "org": "Harbour Family Clinic", "claim": "CLM-2024-0502",
        "payer": "Granite State Health Plan", "paid": 164.4, "modality": ["CR"],
        "member": "GSH-55012",
    }  # fmt: skip
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 4
    # the practitioner referenced only by URL is a stub, kept until its record arrives
    assert count(driver, database, "MATCH (d:Practitioner) WHERE d.stub RETURN count(d)") == 1


def test_synthea_bundles_in_the_graph(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(fhir_samples(samples) / "synthea-r4-bundles", source="synthea")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    assert all(f.reconciles for f in report.files)
    (study,) = rows(
        driver, database,
        "MATCH (p:Patient {familyName: 'Thompson'})-[:HAS_IMAGING_STUDY]->(s:ImagingStudy) "
        "MATCH (s)-[:HAS_SERIES]->(x:ImagingSeries) "
        "RETURN s.studyInstanceUid AS uid, s.modality AS modality, x.modality AS series",
    )  # fmt: skip
    assert study == {"uid": STUDY_UID, "modality": ["DX"], "series": ["DX"]}
    visits = rows(
        driver, database,
        "MATCH (p:Patient {familyName: 'Thompson'})-[:HAS_ENCOUNTER]->(e:Encounter) "
        "OPTIONAL MATCH (e)-[:HAS_PARTICIPANT]->(doc:Practitioner) "
        "OPTIONAL MATCH (e)-[:SERVICE_PROVIDER]->(org:Organization) "
        "RETURN e.encounterClass AS cls, doc.familyName AS doc, doc.stub AS docStub, "
        "org.name AS org ORDER BY e.start",
    )  # fmt: skip
    assert len(visits) == 10
    assert visits[0] == {"cls": "EMER", "doc": "Kub", "docStub": None, "org": "CARNEY HOSPITAL"}
    assert all(v["org"] for v in visits)  # every visit has its hospital, from the files
    assert sum(1 for v in visits if v["doc"]) == 9  # one visit names no practitioner
    # the same practitioner in a patient bundle and in practitionerInformation: one node
    assert (
        count(driver, database, "MATCH (d:Practitioner {familyName: 'Kub'}) RETURN count(d)") == 1
    )
    assert count(driver, database, "MATCH (d:Practitioner) RETURN count(d)") == 102
    assert count(driver, database, "MATCH (o:Organization) RETURN count(o)") == 102
    # every EOB pays its claim, and the claims are those of the bundles' visits
    assert count(
        driver, database,
        "MATCH (:Remittance)-[:REMITS]->(c:Claim)-[:FOR_ENCOUNTER]->(:Encounter) "
        "WHERE c.stub IS NULL RETURN count(DISTINCT c)",
    ) == 13  # fmt: skip


def test_bulk_ndjson_in_the_graph(load: Load, driver: Driver, database: str, samples: Path) -> None:
    report = load(fhir_samples(samples) / "bulk-ndjson-10pt", source="bulk")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 13
    assert count(driver, database, "MATCH (e:Encounter) RETURN count(e)") == 1215
    # every encounter's practitioner, organization and location is the loaded record, not a stub
    assert count(
        driver, database,
        "MATCH (e:Encounter)-[:HAS_PARTICIPANT]->(d:Practitioner) "
        "MATCH (e)-[:SERVICE_PROVIDER]->(o:Organization) MATCH (e)-[:AT_LOCATION]->(l:Location) "
        "MATCH (:Patient)-[:HAS_ENCOUNTER]->(e) "
        "WHERE d.stub IS NULL AND d.npi IS NOT NULL AND o.stub IS NULL AND l.stub IS NULL "
        "RETURN count(DISTINCT e)",
    ) == 1215  # fmt: skip
    assert count(
        driver, database,
        "MATCH (r:PractitionerRole)-[:ROLE_OF]->(d:Practitioner) "
        "MATCH (r)-[:ROLE_AT]->(o:Organization) WHERE d.stub IS NULL AND o.stub IS NULL "
        "RETURN count(r)",
    ) == 43  # fmt: skip


def test_carin_in_the_graph(load: Load, driver: Driver, database: str, samples: Path) -> None:
    report = load(fhir_samples(samples) / "carin-bb", source="payer")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    (r,) = rows(
        driver, database,
        "MATCH (rem:Remittance {payerControlNumber: 'ProfessionalEOBExample1'})-[:REMITS]->"
        "(c:Claim)<-[:HAS_CLAIM]-(p:Patient) "
        "MATCH (rem)-[:PAID_BY]->(payer:Payer) "
        "MATCH (p)-[:HAS_COVERAGE]->(cov:Coverage)-[:HAS_PAYER]->(payer) "
        "MATCH (c)-[:COVERED_BY]->(cov) "
        "MATCH (c)-[:HAS_PROVIDER {role: 'billing'}]->(o:Organization) "
        "RETURN rem.paymentAmount AS paid, c.controlNumber AS claim, payer.name AS payer, "
        "p.familyName AS family, o.npi AS billing, COUNT { (c)-[:HAS_ITEM]->() } AS items",
    )  # fmt: skip
    assert r == {
        "paid": 258.91, "claim": "ProfessionalEOBExample1", "payer": "UPMC Health Plan",
        "family": "Test", "billing": "1112223330", "items": 6,
    }  # fmt: skip
    # OutpatientEOBExample1 bills I95.1 as principal (sequence 1) and as other (sequence 2)
    found = rows(
        driver, database,
        "MATCH (c:Claim {controlNumber: 'OutpatientEOBExample1'})-[b:BILLS_DIAGNOSIS]->"
        "(k:Concept) RETURN b.role AS role, b.rank AS rank, k.code AS code ORDER BY rank",
    )  # fmt: skip
    assert [(f["role"], f["rank"], f["code"]) for f in found] == [
        ("principal", 1, "I95.1"), ("other", 2, "I95.1"), ("other", 3, "L97.529"),
        ("other", 4, "I73.9"),
    ]  # fmt: skip
    cpt = "MATCH (:ClaimItem)-[:HAS_CODE]->(k:Concept {key: $key}) RETURN count(*)"
    assert count(driver, database, cpt, key="http://www.ama-assn.org/go/cpt|99231") == 15
    before = fingerprint(driver, database)
    load(fhir_samples(samples) / "carin-bb", source="payer")
    assert fingerprint(driver, database) == before


@pytest.mark.samples
def test_fhir_more_written_with_warnings_not_rejected(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    more = samples / "fhir-more"
    if not more.is_dir():
        pytest.skip(f"no {more}")
    report = load(more, source="more")
    # every file is FHIR R4 that the standard allows, or a departure receivers accept
    assert report.rejects == [], [(r.ref.where(), r.reason) for r in report.rejects]
    assert report.exit_code == 0
    assert all(f.reconciles for f in report.files)
    # a transaction's DELETE and GET entries are skipped, saying why; DELETE retracts nothing
    skips = {(Path(s.ref.file).name, s.ref.position): s.reason or "" for s in report.skips}
    deletes = {k for k, why in skips.items() if "DELETE request" in why}
    assert deletes == {
        ("msfhir-Bundle-Batch.json", "entry 6"), ("msfhir-Bundle-Batch.json", "entry 7"),
        ("msfhir-Bundle-TransactionWithMultipleEntriesModifyingSameResource.json", "entry 3"),
    }  # fmt: skip
    assert all("does not retract" in skips[k] for k in deletes)
    assert sum(1 for why in skips.values() if "GET request" in why) == 5
    assert "operation $lookup" in skips[("msfhir-Bundle-Batch.json", "entry 8")]
    warned = {(Path(w.ref.file).name, w.ref.position, w.warning.code) for w in report.warnings}
    assert {
        ("msfhir-SmartPatientA.json", "entry 11", "incomplete"),  # participant[0].status
        ("msfhir-SmartPatientA.json", "entry 12", "incomplete"),  # series modality, sopClass
        ("fhir-data-pipes-encounter.json", "file", "unusual-value"),  # episodeOfCare
        ("fhir-data-pipes-bundle.json", "entry 1", "unusual-value"),  # no resource wrapper
    } <= warned
    # the repaired records in the graph, whole
    (r,) = rows(
        driver, database,
        "MATCH (p:Patient)-[:HAS_APPOINTMENT]->(a:Appointment) "
        "MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)-[:HAS_SERIES]->(x:ImagingSeries) "
        "RETURN a.status AS status, left(toString(a.start), 16) AS start, "
        "s.studyInstanceUid AS uid, "
        "x.seriesInstanceUid AS series, p.stub AS stub",
    )  # fmt: skip
    assert r == {
        "status": "booked", "start": "2013-12-10T09:00",
        "uid": "1.2.276.0.50.192168001099.7810872.14547392.270",
        "series": "1.2.276.0.50.192168001099.7810872.14547392.458", "stub": None,
    }  # fmt: skip
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter {status: 'finished'}) "
        "WHERE toString(e.start) STARTS WITH '1965-09-16' RETURN count(e)",
    ) == 1  # fmt: skip
    # reloading the same files changes nothing
    before = fingerprint(driver, database)
    from caregraph.loaders.pipeline import load as run_load

    again = run_load([more], driver=driver, database=database, source="more")
    assert fingerprint(driver, database) == before
    assert again.nodes_created == 0 and again.relationships_created == 0


def test_reload_changes_nothing(load: Load, driver: Driver, database: str) -> None:
    first = load(BUNDLE, NDJSON, source="ehr")
    before = fingerprint(driver, database)
    from caregraph.loaders.pipeline import load as run_load

    second = run_load([BUNDLE, NDJSON], driver=driver, database=database, source="ehr")
    assert fingerprint(driver, database) == before
    assert second.total("unchanged") == second.total("written") == first.total("written") == 16
    assert second.nodes_created == 0 and second.relationships_created == 0
