"""The graph writer: batched ``UNWIND $rows ... MERGE`` on business keys, idempotent.

The pipeline hands over a :class:`WriteBatch` of rows already shaped for Neo4j (labels and
relationship types from the ontology, values converted to Neo4j types, keys resolved by the
identity step). One batch is one transaction: a batch is in the graph whole or not at all.

Every domain node carries the ontology's root label ``Entity`` with a unique ``key``, so one
index finds any node whatever its class, and a payer first seen as an organization is the
same node when a claim later names it as a payer.

Labels and relationship types are the only names put into Cypher text; they come from the
ontology, which refuses any that is not a plain identifier (see ``_name``), and are
backquoted all the same. Every value is a parameter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from neo4j import Driver, ManagedTransaction

from caregraph.graph import terminology
from caregraph.graph.names import labels as label_names
from caregraph.graph.names import quoted
from caregraph.graph.schema import create_constraint, create_index
from caregraph.ontology.schema_plan import ConstraintSpec, IndexSpec, constraint_name, index_name

ROOT_LABEL = "Entity"
# Concepts are not entities (no identifiers, no provenance of their own): merged on their own
# key, and a link to one matches it by this label
CONCEPT_LABEL = terminology.CONCEPT
T = TypeVar("T")
# Link properties that tell apart two links of one type between the same pair of nodes: a
# role (an attending and a referring practitioner; a principal and an admitting diagnosis),
# an adjustment group (a reason adjusted as contractual and as patient responsibility). Any
# other property is a fact about the one link, set by the last record that asserts it.
DISTINCT_BY = ("role", "group")
# An identifier or link's ``sources`` keeps the first source records that asserted it, up to
# this many. A payer's id or a billing NPI is asserted by every claim: a list of all of them
# made each write cost more than the one before (issue 17). Every record's full provenance
# stays in the graph as (:SourceRecord)-[:ASSERTED]->(node) for the nodes it asserted.
MAX_SOURCES = 16


@dataclass(slots=True)
class NodeRow:
    key: str
    labels: tuple[str, ...]  # most specific first; ROOT_LABEL is added by the writer
    props: dict[str, Any]
    source: str  # the SourceRecord key that asserts it


@dataclass(slots=True)
class StubRow:
    """A node referenced but not (yet) loaded: made so the link can exist; filled later."""

    key: str
    labels: tuple[str, ...]


@dataclass(slots=True)
class IdentifierRow:
    token: str
    system: str
    value: str
    type: str | None
    node: str  # key of the node it identifies
    rule: str  # the rule that tied it to the node
    evidence: str | None  # JSON
    source: str | None


@dataclass(slots=True)
class LinkRow:
    type: str
    src: str
    dst: str
    props: dict[str, Any]
    source: str
    rule: str | None = None
    evidence: str | None = None
    dst_label: str = ROOT_LABEL  # CONCEPT_LABEL for a link to a Concept


@dataclass(slots=True)
class ConceptRow:
    """A Concept a record's code names: created with its system and code when new."""

    key: str
    system: str
    code: str


@dataclass(slots=True)
class SourceRow:
    key: str
    props: dict[str, Any]
    asserts: list[str]  # keys of the nodes the record asserts


@dataclass(slots=True)
class WriteBatch:
    run_id: str
    sources: list[SourceRow] = field(default_factory=list)
    nodes: list[NodeRow] = field(default_factory=list)
    stubs: list[StubRow] = field(default_factory=list)
    identifiers: list[IdentifierRow] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    concepts: list[ConceptRow] = field(default_factory=list)


@dataclass(slots=True)
class WriteStats:
    nodes_created: int = 0
    relationships_created: int = 0
    properties_set: int = 0
    links_created: int = 0  # of those relationships, the domain links (not provenance)

    def add(self, other: WriteStats) -> None:
        self.nodes_created += other.nodes_created
        self.relationships_created += other.relationships_created
        self.properties_set += other.properties_set
        self.links_created += other.links_created


