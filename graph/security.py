"""Cypher for API keys and the read audit log (both kept in Neo4j, beside the graph).

API keys are ``(:ApiKey {keyId, name, role, secretHash, createdAt, revokedAt})``; only a hash
of the secret is stored. The audit log is ``(:AuditEvent)`` nodes that caregraph only ever
creates: nothing in caregraph updates or deletes them, and each day's records form a hash
chain (graph/chain.py) whose head is ``(:AuditHead {day, count, hash})`` and is anchored
outside Neo4j (graph/anchors.py), so an edit or a deletion shows in ``caregraph audit verify``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import Driver, ManagedTransaction

from graph import chain
from graph.anchors import AnchorLine, Anchors, Head

SCHEMA = (
    "CREATE CONSTRAINT cg_ApiKey_keyId_unique IF NOT EXISTS "
    "FOR (k:ApiKey) REQUIRE k.keyId IS UNIQUE",
    "CREATE INDEX cg_AuditEvent_at IF NOT EXISTS FOR (a:AuditEvent) ON (a.at)",
    "CREATE INDEX cg_AuditEvent_subject IF NOT EXISTS FOR (a:AuditEvent) ON (a.subject)",
    "CREATE INDEX cg_AuditEvent_id IF NOT EXISTS FOR (a:AuditEvent) ON (a.id)",
    "CREATE INDEX cg_AuditEvent_day_seq IF NOT EXISTS FOR (a:AuditEvent) ON (a.day, a.seq)",
    # one head per day, also when two workers make a day's first record at once
    "CREATE CONSTRAINT cg_AuditHead_day_unique IF NOT EXISTS "
    "FOR (h:AuditHead) REQUIRE h.day IS UNIQUE",
)


def ensure_schema(driver: Driver, database: str) -> None:
    for statement in SCHEMA:
        driver.execute_query(statement, database_=database)


def create_key(
    driver: Driver, database: str, key_id: str, name: str, role: str, secret_hash: str
) -> None:
    driver.execute_query(
        "CREATE (k:ApiKey {keyId: $id, name: $name, role: $role, secretHash: $hash, "
        "createdAt: datetime(), display: 'key ' + $name})",
        id=key_id,
        name=name,
        role=role,
        hash=secret_hash,
        database_=database,
    )


def find_key(driver: Driver, database: str, key_id: str) -> dict[str, Any] | None:
    records, _, _ = driver.execute_query(
        "MATCH (k:ApiKey {keyId: $id}) RETURN k {.*} AS k", id=key_id, database_=database
    )
    return dict(records[0]["k"]) if records else None


def list_keys(driver: Driver, database: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (k:ApiKey) RETURN k {.keyId, .name, .role, .createdAt, .revokedAt} AS k "
        "ORDER BY k.createdAt",
        database_=database,
    )
    return [dict(r["k"]) for r in records]


def revoke_key(driver: Driver, database: str, key_id: str) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (k:ApiKey {keyId: $id}) SET k.revokedAt = coalesce(k.revokedAt, datetime()) "
        "RETURN k.keyId AS id",
        id=key_id,
        database_=database,
    )
    return bool(records)


def append_audit(driver: Driver, database: str, event: dict[str, Any], anchors: Anchors) -> str:
    """Append one audit event (lists of patients and fields, the rest plain values) to its
    day's chain, anchor the day's head when due, and return the event's id. A failure raises:
    the caller must not answer a read it could not record."""
    at = datetime.now(UTC)
    record: dict[str, Any] = {
        k: (json.dumps(v) if isinstance(v, dict) else v)
        for k, v in event.items()
        if v is not None  # Neo4j keeps no nulls: the hash covers what is stored
    }
    record.update(id=str(uuid.uuid4()), at=at, day=at.date().isoformat())
    with driver.session(database=database) as session:
        head = session.execute_write(_append, record)
    anchors.note(head)
    return str(record["id"])


def _append(tx: ManagedTransaction, record: dict[str, Any]) -> Head:
    # the head's write lock first (SET), then its count and hash as the lock holder sees
    # them: two workers never extend the same head, so the day's chain never forks
    lock = tx.run(
        "MERGE (h:AuditHead {day: $day}) ON CREATE SET h.count = 0, h.hash = $genesis "
        "SET h._lock = true RETURN h.count AS count, h.hash AS hash",
        day=record["day"],
        genesis=chain.GENESIS,
    ).single(strict=True)
    stored = {**record, "seq": int(lock["count"]) + 1}
    digest = chain.link(lock["hash"], stored)
    tx.run(
        "CREATE (a:AuditEvent) SET a = $record, a.prevHash = $prev, a.hash = $hash "
        "WITH a MATCH (h:AuditHead {day: $day}) "
        "SET h.count = $seq, h.hash = $hash REMOVE h._lock",
        record=stored,
        prev=lock["hash"],
        hash=digest,
        day=record["day"],
        seq=stored["seq"],
    ).consume()
    return Head(record["day"], stored["seq"], digest)


def audit_outcomes(driver: Driver, database: str, subject: str) -> list[tuple[str, str]]:
    """A subject's audit records: each one's request id and outcome (ok, partial, failed,
    refused), oldest first."""
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditEvent {subject: $subject}) "
        "RETURN a.requestId AS requestId, coalesce(a.outcome, 'none') AS outcome "
        "ORDER BY a.at, a.seq",
        subject=subject,
        database_=database,
    )
    return [(str(r["requestId"]), str(r["outcome"])) for r in records]


@dataclass
class Verification:
    """The chain check of each day, and the anchor lines that name no day."""

    days: list[chain.DayReport]
    unreadable: list[AnchorLine]
    unchained: int  # records from before the chain, which nothing can vouch for

    @property
    def intact(self) -> bool:
        return not self.unreadable and all(d.intact for d in self.days)


def verify_audit(
    driver: Driver, database: str, anchors: Anchors, day: str | None = None
) -> Verification:
    """Recompute every day's chain (or one day's) from Neo4j and hold it against its head and
    the anchor file."""
    lines = anchors.lines()
    records, _, _ = driver.execute_query(
        "MATCH (h:AuditHead) RETURN h.day AS day, h.count AS count, h.hash AS hash",
        database_=database,
    )
    heads = {r["day"]: Head(r["day"], r["count"], r["hash"]) for r in records}
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditEvent) WHERE a.day IS NOT NULL RETURN DISTINCT a.day AS day",
        database_=database,
    )
    days = {r["day"] for r in records} | set(heads)
    days |= {x.head.day for x in lines if x.head is not None}
    if day is not None:
        days &= {day}
    reports = []
    for d in sorted(days):
        with _segment(driver, database, d) as rows:
            named = [x for x in lines if x.head is not None and x.head.day == d]
            reports.append(chain.check(d, rows, heads.get(d), named))
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditEvent) WHERE a.hash IS NULL AND a.day IS NULL RETURN count(a) AS n",
        database_=database,
    )
    return Verification(reports, [x for x in lines if x.head is None], records[0]["n"])


@contextmanager
def _segment(driver: Driver, database: str, day: str) -> Iterator[Iterator[dict[str, Any]]]:
    """One day's records in chain order, streamed (a day can hold many)."""
    with driver.session(database=database, default_access_mode="READ") as session:
        result = session.run(
            "MATCH (a:AuditEvent) WHERE a.day = $day RETURN a {.*} AS a ORDER BY a.seq",
            day=day,
        )
        yield (dict(r["a"]) for r in result)


def query_audit(
    driver: Driver,
    database: str,
    *,
    subject: str | None = None,
    patient: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    after: tuple[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Audit events, newest first, filtered by who, which patient and since when; ``after``
    is the (epoch milliseconds, id) of the last event of the previous page."""
    records, _, _ = driver.execute_query(
        "MATCH (a:AuditEvent) "
        "WHERE ($subject IS NULL OR a.subject = $subject) "
        "AND ($patient IS NULL OR $patient IN a.patients) "
        "AND ($since IS NULL OR a.at >= $since) "
        "WITH a, a.at.epochMillis AS ms "
        "WHERE $afterMs IS NULL OR ms < $afterMs OR (ms = $afterMs AND a.id < $afterId) "
        "RETURN a {.*} AS a, ms ORDER BY ms DESC, a.id DESC LIMIT $limit",
        subject=subject,
        patient=patient,
        since=since,
        afterMs=after[0] if after else None,
        afterId=after[1] if after else None,
        limit=limit,
        database_=database,
    )
    return [{**dict(r["a"]), "ms": r["ms"]} for r in records]
