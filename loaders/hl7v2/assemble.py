"""Collect the nodes and links one message asserts into one Record, without duplicates."""

from __future__ import annotations

from rdflib import URIRef

from loaders.records import Link, Node, Props, Record, Ref, SourceRef


class RecordBuilder:
    """Nodes keyed by (class, key), merged when a message names one twice; links deduplicated."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[URIRef, str], Node] = {}
        self._links: dict[tuple[URIRef, str, str, str], Link] = {}

    def add(self, node: Node) -> Ref:
        seen = self._nodes.get((node.cls, node.key))
        if seen is None:
            self._nodes[(node.cls, node.key)] = node
        else:
            seen.props.update(node.props)
            known = {i.token for i in seen.identifiers}
            seen.identifiers += tuple(i for i in node.identifiers if i.token not in known)
        return node.ref

    def link(self, rel: URIRef, src: Ref, dst: Ref, props: Props | None = None) -> None:
        props = props or {}
        signature = repr(sorted((str(k), v) for k, v in props.items()))
        self._links.setdefault((rel, src.key, dst.key, signature), Link(rel, src, dst, props))

    def record(self, ref: SourceRef, fmt: str, kind: str) -> Record:
        return Record(ref, fmt, kind, list(self._nodes.values()), list(self._links.values()))
