"""A small multi-source health system, written here and loaded once per test module, and a
helper that runs GraphQL against it without HTTP.

Who is in it (the facts the tests check):

- Synthea CSV (source ``ehr``): Ada Lovelace with four visits in 2024 at General Hospital
  (Dr Gregory House, Dr Meredith Grey), three claims with items and two payments, a chest
  X-ray for her May visit, and Medicaid coverage; her May claim names a referring doctor
  ("ghost") whose own record was never loaded (a stub); Alan Turing with one visit; and
  ``CROWD`` patients, each with one visit with Dr House at General Hospital and a claim.
- HL7 v2 (source ``adt``): Jane Doe (HOSP|MRN001), visit V100 on 2024-05-01 08:30-05:00 with
  attending Dr John Smith (NPI 1234567893) and referring Dr Ann Jones, in ward WARD1; an
  appointment the same morning with Dr Jones, which the linking rules tie to the visit.
- X12 (sources ``billing`` and ``payer``): claim V100 from Test Clinic (NPI 1245319599),
  rendered by Dr Smith, for Jane (matched to her by demographics), with two lines; a payment.
  Its control number equals the visit number, so a rule links it to visit V100.
- DICOM JSON (source ``pacs``): a CT of Jane (LAKESIDE|RAD-7, matched by demographics) at
  10:00 that morning, referred by SMITH^JOHN; and a CT of Ana Rivera, LAKESIDE|MRN001, whose
  MRN value is Jane's too (so a bare "MRN001" is ambiguous).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from strawberry.types import ExecutionResult

from caregraph.api.access.pseudonyms import Pseudonyms
from caregraph.api.auth import KeyStore, Principal, Role
from caregraph.api.context import Context
from caregraph.api.fanout import FanoutCache
from caregraph.api.schema import schema
from caregraph.api.settings import ApiSettings
from caregraph.graph import integrity
from caregraph.graph import schema as graph_schema
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology

SYNTHEA = "https://github.com/synthetichealth/synthea"
NPI = "http://hl7.org/fhir/sid/us-npi"
CROWD = 20  # patients with one visit each with Dr House: the N+1 test walks them

ADA = f"{SYNTHEA}|ada"
JANE = "HOSP|MRN001"
SMITH_NPI = "1234567893"
CLINIC_NPI = "1245319599"
STUDY_UID = "1.2.840.99.7.1"
RIVERA_STUDY_UID = "1.2.840.99.7.2"

# the apps these tests start read their pseudonym key from here, not from a state directory
PSEUDONYM_KEY = "caregraph-tests-pseudonym-key"
os.environ.setdefault("CAREGRAPH_API_PSEUDONYM_KEY", PSEUDONYM_KEY)
PSEUDONYMS = Pseudonyms(PSEUDONYM_KEY.encode())


def principal(role: Role, subject: str | None = None) -> Principal:
    """A caller of a role, as authentication would make one; a test that counts a caller's
    reads names its own subject, so no other test's reads are counted with them."""
    return Principal(subject or f"test:{role.value}", role, "test")


ADMIN = principal(Role.admin)


# -- Synthea CSV -----------------------------------------------------------------------------

HEADERS = {
    "patients": "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,"
    "MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,"
    "HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE",
    "encounters": "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,"
    "DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,"
    "REASONDESCRIPTION",
    "organizations": "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION",
    "providers": "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,"
    "UTILIZATION",
    "payers": "Id,NAME,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,"
    "AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,"
    "UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,"
    "UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS",
    "claims": "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,"
    "DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,"
    "DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,"
    "SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,"
    "OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,"
    "HEALTHCARECLAIMTYPEID2",
    "claims_transactions": "ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,"
    "PLACEOFSERVICE,PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,"
    "DIAGNOSISREF3,DIAGNOSISREF4,UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,"
    "TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,"
    "PATIENTINSURANCEID,FEESCHEDULEID,PROVIDERID,SUPERVISINGPROVIDERID",
    "imaging_studies": "Id,DATE,PATIENT,ENCOUNTER,SERIES_UID,BODYSITE_CODE,"
    "BODYSITE_DESCRIPTION,MODALITY_CODE,MODALITY_DESCRIPTION,INSTANCE_UID,SOP_CODE,"
    "SOP_DESCRIPTION,PROCEDURE_CODE",
    "payer_transitions": "PATIENT,MEMBERID,START_YEAR,END_YEAR,PAYER,SECONDARY_PAYER,OWNERSHIP,"
    "OWNERNAME",
}


