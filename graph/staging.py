"""The writer's graph, staged on disk, for a bulk initial import (issue 17).

An initial import writes into an empty database, so nothing the identity step or the writer
would read from Neo4j can be anywhere but in what this load wrote before. ``StagedGraph``
keeps that: it applies each :class:`~caregraph.graph.writer.WriteBatch` with the same rules
as the writer's Cypher (``MERGE`` on the same keys, ``SET +=`` where a null removes,
``ON CREATE`` where the writer sets only on create, the capped ``sources`` lists, the same
grouping of rows), and answers the identity step's question (``graph/identity.py``
``lookup``) and the pipeline's content-hash question from it. The pipeline runs its own
identity and row-building code unchanged against it; only the reads and the writes go here
instead of over Bolt. ``graph/bulk_import.py`` then writes the result as neo4j-admin files.

Why an emulation rather than a second implementation of identity: identity, validation and
the rows stay one piece of code for both paths, and what is emulated is only the meaning of
five write statements, which ``tests/loaders/test_initial.py`` holds to the real ones by
comparing the two graphs, node for node and relationship for relationship.

Where it is kept: in a SQLite file (the standard library's, so nothing to install), not in
Python objects. Held in memory, the staged graph took about 228 MB per thousand patients
(Python objects for every node, relationship and index entry): 23 GB at 100,000 patients,
more than this machine has. SQLite is a store with the keyed reads, updates and ordered scans
this needs; DuckDB, which the project also has, is made for column scans and is slow at
updating one row at a time. The file is scratch: no journal and no sync (a crash means the
import is run again: nothing was imported yet), and it is deleted when the graph is closed,
since it holds every record's values. What stays in memory is bounded: SQLite's page cache
and the nodes of the last few batches (``NODE_CACHE``). Changes are written back at the end
of each batch, so every query SQLite answers sees the graph as the writer left it.

What it does not do: the linking rules. They are set-based Cypher (``graph/linking.py``) and
run in Neo4j after the import, over every node (see ``bulk_import.link``).
"""

from __future__ import annotations

import heapq
import itertools
import json
import pickle
import shutil
import sqlite3
import tempfile
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from caregraph.graph.identity import Known, TokenHit
from caregraph.graph.writer import (
    CONCEPT_LABEL,
    MAX_SOURCES,
    ROOT_LABEL,
    WriteBatch,
    WriteStats,
    _distinct,
    _group,
)

PATIENT = "Patient"
NODE_CACHE = 50_000  # nodes kept in memory across batches (payers, organisations, the run)
PAGE_CACHE_KB = 128 * 1024  # SQLite's page cache
_LABELS = "\t"  # between a node's labels in its row (a label is an ontology local name)

_SCHEMA = (
    # rowid order is the order of creation, as the in-memory graph's was
    "CREATE TABLE nodes (id TEXT NOT NULL UNIQUE, labels TEXT NOT NULL, props BLOB NOT NULL, "
    "mk TEXT, first_run TEXT)",
    "CREATE INDEX nodes_by_match_key ON nodes (mk) WHERE mk IS NOT NULL",
    'CREATE TABLE rels (type TEXT NOT NULL, start TEXT NOT NULL, "end" TEXT NOT NULL, '
    "props BLOB NOT NULL)",
    'CREATE INDEX rels_by_start ON rels (start, type, "end")',
    'CREATE INDEX rels_by_end ON rels ("end", type)',
)


@dataclass(slots=True)
class StagedNode:
    """A node: its labels (in the order first set) and properties."""

    labels: list[str]
    props: dict[str, Any]


@dataclass(slots=True)
class StagedRel:
    """A relationship: type, ends (node ids, see ``StagedGraph``) and properties."""

    type: str
    start: str
    end: str
    props: dict[str, Any] = field(default_factory=dict)


def _set_all(target: dict[str, Any], props: dict[str, Any]) -> None:
    """Cypher's ``SET x += props``: a null removes the property."""
    for k, v in props.items():
        if v is None:
            target.pop(k, None)
        else:
            target[k] = v


# Properties are pickled: they hold dates and times as well as JSON's types, and pickle is the
# fastest way to and from bytes. It reads only what this process wrote, into a file it made
# afresh (see StagedGraph), never anything another program gives it.
def _dump(props: dict[str, Any]) -> bytes:
    return pickle.dumps(props, protocol=pickle.HIGHEST_PROTOCOL)


def _load(data: bytes) -> dict[str, Any]:
    props: dict[str, Any] = pickle.loads(data)  # noqa: S301  # its own file: see above
    return props


