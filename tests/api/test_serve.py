"""`caregraph serve` as an operator runs it: a child process, here with two workers, whose
cursors page on whichever worker the next request reaches, and whose log lines per request
an operator can turn off."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from caregraph.api.auth import KeyStore, Role
from caregraph.graph.keys_and_audit import query_audit
from caregraph.graph.settings import Neo4jSettings
from tests.conftest import free_port, neo4j_env

CLASSES = """query($after: String) { ontology { classes(first: 3, after: $after) {
  edges { node { name } } pageInfo { hasNextPage endCursor } } } }"""


@contextmanager
def serving(conn: Neo4jSettings, home: Path, **env: str) -> Iterator[tuple[str, Path]]:
    """`caregraph serve --workers 2` as a child: its URL once ready, and its log."""
    port = free_port()
    environment = {
        **os.environ,
        **neo4j_env(conn),
        "CAREGRAPH_HOME": str(home),
        **env,
    }
    environment.pop("CAREGRAPH_API_CURSOR_KEY", None)
    exe = Path(sys.executable).with_name("caregraph")
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "2"],
        env=environment, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (home / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "caregraph serve did not become ready"
            time.sleep(0.2)
        yield url, home / "serve.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def served(neo4j_conn: Neo4jSettings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with serving(neo4j_conn, tmp_path) as found:
        yield found


def both_workers_started(log: Path) -> bool:
    deadline = time.monotonic() + 60  # one worker may answer before the other has started
    while log.read_text().count("Started server process") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    return log.read_text().count("Started server process") == 2


def test_two_workers_answer_and_page_on_each_others_cursors(
    served: tuple[str, Path], driver: Driver, database: str
) -> None:
    url, log = served
    assert both_workers_started(log)
    key = KeyStore(driver, database).create(Role.clinician, "test-serve")
    names: list[str] = []
    after = None
    while True:
        # a new connection for every page, so the kernel hands the pages to both workers
        response = httpx.post(
            f"{url}/graphql",
            json={"query": CLASSES, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {key}", "Connection": "close"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        page = body["data"]["ontology"]["classes"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(names) == len(set(names)) > 15  # every class once, over several pages
    assert names == sorted(names)
    assert "Patient" in names and "Remittance" in names
    # by default a line per request, and one per audited read
    read_audited(url, key, driver, database)
    said = log.read_text()
    assert '"POST /graphql HTTP/1.1" 200' in said and "read audited: ok" in said


def read_audited(url: str, key: str, driver: Driver, database: str) -> None:
    """A read of patient data answered, and its audit record in Neo4j."""
    request_id = f"logged-{time.monotonic_ns()}"
    response = httpx.post(
        f"{url}/graphql",
        json={"query": '{ patient(identifier: "urn:test|nobody") { key } }'},
        headers={"Authorization": f"Bearer {key}", "X-Request-Id": request_id},
    )
    assert response.status_code == 200 and response.json()["data"] == {"patient": None}
    subject = "key:" + key.split("_")[1]
    records = query_audit(driver, database, subject=subject, limit=1000)
    assert request_id in {r["requestId"] for r in records}


def test_an_operator_turns_the_lines_per_request_off_and_the_audit_stays(
    neo4j_conn: Neo4jSettings, tmp_path: Path, driver: Driver, database: str
) -> None:
    """CAREGRAPH_API_ACCESS_LOG=false and CAREGRAPH_API_LOG_LEVEL=warning: no access line, no
    line per audited read, and the read is audited all the same."""
    key = KeyStore(driver, database).create(Role.clinician, "test-serve-quiet")
    quiet = {"CAREGRAPH_API_ACCESS_LOG": "false", "CAREGRAPH_API_LOG_LEVEL": "warning"}
    with serving(neo4j_conn, tmp_path, **quiet) as (url, log):
        read_audited(url, key, driver, database)
        said = log.read_text()
    assert "POST /graphql" not in said and "read audited" not in said, said[-2000:]


# what a worker spawned on a busy host goes through before it can answer uvicorn's health
# check: importing the caregraph command and the app (12 s measured at load 13 on 2 cores)
SLOW_WORKER = """
import sys, time
if "--multiprocessing-fork" in sys.argv:
    time.sleep(8)
"""


def test_workers_that_start_slowly_on_a_busy_host_are_waited_for_not_killed(
    neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    """uvicorn's parent kills a worker that has not answered its ping within 5 s and spawns
    another, which a busy host makes as slow: found by the soak, workers died 15-27 times
    before two were up. caregraph serve waits CAREGRAPH_API_WORKER_HEALTHCHECK_S."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_WORKER)
    with serving(neo4j_conn, tmp_path, PYTHONPATH=str(site)) as (url, log):
        assert both_workers_started(log)
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    assert "died" not in log.read_text()