def write_table(folder: Path, table: str, rows: list[dict[str, str]]) -> None:
    header = HEADERS[table].split(",")
    lines = [",".join(header)]
    for row in rows:
        unknown = set(row) - set(header)
        assert not unknown, unknown
        lines.append(",".join(row.get(col, "") for col in header))
    (folder / f"{table}.csv").write_text("\n".join(lines) + "\n")


def visit(eid: str, pid: str, start: str, doctor: str, org: str, desc: str) -> dict[str, str]:
    return {
        "Id": eid, "START": start, "STOP": start[:11] + "23:00:00Z", "PATIENT": pid,
        "ORGANIZATION": org, "PROVIDER": doctor, "PAYER": "medicaid",
        "ENCOUNTERCLASS": "ambulatory", "CODE": "185349003", "DESCRIPTION": desc,
    }  # fmt: skip


def claim(cid: str, pid: str, eid: str, day: str, doctor: str) -> dict[str, str]:
    return {
        "Id": cid, "PATIENTID": pid, "PROVIDERID": doctor, "PRIMARYPATIENTINSURANCEID": "medicaid",
        "APPOINTMENTID": eid, "SERVICEDATE": f"{day}T09:00:00Z", "STATUS1": "CLOSED",
        "DIAGNOSIS1": "44054006",
    }  # fmt: skip


def charge(tid: str, cid: str, seq: str, amount: str, code: str, day: str) -> dict[str, str]:
    return {
        "ID": tid, "CLAIMID": cid, "CHARGEID": seq, "TYPE": "CHARGE", "AMOUNT": amount,
        "PROCEDURECODE": code, "UNITS": "1", "FROMDATE": f"{day}T09:00:00Z",
        "TODATE": f"{day}T09:30:00Z",
    }  # fmt: skip


def payment(tid: str, cid: str, paid: str, day: str) -> dict[str, str]:
    return {
        "ID": tid, "CLAIMID": cid, "CHARGEID": "1", "TYPE": "PAYMENT", "PAYMENTS": paid,
        "METHOD": "ECHECK", "FROMDATE": f"{day}T00:00:00Z",
    }  # fmt: skip


