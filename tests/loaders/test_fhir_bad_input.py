"""FHIR bad input: what cannot be understood rejected with where, why and a code; what is
understood but incomplete or unusual written with a warning; the rest read.

Every malformed input is written here, in ``tmp_path``. A reason or warning names the file's
position, the resource and the element, never a patient's value: the names, MRN, birth dates
and bad values below must not appear in any reason or warning.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from caregraph.loaders.fhir import LOADER
from caregraph.loaders.records import Item, Record, Rejected, Skipped
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count

FAMILY, GIVEN, MRN_VALUE, BIRTH = "Quackenbush", "Wilhelmina", "MRN-SECRET-77", "1931-07-04"
EXTERNAL = "http://payer.example/fhir/oralhealthclaim/SECRET-CLAIM-123"
SECRETS = (
    FAMILY, GIVEN, MRN_VALUE, BIRTH, "1980-13-45", "Müller", "M\\u00fcller", "SECRET-CLAIM-123",
    "payer.example",
)  # fmt: skip
MRN = "urn:oid:2.16.840.1.113883.3.4242.1"
DROP_ALL = "'); MATCH (n) DETACH DELETE n //"
TEMPLATE = "{{7*7}}"


def patient(pid: str, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Patient", "id": pid,
        "identifier": [{"system": MRN, "value": f"{MRN_VALUE}-{pid}"}],
        "name": [{"family": FAMILY, "given": [GIVEN]}],
        "gender": "female", "birthDate": BIRTH,
    }  # fmt: skip
    res.update(extra)
    return res


def encounter(eid: str, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Encounter", "id": eid, "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/ok-1"},
        "period": {"start": "2024-04-01T10:00:00+02:00"},
    }  # fmt: skip
    res.update(extra)
    return res


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "resource": r}
            for n, r in enumerate(resources, 1)
        ],
    }


def ndjson(*lines: dict[str, Any] | str) -> str:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)


# What each file is, and what reading it must give: per position, the kind ("Patient",
# "skipped", "rejected") and the words the reason must hold (for a record: its warnings; a
# record expected with no words must have no warning).
Expect = dict[str, tuple[str, tuple[str, ...]]]


def write_inputs(d: Path) -> dict[str, Expect]:
    files: dict[str, Expect] = {}

    good = json.dumps(bundle(patient("ok-1"), patient("ok-2")), indent=1)
    (d / "truncated-bundle.json").write_text(good[: len(good) * 3 // 5])
    files["truncated-bundle.json"] = {"file": ("rejected", ("not valid JSON", "truncated"))}

    (d / "truncated.ndjson").write_text(
        ndjson(patient("ok-1"), patient("ok-2")) + json.dumps(patient("ok-3"))[:70]
    )
    files["truncated.ndjson"] = {
        "line 1": ("Patient", ()),
        "line 2": ("Patient", ()),
        "line 3": ("rejected", ("not valid JSON", "truncated")),
    }

    (d / "utf16.json").write_bytes(json.dumps(patient("ok-1")).encode("utf-16"))
    files["utf16.json"] = {"file": ("rejected", ("UTF-16", "must be UTF-8"))}

    latin = json.dumps(patient("ok-2", name=[{"family": "Müller"}]), ensure_ascii=False)
    (d / "latin1.ndjson").write_bytes(
        ndjson(patient("ok-1")).encode() + (latin + "\n").encode("latin-1")
        + ndjson(patient("ok-3")).encode()
    )  # fmt: skip
    files["latin1.ndjson"] = {
        "line 1": ("Patient", ()),
        "line 2": ("rejected", ("not UTF-8", "Latin-1")),
        "line 3": ("Patient", ()),
    }

    no_status = encounter("e-1")
    del no_status["status"]
    (d / "missing-required.json").write_text(
        json.dumps(
            bundle(
                patient("ok-1"),
                no_status,
                {"resourceType": "Claim", "id": "c-1", "status": "active", "use": "claim"},
                encounter("e-2"),
            )
        )
    )
    files["missing-required.json"] = {
        "entry 1": ("Patient", ()),
        "entry 2": (
            "rejected",
            ("Encounter/e-1", "Encounter.status: required element is missing"),
        ),
        "entry 3": ("rejected", ("Claim/c-1", "Claim.patient: required element is missing")),
        "entry 4": ("Encounter", ()),
    }

    (d / "wrong-types.ndjson").write_text(
        ndjson(
            patient("bad-1", birthDate=12),
            patient("bad-2", birthDate="1980-13-45"),
            patient("bad-3", name=GIVEN),
            patient("bad-4", deceasedBoolean="perhaps"),
            patient("ok-1"),
            patient("bad-5", birthdate=BIRTH),  # misspelt element
        )
    )
    files["wrong-types.ndjson"] = {
        "line 1": ("rejected", ("Patient/bad-1", "Patient.birthDate")),
        "line 2": ("rejected", ("Patient/bad-2", "Patient.birthDate", "Date")),
        "line 3": ("rejected", ("Patient/bad-3", "Patient.name", "list")),
        "line 4": ("rejected", ("Patient/bad-4", "Patient.deceasedBoolean", "boolean")),
        "line 5": ("Patient", ()),
        "line 6": ("rejected", ("Patient/bad-5", "Patient.birthdate: not an element")),
    }

    (d / "bad-references.json").write_text(
        json.dumps(
            bundle(
                patient("ok-1"),
                encounter("e-1", subject={"reference": "Patient/"}),
                encounter("e-2", serviceProvider={"reference": "???"}),
                encounter("e-3", subject={"reference": "12345"}),
                encounter("e-4", subject={"reference": "urn:uuid:99999999-0000-4000-8000-1"}),
                encounter(
                    "e-5",
                    participant=[
                        {"individual": {"reference": f"Practitioner?name={FAMILY}"}},
                    ],
                ),
                encounter("e-6", subject={"reference": "Patinet/ok-1"}),
                encounter("e-7", subject={"reference": "#nothing-contained"}),
                encounter("e-8", subject={"reference": "Patient/ok-1"}),
                encounter("e-20", serviceProvider={"reference": EXTERNAL}),
                encounter("e-21", subject={"reference": f"Patient?identifier={MRN_VALUE}"}),
                encounter("e-22", subject={"identifier": {"value": MRN_VALUE}}),
            )
        )
    )
    not_a_ref = "reference is not a FHIR reference"
    unresolved = "not linked"
    files["bad-references.json"] = {
        "entry 1": ("Patient", ()),
        "entry 2": ("rejected", ("Encounter/e-1", "Encounter.subject.", not_a_ref)),
        "entry 3": ("rejected", ("Encounter/e-2", "Encounter.serviceProvider.", not_a_ref)),
        "entry 4": ("rejected", ("Encounter/e-3", "Encounter.subject.", not_a_ref)),
        # well formed but unresolved here: written, with a warning (FHIR R4 allows them)
        "entry 5": (
            "Encounter",
            ("Encounter.subject.reference", "names no entry of this bundle", unresolved),
        ),
        "entry 6": (
            "Encounter",
            ("Encounter.participant[0].individual.reference", "identifier=system|value"),
        ),
        "entry 7": ("rejected", ("Encounter.subject.", "resource type FHIR R4 does not have")),
        "entry 8": ("rejected", ("Encounter.subject.", "names no contained resource")),
        "entry 9": ("Encounter", ()),
        "entry 10": (
            "Encounter",
            (
                "Encounter.serviceProvider.reference",
                "absolute URL",
                "external reference",
                unresolved,
            ),
        ),
        "entry 11": ("Encounter", ("Encounter.subject.reference", "lacks a system")),
        "entry 12": ("Encounter", ("Encounter.subject.identifier has no system", unresolved)),
    }

    (d / "broken-line.ndjson").write_text(
        ndjson(
            patient("ok-1"),
            '{"resourceType": "Patient", "id": "x", "name": [{"family": "' + FAMILY + '"',
            patient("ok-2"),
            "",
            patient("ok-3"),
        )
    )
    files["broken-line.ndjson"] = {
        "line 1": ("Patient", ()),
        "line 2": ("rejected", ("line is not valid JSON",)),
        "line 3": ("Patient", ()),
        "line 5": ("Patient", ()),  # line 4 is blank: no resource, not counted
    }

    no_resource = bundle(
        patient("ok-1"), patient("gone"), patient("ok-2"), patient("x"), patient("x"),
        patient("ok-3"), patient("x"), patient("x"), kind="batch",
    )  # fmt: skip
    entries = no_resource["entry"]
    entries[0]["request"] = {"method": "POST", "url": "Patient"}
    del entries[0]["resource"]
    entries[1] = {"request": {"method": "DELETE", "url": "Patient/gone"}}
    entries[3] = {"request": {"method": "GET", "url": f"Patient?name={FAMILY}"}}
    entries[4] = {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000005"}
    entries[5] = {**patient("ok-3")}  # the resource's elements, without "resource"
    entries[6] = {
        "resource": {"resourceType": "Parameters", "id": "p-1",
                     "parameter": [{"name": "code", "valueCode": MRN_VALUE}]},
        "request": {"method": "POST", "url": "CodeSystem/$lookup"},
    }  # fmt: skip
    entries[7] = {"request": {"method": "FETCH", "url": "Patient/gone"}}
    (d / "no-resource.json").write_text(json.dumps(no_resource))
    files["no-resource.json"] = {
        "entry 1": ("skipped", ("Bundle.entry[0] is a POST request with no resource",)),
        "entry 2": ("skipped", ("Bundle.entry[1] is a DELETE request", "does not retract")),
        "entry 3": ("Patient", ()),
        "entry 4": ("skipped", ("Bundle.entry[3] is a conditional GET request", "a read")),
        "entry 5": ("rejected", ("Bundle.entry[4] has no resource, request or response",)),
        "entry 6": ("Patient", ("Bundle.entry[5] holds the resource's elements itself",)),
        "entry 7": ("skipped", ("Bundle.entry[6] calls the operation $lookup",)),
        "entry 8": ("rejected", ("Bundle.entry[7].request.method", "not an HTTP method")),
    }

    (d / "unknown-type.ndjson").write_text(
        ndjson(
            {**patient("x-1"), "resourceType": "Patinet"},
            {"resourceType": "Observation", "id": "o-1", "status": "final",
             "code": {"text": "pulse"}},
            {"id": "no-type", "name": [{"family": FAMILY}]},
            patient("ok-1"),
            [patient("in-a-list")],
            {"resourceType": "ArtifactAssessment", "id": "r5-1"},
            {"resourceType": "ProcedureRequest", "id": "stu3-1"},
        )
    )  # fmt: skip
    files["unknown-type.ndjson"] = {
        "line 1": ("rejected", ("not a FHIR R4 resource type",)),
        "line 2": ("skipped", ()),
        "line 3": ("rejected", ("no resourceType",)),
        "line 4": ("Patient", ()),
        "line 5": ("rejected", ("not a JSON object",)),
        "line 6": ("rejected", ("FHIR R5 resource type", "caregraph reads FHIR R4")),
        "line 7": ("rejected", ("FHIR STU3 resource type", "caregraph reads FHIR R4")),
    }

    (d / "injection.json").write_text(
        json.dumps(patient("inj-1", name=[{"family": DROP_ALL, "given": [TEMPLATE]}]))
    )
    files["injection.json"] = {"file": ("Patient", ())}

    (d / "array.json").write_text(json.dumps([patient("ok-1"), patient("ok-2")]))
    files["array.json"] = {"file": ("rejected", ("JSON array", "Bundle", "NDJSON"))}

    (d / "empty.json").write_text("")
    files["empty.json"] = {"file": ("rejected", ("empty",))}

    anonymous = patient("x")
    del anonymous["id"], anonymous["identifier"]
    (d / "no-id.json").write_text(json.dumps(anonymous))
    files["no-id.json"] = {"file": ("rejected", ("no id and no identifier", "cannot be keyed"))}

    untyped = bundle(patient("ok-1"))
    del untyped["type"]
    (d / "bundle-without-type.json").write_text(json.dumps(untyped))
    files["bundle-without-type.json"] = {
        "file": ("rejected", ("Bundle.type: required element is missing",))
    }

    # departures from R4's rules that receivers accept: repaired, written with a warning
    appointment = {
        "resourceType": "Appointment", "id": "a-1", "status": "booked",
        "start": "2024-04-02T09:00:00Z", "end": "2024-04-02T09:30:00Z",
        "participant": [{"actor": {"reference": "Patient/ok-1"}}],  # no status (1..1)
    }  # fmt: skip
    study = {
        "resourceType": "ImagingStudy", "id": "s-1", "status": "available",
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.3.4.5"}],
        "subject": {"reference": "Patient/ok-1"},
        "series": [{"uid": "1.2.3.4.5.1", "instance": [{"uid": "1.2.3.4.5.1.1"}]}],
    }  # fmt: skip
    classless = encounter("e-31")
    del classless["class"]
    (d / "repairable.json").write_text(
        json.dumps(
            bundle(
                patient("ok-1"),
                appointment,
                study,
                encounter("e-30", episodeOfCare={"reference": "EpisodeOfCare/12"}),
                patient("p-2", name={"family": FAMILY, "given": GIVEN}),
                {**appointment, "id": "a-2", "priority": "urgent"},  # and a wrong type
                classless,  # a required element of the resource itself
            )
        )
    )
    files["repairable.json"] = {
        "entry 1": ("Patient", ()),
        "entry 2": ("Appointment", ("Appointment.participant[0].status: required element",)),
        "entry 3": (
            "ImagingStudy",
            ("ImagingStudy.series[0].modality", "ImagingStudy.series[0].instance[0].sopClass"),
        ),
        "entry 4": ("Encounter", ("Encounter.episodeOfCare: a single value", "list of one")),
        "entry 5": ("Patient", ("Patient.name: a single value", "Patient.name[0].given")),
        "entry 6": ("rejected", ("Appointment.priority", "Appointment.participant[0].status")),
        "entry 7": ("rejected", ("Encounter.class",)),
    }
    return files


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, dict[str, Expect]]:
    d = tmp_path / "bad"
    d.mkdir()
    return d, write_inputs(d)


def said_of(item: Item) -> str:
    """What a report says of an item: a rejection's or skip's reason, a record's warnings."""
    if isinstance(item, Record):
        return "\n".join(f"{w.code}: {w.message}" for w in item.warnings)
    return item.reason or ""


