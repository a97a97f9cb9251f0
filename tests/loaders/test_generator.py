"""caregraph synth: Riverside Health's records in every source's format, seeded and streamed.

The generated files are checked the way their users would: read back by each format's
loader (and, for X12, validated by pyx12), patient 0 found with the same keys in every
source, the namesake only in the EHR, and the whole set the same bytes for the same seed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pyx12.params
import pyx12.x12n_document
from fhir.resources.R4B.bundle import Bundle
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.loaders import keys, registry
from caregraph.loaders.generator import generate, pools, write_demo
from caregraph.loaders.generator import ids as synth_ids
from caregraph.loaders.generator.directory import Directory
from caregraph.loaders.generator.manifest import IDENTITY_TOML
from caregraph.loaders.generator.x12 import money, text
from caregraph.loaders.identity import IdentityConfig, normalise
from caregraph.loaders.pipeline import load as run_load
from caregraph.loaders.records import Node, Record, Rejected
from caregraph.ontology.vocab import CG

ROOT = Path(__file__).resolve().parents[2]
PATIENTS = 40
BATCH = 16  # three batches: files rotate
NOT_DATA = ("manifest.json", "identity.toml")
V2 = "http://terminology.hl7.org/CodeSystem/v2"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("riverside")
    generate(out, PATIENTS, seed=0, batch_size=BATCH)
    return out


@pytest.fixture(scope="module")
def manifest(synth: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((synth / "manifest.json").read_text())
    return data


@pytest.fixture(scope="module")
def p0(manifest: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = manifest["expected"]["patient0"]
    return facts


def data_files(root: Path, under: str | None = None) -> list[Path]:
    base = root / under if under else root
    return sorted(p for p in base.rglob("*") if p.is_file() and p.name not in NOT_DATA)


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read(path: Path, source: str, fmt: str) -> list[Record]:
    """The file's records through the registry; it must be detected as ``fmt``, none rejected."""
    loader = registry.detect(path)
    assert loader is not None, f"{path.name} is not detected"
    assert loader.format == fmt, f"{path.name} detected as {loader.format}"
    items = list(loader.read(path, source))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert not rejected, [(r.ref.where(), r.reason) for r in rejected]
    return [i for i in items if isinstance(i, Record)]


def records_of(root: Path, pattern: str, source: str, fmt: str) -> Iterator[Record]:
    for path in sorted(root.glob(pattern)):
        yield from read(path, source, fmt)


def node(rec: Record, cls: Any) -> Node:
    return next(n for n in rec.nodes if n.cls == cls)


def of_patient(records: Iterable[Record], key: str) -> list[Record]:
    """The records whose patient is keyed ``key``."""
    return [r for r in records if node(r, CG.Patient).key == key]


def claim_number(rec: Record) -> Any:
    return node(rec, CG.Claim).props[CG.controlNumber]


# -- determinism -------------------------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate(tmp_path / name, 25, seed=seed, batch_size=10)
    a, b, c = (digests(tmp_path / n) for n in "abc")
    assert len(a) > 40
    assert a == b
    shared = {name for name in a if name in c and a[name] == c[name]}
    assert shared <= {"identity.toml"}, sorted(shared)
    pa = json.loads((tmp_path / "a" / "manifest.json").read_text())["expected"]["patient0"]
    pc = json.loads((tmp_path / "c" / "manifest.json").read_text())["expected"]["patient0"]
    assert pa["mrn"] == pc["mrn"] == "10000000"  # identifiers follow the index ...
    assert (pa["familyName"], pa["birthDate"]) != (
        pc["familyName"],
        pc["birthDate"],
    )  # ... people the seed


# -- the directory -----------------------------------------------------------------------------
def test_npis_pass_the_luhn_check_with_prefix_80840_and_the_directory_scales() -> None:
    assert synth_ids.npi_is_valid("1234567893")  # CMS's documented example
    assert not synth_ids.npi_is_valid("1234567890")
    sizes = {}
    for patients in (40, 1_000, 10_000):
        d = Directory.build(0, patients)
        npis = [p.npi for p in d.practitioners] + [o.npi for o in d.organizations]
        assert all(synth_ids.npi_is_valid(n) for n in npis)
        assert len(set(npis)) == len(npis)
        sizes[patients] = (len(d.practitioners), len(d.organizations), len(d.hospitals))
        assert (
            d.primary_care
            and all(d.emergency_doctors.values())
            and all(d.attending_doctors.values())
        )
    assert sizes == {40: (5, 3, 1), 1_000: (20, 3, 1), 10_000: (200, 5, 1)}
    # clinician j is the same person whatever the size of the data set
    assert (
        Directory.build(0, 1_000).practitioners[3].npi
        == Directory.build(0, 10_000).practitioners[3].npi
    )


