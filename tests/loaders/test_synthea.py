"""Synthea CSV: facts from the shared sample export, read through the real pipeline."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from caregraph.loaders.records import Record, Rejected, Skipped
from caregraph.loaders.synthea import LOADER, SYNTHEA
from caregraph.ontology.vocab import CG, local_name
from tests.loaders.conftest import Load, count, fingerprint

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
    billed = (
        "MATCH (c:Claim {controlNumber: $claim})-[b:BILLS_DIAGNOSIS {rank: 1}]->(k:Concept) "
        "MATCH (c)-[:HAS_ITEM]->(:ClaimItem)-[:HAS_CODE]->(p:Concept {code: '185345009'}) "
        "WHERE k.code = '195662009' RETURN count(*)"
    )
    assert count(driver, database, billed, claim=CLAIM) == 1

    # the imaging study, with its series and modality
    records, _, _ = driver.execute_query(
        "MATCH (:Patient)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy)-[:HAS_SERIES]->(x:ImagingSeries) "
        "RETURN s.modality AS m, x.seriesInstanceUid AS uid",
        database_=database,
    )
    assert [(r["m"], r["uid"]) for r in records] == [
        (["DX"], "1.2.840.99999999.1.98060115.1686052808412")
    ]


def test_claim_diagnoses_and_charge_procedures_are_concepts(samples: Path) -> None:
    snomed = "http://snomed.info/sct"
    items = LOADER.read(csv_dir(samples) / "claims.csv", "synthea")
    (rec,) = [i for i in items if isinstance(i, Record) and i.ref.record_id == f"claims/{CLAIM}"]
    claim = next(n for n in rec.nodes if n.cls == CG.Claim)
    # DIAGNOSIS1 and DIAGNOSIS2 are both 195662009: one link, ranked by its first column
    billed = [x for x in rec.links if x.rel == CG.billsDiagnosis]
    assert [(x.src.key, x.dst.key, x.props) for x in billed] == [
        (claim.key, f"{snomed}|195662009", {CG.rank: 1})
    ]
    assert claim.props[CG.diagnosisCodes] == [f"{snomed}|195662009"] * 2  # the tokens, as given
    # the CHARGE line of claims_transactions.csv (CHARGEID 0, PROCEDURECODE 185345009)
    (item,) = [n for n in rec.nodes if n.cls == CG.ClaimItem]
    coded = [(x.src.key, x.dst.key) for x in rec.links if x.rel == CG.hasCode]
    assert coded == [(item.key, f"{snomed}|185345009")]


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
    from caregraph.loaders.pipeline import load as run_load

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
    before = fingerprint(driver, database)
    from caregraph.loaders.pipeline import load as run_load

    second = run_load([csv_dir(samples)], driver=driver, database=database, source="synthea")
    assert fingerprint(driver, database) == before
    assert second.total("unchanged") == second.total("written") == first.total("written")
    assert second.nodes_created == 0 and second.relationships_created == 0
    assert second.nodes_updated == 0


def test_skipped_rows_are_counted(samples: Path) -> None:
    items = list(LOADER.read(csv_dir(samples) / "claims_transactions.csv", "s"))
    skipped = [i for i in items if isinstance(i, Skipped)]
    assert len(skipped) == 1840
    assert not [i for i in items if isinstance(i, Rejected)]


# -- conditions and procedures ------------------------------------------------------------------

CONDITIONS_V3 = "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION"
CONDITIONS_V2 = "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION"
PROCEDURES = (
    "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION"
)
SNOMED = "http://snomed.info/sct"


def clinical_export(folder: Path) -> Path:
    """A patient, a visit, two conditions (one resolved) and a procedure, in Synthea 3 CSV."""
    folder.mkdir()
    (folder / "conditions.csv").write_text(
        f"{CONDITIONS_V3}\n"
        f"2019-02-16,2019-03-01,{PATIENT},{ENCOUNTER},SNOMED-CT,444814009,"
        "Viral sinusitis (disorder)\n"
        f"2020-07-01,,{PATIENT},{ENCOUNTER},SNOMED-CT,59621000,Essential hypertension (disorder)\n"
    )
    (folder / "procedures.csv").write_text(
        f"{PROCEDURES}\n"
        f"2019-02-16T21:10:45Z,2019-02-16T21:25:45Z,{PATIENT},{ENCOUNTER},SNOMED-CT,430193006,"
        "Medication reconciliation (procedure),493.64,444814009,Viral sinusitis (disorder)\n"
    )
    return folder


def test_detects_conditions_and_procedures_but_not_their_look_alikes(tmp_path: Path) -> None:
    def header(name: str, columns: str) -> bool:
        path = tmp_path / name
        path.write_text(columns + "\n")
        return LOADER.detect(path, path.read_bytes())

    assert header("conditions.csv", CONDITIONS_V3) and header("c2.csv", CONDITIONS_V2)
    assert header("procedures.csv", PROCEDURES)
    assert header("p2.csv", PROCEDURES.replace("SYSTEM,", ""))  # before Synthea 3.1
    # tables that share those columns are not read as conditions or procedures
    assert not header("devices.csv", "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI")
    assert not header(
        "medications.csv",
        "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,"
        "TOTALCOST,REASONCODE,REASONDESCRIPTION",
    )
    assert not header(
        "careplans.csv",
        "Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION",
    )
    assert not header(
        "allergies3.csv",
        "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,"
        "DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2",
    )
    # Synthea before 3.0 gave allergies.csv the very header of conditions.csv: told by name
    assert not header("allergies.csv", CONDITIONS_V2)


def test_conditions_and_procedures_records(tmp_path: Path) -> None:
    folder = clinical_export(tmp_path / "csv")
    items = list(LOADER.read(folder / "conditions.csv", "s"))
    assert [type(i).__name__ for i in items] == ["Record", "Record"]
    first = items[0]
    assert isinstance(first, Record) and first.kind == "condition" and first.warnings == []
    # no id column: known by its position, never by its values
    assert first.ref.record_id is None and first.ref.position == "line 2"
    (node,) = first.nodes
    assert node.key == f"{SYNTHEA}/Condition|{PATIENT}/{ENCOUNTER}/SNOMED-CT/444814009/2019-02-16"
    assert {local_name(k): v for k, v in node.props.items()} == {
        "onset": "2019-02-16", "abatement": "2019-03-01", "clinicalStatus": "resolved",
        "verificationStatus": "confirmed", "display": "Viral sinusitis (disorder)",
    }  # fmt: skip
    assert {(local_name(x.rel), x.dst.key) for x in first.links} == {
        ("hasCondition", node.key),
        ("hasCode", f"{SNOMED}|444814009"),
        ("forEncounter", f"{SYNTHEA}|{ENCOUNTER}"),
    }
    second = items[1]
    assert isinstance(second, Record)
    assert second.nodes[0].props[CG.clinicalStatus] == "active"
    (proc,) = list(LOADER.read(folder / "procedures.csv", "s"))
    assert isinstance(proc, Record) and proc.kind == "procedure"
    assert {local_name(k): v for k, v in proc.nodes[0].props.items()} == {
        "start": "2019-02-16T21:10:45Z", "end": "2019-02-16T21:25:45Z", "status": "completed",
        "procedureCode": f"{SNOMED}|430193006", "reasonCode": f"{SNOMED}|444814009",
        "display": "Medication reconciliation (procedure) 2019-02-16",
    }  # fmt: skip


def test_conditions_and_procedures_in_the_graph_with_their_concepts(
    load: Load, driver: Driver, database: str, samples: Path, tmp_path: Path
) -> None:
    folder = clinical_export(tmp_path / "csv")
    report = load(csv_dir(samples), folder, source="synthea")
    assert report.exit_code == 0, report.as_json()["rejects"][:3]
    assert all(f.reconciles for f in report.files)
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient {key: $patient})-[:HAS_CONDITION]->(c:Condition)"
        "-[:FOR_ENCOUNTER]->(e:Encounter {key: $enc})<-[:HAS_ENCOUNTER]-(p) "
        "MATCH (c)-[:HAS_CODE]->(k:Concept) "
        "OPTIONAL MATCH (p)-[:HAS_PROCEDURE]->(x:Procedure)-[:HAS_REASON]->(k) "
        "RETURN k.code AS code, k.system AS system, c.clinicalStatus AS status, "
        "toString(x.start) AS procedure ORDER BY code",
        patient=f"{SYNTHEA}|{PATIENT}",
        enc=f"{SYNTHEA}|{ENCOUNTER}",
        database_=database,
    )
    assert [dict(r) for r in records] == [
        {"code": "444814009", "system": SNOMED, "status": "resolved",
         "procedure": "2019-02-16T21:10:45Z"},
        {"code": "59621000", "system": SNOMED, "status": "active", "procedure": None},
    ]  # fmt: skip
    # the sample's encounter reasons are Concepts too, one node per code
    assert count(
        driver, database,
        "MATCH (:Encounter)-[:HAS_REASON]->(k:Concept {system: $s}) RETURN count(DISTINCT k)",
        s=SNOMED,
    ) == count(
        driver, database,
        "MATCH (e:Encounter) WHERE e.reasonCode IS NOT NULL "
        "RETURN count(DISTINCT e.reasonCode)",
    ) > 0  # fmt: skip
    # the sinusitis of the condition and of the procedure's reason is one Concept
    assert count(
        driver, database,
        "MATCH (k:Concept {system: $s, code: '444814009'}) RETURN count(k)",
        s=SNOMED,
    ) == 1  # fmt: skip
    from caregraph.loaders.pipeline import load as run_load

    again = run_load([folder], driver=driver, database=database, source="synthea")
    assert again.total("unchanged") == again.total("written") == 3
    assert again.nodes_created == 0 and again.relationships_created == 0
