"""Synthea CSV bad input: each bad row rejected with where and why, the rest loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from tests.loaders.conftest import Load, count

PATIENTS_HEADER = (
    "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,"
    "ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,HEALTHCARE_EXPENSES,"
    "HEALTHCARE_COVERAGE"
)
ENCOUNTERS_HEADER = (
    "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,"
    "BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION"
)
CLAIMS_HEADER = (
    "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,DEPARTMENTID,"
    "PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,DIAGNOSIS6,"
    "DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,SERVICEDATE,"
    "SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,OUTSTANDINGP,"
    "LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,HEALTHCARECLAIMTYPEID2"
)
TX_HEADER = (
    "ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,PLACEOFSERVICE,"
    "PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,DIAGNOSISREF3,DIAGNOSISREF4,"
    "UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,"
    "TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,PATIENTINSURANCEID,FEESCHEDULEID,PROVIDERID,"
    "SUPERVISINGPROVIDERID"
)


def patient(pid: str, first: str, last: str, birth: str = "1970-03-04", gender: str = "F") -> str:
    cols = [""] * 25
    cols[0], cols[1], cols[7], cols[8], cols[14] = pid, birth, first, last, gender
    return ",".join(cols)


def encounter(eid: str, pid: str, start: str = "2024-05-01T10:00:00Z") -> str:
    cols = [""] * 15
    cols[0], cols[1], cols[2], cols[3], cols[7] = (
        eid,
        start,
        "2024-05-01T10:30:00Z",
        pid,
        "ambulatory",
    )
    return ",".join(cols)


def claim(cid: str, pid: str, eid: str) -> str:
    cols = [""] * 31
    cols[0], cols[1], cols[16], cols[18] = cid, pid, eid, "2024-05-01T10:00:00Z"
    return ",".join(cols)


def charge(tid: str, cid: str, amount: str, chargeid: str = "1") -> str:
    cols = [""] * 33
    cols[0], cols[1], cols[2], cols[4], cols[5], cols[10], cols[17] = (
        tid, cid, chargeid, "CHARGE", amount, "185345009", "1",
    )  # fmt: skip
    return ",".join(cols)


def payment(tid: str, cid: str, paid: str) -> str:
    cols = [""] * 33
    cols[0], cols[1], cols[2], cols[4], cols[23] = tid, cid, "2", "PAYMENT", paid
    return ",".join(cols)


def write(path: Path, header: str, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


SECRET_NAMES = ("Zebulon", "Quixote")


@pytest.fixture
def export(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    patients = [
        patient("p1", "Ada", "Lovelace"),  # line 2: good
        "p2,1980-01-01,,,,",  # line 3: truncated row
        patient("p3", "Zebulon", "Quixote", birth=""),  # line 4: missing birth date
        patient("p4", "Zebulon", "Quixote", birth="1980-13-45"),  # line 5: impossible date
        patient("p5", "Robert'); MATCH (n) DETACH DELETE n //", "{{7*7}}"),  # line 6: odd but valid
        patient("", "Zebulon", "Quixote"),  # line 7: no id
        patient("p7", "Grace", "Hopper") + ",extra,fields",  # line 8: too many fields
        patient("p8", "Alan", "Turing"),  # line 9: good
    ]
    write(d / "patients.csv", PATIENTS_HEADER, patients)
    # line 3 holds Latin-1 bytes: not UTF-8
    raw = (PATIENTS_HEADER + "\n" + patient("p9", "Ann", "Jones") + "\n").encode()
    raw += patient("p10", "Zoë", "Quixote").encode("latin-1") + b"\n"
    (d / "patients_more.csv").write_bytes(raw)
    write(
        d / "encounters.csv",
        ENCOUNTERS_HEADER,
        [
            encounter("e1", "p1"),  # good
            encounter("e2", "p8", start="yesterday"),  # not a date-time
            encounter("e3", ""),  # no patient
        ],
    )
    write(d / "claims.csv", CLAIMS_HEADER, [claim("c1", "p1", "e1"), claim("c2", "p8", "e1")])
    write(
        d / "claims_transactions.csv",
        TX_HEADER,
        [
            charge("t1", "c1", "120.50"),
            charge("t2", "c2", "lots"),  # not a number: c2's charge line is bad
            payment("t3", "c1", "100.00"),
            payment("t4", "c1", ""),  # a payment without an amount
        ],
    )
    (d / "notes.csv").write_text("when,what\nmonday,nothing\n")  # a CSV that is not Synthea
    (d / "utf16.csv").write_bytes((PATIENTS_HEADER + "\n").encode("utf-16"))
    return d


def test_bad_rows_are_rejected_and_the_rest_loads(
    load: Load, driver: Driver, database: str, export: Path
) -> None:
    report = load(export, source="bad")
    rejects = {(Path(r.ref.file).name, r.ref.position): r.reason for r in report.rejects}

    # rejected: what cannot be read as a row, or has no identity, or a value the row's only
    # purpose is (a charge line's amount)
    assert "line has 6 fields, the header has 25" in rejects[("patients.csv", "line 3")]
    assert "ID is empty" in rejects[("patients.csv", "line 7")]
    assert "27 fields" in rejects[("patients.csv", "line 8")]
    assert "not valid UTF-8" in rejects[("patients_more.csv", "line 3")]
    assert "not a number" in rejects[("claims.csv", "line 3")]  # c2, with its bad charge line
    assert "AMOUNT" in rejects[("claims_transactions.csv", "line 3")]
    assert "not a format caregraph reads" in rejects[("notes.csv", "file")]
    assert "not a format caregraph reads" in rejects[("utf16.csv", "file")]
    assert len(rejects) == 8
    codes = {(Path(r.ref.file).name, r.ref.position): r.code for r in report.rejects}
    assert codes[("patients.csv", "line 3")] == "syntax"
    assert codes[("patients.csv", "line 7")] == "identity"
    assert codes[("notes.csv", "file")] == "unsupported"

    # written with warnings: understood, but incomplete or with a value that does not parse
    warned: dict[tuple[str, str], list[str]] = {}
    for w in report.warnings:
        where = (Path(w.ref.file).name, w.ref.position)
        warned.setdefault(where, []).append(f"{w.warning.code}: {w.warning.message}")
    assert warned[("patients.csv", "line 4")] == ["incomplete: patients: column BIRTHDATE is empty"]
    assert warned[("patients.csv", "line 5")] == [
        "unusual-value: line 5: Patient: birthDate is not an xsd:date: left out"
    ]
    assert any("start is not an xsd:dateTime: left out" in w
               for w in warned[("encounters.csv", "line 3")])  # fmt: skip
    assert any("subject (incoming hasEncounter) is missing" in w
               for w in warned[("encounters.csv", "line 4")])  # fmt: skip
    assert any(
        "paymentAmount is absent" in w for w in warned[("claims_transactions.csv", "line 5")]
    )
    for messages in warned.values():  # nor do warnings
        for secret in (*SECRET_NAMES, "1980-13-45", "yesterday", "lots", "Zoë"):
            assert all(secret not in m for m in messages)

    for reason in rejects.values():  # reasons never carry patient values
        for secret in (*SECRET_NAMES, "1980-13-45", "yesterday", "lots", "Zoë"):
            assert secret not in reason

    assert [f.path for f in report.files if not f.reconciles] == []
    assert report.exit_code == 1
    assert report.total("read") == report.total("written") + report.total("skipped") + 8

    # the records around the bad ones are in the graph, whole, and so are the incomplete ones
    names, _, _ = driver.execute_query(
        "MATCH (p:Patient) WHERE p.stub IS NULL "
        "RETURN p.familyName AS f, toString(p.birthDate) AS b ORDER BY f, b",
        database_=database,
    )
    assert [(r["f"], r["b"]) for r in names] == [
        ("Jones", "1970-03-04"), ("Lovelace", "1970-03-04"), ("Quixote", None),
        ("Quixote", None), ("Turing", "1970-03-04"), ("{{7*7}}", "1970-03-04"),
    ]  # fmt: skip
    assert count(driver, database, "MATCH (p:Patient {givenNames: [$g]}) RETURN count(p)",
                 g="Robert'); MATCH (n) DETACH DELETE n //") == 1  # fmt: skip
    # e1 and e2 (its start left out) have their patients; e3 has none
    assert (
        count(driver, database, "MATCH (:Patient)-[:HAS_ENCOUNTER]->(e:Encounter) RETURN count(e)")
        == 2
    )
    assert count(driver, database, "MATCH (e:Encounter) WHERE e.start IS NULL RETURN count(e)") == 1
    assert count(
        driver, database,
        "MATCH (:Remittance {paymentAmount: 100.0})-[:REMITS]->(c:Claim {controlNumber: 'c1'})"
        "-[:HAS_ITEM]->(:ClaimItem {chargeAmount: 120.5}) RETURN count(c)",
    ) == 1  # fmt: skip

    listing = [json.loads(x) for x in Path(report.rejects_file or "").read_text().splitlines()]
    assert sum(1 for x in listing if x["outcome"] == "rejected") == 8
    assert sum(1 for x in listing if x["outcome"] == "warning") == len(report.warnings)


CONDITIONS_HEADER = "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION"
PROCEDURES_HEADER = (
    "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"
)


def test_bad_conditions_and_procedures(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    d = tmp_path / "clinical"
    d.mkdir()
    write(d / "patients.csv", PATIENTS_HEADER, [patient("p1", "Ada", "Lovelace")])
    write(d / "encounters.csv", ENCOUNTERS_HEADER, [encounter("e1", "p1")])
    write(
        d / "conditions.csv",
        CONDITIONS_HEADER,
        [
            "2024-05-01,,p1,e1,SNOMED-CT,38341003,Zebulon's hypertension",  # line 2: good
            "2024-05-01,,,e1,SNOMED-CT,38341003,Quixote",  # line 3: no patient
            "2024-05-01,,p1,e1,SNOMED-CT,,Quixote",  # line 4: no code
            "2024-05-01,,p1,,SNOMED-CT,44054006,diabetes",  # line 5: no encounter
            "someday,,p1,e1,SNOMED-CT,15777000,prediabetes",  # line 6: not a date
            "2024-05-01,,p1,e1,ZEBCODES,Z-1,Zebulon",  # line 7: a system no one knows
            "2024-05-01,,p1,e1",  # line 8: truncated
        ],
    )
    write(
        d / "procedures.csv",
        PROCEDURES_HEADER,
        [
            "2024-05-01T10:05:00Z,,p1,e1,SNOMED-CT,171207006,Quixote,12.50,38341003,x",  # good
            ",,p1,e1,SNOMED-CT,171207006,Quixote,12.50,,",  # line 3: no start
        ],
    )
    report = load(d, source="bad")
    rejects = {(Path(r.ref.file).name, r.ref.position): r for r in report.rejects}
    assert {k: (r.code, r.reason) for k, r in rejects.items()} == {
        ("conditions.csv", "line 3"): ("identity", "conditions: required column PATIENT is empty"),
        ("conditions.csv", "line 4"): ("identity", "conditions: required column CODE is empty"),
        ("conditions.csv", "line 8"): (
            "syntax", "conditions: line has 4 fields, the header has 7",
        ),
        ("procedures.csv", "line 3"): ("identity", "procedures: required column START is empty"),
    }  # fmt: skip
    warned: dict[tuple[str, str], list[str]] = {}
    for w in report.warnings:
        where = (Path(w.ref.file).name, w.ref.position)
        warned.setdefault(where, []).append(f"{w.warning.code}: {w.warning.message}")
    assert warned[("conditions.csv", "line 5")] == [
        "incomplete: conditions: column ENCOUNTER is empty"
    ]
    assert warned[("conditions.csv", "line 6")] == [
        "unusual-value: line 6: Condition: onset is not an xsd:dateTime: left out"
    ]
    assert warned[("conditions.csv", "line 7")] == [
        "unusual-value: conditions: column SYSTEM names a code system caregraph does not know: "
        "its codes are keyed under the name as given"
    ]
    everything = " ".join(
        [r.reason for r in report.rejects] + [m for ms in warned.values() for m in ms]
    )
    for secret in ("Zebulon", "Quixote", "someday", "ZEBCODES", "38341003", "2024-05-01"):
        assert secret not in everything
    assert all(f.reconciles for f in report.files) and report.exit_code == 1
    # written: the good rows and the unusual ones, each with its patient
    assert count(
        driver, database,
        "MATCH (:Patient {key: $p})-[:HAS_CONDITION]->(c:Condition) RETURN count(c)",
        p="https://github.com/synthetichealth/synthea|p1",
    ) == 4  # fmt: skip
    assert count(
        driver, database,
        "MATCH (:Patient)-[:HAS_PROCEDURE]->(:Procedure)-[:HAS_REASON]->"
        "(:Concept {code: '38341003'})<-[:HAS_CODE]-(:Condition) RETURN count(*)",
    ) == 1  # fmt: skip
    assert count(
        driver, database, "MATCH (c:Condition) WHERE c.onset IS NULL RETURN count(c)"
    ) == 1  # fmt: skip
