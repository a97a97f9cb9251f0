"""The read audit is tamper-evident (issue 15 item 6): each day's records form a hash chain
whose head is anchored, with an HMAC, in a file outside Neo4j; `caregraph audit verify` says
intact, or where an edit, a deletion, a truncated tail or a forged anchor line breaks it."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import pytest
from neo4j import Driver
from neo4j.exceptions import ConstraintError
from typer.testing import CliRunner

from caregraph.api.cli.main import app as cli
from caregraph.graph import chain, keys_and_audit
from caregraph.graph.anchors import Anchors
from caregraph.graph.driver import open_driver
from caregraph.graph.keys_and_audit import AuditWriter, Verification
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings, Paths, Settings
from tests.conftest import neo4j_env

PATIENT = "HOSP|MRN001"

Append = Callable[[int], list[str]]


def event(i: int) -> dict[str, object]:
    """An audit event as the API writes one."""
    return {
        "subject": "test:clinician",
        "role": "clinician",
        "method": "test",
        "requestId": f"chain-{i}",
        "purpose": "TREAT" if i % 2 else None,
        "channel": "graphql",
        "operation": "Ctx",
        "operationType": "query",
        "fields": ["patientContext", "patientContext.text"],
        "patients": [PATIENT],
        "outcome": "ok",
        "errorCodes": [],
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def anchors(home: Path) -> Anchors:
    """The anchors of a state directory of the test's own, its key made there (0600)."""
    return Anchors.open(Settings(paths=Paths(home=home)))


@pytest.fixture
def audit(clean_graph: Driver, database: str) -> Driver:
    keys_and_audit.ensure_schema(clean_graph, database)
    return clean_graph


@pytest.fixture
def private_audit(private_server: ManagedNeo4j) -> Iterator[Driver]:
    """``audit`` on the spare server, for a test that makes a constraint for Neo4j to refuse a
    record with: a schema change empties a server's plan cache, and the session server's serves
    the tests after it."""
    conn = private_server.connection()
    with open_driver(conn) as driver:
        keys_and_audit.ensure_schema(driver, conn.database)
        yield driver


@pytest.fixture
def append(audit: Driver, database: str, anchors: Anchors) -> Append:
    def write(n: int) -> list[str]:
        return [keys_and_audit.append_audit(audit, database, event(i), anchors) for i in range(n)]

    return write


def verify(driver: Driver, database: str, anchors: Anchors) -> Verification:
    return keys_and_audit.verify_audit(driver, database, anchors)


def problems(found: Verification) -> list[str]:
    return [p for d in found.days for p in d.problems]


def cli_verify(neo4j_conn: Neo4jSettings, home: Path) -> tuple[int, str]:
    env = {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_HOME": str(home),
    }
    run = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    return run.exit_code, run.output


def test_an_untouched_log_is_intact(
    append: Append, audit: Driver, database: str, anchors: Anchors, home: Path,
    neo4j_conn: Neo4jSettings,
) -> None:  # fmt: skip
    append(5)
    (day,) = verify(audit, database, anchors).days
    assert day.intact and (day.records, day.anchored) == (5, 5)
    records, _, _ = audit.execute_query(
        "MATCH (a:AuditEvent) RETURN a.seq AS seq, a.prevHash AS prev, a.hash AS hash ORDER BY seq",
        database_=database,
    )
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == chain.GENESIS
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    assert (home / "audit-key").stat().st_mode & 0o777 == 0o600
    assert (home / "audit-anchors").stat().st_mode & 0o777 == 0o600
    code, output = cli_verify(neo4j_conn, home)
    assert code == 0, output
    assert f"{day.day}  intact  5 records" in output and "anchored at 5" in output
    assert "MRN001" not in output and "TREAT" not in output


def test_an_edited_record_breaks_the_chain_at_that_record(
    append: Append, audit: Driver, database: str, anchors: Anchors, home: Path,
    neo4j_conn: Neo4jSettings,
) -> None:  # fmt: skip
    ids = append(5)
    audit.execute_query(
        "MATCH (a:AuditEvent {seq: 3}) SET a.patients = ['someone-else']", database_=database
    )
    (found,) = problems(verify(audit, database, anchors))
    assert found.startswith(f"record 3 (id {ids[2]}, at ") and "edited" in found
    code, output = cli_verify(neo4j_conn, home)
    assert code == 1 and "broken" in output and f"record 3 (id {ids[2]}" in output
    assert "someone-else" not in output and "MRN001" not in output