def test_every_name_survives_x12s_character_set_for_matching() -> None:
    # X12 folds accents away; identity compares normalised names: they must still agree
    for name in (*pools.FAMILY_NAMES, *pools.FEMALE_GIVEN, *pools.MALE_GIVEN):
        assert normalise(text(name)) == normalise(name), name


# -- each format read back by its loader -------------------------------------------------------
def test_hl7v2_feeds_read_back_with_every_message(synth: Path, manifest: dict[str, Any]) -> None:
    counts = manifest["counts"]["hl7v2"]
    siu = list(records_of(synth, "hl7v2/siu-*.hl7", "scheduling", "hl7v2"))
    adt = list(records_of(synth, "hl7v2/adt-*.hl7", "adt", "hl7v2"))
    kinds = Counter(r.kind for r in siu + adt)
    assert kinds == {
        f"{'SIU' if e.startswith('S') else 'ADT' if e.startswith('A') else 'ORM'}^{e}": n
        for e, n in counts.items()
        if e != "files"
    }
    assert {"SIU^S12", "SIU^S13", "SIU^S15", "ADT^A01", "ADT^A03", "ORM^O01"} <= set(kinds)
    assert len(list(synth.glob("hl7v2/siu-*.hl7"))) == 3  # 40 patients in batches of 16
    controls = [r.ref.record_id for r in siu + adt]
    assert len(set(controls)) == len(controls)  # MSH-10 unique across the feeds
    raw = (synth / "hl7v2" / "siu-0000.hl7").read_bytes()
    assert b"\n" not in raw and raw.count(b"MSH|") > 10  # CR segment ends, many messages


def test_dicom_part10_headers_read_back(synth: Path, manifest: dict[str, Any]) -> None:
    files = data_files(synth, "dicom")
    assert len(files) == manifest["counts"]["dicom"]["series"]
    recs = [r for f in files for r in read(f, "pacs", "dicom")]
    studies = {node(r, CG.ImagingStudy).key for r in recs}
    assert len(studies) == manifest["counts"]["dicom"]["studies"]
    head = files[0].read_bytes()
    assert head[128:132] == b"DICM" and b"\x7f\xe0\x10\x00" not in head  # Part 10, no pixels


def test_x12_claims_and_payments_read_back(synth: Path, manifest: dict[str, Any]) -> None:
    claims = list(records_of(synth, "x12/837-*.837", "billing", "x12"))
    payments = list(records_of(synth, "x12/835-*.835", "payer", "x12"))
    assert len(claims) == manifest["counts"]["x12-837"]["claims"]
    assert len(payments) == manifest["counts"]["x12-835"]["payments"]
    assert {r.kind for r in claims} == {"837P claim"}
    assert {r.kind for r in payments} == {"835 claim payment"}
    # every payment names a claim of the 837s: CLP01 within the payee's NPI
    claim_keys = {node(r, CG.Claim).key for r in claims}
    paid = {next(x.dst.key for x in r.links if x.rel == CG.remits) for r in payments}
    assert paid <= claim_keys
    assert len(paid) == len(payments)


