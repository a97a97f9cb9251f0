"""The pipeline as a user meets it: updates in place, an interrupted load, the CLI's report."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli import load as load_command
from caregraph.api.cli.main import app
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.pipeline import load as run_load
from caregraph.loaders.report import LoadReport
from caregraph.loaders.synthea import SYNTHEA
from tests.conftest import neo4j_env
from tests.loaders.conftest import Load, count, fingerprint
from tests.loaders.test_synthea_bad_input import (
    ENCOUNTERS_HEADER,
    PATIENTS_HEADER,
    encounter,
    patient,
    write,
)


def test_an_update_changes_the_record_in_place_and_keeps_both_sources(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    write(tmp_path / "patients.csv", PATIENTS_HEADER, [patient("p1", "Ada", "Lovelace")])
    load(tmp_path / "patients.csv", source="ehr")
    update = tmp_path / "update"
    update.mkdir()
    write(update / "patients_update.csv", PATIENTS_HEADER, [patient("p1", "Ada", "King")])
    report = run_load(
        [update / "patients_update.csv"], driver=driver, database=database, source="ehr"
    )

    assert report.nodes_updated == 1
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient {key: $k}) "
        "OPTIONAL MATCH (s:SourceRecord)-[:ASSERTED]->(p) "
        "RETURN p.familyName AS family, collect(s.file) AS files, count(*) AS n",
        k=f"{SYNTHEA}|p1",
        database_=database,
    )
    assert records[0]["family"] == "King"
    assert sorted(Path(f).name for f in records[0]["files"]) == [
        "patients.csv",
        "patients_update.csv",
    ]
    assert count(driver, database, "MATCH (p:Patient) RETURN count(p)") == 1


def test_the_report_times_every_step_of_the_write_transaction_the_commit_included(
    load: Load, tmp_path: Path
) -> None:
    write(tmp_path / "patients.csv", PATIENTS_HEADER, [patient("p1", "Ada", "Lovelace")])
    first = load(tmp_path / "patients.csv", source="ehr").as_json()
    assert sorted(first["timings"]) == ["commit", "identity", "linking", "write"]
    assert first["timedRecords"] == 1
    # a reload of the same record writes nothing, so no step is timed
    again = load(tmp_path / "patients.csv", source="ehr").as_json()
    assert (again["timings"], again["timedRecords"]) == ({}, 0)


def test_a_load_stopped_by_neo4j_going_away_completes_when_run_again(
    private_server: ManagedNeo4j, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rows = [patient(f"p{i}", f"Given{i}", f"Family{i}") for i in range(600)]
    write(data / "patients.csv", PATIENTS_HEADER, rows)
    write(
        data / "encounters.csv",
        ENCOUNTERS_HEADER,
        [encounter(f"e{i}", f"p{i % 600}") for i in range(900)],
    )
    server = private_server
    stopped = {"done": False}

    def stop_midway(path: str, read: int) -> None:
        if read >= 300 and not stopped["done"]:
            stopped["done"] = True
            server.stop()

    with open_driver(server.connection(), acquisition_timeout=5.0, max_retry_time=3.0) as drv:
        first = run_load(
            [data],
            driver=drv,
            database="neo4j",
            source="ehr",
            batch_size=100,
            on_progress=stop_midway,
        )
    assert first.exit_code == 2
    assert first.fatal and "run the same load again" in first.fatal
    # the report still adds up: what the failure left unwritten is counted as not attempted
    assert [f.path for f in first.files if not f.reconciles] == []
    assert first.total("not_attempted") > 0
    totals = first.as_json()["totals"]
    assert totals["read"] == (
        totals["written"] + totals["skipped"] + totals["rejected"] + totals["notAttempted"]
    )
    opened = {Path(f.path).name for f in first.files}
    assert opened | {Path(p).name for p in first.files_not_read} == {
        "patients.csv", "encounters.csv",
    }  # fmt: skip

    server.start()
    with open_driver(server.connection()) as drv:
        written_before = count(drv, "neo4j", "MATCH (p:Patient) RETURN count(p)")
        assert 0 < written_before < 600  # some batches made it, the rest did not
        again = run_load([data], driver=drv, database="neo4j", source="ehr")
        assert again.exit_code == 0
        assert count(drv, "neo4j", "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 600
        assert count(drv, "neo4j", "MATCH (e:Encounter) RETURN count(e)") == 900
        assert count(drv, "neo4j", "MATCH (n:Entity) RETURN count(n)") == 1500
        assert count(drv, "neo4j", "MATCH ()-[h:HAS_ENCOUNTER]->() RETURN count(h)") == 900


def test_cli_load_takes_its_start_up_objects_out_of_the_collectors_passes(
    clean_graph: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`caregraph load` freezes what it made before loading (api/process.py): the modules and
    the ontology's graph are not walked again by every full pass of the garbage collector."""
    good = tmp_path / "good"
    good.mkdir()
    write(good / "patients.csv", PATIENTS_HEADER, [patient("p1", "Ada", "Lovelace")])
    frozen_at_start: list[int] = []

    def loading(*args: Any, **kwargs: Any) -> LoadReport:
        frozen_at_start.append(gc.get_freeze_count())
        return run_load(*args, **kwargs)

    monkeypatch.setattr(load_command, "run_load", loading)
    gc.unfreeze()  # what this process froze before (a service's start in another test)
    env = {**neo4j_env(neo4j_conn), "CAREGRAPH_HOME": str(tmp_path / "home")}
    result = CliRunner().invoke(app, ["load", str(good), "--source", "ehr"], env=env)
    assert result.exit_code == 0, result.output
    assert len(frozen_at_start) == 1 and frozen_at_start[0] > 0
    assert count(clean_graph, "neo4j", "MATCH (p:Patient) RETURN count(p)") == 1


