"""Synthea CSV: facts from the shared sample export, read through the real pipeline."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from loaders.records import Record, Rejected, Skipped
from loaders.synthea import LOADER, SYNTHEA
from tests.loaders.conftest import Load, count

ENCOUNTER = "57f2562b-445c-f11c-ba40-edc55af3c84f"
PATIENT = "3edac2e3-d223-6fae-d515-daf96ef6bc76"
CLAIM = "9120543f-28b9-96ae-09eb-d54f6d918234"


def csv_dir(samples: Path) -> Path:
    return samples / "synthea-csv-v3.0.0"


def test_detects_tables_by_header_not_name(tmp_path: Path, samples: Path) -> None:
    renamed = tmp_path / "export_1.csv"
    renamed.write_bytes((csv_dir(samples) / "patients.csv").read_bytes())
    assert LOADER.detect(renamed, renamed.read_bytes()[:4096])
    other = tmp_path / "patients.csv"
    other.write_text("a,b,c\n1,2,3\n")
    assert not LOADER.detect(other, other.read_bytes())


def test_reads_every_patient_row(samples: Path) -> None:
    items = list(LOADER.read(csv_dir(samples) / "patients.csv", "synthea"))
    assert len(items) == 27
    assert all(isinstance(i, Record) for i in items)


def test_loads_the_export_with_its_links(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(csv_dir(samples), source="synthea")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    assert all(f.reconciles for f in report.files)
    assert report.total("rejected") == 0
    # TRANSFERIN / TRANSFEROUT transactions are not modelled: skipped, and counted
    assert report.total("skipped") == 920 + 920

    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 27
    assert count(driver, database, "MATCH (e:Encounter) RETURN count(e)") == 604
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter {key: $enc}) "
        "MATCH (e)-[pp:HAS_PARTICIPANT]->(pr:Practitioner) "
        "MATCH (e)-[:SERVICE_PROVIDER]->(o:Organization) "
        "RETURN p.key AS patient, e.encounterClass AS cls, toString(e.start) AS start, "
        "pp.role AS role, pr.stub AS prStub, o.name AS org",
        enc=f"{SYNTHEA}|{ENCOUNTER}",
        database_=database,
    )
    assert len(records) == 1
    r = records[0]
    assert r["patient"] == f"{SYNTHEA}|{PATIENT}"
    assert r["cls"] == "AMB" and r["start"].startswith("2023-01-27T16:17:47")
    assert r["role"] == "primary performer" and r["prStub"] is None
    assert r["org"]

    # the claim: its encounter, payer (Anthem), items from claims_transactions, payment
    records, _, _ = driver.execute_query(
        "MATCH (c:Claim {controlNumber: $claim})-[:FOR_ENCOUNTER]->(e:Encounter) "
        "MATCH (c)-[:HAS_PAYER]->(payer:Payer) "
        "MATCH (c)-[:HAS_ITEM]->(i:ClaimItem) "
        "MATCH (rem:Remittance)-[:REMITS]->(c) "
        "RETURN e.key AS enc, payer.name AS payer, collect(DISTINCT i.chargeAmount) AS charges, "
        "collect(DISTINCT rem.paymentAmount) AS paid",
        claim=CLAIM,
        database_=database,
    )
    assert records[0]["enc"] == f"{SYNTHEA}|{ENCOUNTER}"
    assert records[0]["payer"] == "Anthem"
    assert 77.49 in records[0]["charges"]
    assert 77.49 in records[0]["paid"]

    # the imaging study, with its series and modality
    records, _, _ = driver.execute_query(
        "MATCH (:Patient)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)-[:HAS_SERIES]->(x:ImagingSeries) "
        "RETURN s.modality AS m, x.seriesInstanceUid AS uid",
        database_=database,
    )
    assert [(r["m"], r["uid"]) for r in records] == [
        (["DX"], "1.2.840.99999999.1.98060115.1686052808412")
    ]


def test_superclass_labels_and_provenance(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    load(csv_dir(samples) / "patients.csv", csv_dir(samples) / "encounters.csv", source="ehr-csv")
    assert count(driver, database, "MATCH (n:ClinicalEvent:Encounter) RETURN count(n)") == 604
    assert count(driver, database, "MATCH (n:Person:Patient) RETURN count(n)") == 27
    records, _, _ = driver.execute_query(
        "MATCH (s:SourceRecord)-[:ASSERTED]->(e:Encounter {key: $enc}) "
        "MATCH (s)-[:LOADED_IN]->(run:LoadRun) "
        "MATCH (:Patient)-[h:HAS_ENCOUNTER]->(e) "
        "RETURN s.sourceSystem AS system, s.file AS file, s.position AS pos, run.runId AS run, "
        "h.sources AS hsources",
        enc=f"{SYNTHEA}|{ENCOUNTER}",
        database_=database,
    )
    r = records[0]
    assert r["system"] == "ehr-csv" and r["file"].endswith("encounters.csv")
    assert r["pos"] == "line 2"
    assert r["run"]
    assert r["hsources"] == [f"ehr-csv|encounters.csv|encounters/{ENCOUNTER}"]


def test_reference_before_its_record_is_a_stub_then_filled(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    load(csv_dir(samples) / "encounters.csv", source="s")
    assert (
        count(
            driver,
            database,
            "MATCH (p:Patient {key: $k}) WHERE p.stub RETURN count(p)",
            k=f"{SYNTHEA}|{PATIENT}",
        )
        == 1
    )
    from loaders.pipeline import load as run_load

    run_load([csv_dir(samples) / "patients.csv"], driver=driver, database=database, source="s")
    assert (
        count(
            driver,
            database,
            "MATCH (p:Patient {key: $k})-[:HAS_ENCOUNTER]->(e) WHERE p.stub IS NULL "
            "RETURN count(e)",
            k=f"{SYNTHEA}|{PATIENT}",
        )
        > 0
    )
    assert count(driver, database, "MATCH (p:Patient) RETURN count(p)") == 27


def test_reload_changes_nothing(load: Load, driver: Driver, database: str, samples: Path) -> None:
    first = load(csv_dir(samples), source="synthea")
    before = _fingerprint(driver, database)
    from loaders.pipeline import load as run_load

    second = run_load([csv_dir(samples)], driver=driver, database=database, source="synthea")
    assert _fingerprint(driver, database) == before
    assert second.total("unchanged") == second.total("written") == first.total("written")
    assert second.nodes_created == 0 and second.relationships_created == 0
    assert second.nodes_updated == 0


def _fingerprint(driver: Driver, database: str) -> tuple[object, ...]:
    """Counts and a digest of every property of the domain graph (load runs aside)."""
    records, _, _ = driver.execute_query(
        "MATCH (n) WHERE NOT n:LoadRun "
        "WITH n ORDER BY n.key "
        "RETURN count(n) AS nodes, "
        "apoc.util.md5(collect(apoc.convert.toJson(properties(n)))) AS props",
        database_=database,
    )
    rels, _, _ = driver.execute_query(
        "MATCH (a)-[r]->(b) WHERE NOT b:LoadRun "
        "WITH a, r, b ORDER BY a.key, type(r), b.key, r.role "
        "RETURN count(r) AS rels, "
        "apoc.util.md5(collect(apoc.convert.toJson(properties(r)))) AS props",
        database_=database,
    )
    return (records[0]["nodes"], records[0]["props"], rels[0]["rels"], rels[0]["props"])


def test_skipped_rows_are_counted(samples: Path) -> None:
    items = list(LOADER.read(csv_dir(samples) / "claims_transactions.csv", "s"))
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(skipped) == 1840
    assert not [i for i in items if isinstance(i, Rejected)]
