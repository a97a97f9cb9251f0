"""Per-request DataLoaders: every read of one GraphQL level goes out as one batched query.

Two loaders, each a single ``UNWIND $rows`` query per batch (see graph/readers.py): ``pages``
(related nodes along traversals, and the SourceRecords of relationships), which every field
of every level shares so that sibling fields are answered in the same round trip, and
``lookups`` (nodes named by root arguments, several aliased roots in one trip).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from strawberry.dataloader import DataLoader

from caregraph.graph.readers import LookupRequest, Page, PageRequest, Reader, RecordsRequest, Row

K = TypeVar("K")
T = TypeVar("T")


class NotPrimedError(Exception):
    """A read that was not primed, asked for while the loaders answer only primed reads."""


class _Loader(DataLoader[K, T]):
    """A DataLoader that, while ``only_primed`` is set, refuses a key nobody primed or asked
    for before, instead of queueing its read (api/direct.py answers only from primed reads,
    and leaves the document to graphql-core without a read queued on its way out)."""

    only_primed = False

    def load(self, key: K) -> Awaitable[T]:
        if self.only_primed:  # DataLoader.load's cache hit, or the refusal
            future = self.cache_map.get(key)
            if future is None or future.cancelled():
                raise NotPrimedError("not primed")
            return future
        return super().load(key)


class Loaders:
    """The DataLoaders of one request."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.pages: _Loader[PageRequest | RecordsRequest, Page] = _Loader(load_fn=self._pages)
        self.lookups: _Loader[LookupRequest, list[Row]] = _Loader(load_fn=self._lookups)

    def only_primed(self, on: bool) -> None:
        """While on, a read that was not primed raises :class:`NotPrimedError`."""
        self.pages.only_primed = self.lookups.only_primed = on

    async def _pages(self, keys: list[PageRequest | RecordsRequest]) -> list[Page]:
        # the driver is synchronous: run it off the event loop so other requests go on
        return await asyncio.to_thread(self.reader.pages, keys)

    async def _lookups(self, keys: list[LookupRequest]) -> list[list[Row]]:
        return await asyncio.to_thread(self.reader.lookups, keys)
