"""Cypher for API keys and the read audit log (both kept in Neo4j, beside the graph).

API keys are ``(:ApiKey {keyId, name, role, secretHash, createdAt, revokedAt})``; only a hash
of the secret is stored. The audit log is ``(:AuditEvent)`` nodes that caregraph only ever
creates: nothing in caregraph updates or deletes them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from neo4j import Driver

SCHEMA = (
    "CREATE CONSTRAINT cg_ApiKey_keyId_unique IF NOT EXISTS "
    "FOR (k:ApiKey) REQUIRE k.keyId IS UNIQUE",
    "CREATE INDEX cg_AuditEvent_at IF NOT EXISTS FOR (a:AuditEvent) ON (a.at)",
    "CREATE INDEX cg_AuditEvent_subject IF NOT EXISTS FOR (a:AuditEvent) ON (a.subject)",
    "CREATE INDEX cg_AuditEvent_id IF NOT EXISTS FOR (a:AuditEvent) ON (a.id)",
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


def append_audit(driver: Driver, database: str, event: dict[str, Any]) -> str:
    """Append one audit event (lists of patients and fields, the rest plain values) and return
    its id. A failure raises: the caller must not answer a read it could not record."""
    records, _, _ = driver.execute_query(
        "CREATE (a:AuditEvent) SET a = $event, a.id = randomUUID(), a.at = datetime() "
        "RETURN a.id AS id",
        event={k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in event.items()},
        database_=database,
    )
    return str(records[0]["id"])


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
