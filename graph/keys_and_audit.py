"""Cypher for API keys and the read audit log (both kept in Neo4j, beside the graph).

API keys are ``(:ApiKey {keyId, name, role, secretHash, createdAt, revokedAt})``; only a hash
of the secret is stored. The revocation counter that service workers poll is read from the
keys themselves (how many are revoked, and the latest revocation), so it cannot drift from
them and a revocation made by hand in Neo4j counts too.

The audit log is ``(:AuditEvent)`` nodes that caregraph only ever creates: nothing in
caregraph updates or deletes them, and each day's records form a hash chain (graph/chain.py)
whose head is ``(:AuditHead {day, count, hash})`` and is anchored outside Neo4j
(graph/anchors.py), so an edit or a deletion shows in ``caregraph audit verify``. A service
worker appends the records of concurrent requests in batches (:class:`AuditWriter`): one
transaction per batch, under the day's head lock, each record chained to the one before it.

A batch is appended in one statement and one round trip (:func:`write_audit`) when the
writer knows the day's head: the hashes are computed from the head it last left, and the
statement takes the head's lock, checks that the head is still that one and only then
creates the records and moves the head, committing as it returns. When another worker has
moved the head since, nothing is written and the statement returns the head it found: the
batch is chained to that one and tried again, and after :data:`HEAD_TRIES` such tries it is
appended by the transaction that reads the head under its lock first and writes after
(``_append``: four round trips, the lock held across three of them).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Generator, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from neo4j import (
    AsyncDriver,
    AsyncManagedTransaction,
    Driver,
    ManagedTransaction,
    Record,
    RoutingControl,
)
from neo4j.exceptions import TransientError

from caregraph.graph import chain
from caregraph.graph.anchors import AnchorLine, Anchors, Head
from caregraph.graph.groupcommit import AsyncGroupCommit, GroupCommit

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


# how many keys are revoked, and when the latest was: any revocation changes it
Revocations = tuple[int, Any]
_REVOCATIONS = (
    "CALL () { MATCH (r:ApiKey) WHERE r.revokedAt IS NOT NULL "
    "RETURN count(r) AS revoked, max(r.revokedAt) AS latest }"
)


@dataclass(frozen=True)
class FoundKey:
    """A key looked up (None: there is none with that id), and the revocation counter read in
    the same transaction."""

    key: dict[str, Any] | None
    revocations: Revocations


def find_key(driver: Driver, database: str, key_id: str) -> FoundKey:
    records, _, _ = driver.execute_query(
        "OPTIONAL MATCH (k:ApiKey {keyId: $id}) WITH k {.*} AS k "
        f"{_REVOCATIONS} RETURN k, revoked, latest",
        id=key_id,
        database_=database,
        routing_=RoutingControl.READ,
    )
    row = records[0]
    return FoundKey(dict(row["k"]) if row["k"] else None, (row["revoked"], row["latest"]))


def revocations(driver: Driver, database: str) -> Revocations:
    """The revocation counter: what a worker compares with what it saw last."""
    records, _, _ = driver.execute_query(
        f"{_REVOCATIONS} RETURN revoked, latest",
        database_=database,
        routing_=RoutingControl.READ,
    )
    return (records[0]["revoked"], records[0]["latest"])


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


def audit_record(event: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The record kept of an audit event (lists of patients and fields, the rest plain
    values): its id, its time (``at``, now by default) and UTC day, and no nulls, since Neo4j
    keeps none and the hash covers what is stored."""
    at = at or datetime.now(UTC)
    record: dict[str, Any] = {
        k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in event.items() if v is not None
    }
    record.update(id=str(uuid.uuid4()), at=at, day=at.date().isoformat())
    return record


def append_audit(driver: Driver, database: str, event: dict[str, Any], anchors: Anchors) -> str:
    """Append one audit event to its day's chain on its own (a command line's read), anchor
    the day's head when due, and return the event's id. A failure raises: the caller must not
    answer a read it could not record."""
    return write_audit(driver, database, [audit_record(event)], anchors)[0]


def write_audit(
    driver: Driver,
    database: str,
    records: Sequence[dict[str, Any]],
    anchors: Anchors,
    heads: dict[str, Head] | None = None,
) -> list[str]:
    """Append records (from :func:`audit_record`, in this order) to their days' chains in one
    transaction, anchor each day's new head when due, and return their ids. A failure raises
    and none of them is written. ``heads``: the heads this writer left, by day (kept up to
    date here), from which a batch of one day is appended in one statement."""
    known = heads if heads is not None else {}
    appended = _append_at_head(driver, database, records, known)
    if appended is None:
        with driver.session(database=database) as session:
            appended = session.execute_write(_append, records)
    return _appended(records, appended, known, anchors)