def kind_of(item: Item) -> str:
    if isinstance(item, Rejected):
        return "rejected"
    if isinstance(item, Skipped):
        return "skipped"
    return item.kind


NAMES = (
    "truncated-bundle.json", "truncated.ndjson", "utf16.json", "latin1.ndjson",
    "missing-required.json", "wrong-types.ndjson", "bad-references.json", "broken-line.ndjson",
    "no-resource.json", "unknown-type.ndjson", "injection.json", "array.json", "empty.json",
    "no-id.json", "bundle-without-type.json", "repairable.json",
)  # fmt: skip


def test_the_inputs(inputs: tuple[Path, dict[str, Expect]]) -> None:
    _, files = inputs
    assert set(files) == set(NAMES)
    rejecting = [
        n for n, expect in files.items() if any(k == "rejected" for k, _ in expect.values())
    ]
    assert len(rejecting) == 15


@pytest.mark.parametrize("name", NAMES)
def test_each_input_is_read_as_expected(name: str, inputs: tuple[Path, dict[str, Expect]]) -> None:
    d, files = inputs
    path, expect = d / name, files[name]
    items = list(LOADER.read(path, "ehr"))
    got = {i.ref.position: i for i in items}
    assert set(got) == set(expect)
    assert len(items) == len(expect)  # one item per position: nothing lost, nothing twice
    for position, (kind, words) in expect.items():
        item = got[position]
        assert item.ref.file == str(path)
        assert kind_of(item) == kind, (position, getattr(item, "reason", ""))
        said = said_of(item)
        for word in words:
            assert word in said, (position, said)
        if isinstance(item, Record) and not words:
            assert item.warnings == [], (position, said)
        for secret in SECRETS:  # never a patient's value, nor the bad value itself
            assert secret not in said, (position, said)
        if isinstance(item, Rejected):
            assert item.format == "fhir"
    # read = records + rejected + skipped, and the valid ones around the bad are read
    kinds = Counter(kind_of(i) for i in items)
    records = [i for i in items if isinstance(i, Record)]
    assert len(items) == len(records) + kinds["rejected"] + kinds["skipped"]
    assert len(records) == sum(1 for k, _ in expect.values() if k not in ("rejected", "skipped"))


