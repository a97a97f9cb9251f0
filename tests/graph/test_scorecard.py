"""The interoperability scorecard against a generated health system whose truth is known.

A small Riverside Health (six patients, in every source's format) is loaded the way a health
system would bring its feeds up: the EHR first with only half of its patients, then
scheduling, PACS, billing and the payer; then a second EHR load with the other half (the gap
fixed); then a registration feed with one patient whose identifier names patient 0 under
another birth date, one file that is not JSON and one visit without a start. The generator
knows which claim, study and appointment belong to which visit, so every measure is checked
against what it says, and the trend must show the change with the run (and the source) that
made it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import integrity, scorecard
from caregraph.graph.scorecard import Measure
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.generator.directory import Directory
from caregraph.loaders.generator.scenario import PatientCase, patient_case
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.loaders.report import LoadReport

PATIENTS = 6
FIRST_HALF = range(PATIENTS // 2)  # the EHR's first load: patients 0-2
# the module loads seven runs before its first test: a generous bound that still finds a hang
pytestmark = pytest.mark.timeout(900)


@dataclass
class Loaded:
    """What the test loaded, when, and the scorecard after each phase."""

    folder: Path
    cases: list[PatientCase]
    reports: dict[str, LoadReport] = field(default_factory=dict)  # source (phase) -> report
    windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    after_gap: list[Measure] = field(default_factory=list)
    after_fix: list[Measure] = field(default_factory=list)
    after_registration: list[Measure] = field(default_factory=list)


def one(
    measures: list[Measure], name: str, source: str | None = None, group: str | None = None
) -> Measure:
    found = [m for m in measures if (m.name, m.source, m.group) == (name, source, group)]
    assert len(found) == 1, (
        name,
        source,
        group,
        [(m.source, m.group) for m in measures if m.name == name],
    )
    return found[0]


def registration_feed(folder: Path, p0: PatientCase) -> Path:
    """A registration system's files: a conflict, a broken file and a visit without a start."""
    feed = folder / "registration"
    feed.mkdir()
    mrn = {"system": "urn:oid:2.16.840.1.113883.3.7777.1", "value": p0.mrn}
    other_birth = p0.person.birth.replace(year=p0.person.birth.year - 1).isoformat()
    (feed / "conflict.json").write_text(
        json.dumps(
            {
                "resourceType": "Patient",
                "id": "reg-1",
                "identifier": [mrn],
                "name": [{"family": "Registration", "given": ["Test"]}],
                "gender": "female",
                "birthDate": other_birth,
            }
        )
    )
    (feed / "broken.json").write_text('{"resourceType": "Patient", "identifier": [')
    (feed / "visit.json").write_text(
        json.dumps(
            {
                "resourceType": "Encounter",
                "id": "reg-visit-1",
                "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.7777.2", "value": "R1"}],
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"identifier": {**mrn, "value": "10000001"}},
            }
        )
    )
    return feed


@pytest.fixture(scope="module")
def loaded(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loaded]:
    database = neo4j_conn.database
    folder = tmp_path_factory.mktemp("riverside")
    manifest = generate(folder, PATIENTS, seed=0, layout="files")
    directory = Directory.build(0, PATIENTS)
    cases = [patient_case(i, 0, directory) for i in range(PATIENTS)]
    out = Loaded(folder, cases)
    identity = IdentityConfig.from_file(folder / "identity.toml")
    integrity.wipe(driver, database)

    def run(name: str, source: str, paths: list[Path]) -> None:
        start = datetime.now(UTC)
        out.reports[name] = load(
            paths, driver=driver, database=database, source=source, identity=identity
        )
        out.windows[source] = (start, datetime.now(UTC))

    bundles = sorted((folder / "fhir").glob("patients-*/patient-*.json"))
    first = [b for b in bundles if int(b.stem.split("-")[1]) in FIRST_HALF]
    run("ehr-1", "ehr", [folder / "fhir" / "directory.json", *first])
    for source in ("scheduling", "pacs", "billing", "payer"):
        run(source, source, [folder / p for p in manifest["sources"][source]])
    out.after_gap = scorecard.measure(driver, database)
    run("ehr-2", "ehr", [b for b in bundles if b not in first])
    out.after_fix = scorecard.measure(driver, database)
    run("registration", "registration", [registration_feed(folder, cases[0])])
    out.after_registration = scorecard.measure(driver, database)
    yield out
    integrity.wipe(driver, database)