def write_synthea(folder: Path) -> None:
    folder.mkdir()
    people = [
        {"Id": "ada", "BIRTHDATE": "1970-03-04", "SSN": "999-11-1111", "FIRST": "Ada",
         "LAST": "Lovelace", "GENDER": "F", "CITY": "Boston", "STATE": "MA"},
        {"Id": "alan", "BIRTHDATE": "1960-06-23", "SSN": "999-22-2222", "FIRST": "Alan",
         "LAST": "Turing", "GENDER": "M"},
    ]  # fmt: skip
    people += [
        {"Id": f"crowd{i:02d}", "BIRTHDATE": "1990-01-01", "FIRST": f"Person{i:02d}",
         "LAST": "Crowd", "GENDER": "M" if i % 2 else "F"}
        for i in range(CROWD)
    ]  # fmt: skip
    write_table(folder, "patients", people)
    write_table(
        folder,
        "organizations",
        [
            {"Id": "general", "NAME": "General Hospital", "CITY": "Boston", "PHONE": "555"},
            {"Id": "clinicb", "NAME": "Clinic B", "CITY": "Cambridge"},
        ],
    )
    write_table(
        folder,
        "providers",
        [
            {"Id": "house", "ORGANIZATION": "general", "NAME": "Gregory House", "GENDER": "M",
             "SPECIALITY": "INTERNAL MEDICINE"},
            {"Id": "grey", "ORGANIZATION": "clinicb", "NAME": "Meredith Grey", "GENDER": "F",
             "SPECIALITY": "GENERAL PRACTICE"},
        ],
    )  # fmt: skip
    write_table(folder, "payers", [{"Id": "medicaid", "NAME": "Medicaid"}])
    visits = [
        visit("ada-v1", "ada", "2024-01-10T09:00:00Z", "house", "general", "Checkup"),
        visit("ada-v2", "ada", "2024-03-05T09:00:00Z", "grey", "clinicb", "Flu"),
        visit("ada-v3", "ada", "2024-05-01T09:00:00Z", "house", "general", "Chest pain"),
        visit("ada-v4", "ada", "2024-06-15T09:00:00Z", "house", "general", "Follow-up"),
        visit("alan-v1", "alan", "2024-02-01T09:00:00Z", "grey", "clinicb", "Checkup"),
    ]
    visits += [
        visit(f"crowd{i:02d}-v1", f"crowd{i:02d}", f"2024-04-{i + 1:02d}T09:00:00Z", "house",
              "general", "Screening")
        for i in range(CROWD)
    ]  # fmt: skip
    write_table(folder, "encounters", visits)
    claims = [
        claim("ada-c1", "ada", "ada-v1", "2024-01-10", "house"),
        claim("ada-c2", "ada", "ada-v2", "2024-03-05", "grey"),
        {**claim("ada-c3", "ada", "ada-v3", "2024-05-01", "house"), "REFERRINGPROVIDERID": "ghost"},
        claim("alan-c1", "alan", "alan-v1", "2024-02-01", "grey"),
    ]
    claims += [
        claim(f"crowd{i:02d}-c1", f"crowd{i:02d}", f"crowd{i:02d}-v1", f"2024-04-{i + 1:02d}",
              "house")
        for i in range(CROWD)
    ]  # fmt: skip
    write_table(folder, "claims", claims)
    write_table(
        folder,
        "claims_transactions",
        [
            charge("t1", "ada-c1", "1", "100.00", "185349003", "2024-01-10"),
            charge("t2", "ada-c1", "2", "20.50", "430193006", "2024-01-10"),
            charge("t3", "ada-c2", "1", "80.00", "185349003", "2024-03-05"),
            charge("t4", "ada-c3", "1", "300.00", "399208008", "2024-05-01"),
            charge("t5", "alan-c1", "1", "90.00", "185349003", "2024-02-01"),
            payment("t6", "ada-c1", "96.40", "2024-01-20"),
            payment("t7", "ada-c2", "64.00", "2024-03-15"),
            *(
                charge(f"tc{i}", f"crowd{i:02d}-c1", "1", "50.00", "185349003",
                       f"2024-04-{i + 1:02d}")
                for i in range(CROWD)
            ),
        ],
    )  # fmt: skip
    write_table(
        folder,
        "imaging_studies",
        [
            {"Id": "ada-xray", "DATE": "2024-05-01T10:00:00Z", "PATIENT": "ada",
             "ENCOUNTER": "ada-v3", "SERIES_UID": "1.2.840.99.5.1", "BODYSITE_CODE": "51185008",
             "BODYSITE_DESCRIPTION": "Chest", "MODALITY_CODE": "DX",
             "MODALITY_DESCRIPTION": "Digital Radiography", "PROCEDURE_CODE": "399208008"},
        ],
    )  # fmt: skip
    write_table(
        folder,
        "payer_transitions",
        [{"PATIENT": "ada", "MEMBERID": "M-ADA", "START_YEAR": "2020-01-01T00:00:00Z",
          "END_YEAR": "2030-01-01T00:00:00Z", "PAYER": "medicaid", "OWNERSHIP": "Self"}],
    )  # fmt: skip


# -- HL7 v2 ----------------------------------------------------------------------------------


def write_hl7(path: Path) -> None:
    pid = "PID|1||MRN001^^^HOSP^MR~123-45-6789^^^USSSA^SS||DOE^JANE^Q||19800102|F"
    adt = [
        "MSH|^~\\&|ADT|HOSP|CG|CG|20240501083000||ADT^A01^ADT_A01|A1|P|2.5.1",
        "EVN|A01|20240501083000",
        pid,
        "PV1|1|I|WARD1^101^A^MAINHOSP||||"
        f"{SMITH_NPI}^SMITH^JOHN^^^DR^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI|"
        "R77^JONES^ANN|||||||||||V100^^^MAINHOSP^VN|||||||||||||||||||||||||"
        "20240501083000-0500",
    ]
    siu = [
        "MSH|^~\\&|SCHED|HOSP|CG|CG|20240420120000||SIU^S12^SIU_S12|S1|P|2.5.1",
        "SCH|P55^CLINIC|F77^SCHED|||||||||||||||||||||||||Booked",
        "TQ1|||||||20240501090000-0500|20240501093000-0500",
        pid,
        "RGS|1",
        "AIS|1||45378^Colonoscopy^C4",
        "AIP|1||R77^JONES^ANN|GI^Gastroenterologist",
        "AIL|1||ENDO^2^^MAINHOSP",
    ]
    path.write_text("\r".join(adt) + "\r" + "\r".join(siu) + "\r")


# -- X12 -------------------------------------------------------------------------------------