def _remove(db: sqlite3.Connection, folder: Path) -> None:
    db.close()
    shutil.rmtree(folder, ignore_errors=True)


class StagedGraph:
    """Nodes and relationships as the writer would leave them in an empty database.

    Node ids: ``e:`` + key for an entity, ``c:`` + key for a concept, ``i:`` + token for an
    identifier, ``s:`` + key for a source record, ``r:`` + run id for a load run: each kind is
    merged on its own key, as the writer merges it.

    ``folder``: where its file goes (made if missing, removed by :meth:`close`); a temporary
    folder when None. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, folder: Path | None = None) -> None:
        if folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="caregraph-staged-"))
        else:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # only its owner reads it
            self._folder = folder
        path = self._folder / "staged.sqlite"
        path.unlink(missing_ok=True)  # a file left by an import that was killed
        # used by one thread (the staged pipeline does not write in a thread of its own:
        # loaders/initial.py), but not tied to it, so that the finalizer below can close it
        # from whichever thread collects the graph
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # a graph never closed (an exception before the ``with``, a caller's slip) still takes
        # its file with it when it is collected or the interpreter exits
        self._removal = weakref.finalize(self, _remove, self._db, self._folder)
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "locking_mode = EXCLUSIVE",
            "temp_store = FILE",
            f"cache_size = -{PAGE_CACHE_KB}",
        ):
            self._db.execute("PRAGMA " + pragma)
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.execute("BEGIN")
        # nodes read or written lately (id -> node), the ones changed since the last flush,
        # and the ones created since then (inserted, not updated, at the flush)
        self._nodes: OrderedDict[str, StagedNode] = OrderedDict()
        self._dirty: set[str] = set()
        self._created: dict[str, None] = {}  # in the order made
        self._first_run: dict[str, str] = {}  # node id -> its first run, until the flush
        self._absent: set[str] = set()  # ids the file was asked for and does not have
        # relationships read from the file since the last flush (rowid -> relationship) and
        # the changed ones; the ones made since then, by rowid and by their ends, go to the
        # file at the flush
        self._rels: dict[int, StagedRel] = {}
        self._rels_dirty: set[int] = set()
        self._made: dict[int, StagedRel] = {}
        self._made_between: dict[tuple[str, str, str], list[int]] = {}
        self._next_rid = 1

    def __enter__(self) -> StagedGraph:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close and delete the file (it holds every record's values)."""
        self._removal()

    # -- what the pipeline reads -------------------------------------------------------------
    def lookup_hashes(self, keys: Sequence[str]) -> dict[str, str]:
        """``writer.lookup_hashes``: SourceRecord key -> content hash."""
        out: dict[str, str] = {}
        self._prefetch("s:" + k for k in keys)
        for k in keys:
            node = self._node("s:" + k)
            if node is not None and "contentHash" in node.props:
                out[k] = node.props["contentHash"]
        return out

    def lookup(
        self, tokens: Sequence[str], match_keys: Sequence[str], owner_types: Iterable[str]
    ) -> Known:
        """``graph/identity.py`` ``lookup``, answered from the staged graph (the identifier's
        nodes in the order they were tied to it, then the node keyed by the token)."""
        self._flush()
        db = self._db
        # each question is one statement over the batch's whole list (a JSON array that
        # SQLite's json_each reads), not one per token: the answers are the same
        tied: dict[str, list[str]] = {}
        for t, end in db.execute(
            'SELECT substr(start, 3), "end" FROM rels WHERE type = ? '
            "AND start IN (SELECT 'i:' || value FROM json_each(?)) ORDER BY rowid",
            ("IDENTIFIES", json.dumps(list(tokens))),
        ):
            tied.setdefault(t, []).append(end)
        named = {t: list(dict.fromkeys([*tied.get(t, ()), "e:" + t])) for t in tokens}
        self._prefetch(nid for ids in named.values() for nid in ids)
        hits: dict[str, list[TokenHit]] = {}
        found: list[str] = []
        for t, ids in named.items():
            for nid in ids:
                node = self._node(nid)
                if node is not None:
                    hits.setdefault(t, []).append(
                        TokenHit(nid[2:], tuple(node.labels), node.props.get("birthDate"))
                    )
                    found.append(nid)
        owners: dict[tuple[str, str], set[str]] = {}
        types = sorted(set(owner_types))
        if found and types:
            for end, rel_type, start, labels in db.execute(
                'SELECT r."end", r.type, r.start, p.labels FROM rels r '
                "JOIN nodes p ON p.id = r.start "
                'WHERE r."end" IN (SELECT value FROM json_each(?)) '
                "AND r.type IN (SELECT value FROM json_each(?))",
                (json.dumps(list(dict.fromkeys(found))), json.dumps(types)),
            ):
                if PATIENT in labels.split(_LABELS):
                    owners.setdefault((end[2:], rel_type), set()).add(start[2:])
        by_mk: dict[str, list[str]] = {}
        if match_keys:
            for mk, nid, labels, props in db.execute(
                "SELECT mk, id, labels, props FROM nodes "
                "WHERE mk IN (SELECT value FROM json_each(?)) ORDER BY rowid",
                (json.dumps(list(match_keys)),),
            ):
                if PATIENT in labels.split(_LABELS) and "stub" not in _load(props):
                    by_mk.setdefault(mk, []).append(nid[2:])
        return Known(hits, by_mk, owners)

    # -- what the writer writes --------------------------------------------------------------
    def start_run(self, run_id: str, props: dict[str, Any]) -> None:
        """``writer.start_run``."""
        node = self._merge("r:" + run_id, ("LoadRun",), {"runId": run_id})[0]
        _set_all(node.props, props)
        self._flush()

    def finish_run(self, run_id: str, props: dict[str, Any]) -> None:
        """``writer.finish_run``."""
        node = self._node("r:" + run_id)
        if node is not None:
            _set_all(node.props, props)
            self._dirty.add("r:" + run_id)
        self._flush()

    def write_batch(self, batch: WriteBatch, now: Any) -> WriteStats:
        """``writer.write_batch``, statement by statement, row by row; ``now`` is the time a
        stub is stamped with."""
        try:
            return self._write_batch(batch, now)
        finally:
            self._flush()

    def _write_batch(self, batch: WriteBatch, now: Any) -> WriteStats:
        stats = WriteStats()
        self._prefetch(
            itertools.chain(
                ("e:" + x.key for x in batch.stubs),
                ("e:" + x.key for x in batch.nodes),
                ("i:" + x.token for x in batch.identifiers),
                ("e:" + x.node for x in batch.identifiers),
                ("c:" + x.key for x in batch.concepts),
                ("e:" + x.src for x in batch.links),
                (("c:" if x.dst_label == CONCEPT_LABEL else "e:") + x.dst for x in batch.links),
                ("s:" + x.key for x in batch.sources),
                ("e:" + k for x in batch.sources for k in x.asserts),
                ("r:" + batch.run_id,),
            )
        )
        for labels, stub_rows in _group(batch.stubs, lambda s: s.labels):
            for stub in stub_rows:
                node, created = self._merge("e:" + stub.key, (ROOT_LABEL,), {"key": stub.key})
                if created:
                    stats.nodes_created += 1
                    node.props.update(stub=True, stubSince=now)
                    self._add_labels(node, labels)
        for labels, node_rows in _group(batch.nodes, lambda n: n.labels):
            for n in node_rows:
                nid = "e:" + n.key
                node, created = self._merge(nid, (ROOT_LABEL,), {"key": n.key})
                stats.nodes_created += created
                _set_all(node.props, n.props)
                self._add_labels(node, labels)
                node.props.pop("stub", None)
                node.props.pop("stubSince", None)
                self._dirty.add(nid)
                self._first_run.setdefault(nid, batch.run_id)
        for i in batch.identifiers:
            iid = "i:" + i.token
            ident, created = self._merge(iid, ("Identifier",), {"key": i.token})
            if created:
                stats.nodes_created += 1
                _set_all(
                    ident.props, {"system": i.system, "value": i.value, "identifierType": i.type}
                )
            nid = "e:" + i.node
            if self._node(nid) is None:
                continue  # MATCH (n:Entity {key: r.node}) found nothing
            found = self._between("IDENTIFIES", iid, nid)
            if found:
                rid, rel = found[0]
            else:
                rid, rel = self._new_rel("IDENTIFIES", iid, nid)
                stats.relationships_created += 1
                _set_all(rel.props, {"rule": i.rule, "evidence": i.evidence, "sources": []})
            sources = rel.props["sources"]
            if i.source is not None and i.source not in sources and len(sources) < MAX_SOURCES:
                rel.props["sources"] = [*sources, i.source][:MAX_SOURCES]
                self._rels_dirty.add(rid)
        for c in {c.key: c for c in batch.concepts}.values():
            node, created = self._merge("c:" + c.key, (CONCEPT_LABEL,), {"key": c.key})
            if created:
                stats.nodes_created += 1
                node.props.update(system=c.system, code=c.code)
        for (rel_type, dst_label), link_rows in _group(
            batch.links, lambda x: (x.type, x.dst_label)
        ):
            dst_prefix = "c:" if dst_label == CONCEPT_LABEL else "e:"
            for kept, subset in _group(link_rows, lambda x: _distinct(x.props)):
                for r in subset:
                    a, b = "e:" + r.src, dst_prefix + r.dst
                    if self._node(a) is None or self._node(b) is None:
                        continue  # one of the two MATCHes found nothing
                    pattern = {k: r.props[k] for k in kept}
                    matched = [
                        (rid, x)
                        for rid, x in self._between(rel_type, a, b)
                        if all(x.props.get(k) == v for k, v in pattern.items())
                    ]
                    if not matched:
                        rid, rel = self._new_rel(rel_type, a, b)
                        rel.props.update(pattern)
                        stats.relationships_created += 1
                        stats.links_created += 1
                        matched = [(rid, rel)]
                    for rid, x in matched:  # MERGE binds every relationship the pattern matches
                        _set_all(x.props, r.props)
                        if r.rule is not None:
                            x.props["rule"] = r.rule
                        if r.evidence is not None:
                            x.props["evidence"] = r.evidence
                        have = x.props.get("sources")
                        if not (
                            r.source is None
                            or r.source in (have or [])
                            or len(have or []) >= MAX_SOURCES
                        ):
                            x.props["sources"] = [*(have or []), r.source]
                        self._rels_dirty.add(rid)
        if batch.sources:
            run = "r:" + batch.run_id
            if self._node(run) is None:
                return stats  # MATCH (run:LoadRun ...) found nothing
            for s in batch.sources:
                sid = "s:" + s.key
                node, created = self._merge(sid, ("SourceRecord",), {"key": s.key})
                stats.nodes_created += created
                _set_all(node.props, s.props)
                self._dirty.add(sid)
                if not self._between("LOADED_IN", sid, run):
                    self._new_rel("LOADED_IN", sid, run)
                    stats.relationships_created += 1
                for k in s.asserts:
                    nid = "e:" + k
                    if self._node(nid) is not None and not self._between("ASSERTED", sid, nid):
                        self._new_rel("ASSERTED", sid, nid)
                        stats.relationships_created += 1
        return stats

    # -- what the import reads back ----------------------------------------------------------
    def iter_nodes(self) -> Iterator[tuple[str, StagedNode]]:
        """Every node (its id and the node), in the order they were made."""
        self._flush()
        for nid, labels, props in self._db.execute(
            "SELECT id, labels, props FROM nodes ORDER BY rowid"
        ):
            yield nid, StagedNode(labels.split(_LABELS), _load(props))

    def iter_rels(self) -> Iterator[StagedRel]:
        """Every relationship, in the order they were made."""
        self._flush()
        for rel_type, start, end, props in self._db.execute(
            'SELECT type, start, "end", props FROM rels ORDER BY rowid'
        ):
            yield StagedRel(rel_type, start, end, _load(props))

    def entity_keys(self, labels: Iterable[str]) -> Iterator[str]:
        """The keys of the entities that carry any of ``labels``, sorted, each once (what a
        linking rule starts from): a scan of the nodes per label, the keys that carry it
        sorted by SQLite, the labels' lists merged."""
        self._flush()
        last = None
        for key in heapq.merge(*(self._keys_with(label) for label in sorted(set(labels)))):
            if key != last:
                last = key
                yield key

    def _keys_with(self, label: str) -> Iterator[str]:
        # a label is one of the tab-separated names in the row's labels
        for (key,) in self._db.cursor().execute(
            "SELECT substr(id, 3) AS k FROM nodes WHERE substr(id, 1, 2) = 'e:' "
            "AND instr(char(9) || labels || char(9), char(9) || ? || char(9)) > 0 ORDER BY k",
            (label,),
        ):
            yield key

    def first_runs(self, keys: Iterable[str]) -> dict[str, str]:
        """The run that first wrote each entity key (the ones that have one)."""
        self._flush()
        return dict(
            self._db.execute(
                "SELECT substr(id, 3), first_run FROM nodes WHERE first_run IS NOT NULL "
                "AND id IN (SELECT 'e:' || value FROM json_each(?))",
                (json.dumps(list(keys)),),
            )
        )

    # -- helpers -----------------------------------------------------------------------------
    def _prefetch(self, ids: Iterable[str]) -> None:
        """Read the nodes of ``ids`` that are not in memory in one statement; the ones the
        file does not have are remembered as absent until the next flush (a node made
        before then is in memory, which :meth:`_node` asks first)."""
        wanted = [nid for nid in dict.fromkeys(ids) if nid not in self._nodes]
        if not wanted:
            return
        for nid, labels, props in self._db.execute(
            "SELECT id, labels, props FROM nodes WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(wanted),),
        ):
            self._nodes[nid] = StagedNode(labels.split(_LABELS), _load(props))
        self._absent.update(nid for nid in wanted if nid not in self._nodes)

    def _node(self, nid: str) -> StagedNode | None:
        node = self._nodes.get(nid)
        if node is not None:
            self._nodes.move_to_end(nid)
            return node
        if nid in self._absent:
            return None
        row = self._db.execute("SELECT labels, props FROM nodes WHERE id = ?", (nid,)).fetchone()
        if row is None:
            return None
        node = self._nodes[nid] = StagedNode(row[0].split(_LABELS), _load(row[1]))
        return node

    def _merge(
        self, nid: str, labels: tuple[str, ...], key: dict[str, Any]
    ) -> tuple[StagedNode, bool]:
        node = self._node(nid)
        if node is not None:
            return node, False
        node = self._nodes[nid] = StagedNode(list(labels), dict(key))
        self._created[nid] = None
        self._dirty.add(nid)
        return node, True

    def _add_labels(self, node: StagedNode, labels: Iterable[str]) -> None:
        for label in labels:
            if label not in node.labels:
                node.labels.append(label)

    def _between(self, rel_type: str, start: str, end: str) -> list[tuple[int, StagedRel]]:
        """The relationships of a type from one node to another, oldest first."""
        out = []
        # a node made since the last flush has no relationship in the file yet: most of an
        # initial import's nodes are new, so most of these reads never reach SQLite
        if start not in self._created:
            for rid, props in self._db.execute(
                'SELECT rowid, props FROM rels WHERE start = ? AND type = ? AND "end" = ? '
                "ORDER BY rowid",
                (start, rel_type, end),
            ):
                rel = self._rels.get(rid)
                if rel is None:
                    rel = self._rels[rid] = StagedRel(rel_type, start, end, _load(props))
                out.append((rid, rel))
        for rid in self._made_between.get((rel_type, start, end), ()):
            out.append((rid, self._made[rid]))
        return out

    def _new_rel(self, rel_type: str, start: str, end: str) -> tuple[int, StagedRel]:
        rid = self._next_rid
        self._next_rid += 1
        rel = self._made[rid] = StagedRel(rel_type, start, end)
        self._made_between.setdefault((rel_type, start, end), []).append(rid)
        return rid, rel

    def _flush(self) -> None:
        """Write what changed back to the file and bound what stays in memory."""
        db = self._db
        updated = [nid for nid in self._dirty if nid not in self._created]
        nodes = self._nodes

        def row(nid: str) -> tuple[Any, ...]:
            node = nodes[nid]
            mk = node.props.get("matchKey") if nid.startswith("e:") else None
            return (
                _LABELS.join(node.labels),
                _dump(node.props),
                mk if isinstance(mk, str) else None,
                self._first_run.get(nid),
                nid,
            )

        db.executemany(
            "INSERT INTO nodes (labels, props, mk, first_run, id) VALUES (?, ?, ?, ?, ?)",
            [row(nid) for nid in self._created],
        )
        db.executemany(
            "UPDATE nodes SET labels = ?, props = ?, mk = ?, "
            "first_run = coalesce(first_run, ?) WHERE id = ?",
            [row(nid) for nid in updated],
        )
        db.executemany(
            'INSERT INTO rels (rowid, type, start, "end", props) VALUES (?, ?, ?, ?, ?)',
            [(rid, r.type, r.start, r.end, _dump(r.props)) for rid, r in self._made.items()],
        )
        db.executemany(
            "UPDATE rels SET props = ? WHERE rowid = ?",
            [(_dump(self._rels[rid].props), rid) for rid in self._rels_dirty if rid in self._rels],
        )
        db.execute("COMMIT")
        db.execute("BEGIN")
        self._dirty.clear()
        self._created.clear()
        self._absent.clear()
        self._first_run.clear()
        self._rels.clear()
        self._rels_dirty.clear()
        self._made.clear()
        self._made_between.clear()
        while len(nodes) > NODE_CACHE:
            nodes.popitem(last=False)