def count(cases: list[PatientCase], what: str, indexes: range | None = None) -> int:
    """How many of the generated visits' claims, studies, booked appointments, payments."""
    n = 0
    for case in cases:
        if indexes is not None and case.index not in indexes:
            continue
        for e in case.encounters:
            if what == "booked":
                n += e.appointment is not None and e.appointment.status == "booked"
            elif what == "appointments":
                n += (e.appointment is not None) + (e.cancelled is not None)
            else:
                n += getattr(e, what) is not None
    return n


def test_continuity_equals_what_the_generator_says_before_and_after_the_gap_is_fixed(
    loaded: Loaded,
) -> None:
    cases = loaded.cases
    claims, studies = count(cases, "claim"), count(cases, "study")
    appointments, payments = count(cases, "appointments"), count(cases, "payment")
    encounters = sum(len(c.encounters) for c in cases)
    half_encounters = sum(len(c.encounters) for c in cases if c.index in FIRST_HALF)
    gap, fix = loaded.after_gap, loaded.after_fix
    for source in (None, "billing"):
        m = one(gap, "claims-linked-to-encounter", source)
        assert (m.numerator, m.denominator) == (count(cases, "claim", FIRST_HALF), claims)
        m = one(fix, "claims-linked-to-encounter", source)
        assert (m.numerator, m.denominator, m.value) == (claims, claims, 1.0)
        assert m.domain == "financial"
    m = one(gap, "imaging-studies-linked-to-encounter", "pacs")
    assert (m.numerator, m.denominator) == (count(cases, "study", FIRST_HALF), studies)
    assert one(fix, "imaging-studies-linked-to-encounter", "pacs").numerator == studies
    assert one(fix, "imaging-studies-linked-to-encounter", "pacs").domain == "imaging"
    m = one(gap, "appointments-linked-to-encounter", "scheduling")
    assert (m.numerator, m.denominator) == (count(cases, "booked", FIRST_HALF), appointments)
    m = one(fix, "appointments-linked-to-encounter", "scheduling")
    assert (m.numerator, m.denominator) == (count(cases, "booked"), appointments)
    assert m.domain == "scheduling"
    for measures in (gap, fix):
        m = one(measures, "remittances-linked-to-claim", "payer")
        assert (m.numerator, m.denominator) == (payments, payments)
    for name in ("encounters-with-known-practitioner", "encounters-with-known-organization"):
        m = one(gap, name, "ehr")
        assert (m.numerator, m.denominator, m.domain) == (half_encounters,) * 2 + ("clinical",)
        assert (one(fix, name).numerator, one(fix, name).denominator) == (encounters,) * 2
    # every patient with a visit is seen by the EHR and by the other systems; the namesake
    # (a second patient of the same name) only by the EHR
    patients = len(cases) + sum(c.namesake is not None for c in cases)
    m = one(fix, "patients-seen-in-several-sources")
    assert (m.numerator, m.denominator) == (len(cases), patients)
    # billing knows patients only by member id and demographics: each of its patients was
    # joined by demographics-exact; PACS and scheduling share the EHR's MRNs
    with_claims = sum(any(e.claim for e in c.encounters) for c in cases)
    m = one(fix, "patients-joined-by-rule", "billing", "demographics-exact")
    assert (m.numerator, m.denominator) == (with_claims, with_claims)
    with_study = sum(any(e.study for e in c.encounters) for c in cases)
    m = one(fix, "patients-joined-by-rule", "pacs", "same-identifier")
    assert (m.numerator, m.denominator) == (with_study, with_study)