def test_fhir_bundles_and_directory_validate_as_fhir(synth: Path, p0: dict[str, Any]) -> None:
    bundles = data_files(synth, "fhir")
    assert len(bundles) == 1 + PATIENTS + 1  # directory, patients, the namesake of patient 0
    for path in bundles:
        bundle = Bundle.model_validate_json(path.read_bytes())
        assert bundle.type == "transaction"
    entries = json.loads((synth / "fhir/patients-0000/patient-000000.json").read_text())["entry"]
    patient, encounter, *clinical = (e["resource"] for e in entries)
    # the visit's documented diagnoses (Encounter.diagnosis -> Conditions at it) and procedures
    enc = p0["encounters"][0]
    conditions = [r for r in clinical if r["resourceType"] == "Condition"]
    procedures = [r for r in clinical if r["resourceType"] == "Procedure"]
    assert [c["code"]["coding"][0]["code"] for c in conditions] == enc["documentedDiagnoses"]
    assert [p["code"]["coding"][0]["code"] for p in procedures] == enc["procedures"]
    url = {id(e["resource"]): e["fullUrl"] for e in entries}
    assert [d["condition"]["reference"] for d in encounter["diagnosis"]] == [
        url[id(c)] for c in conditions
    ]
    assert all(c["encounter"]["reference"] == entries[1]["fullUrl"] for c in clinical)
    assert patient["identifier"][0] == {
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]
        },
        "system": "urn:oid:2.16.840.1.113883.3.7777.1",
        "value": p0["mrn"],
    }
    assert entries[0]["request"] == {
        "method": "PUT",
        "url": f"Patient?identifier=urn:oid:2.16.840.1.113883.3.7777.1|{p0['mrn']}",
    }
    assert encounter["identifier"][0]["value"] == enc["visitNumber"]
    assert encounter["subject"]["reference"] == entries[0]["fullUrl"]
    assert encounter["participant"][0]["individual"]["reference"] == (
        f"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|{enc['practitionerNpi']}"
    )
    assert encounter["serviceProvider"]["reference"] == (
        f"Organization?identifier=http://hl7.org/fhir/sid/us-npi|{enc['organizationNpi']}"
    )
    assert encounter["period"] == {"start": enc["start"], "end": enc["end"]}
    assert re.search(r"[+-]\d\d:\d\d$", encounter["period"]["start"])
    directory = json.loads((synth / "fhir/directory.json").read_text())
    kinds = Counter(e["resource"]["resourceType"] for e in directory["entry"])
    assert kinds == {"Organization": 3, "Location": 5, "Practitioner": 5, "PractitionerRole": 5}


def test_fhir_files_read_back_with_the_fhir_loader(synth: Path, manifest: dict[str, Any]) -> None:
    recs = [r for f in data_files(synth, "fhir") for r in read(f, "ehr", "fhir")]
    patients = [n for r in recs for n in r.nodes if n.cls == CG.Patient and n.identifiers]
    assert len({n.key for n in patients}) == manifest["expected"]["individuals"]["patients"]


def test_bulk_layout_ndjson_and_dicom_json(tmp_path: Path) -> None:
    m = generate(tmp_path, 30, seed=0, layout="bulk", batch_size=16)
    assert m["layout"] == "bulk"
    ndjson = sorted((tmp_path / "fhir-bulk").glob("*.ndjson"))
    assert [p.name for p in ndjson] == [
        "Condition.0000.ndjson", "Condition.0001.ndjson",
        "Encounter.0000.ndjson", "Encounter.0001.ndjson", "Location.ndjson",
        "Organization.ndjson", "Patient.0000.ndjson", "Patient.0001.ndjson",
        "Practitioner.ndjson", "PractitionerRole.ndjson",
        "Procedure.0000.ndjson", "Procedure.0001.ndjson",
    ]  # fmt: skip
    lines = [json.loads(x) for p in ndjson for x in p.read_text().splitlines()]
    assert Counter(x["resourceType"] for x in lines)["Patient"] == 31  # one namesake
    ids_ = {x["id"] for x in lines if x["resourceType"] == "Patient"}
    subjects = {x["subject"]["reference"] for x in lines if "subject" in x}
    assert {s.removeprefix("Patient/") for s in subjects} <= ids_
    visits = {x["id"] for x in lines if x["resourceType"] == "Encounter"}
    at = {x["encounter"]["reference"] for x in lines if "encounter" in x}
    assert at and {v.removeprefix("Encounter/") for v in at} <= visits
    files = data_files(tmp_path, "dicom-json")
    assert [f.name for f in files] == ["studies-0000.json", "studies-0001.json"]
    recs = [r for f in files for r in read(f, "pacs", "dicom")]
    assert len(recs) == m["counts"]["dicom"]["series"]
    assert sum(len(read(p, "ehr", "fhir")) for p in ndjson) == len(lines)


# -- X12 against the implementation guides -----------------------------------------------------
def pyx12_findings(path: Path) -> tuple[bool, str]:
    found = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.ParamsBase(), str(path), fd_997=None, fd_html=None, fd_json=found
    )
    return bool(ok), found.getvalue()


def test_pyx12_validates_every_837_and_835_without_errors(synth: Path, tmp_path: Path) -> None:
    files = sorted(synth.glob("x12/*.83[57]"))
    assert len(files) == 6
    for path in files:
        ok, findings = pyx12_findings(path)
        assert ok, f"{path.name}: {findings}"
    # the check has teeth: a wrong segment count is an error
    broken = tmp_path / "broken.837"
    broken.write_text(re.sub(r"SE\*(\d+)\*", "SE*999*", files[0].read_text(), count=1))
    assert not pyx12_findings(broken)[0]


