"""Context continuity: one patient, one visit, across FHIR, HL7 v2, DICOM and X12.

The scenario: Jane Doe has an MRN in the EHR (FHIR), the same MRN under the scheduling
system's assigning authority in an HL7 v2 SIU, the same MRN under the PACS's issuer in a DICOM
study, and only a member id with her name and birth date in the payer's 837; the 835 pays
that claim. Her namesake, born another year, is in the EHR only and must stay apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load as run_load
from tests.loaders.conftest import count

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.1"
VISIT_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.2"
NPI = "http://hl7.org/fhir/sid/us-npi"
DOCTOR_NPI = "1234567893"
CLINIC_NPI = "1245319599"
IDENTITY = IdentityConfig(aliases={"RIVERSIDE": MRN_SYSTEM, "RIVERSIDE-VN": VISIT_SYSTEM})


def fhir_bundle() -> dict[str, object]:
    def entry(resource: dict[str, object]) -> dict[str, object]:
        return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}

    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            entry({
                "resourceType": "Patient", "id": "11111111-0000-4000-8000-000000000001",
                "identifier": [{"system": MRN_SYSTEM, "value": "MRN1001",
                                "type": {"coding": [{"code": "MR"}]}}],
                "name": [{"family": "Doe", "given": ["Jane"]}],
                "gender": "female", "birthDate": "1970-05-06",
            }),
            entry({
                "resourceType": "Patient", "id": "11111111-0000-4000-8000-000000000002",
                "identifier": [{"system": MRN_SYSTEM, "value": "MRN1002"}],
                "name": [{"family": "Doe", "given": ["Jane"]}],
                "gender": "female", "birthDate": "1980-01-01",
            }),
            entry({
                "resourceType": "Practitioner", "id": "11111111-0000-4000-8000-000000000003",
                "identifier": [{"system": NPI, "value": DOCTOR_NPI}],
                "name": [{"family": "Smith", "given": ["John"]}],
            }),
            entry({
                "resourceType": "Organization", "id": "11111111-0000-4000-8000-000000000004",
                "identifier": [{"system": NPI, "value": CLINIC_NPI}],
                "name": "Riverside Clinic",
            }),
            entry({
                "resourceType": "Encounter", "id": "11111111-0000-4000-8000-000000000005",
                "identifier": [{"system": VISIT_SYSTEM, "value": "V5001"}],
                "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                          "code": "AMB"},
                "subject": {"reference": "urn:uuid:11111111-0000-4000-8000-000000000001"},
                "participant": [{"individual": {
                    "reference": f"Practitioner?identifier={NPI}|{DOCTOR_NPI}"}}],
                "serviceProvider": {"reference": f"Organization?identifier={NPI}|{CLINIC_NPI}"},
                "period": {"start": "2024-03-01T09:00:00-05:00",
                           "end": "2024-03-01T11:00:00-05:00"},
            }),
        ],
    }  # fmt: skip


SIU = (
    "\r".join(
        [
            "MSH|^~\\&|SCHED|RIVERSIDE|CAREGRAPH|RIVERSIDE|20240220120000||SIU^S12|SCH0001|P|2.5.1",
            "SCH|APT77^SCHED|APT77^SCHED|||||Follow-up|FOLLOWUP|60|min|^^60^20240301090000-0500"
            "^20240301100000-0500|||||||||||||||Booked",
            "PID|1||MRN1001^^^RIVERSIDE^MR||Doe^Jane||19700506|F",
            "RGS|1",
            "AIS|1||FOLLOWUP^Follow-up visit|20240301090000-0500|0|min|60|min",
            f"AIP|1||{DOCTOR_NPI}^Smith^John^^^^^^NPI|ATT|||20240301090000-0500|0|min|60|min",
        ]
    )
    + "\r"
)


def dicom_json() -> list[dict[str, object]]:
    def v(vr: str, *values: object) -> dict[str, object]:
        return {"vr": vr, "Value": list(values)}

    return [{
        "00080020": v("DA", "20240301"), "00080030": v("TM", "100000"),
        "00080050": v("SH", "ACC9001"), "00080060": v("CS", "CT"),
        "00080080": v("LO", "Riverside Imaging"),
        "00080090": {"vr": "PN", "Value": [{"Alphabetic": "Smith^John"}]},
        "00080201": v("SH", "-0500"),
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": v("LO", "MRN1001"), "00100021": v("LO", "RIVERSIDE"),
        "00100030": v("DA", "19700506"), "00100040": v("CS", "F"),
        "0020000D": v("UI", "2.25.900100"), "0020000E": v("UI", "2.25.900101"),
        "00200011": v("IS", 1),
    }]  # fmt: skip


def x12(segments: list[str], kind: str, icn: str) -> str:
    """An interchange around one transaction set, with control numbers and counts right."""
    version = "005010X222A1" if kind == "837" else "005010X221A1"
    group = "HC" if kind == "837" else "HP"
    body = [f"ST*{kind}*0001*{version}", *segments]
    body.append(f"SE*{len(body) + 1}*0001")
    return (
        "~".join(
            [
                "ISA*00*          *00*          *ZZ*RIVERSIDE      *ZZ*PAYER          "
                f"*240305*1200*^*00501*{icn}*0*T*:",
                f"GS*{group}*RIVERSIDE*PAYER*20240305*1200*1*X*{version}",
                *body,
                "GE*1*1",
                f"IEA*1*{icn}",
            ]
        )
        + "~"
    )


CLAIM_837 = x12(
    [
        "BHT*0019*00*RV0001*20240305*1200*CH",
        "NM1*41*2*RIVERSIDE CLINIC*****46*RIVERSIDE",
        "PER*IC*BILLING*TE*5555550100",
        "NM1*40*2*ACME HEALTH PLAN*****46*60054",
        "HL*1**20*1",
        f"NM1*85*2*RIVERSIDE CLINIC*****XX*{CLINIC_NPI}",
        "N3*1 RIVER ROAD",
        "N4*SPRINGFIELD*IL*627010000",
        "REF*EI*123456789",
        "HL*2*1*22*0",
        "SBR*P*18*GRP1******CI",
        "NM1*IL*1*DOE*JANE****MI*MEMBER77",
        "DMG*D8*19700506*F",
        "NM1*PR*2*ACME HEALTH PLAN*****PI*60054",
        "CLM*V5001*150.00***11:B:1*Y*A*Y*Y",
        "HI*ABK:E119",
        f"NM1*82*1*SMITH*JOHN****XX*{DOCTOR_NPI}",
        "LX*1",
        "SV1*HC:99213*150.00*UN*1***1",
        "DTP*472*D8*20240301",
    ],
    "837",
    "000000501",
)

PAYMENT_835 = x12(
    [
        "BPR*I*120.00*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20240315",
        "TRN*1*TRACE5001*1512345678",
        "N1*PR*ACME HEALTH PLAN",
        "N3*1 PAYER PLAZA",
        "N4*HARTFORD*CT*061560000",
        "REF*2U*60054",
        f"N1*PE*RIVERSIDE CLINIC*XX*{CLINIC_NPI}",
        "LX*1",
        "CLP*V5001*1*150.00*120.00*30.00*12*PAYERICN5001",
        "CAS*PR*3*30.00",
        "NM1*QC*1*DOE*JANE****MI*MEMBER77",
    ],
    "835",
    "000000502",
)


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, filename, content in (
        ("ehr", "bundle.json", json.dumps(fhir_bundle())),
        ("scheduling", "siu.hl7", SIU),
        ("pacs", "study.json", json.dumps(dicom_json())),
        ("billing", "claims.837", CLAIM_837),
        ("payer", "payments.835", PAYMENT_835),
    ):
        folder = tmp_path / name
        folder.mkdir()
        (folder / filename).write_text(content)
        out[name] = folder
    return out


def load_all(driver: Driver, database: str, sources: dict[str, Path], order: list[str]) -> None:
    for name in order:
        report = run_load(
            [sources[name]], driver=driver, database=database, source=name, identity=IDENTITY
        )
        assert report.exit_code == 0, (name, report.as_json()["rejects"])


JANE = "MATCH (:Identifier {key: $mrn})-[:IDENTIFIES]->(p:Patient) RETURN p.key AS key"


def context_of(driver: Driver, database: str, mrn: str) -> dict[str, object]:
    records, _, _ = driver.execute_query(
        """
        MATCH (:Identifier {key: $mrn})-[:IDENTIFIES]->(p:Patient)
        OPTIONAL MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)
        OPTIONAL MATCH (p)-[:HAS_APPOINTMENT]->(a:Appointment)
        OPTIONAL MATCH (a)-[af:FOR_ENCOUNTER]->(e)
        OPTIONAL MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)
        OPTIONAL MATCH (s)-[sf:FOR_ENCOUNTER]->(e)
        OPTIONAL MATCH (s)-[sr:REFERRED_BY]->(doc:Practitioner)
        OPTIONAL MATCH (p)-[:HAS_CLAIM]->(c:Claim)
        OPTIONAL MATCH (c)-[cf:FOR_ENCOUNTER]->(e)
        OPTIONAL MATCH (r:Remittance)-[:REMITS]->(c)
        RETURN p.key AS patient, collect(DISTINCT e.visitNumber) AS visits,
               collect(DISTINCT a.key) AS appointments, collect(DISTINCT af.rule) AS apptRule,
               collect(DISTINCT s.studyInstanceUid) AS studies,
               collect(DISTINCT sf.rule) AS studyRule,
               collect(DISTINCT sr.rule) AS referrerRule, collect(DISTINCT doc.npi) AS referrer,
               collect(DISTINCT c.controlNumber) AS claims, collect(DISTINCT cf.rule) AS claimRule,
               collect(DISTINCT r.paymentAmount) AS paid
        """,
        mrn=f"{MRN_SYSTEM}|{mrn}",
        database_=database,
    )
    return dict(records[0])


ORDERS = [
    ["ehr", "scheduling", "pacs", "billing", "payer"],
    ["payer", "billing", "pacs", "scheduling", "ehr"],
]


@pytest.mark.parametrize("order", ORDERS, ids=["ehr-first", "ehr-last"])
def test_one_patient_one_visit_across_five_sources(
    clean_graph: Driver, database: str, sources: dict[str, Path], order: list[str]
) -> None:
    load_all(clean_graph, database, sources, order)
    jane = context_of(clean_graph, database, "MRN1001")
    assert jane["visits"] == ["V5001"]
    assert len(jane["appointments"]) == 1  # type: ignore[arg-type]
    assert jane["apptRule"] == ["same-patient-practitioner-time"]
    assert jane["studies"] == ["2.25.900100"]
    assert jane["studyRule"] == ["same-patient-during-encounter"]
    assert jane["referrer"] == [DOCTOR_NPI] and jane["referrerRule"] == ["referrer-name-unique"]
    assert jane["claims"] == ["V5001"] and jane["claimRule"] == ["claim-visit-number"]
    assert jane["paid"] == [120.0]

    namesake = context_of(clean_graph, database, "MRN1002")
    assert namesake["patient"] != jane["patient"]
    for field in ("visits", "appointments", "studies", "claims"):
        assert namesake[field] == []

    # one patient node for Jane, known by four source identifiers, each with its rule
    records, _, _ = clean_graph.execute_query(
        "MATCH (i:Identifier)-[x:IDENTIFIES]->(p:Patient {key: $k}) "
        "RETURN i.system AS system, x.rule AS rule",
        k=jane["patient"],
        database_=database,
    )
    rules = {r["system"]: r["rule"] for r in records}
    assert set(rules) >= {MRN_SYSTEM, "urn:caregraph:payer:60054:member"}
    if order[0] == "ehr":  # the EHR first: the claim's member id joins Jane by demographics
        assert rules[MRN_SYSTEM] == "asserted"
        assert rules["urn:caregraph:payer:60054:member"] == "demographics-exact"
    else:  # the claim first: the first source with the MRN joins the claim's patient so
        assert rules["urn:caregraph:payer:60054:member"] == "asserted"
        assert rules[MRN_SYSTEM] == "demographics-exact"
    assert (
        count(clean_graph, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 2
    )


def test_the_same_identifier_with_another_birth_date_is_kept_apart_and_reported(
    clean_graph: Driver, database: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    load_all(clean_graph, database, sources, ["ehr"])
    wrong = tmp_path / "pacs2"
    wrong.mkdir()
    study = dicom_json()
    study[0]["00100030"] = {"vr": "DA", "Value": ["19900101"]}
    study[0]["0020000D"] = {"vr": "UI", "Value": ["2.25.900200"]}
    study[0]["0020000E"] = {"vr": "UI", "Value": ["2.25.900201"]}
    (wrong / "study.json").write_text(json.dumps(study))
    report = run_load(
        [wrong], driver=clean_graph, database=database, source="pacs", identity=IDENTITY
    )
    assert report.conflicts and "identifier conflict" in report.conflicts[0]
    assert "19900101" not in report.conflicts[0] and "MRN1001" not in report.conflicts[0]
    jane = context_of(clean_graph, database, "MRN1001")
    assert jane["studies"] == []  # the study did not land on Jane


def test_an_ambiguous_referrer_is_left_unlinked(
    clean_graph: Driver, database: str, sources: dict[str, Path], tmp_path: Path
) -> None:
    bundle = fhir_bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    twin = {
        "resourceType": "Practitioner", "id": "11111111-0000-4000-8000-000000000009",
        "identifier": [{"system": NPI, "value": "1003000126"}],
        "name": [{"family": "Smith", "given": ["John"]}],
    }  # fmt: skip
    entries.append({"fullUrl": f"urn:uuid:{twin['id']}", "resource": twin})
    encounter = entries[4]["resource"]
    encounter["participant"].append(  # a second John Smith at the same visit
        {"individual": {"reference": f"urn:uuid:{twin['id']}"}}
    )
    (sources["ehr"] / "bundle.json").write_text(json.dumps(bundle))
    load_all(clean_graph, database, sources, ["ehr", "pacs"])
    jane = context_of(clean_graph, database, "MRN1001")
    assert jane["studies"] == ["2.25.900100"]
    assert jane["referrer"] == []  # two John Smiths: not linked


def test_a_claim_whose_visit_number_names_two_visits_is_left_unlinked_and_counted(
    clean_graph: Driver, database: str, sources: dict[str, Path]
) -> None:
    bundle = fhir_bundle()
    entries = bundle["entry"]
    assert isinstance(entries, list)
    # a second visit of Jane's, from another registration system, with the same number
    twin = json.loads(json.dumps(entries[4]["resource"]))
    twin["id"] = "11111111-0000-4000-8000-000000000019"
    twin["identifier"] = [{"system": "urn:oid:2.16.840.1.113883.3.7777.9", "value": "V5001"}]
    entries.append({"fullUrl": f"urn:uuid:{twin['id']}", "resource": twin})
    (sources["ehr"] / "bundle.json").write_text(json.dumps(bundle))
    load_all(clean_graph, database, sources, ["ehr"])
    report = run_load(
        [sources["billing"]], driver=clean_graph, database=database, source="billing",
        identity=IDENTITY,
    )  # fmt: skip
    assert report.exit_code == 0
    # two visits qualify by number (and two by date and practitioner): the claim links to none
    assert report.ambiguous.get("claim-visit-number") == 1
    assert report.ambiguous.get("same-patient-same-day") == 1
    assert report.as_json()["identity"]["ambiguous"]["claim-visit-number"] == 1
    jane = context_of(clean_graph, database, "MRN1001")
    assert jane["claimRule"] == []


def _claim_without_visit_number(service_day: str, rendering_npi: str) -> str:
    """The 837 with a patient account number that names no visit (CLM01 PCN-88), billed for
    ``service_day`` by ``rendering_npi``."""
    return (
        CLAIM_837.replace("CLM*V5001*", "CLM*PCN-88*")
        .replace("DTP*472*D8*20240301", f"DTP*472*D8*{service_day}")
        .replace(
            f"NM1*82*1*SMITH*JOHN****XX*{DOCTOR_NPI}", f"NM1*82*1*SMITH*JOHN****XX*{rendering_npi}"
        )
    )


@pytest.mark.parametrize(
    ("service_day", "rendering_npi", "linked"),
    [
        ("20240301", DOCTOR_NPI, True),  # the visit's day and its practitioner
        ("20240302", DOCTOR_NPI, False),  # the day after the visit
        ("20240301", "1679576722", False),  # the visit's day, another practitioner
    ],
    ids=["same-day-same-practitioner", "next-day", "other-practitioner"],
)
def test_a_claim_without_a_visit_number_meets_its_visit_by_day_and_practitioner(
    clean_graph: Driver,
    database: str,
    sources: dict[str, Path],
    service_day: str,
    rendering_npi: str,
    linked: bool,
) -> None:
    (sources["billing"] / "claims.837").write_text(
        _claim_without_visit_number(service_day, rendering_npi)
    )
    load_all(clean_graph, database, sources, ["ehr", "billing"])
    jane = context_of(clean_graph, database, "MRN1001")
    assert jane["claims"] == ["PCN-88"]  # her claim, by member id and demographics
    assert jane["claimRule"] == (["same-patient-same-day"] if linked else [])
    if linked:  # with the evidence the rule matched on
        evidence = clean_graph.execute_query(
            "MATCH (:Claim {controlNumber: 'PCN-88'})-[x:FOR_ENCOUNTER]->() RETURN x.evidence AS e",
            database_=database,
        ).records[0]["e"]
        assert "shared practitioner" in evidence


def test_the_graph_does_not_depend_on_where_the_batches_end(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    """The same sources in batches of 500 and of 7: the same graph, keys included. An
    encounter that names its diagnoses before the Condition resources that follow it in the
    same Bundle once made the Conditions keyed by their identifier when both fell in one batch,
    and by the reference's stub when a batch ended between them."""
    from caregraph.graph import integrity
    from caregraph.loaders.generator import generate
    from tests.loaders.conftest import census

    generate(tmp_path / "data", 12, seed=7, formats=("fhir", "hl7v2", "x12"))
    identity = IdentityConfig.from_file(tmp_path / "data" / "identity.toml")
    sources = (("adt", "hl7v2"), ("ehr", "fhir"), ("billing", "x12"))
    graphs = []
    for batch in (500, 7):
        integrity.wipe(clean_graph, database)
        for source, folder in sources:
            report = run_load(
                [tmp_path / "data" / folder], driver=clean_graph, database=database,
                source=source, identity=identity, batch_size=batch,
            )  # fmt: skip
            assert not report.fatal and report.total("written") > 0
        graphs.append(census(clean_graph, database))
    assert graphs[1].differences(graphs[0]) == {}