# -- schema the writer relies on -----------------------------------------------------------
# what it merges on (unique) and what the identity step looks patients up by: a part of the
# schema the ontology plans (ontology/generated/schema.cypher), made by the same functions,
# so a load into a graph the ontology was never applied to still merges on indexed keys
WRITER_KEYS = (("Entity", "key"), ("Identifier", "key"), ("SourceRecord", "key"),
               ("LoadRun", "runId"))  # fmt: skip
WRITER_INDEXES = (("Patient", "matchKey"),)
WRITE_SCHEMA = (
    *(create_constraint(ConstraintSpec(constraint_name(lb, p), lb, p)) for lb, p in WRITER_KEYS),
    *(create_index(IndexSpec(index_name(lb, p), lb, p)) for lb, p in WRITER_INDEXES),
    *terminology.SCHEMA,
)


def ensure_write_schema(driver: Driver, database: str) -> None:
    """Create the constraints the writer merges on (a no-op when they exist)."""
    for statement in WRITE_SCHEMA:
        driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(300)", database_=database)


# -- what the pipeline reads before it writes ------------------------------------------------
def lookup_hashes(tx: ManagedTransaction, keys: Sequence[str]) -> dict[str, str]:
    """SourceRecord key -> content hash, for the records already written."""
    result = tx.run(
        "UNWIND $keys AS k MATCH (s:SourceRecord {key: k}) RETURN k, s.contentHash AS h",
        keys=list(keys),
    )
    return {r["k"]: r["h"] for r in result}