def test_x12_control_numbers_and_counts(synth: Path) -> None:
    for path in sorted(synth.glob("x12/*.83[57]")):
        segs = [s.strip().split("*") for s in path.read_text().split("~") if s.strip()]
        isa, iea = segs[0], segs[-1]
        assert isa[13] == iea[2] and int(iea[1]) == sum(1 for s in segs if s[0] == "GS")
        groups = [i for i, s in enumerate(segs) if s[0] == "GS"]
        for g in groups:
            ge = next(i for i in range(g, len(segs)) if segs[i][0] == "GE")
            sts = [i for i in range(g, ge) if segs[i][0] == "ST"]
            assert segs[g][6] == segs[ge][2] and int(segs[ge][1]) == len(sts)
            for st in sts:
                se = next(i for i in range(st, ge) if segs[i][0] == "SE")
                assert segs[st][2] == segs[se][2] and int(segs[se][1]) == se - st + 1
    assert money(14_500) == "145" and money(15_550) == "155.5" and money(1) == "0.01"
    assert text("Muñoz-O'Brien*~") == "MUNOZ-O'BRIEN"


# -- the overlaps: patient 0 in every source, the namesake in one ------------------------------
def test_patient0_is_one_person_and_one_visit_in_every_source(
    synth: Path, p0: dict[str, Any]
) -> None:
    enc = p0["encounters"][0]
    assert len(p0["encounters"]) == 1 and enc["class"] == "IMP"
    mrn_token = f"RIVERSIDE|{p0['mrn']}"
    visit_token = f"RIVERSIDE-VN|{enc['visitNumber']}"
    npi_token = f"{keys.NPI_SYSTEM}|{enc['practitionerNpi']}"
    given, family, birth = p0["givenName"], p0["familyName"], p0["birthDate"]

    # scheduling: the booking, by patient MRN, clinician NPI and the visit's start
    siu = of_patient(records_of(synth, "hl7v2/siu-*.hl7", "scheduling", "hl7v2"), mrn_token)
    assert [r.kind for r in siu] == ["SIU^S12"]
    appt = node(siu[0], CG.Appointment)
    assert appt.key == f"RIVERSIDE-SCHED|{enc['appointment']['id']}"
    assert appt.props[CG.start] == enc["start"]
    assert npi_token in {n.key for n in siu[0].nodes if n.cls == CG.Practitioner}

    # ADT: admission, discharge and the imaging order, under the visit number
    adt = of_patient(records_of(synth, "hl7v2/adt-*.hl7", "adt", "hl7v2"), mrn_token)
    assert sorted(r.kind for r in adt) == ["ADT^A01", "ADT^A03", "ORM^O01"]
    admit = next(r for r in adt if r.kind == "ADT^A01")
    assert node(admit, CG.Encounter).key == visit_token
    assert node(admit, CG.Patient).props[CG.birthDate] == birth
    order = node(next(r for r in adt if r.kind == "ORM^O01"), CG.ServiceRequest)
    study = enc["study"]
    assert order.props[CG.accessionNumber] == study["accessionNumber"]
    assert order.props[CG.accessionIssuer] == "RIVERSIDE-RIS"
    orm = next(r for r in adt if r.kind == "ORM^O01")
    assert any(x.rel == CG.forEncounter and x.dst.key == visit_token for x in orm.links)

    # PACS: the study, by MRN within RIVERSIDE, the same accession, during the stay
    pacs = (r for f in data_files(synth, "dicom") for r in read(f, "pacs", "dicom"))
    dicom = of_patient(pacs, mrn_token)
    assert len(dicom) == len(study["seriesInstanceUids"])
    img = node(dicom[0], CG.ImagingStudy)
    assert img.props[CG.studyInstanceUid] == study["studyInstanceUid"]
    assert img.props[CG.accessionNumber] == study["accessionNumber"]
    assert img.props[CG.accessionIssuer] == "RIVERSIDE-RIS"
    assert img.props[CG.referringPhysicianName] == enc["practitionerName"]
    assert enc["start"] < str(img.props[CG.start]) < enc["end"]
    assert node(dicom[0], CG.Patient).props[CG.birthDate] == birth

    # billing: the claim knows the patient by member id and demographics only
    claims = records_of(synth, "x12/837-*.837", "billing", "x12")
    claim_rec = next(r for r in claims if claim_number(r) == enc["visitNumber"])
    claim = node(claim_rec, CG.Claim)
    assert claim.props[CG.totalCharge] == enc["claim"]["totalCharge"]
    assert claim.key == keys.claim_key(enc["organizationNpi"], enc["visitNumber"])
    member = node(claim_rec, CG.Patient)
    assert member.identifiers[0].value == p0["memberId"]
    assert not any(p0["mrn"] in i.value for i in member.identifiers)
    assert normalise(str(member.props[CG.familyName])) == normalise(family)
    given_names = member.props[CG.givenNames]
    assert isinstance(given_names, list) and given_names[0] == text(given)  # X12: capitals
    assert (member.props[CG.birthDate], member.props[CG.gender]) == (birth, p0["gender"])
    providers = {x.dst.key: x.props[CG.role] for x in claim_rec.links if x.rel == CG.hasProvider}
    assert providers[npi_token] == "rendering"
    assert providers[f"{keys.NPI_SYSTEM}|{enc['organizationNpi']}"] == "billing"

    # payer: the payment of that claim
    payments = records_of(synth, "x12/835-*.835", "payer", "x12")
    pay_rec = next(r for r in payments if claim.key in {x.dst.key for x in r.links})
    assert node(pay_rec, CG.Remittance).props[CG.paymentAmount] == enc["payment"]["paid"]