async def awrite_audit(
    driver: AsyncDriver,
    database: str,
    records: Sequence[dict[str, Any]],
    anchors: Anchors,
    heads: dict[str, Head] | None = None,
) -> list[str]:
    """:func:`write_audit` through an async driver, on its event loop."""
    known = heads if heads is not None else {}
    appended = await _aappend_at_head(driver, database, records, known)
    if appended is None:
        async with driver.session(database=database) as session:
            appended = await session.execute_write(_aappend, records)
    return _appended(records, appended, known, anchors)


def _appended(
    records: Sequence[dict[str, Any]],
    appended: list[tuple[Head, int]],
    known: dict[str, Head],
    anchors: Anchors,
) -> list[str]:
    for head, n in appended:
        known[head.day] = head
        anchors.note(head, n)
    for past in sorted(known)[:-1]:  # a writer appends to today's chain (yesterday's at midnight)
        del known[past]
    return [str(r["id"]) for r in records]


# The appends below are written once, as generators of the statements they run (each gets
# the records of the statement before it back), and run by the synchronous driver or the
# async one (the service's event loop): one text for both, as the neo4j driver's own sync and
# async halves are generated from one source.
Statements = Generator[tuple[str, dict[str, Any]], list[Record], list[tuple[Head, int]] | None]

HEAD_TRIES = 3  # one-statement appends of a batch before it takes the head's lock first
_APPEND_AT_HEAD = (
    "MERGE (h:AuditHead {day: $day}) ON CREATE SET h.count = 0, h.hash = $genesis "
    "SET h._lock = true "
    "WITH h, (h.count = $count AND h.hash = $prev) AS ours "
    "CALL (h, ours) { WITH h WHERE ours "
    "UNWIND $rows AS row "
    "CREATE (a:AuditEvent) SET a = row.record, a.prevHash = row.prev, a.hash = row.hash "
    "WITH h, count(*) AS written SET h.count = $after, h.hash = $last } "
    "REMOVE h._lock RETURN ours, h.count AS count, h.hash AS hash"
)


def _at_head(records: Sequence[dict[str, Any]], heads: dict[str, Head]) -> Statements:
    """The records appended in one auto-commit statement per try, chained to the head this
    writer expects (the one it left, else an empty day's); None when they span two days, or
    the head kept moving (the caller then appends them under the head's lock)."""
    days = {r["day"] for r in records}
    if len(days) != 1:
        return None
    (day,) = days
    head = heads.get(day) or Head(day, 0, chain.GENESIS)
    for _ in range(HEAD_TRIES):
        linked, after = chain.extend(head, records)
        rows = [{"record": x.record, "prev": x.prev, "hash": x.hash} for x in linked]
        params = {"day": day, "genesis": chain.GENESIS, "count": head.count, "prev": head.hash}
        found = yield _APPEND_AT_HEAD, {**params, "rows": rows, "after": after.count,
                                        "last": after.hash}  # fmt: skip
        if found[0]["ours"]:
            return [(after, len(records))]
        head = Head(day, int(found[0]["count"]), found[0]["hash"])
    return None


def _append_at_head(
    driver: Driver, database: str, records: Sequence[dict[str, Any]], heads: dict[str, Head]
) -> list[tuple[Head, int]] | None:
    """:func:`_at_head`'s statements, each on its own (auto-commit). None also when Neo4j
    gave up on a lock (a transient error: the statement was rolled back). Any other error
    raises: whether a statement cut short committed is not known, so it is not run again."""

    def run(query: str, params: dict[str, Any]) -> list[Record]:
        with driver.session(database=database) as session:
            return [session.run(query, params).single(strict=True)]

    try:
        return _drive(_at_head(records, heads), run)
    except TransientError:
        return None


async def _aappend_at_head(
    driver: AsyncDriver, database: str, records: Sequence[dict[str, Any]], heads: dict[str, Head]
) -> list[tuple[Head, int]] | None:
    """:func:`_append_at_head` through an async driver."""

    async def run(query: str, params: dict[str, Any]) -> list[Record]:
        async with driver.session(database=database) as session:
            return [await (await session.run(query, params)).single(strict=True)]

    try:
        return await _adrive(_at_head(records, heads), run)
    except TransientError:
        return None


