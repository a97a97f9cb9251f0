"""Faults under the running service, as an operator meets them: ``caregraph serve`` (a child
process, as users run it) killed with SIGKILL while requests are in flight, and the Neo4j it
talks to killed with SIGKILL under it.

- The service killed mid-request: every request that received an answer with data has its
  audit record (no answer without a record), an audit record without a received answer
  belongs to a request that was in flight at the kill, and after a restart
  ``caregraph audit verify`` says the chain is intact.
- Neo4j killed under the service: requests get 503 with Retry-After and the code
  SERVICE_UNAVAILABLE (not a 500, not a hang), and once Neo4j is started again (recovering
  its store) requests succeed, with the data as it was, without restarting the service.
  (tests/api/test_availability.py covers Neo4j stopped cleanly, the breaker and MCP.)

CI kills the service once; ``HYPOTHESIS_PROFILE=long`` (``make reliability``) runs more rounds
with more requests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from neo4j import Driver

from caregraph.api.auth import KeyStore, Role
from caregraph.graph.driver import open_driver
from caregraph.graph.keys_and_audit import query_audit
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import CROWD, JANE, SYNTHEA, bearer, load_dataset
from tests.conftest import Figures, free_port, kill, neo4j_env

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
ROUNDS = 5 if LONG else 1  # service kills
REQUESTS = 400 if LONG else 120  # per round, at most; the kill ends a round early
CLIENTS = 12  # requests in flight at once
ANSWERED_BEFORE_KILL = 20  # the kill is sent once this many answers have arrived (round 0)
HELD = 4  # requests in flight, read but not yet recorded, when Neo4j is killed
SETTLE_S = 1.0  # for the held requests' reads to be done once the first waits for the lock
# hang detectors, not speed measurements (a loaded 2-core machine is slow to start a service)
START_TIMEOUT_S = 180.0
FAST = 10.0  # a 503 without waiting on the database, told from the driver's 30 s of retries
REQUEST_TIMEOUT_S = 60.0

# a hang detector for each test: Neo4j and service starts, loads, on a busy 2-core machine
pytestmark = pytest.mark.timeout(900 * (ROUNDS if LONG else 1))

READ = """query Read($id: String!) { patient(identifier: $id) {
  key display birthDate encounters(first: 10) { totalCount edges { node { start } } } } }"""
PATIENTS = [JANE, *(f"{SYNTHEA}|crowd{i:02d}" for i in range(CROWD))]


# -- caregraph serve as a child, killable as a whole -------------------------------------------


@dataclass
class Served:
    """One ``caregraph serve``: its own process group, so a kill reaches the workers too."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the supervisor and its workers at once, as the OOM killer or a host's end
        would: no shutdown handler runs."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn stops its workers on SIGTERM
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def service_env(conn: Neo4jSettings, home: Path, **more: str) -> dict[str, str]:
    env = {
        **os.environ,
        **neo4j_env(conn),
        "CAREGRAPH_HOME": str(home),  # its audit key and anchor file, apart from the tests'
        # the faults, not admission control (tests/api/test_admission.py), are tested here:
        # room for every request the tests hold in flight behind a lock or a dead Neo4j
        "CAREGRAPH_API_MAX_IN_FLIGHT": "64",
        **more,
    }
    env.pop("CAREGRAPH_API_CURSOR_KEY", None)
    return env


def serve(env: dict[str, str], workers: int, log: Path) -> Served:
    """Start ``caregraph serve`` and wait until every worker has started and it is ready."""
    port = free_port()
    exe = Path(sys.executable).with_name("caregraph")
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    started = log.read_text().count("Application startup complete")
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "caregraph serve did not become ready"
            up = log.read_text().count("Application startup complete") - started >= workers
            if up and _ready(served.url):
                return served
            time.sleep(0.2)
    except BaseException:
        served.stop()
        raise


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def post(url: str, key: str, request_id: str, patient: str = JANE) -> httpx.Response:
    return httpx.post(
        f"{url}/graphql",
        json={"query": READ, "variables": {"id": patient}},
        headers={**bearer(key), "X-Request-Id": request_id, "X-Purpose-Of-Use": "TREAT"},
        timeout=REQUEST_TIMEOUT_S,
    )