def test_a_deleted_record_breaks_the_chain(
    append: Append, audit: Driver, database: str, anchors: Anchors
) -> None:
    ids = append(5)
    audit.execute_query("MATCH (a:AuditEvent {seq: 3}) DELETE a", database_=database)
    found = problems(verify(audit, database, anchors))
    assert found[0].startswith(f"record 3 is missing (deleted): record 4 (id {ids[3]}")
    assert any("the count went down (1 deleted)" in p for p in found)  # head and anchor


def test_a_truncated_tail_is_caught_by_the_anchor(
    append: Append, audit: Driver, database: str, anchors: Anchors
) -> None:
    """The newest records deleted and the head rewound to match: only the anchor knows."""
    append(5)
    audit.execute_query(
        "MATCH (a:AuditEvent) WHERE a.seq > 3 DELETE a "
        "WITH count(*) AS gone MATCH (last:AuditEvent {seq: 3}), (h:AuditHead) "
        "SET h.count = 3, h.hash = last.hash",
        database_=database,
    )
    (found,) = problems(verify(audit, database, anchors))
    assert "says 5 records, Neo4j has 3: the count went down (2 deleted)" in found


def test_a_rewritten_chain_is_caught_by_the_anchor(
    append: Append, audit: Driver, database: str, anchors: Anchors
) -> None:
    """Someone who knows the algorithm edits record 2 and recomputes every hash after it and
    the head: the chain holds together, but not with the anchor (its key is not in Neo4j)."""
    append(4)
    audit.execute_query("MATCH (a:AuditEvent {seq: 2}) SET a.patients = []", database_=database)
    rows, _, _ = audit.execute_query(
        "MATCH (a:AuditEvent) RETURN a {.*} AS a ORDER BY a.seq", database_=database
    )
    prev = chain.GENESIS
    for row in rows:
        record = dict(row["a"])
        digest = chain.link(prev, record)
        audit.execute_query(
            "MATCH (a:AuditEvent {id: $id}) SET a.prevHash = $prev, a.hash = $hash "
            "WITH a MATCH (h:AuditHead) SET h.hash = $hash",
            id=record["id"], prev=prev, hash=digest, database_=database,
        )  # fmt: skip
        prev = digest
    (found,) = problems(verify(audit, database, anchors))
    assert found.startswith("record 4 (id ") and "the chain was rewritten up to it" in found


def test_a_tampered_anchor_file_is_caught_by_its_hmac(
    append: Append, audit: Driver, database: str, anchors: Anchors, home: Path,
    neo4j_conn: Neo4jSettings,
) -> None:  # fmt: skip
    append(3)
    path = home / "audit-anchors"
    lines = path.read_text().splitlines()
    assert len(lines) == 3  # one line per append by default
    day, count, digest = lines[-1].split(" ")[1:4]
    lines[-1] = lines[-1].replace(f" {day} {count} {digest} ", f" {day} 2 {digest} ")
    path.write_text("\n".join(lines) + "\n")
    (found,) = problems(verify(audit, database, anchors))
    assert found.startswith("anchor line 3: its HMAC does not match")
    code, output = cli_verify(neo4j_conn, home)
    assert code == 1 and "anchor line 3" in output
    path.unlink()  # no anchor file at all
    (found,) = problems(verify(audit, database, anchors))
    assert found.startswith("no authentic anchor line for this day")
    (home / "audit-key").unlink()  # and no key: verify does not make one
    code, output = cli_verify(neo4j_conn, home)
    assert code == 1 and not (home / "audit-key").exists()


def test_two_workers_appending_at_once_make_one_chain(
    audit: Driver, database: str, home: Path
) -> None:
    """Two workers, each with its own anchors on one state directory (as two processes)."""
    settings = Settings(paths=Paths(home=home))
    workers = [Anchors.open(settings), Anchors.open(settings)]
    errors: list[BaseException] = []

    def work(w: int) -> None:
        try:
            for i in range(25):
                keys_and_audit.append_audit(audit, database, event(100 * w + i), workers[w])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    (day,) = verify(audit, database, workers[0]).days
    assert day.intact, day.problems
    assert (day.records, day.anchored) == (50, 50)
    records, _, _ = audit.execute_query(
        "MATCH (a:AuditEvent) RETURN collect(a.seq) AS seqs, count(DISTINCT a.prevHash) AS n",
        database_=database,
    )
    assert sorted(records[0]["seqs"]) == list(range(1, 51)) and records[0]["n"] == 50


