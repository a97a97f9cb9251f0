"""HL7 v2: facts from the shared samples and from messages written here, record and graph level."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders import keys
from caregraph.loaders.hl7v2 import LOADER
from caregraph.loaders.hl7v2.datatypes import dtm, location
from caregraph.loaders.hl7v2.errors import BadValue
from caregraph.loaders.hl7v2.segments import Rep
from caregraph.loaders.records import Item, Node, Record, Rejected, Skipped
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count, domain_nodes

SRC = "feed"
PATIENT = "urn:oid:2.16.1|PATID1234"  # PID-3 PATID1234^5^M11^test1&2.16.1&HCD^MR
VISIT = "urn:oid:1.2|40007716"  # PV1-19 40007716^^^AccMng&1.2&HCD^AM
ATTENDING = "urn:oid:1.23|1122334"  # PV1-7 1122334^Alaz^...^PERSONNELt&1.23&HCD
APPOINTMENT = "urn:caregraph:feed:appointment|36996"  # SCH-2 filler id, no namespace


# -- helpers ---------------------------------------------------------------------------------


def hl7_dir(samples: Path) -> Path:
    return samples / "hl7v2"


def items(path: Path, source: str = SRC) -> list[Item]:
    return list(LOADER.read(path, source))


def one_record(path: Path, source: str = SRC) -> Record:
    found = items(path, source)
    assert len(found) == 1 and isinstance(found[0], Record), found
    return found[0]


def node(rec: Record, cls: object, key: str | None = None) -> Node:
    found = [n for n in rec.nodes if n.cls == cls and (key is None or n.key == key)]
    assert len(found) == 1, [(n.cls, n.key) for n in rec.nodes]
    return found[0]


def links(rec: Record, rel: object) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (x.src.key, x.dst.key, {str(k).rsplit("#", 1)[-1]: v for k, v in x.props.items()})
        for x in rec.links
        if x.rel == rel
    ]


def seg(sid: str, fields: dict[int, str]) -> str:
    """A segment with the given fields set (the rest empty)."""
    last = max(fields) if fields else 0
    return "|".join([sid] + [fields.get(i, "") for i in range(1, last + 1)])


def msh(mtype: str, control: str, version: str = "2.5.1", charset: str = "") -> str:
    head = f"MSH|^~\\&|APP|FAC|CG|CG|20240501120000||{mtype}|{control}|P|{version}"
    return head + ("|" * 6 + charset if charset else "")


def pid(mrn: str = "MRN001", name: str = "DOE^JANE^Q", birth: str = "19800102") -> str:
    return seg(
        "PID",
        {
            1: "1",
            3: f"{mrn}^^^HOSP^MR~123-45-6789^^^USSSA^SS",
            5: name,
            7: birth,
            8: "F",
            11: "12 MAIN ST^APT 4^SPRINGFIELD^IL^62701^USA",
        },
    )


def pv1(visit: str = "V100", admit: str = "20240501083000-0500", **extra: str) -> str:
    fields = {
        1: "1",
        2: "I",
        3: "WARD1^101^A^MAINHOSP",
        7: "1234567893^SMITH^JOHN^^^DR^^^NPI&2.16.840.1.113883.4.6&ISO^L^^^NPI",
        8: "R77^JONES^ANN",
        19: f"{visit}^^^MAINHOSP^VN",
        44: admit,
    }
    fields.update({int(k[1:]): v for k, v in extra.items()})
    return seg("PV1", fields)


def adt(event: str, control: str, *, visit: str = "V100", **pv1_extra: str) -> list[str]:
    return [
        msh(f"ADT^{event}^ADT_A01", control),
        f"EVN|{event}|20240501120000",
        pid(),
        pv1(visit, **pv1_extra),
    ]


def siu(event: str, control: str, start: str = "20240610091500-0500") -> list[str]:
    return [
        msh(f"SIU^{event}^SIU_S12", control),
        seg("SCH", {1: "P55^CLINIC", 2: "F77^SCHED", 6: "PATCANC^Patient cancelled"}),
        f"TQ1|||||||{start}|20240610094500-0500",
        pid(),
        "RGS|1",
        "AIS|1||45378^Colonoscopy^C4",
        seg("AIP", {1: "1", 3: "R77^JONES^ANN", 4: "GI^Gastroenterologist"}),
        seg("AIL", {1: "1", 3: "ENDO^2^^MAINHOSP"}),
    ]


def orm(control: str) -> list[str]:
    return [
        msh("ORM^O01^ORM_O01", control, "2.3.1"),
        pid(),
        pv1(),
        seg("ORC", {1: "NW", 2: "PL900^EPIC", 3: "FL900^RIS", 5: "SC", 12: "R77^JONES^ANN"}),
        seg("OBR", {1: "1", 2: "PL900^EPIC", 3: "FL900^RIS", 4: "71250^CT chest^C4", 18: "ACC9"}),
    ]


def write(path: Path, messages: list[list[str]], eol: str = "\r", mllp: bool = False) -> Path:
    out = b""
    for message in messages:
        body = (eol.join(message) + eol).encode("utf-8")
        out += b"\x0b" + body + b"\x1c\r" if mllp else body
    path.write_bytes(out)
    return path


# -- detection and framing -------------------------------------------------------------------


def test_detects_hl7_by_its_header_even_behind_a_bom_or_mllp_byte(tmp_path: Path) -> None:
    assert LOADER.detect(tmp_path / "x.txt", b"\xef\xbb\xbfMSH|^~\\&|A")
    assert LOADER.detect(tmp_path / "x.txt", b"\x0bMSH|^~\\&|A")
    assert LOADER.detect(tmp_path / "feed.hl7", b"garbage")  # named .hl7: read, then rejected
    assert not LOADER.detect(tmp_path / "x.json", b'{"resourceType": "Patient"}')
    assert not LOADER.detect(tmp_path / "x.txt", b"MSHALLOW")


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"], ids=["CR", "LF", "CRLF"])
def test_several_messages_per_file_with_any_segment_end(tmp_path: Path, eol: str) -> None:
    path = write(tmp_path / "feed.hl7", [adt("A01", "C1"), siu("S12", "C2"), orm("C3")], eol)
    got = items(path)
    assert [type(i).__name__ for i in got] == ["Record", "Record", "Record"]
    assert [i.ref.record_id for i in got] == ["C1", "C2", "C3"]
    assert [i.ref.position for i in got] == [
        "message 1 (line 1)",
        "message 2 (line 5)",
        "message 3 (line 13)",
    ]
    assert [i.kind for i in got if isinstance(i, Record)] == ["ADT^A01", "SIU^S12", "ORM^O01"]


def test_mllp_framing_is_stripped(tmp_path: Path) -> None:
    path = write(tmp_path / "mllp.hl7", [adt("A01", "M1"), adt("A08", "M2")], "\r", mllp=True)
    got = items(path)
    assert [i.ref.record_id for i in got] == ["M1", "M2"]
    assert all(isinstance(i, Record) for i in got)
    rec = got[0]
    assert isinstance(rec, Record)
    assert node(rec, CG.Patient).key == "HOSP|MRN001"


def test_batch_envelope_and_unmodelled_messages(tmp_path: Path) -> None:
    ack = [msh("ACK^A01", "K1"), "MSA|AA|C1"]
    path = tmp_path / "batch.hl7"
    lines = ["FHS|^~\\&|APP", "BHS|^~\\&|APP", *adt("A01", "C1"), *ack, "BTS|2", "FTS|1"]
    path.write_text("\r".join(lines) + "\r")
    got = items(path)
    assert isinstance(got[0], Record)
    assert isinstance(got[1], Skipped) and got[1].kind == "ACK^A01"
    assert got[1].ref.position == "message 2 (line 7)"
    assert len(got) == 2


# -- ADT -------------------------------------------------------------------------------------


def test_adt_a01_sample_visit_with_attending_and_location(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ADT-A01-01.hl7")
    assert rec.kind == "ADT^A01" and rec.ref.record_id == "MSG00001"
    assert rec.ref.position == "message 1 (line 1)"
    pat = node(rec, CG.Patient)
    assert pat.key == PATIENT
    assert pat.props[CG.familyName] == "EVERYMAN"
    assert pat.props[CG.givenNames] == ["ADAM", "A"]
    assert pat.props[CG.birthDate] == "1988-08-18"
    assert pat.props[CG.gender] == "male"
    assert pat.props[CG.city] == "Ann Arbor"
    assert {i.token for i in pat.identifiers} == {PATIENT, f"{keys.SSN_SYSTEM}|123456789"}

    enc = node(rec, CG.Encounter)
    assert enc.key == VISIT
    assert enc.props[CG.visitNumber] == "40007716"
    assert enc.props[CG.start] == "2015-02-08T11:34:19+01:10"
    assert enc.props[CG.status] == "in-progress"
    assert enc.props[CG.encounterClass] == "http://terminology.hl7.org/CodeSystem/v3-ActCode|PRENC"
    assert [i.type for i in enc.identifiers] == ["VN"]
    assert links(rec, CG.hasEncounter) == [(PATIENT, VISIT, {})]

    roles = {dst: p["role"] for _, dst, p in links(rec, CG.hasParticipant)}
    assert roles[ATTENDING] == "attending"
    assert node(rec, CG.Practitioner, ATTENDING).props[CG.familyName] == "Alaz"
    assert "referring" in roles.values() and "consulting" in roles.values()

    loc = node(rec, CG.Location)
    assert loc.props[CG.name] == "HOMERTON UNIVER / HUH AE OMU / OMU B / Bed 03"
    assert links(rec, CG.atLocation) == [(VISIT, loc.key, {})]


def test_adt_a03_finishes_the_same_visit(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ADT-A03-01.hl7")
    enc = node(rec, CG.Encounter)
    assert enc.key == VISIT
    assert enc.props[CG.status] == "finished"
    assert enc.props[CG.end] == "2015-02-09T11:34:19+01:10"


def test_adt_a08_updates_same_keys_without_touching_status(samples: Path) -> None:
    a01 = one_record(hl7_dir(samples) / "ADT-A01-01.hl7")
    a08 = one_record(hl7_dir(samples) / "ADT-A08-01.hl7")
    assert node(a08, CG.Patient).key == node(a01, CG.Patient).key
    assert node(a08, CG.Encounter).key == node(a01, CG.Encounter).key
    assert CG.status not in node(a08, CG.Encounter).props


def test_v23_adt_without_visit_number_keys_visit_by_patient_and_admit(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ADT04-251.hl7")  # v2.3, UTF-8 BOM, LF endings
    pat = node(rec, CG.Patient)
    assert pat.key == f"{keys.local_system(SRC, 'PID-3')}|MRN12345"
    enc = node(rec, CG.Encounter)
    assert enc.props[CG.status] == "arrived"
    assert enc.props[CG.start] == "2019-05-04T18:12:05+07:00"
    assert enc.key == f"{keys.local_system(SRC, 'visit')}|{pat.key}@2019-05-04T18:12:05+07:00"


def test_own_adt_npi_practitioner_and_address(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "a.hl7", [adt("A01", "C1")]))
    doc = node(rec, CG.Practitioner, f"{keys.NPI_SYSTEM}|1234567893")
    assert doc.props[CG.npi] == "1234567893"
    assert doc.props[CG.nameText] == "JOHN SMITH"
    local = node(rec, CG.Practitioner, f"{keys.local_system(SRC, 'practitioner')}|R77")
    assert local.props[CG.familyName] == "JONES"
    pat = node(rec, CG.Patient)
    assert pat.props[CG.addressLine] == "12 MAIN ST, APT 4"
    assert node(rec, CG.Encounter).props[CG.start] == "2024-05-01T08:30:00-05:00"
    assert (
        node(rec, CG.Location).key == f"{keys.local_system(SRC, 'location')}|MAINHOSP^WARD1^101^A"
    )


def test_escapes_and_declared_latin1_are_decoded(tmp_path: Path) -> None:
    message = [
        msh("ADT^A04", "L1", "2.4", "8859/1"),
        pid(name="M\xfcLLER\\T\\CO^J\xd6RG"),
        pv1(),
    ]
    path = tmp_path / "latin1.hl7"
    path.write_bytes(("\r".join(message) + "\r").encode("latin-1"))
    pat = node(one_record(path), CG.Patient)
    assert pat.props[CG.familyName] == "M\xfcLLER&CO"
    assert pat.props[CG.givenNames] == ["J\xd6RG"]


# -- SIU -------------------------------------------------------------------------------------


def test_siu_s12_sample_appointment(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "SIU-S12-01.hl7")
    appt = node(rec, CG.Appointment)
    assert appt.key == APPOINTMENT
    assert appt.props[CG.status] == "booked"
    assert appt.props[CG.start] == "2021-09-24T09:30:00+02:15"  # TQ1-7, not the stale SCH-11
    assert appt.props[CG.end] == "2021-09-24T10:20:00+02:15"
    assert appt.props[CG.minutesDuration] == 50
    assert appt.props[CG.serviceType] == "http://snomed.info/sct|76164006"
    doc = f"{keys.local_system(SRC, 'practitioner')}|1210"
    assert (APPOINTMENT, doc, {"role": "Gastroenterologist"}) in links(rec, CG.hasParticipant)
    assert node(rec, CG.Practitioner, doc).props[CG.familyName] == "GE"
    assert links(rec, CG.hasAppointment) == [(PATIENT, APPOINTMENT, {})]
    loc = f"{keys.local_system(SRC, 'location')}|GH Clinic^055^Room01^"
    assert (APPOINTMENT, loc, {}) in links(rec, CG.atLocation)
    # (the DG1's Condition is for the same visit: tests/loaders/test_hl7v2_clinical.py)
    visits = [x for x in links(rec, CG.forEncounter) if x[0] == APPOINTMENT]
    assert visits == [(APPOINTMENT, "AccMgr|5001", {})]


def test_siu_reschedule_cancel_and_no_show_keep_one_appointment(samples: Path) -> None:
    by_event = {
        name: node(one_record(hl7_dir(samples) / f"SIU-{name}-01.hl7"), CG.Appointment)
        for name in ("S12", "S13", "S15", "S26")
    }
    assert {a.key for a in by_event.values()} == {APPOINTMENT}
    assert by_event["S13"].props[CG.status] == "booked"
    assert by_event["S13"].props[CG.start] == "2021-09-24T09:30:00+02:15"
    assert by_event["S15"].props[CG.status] == "cancelled"
    assert by_event["S15"].props[CG.cancelReason] == "Add"  # SCH-6 as the sample sends it
    assert by_event["S26"].props[CG.status] == "noshow"


def test_siu_sample_with_three_resource_groups(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "SIU-S12-02.hl7")
    roles = sorted(p["role"] for _, _, p in links(rec, CG.hasParticipant))
    assert roles == ["General Practitioner", "Phlebotomist", "Radiology Technician"]
    assert len(links(rec, CG.atLocation)) == 3
    # minute precision, as the sample sends it
    assert node(rec, CG.Appointment).props[CG.start] == "2021-08-18T11:30+02:15"


def test_own_siu_cancel_reason_and_v23_timing(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "s15.hl7", [siu("S15", "C9")]))
    appt = node(rec, CG.Appointment)
    assert appt.key == "SCHED|F77"
    assert {i.token for i in appt.identifiers} == {"SCHED|F77", "CLINIC|P55"}
    assert appt.props[CG.cancelReason] == "Patient cancelled"
    assert appt.props[CG.minutesDuration] == 30
    v23 = [
        msh("SIU^S12", "C10", "2.3"),
        seg("SCH", {2: "F78", 9: "2", 10: "h", 11: "^^^20240611140000"}),
        pid(),
    ]
    appt = node(one_record(write(tmp_path / "s12.hl7", [v23])), CG.Appointment)
    assert appt.props[CG.start] == "2024-06-11T14:00:00"  # SCH-11.4, no offset given
    assert appt.props[CG.minutesDuration] == 120  # SCH-9 2, SCH-10 hours


def test_schedule_slot_messages_are_skipped(tmp_path: Path) -> None:
    got = items(write(tmp_path / "s23.hl7", [siu("S23", "B1")]))
    assert len(got) == 1 and isinstance(got[0], Skipped) and got[0].kind == "SIU^S23"


# -- orders ----------------------------------------------------------------------------------


def test_orm_sample_accession_number(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ORM-O01-01.hl7")
    sr = node(rec, CG.ServiceRequest)
    assert sr.key == "GHHPlacer|1101"
    assert sr.props[CG.placerOrderNumber] == "1101"
    assert sr.props[CG.fillerOrderNumber] == "1201"
    # no OBR-18 in this order: the filler order number is the accession, its issuer the filler
    assert sr.props[CG.accessionNumber] == "1201"
    assert sr.props[CG.accessionIssuer] == "GHHFiller"
    assert sr.props[CG.procedureCode] == "http://loinc.org|24725-4"
    assert sr.props[CG.status] == "active"
    assert links(rec, CG.hasServiceRequest) == [(PATIENT, sr.key, {})]
    # (the DG1's Condition is for the same visit: tests/loaders/test_hl7v2_clinical.py)
    visits = [x for x in links(rec, CG.forEncounter) if x[0] == sr.key]
    assert visits == [(sr.key, "AccMgr|5001", {})]
    orderer = f"{keys.local_system(SRC, 'practitioner')}|3850"
    assert links(rec, CG.referredBy) == [(sr.key, orderer, {})]


def test_orm_sample_with_two_orders(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ORM-O01-03.hl7")
    orders = {n.key: n.props[CG.accessionNumber] for n in rec.nodes if n.cls == CG.ServiceRequest}
    assert orders == {"GHHPlacer|1101": "1201", "GHHPlacer|2203": "2301"}


def test_oru_sample_accession_from_obr18(samples: Path) -> None:
    rec = one_record(hl7_dir(samples) / "ORU-R01-01.hl7")
    sr = node(rec, CG.ServiceRequest)
    assert sr.key == "GHH OE|845439"  # ORC-2 empty: OBR-2
    assert sr.props[CG.accessionNumber] == "Placer 1"
    assert sr.props[CG.accessionIssuer] == "urn:oid:2.16.840.1.114222.4.3.3.5.1.2"
    assert sr.props[CG.status] == "completed"  # ORC-5 CM
    assert not [n for n in rec.nodes if n.cls not in _ORDER_CLASSES]  # OBX not modelled


_ORDER_CLASSES = {CG.Patient, CG.Encounter, CG.Practitioner, CG.Location, CG.ServiceRequest}


def test_own_orm_with_obr18_accession(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "orm.hl7", [orm("O1")]))
    sr = node(rec, CG.ServiceRequest)
    assert sr.key == "EPIC|PL900"
    assert sr.props[CG.accessionNumber] == "ACC9"
    assert sr.props[CG.accessionIssuer] == "RIS"
    assert sr.props[CG.procedureCode] == "http://www.ama-assn.org/go/cpt|71250"


def test_every_sample_maps_without_rejects(samples: Path) -> None:
    files = sorted(hl7_dir(samples).glob("*.hl7"))
    assert len(files) == 17
    for path in files:
        got = items(path)
        assert len(got) == 1 and isinstance(got[0], Record), (path.name, got)


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024", "2024"),
        ("202405", "2024-05"),
        ("20240501", "2024-05-01"),
        ("2024050108", "2024-05-01T08"),
        ("202405010830", "2024-05-01T08:30"),
        ("20240501083015.25-0500", "2024-05-01T08:30:15.25-05:00"),
        ("198808181126+0215", "1988-08-18T11:26+02:15"),
        ("200803051030-0500", "2008-03-05T10:30-05:00"),
        ("20110613122406637", "2011-06-13T12:24:06.637"),  # 17 digits, the dot left out
    ],
)
def test_dtm_to_iso(text: str, iso: str) -> None:
    assert dtm(text, "X-1") == iso


@pytest.mark.parametrize("text", ["2024-13-45", "20241345", "ABCDEFGH", "2024050", "202405011"])
def test_bad_dtm_names_the_field_not_the_value(text: str) -> None:
    with pytest.raises(BadValue) as e:
        dtm(text, "PID-7")
    assert "PID-7" in str(e.value) and text not in str(e.value)


# -- through the pipeline into Neo4j ---------------------------------------------------------


def test_graph_adt_visit_attending_and_location(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(hl7_dir(samples) / "ADT-A01-01.hl7", source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient {key: $patient})-[:HAS_ENCOUNTER]->(e:Encounter {key: $visit}) "
        "MATCH (e)-[r:HAS_PARTICIPANT {role: 'attending'}]->(doc:Practitioner) "
        "MATCH (e)-[:AT_LOCATION]->(loc:Location) "
        "RETURN e.status AS status, toString(e.start) AS start, doc.key AS doc, "
        "doc.familyName AS family, loc.name AS location",
        patient=PATIENT,
        visit=VISIT,
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {
            "status": "in-progress",
            "start": "2015-02-08T11:34:19+01:10",
            "doc": ATTENDING,
            "family": "Alaz",
            "location": "HOMERTON UNIVER / HUH AE OMU / OMU B / Bed 03",
        }
    ]


def test_graph_a08_then_a03_change_the_same_visit(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    folder = hl7_dir(samples)
    load(
        folder / "ADT-A01-01.hl7", folder / "ADT-A08-01.hl7", folder / "ADT-A03-01.hl7", source=SRC
    )
    assert count(driver, database, "MATCH (e:Encounter) RETURN count(e)") == 1
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 1
    records, _, _ = driver.execute_query(
        "MATCH (e:Encounter {key: $visit}) RETURN e.status AS status, toString(e.end) AS end",
        visit=VISIT,
        database_=database,
    )
    assert dict(records[0]) == {"status": "finished", "end": "2015-02-09T11:34:19+01:10"}


def test_graph_siu_booked_then_cancelled(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    folder = hl7_dir(samples)
    report = load(folder / "SIU-S12-01.hl7", source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    query = (
        "MATCH (:Patient {key: $patient})-[:HAS_APPOINTMENT]->(a:Appointment {key: $appt}) "
        "MATCH (a)-[r:HAS_PARTICIPANT]->(doc:Practitioner) "
        "RETURN a.status AS status, toString(a.start) AS start, r.role AS role, "
        "doc.familyName AS doc"
    )
    params = {"patient": PATIENT, "appt": APPOINTMENT}
    records, _, _ = driver.execute_query(query, params, database_=database)
    assert [dict(r) for r in records] == [
        {
            "status": "booked",
            "start": "2021-09-24T09:30:00+02:15",
            "role": "Gastroenterologist",
            "doc": "GE",
        }
    ]
    report = load(folder / "SIU-S12-01.hl7", folder / "SIU-S15-01.hl7", source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    records, _, _ = driver.execute_query(query, params, database_=database)
    assert [r["status"] for r in records] == ["cancelled"]
    assert count(driver, database, "MATCH (a:Appointment) RETURN count(a)") == 1


def test_graph_orm_accession_and_orderer(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(hl7_dir(samples) / "ORM-O01-01.hl7", source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    records, _, _ = driver.execute_query(
        "MATCH (:Patient {key: $patient})-[:HAS_SERVICE_REQUEST]->(s:ServiceRequest) "
        "MATCH (s)-[:FOR_ENCOUNTER]->(e:Encounter) "
        "MATCH (s)-[:REFERRED_BY]->(doc:Practitioner) "
        "RETURN s.accessionNumber AS acc, s.accessionIssuer AS issuer, e.visitNumber AS visit, "
        "doc.familyName AS doc",
        patient=PATIENT,
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {"acc": "1201", "issuer": "GHHFiller", "visit": "5001", "doc": "ORDPROVIDER"}
    ]


def test_graph_every_sample_loads_and_reloads_unchanged(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    first = load(hl7_dir(samples), source=SRC)
    assert first.exit_code == 0, first.as_json()["rejects"]
    assert first.total("read") == 17 and first.total("written") == 17
    assert all(f.reconciles for f in first.files)
    nodes = domain_nodes(driver, database)
    again = load(hl7_dir(samples), source=SRC)
    assert again.total("unchanged") == 17
    assert domain_nodes(driver, database) == nodes


def test_graph_own_file_of_framed_messages(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "feed.hl7", [adt("A01", "C1"), siu("S12", "C2"), orm("C3")], mllp=True)
    report = load(path, source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 1
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient {key: 'HOSP|MRN001'})-[:HAS_ENCOUNTER]->(e:Encounter) "
        "MATCH (p)-[:HAS_APPOINTMENT]->(a:Appointment) "
        "MATCH (p)-[:HAS_SERVICE_REQUEST]->(s:ServiceRequest)-[:FOR_ENCOUNTER]->(e) "
        "MATCH (e)-[:HAS_PARTICIPANT {role: 'attending'}]->(doc:Practitioner) "
        "RETURN e.key AS visit, a.key AS appt, s.accessionNumber AS acc, doc.npi AS npi",
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {"visit": "MAINHOSP|V100", "appt": "SCHED|F77", "acc": "ACC9", "npi": "1234567893"}
    ]


def test_two_beds_of_one_described_unit_read_as_two_places() -> None:
    def bed_name(room: str, bed: str) -> str:
        pl = [["3W"], [room], [bed], ["RHMC1"], [""], [""], [""], [""], ["3 West Medical Unit"]]
        found = location(Rep(pl), SRC)
        assert found is not None
        return str(found.props[CG.name])

    assert bed_name("329", "A") == "3 West Medical Unit / 329 / A"
    assert bed_name("303", "B") == "3 West Medical Unit / 303 / B"
    unit = location(Rep([["3W"], [""], [""], ["RHMC1"], *[[""]] * 4, ["3 West Medical Unit"]]), SRC)
    assert unit is not None and unit.props[CG.name] == "3 West Medical Unit"


# -- real feeds are messy: understood but incomplete or unusual is written, with a warning ------


def more_dir(samples: Path) -> Path:
    return samples / "hl7v2-more"


def warnings_of(rec: Record) -> list[tuple[str, str]]:
    return [(w.code, w.message) for w in rec.warnings]


def test_update_without_admit_time_keeps_its_visit_key_and_sets_no_start(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "a08.hl7", [adt("A08", "C1", p44="")]))
    enc = node(rec, CG.Encounter)
    assert enc.key == "MAINHOSP|V100"  # the visit PV1-19 names, as the A01 keyed it
    assert CG.start not in enc.props and CG.status not in enc.props
    assert rec.warnings == []  # PV1-44 is optional; the shapes say what an Encounter lacks


@pytest.mark.parametrize(
    ("admit", "iso"),
    [("200803", "2008-03"), ("20080305", "2008-03-05"), ("200803051030", "2008-03-05T10:30")],
)
def test_admit_time_keeps_the_precision_sent(tmp_path: Path, admit: str, iso: str) -> None:
    rec = one_record(write(tmp_path / "a03.hl7", [adt("A03", "C1", p44=admit)]))
    assert node(rec, CG.Encounter).props[CG.start] == iso
    assert rec.warnings == []


def test_cancel_events_set_the_visit_status(tmp_path: Path) -> None:
    a11 = one_record(write(tmp_path / "a11.hl7", [adt("A11", "C1")]))
    assert node(a11, CG.Encounter).props[CG.status] == "cancelled"
    a13 = one_record(write(tmp_path / "a13.hl7", [adt("A13", "C2")]))
    assert node(a13, CG.Encounter).props[CG.status] == "in-progress"
    assert [c for c, _ in warnings_of(a13)] == ["not-applied"]


def test_deletions_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (got,) = items(write(tmp_path / "a23.hl7", [adt("A23", "C1")]))
    assert isinstance(got, Skipped) and got.kind == "ADT^A23"
    assert got.reason and "deletion" in got.reason


def test_an_adt_event_outside_table_0003_reads_as_an_update(tmp_path: Path) -> None:
    rec = one_record(write(tmp_path / "o01.hl7", [adt("O01", "C1")]))
    assert node(rec, CG.Encounter).key == "MAINHOSP|V100"
    assert CG.status not in node(rec, CG.Encounter).props
    assert [c for c, _ in warnings_of(rec)] == ["unusual-value"]


def test_person_events_load_their_patients_and_a_named_visit_only(tmp_path: Path) -> None:
    unnamed = pv1(visit="", admit="").replace("|I|", "|N|", 1)
    a31 = one_record(write(tmp_path / "a31.hl7", [[msh("ADT^A31", "C1"), pid(), unnamed]]))
    assert [n.cls for n in a31.nodes] == [CG.Patient] and a31.warnings == []
    merge = [msh("ADT^A40", "C2"), pid("NEW1"), "MRG|OLD1^^^HOSP^MR", pid("NEW2"), "MRG|OLD2"]
    a40 = one_record(write(tmp_path / "a40.hl7", [merge]))
    keys_ = sorted(n.key for n in a40.nodes if n.cls == CG.Patient)
    assert keys_ == ["HOSP|NEW1", "HOSP|NEW2"]  # the merged-away ids are not made patients
    assert [c for c, _ in warnings_of(a40)] == ["not-applied"]


@pytest.mark.samples
def test_more_samples_every_message_read_but_one_broken_header(samples: Path) -> None:
    got = {
        (path.name, item.ref.position): item
        for path in sorted(more_dir(samples).iterdir())
        for item in items(path)
    }
    assert len(got) == 28
    rejected = {k: v for k, v in got.items() if isinstance(v, Rejected)}
    # MSH-2 is ^~\\& : escape and subcomponent separator are the same character
    assert list(rejected) == [("lfh-converter-sample_win.hl7", "message 1 (line 1)")]
    (reject,) = rejected.values()
    assert reject.code == "syntax" and "MSH-2 (encoding characters)" in reject.reason
    assert not [v for v in got.values() if isinstance(v, Skipped)]


@pytest.mark.samples
def test_more_samples_unusual_values_are_left_out_and_said(samples: Path) -> None:
    folder = more_dir(samples)
    whistle = one_record(folder / "gcp-whistle-adt_a01.hl7")  # PID-8 outside table 0001
    assert node(whistle, CG.Patient).props[CG.gender] == "unknown"
    assert ("unusual-value", "PID-8") in [(c, m[:5]) for c, m in warnings_of(whistle)]
    oru = one_record(folder / "mirth-small-oru.hl7")  # PID-7 written as a sentence
    assert CG.birthDate not in node(oru, CG.Patient).props
    assert ("unusual-value", "PID-7") in [(c, m[:5]) for c, m in warnings_of(oru)]
    for rec in (whistle, oru):
        for _, message in warnings_of(rec):
            assert "1942" not in message and "M-" not in message


@pytest.mark.samples
def test_more_samples_person_and_no_visit_messages_load_their_patients(samples: Path) -> None:
    folder = more_dir(samples)
    a24 = one_record(folder / "hapi-segmentfinder_a24.hl7")  # ^ as field separator
    assert sorted(n.key for n in a24.nodes if n.cls == CG.Patient) == ["FOO|11111", "FOO|22222"]
    a28 = one_record(folder / "fhirconv-ADT-A28-01.hl7")
    assert node(a28, CG.Patient).key == PATIENT
    assert node(a28, CG.Encounter).key == VISIT  # PV1-19 names the visit
    z = one_record(folder / "rethinkhealth-edge-z-segments.hl7")  # an A01 with no PV1
    assert [n.cls for n in z.nodes] == [CG.Patient]
    assert [c for c, _ in warnings_of(z)] == ["incomplete"]
    mdm = one_record(folder / "fhirconv-MDM-T02-03.hl7")
    assert {n.cls for n in mdm.nodes} == {CG.Patient, CG.ServiceRequest}


def test_graph_update_without_admit_time_keeps_the_known_start(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    admit = write(tmp_path / "1.hl7", [adt("A01", "C1")])
    update = write(tmp_path / "2.hl7", [adt("A08", "C2", p44="", p45="20240502100000-0500")])
    report = load(admit, update, source=SRC)
    assert report.exit_code == 0, report.as_json()["rejects"]
    records, _, _ = driver.execute_query(
        "MATCH (e:Encounter) RETURN toString(e.start) AS start, toString(e.end) AS end, "
        "e.status AS status",
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {
            "start": "2024-05-01T08:30:00-05:00",
            "end": "2024-05-02T10:00:00-05:00",
            "status": "in-progress",
        }
    ]


@pytest.mark.samples
def test_graph_more_samples_load_reconcile_and_reload_unchanged(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    first = load(more_dir(samples), source=SRC)
    (read, written, skipped, rejected) = (
        first.total(n) for n in ("read", "written", "skipped", "rejected")
    )
    assert (read, written, skipped, rejected) == (28, 27, 0, 1)
    assert all(f.reconciles for f in first.files)
    codes = first.as_json()["warningCounts"]
    assert codes["unusual-value"] >= 4 and codes["not-applied"] >= 3
    nodes = domain_nodes(driver, database)
    again = load(more_dir(samples), source=SRC)
    assert again.total("unchanged") == 27
    assert domain_nodes(driver, database) == nodes