# -- the service killed mid-request ------------------------------------------------------------


@dataclass
class Sent:
    """One request as its client saw it."""

    request_id: str
    started: float
    ended: float | None = None
    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    lost: str | None = None  # the transport error, when no answer arrived

    @property
    def answered(self) -> bool:
        """An answer with data arrived."""
        return self.status == 200 and bool(self.body.get("data")) and not self.body.get("errors")


@pytest.fixture(scope="module")
def clinician_key(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A clinician's key on the API tests' dataset, loaded afresh: loading empties the graph,
    the audit log with it, so the chain verified below holds only what this module wrote."""
    load_dataset(driver, neo4j_conn.database, tmp_path_factory.mktemp("faults-data"))
    return KeyStore(driver, neo4j_conn.database).create(Role.clinician, "test-faults")


def test_service_killed_mid_request_no_answer_without_an_audit_record(
    clinician_key: str,
    driver: Driver,
    neo4j_conn: Neo4jSettings,
    tmp_path: Path,
    figures: Figures,
) -> None:
    key = clinician_key
    subject = f"key:{key.split('_')[1]}"
    env = service_env(neo4j_conn, tmp_path / "home")
    log = tmp_path / "serve.log"
    for n in range(ROUNDS):
        served = serve(env, 2, log)
        try:
            answers = ANSWERED_BEFORE_KILL * (n + 1)  # each round kills at another point
            prefix = f"fault{n}-{uuid.uuid4().hex[:8]}"
            sent, killed_at = _fire_and_kill(served, key, prefix, answers)
        finally:
            served.stop()

        # the client's side: what arrived, and what was in flight when the service died
        arrived = {s.request_id for s in sent if s.lost is None}
        with_data = {s.request_id for s in sent if s.answered}
        lost = {s.request_id for s in sent if s.lost is not None}
        failed = [(s.status, s.body) for s in sent if s.request_id in arrived - with_data]
        # never a 500; a worker at its admission limit may refuse at once (503 OVERLOADED),
        # which is an answer without data and without a record
        refused = [b for status, b in failed if status == 503 and _overloaded(b)]
        assert [status for status, b in failed if status != 200 and b not in refused] == [], failed
        # what a busy machine may add: a read over the query timeout is refused as a limit
        codes = Counter(
            e.get("extensions", {}).get("code") for _, b in failed for e in b.get("errors", ())
        )
        in_flight = {
            s.request_id for s in sent
            if s.started <= killed_at and (s.ended is None or s.ended >= killed_at)
        }  # fmt: skip
        assert len(with_data) >= answers and lost, (len(with_data), len(lost))

        # the audit, after a restart (a commit the dead client had sent may land late)
        served = serve(env, 2, log)
        try:
            response = post(served.url, key, f"fault{n}-after")
            assert response.status_code == 200 and response.json()["data"]["patient"], response.text
        finally:
            served.stop()
        ids = {s.request_id for s in sent}
        records = [
            e for e in query_audit(driver, neo4j_conn.database, subject=subject, limit=100_000)
            if e["requestId"] in ids
        ]  # fmt: skip
        audited = {e["requestId"] for e in records}
        assert len(audited) == len(records)  # one record per request
        assert with_data - audited == set()  # no answer with data went out without a record
        for e in records:
            if e["requestId"] in with_data:
                assert e["outcome"] == "ok" and e["patients"], e
        # A record whose answer never arrived: the record is written (committed) before the
        # answer is sent, so a kill between the commit and the send leaves a record of a read
        # whose answer was lost. That is the conservative side (a read accounted for that
        # nobody received, never one received that is not accounted for), and it can only be
        # a request that was in flight when the service died.
        without_answer = audited - arrived
        assert without_answer <= lost & in_flight, without_answer - (lost & in_flight)
        assert len(without_answer) <= CLIENTS

        # the chain: intact across the kill, at the command line
        verify = subprocess.run(
            [str(Path(sys.executable).with_name("caregraph")), "audit", "verify"],
            env=env, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False,
        )  # fmt: skip
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert "intact" in verify.stdout and "broken" not in verify.stdout, verify.stdout
        print(
            f"\nround {n}: {len(sent)} requests, {len(with_data)} answered, {len(audited)} "
            f"audited, {len(in_flight)} in flight at the kill, {len(without_answer)} records "
            f"without an answer; errors {dict(codes) or 'none'}",
            end="",
        )
        figures(
            "faults",
            fault="service-killed-mid-request",
            round=n,
            workers=2,
            killed_after_answers=answers,
            requests=len(sent),
            answered=len(with_data),
            answered_with_errors=len(failed),
            error_codes=dict(codes),
            audited=len(audited),
            in_flight_at_kill=len(in_flight),
            lost=len(lost),
            answered_without_record=len(with_data - audited),
            records_without_answer=len(without_answer),
            chain_intact=True,
        )


def _fire_and_kill(served: Served, key: str, prefix: str, answers: int) -> tuple[list[Sent], float]:
    """Send reads from CLIENTS threads; SIGKILL the service once ``answers`` answers have
    arrived; the requests as their clients saw them, and when the kill was sent."""
    sent: list[Sent] = []
    lock = threading.Lock()
    enough = threading.Event()
    killed = threading.Event()

    def one(i: int) -> None:
        if killed.is_set():
            return  # nobody sends to a service known dead
        s = Sent(f"{prefix}-{i:04d}", time.monotonic())
        with lock:
            sent.append(s)
        try:
            response = post(served.url, key, s.request_id, PATIENTS[i % len(PATIENTS)])
            s.status, s.body = response.status_code, response.json()
        except (httpx.TransportError, ValueError) as e:  # cut off, or a body cut short
            s.lost = type(e).__name__
        s.ended = time.monotonic()
        with lock:
            if sum(x.answered for x in sent) >= answers:
                enough.set()

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(one, i) for i in range(REQUESTS)]
        assert enough.wait(timeout=START_TIMEOUT_S), "too few answers before the kill"
        killed_at = time.monotonic()
        served.kill()
        killed.set()
        for f in futures:
            f.result()
    return sent, killed_at


# -- Neo4j killed under the service ------------------------------------------------------------


def test_neo4j_killed_under_the_service_503_fast_then_recovers_without_a_restart(
    private_server: ManagedNeo4j, tmp_path: Path, figures: Figures
) -> None:
    conn = private_server.connection()
    (tmp_path / "data").mkdir()
    with open_driver(conn) as drv:
        load_dataset(drv, conn.database, tmp_path / "data")
        key = KeyStore(drv, conn.database).create(Role.clinician, "test-faults")
    env = service_env(conn, tmp_path / "home", CAREGRAPH_API_UNAVAILABLE_RETRY_AFTER_S="2")
    served = serve(env, 1, tmp_path / "serve.log")
    try:
        before = post(served.url, key, "neo4j-before")
        assert before.status_code == 200, before.text
        patient = before.json()["data"]["patient"]
        assert patient["key"] == JANE

        # the kill at the worst moment for a request: its patient read, its audit record not
        # yet written. A transaction of the test's own holds the day's audit head (the write
        # lock every append takes first), so the requests sent now read and then wait to be
        # recorded; Neo4j dies under them. None may answer with data (there is no record),
        # none is a 500, none hangs: each is a 503 the client can retry.
        held = [f"neo4j-held-{i}" for i in range(HELD)]
        with open_driver(conn) as drv, drv.session(database=conn.database) as holder:
            day = _audit_day(drv, conn.database, "neo4j-before")
            lock = holder.begin_transaction()
            lock.run("MATCH (h:AuditHead {day: $day}) SET h._lock = true", day=day).consume()
            with ThreadPoolExecutor(HELD) as pool:
                around = [pool.submit(_answered_at, served.url, key, rid) for rid in held]
                # the worker writes records in group commits: its first append waits for the
                # lock in Neo4j, and the records of the others queue behind it in the worker,
                # where Neo4j cannot see them; their reads take milliseconds
                _wait_until_blocked(drv, conn.database, 1)
                time.sleep(SETTLE_S)
                killed_at = time.monotonic()
                kill(private_server)
                outcomes = [f.result() for f in around]
            with contextlib.suppress(Exception):  # its server is gone: nothing to roll back
                lock.close()
        for response, _ in outcomes:
            _is_unavailable(response)
            assert response.json().get("data") is None
        answered_in_s = max(at for _, at in outcomes) - killed_at
        assert answered_in_s < FAST, f"{answered_in_s:.1f} s after the kill"

        first, first_s = _timed(served.url, key, "neo4j-down-1")
        _is_unavailable(first)
        assert first_s < FAST, f"the first 503 took {first_s:.2f} s"
        then, then_s = _timed(served.url, key, "neo4j-down-2")  # the breaker is open now
        _is_unavailable(then)
        assert then_s < FAST
        ready = httpx.get(f"{served.url}/readyz", timeout=REQUEST_TIMEOUT_S)
        assert ready.status_code == 503 and int(ready.headers["retry-after"]) >= 1

        private_server.start()  # Neo4j recovers its store from its transaction log
        deadline = time.monotonic() + START_TIMEOUT_S
        tries = 0
        timeouts = 0
        while True:  # as a client does: again after Retry-After; the service is not restarted
            tries += 1
            response, _ = _timed(served.url, key, f"neo4j-again-{tries}")
            if response.status_code == 200 and "errors" not in response.json():
                break
            assert time.monotonic() < deadline, response.text
            if response.status_code == 200:
                # a busy machine: the first reads of a store just recovered, its page cache
                # cold, can pass the query timeout; that is a refusal to retry, not a 500
                (error,) = response.json()["errors"]
                assert error["extensions"]["code"] == "LIMIT_EXCEEDED", response.text
                assert error["extensions"]["limit"] == "timeout", response.text
                timeouts += 1
                continue
            _is_unavailable(response)
            time.sleep(int(response.headers["retry-after"]))
        assert response.json()["data"]["patient"] == patient  # the data survived the kill
        with open_driver(conn) as drv:
            recorded = {e["requestId"] for e in query_audit(drv, conn.database, limit=1000)}
        assert recorded.isdisjoint(held)  # no answer, and no record: their appends died
        assert {"neo4j-before", f"neo4j-again-{tries}"} <= recorded
        assert served.proc.poll() is None  # the same service, never restarted
        print(f"\n503 with Neo4j killed: first {first_s * 1000:.0f} ms, then "
              f"{then_s * 1000:.0f} ms; answered again after {tries} tries", end="")  # fmt: skip
        figures(
            "faults",
            fault="neo4j-killed-under-the-api",
            in_flight_at_kill=HELD,
            in_flight_503=sum(r.status_code == 503 for r, _ in outcomes),
            in_flight_answered_with_data=0,
            in_flight_answered_within_ms=round(answered_in_s * 1000),
            first_503_ms=round(first_s * 1000),
            then_503_ms=round(then_s * 1000),
            server_errors=0,
            recovered_without_restart=True,
            tries_until_answered=tries,
            read_timeouts_after_recovery=timeouts,
        )
    finally:
        served.stop()


def _answered_at(url: str, key: str, request_id: str) -> tuple[httpx.Response, float]:
    response = post(url, key, request_id)
    return response, time.monotonic()


def _audit_day(driver: Driver, database: str, request_id: str) -> str:
    """The UTC day whose chain holds the record of this request."""
    (found,) = [e for e in query_audit(driver, database) if e["requestId"] == request_id]
    return str(found["day"])


def _wait_until_blocked(driver: Driver, database: str, n: int) -> None:
    """Until ``n`` transactions wait for a lock (the appends behind the held audit head)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        records, _, _ = driver.execute_query(
            "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' "
            "RETURN count(*) AS n",
            database_=database,
        )
        if records[0]["n"] >= n:
            return
        assert time.monotonic() < deadline, f"{records[0]['n']} of {n} requests wait to append"
        time.sleep(0.1)


def _overloaded(body: dict[str, Any]) -> bool:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", ())] == ["OVERLOADED"]


def _timed(url: str, key: str, request_id: str) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = post(url, key, request_id)
    return response, time.monotonic() - start


def _is_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    retry = int(response.headers["retry-after"])
    assert retry >= 1
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["retryAfter"] == retry
