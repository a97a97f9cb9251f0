"""Neo4j killed (SIGKILL) while `caregraph load` writes, as an operator meets it.

A private managed Neo4j is killed partway through one source's load (run as a user runs it:
``caregraph load`` in a subprocess) of generated Riverside Health data from three source
systems (HL7 v2 ADT, FHIR EHR, X12 837 billing). The load must stop with a report that adds up
and names the cause; the server is started again (recovering its store), the same load is run
again and the sources after it are loaded, and the graph must then equal, node for node and
relationship for relationship, a clean load of the same input into an empty database. Running
the same load once more changes nothing.

CI kills one load once, after its first batch. ``HYPOTHESIS_PROFILE=long`` (``make
reliability``) runs more rounds on more patients: other kill points and other sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph import integrity
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.pipeline import expand
from caregraph.ontology.model import load_ontology
from tests.conftest import Figures, kill, neo4j_env
from tests.loaders.conftest import census

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
PATIENTS = 150 if LONG else 60
# the killed load's batches: small, many commits, so the kill lands between some of them; the
# other loads in their default batches (where the batches end changes nothing in the graph:
# tests/loaders/test_identity.py)
BATCH = 25
# the sources in the order they are loaded: (source system, its path in the generated data)
SOURCES = (("adt", "hl7v2/adt-0000.hl7"), ("ehr", "fhir"), ("billing", "x12/837-0000.837"))
# (source whose load is killed, batches it has committed when the kill is sent)
ROUNDS = (
    [("ehr", 1), ("ehr", 6), ("adt", 2), ("billing", 3)] if LONG else [("ehr", 1)]
)  # fmt: skip
# how long the loads retry a lost server before they stop with their report (`--retry-for`;
# 30 s by default): the kill is permanent here, so the wait only delays the report
RETRY_FOR_S = 5
# hang detectors, not speed measurements: a loaded 2-core machine can be slow to start a load
LOAD_TIMEOUT_S = 600.0
COMMIT_WAIT_S = 300.0

pytestmark = [
    pytest.mark.skipif(
        bool(os.environ.get("NEO4J_URI")), reason="NEO4J_URI is set: no managed server to kill"
    ),
    # a hang detector for the whole test: two Neo4j starts (one a recovery) and eight loads
    pytest.mark.timeout(1800 * len(ROUNDS) if LONG else 900),
]


# -- running caregraph as a user does ------------------------------------------------------


def cli_env(conn: Neo4jSettings, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        **neo4j_env(conn),
        "CAREGRAPH_HOME": str(home),
    }


def load_command(data: Path, source: str, report: Path, batch: int | None = None) -> list[str]:
    path = dict(SOURCES)[source]
    exe = Path(sys.executable).with_name("caregraph")
    return [
        str(exe), "load", str(data / path), "--source", source,
        "--identity", str(data / "identity.toml"), "--report", str(report),
        "--retry-for", str(RETRY_FOR_S), *(["--batch-size", str(batch)] if batch else []),
    ]  # fmt: skip


def run_load(env: dict[str, str], data: Path, source: str, report: Path) -> dict[str, Any]:
    """``caregraph load`` of one source to its end; its JSON report. The command runs in this
    process (the killed load alone is a child): a child's start costs seconds on a busy
    machine, and it is the same command either way."""
    done = CliRunner().invoke(app, load_command(data, source, report)[1:], env=env)
    assert done.exit_code == 0, (source, done.exit_code, done.output[-3000:])
    out: dict[str, Any] = json.loads(report.read_text())
    return out


def records_of(driver: Driver, database: str, source: str) -> int:
    """Source records of one source system in the graph: what its loads have committed."""
    records, _, _ = driver.execute_query(
        "MATCH (s:SourceRecord {sourceSystem: $source}) RETURN count(s) AS n",
        source=source,
        database_=database,
    )
    return int(records[0]["n"])


# -- the fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("riverside")
    generate(out, PATIENTS, seed=7, formats=("fhir", "hl7v2", "x12"))
    return out


# -- the test ----------------------------------------------------------------------------------


def test_neo4j_killed_mid_load_then_the_same_load_again_equals_a_clean_load(
    data: Path,
    clean_graph: Driver,
    neo4j_conn: Neo4jSettings,
    private_server: ManagedNeo4j,
    tmp_path: Path,
    figures: Figures,
) -> None:
    database = neo4j_conn.database
    # the reference: the same input, the same commands, into the session's empty database
    env = cli_env(neo4j_conn, tmp_path / "clean-home")
    for source, _ in SOURCES:
        run_load(env, data, source, tmp_path / f"clean-{source}.json")
    clean = census(clean_graph, database)
    patients = sum(n for labels, n in clean.labels.items() if "Patient" in labels.split(":"))
    assert patients >= PATIENTS, clean.labels  # the reference holds what was generated

    conn = private_server.connection()
    env = cli_env(conn, tmp_path / "home")
    for n, (victim, batches) in enumerate(ROUNDS):
        with open_driver(conn) as drv:
            integrity.wipe(drv, conn.database)
        for source, _ in SOURCES:
            if source == victim:
                break
            run_load(env, data, source, tmp_path / f"r{n}-before-{source}.json")

        # -- the kill, partway through the victim's load
        report_path = tmp_path / f"r{n}-killed-{victim}.json"
        load = subprocess.Popen(
            load_command(data, victim, report_path, batch=BATCH), env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            before_kill = _wait_for_commits(conn, victim, batches * BATCH, load)
            kill(private_server)
            killed_at = time.monotonic()
            out, err = load.communicate(timeout=LOAD_TIMEOUT_S)
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
        gave_up_s = time.monotonic() - killed_at

        # the report: exit 2, the cause named, and every record accounted for
        assert load.returncode == 2, (load.returncode, err[-3000:])
        report = json.loads(report_path.read_text())
        fatal = report["fatal"]
        assert "Neo4j failed during the load" in fatal and "run the same load again" in fatal
        assert "error: Neo4j failed during the load" in " ".join((out + err).split())
        totals = report["totals"]
        assert totals["read"] == (
            totals["written"] + totals["skipped"] + totals["rejected"] + totals["notAttempted"]
        ), totals
        unbalanced = [
            f for f in report["files"]
            if f["read"] != f["written"] + f["skipped"] + f["rejected"] + f["not_attempted"]
        ]  # fmt: skip
        assert unbalanced == []
        assert totals["notAttempted"] > 0
        opened = {f["path"] for f in report["files"]}
        expected = {str(p) for p in expand([data / dict(SOURCES)[victim]])}
        assert opened.isdisjoint(report["filesNotRead"])
        assert opened | set(report["filesNotRead"]) == expected

        # -- the server started again: what the report says was written is there; at most the
        # batch whose commit the kill cut off is there too (committed, its answer lost)
        private_server.start()
        with open_driver(conn) as drv:
            in_graph = records_of(drv, conn.database, victim)
        assert totals["written"] <= in_graph <= totals["written"] + BATCH, (
            totals["written"], in_graph,
        )  # fmt: skip
        assert in_graph >= before_kill  # what was committed before the kill survived it

        # -- the same load again, then the sources after it: equal to the clean load
        again = run_load(env, data, victim, tmp_path / f"r{n}-again-{victim}.json")
        assert again["totals"]["notAttempted"] == 0 and again["fatal"] is None
        assert again["totals"]["unchanged"] == in_graph  # what the killed run wrote is kept
        after = False
        for source, _ in SOURCES:
            if after:
                run_load(env, data, source, tmp_path / f"r{n}-after-{source}.json")
            after = after or source == victim
        with open_driver(conn) as drv:
            recovered = census(drv, conn.database)
            assert recovered.differences(clean) == {}
            sound = integrity.check(drv, conn.database, load_ontology())
            assert sound.sound, sound.as_counts()

            # -- and once more: nothing changes
            once_more = run_load(env, data, victim, tmp_path / f"r{n}-once-more-{victim}.json")
            assert once_more["totals"]["unchanged"] == once_more["totals"]["read"]
            assert once_more["graph"]["nodesCreated"] == 0
            assert once_more["graph"]["relationshipsCreated"] == 0
            assert census(drv, conn.database).differences(recovered) == {}

        lost = sum((clean.nodes - recovered.nodes).values())
        print(
            f"\nkilled {victim} after {before_kill} records: reported {totals['written']} "
            f"written, {in_graph} in the graph, {totals['notAttempted']} not attempted; "
            f"the load gave up {gave_up_s:.0f} s after the kill",
            end="",
        )
        figures(
            "faults",
            fault="neo4j-killed-mid-load",
            source=victim,
            patients=PATIENTS,
            records_before_kill=before_kill,
            reported_written=totals["written"],
            in_graph_after_restart=in_graph,
            not_attempted=totals["notAttempted"],
            files_not_read=len(report["filesNotRead"]),
            load_gave_up_after_s=round(gave_up_s, 1),
            rerun_equals_clean=True,
            data_lost=lost,
            nodes=sum(clean.nodes.values()),
            relationships=sum(clean.relationships.values()),
            once_more_unchanged=True,
        )


def _wait_for_commits(
    conn: Neo4jSettings, source: str, at_least: int, load: subprocess.Popen[str]
) -> int:
    """Poll the graph until the load has committed ``at_least`` records of ``source``."""
    deadline = time.monotonic() + COMMIT_WAIT_S
    with open_driver(conn, max_retry_time=0) as drv:
        while True:
            written = records_of(drv, conn.database, source)
            if written >= at_least:
                return written
            assert load.poll() is None, f"the load ended before the kill: {load.returncode}"
            assert time.monotonic() < deadline, f"only {written} records written"
            time.sleep(0.05)
