"""HL7 v2 DG1 and PR1 as Conditions and Procedures: own messages and the shared samples."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count, fingerprint
from tests.loaders.test_hl7v2 import SRC, links, msh, node, one_record, pid, pv1, seg, write

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
VISIT = "MAINHOSP|V100"  # PV1-19 V100^^^MAINHOSP^VN
PATIENT = "HOSP|MRN001"  # PID-3 MRN001^^^HOSP^MR
CONDITION = f"urn:caregraph:hl7v2:Condition|{VISIT}/{ICD10CM}|I21.4"
PROCEDURE = f"urn:caregraph:hl7v2:Procedure|{VISIT}/{CPT}|92928@2024-05-01T14:00-05:00"
NPI = "http://hl7.org/fhir/sid/us-npi"


def dg1(n: int, code: str = "I214^NSTEMI^I10", kind: str = "A", **extra: str) -> str:
    fields = {1: str(n), 3: code, 5: "20240501", 6: kind, 15: "1", 19: "20240502093000-0500"}
    fields.update({int(k[1:]): v for k, v in extra.items()})
    return seg("DG1", fields)


def pr1(n: int, code: str = "92928^Coronary stent^C4", **extra: str) -> str:
    fields = {
        1: str(n),
        3: code,
        5: "202405011400-0500",
        8: "1111111112^GAS^ANNA^^^^^^NPI",
        11: "2222222228^CUTTER^SAM^^^^^^NPI",
        14: "1",
    }
    fields.update({int(k[1:]): v for k, v in extra.items()})
    return seg("PR1", fields)


def message(control: str, *segments: str, event: str = "A01") -> list[str]:
    """An ADT message of the default patient and visit V100 with ``segments`` after PV1."""
    head = [msh(f"ADT^{event}^ADT_A01", control), f"EVN|{event}|20240501120000", pid(), pv1()]
    return [*head, *segments]


# -- records ---------------------------------------------------------------------------------


def test_dg1_is_a_condition_of_the_patient_and_visit_with_its_icd10cm_concept(
    tmp_path: Path,
) -> None:
    rec = one_record(write(tmp_path / "a01.hl7", [message("C1", dg1(1))]))
    cond = node(rec, CG.Condition, CONDITION)
    assert cond.props[CG.onset] == "2024-05-01"
    assert cond.props[CG.recordedDate] == "2024-05-02T09:30:00-05:00"
    assert cond.props[CG.category] == ["encounter-diagnosis"]
    assert cond.props[CG.display] == "NSTEMI"
    # I10 is ICD-10-CM by the ontology's alias, and the code gets its dot
    assert links(rec, CG.hasCode) == [(CONDITION, f"{ICD10CM}|I21.4", {})]
    assert links(rec, CG.hasCondition) == [(PATIENT, CONDITION, {})]
    assert (CONDITION, VISIT, {}) in links(rec, CG.forEncounter)
    assert links(rec, CG.hasDiagnosis) == [(VISIT, CONDITION, {"role": "admitting", "rank": 1})]
    assert rec.warnings == []


def test_dg1_types_and_systems(tmp_path: Path) -> None:
    segments = [
        dg1(1, "I214^NSTEMI^I10", kind="F", **{"f15": "0"}),  # final, not ranked
        dg1(2, "71596^OSTEOARTHROS^I9C", kind="W", **{"f15": "2"}),
        dg1(3, "22298006^MI^SCT^I21.9^AMI^ICD10CM", kind="A"),  # with an alternate code
        dg1(4, "X1^Local^99LOCAL", kind="", **{"f15": ""}),
    ]
    rec = one_record(write(tmp_path / "a03.hl7", [message("C2", *segments, event="A03")]))
    codes = sorted(dst for _, dst, _ in links(rec, CG.hasCode))
    assert codes == [
        "99LOCAL|X1",  # a system the ontology does not know is kept as given
        f"{ICD10CM}|I21.4",
        f"{ICD10CM}|I21.9",
        f"{ICD9CM}|71596",
        f"{SNOMED}|22298006",
    ]
    diagnoses = sorted((dst.split(f"{VISIT}/")[1], p) for _, dst, p in links(rec, CG.hasDiagnosis))
    assert diagnoses == [
        ("99LOCAL|X1", {}),
        (f"{ICD10CM}|I21.4", {"role": "final"}),
        (f"{ICD9CM}|71596", {"role": "working", "rank": 2}),
        (f"{SNOMED}|22298006", {"role": "admitting", "rank": 1}),
    ]
    assert [w.code for w in rec.warnings] == ["unusual-value"]
    assert "DG1 #4 (line 8): DG1-3.3 names a coding system" in rec.warnings[0].message


def test_pr1_is_a_procedure_with_its_cpt_concept_and_practitioners(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "a01.hl7", [message("C3", dg1(1), pr1(1))]))
    proc = node(rec, CG.Procedure, PROCEDURE)
    assert proc.props[CG.start] == "2024-05-01T14:00-05:00"
    assert proc.props[CG.procedureCode] == f"{CPT}|92928"
    assert proc.props[CG.display] == "Coronary stent 2024-05-01"
    assert links(rec, CG.hasProcedure) == [(PATIENT, PROCEDURE, {})]
    assert (PROCEDURE, f"{CPT}|92928", {}) in links(rec, CG.hasCode)
    assert (PROCEDURE, VISIT, {}) in links(rec, CG.forEncounter)
    assert (VISIT, PROCEDURE, {"rank": 1}) in links(rec, CG.hasDiagnosis)
    part = links(rec, CG.hasParticipant)
    people = sorted((dst, p["role"]) for src, dst, p in part if src == PROCEDURE)
    assert people == [(f"{NPI}|1111111112", "anesthesiologist"), (f"{NPI}|2222222228", "surgeon")]


def test_pr1_admitting_procedure_and_hcpcs(tmp_path: Path) -> None:
    rec = one_record(
        write(tmp_path / "a01.hl7", [message("C4", pr1(1, "G0121^Screening^HCPCS", f14="0"))])
    )
    (proc,) = [n for n in rec.nodes if n.cls == CG.Procedure]
    hcpcs = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|G0121"
    assert links(rec, CG.hasCode) == [(proc.key, hcpcs, {})]
    assert links(rec, CG.hasDiagnosis) == [(VISIT, proc.key, {"role": "admitting"})]


def test_dg1_without_code_is_written_with_a_warning_naming_its_position(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "a01.hl7", [message("C5", dg1(1), dg1(2, code=""))]))
    keys = sorted(n.key for n in rec.nodes if n.cls == CG.Condition)
    assert keys == sorted([CONDITION, f"urn:caregraph:hl7v2:Condition|{VISIT}/DG1-1|2"])
    assert [(w.code, w.message) for w in rec.warnings] == [
        (
            "incomplete",
            "DG1 #2 (line 6): DG1-3 (diagnosis code) is empty: the condition is loaded "
            "without a code",
        )
    ]


def test_no_patient_values_in_warnings(tmp_path: Path) -> None:
    bad = dg1(1, "I214^NSTEMI^I10", kind="Q", f5="NOTADATE", f15="first")
    rec = one_record(write(tmp_path / "a01.hl7", [message("C6", bad, pr1(1, f5="31/12"))]))
    messages = " ".join(w.message for w in rec.warnings)
    assert "DG1-6 (diagnosis type)" in messages and "DG1-15 (diagnosis priority)" in messages
    assert "DG1 #1 (line 5): DG1-5 (diagnosis date/time)" in messages
    assert "PR1 #1 (line 6): PR1-5 (procedure date/time)" in messages
    for value in ("NOTADATE", "first", "31/12", "NSTEMI", "I214", "MRN001"):
        assert value not in messages


def test_deleted_diagnosis_is_not_applied(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "a08.hl7", [message("C7", dg1(1, f21="D"), event="A08")]))
    assert [n for n in rec.nodes if n.cls == CG.Condition] == []
    assert [w.code for w in rec.warnings] == ["not-applied"]


def test_without_visit_a_diagnosis_belongs_to_the_patient(tmp_path: Path) -> None:
    msg = [msh("ADT^A28^ADT_A05", "C8"), "EVN|A28|20240501120000", pid(), dg1(1)]
    rec = one_record(write(tmp_path / "a28.hl7", [msg]))
    cond = node(rec, CG.Condition)
    assert cond.key == f"urn:caregraph:hl7v2:Condition|{PATIENT}/{ICD10CM}|I21.4"
    assert links(rec, CG.forEncounter) == [] and links(rec, CG.hasDiagnosis) == []


# -- graph -----------------------------------------------------------------------------------


def test_graph_dg1_and_pr1_reload_and_a08_change_nothing(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    a01 = write(tmp_path / "a01.hl7", [message("G1", dg1(1), pr1(1))])
    report = load(a01, source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_CONDITION]->(c:Condition)-[:FOR_ENCOUNTER]->(e:Encounter) "
        "MATCH (e)-[d:HAS_DIAGNOSIS]->(c)-[:HAS_CODE]->(k:Concept) "
        "MATCH (p)-[:HAS_PROCEDURE]->(x:Procedure)-[:HAS_CODE]->(pk:Concept) "
        "MATCH (x)-[:HAS_PARTICIPANT {role: 'surgeon'}]->(doc:Practitioner) "
        "RETURN k.key AS concept, k.system AS system, k.code AS code, d.role AS role, "
        "d.rank AS rank, e.visitNumber AS visit, pk.key AS proc, doc.npi AS surgeon",
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {
            "concept": f"{ICD10CM}|I21.4",
            "system": ICD10CM,
            "code": "I21.4",
            "role": "admitting",
            "rank": 1,
            "visit": "V100",
            "proc": f"{CPT}|92928",
            "surgeon": "2222222228",
        }
    ]
    # provenance: the message asserted the condition, as it asserts the visit
    assert (
        count(
            driver,
            database,
            "MATCH (:SourceRecord)-[:ASSERTED]->(c:Condition {key: $key}) RETURN count(c)",
            key=CONDITION,
        )
        == 1
    )
    before = fingerprint(driver, database)
    again = load(a01, source=SRC)
    assert again.total("unchanged") == 1
    assert fingerprint(driver, database) == before
    # a later update listing the same diagnosis (renumbered) names the same Condition
    a08 = write(tmp_path / "a08.hl7", [message("G2", dg1(2), event="A08")])
    load(a01, a08, source=SRC)
    assert count(driver, database, "MATCH (c:Condition) RETURN count(c)") == 1
    assert count(driver, database, "MATCH ()-[d:HAS_DIAGNOSIS]->(:Condition) RETURN count(d)") == 1
    # a discharge making it final adds the role to the same Condition
    a03 = write(tmp_path / "a03.hl7", [message("G3", dg1(1, kind="F"), event="A03")])
    load(a01, a08, a03, source=SRC)
    roles, _, _ = driver.execute_query(
        "MATCH (:Encounter)-[d:HAS_DIAGNOSIS]->(c:Condition) RETURN c.key AS c, d.role AS role "
        "ORDER BY role",
        database_=database,
    )
    assert [(r["c"], r["role"]) for r in roles] == [(CONDITION, "admitting"), (CONDITION, "final")]


def test_graph_samples_diagnoses_and_procedures(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(samples / "hl7v2", samples / "hl7v2-more", source=SRC)
    assert report.total("written") > 0
    assert not [w for w in report.warnings if "DG1" in w.warning.message]
    # hl7v2: the stroke (DG1 of A01/A03/A04/A08) of visit 40007716, the brain injury (ORM)
    # and the colitis (SIU) of visit 5001; hl7v2-more: the same stroke (A13, A28) and an ICD-9
    # osteoarthrosis of another visit
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_CONDITION]->(c:Condition)-[:HAS_CODE]->(k:Concept) "
        "MATCH (e:Encounter)-[d:HAS_DIAGNOSIS]->(c) "
        "RETURN k.key AS code, e.visitNumber AS visit, d.role AS role ORDER BY code",
        database_=database,
    )
    assert [tuple(r.values()) for r in records] == [
        (f"{ICD10CM}|S06.9", "5001", "final"),
        (f"{ICD9CM}|71596", "40007716", "admitting"),
        (f"{SNOMED}|422504002", "40007716", "admitting"),
        (f"{SNOMED}|64766004", "5001", "admitting"),
    ]
    assert count(driver, database, "MATCH (c:Condition) RETURN count(c)") == 4
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_PROCEDURE]->(x:Procedure)-[:FOR_ENCOUNTER]->(e:Encounter) "
        "MATCH (x)-[:HAS_CODE]->(k:Concept) "
        "OPTIONAL MATCH (x)-[r:HAS_PARTICIPANT]->(:Practitioner) "
        "RETURN k.key AS code, toString(x.start) AS start, e.visitNumber AS visit, "
        "collect(r.role) AS roles",
        database_=database,
    )
    assert [{**r, "roles": sorted(r["roles"])} for r in records] == [
        {
            "code": f"{SNOMED}|76164006",
            "start": "2005-01-25T11:40:00+01:00",
            "visit": "40007716",
            "roles": ["anesthesiologist", "performer", "surgeon"],
        }
    ]
    assert count(driver, database, "MATCH (x:Procedure) RETURN count(x)") == 1
