"""`caregraph serve` as an operator runs it: a child process, here with two workers, whose
cursors page on whichever worker the next request reaches."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from api.auth import KeyStore, Role
from graph.settings import Neo4jSettings
from tests.conftest import free_port

CLASSES = """query($after: String) { ontology { classes(first: 3, after: $after) {
  edges { node { name } } pageInfo { hasNextPage endCursor } } } }"""


@pytest.fixture
def served(neo4j_conn: Neo4jSettings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_conn.uri or "",
        "NEO4J_USERNAME": neo4j_conn.username,
        "NEO4J_PASSWORD": neo4j_conn.password.get_secret_value() if neo4j_conn.password else "",
        "NEO4J_DATABASE": neo4j_conn.database,
        "CAREGRAPH_HOME": str(tmp_path),
    }
    env.pop("CAREGRAPH_API_CURSOR_KEY", None)
    exe = Path(sys.executable).with_name("caregraph")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
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
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "caregraph serve did not become ready"
            time.sleep(0.2)
        yield url, tmp_path / "serve.log"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_two_workers_answer_and_page_on_each_others_cursors(
    served: tuple[str, Path], driver: Driver, database: str
) -> None:
    url, log = served
    deadline = time.monotonic() + 30  # one worker may answer before the other has started
    while log.read_text().count("Started server process") < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert log.read_text().count("Started server process") == 2
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


# a worker slower to start than uvicorn's own health check allows (5 s), as every worker is on
# a busy host; the parent (no --multiprocessing-fork in its command line) starts at once
SLOW_WORKER = """
import time
with open("/proc/self/cmdline", "rb") as cmdline:
    if b"--multiprocessing-fork" in cmdline.read():
        time.sleep(8)
"""


def test_workers_slow_to_start_are_waited_for_not_killed_again_and_again(
    neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_WORKER)  # imported by every interpreter
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_conn.uri or "",
        "NEO4J_USERNAME": neo4j_conn.username,
        "NEO4J_PASSWORD": neo4j_conn.password.get_secret_value() if neo4j_conn.password else "",
        "NEO4J_DATABASE": neo4j_conn.database,
        "CAREGRAPH_HOME": str(tmp_path),
        "PYTHONPATH": str(hook),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("caregraph")), "serve", "--port", str(port),
             "--workers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180  # a hang detector: the workers take 8 s and more
        while True:
            text = log_path.read_text()
            # uvicorn's supervisor killed a worker that had not answered in time, and started
            # another, which it would kill the same way: the service would never come up
            assert "] died" not in text, text[-2000:]
            assert proc.poll() is None, text[-2000:]
            if text.count("Application startup complete") == 2:
                break
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)