def test_anchoring_every_n_appends(audit: Driver, database: str, home: Path) -> None:
    anchors = Anchors(home / "audit-anchors", b"k" * 32, every=5)
    for i in range(12):
        keys_and_audit.append_audit(audit, database, event(i), anchors)
    counts = [int(x.split(" ")[2]) for x in (home / "audit-anchors").read_text().splitlines()]
    assert counts == [1, 6, 11]  # a day's first append, then every fifth
    (day,) = verify(audit, database, anchors).days
    assert day.intact and (day.records, day.anchored) == (12, 11)
    anchors.flush()  # on shutdown
    (day,) = verify(audit, database, anchors).days
    assert day.intact and day.anchored == 12


# -- group commit: one transaction per batch of records ----------------------------------------

HANG = 60.0  # a bound that tells a hang from a busy machine; nothing here is timed


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():
        assert time.monotonic() < deadline, f"hung waiting for {what}"
        time.sleep(0.01)


@contextmanager
def holding_the_head(driver: Driver, database: str) -> Iterator[None]:
    """Hold today's chain head's write lock in an open transaction, as another worker's
    append does: every append waits on Neo4j's lock until the block ends (rolled back, so
    nothing of it stays)."""
    day = datetime.now(UTC).date().isoformat()
    session = driver.session(database=database)
    tx = session.begin_transaction()
    try:
        tx.run(
            "MERGE (h:AuditHead {day: $day}) ON CREATE SET h.count = 0, h.hash = $genesis "
            "SET h._lock = true",
            day=day,
            genesis=chain.GENESIS,
        ).consume()
        yield
    finally:
        with suppress(Exception):  # the server may be gone: a test killed it
            tx.rollback()
        with suppress(Exception):
            session.close()


def test_records_that_arrive_while_a_batch_is_written_go_into_the_next_one(
    audit: Driver, database: str, anchors: Anchors, home: Path, neo4j_conn: Neo4jSettings
) -> None:
    writer = AuditWriter(audit, database, anchors, max_batch=64)
    with holding_the_head(audit, database):
        first = writer.submit(event(0))
        wait_until(lambda: writer.group.batches == 1, "the first batch to be under way")
        rest = [writer.submit(event(i)) for i in range(1, 21)]
        assert writer.group.queued == 20  # waiting: the first batch waits on the lock
        assert not first.done()
    ids = [f.result(HANG) for f in [first, *rest]]
    assert len(set(ids)) == 21
    assert (writer.group.commits, writer.group.items, writer.group.largest) == (2, 21, 20)
    records, _, _ = audit.execute_query(
        "MATCH (a:AuditEvent) RETURN a.requestId AS rid, a.seq AS seq, a.prevHash AS prev, "
        "a.hash AS hash ORDER BY seq",
        database_=database,
    )
    assert [r["rid"] for r in records] == [f"chain-{i}" for i in range(21)]  # in arrival order
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    (day,) = verify(audit, database, anchors).days
    assert day.intact, day.problems
    assert (day.records, day.anchored) == (21, 21)
    lines = (home / "audit-anchors").read_text().splitlines()
    assert [int(x.split(" ")[2]) for x in lines] == [1, 21]  # one anchoring per batch head
    code, output = cli_verify(neo4j_conn, home)
    assert code == 0 and "intact  21 records" in output, output


def test_a_failed_batch_fails_every_record_in_it_and_leaves_the_chain_intact(
    private_audit: Driver, database: str, anchors: Anchors
) -> None:
    """A real refusal by Neo4j: a constraint that one record of the batch breaks. The batch
    is one transaction, so none of it is written and every caller hears of it."""
    audit = private_audit
    writer = AuditWriter(audit, database, anchors)
    writer.submit(event(0)).result(HANG)
    audit.execute_query(
        "CREATE CONSTRAINT test_chain_once IF NOT EXISTS FOR (a:AuditEvent) "
        "REQUIRE a.requestId IS UNIQUE",
        database_=database,
    )
    try:
        with holding_the_head(audit, database):
            blocked = writer.submit(event(1))
            wait_until(lambda: writer.group.batches == 2, "the second batch to be under way")
            doomed = [writer.submit(event(i)) for i in (2, 0, 3)]  # chain-0 again
        assert blocked.result(HANG)
        for future in doomed:
            with pytest.raises(ConstraintError, match="already exists"):
                future.result(HANG)
    finally:
        audit.execute_query("DROP CONSTRAINT test_chain_once IF EXISTS", database_=database)
    (day,) = verify(audit, database, anchors).days
    assert day.intact and day.records == 2, day.problems
    assert writer.submit(event(4)).result(HANG)  # and the writer carries on