def test_namesakes_share_the_name_and_live_only_in_the_ehr(
    synth: Path, p0: dict[str, Any], manifest: dict[str, Any]
) -> None:
    assert [n["of"] for n in manifest["expected"]["namesakes"]] == [0]  # every 200th patient
    path = synth / "fhir/patients-0000/patient-000000-namesake.json"
    entries = json.loads(path.read_text())["entry"]
    assert [e["resource"]["resourceType"] for e in entries] == ["Patient"]  # no visits
    twin = entries[0]["resource"]
    assert twin["name"][0]["family"] == p0["familyName"]
    assert twin["name"][0]["given"][0] == p0["givenName"]
    assert twin["gender"] == p0["gender"]
    assert twin["birthDate"] == p0["namesake"]["birthDate"] != p0["birthDate"]
    twin_mrn = re.compile(rb"(?<![0-9.])" + p0["namesake"]["mrn"].encode() + rb"(?![0-9.])")
    for other in data_files(synth):
        if other.parts[-3:-1] != ("fhir", "patients-0000"):
            assert not twin_mrn.search(other.read_bytes()), other.name


# -- identity table, CLI, demo, memory ---------------------------------------------------------
def test_identity_example_is_the_generated_alias_table(synth: Path) -> None:
    doc = ROOT / "docs" / "identity.example.toml"
    assert doc.read_text() == IDENTITY_TOML == (synth / "identity.toml").read_text()
    config = IdentityConfig.from_file(doc)
    assert config.canon("RIVERSIDE|10000000") == "urn:oid:2.16.840.1.113883.3.7777.1|10000000"
    assert config.canon("RIVERSIDE-VN|V1") == "urn:oid:2.16.840.1.113883.3.7777.2|V1"
    assert config.canon("NPI|1234567893") == f"{keys.NPI_SYSTEM}|1234567893"
    assert config.demographics_exact


