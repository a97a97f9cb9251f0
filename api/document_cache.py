"""What the API works out once per query document: its validation, its selection (for the
access check and the audit), its cost estimate's walk.

Agents send the same few documents with other variables, and the parse cache
(api/limits.py ``_parse``) hands back the same document object for the same text, so the
work is kept by the document's identity. Why not ``functools.lru_cache`` on the document: a
graphql-core node is a frozen dataclass whose hash walks the whole syntax tree on every call
(22 us for the bench's traversal query), and a request looked its document up four times.
An entry holds its document, so the document's id cannot be given to another object while
the entry lives.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from graphql import DocumentNode

V = TypeVar("V")


class DocumentCache(Generic[V]):
    """The most recently used ``size`` values, by document (its identity) and ``extra``
    (what else the value depends on: the operation's name, the schema ...)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[int, Hashable], tuple[DocumentNode, V]] = OrderedDict()
        self._lock = threading.Lock()  # MCP tools and CLI reads may run in threads

    def find(self, document: DocumentNode, extra: Hashable) -> V | None:
        key = (id(document), extra)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] is not document:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, document: DocumentNode, extra: Hashable, value: V) -> V:
        with self._lock:
            self._entries[(id(document), extra)] = (document, value)
            self._entries.move_to_end((id(document), extra))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def get(self, document: DocumentNode, extra: Hashable, make: Callable[[], V]) -> V:
        """The value kept for (document, extra), else ``make()``'s, kept."""
        found = self.find(document, extra)
        return found if found is not None else self.put(document, extra, make())