def test_identity_and_completeness_count_what_the_registration_feed_got_wrong(
    loaded: Loaded,
) -> None:
    before, after = loaded.after_fix, loaded.after_registration
    assert one(before, "identity-conflicts-kept-apart").numerator == 0
    assert one(after, "identity-conflicts-kept-apart").numerator == 1
    m = one(after, "identity-conflicts-kept-apart", "registration", "Patient")
    assert (m.numerator, m.domain) == (1, "directory")
    # the conflict's drill-down names the kept-apart copy and the patient it contradicts
    # (patient 0, by its MRN key)
    rejected = one(after, "records-rejected", "registration")
    assert (rejected.numerator, rejected.denominator) == (1, 3)
    assert one(after, "records-rejected", "registration", "syntax").numerator == 1
    assert one(after, "records-rejected").numerator == 1  # the other sources' latest runs: 0
    warned = one(after, "records-with-warnings", "registration")
    assert (warned.numerator, warned.denominator) == (1, 2)  # of the two records written
    assert one(after, "records-with-warnings", "registration", "incomplete").numerator == 1
    assert one(before, "records-with-warnings").numerator == 0
    # the visit without a start has no practitioner and no organization
    encounters = sum(len(c.encounters) for c in loaded.cases)
    m = one(after, "encounters-with-known-practitioner")
    assert (m.numerator, m.denominator) == (encounters, encounters + 1)


def test_freshness_is_the_last_load_and_the_newest_event(loaded: Loaded) -> None:
    for source, (start, end) in loaded.windows.items():
        m = one(loaded.after_registration, "days-since-last-load", source)
        assert m.at is not None and start <= m.at <= end, source
        assert m.value is not None and m.value >= 0
    starts = [
        b.start
        for c in loaded.cases
        for e in c.encounters
        for a in (e.appointment, e.cancelled)
        if a is not None
        for b in a.bookings[-1:]
    ]
    m = one(loaded.after_registration, "days-since-newest-event", "scheduling")
    assert m.at == max(starts)


def test_each_load_run_keeps_a_snapshot_and_the_trend_names_the_run_that_fixed_the_gap(
    loaded: Loaded, driver: Driver, database: str
) -> None:
    key = one(loaded.after_fix, "claims-linked-to-encounter", "billing").key
    series = scorecard.trends(driver, database, [key], last=20)[key]
    runs = [p.run_id for p in series]
    # billing's claims exist from the billing run on: one point per run since
    order = ["billing", "payer", "ehr-2", "registration"]
    assert runs == [loaded.reports[name].run_id for name in order]
    fixed = [c for c in scorecard.changes({key: series})]
    assert len(fixed) == 1
    change = fixed[0]
    assert change.after.run_id == loaded.reports["ehr-2"].run_id
    assert change.after.run_source == "ehr"
    assert change.before.value == pytest.approx(
        count(loaded.cases, "claim", FIRST_HALF) / count(loaded.cases, "claim")
    )
    assert change.after.value == 1.0
    # freshness changes when what it looks at does, not because the clock moved: the EHR's
    # last load changed once after billing's run (at its second load), scheduling's newest
    # event never after its own load
    last_load = one(loaded.after_fix, "days-since-last-load", "ehr").key
    newest = one(loaded.after_fix, "days-since-newest-event", "scheduling").key
    history = scorecard.trends(driver, database, [last_load, newest], last=20)
    ehr_loads = [c for c in scorecard.changes({last_load: history[last_load]})]
    assert [c.after.run_id for c in ehr_loads] == [
        loaded.reports["ehr-2"].run_id,
    ]
    assert scorecard.changes({newest: history[newest]}) == []
    # the all-sources measure: no claims yet (no value) until billing, then the same change
    everything = one(loaded.after_fix, "claims-linked-to-encounter").key
    points = scorecard.trends(driver, database, [everything], last=3)[everything]
    assert [p.run_id for p in points] == [loaded.reports[n].run_id for n in order[1:]]


def test_drill_down_lists_the_conflict_and_the_visit_without_a_practitioner(
    loaded: Loaded, driver: Driver, database: str
) -> None:
    # after the registration feed every claim is linked: nothing behind the measure
    assert scorecard.records_behind(driver, database, "claims-linked-to-encounter") == []
    behind = scorecard.records_behind(driver, database, "identity-conflicts-kept-apart")
    assert len(behind) == 1
    assert behind[0].kind == "Patient" and behind[0].sources == ["registration"]
    assert behind[0].other == f"urn:oid:2.16.840.1.113883.3.7777.1|{loaded.cases[0].mrn}"
    practitioners = scorecard.records_behind(
        driver, database, "encounters-with-known-practitioner", source="registration"
    )
    assert [b.kind for b in practitioners] == ["Encounter"]
