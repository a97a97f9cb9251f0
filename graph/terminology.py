"""Terminologies in the graph: Concepts, their BROADER hierarchy, and a CodeSystem node per
loaded release; and the reader of a concept with its place in the hierarchy.

``(:Concept {key, system, code, display})-[:BROADER]->(:Concept)``, keyed ``system|code``
(loaders/concepts.py spells the keys). A load compares each batch with what the graph holds
and writes only the difference, in one transaction per batch of ``UNWIND $rows``: a rerun of
the same release reads and writes nothing, a new release changes only what changed. Concepts
that records made (a code no terminology was loaded for) are the same nodes: a load gives them
their display and their place in the hierarchy, and never removes one.

Labels and relationship types are constants here (as Identifier and SourceRecord are for the
writer); every value is a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

from neo4j import Driver, ManagedTransaction

if TYPE_CHECKING:  # graph/readers.py imports this module's names
    from caregraph.graph.readers import Reader

CONCEPT = "Concept"
CODE_SYSTEM = "CodeSystem"
BROADER = "BROADER"
SCHEMA = (
    "CREATE CONSTRAINT cg_Concept_key_unique IF NOT EXISTS FOR (n:Concept) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT cg_CodeSystem_key_unique IF NOT EXISTS "
    "FOR (n:CodeSystem) REQUIRE n.key IS UNIQUE",
)
# a bound on how deep a walk up or down a hierarchy goes (ICD-10-CM is 4-7 deep; SNOMED CT
# about 30): a cycle in a user's terminology file cannot make a read run away
MAX_DEPTH = 40
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConceptEntry:
    """One concept of a release: its key, system, code, display and the keys of its parents."""

    key: str
    system: str
    code: str
    display: str | None
    parents: tuple[str, ...] = ()


@dataclass(slots=True)
class TerminologyChanges:
    """What a load changed in the graph (all zero on a rerun of the same release)."""

    concepts_created: int = 0
    displays_set: int = 0  # on concepts that existed without one, or with another
    broader_created: int = 0
    broader_removed: int = 0  # parents the release no longer gives
    parents_created: int = 0  # parents named but not in the release: made without display
    system_changed: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.concepts_created or self.displays_set or self.broader_created
            or self.broader_removed or self.parents_created or self.system_changed
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class CodeSystemRelease:
    """What the CodeSystem node says of the loaded release."""

    uri: str
    name: str
    version: str
    release: str
    concept_count: int


@dataclass(frozen=True, slots=True)
class ConceptRow:
    """A concept as a reader returns it."""

    system: str
    code: str
    display: str | None


def ensure_schema(driver: Driver, database: str) -> None:
    """The constraints a load merges on (a no-op when they exist)."""
    for statement in SCHEMA:
        driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)


def write_concepts(
    driver: Driver, database: str, entries: Iterable[ConceptEntry], batch_size: int = 5000
) -> TerminologyChanges:
    """Write concepts and their displays, then their BROADER links (a parent must exist before
    a link to it is made, whatever order the release lists them in)."""
    changes = TerminologyChanges()
    kept: list[ConceptEntry] = []
    with driver.session(database=database) as session:
        for batch in _batches(entries, batch_size):
            kept.extend(batch)
            session.execute_write(_write_nodes, batch, changes)
        listed = {e.key for e in kept}
        unlisted = sorted({p for e in kept for p in e.parents} - listed)
        for keys in _batches(unlisted, batch_size):
            # a parent the release names without listing it (a file that gives only part of a
            # terminology): made as a concept without display, so the hierarchy still holds
            changes.parents_created += session.execute_write(_write_parents, keys)
        for batch in _batches(kept, batch_size):
            session.execute_write(_write_broader, batch, changes)
    return changes


def _write_nodes(
    tx: ManagedTransaction, batch: list[ConceptEntry], changes: TerminologyChanges
) -> None:
    result = tx.run(
        f"UNWIND $keys AS k MATCH (c:{CONCEPT} {{key: k}}) RETURN k, c.display AS display",
        keys=[e.key for e in batch],
    )
    have: dict[str, str | None] = {r["k"]: r["display"] for r in result}
    rows: list[dict[str, Any]] = []
    for e in batch:
        if e.key not in have:
            changes.concepts_created += 1
        elif e.display is None or have[e.key] == e.display:
            continue
        else:
            changes.displays_set += 1
        rows.append({"key": e.key, "system": e.system, "code": e.code, "display": e.display})
    if rows:
        tx.run(
            f"UNWIND $rows AS r MERGE (c:{CONCEPT} {{key: r.key}}) "
            "ON CREATE SET c.system = r.system, c.code = r.code "
            "SET c.display = coalesce(r.display, c.display)",
            rows=rows,
        ).consume()


def _write_parents(tx: ManagedTransaction, keys: list[str]) -> int:
    summary = tx.run(
        f"UNWIND $rows AS r MERGE (c:{CONCEPT} {{key: r.key}}) "
        "ON CREATE SET c.system = r.system, c.code = r.code",
        rows=[_split(k) for k in keys],
    ).consume()
    return summary.counters.nodes_created


def _write_broader(
    tx: ManagedTransaction, batch: list[ConceptEntry], changes: TerminologyChanges
) -> None:
    result = tx.run(
        f"UNWIND $keys AS k MATCH (:{CONCEPT} {{key: k}})-[:{BROADER}]->(p:{CONCEPT}) "
        "RETURN k, collect(p.key) AS parents",
        keys=[e.key for e in batch],
    )
    have: dict[str, set[str]] = {r["k"]: set(r["parents"]) for r in result}
    add: list[dict[str, str]] = []
    drop: list[dict[str, str]] = []
    for e in batch:
        old = have.get(e.key, set())
        add.extend({"child": e.key, "parent": p} for p in e.parents if p not in old)
        drop.extend({"child": e.key, "parent": p} for p in old - set(e.parents))
    if add:
        tx.run(
            f"UNWIND $rows AS r MATCH (c:{CONCEPT} {{key: r.child}}) "
            f"MATCH (p:{CONCEPT} {{key: r.parent}}) MERGE (c)-[:{BROADER}]->(p)",
            rows=add,
        ).consume()
        changes.broader_created += len(add)
    if drop:
        tx.run(
            f"UNWIND $rows AS r MATCH (:{CONCEPT} {{key: r.child}})-[x:{BROADER}]->"
            f"(:{CONCEPT} {{key: r.parent}}) DELETE x",
            rows=drop,
        ).consume()
        changes.broader_removed += len(drop)


def record_release(
    driver: Driver, database: str, release: CodeSystemRelease, changed: bool
) -> bool:
    """Put the release on its CodeSystem node; ``loadedAt`` moves only when the release or the
    concepts changed. True when the node changed."""
    props = {
        "name": release.name,
        "display": release.name,
        "version": release.version,
        "release": release.release,
        "conceptCount": release.concept_count,
    }
    records, _, _ = driver.execute_query(
        f"MATCH (s:{CODE_SYSTEM} {{key: $key}}) "
        "RETURN s.name AS name, s.display AS display, s.version AS version, "
        "s.release AS release, s.conceptCount AS conceptCount",
        key=release.uri,
        database_=database,
    )
    same = bool(records) and dict(records[0]) == props
    if same and not changed:
        return False
    driver.execute_query(
        f"MERGE (s:{CODE_SYSTEM} {{key: $key}}) SET s += $props, s.loadedAt = $now",
        key=release.uri,
        props=props,
        now=datetime.now(UTC),
        database_=database,
    )
    return not same


def releases(driver: Driver, database: str) -> list[CodeSystemRelease]:
    """Every loaded release, by code system URI."""
    records, _, _ = driver.execute_query(
        f"MATCH (s:{CODE_SYSTEM}) RETURN s.key AS uri, s.name AS name, s.version AS version, "
        "s.release AS release, s.conceptCount AS count ORDER BY s.key",
        database_=database,
    )
    return [
        CodeSystemRelease(r["uri"], r["name"] or "", r["version"] or "", r["release"] or "",
                          r["count"] or 0)
        for r in records
    ]  # fmt: skip


def descendants(
    driver: Driver, database: str, system: str, code: str, limit: int = 100_000
) -> list[ConceptRow]:
    """The concept ``system|code`` (a code, or a block such as I20-I25) and every concept under
    it by BROADER, ordered by code; empty when the graph has no such concept."""
    records, _, _ = driver.execute_query(
        f"MATCH (top:{CONCEPT} {{key: $key}}) "
        f"MATCH (d:{CONCEPT})-[:{BROADER}*0..]->(top) "
        "WITH DISTINCT d RETURN d.system AS system, d.code AS code, d.display AS display "
        "ORDER BY d.code LIMIT $limit",
        key=f"{system}|{code}",
        limit=limit,
        database_=database,
    )
    return [ConceptRow(r["system"], r["code"], r["display"]) for r in records]


@dataclass(frozen=True, slots=True)
class DescendantsPage:
    """Concepts under one, by code: a page of them and how many there are in all."""

    rows: list[ConceptRow]
    total: int


@dataclass(frozen=True, slots=True)
class ConceptRead:
    """A concept and, when asked for, what is above it and pages of what is under it."""

    concept: ConceptRow
    ancestors: list[ConceptRow] | None  # None: not asked for
    descendants: dict[tuple[int, str | None], DescendantsPage]  # by (take, after) asked


_ROW = "{{system: {v}.system, code: {v}.code, display: {v}.display}}"


def read_concept(
    reader: Reader,
    key: str,
    *,
    ancestors: bool = False,
    pages: Sequence[tuple[int, str | None]] = (),
) -> ConceptRead | None:
    """The concept keyed ``system|code`` in one round trip of the request's ``reader``, with
    every concept above it by BROADER, nearest first (then by code), when ``ancestors``, and
    for each (take, after) of ``pages`` the first ``take`` concepts under it (not itself) by
    code after the code ``after``, with their count; None when the graph has no such concept.

    A code system's hierarchy is shallow (ICD-10-CM: code, category, block, chapter), so the
    ancestors are not paged; what is under a chapter is thousands of codes, so it is read only
    when asked for."""
    parts = [f"MATCH (k:{CONCEPT} {{key: $key}})"]
    returns = ["k.system AS system", "k.code AS code", "k.display AS display"]
    params: dict[str, Any] = {"key": key}
    if ancestors:
        returns.append(
            f"COLLECT {{ MATCH p = (k)-[:{BROADER}*1..{MAX_DEPTH}]->(a:{CONCEPT}) "
            f"WITH a, min(length(p)) AS depth RETURN {_ROW.format(v='a')} AS row "
            "ORDER BY depth, a.code } AS ancestors"
        )
    if pages:
        parts.append(
            f"CALL (k) {{ MATCH (d:{CONCEPT})-[:{BROADER}*1..{MAX_DEPTH}]->(k) "
            "RETURN collect(DISTINCT d) AS under }"
        )
        returns.append("size(under) AS total")
    for n, (take, after) in enumerate(pages):
        returns.append(
            f"COLLECT {{ UNWIND under AS d WITH d WHERE $after{n} IS NULL OR d.code > $after{n} "
            f"RETURN {_ROW.format(v='d')} AS row ORDER BY d.code LIMIT $take{n} }} AS page{n}"
        )
        params[f"take{n}"] = take
        params[f"after{n}"] = after
    records = reader.run(" ".join(parts) + " RETURN " + ", ".join(returns), **params)
    if not records:
        return None
    top = records[0]

    def rows(found: list[dict[str, Any]]) -> list[ConceptRow]:
        return [ConceptRow(r["system"], r["code"], r["display"]) for r in found]

    return ConceptRead(
        ConceptRow(top["system"], top["code"], top["display"]),
        rows(top["ancestors"]) if ancestors else None,
        {
            (take, after): DescendantsPage(rows(top[f"page{n}"]), int(top["total"]))
            for n, (take, after) in enumerate(pages)
        },
    )


def _split(key: str) -> dict[str, str]:
    system, _, code = key.partition("|")
    return {"key": key, "system": system, "code": code}


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch
