"""The read audit is tamper-evident (issue 15 item 6): each day's records form a hash chain
whose head is anchored, with an HMAC, in a file outside Neo4j; `caregraph audit verify` says
intact, or where an edit, a deletion, a truncated tail or a forged anchor line breaks it."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from api.cli.main import app as cli
from graph import chain, security
from graph.anchors import Anchors
from graph.security import Verification
from graph.settings import Neo4jSettings, Paths, Settings

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
    security.ensure_schema(clean_graph, database)
    return clean_graph


@pytest.fixture
def append(audit: Driver, database: str, anchors: Anchors) -> Append:
    def write(n: int) -> list[str]:
        return [security.append_audit(audit, database, event(i), anchors) for i in range(n)]

    return write


def verify(driver: Driver, database: str, anchors: Anchors) -> Verification:
    return security.verify_audit(driver, database, anchors)


def problems(found: Verification) -> list[str]:
    return [p for d in found.days for p in d.problems]


def cli_verify(neo4j_conn: Neo4jSettings, home: Path) -> tuple[int, str]:
    env = {
        "NEO4J_URI": neo4j_conn.uri or "",
        "NEO4J_USERNAME": neo4j_conn.username,
        "NEO4J_PASSWORD": neo4j_conn.password.get_secret_value() if neo4j_conn.password else "",
        "NEO4J_DATABASE": neo4j_conn.database,
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
                security.append_audit(audit, database, event(100 * w + i), workers[w])
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
        security.append_audit(audit, database, event(i), anchors)
    counts = [int(x.split(" ")[2]) for x in (home / "audit-anchors").read_text().splitlines()]
    assert counts == [1, 6, 11]  # a day's first append, then every fifth
    (day,) = verify(audit, database, anchors).days
    assert day.intact and (day.records, day.anchored) == (12, 11)
    anchors.flush()  # on shutdown
    (day,) = verify(audit, database, anchors).days
    assert day.intact and day.anchored == 12
