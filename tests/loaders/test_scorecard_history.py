"""The scorecard's history within its budget: a load run keeps a snapshot of the scorecard at
its end while that costs little beside the loading since the last one, and otherwise defers
it, says so in its report and on the command line, and a later run keeps one once enough
loading has run to pay for it (graph/scorecard.py ``HistoryBudget``).

A snapshot of these small graphs costs a fraction of a second; a large graph's costs tens of
seconds (docs/benchmarks.md). The tests stand for the large graph by writing what its
snapshot cost on the run that kept it, and for a long load by moving a run's start earlier:
the decision reads both from the load runs, so it is taken as it would be there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph import scorecard
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.pipeline import load
from caregraph.loaders.report import LoadReport
from tests.conftest import neo4j_env
from tests.loaders.test_synthea_bad_input import PATIENTS_HEADER, patient, write


def feed(folder: Path, n: int) -> Path:
    """The n-th day's registration feed: one new patient."""
    day = folder / f"day-{n}"
    day.mkdir(parents=True)
    write(day / "patients.csv", PATIENTS_HEADER, [patient(f"p{n}", "Ada", f"Feed{n}")])
    return day


def runs(driver: Driver, database: str) -> dict[str, dict[str, Any]]:
    """Each load run's snapshot: its cost as the run recorded it, and its measure values."""
    records, _, _ = driver.execute_query(
        "MATCH (r:LoadRun) RETURN r.runId AS run, r.scorecardSeconds AS seconds, "
        "COUNT { (r)-[:MEASURED]->(:MeasureValue) } AS values",
        database_=database,
    )
    return {r["run"]: {"seconds": r["seconds"], "values": r["values"]} for r in records}


def costly(driver: Driver, database: str, report: LoadReport, seconds: float) -> None:
    """As if the run's snapshot had counted a large graph: it took ``seconds``."""
    driver.execute_query(
        "MATCH (r:LoadRun {runId: $run}) SET r.scorecardSeconds = $seconds",
        run=report.run_id,
        seconds=seconds,
        database_=database,
    )


def test_every_run_keeps_a_snapshot_while_it_is_cheap(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    reports = [
        load([feed(tmp_path, n)], driver=clean_graph, database=database, source="registration")
        for n in range(2)
    ]
    said = runs(clean_graph, database)
    for report in reports:
        assert report.scorecard is not None and report.scorecard.outcome == "kept"
        assert report.as_json()["scorecard"]["snapshot"] == "kept"
        # the run records what its snapshot cost (what the next run's decision reads)
        assert said[report.run_id]["seconds"] is not None
        assert said[report.run_id]["values"] > 0


def test_a_costly_snapshot_waits_for_the_loading_that_pays_for_it(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    def day(n: int, **kwargs: Any) -> LoadReport:
        return load(
            [feed(tmp_path, n)],
            driver=clean_graph,
            database=database,
            source="registration",
            **kwargs,
        )

    first = day(0)
    costly(clean_graph, database, first, 60.0)  # a minute: a large graph's snapshot
    deferred = day(1)
    said = deferred.scorecard
    assert said is not None and said.outcome == "deferred"
    assert said.last_seconds == 60.0
    # the loading since the last snapshot is this run's own: seconds, not the minute's tenth
    assert said.loading_seconds is not None and 0 < said.loading_seconds < 600
    assert runs(clean_graph, database)[deferred.run_id] == {"seconds": None, "values": 0}
    assert deferred.as_json()["scorecard"] == {
        "snapshot": "deferred",
        "lastSnapshotSeconds": 60.0,
        "loadingSecondsSince": round(said.loading_seconds, 3),
    }
    # the records are loaded all the same, and measured when asked
    assert deferred.total("written") == 1
    waiting = scorecard.history_state(clean_graph, database)
    assert waiting.last_seconds == 60.0

    # as if the deferred run had loaded for ten minutes: with it, the loading since the last
    # snapshot pays for a minute's snapshot (a tenth), and the next run keeps one
    clean_graph.execute_query(
        "MATCH (r:LoadRun {runId: $run}) SET r.startedAt = r.endedAt - duration('PT10M')",
        run=deferred.run_id,
        database_=database,
    )
    kept = day(2)
    assert kept.scorecard is not None and kept.scorecard.outcome == "kept"
    assert runs(clean_graph, database)[kept.run_id]["values"] > 0
    # that snapshot starts the count again
    assert scorecard.history_state(clean_graph, database).loading_seconds < 600

    # a run told to keep one keeps it whatever the last one cost
    costly(clean_graph, database, kept, 60.0)
    always = day(3, history=scorecard.EVERY_RUN)
    assert always.scorecard is not None and always.scorecard.outcome == "kept"
    assert runs(clean_graph, database)[always.run_id]["values"] > 0


def test_the_command_line_says_a_deferred_snapshot_and_keeps_one_when_asked(
    clean_graph: Driver, database: str, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    env = {**neo4j_env(neo4j_conn), "CAREGRAPH_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    first = load([feed(tmp_path, 0)], driver=clean_graph, database=database, source="reg")
    costly(clean_graph, database, first, 60.0)

    report = tmp_path / "deferred.json"
    result = runner.invoke(
        app, ["load", str(feed(tmp_path, 1)), "--source", "reg", "--report", str(report)], env=env
    )
    assert result.exit_code == 0, result.output
    assert "scorecard snapshot deferred: the last one took 60.0 s" in result.output
    assert json.loads(report.read_text())["scorecard"]["snapshot"] == "deferred"

    result = runner.invoke(
        app,
        ["load", str(feed(tmp_path, 2)), "--source", "reg", "--snapshot", "always"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "deferred" not in result.output
    assert sum(1 for r in runs(clean_graph, database).values() if r["values"]) == 2
