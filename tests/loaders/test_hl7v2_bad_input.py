"""HL7 v2 bad input: each bad message rejected with where and why, the messages around it read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders.hl7v2 import LOADER
from caregraph.loaders.records import Item, Node, Record, Rejected, Skipped
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count

SRC = "feed"
# Patient values that must never appear in a reject reason.
SECRETS = (
    "SECRETMRN",
    "SECRETFAMILY",
    "SECRETGIVEN",
    "SECRETCLASS",
    "19700101",
    "2024-13-45",
    "ABCDEFGH",
    "20241345",
)
INJECTIONS = (
    "Robert'); DROP TABLE Students;--",
    "<script>alert(1)</script>",
    "x' OR 1=1 //",
    "MATCH (n) DETACH DELETE n",
)


def msh(mtype: str, control: str, version: str = "2.5.1", charset: str = "") -> str:
    head = f"MSH|^~\\&|APP|FAC|CG|CG|20240501120000||{mtype}|{control}|P|{version}"
    return head + ("|" * 6 + charset if charset else "")


def pid(n: int, birth: str = "19700101", sex: str = "F", name: str = "") -> str:
    name = name or f"SECRETFAMILY{n}^SECRETGIVEN"
    return f"PID|1||SECRETMRN{n}^^^HOSP^MR||{name}||{birth}|{sex}"


def pv1(admit: str = "20240501083000-0500", n: int = 1) -> str:
    fields = [""] * 45  # fields[n] is PV1-n
    fields[:4] = ["PV1", "1", "I", "WARD1^101^A^MAINHOSP"]
    fields[19] = f"V{n}^^^MAINHOSP^VN"
    fields[44] = admit
    return "|".join(fields)


def good_adt(control: str, n: int, name: str = "") -> list[str]:
    return [msh("ADT^A01", control), "EVN|A01", pid(n, name=name), pv1(n=n)]


@dataclass
class Case:
    """One message of the mixed file: its segments, how it is encoded and what must happen.

    ``expect`` is "record", "skipped", "warned" (a record with warning ``code`` whose message
    holds ``phrase``) or "rejected" (with reject ``code`` and ``phrase`` in its reason).
    """

    segments: list[str]
    expect: str
    code: str = ""
    phrase: str = ""
    encoding: str = "utf-8"


def rejected(segments: list[str], code: str, phrase: str, encoding: str = "utf-8") -> Case:
    return Case(segments, "rejected", code, phrase, encoding)


def warned(segments: list[str], code: str, phrase: str) -> Case:
    return Case(segments, "warned", code, phrase)


CASES: list[Case] = [
    Case(good_adt("G1", 1), "record"),
    rejected([msh("ADT^A01", "B1"), "EVN|A01", pv1()], "identity", "ADT^A01 has no PID segment"),
    # understood but incomplete or unusual: written, with a warning naming the field
    warned([msh("ADT^A04", "B2"), pid(2)], "incomplete", "ADT^A04 has no PV1 segment"),
    warned([msh("ADT^A01", "B3"), pid(3, birth="2024-13-45"), pv1()], "unusual-value", "PID-7"),
    warned([msh("ADT^A01", "B4"), pid(4, birth="ABCDEFGH"), pv1()], "unusual-value", "PID-7"),
    warned(
        [msh("ADT^A01", "B5"), pid(5), pv1(admit="20241345")],
        "unusual-value",
        "PV1-44 (admit date/time)",
    ),
    warned([msh("ADT^A01", "B6"), pid(6, sex="X"), pv1()], "unusual-value", "PID-8"),
    rejected(
        [msh("ADT^A01", "B7"), "PID|1||||SECRETFAMILY^X", pv1()],
        "identity",
        "PID-3 (patient identifier",
    ),
    rejected(
        ["MSH|^~|APP|FAC|CG|CG|2024||ADT^A01|B8|P|2.5", pid(8), pv1()], "syntax", "MSH-2 (encoding"
    ),
    rejected(["MSH|^~\\&|APP|FAC", pid(9), pv1()], "syntax", "MSH-9 (message type) is missing"),
    rejected(
        [msh("ADT^A01", "B10", "2.1"), pid(10), pv1()], "unsupported", "is not one caregraph reads"
    ),
    rejected(
        [msh("ADT^A01", "B11", charset="KLINGON"), pid(11), pv1()],
        "unsupported",
        "MSH-18 is not a character set caregraph reads",  # not table 0211: not echoed
    ),
    rejected(
        [msh("ADT^A01", "B12"), pid(12, name="M\xfcLLER^SECRETGIVEN"), pv1()],
        "syntax",
        "is not valid utf-8 text",
        encoding="latin-1",
    ),
    rejected(
        [msh("ADT^A01", "B13"), pid(13), "@@@ not a segment @@@", pv1()],
        "syntax",
        "is not an HL7 segment",
    ),
    rejected([msh("SIU^S12", "B14"), pid(14)], "identity", "SIU^S12 has no SCH segment"),
    warned(
        [
            msh("SIU^S12", "B15"),
            "|".join(["SCH", "", "F15", *[""] * 6, "ten", "min", "^^^202406111400"]),
            pid(15),
        ],
        "unusual-value",
        "SCH-9 (appointment duration) is not a number",
    ),
    rejected([msh("ORM^O01", "B16"), pid(16), pv1()], "identity", "ORM^O01 has no ORC segment"),
    rejected(
        [msh("ORM^O01", "B17"), pid(17), "ORC|NW"], "identity", "placer and filler order number"
    ),
    Case([msh("ACK^A01", "S1"), "MSA|AA|G1"], "skipped"),
    Case([msh("MDM^T02", "M1"), pid(18)], "record"),  # the document's patient
    Case([msh("ADT^A28", "P1"), pid(19)], "record"),  # a person event: no visit, no warning
    warned(
        [msh("ADT^A24", "P2"), pid(20), pid(21)], "not-applied", "both are loaded, the link is not"
    ),
    warned(
        [msh("ADT^A01", "C1"), pid(22), pv1().replace("|I|", "|SECRETCLASS|", 1)],
        "unusual-value",
        "PV1-2 (patient class)",
    ),
    *(
        Case(good_adt(f"I{i}", 30 + i, f"{text}^SECRETGIVEN"), "record")
        for i, text in enumerate(INJECTIONS)
    ),
    Case(good_adt("G2", 40), "record"),
]
WRITTEN = ("record", "warned")


def mixed_file(path: Path) -> tuple[Path, list[str]]:
    """Write CASES as one CR-delimited file; return it and each message's position."""
    data = b""
    positions: list[str] = []
    line = 1
    for index, case in enumerate(CASES, 1):
        positions.append(f"message {index} (line {line})")
        data += ("\r".join(case.segments) + "\r").encode(case.encoding)
        line += len(case.segments)
    path.write_bytes(data)
    return path, positions