def test_two_workers_writing_batches_at_once_make_one_chain(
    audit: Driver, database: str, home: Path
) -> None:
    """Two workers (each its own writer and anchors on one state directory, as two processes)
    whose batches extend the day's chain in turn, under the head's lock."""
    settings = Settings(paths=Paths(home=home))
    workers = [AuditWriter(audit, database, Anchors.open(settings)) for _ in range(2)]
    futures = [w.submit(event(100 * n + i)) for i in range(40) for n, w in enumerate(workers)]
    ids = [f.result(HANG) for f in futures]
    assert len(set(ids)) == 80
    (day,) = verify(audit, database, Anchors.open(settings)).days
    assert day.intact, day.problems
    assert (day.records, day.anchored) == (80, 80)
    commits = sum(w.group.commits for w in workers)
    print(f"\n80 records from two workers in {commits} transactions", end="")


def test_a_batch_across_midnight_extends_each_days_chain(
    audit: Driver, database: str, anchors: Anchors
) -> None:
    before = datetime(2024, 2, 28, 23, 59, 59, 900_000, tzinfo=UTC)
    after = datetime(2024, 2, 29, 0, 0, 0, 100_000, tzinfo=UTC)
    records = [
        keys_and_audit.audit_record(event(i), at) for i, at in enumerate([before, after] * 3)
    ]
    ids = keys_and_audit.write_audit(audit, database, records, anchors)
    assert len(set(ids)) == 6
    found = verify(audit, database, anchors)
    assert [(d.day, d.records, d.anchored, d.intact) for d in found.days] == [
        ("2024-02-28", 3, 3, True),
        ("2024-02-29", 3, 3, True),
    ]


def _day_of(driver: Driver, database: str) -> tuple[str, list[int], int]:
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditEvent) WITH a.day AS day, collect(a.seq) AS seqs "
        "MATCH (h:AuditHead {day: day}) RETURN day, seqs, h.count AS count",
        database_=database,
    )
    (found,) = records
    return found["day"], sorted(found["seqs"]), found["count"]


def test_a_writer_whose_head_is_out_of_date_chains_after_the_real_head(
    audit: Driver, database: str, anchors: Anchors, append: Append
) -> None:
    """A batch is hashed from the head its writer left; when another writer moved the head
    since, the one-statement append writes nothing, and the batch is chained to the head
    found and appended once."""
    append(3)
    day, _, _ = _day_of(audit, database)
    left = {day: chain.Head(day, 1, "f" * 64)}  # two records were appended since
    records = [keys_and_audit.audit_record(event(10 + i)) for i in range(2)]
    keys_and_audit.write_audit(audit, database, records, anchors, left)
    assert _day_of(audit, database) == (day, [1, 2, 3, 4, 5], 5)
    assert left[day].count == 5  # the writer now knows where it left the head
    found = verify(audit, database, anchors)
    assert [(d.records, d.intact) for d in found.days] == [(5, True)]


def test_a_head_that_keeps_moving_is_appended_to_under_its_lock(
    audit: Driver, database: str, anchors: Anchors, append: Append,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """No try of the one-statement append is left: the batch takes the head's lock, reads it
    and appends, as two workers that keep moving the head make it do."""
    append(2)
    monkeypatch.setattr(keys_and_audit, "HEAD_TRIES", 0)
    left: dict[str, chain.Head] = {}
    keys_and_audit.write_audit(
        audit, database, [keys_and_audit.audit_record(event(7))], anchors, left
    )
    day, seqs, count = _day_of(audit, database)
    assert (seqs, count, left[day].count) == ([1, 2, 3], 3, 3)
    found = verify(audit, database, anchors)
    assert [(d.records, d.intact) for d in found.days] == [(3, True)]
