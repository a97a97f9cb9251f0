"""The writer's graph held in memory, for a bulk initial import (issue 17).

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

What it does not do: the linking rules. They are set-based Cypher (``graph/linking.py``) and
run in Neo4j after the import, over every node (see ``bulk_import.link``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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


class StagedGraph:
    """Nodes and relationships as the writer would leave them in an empty database.

    Node ids: ``e:`` + key for an entity, ``c:`` + key for a concept, ``i:`` + token for an
    identifier, ``s:`` + key for a source record, ``r:`` + run id for a load run: each kind is
    merged on its own key, as the writer merges it.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, StagedNode] = {}
        self.rels: list[StagedRel] = []
        # the writer's MERGE patterns, as indexes into rels
        self._links: dict[tuple[str, str, str], list[int]] = {}  # (type, start, end)
        self._identifies: dict[str, list[tuple[str, int]]] = {}  # token -> (node id, rel)
        self._loaded_in: set[tuple[str, str]] = set()
        self._asserted: set[tuple[str, str]] = set()
        self._owners: dict[tuple[str, str], list[str]] = {}  # (event id, type) -> start ids
        self._match_keys: dict[str, list[str]] = {}  # matchKey -> entity ids (see lookup)
        self.first_run: dict[str, str] = {}  # entity key -> the run that first wrote it

    # -- what the pipeline reads -------------------------------------------------------------
    def lookup_hashes(self, keys: Sequence[str]) -> dict[str, str]:
        """``writer.lookup_hashes``: SourceRecord key -> content hash."""
        out: dict[str, str] = {}
        for k in keys:
            node = self.nodes.get("s:" + k)
            if node is not None and "contentHash" in node.props:
                out[k] = node.props["contentHash"]
        return out

    def lookup(
        self, tokens: Sequence[str], match_keys: Sequence[str], owner_types: Iterable[str]
    ) -> Known:
        """``graph/identity.py`` ``lookup``, answered from the staged graph (the identifier's
        nodes in the order they were tied to it, then the node keyed by the token)."""
        types = set(owner_types)
        hits: dict[str, list[TokenHit]] = {}
        owners: dict[tuple[str, str], set[str]] = {}
        for t in tokens:
            ids = [nid for nid, _ in self._identifies.get(t, [])]
            if "e:" + t in self.nodes:
                ids.append("e:" + t)
            for nid in dict.fromkeys(ids):
                node = self.nodes[nid]
                key = nid[2:]
                hits.setdefault(t, []).append(
                    TokenHit(key, tuple(node.labels), node.props.get("birthDate"))
                )
                for rel_type in types:
                    for start in self._owners.get((nid, rel_type), []):
                        if PATIENT in self.nodes[start].labels:
                            owners.setdefault((key, rel_type), set()).add(start[2:])
        by_mk: dict[str, list[str]] = {}
        for mk in match_keys:
            for nid in self._match_keys.get(mk, []):
                node = self.nodes[nid]
                if (
                    PATIENT in node.labels
                    and node.props.get("matchKey") == mk
                    and "stub" not in node.props
                ):
                    by_mk.setdefault(mk, []).append(nid[2:])
        return Known(hits, by_mk, owners)

    # -- what the writer writes --------------------------------------------------------------
    def start_run(self, run_id: str, props: dict[str, Any]) -> None:
        """``writer.start_run``."""
        node = self._merge("r:" + run_id, ("LoadRun",), {"runId": run_id})[0]
        _set_all(node.props, props)

    def finish_run(self, run_id: str, props: dict[str, Any]) -> None:
        """``writer.finish_run``."""
        _set_all(self.nodes["r:" + run_id].props, props)

    def write_batch(self, batch: WriteBatch, now: Any) -> WriteStats:
        """``writer.write_batch``, statement by statement, row by row; ``now`` is the time a
        stub is stamped with."""
        stats = WriteStats()
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
                self.first_run.setdefault(n.key, batch.run_id)
                mk = node.props.get("matchKey")
                if mk is not None:
                    known = self._match_keys.setdefault(mk, [])
                    if nid not in known:
                        known.append(nid)
        for i in batch.identifiers:
            iid = "i:" + i.token
            ident, created = self._merge(iid, ("Identifier",), {"key": i.token})
            if created:
                stats.nodes_created += 1
                _set_all(
                    ident.props, {"system": i.system, "value": i.value, "identifierType": i.type}
                )
            nid = "e:" + i.node
            if nid not in self.nodes:
                continue  # MATCH (n:Entity {key: r.node}) found nothing
            tied = self._identifies.setdefault(i.token, [])
            found = [ri for n, ri in tied if n == nid]
            if found:
                rel = self.rels[found[0]]
            else:
                rel = self._new_rel("IDENTIFIES", iid, nid)
                tied.append((nid, len(self.rels) - 1))
                stats.relationships_created += 1
                _set_all(rel.props, {"rule": i.rule, "evidence": i.evidence, "sources": []})
            sources = rel.props["sources"]
            if i.source is not None and i.source not in sources and len(sources) < MAX_SOURCES:
                rel.props["sources"] = [*sources, i.source][:MAX_SOURCES]
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
                    if a not in self.nodes or b not in self.nodes:
                        continue  # one of the two MATCHes found nothing
                    pattern = {k: r.props[k] for k in kept}
                    index = self._links.setdefault((rel_type, a, b), [])
                    matched = [
                        self.rels[x]
                        for x in index
                        if all(self.rels[x].props.get(k) == v for k, v in pattern.items())
                    ]
                    if not matched:
                        rel = self._new_rel(rel_type, a, b)
                        rel.props.update(pattern)
                        index.append(len(self.rels) - 1)
                        self._owners.setdefault((b, rel_type), []).append(a)
                        stats.relationships_created += 1
                        stats.links_created += 1
                        matched = [rel]
                    for x in matched:  # MERGE binds every relationship the pattern matches
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
        if batch.sources:
            run = "r:" + batch.run_id
            if run not in self.nodes:
                return stats  # MATCH (run:LoadRun ...) found nothing
            for s in batch.sources:
                sid = "s:" + s.key
                node, created = self._merge(sid, ("SourceRecord",), {"key": s.key})
                stats.nodes_created += created
                _set_all(node.props, s.props)
                if (sid, run) not in self._loaded_in:
                    self._loaded_in.add((sid, run))
                    self._new_rel("LOADED_IN", sid, run)
                    stats.relationships_created += 1
                for k in s.asserts:
                    nid = "e:" + k
                    if nid in self.nodes and (sid, nid) not in self._asserted:
                        self._asserted.add((sid, nid))
                        self._new_rel("ASSERTED", sid, nid)
                        stats.relationships_created += 1
        return stats

    def entity_keys_by_label(self) -> dict[str, list[str]]:
        """Every entity's key under each of its labels (what the linking rules start from)."""
        out: dict[str, list[str]] = {}
        for nid, node in self.nodes.items():
            if nid.startswith("e:"):
                for label in node.labels:
                    out.setdefault(label, []).append(nid[2:])
        return out

    # -- helpers -----------------------------------------------------------------------------
    def _merge(
        self, nid: str, labels: tuple[str, ...], key: dict[str, Any]
    ) -> tuple[StagedNode, bool]:
        node = self.nodes.get(nid)
        if node is not None:
            return node, False
        node = self.nodes[nid] = StagedNode(list(labels), dict(key))
        return node, True

    @staticmethod
    def _add_labels(node: StagedNode, labels: Iterable[str]) -> None:
        for label in labels:
            if label not in node.labels:
                node.labels.append(label)

    def _new_rel(self, rel_type: str, start: str, end: str) -> StagedRel:
        rel = StagedRel(rel_type, start, end)
        self.rels.append(rel)
        return rel