def assert_safe(reason: str) -> None:
    for secret in SECRETS:
        assert secret not in reason, reason


# -- the mixed file, message by message -------------------------------------------------------


def test_each_bad_message_is_rejected_and_the_rest_read(tmp_path: Path) -> None:
    path, positions = mixed_file(tmp_path / "mixed.hl7")
    got = list(LOADER.read(path, SRC))
    assert len(got) == len(CASES)
    for item, case, position in zip(got, CASES, positions, strict=True):
        assert item.ref.file == str(path)
        assert item.ref.position == position, (item, case.expect)
        if case.expect == "record":
            assert isinstance(item, Record) and not item.warnings, (position, item)
        elif case.expect == "warned":
            assert isinstance(item, Record), (position, item)
            found = [w for w in item.warnings if w.code == case.code and case.phrase in w.message]
            assert found, (position, item.warnings)
            for w in item.warnings:
                assert_safe(w.message)
        elif case.expect == "skipped":
            assert isinstance(item, Skipped) and item.kind == "ACK^A01"
        else:
            assert isinstance(item, Rejected), (position, item)
            assert case.phrase in item.reason, (position, item.reason)
            assert item.code == case.code, (position, item.code)
            assert_safe(item.reason)


def test_what_is_understood_is_kept_and_what_is_not_left_out(tmp_path: Path) -> None:
    path, _ = mixed_file(tmp_path / "mixed.hl7")
    by_id = {i.ref.record_id: i for i in LOADER.read(path, SRC) if isinstance(i, Record)}

    def patients(control: str) -> list[Node]:
        return [n for n in by_id[control].nodes if n.cls == CG.Patient]

    assert all(CG.birthDate not in p.props for c in ("B3", "B4") for p in patients(c))
    assert patients("B6")[0].props[CG.gender] == "unknown"
    assert [n.cls for n in by_id["B2"].nodes] == [CG.Patient]  # no PV1: no visit made up
    (visit,) = [n for n in by_id["B5"].nodes if n.cls == CG.Encounter]
    assert CG.start not in visit.props and visit.props[CG.status] == "in-progress"
    assert len(patients("P2")) == 2
    (visit,) = [n for n in by_id["C1"].nodes if n.cls == CG.Encounter]
    assert CG.encounterClass not in visit.props


def test_rejects_name_the_message_by_its_control_id(tmp_path: Path) -> None:
    path, _ = mixed_file(tmp_path / "mixed.hl7")
    rejected = [i for i in LOADER.read(path, SRC) if isinstance(i, Rejected)]
    ids = [r.ref.record_id for r in rejected]
    assert ids[:3] == ["B1", "B7", "B8"]
    assert "B9" not in ids and None in ids  # a header cut before MSH-10 names no control id