def test_cli_load_writes_the_json_report_and_exits_by_outcome(
    clean_graph: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    write(good / "patients.csv", PATIENTS_HEADER, [patient("p1", "Ada", "Lovelace")])
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad / "patients.csv", PATIENTS_HEADER, [patient("p2", "Alan", "Turing"), "p3,1980"])
    env = {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_HOME": str(tmp_path / "home"),
    }
    runner = CliRunner()
    result = runner.invoke(
        app, ["load", str(good), "--source", "ehr", "--report", str(tmp_path / "r.json")], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"] == {
        "read": 1,
        "written": 1,
        "warned": 0,
        "unchanged": 0,
        "skipped": 0,
        "rejected": 0,
        "notAttempted": 0,
    }
    assert report["files"][0]["format"] == "synthea-csv"

    result = runner.invoke(app, ["load", str(bad), "--source", "ehr"], env=env)
    assert result.exit_code == 1
    assert "line 3" in result.output and "rejected" in result.output
    listings = tmp_path / "home" / "rejects" / "ehr"
    assert len(list(listings.glob("*.jsonl"))) == 1
    # a second load keeps the first one's listing: one file per run, named by its run id
    result = runner.invoke(app, ["load", str(bad), "--source", "ehr"], env=env)
    assert result.exit_code == 1
    files = sorted(listings.glob("*.jsonl"))
    assert len(files) == 2
    for f in files:
        lines = [json.loads(x) for x in f.read_text().splitlines()]
        assert [(x["outcome"], x["position"]) for x in lines] == [("rejected", "line 3")]

    result = runner.invoke(app, ["load", str(tmp_path / "missing")], env=env)
    assert result.exit_code == 2 and "no such file" in result.output


def test_a_record_neo4j_refuses_is_rejected_alone_while_later_batches_load(
    private_server: ManagedNeo4j, tmp_path: Path
) -> None:
    """Batches are written while the next is read: a batch Neo4j refuses is written again a
    record at a time, the one refused record is rejected, and the counts still add up. On the
    spare server: the constraint made for the refusal is a schema change, which would empty
    the session server's plan cache (twice, with its drop) for the tests after it."""
    conn = private_server.connection()
    database = conn.database
    with open_driver(conn) as driver:
        driver.execute_query(
            "CREATE CONSTRAINT test_family_once IF NOT EXISTS FOR (p:Patient) "
            "REQUIRE p.familyName IS UNIQUE",
            database_=database,
        )
        try:
            rows = [patient(f"p{i}", f"Given{i}", f"Family{i}") for i in range(250)]
            rows[150] = patient("p150", "Given150", "Family10")  # refused: p10 has that name
            write(tmp_path / "patients.csv", PATIENTS_HEADER, rows)
            report = run_load(
                [tmp_path / "patients.csv"], driver=driver, database=database, source="ehr",
                batch_size=40,
            )  # fmt: skip
            (fr,) = report.files
            assert (fr.read, fr.written, fr.rejected) == (250, 249, 1)
            (reject,) = report.rejects
            assert (
                reject.ref.record_id == "patients/p150"
                and "Neo4j refused the record" in reject.reason
            )
            assert "Family10" not in json.dumps(report.as_json())  # no patient data in the report
            keys = {r["k"] for r in driver.execute_query(
                "MATCH (p:Patient) WHERE p.stub IS NULL RETURN p.key AS k", database_=database
            ).records}  # fmt: skip
            assert len(keys) == 249 and f"{SYNTHEA}|p150" not in keys and f"{SYNTHEA}|p249" in keys
        finally:
            driver.execute_query("DROP CONSTRAINT test_family_once IF EXISTS", database_=database)


def test_files_parsed_in_worker_processes_load_the_same_graph_in_the_same_order(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    # several FHIR Bulk Data files per resource type, so the pool has files to share out
    generate(tmp_path / "data", 12, seed=6, formats=("fhir",), layout="bulk", batch_size=4)
    folder = tmp_path / "data" / "fhir-bulk"
    assert len(list(folder.glob("*.ndjson"))) > 8

    def run(workers: int) -> dict[str, int]:
        report = run_load(
            [folder], driver=clean_graph, database=database, source="ehr", workers=workers
        )
        assert report.exit_code == 0, report.as_json()["rejects"][:2]
        assert [Path(f.path).name for f in report.files] == sorted(
            p.name for p in folder.glob("*.ndjson")
        )
        return dict(report.as_json()["totals"])

    parallel = run(workers=2)
    assert parallel["written"] > 50 and parallel["unchanged"] == 0
    graph = fingerprint(clean_graph, database)
    # the same files read in this process find every record already written, as it is
    alone = run(workers=0)
    assert alone["read"] == parallel["read"] and alone["unchanged"] == parallel["written"]
    assert fingerprint(clean_graph, database) == graph