def test_injection_like_names_are_data_and_load_unchanged(
    inputs: tuple[Path, dict[str, Expect]],
) -> None:
    d, _ = inputs
    (rec,) = list(LOADER.read(d / "injection.json", "ehr"))
    assert isinstance(rec, Record)
    (p,) = rec.nodes
    assert p.props[CG.familyName] == DROP_ALL
    assert p.props[CG.givenNames] == [TEMPLATE]
    assert p.props[CG.display] == f"{TEMPLATE} {DROP_ALL}"


def test_rejected_resources_name_record_ids_and_positions(
    inputs: tuple[Path, dict[str, Expect]],
) -> None:
    d, _ = inputs
    items = list(LOADER.read(d / "wrong-types.ndjson", "ehr"))
    assert [(i.ref.position, i.ref.record_id) for i in items if isinstance(i, Rejected)] == [
        ("line 1", "Patient/bad-1"),
        ("line 2", "Patient/bad-2"),
        ("line 3", "Patient/bad-3"),
        ("line 4", "Patient/bad-4"),
        ("line 6", "Patient/bad-5"),
    ]
    (whole,) = list(LOADER.read(d / "utf16.json", "ehr"))
    assert whole.ref.where() == f"{d / 'utf16.json'}, file"


def test_bad_files_through_the_pipeline(
    load: Load, driver: Driver, database: str, inputs: tuple[Path, dict[str, Expect]]
) -> None:
    d, files = inputs
    # one record more that the library accepts but the ontology does not: no subject, no start
    (d / "shapeless.json").write_text(
        json.dumps({"resourceType": "Encounter", "id": "e-9", "status": "planned",
                    "class": {"code": "AMB"}})
    )  # fmt: skip
    report = load(d, source="bad")
    rejects = {(Path(r.ref.file).name, r.ref.position): r.reason for r in report.rejects}

    expected = {
        (name, pos) for name, expect in files.items()
        for pos, (kind, _) in expect.items() if kind == "rejected"
    }  # fmt: skip
    assert set(rejects) == expected
    assert "not a format caregraph reads" in rejects[("empty.json", "file")]  # nothing to detect
    # a planned visit with no subject and no period is what FHIR R4 allows (both 0..1): written,
    # with a warning for each
    shapeless = [w for w in report.warnings if Path(w.ref.file).name == "shapeless.json"]
    assert {w.warning.code for w in shapeless} == {"incomplete"}
    assert any("subject" in w.warning.message for w in shapeless)
    assert any("start" in w.warning.message for w in shapeless)
    for reason in rejects.values():
        for secret in SECRETS:
            assert secret not in reason, reason

    assert [f.path for f in report.files if not f.reconciles] == []
    assert report.exit_code == 1
    assert report.total("rejected") == len(expected)
    assert report.total("read") == (
        report.total("written") + report.total("skipped") + report.total("rejected")
    )
    skipped = [(n, p) for n, e in files.items() for p, (k, _) in e.items() if k == "skipped"]
    assert report.total("skipped") == len(skipped) == 5  # POST, DELETE, GET, $lookup, Observation
    # the skips that say why are listed, the Observation (not modelled) only counted
    assert sorted(s.ref.position for s in report.skips) == ["entry 1", "entry 2", "entry 4",
                                                            "entry 7"]  # fmt: skip
    # every rejection coded: bytes that are not FHIR JSON, a version caregraph does not read,
    # no key; the rest break R4's own rules
    codes = {(Path(r.ref.file).name, r.ref.position): r.code for r in report.rejects}
    assert {k: c for k, c in codes.items() if c != "invalid"} == {
        ("array.json", "file"): "syntax", ("broken-line.ndjson", "line 2"): "syntax",
        ("empty.json", "file"): "syntax", ("latin1.ndjson", "line 2"): "syntax",
        ("truncated-bundle.json", "file"): "syntax", ("truncated.ndjson", "line 3"): "syntax",
        ("unknown-type.ndjson", "line 1"): "syntax", ("unknown-type.ndjson", "line 3"): "syntax",
        ("unknown-type.ndjson", "line 5"): "syntax", ("utf16.json", "file"): "syntax",
        ("unknown-type.ndjson", "line 6"): "unsupported",
        ("unknown-type.ndjson", "line 7"): "unsupported",
        ("no-id.json", "file"): "identity",
    }  # fmt: skip
    warned = [w for w in report.warnings if Path(w.ref.file).name != "shapeless.json"]
    for w in warned:
        for secret in SECRETS:
            assert secret not in w.warning.message, w.warning.message
    assert Counter(w.warning.code for w in warned if w.warning.code != "incomplete") == {
        "unresolved-reference": 5, "unusual-value": 4,
    }  # fmt: skip

    # the valid records around the bad ones are in the graph, whole; the injection-like name
    # is a name like any other, and the graph is still there
    assert count(driver, database, "MATCH (p:Patient {familyName: $f}) RETURN count(p)",
                 f=DROP_ALL) == 1  # fmt: skip
    assert count(driver, database, "MATCH (p:Patient {givenNames: [$g]}) RETURN count(p)",
                 g=TEMPLATE) == 1  # fmt: skip
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter) WHERE p.stub IS NULL RETURN count(e)",
    ) == 5  # e-2 and e-8, and e-5, e-20 and e-30 written with warnings  # fmt: skip
    # the repaired ones whole: the participant without its status still names the patient,
    # the series without its modality and the instance without its SOP class are there
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_APPOINTMENT]->(a:Appointment {status: 'booked'}) "
        "WHERE p.stub IS NULL RETURN count(a)",
    ) == 1  # fmt: skip
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(:ImagingStudy)-[:HAS_SERIES]->(s) "
        "WHERE p.stub IS NULL RETURN count(s)",
    ) == 1  # fmt: skip
    assert count(driver, database, "MATCH (e:Encounter {status: 'planned'}) RETURN count(e)") == 1
