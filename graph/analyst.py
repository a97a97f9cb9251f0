"""The analyst graph's copy: the main graph, de-identified by a profile, written into the
analyst graph with the same labels, relationship types, ontology nodes and provenance.

What is copied: every node but those the profile skips (the audit, API keys), each merged on
its identity (``key``; a load run's ``runId``; a class's ``iri`` ...) after the profile has
pseudonymised, generalised or removed its properties, and every relationship between copied
nodes. A refresh applies what changed since the last one: the load runs the analyst graph does
not hold as finished say which source records were written, hence which nodes they asserted
and which links the linking rules made; a terminology whose ``loadedAt`` moved and an ontology
whose hash moved are copied again. Those nodes, their neighbours (so that every relationship
finds both ends) and every relationship touching them are written again. A load run is
written without its end first and finished last, so a refresh that fails is done again by the
next one. ``full`` wipes the analyst graph and copies everything (also what an incremental
refresh cannot see: a relabelling by a changed ontology).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from caregraph.graph import integrity
from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.names import quoted as _name
from caregraph.graph.scorecard import SCHEMA as SCORECARD_SCHEMA
from caregraph.graph.writer import DISTINCT_BY, WRITE_SCHEMA
from caregraph.ontology.deidentification import KEEP

BATCH = 2000
# how a node is found again in the analyst graph: the first of its labels listed here, and the
# properties (after de-identification) it is merged on
IDENTITY: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Entity", ("key",)),
    ("Identifier", ("key",)),
    ("SourceRecord", ("key",)),
    ("Concept", ("key",)),
    ("CodeSystem", ("key",)),
    ("LoadRun", ("runId",)),
    ("MeasureValue", ("runId", "key")),
    ("Class", ("iri",)),
    ("OntologySchema", ("name",)),
)
ANALYST_SCHEMA = (
    "CREATE INDEX cg_analyst_Class_iri IF NOT EXISTS FOR (n:Class) ON (n.iri)",
    "CREATE INDEX cg_analyst_OntologySchema_name IF NOT EXISTS FOR (n:OntologySchema) ON (n.name)",
)

# -- reads of the main graph -------------------------------------------------------------------
_NOT_SKIPPED = "NOT any(l IN labels({v}) WHERE l IN $skip)"
ALL_NODES = f"MATCH (n) WHERE {_NOT_SKIPPED.format(v='n')} RETURN elementId(n) AS id"
FINISHED_RUNS = "MATCH (r:LoadRun) WHERE r.endedAt IS NOT NULL RETURN r.runId AS run"
ALL_RUNS = "MATCH (r:LoadRun) RETURN r.runId AS run"
# what the runs wrote: their source records, the nodes those asserted, their measures, the
# links their linking rules made (the ends of them), and the runs themselves
RUN_NODES = """
UNWIND $runs AS id
MATCH (run:LoadRun {runId: id})
CALL (run) {
  MATCH (run)<-[:LOADED_IN]-(s:SourceRecord) RETURN s AS n
  UNION MATCH (run)<-[:LOADED_IN]-(:SourceRecord)-[:ASSERTED]->(a) RETURN a AS n
  UNION MATCH (run)-[:MEASURED]->(m) RETURN m AS n
  UNION RETURN run AS n
}
RETURN DISTINCT elementId(n) AS id
"""
RUN_LINK_ENDS = """
MATCH (a)-[x]->(b) WHERE x.runId IN $runs
UNWIND [a, b] AS n
RETURN DISTINCT elementId(n) AS id
"""
CODE_SYSTEMS = "MATCH (s:CodeSystem) RETURN s.key AS key, s.loadedAt AS loadedAt"
SYSTEM_NODES = """
UNWIND $systems AS system
MATCH (c:Concept {system: system})
RETURN elementId(c) AS id
UNION
UNWIND $systems AS system
MATCH (s:CodeSystem {key: system})
RETURN elementId(s) AS id
"""
# constraints first: a uniqueness constraint makes its own index
SCHEMA_STATEMENTS = (
    "SHOW CONSTRAINTS YIELD name, createStatement RETURN name, createStatement AS statement",
    "SHOW INDEXES YIELD name, type, owningConstraint, createStatement "
    "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' "
    "RETURN name, createStatement AS statement",
)
SCHEMA_NAMES = (
    "SHOW CONSTRAINTS YIELD name RETURN name",
    "SHOW INDEXES YIELD name RETURN name",
)
ONTOLOGY_HASH = "MATCH (s:OntologySchema) RETURN s.contentHash AS hash ORDER BY s.name LIMIT 1"
ONTOLOGY_NODES = "MATCH (n) WHERE n:Class OR n:OntologySchema RETURN elementId(n) AS id"
NEIGHBOURS = f"""
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
MATCH (n)--(m) WHERE {_NOT_SKIPPED.format(v="m")}
RETURN DISTINCT elementId(m) AS id
"""
NODES = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props,
       CASE WHEN n:Identifier THEN [(n)-[:IDENTIFIES]->(m) | labels(m)] END AS identifies
"""
_RELATIONSHIPS = """
UNWIND $ids AS id
MATCH (n) WHERE elementId(n) = id
MATCH (n)-[x]{arrow}(m) WHERE {not_skipped}
RETURN elementId(x) AS id, type(x) AS type, properties(x) AS props,
       elementId(startNode(x)) AS a, elementId(endNode(x)) AS b
"""
# full: every relationship is outgoing from exactly one node; incremental: both ways
OUTGOING = _RELATIONSHIPS.format(arrow="->", not_skipped=_NOT_SKIPPED.format(v="m"))
TOUCHING = _RELATIONSHIPS.format(arrow="-", not_skipped=_NOT_SKIPPED.format(v="m"))


