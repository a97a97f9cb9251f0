"""DICOM bad input: each bad object rejected with where and why, the objects around it read."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from neo4j import Driver
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from caregraph.loaders.dicom import LOADER
from caregraph.loaders.records import Item, Record, Rejected
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count
from tests.loaders.test_dicom import dicom_json, part10

SRC = "pacs"
# The unknown-charset case makes pydicom warn while this test writes it: on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Unknown encoding:UserWarning")
# Patient values the files below hold: never in a reject reason.
SECRETS = ("Rivera", "Ana", "MRN-7", "19750412", "20240305", "2024-13-45", "ABCDEFGH", "abc")
INJECTED_NAME = "Robert'); DROP TABLE Students;--^<script>alert(1)</script>"
INJECTED_ORG = "MATCH (n) DETACH DELETE n //"


def uid(n: int) -> dict[str, str]:
    """Distinct study and series UIDs for the n-th file."""
    return {
        "StudyInstanceUID": f"1.2.826.0.1.3680043.8.498.9.{n}",
        "SeriesInstanceUID": f"1.2.826.0.1.3680043.8.498.9.{n}.1",
    }


def truncated(path: Path) -> Path:
    whole = part10(path, **uid(1)).read_bytes()
    at = whole.index(b"1.2.826.0.1.3680043.8.498.9.1\x00") + 10  # inside the study UID
    path.write_bytes(whole[:at])
    return path


def cut_early(path: Path) -> Path:
    path.write_bytes(part10(path, **uid(2)).read_bytes()[:200])
    return path


def no_preamble(path: Path) -> Path:
    ds = Dataset()
    ds.PatientID, ds.PatientName = "MRN-7", "Rivera^Ana"
    ds.update(uid(3))
    ds.save_as(path, implicit_vr=True, little_endian=True)  # a raw dataset: no preamble, no meta
    return path


def latin1_declared_utf8(path: Path) -> Path:
    part10(path, SpecificCharacterSet="ISO_IR 100", PatientName="M\xfcller^Ana", **uid(4))
    path.write_bytes(path.read_bytes().replace(b"ISO_IR 100", b"ISO_IR 192"))
    return path


def bad_series_number(path: Path) -> Path:
    ds = dcmread(part10(path, SeriesNumber="7", **uid(5)))
    # a raw IS value: pydicom itself refuses to set one that is not a number
    ds[0x00200011] = RawDataElement(Tag(0x00200011), "IS", 4, b"abc ", 0, False, True)
    ds.save_as(path, enforce_file_format=True)
    return path


def written(content: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(content)
        return path

    return make


def with_attrs(n: int, **attrs: object) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        return part10(path, **{**uid(n), **attrs})

    return make


# file name -> (how to write it, the phrase its reject reason holds, or "record")
PART10: dict[str, tuple[Callable[[Path], Path], str]] = {
    "01-good.dcm": (with_attrs(10), "record"),
    "02-truncated.dcm": (truncated, "the file is truncated"),
    "03-cut-early.dcm": (cut_early, "StudyInstanceUID (0020,000D) is missing or empty"),
    "04-no-preamble.dcm": (no_preamble, "not a DICOM Part 10 file"),
    "05-latin1-as-utf8.dcm": (latin1_declared_utf8, "Specific Character Set (0008,0005)"),
    "06-unknown-charset.dcm": (
        with_attrs(6, SpecificCharacterSet="ISO_IR 999"),
        "Specific Character Set (0008,0005)",
    ),
    "07-no-study-uid.dcm": (
        with_attrs(7, StudyInstanceUID=None),
        "StudyInstanceUID (0020,000D) is missing",
    ),
    "08-no-series-uid.dcm": (
        with_attrs(8, SeriesInstanceUID=None),
        "SeriesInstanceUID (0020,000E) is missing",
    ),
    "09-bad-date.dcm": (with_attrs(9, StudyDate="2024-13-45"), "StudyDate (0008,0020) is not"),
    "10-letters-date.dcm": (
        with_attrs(11, PatientBirthDate="ABCDEFGH"),
        "PatientBirthDate (0010,0030) is not",
    ),
    "11-bad-time.dcm": (with_attrs(12, StudyTime="256199"), "StudyTime (0008,0030) is not"),
    "12-bad-number.dcm": (bad_series_number, "SeriesNumber (0020,0011) is not an integer"),
    "13-bad-sex.dcm": (with_attrs(13, PatientSex="Q"), "PatientSex (0010,0040) is not"),
    "14-bad-offset.dcm": (
        with_attrs(14, TimezoneOffsetFromUTC="+2500"),
        "TimezoneOffsetFromUTC (0008,0201) is not",
    ),
    "15-bad-uid.dcm": (
        with_attrs(15, StudyInstanceUID="not-a-uid!"),
        "StudyInstanceUID (0020,000D) is not a UID",
    ),
    "16-injection.dcm": (
        with_attrs(16, PatientID="MRN-16", PatientName=INJECTED_NAME, InstitutionName=INJECTED_ORG),
        "record",
    ),
    "17-empty.dcm": (written(b""), "the file is empty"),
    "18-binary.dcm": (written(bytes(range(256)) * 4), "not a DICOM Part 10 file"),
    "19-good.dcm": (with_attrs(19, PatientID="MRN-19"), "record"),
}


def write_part10(folder: Path) -> dict[Path, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {make(folder / name): expect for name, (make, expect) in PART10.items()}


def assert_safe(reason: str) -> None:
    for secret in SECRETS:
        assert secret not in reason, reason


def read(path: Path) -> list[Item]:
    return list(LOADER.read(path, SRC))


# -- Part 10, file by file -------------------------------------------------------------------


def test_each_bad_part10_file_is_one_clear_reject(tmp_path: Path) -> None:
    for path, expect in write_part10(tmp_path / "pacs").items():
        got = read(path)
        assert len(got) == 1, (path.name, got)
        item = got[0]
        assert item.ref.file == str(path) and item.ref.position == "file"
        if expect == "record":
            assert isinstance(item, Record), (path.name, item)
        else:
            assert isinstance(item, Rejected), (path.name, item)
            assert expect in item.reason, (path.name, item.reason)
            assert_safe(item.reason)


def test_rejects_name_the_instance_when_it_can(tmp_path: Path) -> None:
    path = with_attrs(9, StudyDate="2024-13-45")(tmp_path / "bad-date.dcm")
    (item,) = read(path)
    assert isinstance(item, Rejected) and item.ref.record_id  # the SOP Instance UID


def test_injection_like_names_load_unchanged(tmp_path: Path) -> None:
    path = with_attrs(16, PatientName=INJECTED_NAME, InstitutionName=INJECTED_ORG)(
        tmp_path / "i.dcm"
    )
    (rec,) = read(path)
    assert isinstance(rec, Record)
    pat = next(n for n in rec.nodes if n.cls == CG.Patient)
    assert pat.props[CG.familyName] == "Robert'); DROP TABLE Students;--"
    assert pat.props[CG.givenNames] == ["<script>alert(1)</script>"]
    org = next(n for n in rec.nodes if n.cls == CG.Organization)
    assert org.props[CG.name] == INJECTED_ORG


# -- DICOM JSON ------------------------------------------------------------------------------


def test_json_that_is_not_dicom_json(tmp_path: Path) -> None:
    fhir = tmp_path / "fhir.json"
    fhir.write_text(json.dumps({"resourceType": "Patient", "id": "MRN-7", "birthDate": "1975"}))
    (item,) = read(fhir)
    assert isinstance(item, Rejected) and item.ref.position == "item 1"
    assert "not a DICOM JSON dataset" in item.reason
    assert_safe(item.reason)


def test_mixed_dicom_json_items(tmp_path: Path) -> None:
    bad_vr = dicom_json("1.2.3.7", "MRN-7", **{"00200011": {"vr": "IS", "Value": ["abc"]}})
    no_study = {k: v for k, v in dicom_json("1.2.3.8", "MRN-7").items() if k != "0020000D"}
    bad_date = dicom_json("1.2.3.9", "MRN-7", **{"00100030": {"vr": "DA", "Value": ["ABCDEFGH"]}})
    data = [
        dicom_json("1.2.3.6", "MRN-6"),
        bad_vr,
        no_study,
        42,
        bad_date,
        dicom_json("1.2.3.10", "MRN-10"),
    ]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(data))
    got = read(path)
    assert [i.ref.position for i in got] == [f"item {n}" for n in range(1, 7)]
    assert [type(i).__name__ for i in got] == [
        "Record", "Rejected", "Rejected", "Rejected", "Rejected", "Record",
    ]  # fmt: skip
    reasons = [i.reason for i in got if isinstance(i, Rejected)]
    assert "SeriesNumber (0020,0011)" in reasons[0]
    assert "StudyInstanceUID (0020,000D) is missing" in reasons[1]
    assert "item 4 is not a JSON object" in reasons[2]
    assert "PatientBirthDate (0010,0030) is not a DICOM date" in reasons[3]
    for reason in reasons:
        assert_safe(reason)


def test_truncated_json_keeps_the_items_before_the_cut(tmp_path: Path) -> None:
    text = json.dumps([dicom_json("1.2.3.4", "MRN-7"), dicom_json("1.2.3.5", "MRN-7")])
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) - 40])
    got = read(path)
    assert isinstance(got[0], Record)
    assert isinstance(got[1], Rejected) and got[1].ref.position == "item 2"
    assert "not valid JSON" in got[1].reason
    assert len(got) == 2


def test_json_in_the_wrong_encoding(tmp_path: Path) -> None:
    item = dicom_json(
        "1.2.3.4", "MRN-7", **{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "M\xfcller^Ana"}]}}
    )
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps([item], ensure_ascii=False).encode("latin-1"))
    (got,) = read(path)
    assert isinstance(got, Rejected) and "not UTF-8" in got.reason


# -- DICOMDIR --------------------------------------------------------------------------------


def test_dicomdir_study_record_with_a_bad_uid(tmp_path: Path) -> None:
    source = get_testdata_file("DICOMDIR")
    if source is None:
        pytest.skip("pydicom's test file DICOMDIR is not installed")
    study = b"1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1"
    path = tmp_path / "DICOMDIR"
    shutil.copy(str(source), path)
    data = path.read_bytes()
    assert data.count(study) == 1
    path.write_bytes(data.replace(study, b"X" * len(study)))  # same length: offsets still hold
    got = read(path)
    assert [type(i).__name__ for i in got].count("Record") == 5
    bad = [i for i in got if isinstance(i, Rejected)]
    assert len(bad) == 1 and bad[0].ref.position == "study record 2"
    assert "StudyInstanceUID (0020,000D) is not a UID" in bad[0].reason


# -- through the pipeline: counts reconcile, valid objects in the graph -------------------------


def test_pipeline_counts_reconcile_and_valid_files_load(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "pacs"
    expected = write_part10(folder)
    mixed = folder / "mixed.json"
    mixed.write_text(json.dumps([dicom_json("1.2.3.20", "MRN-20"), {"resourceType": "Patient"}]))
    report = load(folder, source=SRC)
    by_file = {Path(f.path).name: f for f in report.files}
    assert all(f.reconciles for f in report.files)
    assert by_file["mixed.json"].written == 1 and by_file["mixed.json"].rejected == 1
    good = sum(1 for e in expected.values() if e == "record")
    assert report.total("written") == good + 1
    assert report.total("rejected") == len(expected) - good + 1
    assert report.total("read") == len(expected) + 2
    for reject in report.as_json()["rejects"]:
        assert reject["file"].startswith(str(folder))
        assert_safe(reject["reason"])
    assert count(driver, database, "MATCH (s:ImagingStudy) RETURN count(s)") == good + 1
    assert (
        count(
            driver,
            database,
            "MATCH (p:Patient {familyName: $f})-[:HAS_IMAGING_STUDY]->(s)-[:PERFORMED_AT]->"
            "(o:Organization {name: $o}) RETURN count(p)",
            f="Robert'); DROP TABLE Students;--",
            o=INJECTED_ORG,
        )
        == 1
    )