def write_x12(folder: Path) -> None:
    isa = "ISA*00*          *00*          *ZZ*CGAPITEST      *ZZ*RECEIVER       *240502*0930*^*00501*000000201*0*T*:~"  # noqa: E501
    head = "GS*HC*CGAPITEST*RECEIVER*20240502*0930*1*X*005010X222A1~"
    claims = [
        "ST*837*0001*005010X222A1~",
        "BHT*0019*00*API0001*20240502*1200*CH~",
        "NM1*41*2*TEST CLINIC*****46*SUB01~",
        "PER*IC*BILLING*TE*5555550100~",
        "NM1*40*2*TEST PAYER*****46*60054~",
        "HL*1**20*1~",
        f"NM1*85*2*TEST CLINIC*****XX*{CLINIC_NPI}~",
        "N3*100 TEST STREET~",
        "N4*SPRINGFIELD*IL*627010000~",
        "REF*EI*123456789~",
        "HL*2*1*22*0~",
        "SBR*P*18*GRP1******CI~",
        "NM1*IL*1*DOE*JANE****MI*MEM1001~",
        "N3*12 MAIN ST~",
        "N4*SPRINGFIELD*IL*627010000~",
        "DMG*D8*19800102*F~",
        "NM1*PR*2*TEST PAYER*****PI*60054~",
        "CLM*V100*150.00***11:B:1*Y*A*Y*Y~",
        "HI*ABK:R079~",
        f"NM1*82*1*SMITH*JOHN****XX*{SMITH_NPI}~",
        "LX*1~",
        "SV1*HC:99213*100.00*UN*1***1~",
        "DTP*472*D8*20240501~",
        "LX*2~",
        "SV1*HC:71046*50.00*UN*1***1~",
        "DTP*472*D8*20240501~",
    ]
    claims += [f"SE*{len(claims) + 1}*0001~", "GE*1*1~", "IEA*1*000000201~"]  # SE01 counts ST..SE
    (folder / "claims.837").write_text(isa + head + "".join(claims))
    isa2 = isa.replace("000000201", "000000202")
    payments = [
        "GS*HP*CGAPITEST*RECEIVER*20240515*0930*1*X*005010X221A1~",
        "ST*835*0001~",
        "BPR*I*110.00*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20240515~",
        "TRN*1*TRACE1*1512345678~",
        "DTM*405*20240515~",
        "N1*PR*TEST PAYER~",
        "REF*2U*60054~",
        f"N1*PE*TEST CLINIC*XX*{CLINIC_NPI}~",
        "LX*1~",
        "CLP*V100*1*150.00*110.00*20.00*12*ICN0001~",
        "NM1*QC*1*DOE*JANE****MI*MEM1001~",
        "DTM*232*20240501~",
        "SVC*HC:99213*100.00*70.00**1~",
        "CAS*PR*3*20.00~",
        "CAS*CO*45*10.00~",
        "SVC*HC:71046*50.00*40.00**1~",
        "CAS*CO*45*10.00~",
        "SE*17*0001~",
        "GE*1*1~",
        "IEA*1*000000202~",
    ]
    (folder / "payments.835").write_text(isa2 + "".join(payments))


# -- DICOM JSON ------------------------------------------------------------------------------


