"""Collect the nodes, links and warnings one message asserts into one Record, without duplicates."""

from __future__ import annotations

from collections.abc import Callable

from rdflib import URIRef

from caregraph.loaders.hl7v2.errors import BadValue
from caregraph.loaders.records import Link, Node, Props, Record, RecordWarning, Ref, SourceRef

# A field reader: (text, field name) -> value, raising BadValue when the text is not its type.
Reader = Callable[[str, str], str | None]


class RecordBuilder:
    """Nodes keyed by (class, key), merged when a message names one twice; links deduplicated."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[URIRef, str], Node] = {}
        self._links: dict[tuple[URIRef, str, str, str], Link] = {}
        self._warnings: list[RecordWarning] = []

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

    def warn(self, code: str, message: str) -> None:
        """Something understood but incomplete or unusual; the message names fields, not values."""
        item = RecordWarning(code, message)
        if item not in self._warnings:
            self._warnings.append(item)

    def read(self, reader: Reader, text: str, field: str) -> str | None:
        """``reader(text, field)``, or None and an ``unusual-value`` warning if not of its type."""
        try:
            return reader(text, field)
        except BadValue as e:
            self.warn("unusual-value", f"{e}: loaded without it")
            return None

    def record(self, ref: SourceRef, fmt: str, kind: str) -> Record:
        nodes, links = list(self._nodes.values()), list(self._links.values())
        return Record(ref, fmt, kind, nodes, links, list(self._warnings))
