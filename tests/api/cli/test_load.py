"""`caregraph load`: Ctrl-C during a load with a parse worker; `--initial`: what it refuses
before touching any server, and an import."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph.driver import open_driver
from caregraph.graph.server import DATABASE, ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from tests.conftest import neo4j_env

HANG_S = 180.0  # hang detectors, not speed measurements: a busy 2-core machine is slow


def test_initial_refuses_an_external_server(tmp_path: Path) -> None:
    data = tmp_path / "ehr"
    data.mkdir()
    env = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "not-used-here"}
    result = CliRunner().invoke(app, ["load", "--initial", str(data)], env=env)
    assert result.exit_code == 2
    assert "NEO4J_URI is set" in result.output
    assert "neo4j-admin" in result.output and "without --initial" in result.output


def test_per_path_goes_with_initial(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", "--per-path", str(tmp_path)])
    assert result.exit_code == 2
    assert "--per-path goes with --initial" in result.output


def test_initial_imports_each_path_as_its_own_source(
    private_server: ManagedNeo4j, tmp_path: Path
) -> None:
    manifest = generate(tmp_path / "data", 3, seed=2, formats=("fhir", "hl7v2"))
    paths = [str(tmp_path / "data" / p) for ps in manifest["sources"].values() for p in ps]
    s = private_server.settings
    env = {  # the CLI's managed server is the test's: same home, ports and sizes
        "CAREGRAPH_HOME": str(private_server.home.parent),
        "CAREGRAPH_NEO4J_BOLT_PORT": str(s.bolt_port),
        "CAREGRAPH_NEO4J_HTTP_PORT": str(s.http_port),
        "CAREGRAPH_NEO4J_HEAP": s.heap,
        "CAREGRAPH_NEO4J_PAGECACHE": s.pagecache,
    }
    result = CliRunner().invoke(app, ["load", "--initial", "--per-path", *paths], env=env)
    assert result.exit_code == 0, result.output
    assert "initial import:" in result.output
    with open_driver(private_server.connection()) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (r:LoadRun) RETURN r.sourceSystem AS s ORDER BY r.startedAt",
            database_=DATABASE,
        )
        patients, _, _ = driver.execute_query(
            "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p) AS n", database_=DATABASE
        )
    assert [r["s"] for r in records] == [Path(p).stem for p in paths]  # a file: its stem
    assert patients[0]["n"] >= 3


def _spawned(parent: int) -> list[int]:
    """The processes multiprocessing spawned under ``parent``: its pool's worker and manager."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            spawned = b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == parent and spawned:
            found.append(int(stat.parent.name))
    return found


def _as_in_a_terminal() -> None:
    """In the child, before it runs the load: SIGINT acted on, as in a terminal. A suite
    started in the background by a non-interactive shell (as CI may start it) ignores SIGINT,
    every child inherits that, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _written(driver: Driver, database: str) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (s:SourceRecord) RETURN count(s) AS n", database_=database
    )
    return int(records[0]["n"])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_a_load_and_its_worker_cleanly_and_the_load_runs_again(
    clean_graph: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    """Ctrl-C in a terminal sends SIGINT to the load's whole process group, its parse worker
    and the pool's manager included: the load says what was kept and what to do, no process
    prints a traceback or stays behind, and running the same load again completes it."""
    generate(tmp_path / "data", 40, seed=3, formats=("hl7v2",))
    data = str(tmp_path / "data" / "hl7v2")
    env = {**os.environ, **neo4j_env(neo4j_conn), "CAREGRAPH_HOME": str(tmp_path / "home")}
    load = [str(Path(sys.executable).with_name("caregraph")), "load", "--workers", "1", data]
    # one record per batch, each its own transaction with its identity step and linking
    # rules: after the first, seconds of work are left to interrupt, however busy the machine
    proc = subprocess.Popen(
        [*load, "--batch-size", "1"],
        env=env,
        start_new_session=True,
        preexec_fn=_as_in_a_terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + HANG_S
    # mid-load: the worker is reading (the first record is written) and more are to come
    while not _written(clean_graph, neo4j_conn.database) and proc.poll() is None:
        assert time.monotonic() < deadline, "the load wrote nothing"
        time.sleep(0.05)
    assert proc.poll() is None, "the load ended before it could be interrupted"
    assert len(_spawned(proc.pid)) == 2  # its worker and the pool's manager
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_S)
    said = err.decode(errors="replace")
    assert proc.returncode == 2, said
    assert "interrupted: the batches written before stay" in said
    assert "run the same load again" in said
    assert "Traceback" not in said  # the worker and the manager left Ctrl-C to the load
    while _group_alive(proc.pid):  # the worker and the manager go with the load
        assert time.monotonic() < deadline, "a process of the load stayed behind"
        time.sleep(0.1)

    report = tmp_path / "report.json"
    interrupted = _written(clean_graph, neo4j_conn.database)
    again = subprocess.run([*load, "--report", str(report)], env=env, capture_output=True)
    assert again.returncode == 0, again.stderr.decode(errors="replace")
    third = subprocess.run([*load, "--report", str(report)], env=env, capture_output=True)
    assert third.returncode == 0, third.stderr.decode(errors="replace")
    totals = json.loads(report.read_text())["totals"]
    assert totals["unchanged"] == totals["written"] > 0  # the second run completed it
    assert 0 < interrupted < _written(clean_graph, neo4j_conn.database)  # stopped part-way