@dataclass
class RefreshReport:
    """What one refresh did."""

    full: bool
    runs: list[str] = field(default_factory=list)  # the load runs it applied
    nodes: int = 0
    relationships: int = 0
    skipped: int = 0  # nodes of no known kind, or whose identity the profile removes
    seconds: float = 0.0
    # (class or relationship type, property) -> values removed because the profile is silent
    unclassified: dict[tuple[str, str], int] = field(default_factory=dict)


# relationship type, start label and keys, end label and keys, the properties it is merged on
_RelGroup = tuple[str, str, tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class _Identity:
    label: str
    values: tuple[tuple[str, Any], ...]


def refresh(
    source: Driver,
    source_db: str,
    target: Driver,
    target_db: str,
    deid: Deidentifier,
    *,
    full: bool = False,
) -> RefreshReport:
    """Copy what changed (or, with ``full``, everything) from the main graph into the analyst
    graph, de-identified by ``deid``."""
    started = time.monotonic()
    report = RefreshReport(full=full)
    deid.unclassified.clear()  # what this refresh left out
    skip = sorted(deid.profile.skip)
    done = set() if full else set(_column(target, target_db, FINISHED_RUNS, "run"))
    if full or not done:
        report.full = True
        integrity.wipe(target, target_db)
        _ensure_schema(source, source_db, target, target_db)
        runs = _column(source, source_db, ALL_RUNS, "run")
        ids = _column(source, source_db, ALL_NODES, "id", skip=skip)
        changed: Sequence[str] = ids
        rel_query = OUTGOING
    else:
        runs = [r for r in _column(source, source_db, ALL_RUNS, "run") if r not in done]
        changed = _changed(source, source_db, target, target_db, runs, skip)
        ids = _with_neighbours(source, source_db, changed, skip)
        rel_query = TOUCHING
    report.runs = sorted(runs)
    where, finished = _copy_nodes(source, source_db, target, target_db, deid, ids, report)
    _copy_relationships(
        source, source_db, target, target_db, deid, changed, rel_query, where, skip, report
    )
    _finish_runs(target, target_db, finished)
    report.unclassified = dict(deid.unclassified)
    report.seconds = time.monotonic() - started
    return report


@dataclass(frozen=True)
class Freshness:
    """How fresh the analyst graph is: the load runs it holds, and when the newest ended."""

    runs: int
    newest: Any  # a neo4j DateTime, or None before the first refresh


FRESHNESS = (
    "MATCH (r:LoadRun) WHERE r.endedAt IS NOT NULL "
    "RETURN count(r) AS runs, max(r.endedAt) AS newest"
)


def freshness(driver: Driver, database: str) -> Freshness:
    """The load runs the analyst graph has applied (as `caregraph analyst status` says it)."""
    row = _rows(driver, database, FRESHNESS)[0]
    return Freshness(int(row["runs"]), row["newest"])


def _ensure_schema(source: Driver, source_db: str, target: Driver, target_db: str) -> None:
    """The main graph's own constraints and indexes (as Neo4j spells their creation), and the
    ones the copy merges on."""
    have = {n for q in SCHEMA_NAMES for n in _column(target, target_db, q, "name")}
    statements = [
        r["statement"]
        for q in SCHEMA_STATEMENTS
        for r in _rows(source, source_db, q)
        if r["name"] not in have and r["statement"]
    ]
    for statement in (*statements, *WRITE_SCHEMA, *SCORECARD_SCHEMA, *ANALYST_SCHEMA):
        target.execute_query(_if_not_exists(statement), database_=target_db)
    target.execute_query("CALL db.awaitIndexes(300)", database_=target_db)


def _if_not_exists(statement: str) -> str:
    """A CREATE statement as SHOW spells it (no IF NOT EXISTS), made safe to repeat."""
    if "IF NOT EXISTS" in statement:
        return statement
    return re.sub(r"^(CREATE \w+(?: \w+)? `[^`]+`)", r"\1 IF NOT EXISTS", statement, count=1)


def _changed(
    source: Driver,
    source_db: str,
    target: Driver,
    target_db: str,
    runs: Sequence[str],
    skip: list[str],
) -> list[str]:
    ids: set[str] = set()
    if runs:
        ids.update(_column(source, source_db, RUN_NODES, "id", runs=list(runs)))
        ids.update(_column(source, source_db, RUN_LINK_ENDS, "id", runs=list(runs)))
    have = {r["key"]: r["loadedAt"] for r in _rows(target, target_db, CODE_SYSTEMS)}
    systems = [
        r["key"]
        for r in _rows(source, source_db, CODE_SYSTEMS)
        if have.get(r["key"]) != r["loadedAt"]
    ]
    if systems:
        ids.update(_column(source, source_db, SYSTEM_NODES, "id", systems=systems))
    if _column(source, source_db, ONTOLOGY_HASH, "hash") != _column(
        target, target_db, ONTOLOGY_HASH, "hash"
    ):
        ids.update(_column(source, source_db, ONTOLOGY_NODES, "id"))
    return sorted(ids)


def _with_neighbours(
    source: Driver, source_db: str, ids: Sequence[str], skip: list[str]
) -> list[str]:
    out = set(ids)
    for chunk in _chunks(ids, BATCH):
        out.update(_column(source, source_db, NEIGHBOURS, "id", ids=chunk, skip=skip))
    return sorted(out)


class _Batches:
    """Rows gathered by what their write statement is, written ``size`` at a time (one
    statement for many rows, whatever chunk of the main graph they were read in)."""

    def __init__(self, write: Callable[[Any, list[dict[str, Any]]], None], size: int) -> None:
        self.write = write
        self.size = size
        self.rows: dict[Any, list[dict[str, Any]]] = defaultdict(list)

    def add(self, key: Any, row: dict[str, Any]) -> None:
        rows = self.rows[key]
        rows.append(row)
        if len(rows) >= self.size:
            self.write(key, rows)
            self.rows[key] = []

    def flush(self) -> None:
        for key, rows in self.rows.items():
            if rows:
                self.write(key, rows)
        self.rows.clear()


def _copy_nodes(
    source: Driver,
    source_db: str,
    target: Driver,
    target_db: str,
    deid: Deidentifier,
    ids: Sequence[str],
    report: RefreshReport,
) -> tuple[dict[str, _Identity], list[tuple[frozenset[str], dict[str, Any]]]]:
    """Write the nodes; return where each one is found in the analyst graph, and the load runs
    to finish once everything else is written (they are written without ``endedAt`` first:
    a run in the analyst graph that has ended says its changes are all there)."""
    where: dict[str, _Identity] = {}
    runs: list[tuple[frozenset[str], dict[str, Any]]] = []

    def write(key: tuple[frozenset[str], str, tuple[str, ...]], rows: list[dict[str, Any]]) -> None:
        _write_nodes(target, target_db, *key, rows)
        report.nodes += len(rows)

    batches = _Batches(write, BATCH)
    for chunk in _chunks(ids, BATCH):
        for row in _rows(source, source_db, NODES, ids=chunk):
            labels = list(row["labels"])
            props = _deidentified(deid, labels, row["props"], row["identifies"])
            identity = _identity(labels, props)
            if identity is None:
                report.skipped += 1
                continue
            where[row["id"]] = identity
            key = (frozenset(labels), identity.label, tuple(k for k, _ in identity.values))
            if identity.label == "LoadRun":
                runs.append((frozenset(labels), {"id": dict(identity.values), "props": props}))
                props = {k: v for k, v in props.items() if k != "endedAt"}
            batches.add(key, {"id": dict(identity.values), "props": props})
    batches.flush()
    return where, runs


def _finish_runs(
    target: Driver, target_db: str, runs: list[tuple[frozenset[str], dict[str, Any]]]
) -> None:
    by_labels: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
    for labels, row in runs:
        by_labels[labels].append(row)
    for labels, rows in by_labels.items():
        for chunk in range(0, len(rows), BATCH):
            _write_nodes(
                target, target_db, labels, "LoadRun", ("runId",), rows[chunk : chunk + BATCH]
            )


def _deidentified(
    deid: Deidentifier,
    labels: list[str],
    props: dict[str, Any],
    identifies: list[list[str]] | None,
) -> dict[str, Any]:
    if identifies and all(deid.profile.node_action(target, "key") == KEEP for target in identifies):
        # an identifier of the directory only (an NPI): shown as the directory is
        return dict(props)
    return deid.node(labels, props)


def _identity(labels: Iterable[str], props: dict[str, Any]) -> _Identity | None:
    here = set(labels)
    for label, keys in IDENTITY:
        if label in here:
            if any(props.get(k) is None for k in keys):
                return None
            return _Identity(label, tuple((k, props[k]) for k in keys))
    return None


def _write_nodes(
    target: Driver,
    target_db: str,
    labels: frozenset[str],
    label: str,
    keys: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    match = ", ".join(f"{_name(k)}: r.id.{_name(k)}" for k in keys)
    extra = sorted(labels - {label})
    add = "SET n:" + ":".join(_name(x) for x in extra) if extra else ""
    target.execute_query(
        f"UNWIND $rows AS r MERGE (n:{_name(label)} {{{match}}}) SET n = r.props {add}",
        rows=rows,
        database_=target_db,
    )


def _copy_relationships(
    source: Driver,
    source_db: str,
    target: Driver,
    target_db: str,
    deid: Deidentifier,
    ids: Sequence[str],
    query: str,
    where: dict[str, _Identity],
    skip: list[str],
    report: RefreshReport,
) -> None:
    seen: set[str] = set()

    def write(key: _RelGroup, rows: list[dict[str, Any]]) -> None:
        rel_type, la, ka, lb, kb, kept = key
        ma = ", ".join(f"{_name(k)}: r.a.{_name(k)}" for k in ka)
        mb = ", ".join(f"{_name(k)}: r.b.{_name(k)}" for k in kb)
        distinct = (
            " {" + ", ".join(f"{_name(k)}: r.props.{_name(k)}" for k in kept) + "}" if kept else ""
        )
        target.execute_query(
            f"UNWIND $rows AS r MATCH (a:{_name(la)} {{{ma}}}) MATCH (b:{_name(lb)} {{{mb}}}) "
            f"MERGE (a)-[x:{_name(rel_type)}{distinct}]->(b) SET x = r.props",
            rows=rows,
            database_=target_db,
        )
        report.relationships += len(rows)

    batches = _Batches(write, BATCH)
    for chunk in _chunks(ids, BATCH):
        for row in _rows(source, source_db, query, ids=chunk, skip=skip):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            a, b = where.get(row["a"]), where.get(row["b"])
            if a is None or b is None:
                continue  # an end the profile left out
            props = deid.relationship(row["type"], row["props"])
            kept = tuple(k for k in DISTINCT_BY if k in props)
            key = (
                row["type"],
                a.label,
                tuple(k for k, _ in a.values),
                b.label,
                tuple(k for k, _ in b.values),
                kept,
            )
            batches.add(key, {"a": dict(a.values), "b": dict(b.values), "props": props})
    batches.flush()


def _rows(driver: Driver, database: str, query: str, **params: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(query, params, database_=database)
    return [r.data() for r in records]


def _column(driver: Driver, database: str, query: str, name: str, **params: Any) -> list[Any]:
    return [r[name] for r in _rows(driver, database, query, **params)]


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])
