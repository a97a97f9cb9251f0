"""The graph's real fan-out (average relationships per node), read from Neo4j's count store
and cached briefly: what the cost estimate multiplies down a query."""

from __future__ import annotations

import threading
import time

from caregraph.graph.readers import GraphCounts, Reader


class FanoutCache:
    """Graph counts per (driver, database), kept for a few seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str], tuple[float, GraphCounts]] = {}

    def fresh(self, reader: Reader, ttl_s: float) -> GraphCounts | None:
        """The counts if they are younger than ``ttl_s``, without asking Neo4j; else None. A
        coroutine asks this first and hops to a thread for :meth:`get` only when it is None."""
        where = (id(reader.driver), reader.database)
        with self._lock:
            hit = self._entries.get(where)
        if hit and time.monotonic() - hit[0] < ttl_s:
            return hit[1]
        return None

    def get(self, reader: Reader, ttl_s: float) -> GraphCounts:
        """The counts, read again when older than ``ttl_s``."""
        hit = self.fresh(reader, ttl_s)
        if hit is not None:
            return hit
        where = (id(reader.driver), reader.database)
        now = time.monotonic()
        counts = reader.graph_counts()
        with self._lock:
            self._entries[where] = (now, counts)
        return counts

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
