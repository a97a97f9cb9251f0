"""FHIR Condition, Procedure and Encounter.diagnosis (loaders/fhir/clinical.py): what each
resource becomes, its codes as Concepts, the bad inputs, and the shared Synthea bundles.

A bundle is written here for each case; record-level tests read it with ``LOADER.read`` and
graph-level tests load it through the real pipeline into the session's Neo4j.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from caregraph.loaders import keys
from caregraph.loaders.fhir import LOADER
from caregraph.loaders.records import Item, Record, Rejected
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
MRN = "urn:oid:2.16.840.1.113883.3.4242.1"


def local(rtype: str, rid: str, source: str = "ehr") -> str:
    return keys.source_local(source, rtype, rid).token


def coding(system: str | None, code: str, display: str = "") -> dict[str, str]:
    out = {"code": code}
    if system:
        out["system"] = system
    if display:
        out["display"] = display
    return out


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-1",
        "identifier": [{"system": MRN, "value": "MRN-1"}],
        "name": [{"family": "Shaw", "given": ["Amy"]}],
        "birthDate": "1987-02-20",
        "gender": "female",
    }


def encounter(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "enc-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": "Patient/pat-1"},
        "period": {"start": "2024-03-01T08:00:00Z", "end": "2024-03-04T12:00:00Z"},
        **extra,
    }


def condition(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Condition",
        "id": "cond-1",
        "clinicalStatus": {"coding": [coding(None, "active")]},
        "verificationStatus": {"coding": [coding(None, "confirmed")]},
        "category": [{"coding": [coding(None, "encounter-diagnosis")]}],
        "code": {
            "coding": [
                coding(SNOMED, "401314000", "Acute non-ST segment elevation MI"),
                # the OID and an undotted code: the Concept of ICD-10-CM I21.4 all the same
                coding("urn:oid:2.16.840.1.113883.6.90", "I214"),
            ],
            "text": "NSTEMI",
        },
        "subject": {"reference": "Patient/pat-1"},
        "encounter": {"reference": "Encounter/enc-1"},
        "onsetDateTime": "2024-03-01T07:30:00Z",
        "abatementPeriod": {"start": "2024-03-02", "end": "2024-03-20"},
        "recordedDate": "2024-03-01T09:00:00Z",
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def procedure(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": "proc-1",
        "status": "completed",
        "code": {
            "coding": [coding(SNOMED, "415070008", "PCI"), coding(CPT, "92928")],
            "text": "Percutaneous coronary intervention",
        },
        "subject": {"reference": "Patient/pat-1"},
        "encounter": {"reference": "Encounter/enc-1"},
        "performedPeriod": {"start": "2024-03-01T10:00:00Z", "end": "2024-03-01T11:15:00Z"},
        "reasonCode": [{"coding": [coding(ICD10CM, "I21.4")]}],
        "performer": [{"actor": {"reference": "Practitioner/doc-1"}}],
        "location": {"reference": "Location/cath-lab"},
    }
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def diagnosis_encounter() -> dict[str, Any]:
    return encounter(
        reasonCode=[{"coding": [coding(ICD10CM, "I21.4"), coding(SNOMED, "29857009")]}],
        diagnosis=[
            {
                "condition": {"reference": "Condition/cond-1"},
                "use": {"coding": [coding(None, "AD")]},
                "rank": 1,
            },
            {"condition": {"reference": "Procedure/proc-1"}, "rank": 2},
        ],
    )


def bundle(tmp_path: Path, *resources: dict[str, Any], name: str = "b.json") -> Path:
    path = tmp_path / name
    entries = [{"fullUrl": f"http://ehr.example/fhir/{r['resourceType']}/{r['id']}",
                "resource": r} for r in resources]  # fmt: skip
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


def read(path: Path) -> dict[str, Item]:
    return {(i.ref.record_id or i.ref.position): i for i in LOADER.read(path, "ehr")}


def record(items: dict[str, Item], rid: str) -> Record:
    found = items[rid]
    assert isinstance(found, Record), found
    return found


def ends(rec: Record, rel: Any) -> set[tuple[str, str]]:
    return {(x.src.key, x.dst.key) for x in rec.links if x.rel == rel}


# -- records --------------------------------------------------------------------------------


def test_condition_with_statuses_times_patient_encounter_and_codes(tmp_path: Path) -> None:
    rec = record(read(bundle(tmp_path, condition())), "Condition/cond-1")
    assert rec.kind == "Condition" and rec.warnings == []
    (node,) = rec.nodes
    key = local("Condition", "cond-1")
    assert (node.cls, node.key) == (CG.Condition, key)
    assert node.props == {
        CG.clinicalStatus: "active",
        CG.verificationStatus: "confirmed",
        CG.category: ["encounter-diagnosis"],
        CG.onset: "2024-03-01T07:30:00Z",
        CG.abatement: "2024-03-20",  # the end of the abatement period
        CG.recordedDate: "2024-03-01T09:00:00Z",
        CG.display: "NSTEMI",
    }
    assert ends(rec, CG.hasCondition) == {(local("Patient", "pat-1"), key)}
    assert ends(rec, CG.forEncounter) == {(key, local("Encounter", "enc-1"))}
    # every coding with a system is a Concept, under its canonical system and spelling
    assert ends(rec, CG.hasCode) == {(key, f"{SNOMED}|401314000"), (key, f"{ICD10CM}|I21.4")}
    assert {x.dst.cls for x in rec.links if x.rel == CG.hasCode} == {CG.Concept}


def test_procedure_with_its_time_codes_reason_performer_and_place(tmp_path: Path) -> None:
    rec = record(read(bundle(tmp_path, procedure())), "Procedure/proc-1")
    assert rec.kind == "Procedure" and rec.warnings == []
    (node,) = rec.nodes
    key = local("Procedure", "proc-1")
    assert node.props == {
        CG.status: "completed",
        CG.start: "2024-03-01T10:00:00Z",
        CG.end: "2024-03-01T11:15:00Z",
        CG.procedureCode: f"{SNOMED}|415070008",
        CG.reasonCode: f"{ICD10CM}|I21.4",
        CG.display: "Percutaneous coronary intervention 2024-03-01",
    }
    assert ends(rec, CG.hasProcedure) == {(local("Patient", "pat-1"), key)}
    assert ends(rec, CG.hasCode) == {(key, f"{SNOMED}|415070008"), (key, f"{CPT}|92928")}
    assert ends(rec, CG.hasReason) == {(key, f"{ICD10CM}|I21.4")}
    (performer,) = [x for x in rec.links if x.rel == CG.hasParticipant]
    assert performer.dst.key == local("Practitioner", "doc-1")
    assert performer.props == {CG.role: "performer"}
    assert ends(rec, CG.atLocation) == {(key, local("Location", "cath-lab"))}


def test_encounter_reasons_and_diagnoses(tmp_path: Path) -> None:
    rec = record(read(bundle(tmp_path, diagnosis_encounter())), "Encounter/enc-1")
    enc = local("Encounter", "enc-1")
    assert rec.nodes[0].props[CG.reasonCode] == f"{ICD10CM}|I21.4"  # the first coding
    assert ends(rec, CG.hasReason) == {(enc, f"{ICD10CM}|I21.4"), (enc, f"{SNOMED}|29857009")}
    diagnoses = {
        (x.dst.cls, x.dst.key, x.props.get(CG.role), x.props.get(CG.rank))
        for x in rec.links
        if x.rel == CG.hasDiagnosis
    }
    assert diagnoses == {
        (CG.Condition, local("Condition", "cond-1"), "AD", 1),
        (CG.Procedure, local("Procedure", "proc-1"), None, 2),
    }


# -- bad and unusual input --------------------------------------------------------------------


def test_a_condition_without_subject_is_rejected_as_invalid_fhir(tmp_path: Path) -> None:
    item = read(bundle(tmp_path, condition(subject=None)))["Condition/cond-1"]
    assert isinstance(item, Rejected) and item.code == "invalid"
    assert "Condition.subject" in item.reason
    assert "I214" not in item.reason and "2024" not in item.reason


def test_a_condition_of_no_loadable_patient_is_rejected_by_its_shape(
    load: Load, tmp_path: Path
) -> None:
    # FHIR allows a subject that only displays a name (or names a Group); caregraph cannot
    # give the condition to a patient, and a condition is always a patient's
    path = bundle(tmp_path, condition(subject={"display": "Amy V. Shaw"}))
    report = load(path, source="ehr")
    (rejected,) = report.rejects
    assert rejected.code == "shape" and "subject (incoming hasCondition)" in rejected.reason
    assert "Amy" not in rejected.reason
    assert report.total("written") == 0 and all(f.reconciles for f in report.files)


def test_unusual_conditions_are_written_with_warnings_naming_no_values(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    path = bundle(
        tmp_path,
        patient(),
        condition(
            id="cond-2",
            clinicalStatus={"coding": [coding(None, "smouldering")]},
            code={"coding": [coding(None, "I214")], "text": "NSTEMI"},  # no system
            onsetDateTime=None,
            onsetAge={"value": 52, "unit": "a"},
            encounter=None,
        ),
    )
    report = load(path, source="ehr")
    assert report.exit_code == 0 and report.rejects == []
    warned = {(w.warning.code, w.warning.message) for w in report.warnings}
    messages = " ".join(m for _, m in warned)
    assert ("unusual-value", "Condition.onsetAge is not a date or time: loaded without onset") in (
        warned
    )
    assert (
        "unusual-value",
        "Condition.code.coding[0] has a code without a system: not linked to a Concept",
    ) in warned
    assert any(code == "incomplete" and "code (hasCode) is missing" in m for code, m in warned)
    assert any("clinicalStatus is not one of" in m for _, m in warned)
    for value in ("I214", "52", "smouldering" + "x", "Shaw"):
        assert value not in messages
    # written, with what was understood
    (r,) = driver.execute_query(
        "MATCH (:Patient)-[:HAS_CONDITION]->(c:Condition) "
        "RETURN c.clinicalStatus AS status, c.onset AS onset, "
        "COUNT { (c)-[:HAS_CODE]->() } AS codes",
        database_=database,
    ).records
    assert dict(r) == {"status": "smouldering", "onset": None, "codes": 0}


def test_a_procedure_not_performed_is_written_with_a_warning(load: Load, tmp_path: Path) -> None:
    path = bundle(
        tmp_path,
        patient(),
        procedure(status="not-done", performedPeriod=None, performedString="last spring"),
    )
    report = load(path, source="ehr")
    assert report.exit_code == 0 and report.rejects == []
    warned = {(w.warning.code, w.warning.message) for w in report.warnings}
    assert ("incomplete", "entry 2: Procedure: start is absent (at least 1)") in warned
    assert (
        "unusual-value",
        "Procedure.performedString is not a date or time: loaded without performed",
    ) in warned
    assert not any("spring" in m for _, m in warned)


# -- in the graph -----------------------------------------------------------------------------


def test_conditions_procedures_and_diagnoses_in_the_graph(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    path = bundle(tmp_path, patient(), diagnosis_encounter(), condition(), procedure())
    report = load(path, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert report.total("written") == 4 and report.warnings == []
    (r,) = driver.execute_query(
        "MATCH (p:Patient {key: $mrn})-[:HAS_CONDITION]->(c:Condition)-[:FOR_ENCOUNTER]->(e) "
        "MATCH (p)-[:HAS_ENCOUNTER]->(e)-[d:HAS_DIAGNOSIS]->(c) "
        "MATCH (c)-[:HAS_CODE]->(icd:Concept {system: $icd}) "
        "MATCH (e)-[:HAS_REASON]->(icd) "
        "MATCH (p)-[:HAS_PROCEDURE]->(x:Procedure)-[:HAS_REASON]->(icd) "
        "MATCH (e)-[:HAS_DIAGNOSIS {rank: 2}]->(x) "
        "RETURN c.display AS condition, d.role AS role, d.rank AS rank, icd.code AS code, "
        "icd.display AS display, x.status AS status, toString(x.start) AS start, "
        "apoc.coll.sort(labels(c)) AS labels, labels(icd) AS conceptLabels",
        mrn=f"{MRN}|MRN-1",
        icd=ICD10CM,
        database_=database,
    ).records
    assert dict(r) == {
        "condition": "NSTEMI", "role": "AD", "rank": 1, "code": "I21.4",
        # no terminology was loaded: the code is a Concept without display
        "display": None,
        "status": "completed", "start": "2024-03-01T10:00:00Z",
        "labels": ["ClinicalEvent", "Condition", "Entity", "Event"],
        "conceptLabels": ["Concept"],
    }  # fmt: skip
    # one Concept per code, however many records carry it; concepts are no entities and have
    # no provenance of their own (the links say which records asserted them)
    assert count(driver, database, "MATCH (c:Concept) RETURN count(c)") == 5
    assert count(driver, database, "MATCH (c:Concept)<-[:ASSERTED]-() RETURN count(c)") == 0
    assert count(
        driver, database,
        "MATCH ()-[r:HAS_CODE]->() WHERE size(r.sources) = 1 RETURN count(r)",
    ) == 4  # fmt: skip
    # the same input again changes nothing
    from caregraph.loaders.pipeline import load as run_load

    again = run_load([path], driver=driver, database=database, source="ehr")
    assert again.total("unchanged") == 4
    assert again.nodes_created == 0 and again.relationships_created == 0


def test_a_diagnosis_loaded_before_its_condition_meets_it(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    first = bundle(tmp_path, patient(), diagnosis_encounter(), name="visit.json")
    later = bundle(tmp_path, condition(), name="problems.json")
    load(first, later, source="ehr")
    assert count(
        driver, database,
        "MATCH (:Encounter)-[:HAS_DIAGNOSIS]->(c:Condition)<-[:HAS_CONDITION]-(:Patient) "
        "WHERE c.stub IS NULL RETURN count(c)",
    ) == 1  # fmt: skip


# -- the shared samples -------------------------------------------------------------------------


def test_synthea_bundles_load_their_conditions_and_procedures(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(samples / "fhir" / "synthea-r4-bundles", source="synthea")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    assert all(f.reconciles for f in report.files)
    skipped = {s.kind for s in report.skips}
    assert "Condition" not in skipped and "Procedure" not in skipped
    assert count(driver, database, "MATCH (:Patient)-[:HAS_CONDITION]->(c) RETURN count(c)") == 5
    assert count(driver, database, "MATCH (:Patient)-[:HAS_PROCEDURE]->(p) RETURN count(p)") == 9
    # Chet Thompson's coronary heart disease, in its encounter, coded in SNOMED CT
    (r,) = driver.execute_query(
        "MATCH (p:Patient {familyName: 'Thompson'})-[:HAS_CONDITION]->(c:Condition)"
        "-[:HAS_CODE]->(k:Concept {system: $snomed, code: '53741008'}) "
        "MATCH (c)-[:FOR_ENCOUNTER]->(e:Encounter)<-[:HAS_ENCOUNTER]-(p) "
        "RETURN c.display AS display, c.clinicalStatus AS status, "
        "toString(c.onset) AS onset, e.stub AS stub",
        snomed=SNOMED,
        database_=database,
    ).records
    assert dict(r) == {
        "display": "Coronary Heart Disease", "status": "active",
        "onset": "1964-04-03T10:10:39Z", "stub": None,
    }  # fmt: skip
    # every procedure is in an encounter of its patient, with its code and time
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_PROCEDURE]->(x:Procedure)-[:FOR_ENCOUNTER]->(:Encounter)"
        "<-[:HAS_ENCOUNTER]-(p) MATCH (x)-[:HAS_CODE]->(:Concept {system: $snomed}) "
        "WHERE x.start IS NOT NULL RETURN count(DISTINCT x)",
        snomed=SNOMED,
    ) == 9  # fmt: skip


@pytest.mark.samples
def test_us_core_condition_and_procedure_samples(samples: Path) -> None:
    more = samples / "fhir-more"
    if not more.is_dir():
        pytest.skip(f"no {more}")
    (cond,) = [i for i in LOADER.read(more / "uscore-condition-SDOH-example.json", "more")]
    assert isinstance(cond, Record), cond
    assert cond.nodes[0].props[CG.category] == ["problem-list-item", "sdoh"]
    assert {x.dst.key for x in cond.links if x.rel == CG.hasCode} == {f"{SNOMED}|445281000124101"}
    (proc,) = [i for i in LOADER.read(more / "uscore-Procedure-R4-defib-implant.json", "more")]
    assert isinstance(proc, Record), proc
    assert proc.nodes[0].cls == CG.Procedure and proc.nodes[0].props.get(CG.start)