# -- the write -------------------------------------------------------------------------------
def write_batch(tx: ManagedTransaction, batch: WriteBatch) -> WriteStats:
    """Write one batch in the caller's transaction; return Neo4j's counters."""
    stats = WriteStats()
    if batch.stubs:
        for labels, stub_rows in _group(batch.stubs, lambda s: s.labels):
            stats.add(
                _run(
                    tx,
                    f"UNWIND $rows AS r MERGE (n:{ROOT_LABEL} {{key: r.key}}) "
                    # since when the reference waits for its record (the scorecard's age)
                    f"ON CREATE SET n.stub = true, n.stubSince = $now, n:{label_names(labels)}",
                    rows=[{"key": s.key} for s in stub_rows],
                    now=datetime.now(UTC),
                )
            )
    for labels, node_rows in _group(batch.nodes, lambda n: n.labels):
        stats.add(
            _run(
                tx,
                f"UNWIND $rows AS r MERGE (n:{ROOT_LABEL} {{key: r.key}}) "
                f"SET n += r.props, n:{label_names(labels)} REMOVE n.stub, n.stubSince",
                rows=[{"key": n.key, "props": n.props} for n in node_rows],
            )
        )
    if batch.identifiers:
        stats.add(
            _run(
                tx,
                "UNWIND $rows AS r "
                "MERGE (i:Identifier {key: r.token}) "
                "ON CREATE SET i.system = r.system, i.value = r.value, i.identifierType = r.type "
                "WITH i, r MATCH (n:Entity {key: r.node}) "
                "MERGE (i)-[x:IDENTIFIES]->(n) "
                "ON CREATE SET x.rule = r.rule, x.evidence = r.evidence, x.sources = [] "
                "WITH x, r WHERE r.source IS NOT NULL AND NOT r.source IN x.sources "
                "AND size(x.sources) < $max_sources "
                # checked again as it is set: the filter may have read the list before the
                # batch's earlier rows grew it
                "SET x.sources = CASE WHEN r.source IN x.sources THEN x.sources "
                "ELSE (x.sources + r.source)[..$max_sources] END",
                max_sources=MAX_SOURCES,
                rows=[
                    {
                        "token": i.token,
                        "system": i.system,
                        "value": i.value,
                        "type": i.type,
                        "node": i.node,
                        "rule": i.rule,
                        "evidence": i.evidence,
                        "source": i.source,
                    }
                    for i in batch.identifiers
                ],
            )
        )
    if batch.concepts:
        # ON CREATE only: a record never changes what a terminology load said of a concept
        stats.add(
            _run(
                tx,
                f"UNWIND $rows AS r MERGE (c:{CONCEPT_LABEL} {{key: r.key}}) "
                "ON CREATE SET c.system = r.system, c.code = r.code",
                rows=[
                    {"key": c.key, "system": c.system, "code": c.code}
                    for c in {c.key: c for c in batch.concepts}.values()
                ],
            )
        )
    for (rel_type, dst_label), link_rows in _group(batch.links, lambda x: (x.type, x.dst_label)):
        for kept, subset in _group(link_rows, lambda x: _distinct(x.props)):
            pattern = " {" + ", ".join(f"{k}: r.props.{k}" for k in kept) + "}" if kept else ""
            link_stats = _run(
                tx,
                "UNWIND $rows AS r "
                f"MATCH (a:{ROOT_LABEL} {{key: r.src}}) "
                f"MATCH (b:{quoted(dst_label)} {{key: r.dst}}) "
                f"MERGE (a)-[x:{quoted(rel_type)}{pattern}]->(b) "
                "SET x += r.props, x.rule = coalesce(r.rule, x.rule), "
                "x.evidence = coalesce(r.evidence, x.evidence) "
                "SET x.sources = CASE WHEN r.source IS NULL OR r.source IN coalesce(x.sources, []) "
                "OR size(coalesce(x.sources, [])) >= $max_sources "
                "THEN x.sources ELSE coalesce(x.sources, []) + r.source END",
                max_sources=MAX_SOURCES,
                rows=[
                    {
                        "src": r.src,
                        "dst": r.dst,
                        "props": r.props,
                        "source": r.source,
                        "rule": r.rule,
                        "evidence": r.evidence,
                    }
                    for r in subset
                ],
            )
            link_stats.links_created = link_stats.relationships_created
            stats.add(link_stats)
    if batch.sources:
        stats.add(
            _run(
                tx,
                "MATCH (run:LoadRun {runId: $run}) "
                "UNWIND $rows AS r "
                "MERGE (s:SourceRecord {key: r.key}) SET s += r.props "
                "MERGE (s)-[:LOADED_IN]->(run) "
                "WITH s, r UNWIND r.asserts AS k "
                f"MATCH (n:{ROOT_LABEL} {{key: k}}) MERGE (s)-[:ASSERTED]->(n)",
                run=batch.run_id,
                rows=[
                    {"key": s.key, "props": s.props, "asserts": s.asserts} for s in batch.sources
                ],
            )
        )
    return stats


def _distinct(props: dict[str, Any]) -> tuple[str, ...]:
    """The link properties a link carries that tell it apart from another link of its type
    between the same pair (see ``DISTINCT_BY``)."""
    return tuple(k for k in DISTINCT_BY if k in props)


def _group(rows: Iterable[T], by: Any) -> list[tuple[Any, list[T]]]:
    groups: dict[Any, list[T]] = defaultdict(list)
    for row in rows:
        groups[by(row)].append(row)
    return list(groups.items())


def _run(tx: ManagedTransaction, query: str, **params: Any) -> WriteStats:
    summary = tx.run(query, **params).consume()
    c = summary.counters
    return WriteStats(c.nodes_created, c.relationships_created, c.properties_set)


# -- load runs -------------------------------------------------------------------------------
def start_run(driver: Driver, database: str, run_id: str, props: dict[str, Any]) -> None:
    driver.execute_query(
        "MERGE (r:LoadRun {runId: $run}) SET r += $props",
        run=run_id,
        props=props,
        database_=database,
    )


def finish_run(driver: Driver, database: str, run_id: str, props: dict[str, Any]) -> None:
    driver.execute_query(
        "MATCH (r:LoadRun {runId: $run}) SET r += $props",
        run=run_id,
        props=props,
        database_=database,
    )