def test_injection_like_names_load_unchanged(tmp_path: Path) -> None:
    path, _ = mixed_file(tmp_path / "mixed.hl7")
    families = [
        n.props[CG.familyName]
        for i in LOADER.read(path, SRC)
        if isinstance(i, Record)
        for n in i.nodes
        if n.cls == CG.Patient
    ]
    assert set(INJECTIONS) <= set(families)


# -- whole files -----------------------------------------------------------------------------


def only(path: Path) -> Item:
    got = list(LOADER.read(path, SRC))
    assert len(got) == 1, got
    return got[0]


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"", "the file is empty"),
        (b"  \r\n\r\n", "the file is empty"),
        (bytes(range(256)) * 8, "binary or UTF-16"),
        ("\r".join(good_adt("U1", 1)).encode("utf-16"), "binary or UTF-16"),
        (b"just some text\nwith lines\n", "before the first MSH"),
    ],
    ids=["empty", "blank", "binary", "utf-16", "text"],
)
def test_unreadable_files_are_one_reject(tmp_path: Path, content: bytes, phrase: str) -> None:
    path = tmp_path / "bad.hl7"
    path.write_bytes(content)
    item = only(path)
    assert isinstance(item, Rejected) and phrase in item.reason, item
    assert item.ref.file == str(path)


def test_segments_without_their_msh_envelope(tmp_path: Path) -> None:
    path = tmp_path / "no-msh.hl7"
    path.write_text("\r".join(["EVN|A01", pid(1), pv1(), *good_adt("G1", 2)]) + "\r")
    got = list(LOADER.read(path, SRC))
    assert isinstance(got[0], Rejected)
    assert got[0].ref.position == "line 1"
    assert "3 segment(s) before the first MSH" in got[0].reason
    assert_safe(got[0].reason)
    assert isinstance(got[1], Record) and got[1].ref.position == "message 1 (line 4)"


def test_truncated_mllp_block(tmp_path: Path) -> None:
    path = tmp_path / "mllp.hl7"
    block = ("\r".join(good_adt("T1", 1)) + "\r").encode()
    cut = ("\r".join(good_adt("T2", 2)[:3]) + "\r").encode()  # no PV1 and no 0x1C: cut off
    path.write_bytes(b"\x0b" + block + b"\x1c\r" + b"\x0b" + cut + b"\x0b" + block + b"\x1c\r")
    got = list(LOADER.read(path, SRC))
    assert [type(i).__name__ for i in got] == ["Record", "Rejected", "Record"]
    assert isinstance(got[1], Rejected)
    # line 5 holds the first block's end byte (0x1C) and its CR
    assert got[1].ref.record_id == "T2" and got[1].ref.position == "message 2 (line 6)"
    assert "truncated" in got[1].reason
    end_cut = tmp_path / "end.hl7"
    end_cut.write_bytes(b"\x0b" + block + b"\x1c\r" + b"\x0b" + block[:-20])
    got = list(LOADER.read(end_cut, SRC))
    assert isinstance(got[-1], Rejected) and "truncated" in got[-1].reason


# -- through the pipeline: counts reconcile, valid messages in the graph ------------------------


def test_pipeline_counts_reconcile_and_valid_messages_load(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    path, positions = mixed_file(tmp_path / "mixed.hl7")
    report = load(path, source=SRC)
    (fr,) = report.files
    written = sum(c.expect in WRITTEN for c in CASES)
    warned_ = sum(c.expect == "warned" for c in CASES)
    skipped = sum(c.expect == "skipped" for c in CASES)
    rejected_ = sum(c.expect == "rejected" for c in CASES)
    assert fr.format == "hl7v2"
    assert fr.read == len(CASES)
    assert (fr.written, fr.warned, fr.skipped, fr.rejected) == (
        written,
        warned_,
        skipped,
        rejected_,
    )
    assert fr.reconciles
    assert report.exit_code == 1
    out = report.as_json()
    rejects = out["rejects"]
    assert [(r["position"], r["code"]) for r in rejects] == [
        (p, c.code) for p, c in zip(positions, CASES, strict=True) if c.expect == "rejected"
    ]
    for r in rejects:
        assert r["file"] == str(path)
        assert_safe(r["reason"])
    for w in out["warnings"]:
        assert w["file"] == str(path) and w["position"] in positions
        assert_safe(w["message"])
    assert out["warningCounts"]["unusual-value"] >= 6
    # one patient per written message, two for the A24 link; the injection cases repeat none
    patients = written + 1
    assert count(driver, database, "MATCH (p:Patient) RETURN count(p)") == patients
    assert (
        count(driver, database, "MATCH (p:Patient) WHERE p.birthDate IS NOT NULL RETURN count(p)")
        == patients - 2
    )
    for text in INJECTIONS:
        assert (
            count(driver, database, "MATCH (p:Patient {familyName: $f}) RETURN count(p)", f=text)
            == 1
        )