def dicom_study(uid: str, pid: str, name: str, birth: str, sex: str, **more: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "0020000D": {"vr": "UI", "Value": [uid]},
        "00100020": {"vr": "LO", "Value": [pid]},
        "00100021": {"vr": "LO", "Value": ["LAKESIDE"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
        "00100030": {"vr": "DA", "Value": [birth]},
        "00100040": {"vr": "CS", "Value": [sex]},
        "00080061": {"vr": "CS", "Value": ["CT"]},
    }
    item.update(more)
    return item


def write_dicom(path: Path) -> None:
    jane = dicom_study(
        STUDY_UID, "RAD-7", "DOE^JANE", "19800102", "F",
        **{
            "00080020": {"vr": "DA", "Value": ["20240501"]},
            "00080030": {"vr": "TM", "Value": ["1000"]},
            "00080201": {"vr": "SH", "Value": ["-0500"]},
            "00081030": {"vr": "LO", "Value": ["CT CHEST"]},
            "00080090": {"vr": "PN", "Value": [{"Alphabetic": "SMITH^JOHN"}]},
            "00080050": {"vr": "SH", "Value": ["ACC-1"]},
        },
    )  # fmt: skip
    rivera = dicom_study(
        RIVERA_STUDY_UID, "MRN001", "RIVERA^ANA", "19900505", "F",
        **{
            "00080020": {"vr": "DA", "Value": ["20240305"]},
            "00080030": {"vr": "TM", "Value": ["0915"]},
        },
    )  # fmt: skip
    path.write_text(json.dumps([jane, rivera]))


# -- loading ---------------------------------------------------------------------------------


def write_all(root: Path) -> list[tuple[Path, str]]:
    """Write every source; (path, source system) in the order they are loaded."""
    write_synthea(root / "ehr")
    write_hl7(root / "adt.hl7")
    (root / "x12").mkdir()
    write_x12(root / "x12")
    write_dicom(root / "pacs.json")
    return [
        (root / "ehr", "ehr"),
        (root / "adt.hl7", "adt"),
        (root / "x12" / "claims.837", "billing"),
        (root / "x12" / "payments.835", "payer"),
        (root / "pacs.json", "pacs"),
    ]


def wipe(driver: Driver, database: str) -> None:
    integrity.wipe(driver, database)


def load_dataset(driver: Driver, database: str, root: Path) -> list[str]:
    """An empty graph, the ontology applied, then every source loaded; the load runs."""
    wipe(driver, database)
    graph_schema.apply(driver, database, load_ontology(), force=True)
    runs = []
    for path, source in write_all(root):
        report = load([path], driver=driver, database=database, source=source)
        assert report.exit_code == 0, (source, report.as_json()["rejects"])
        runs.append(report.run_id)
    return runs


def _fingerprint(driver: Driver, database: str) -> tuple[tuple[str, ...], int]:
    records, _, _ = driver.execute_query(
        "CALL () { MATCH (r:LoadRun) RETURN collect(r.runId) AS runs } "
        "CALL () { MATCH (n:Entity) RETURN count(n) AS entities } RETURN runs, entities",
        database_=database,
    )
    return tuple(sorted(records[0]["runs"])), int(records[0]["entities"])


_LOADED: dict[str, tuple[tuple[str, ...], int]] = {}


def forget_dataset() -> None:
    """The next module's `dataset` loads afresh (a test changed what the fingerprint misses)."""
    _LOADED.clear()


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> Driver:
    """The graph above, for the module: loaded once, and again only if something else (another
    module's clean graph or load) changed it since."""
    database = neo4j_conn.database
    if _LOADED.get(database) != _fingerprint(driver, database):
        load_dataset(driver, database, tmp_path_factory.mktemp("api-data"))
        _LOADED[database] = _fingerprint(driver, database)
    return driver


@dataclass
class Run:
    """One GraphQL execution: its result and the context it ran with."""

    result: ExecutionResult
    context: Context

    @property
    def data(self) -> Any:
        assert self.result.errors is None, [e.formatted for e in self.result.errors]
        return self.result.data

    @property
    def errors(self) -> list[dict[str, Any]]:
        assert self.result.errors, "expected errors"
        return [dict(e.formatted) for e in self.result.errors]


Gql = Callable[..., Run]


def make_gql(driver: Driver, database: str) -> Gql:
    """gql(query, variables=None, settings=None, **context) -> Run, without HTTP; as an admin
    unless the context names another ``principal`` (None: nobody)."""
    fanout = FanoutCache()

    def run(
        query: str,
        variables: dict[str, Any] | None = None,
        settings: ApiSettings | None = None,
        **context: Any,
    ) -> Run:
        context.setdefault("principal", ADMIN)
        context.setdefault("pseudonyms", PSEUDONYMS)
        ctx = Context(
            driver=driver,
            database=database,
            settings=settings or ApiSettings(),
            fanout=fanout,
            **context,
        )
        result = asyncio.run(schema.execute(query, variable_values=variables, context_value=ctx))
        return Run(result, ctx)

    return run


@pytest.fixture(scope="module")
def gql(dataset: Driver, neo4j_conn: Neo4jSettings) -> Gql:
    """GraphQL against the module's dataset."""
    return make_gql(dataset, neo4j_conn.database)


KeyMaker = Callable[..., str]


@pytest.fixture
def api_key(driver: Driver, neo4j_conn: Neo4jSettings) -> KeyMaker:
    """api_key(role=Role.admin) -> a new API key of that role in the session's graph (made
    after the dataset is loaded: loading a dataset empties the graph, keys and all)."""

    def make(role: Role = Role.admin) -> str:
        return KeyStore(driver, neo4j_conn.database).create(role, f"test-{role.value}")

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
