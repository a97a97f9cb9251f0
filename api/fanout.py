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

    def get(self, reader: Reader, ttl_s: float) -> GraphCounts:
        """The counts, read again when older than ``ttl_s``."""
        where = (id(reader.driver), reader.database)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(where)
        if hit and now - hit[0] < ttl_s:
            return hit[1]
        counts = reader.graph_counts()
        with self._lock:
            self._entries[where] = (now, counts)
        return counts

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