def test_cli_writes_a_data_set_and_will_not_mix_two(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    args = ["synth", "--patients", "5", "--out", str(out), "--seed", "2", "--formats", "hl7v2,x12"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "--source scheduling" in first.output
    m = json.loads((out / "manifest.json").read_text())
    assert (m["patients"], m["seed"], m["formats"]) == (5, 2, ["hl7v2", "x12"])
    assert set(m["sources"]) == {"scheduling", "adt", "billing", "payer"}
    assert not (out / "fhir").exists()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert runner.invoke(app, [*args, "--overwrite", "--formats", "csv"]).exit_code == 2


def test_demo_set_covers_all_five_domains(tmp_path: Path) -> None:
    m = write_demo(tmp_path)
    expected = m["expected"]["individuals"]
    assert m["patients"] == 12 and m["layout"] == "files"
    for what in ("encounters", "practitioners", "organizations", "imagingStudies", "claims",
                 "remittances", "appointments"):  # fmt: skip
        assert expected[what] > 0, what
    assert set(m["sources"]) == {"ehr", "scheduling", "adt", "pacs", "billing", "payer"}


def test_memory_stays_flat_as_patients_stream(tmp_path: Path) -> None:
    sampled: dict[int, float] = {}

    def sample(index: int) -> None:
        if index % 20 == 5:
            sampled[index] = tracemalloc.get_traced_memory()[0] / 2**20

    tracemalloc.start()
    try:
        generate(tmp_path, 120, seed=1, layout="bulk", batch_size=20, on_patient=sample)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    # the same point of six batches holds the same: nothing accumulates across batches
    assert max(sampled.values()) - min(sampled.values()) < 1.0, sampled
    assert peak < 20, peak


# -- the overlaps resolved in the graph --------------------------------------------------------
PATIENT_CONTEXT = """
MATCH (:Identifier {key: $mrn})-[:IDENTIFIES]->(p:Patient)
OPTIONAL MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)
OPTIONAL MATCH (p)-[:HAS_APPOINTMENT]->(a:Appointment)-[af:FOR_ENCOUNTER]->(e)
OPTIONAL MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)-[sf:FOR_ENCOUNTER]->(e)
OPTIONAL MATCH (p)-[:HAS_CLAIM]->(c:Claim)-[cf:FOR_ENCOUNTER]->(e)
OPTIONAL MATCH (r:Remittance)-[:REMITS]->(c)
RETURN p.key AS patient, collect(DISTINCT e.visitNumber) AS visits,
       collect(DISTINCT [a.key, af.rule]) AS appointments,
       collect(DISTINCT [s.studyInstanceUid, sf.rule]) AS studies,
       collect(DISTINCT [c.controlNumber, cf.rule]) AS claims,
       collect(DISTINCT r.paymentAmount) AS paid
"""
LINKED = """
MATCH (n) WHERE $label IN labels(n) AND n.stub IS NULL
OPTIONAL MATCH (n)-[x:FOR_ENCOUNTER|REMITS]->()
RETURN count(DISTINCT n) AS total, count(DISTINCT CASE WHEN x IS NOT NULL THEN n END) AS linked
"""


def test_every_source_loaded_on_its_own_meets_in_one_patient_and_visit(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    m = write_demo(tmp_path / "demo")
    out = tmp_path / "demo"
    identity = IdentityConfig.from_file(out / "identity.toml")
    for source, paths in m["sources"].items():
        report = run_load(
            [out / p for p in paths],
            driver=clean_graph,
            database=database,
            source=source,
            identity=identity,
        )
        assert report.exit_code == 0, (source, report.as_json()["rejects"][:3])
        assert not report.conflicts, (source, report.conflicts[:3])

    p0 = m["expected"]["patient0"]
    enc = p0["encounters"][0]

    def context(mrn: str) -> dict[str, Any]:
        records, _, _ = clean_graph.execute_query(
            PATIENT_CONTEXT, mrn=f"{p0['mrnSystem']}|{mrn}", database_=database
        )
        return dict(records[0])

    jane = context(p0["mrn"])
    assert jane["visits"] == [enc["visitNumber"]]
    appointment = f"RIVERSIDE-SCHED|{enc['appointment']['id']}"
    assert jane["appointments"] == [[appointment, "same-patient-practitioner-time"]]
    assert jane["studies"] == [[enc["study"]["studyInstanceUid"], "accession-order"]]
    assert jane["claims"] == [[enc["visitNumber"], "claim-visit-number"]]
    assert jane["paid"] == [enc["payment"]["paid"]]
    twin = context(p0["namesake"]["mrn"])
    assert twin["patient"] != jane["patient"] and twin["visits"] == []

    # all patients: one node each; every claim, study, booked appointment and payment linked
    expected = m["expected"]["individuals"]

    def linked(label: str) -> tuple[int, int]:
        records, _, _ = clean_graph.execute_query(LINKED, label=label, database_=database)
        return int(records[0]["total"]), int(records[0]["linked"])

    assert linked("Patient")[0] == expected["patients"]
    assert linked("Encounter")[0] == expected["encounters"]
    assert linked("Claim") == (expected["claims"], expected["claims"])
    assert linked("ImagingStudy") == (expected["imagingStudies"], expected["imagingStudies"])
    assert linked("Remittance") == (expected["remittances"], expected["remittances"])
    booked = expected["appointments"] - expected["cancelledAppointments"]
    assert linked("Appointment") == (expected["appointments"], booked)