def _locked(records: Sequence[dict[str, Any]]) -> Statements:
    """The records appended in one transaction that takes their days' head locks first."""
    days: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        days.setdefault(record["day"], []).append(record)
    # the heads' write locks first (SET), then their counts and hashes as the lock holder sees
    # them: two workers never extend the same head, so a day's chain never forks. Locked in
    # day order, so two batches that both span midnight cannot wait on each other crosswise.
    locked = yield (
        "UNWIND $days AS day "
        "MERGE (h:AuditHead {day: day}) ON CREATE SET h.count = 0, h.hash = $genesis "
        "SET h._lock = true RETURN h.day AS day, h.count AS count, h.hash AS hash",
        {"days": sorted(days), "genesis": chain.GENESIS},
    )
    heads = {r["day"]: Head(r["day"], int(r["count"]), r["hash"]) for r in locked}
    rows: list[dict[str, Any]] = []
    appended: list[tuple[Head, int]] = []
    for day, of_day in sorted(days.items()):
        linked, head = chain.extend(heads[day], of_day)
        rows += [{"record": x.record, "prev": x.prev, "hash": x.hash} for x in linked]
        appended.append((head, len(of_day)))
    yield (
        "UNWIND $rows AS row "
        "CREATE (a:AuditEvent) SET a = row.record, a.prevHash = row.prev, a.hash = row.hash "
        "WITH count(*) AS written "
        "UNWIND $heads AS head MATCH (h:AuditHead {day: head.day}) "
        "SET h.count = head.count, h.hash = head.hash REMOVE h._lock",
        {"rows": rows, "heads": [{"day": h.day, "count": h.count, "hash": h.hash}
                                 for h, _ in appended]},
    )  # fmt: skip
    return appended


def _append(tx: ManagedTransaction, records: Sequence[dict[str, Any]]) -> list[tuple[Head, int]]:
    appended = _drive(_locked(records), lambda query, params: list(tx.run(query, params)))
    assert appended is not None  # _locked always appends
    return appended


async def _aappend(
    tx: AsyncManagedTransaction, records: Sequence[dict[str, Any]]
) -> list[tuple[Head, int]]:
    async def run(query: str, params: dict[str, Any]) -> list[Record]:
        return [r async for r in await tx.run(query, params)]

    appended = await _adrive(_locked(records), run)
    assert appended is not None  # _locked always appends
    return appended


def _drive(
    steps: Statements, run: Callable[[str, dict[str, Any]], list[Record]]
) -> list[tuple[Head, int]] | None:
    """Run each statement ``steps`` makes with ``run`` and hand it the records; its result."""
    try:
        statement = next(steps)
        while True:
            statement = steps.send(run(*statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def _adrive(
    steps: Statements, run: Callable[[str, dict[str, Any]], Awaitable[list[Record]]]
) -> list[tuple[Head, int]] | None:
    """:func:`_drive` with a coroutine for ``run``."""
    try:
        statement = next(steps)
        while True:
            statement = steps.send(await run(*statement))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class AuditWriter:
    """The read audit's writer of one process (a service worker): the records of concurrent
    requests are appended in batches (graph/groupcommit.py), one transaction per batch, and
    each request waits for the batch that holds its record. Workers share the day's chain
    through its head's lock, taken once per batch rather than once per request; a batch is
    one statement while the head is where this writer left it (:func:`write_audit`).

    :meth:`append` with the service's async driver writes through it from the event loop (an
    :class:`~caregraph.graph.groupcommit.AsyncGroupCommit`); without one, or from a thread
    (:meth:`submit`), a thread writes through the synchronous driver."""

    def __init__(
        self, driver: Driver, database: str, anchors: Anchors, max_batch: int = 64
    ) -> None:
        self.driver = driver
        self.database = database
        self.anchors = anchors
        self.group: GroupCommit[dict[str, Any], str] = GroupCommit(
            self._write, max_batch, name="caregraph-audit"
        )
        self._heads: dict[str, Head] = {}  # written by the group commit's one thread only
        # the batches on the event loop of the async driver they write through
        self._on_loop: tuple[AsyncDriver, AsyncGroupCommit[dict[str, Any], str]] | None = None

    @property
    def on_loop(self) -> AsyncGroupCommit[dict[str, Any], str] | None:
        """The batches written from an event loop (:meth:`append` with its async driver), once
        a record went that way."""
        return self._on_loop[1] if self._on_loop is not None else None

    def submit(self, event: dict[str, Any]) -> Future[str]:
        """Queue the event's record (timed now); the future gives its id once its batch is
        committed and anchored, or raises if that failed."""
        return self.group.submit(audit_record(event))

    async def append(self, event: dict[str, Any], driver: AsyncDriver | None = None) -> str:
        """The event's record appended (timed now): its id once its batch is committed and
        anchored; raises if that failed. ``driver``: the async driver of the running event
        loop, whose batches it joins (None: :meth:`submit`'s thread)."""
        if driver is None:
            return await asyncio.wrap_future(self.submit(event))
        if self._on_loop is None or self._on_loop[0] is not driver:  # a new loop's driver
            heads: dict[str, Head] = {}  # this group's own, as _heads is the thread's

            async def write(records: Sequence[dict[str, Any]]) -> list[str]:
                return await awrite_audit(driver, self.database, records, self.anchors, heads)

            group = AsyncGroupCommit(write, self.group.max_batch, name="caregraph-audit")
            self._on_loop = (driver, group)
        return await self._on_loop[1].submit(audit_record(event))

    def _write(self, records: Sequence[dict[str, Any]]) -> list[str]:
        return write_audit(self.driver, self.database, records, self.anchors, self._heads)


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
