"""Per-request DataLoaders: every read of one GraphQL level goes out as one batched query.

Two loaders, each a single ``UNWIND $rows`` query per batch (see graph/readers.py): ``pages``
(related nodes along traversals, and the SourceRecords of relationships), which every field
of every level shares so that sibling fields are answered in the same round trip, and
``lookups`` (nodes named by root arguments, several aliased roots in one trip).
"""

from __future__ import annotations

import asyncio

from strawberry.dataloader import DataLoader

from caregraph.graph.readers import LookupRequest, Page, PageRequest, Reader, RecordsRequest, Row


class Loaders:
    """The DataLoaders of one request."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.pages: DataLoader[PageRequest | RecordsRequest, Page] = DataLoader(load_fn=self._pages)
        self.lookups: DataLoader[LookupRequest, list[Row]] = DataLoader(load_fn=self._lookups)

    async def _pages(self, keys: list[PageRequest | RecordsRequest]) -> list[Page]:
        # the driver is synchronous: run it off the event loop so other requests go on
        return await asyncio.to_thread(self.reader.pages, keys)

    async def _lookups(self, keys: list[LookupRequest]) -> list[list[Row]]:
        return await asyncio.to_thread(self.reader.lookups, keys)
