"""Group commit: items that concurrent callers submit are written in batches, one write (one
transaction) per batch, and each caller waits for the batch that holds its item.

A batch closes when the writer is free: the writer takes everything queued (at most
``max_batch``) and writes it; what arrives meanwhile waits for the next batch. A lone item is
written at once, with no delay added to gather company. If a batch's write fails, every item
in it fails with that error, so no caller takes a failed write for a success.

:class:`GroupCommit`'s writer is a thread that exists while there is something to write and
ends when the queue is empty, so an idle process holds no thread and nothing has to be closed.
Callers wait on a ``concurrent.futures.Future``: a synchronous caller with ``result()``, a
coroutine with ``asyncio.wrap_future``, which holds no thread while it waits.

:class:`AsyncGroupCommit` is the same on one event loop, for coroutines whose write is a
coroutine too (the service's audit through its async driver): the writer is a task, so no
thread takes the GIL from the loop between a request's read and its answer. Measured on a
service worker under 8 clients, the thread's hand-offs showed as time waiting to take the
GIL back in the loop's own socket writes.

No library is used: the job queues and executors at hand (``ThreadPoolExecutor``, anyio's
thread pools) run one call per item; none hands a writer everything queued at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Tally:
    """A group commit's bound and name, and what tests and benchmarks read of it (counted by
    its writer only)."""

    def __init__(self, max_batch: int, name: str) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        self.name = name or "group-commit"

    submitted = 0  # items submitted so far
    batches = 0  # writes attempted, one transaction each
    commits = 0  # writes that succeeded
    items = 0  # items in the writes that succeeded
    largest = 0  # the largest batch written

    def _written(self, n: int) -> None:
        self.commits += 1
        self.items += n
        self.largest = max(self.largest, n)


class GroupCommit(_Tally, Generic[T, R]):
    """Writes submitted items in batches with ``write``, which returns one result per item in
    order (or raises, failing the whole batch)."""

    def __init__(
        self, write: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 64, name: str = ""
    ) -> None:
        super().__init__(max_batch, name)
        self._write = write
        self._lock = threading.Lock()
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._writing = False

    @property
    def queued(self) -> int:
        """Items waiting for a batch (not those being written)."""
        with self._lock:
            return len(self._queue)

    def submit(self, item: T) -> Future[R]:
        """Queue ``item``; the future is done once the batch holding it is written."""
        future: Future[R] = Future()
        with self._lock:
            self._queue.append((item, future))
            self.submitted += 1
            start, self._writing = not self._writing, True
        if start:
            threading.Thread(target=self._drain, name=self.name, daemon=True).start()
        return future

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._writing = False
                    return
                n = min(self.max_batch, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
            # from here on a caller cannot cancel its future (a coroutine cancelled while it
            # waits cancels it); an item cancelled before is still written, its future left
            live = [f for _, f in batch if f.set_running_or_notify_cancel()]
            self._commit(batch, live)

    def _commit(self, batch: list[tuple[T, Future[R]]], live: list[Future[R]]) -> None:
        self.batches += 1
        try:
            results = self._write([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except BaseException as e:  # whatever it was, every caller of the batch must hear it
            for future in live:
                future.set_exception(e)
            return
        self._written(len(batch))
        waiting = set(map(id, live))
        for (_, future), result in zip(batch, results, strict=True):
            if id(future) in waiting:
                future.set_result(result)


class AsyncGroupCommit(_Tally, Generic[T, R]):
    """:class:`GroupCommit` for coroutines on one event loop: ``write`` is a coroutine that
    returns one result per item in order (or raises, failing the whole batch), and the writer
    is a task on the loop that runs while there is something to write."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        max_batch: int = 64,
        name: str = "",
    ) -> None:
        super().__init__(max_batch, name)
        self._write = write
        self._queue: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._writer: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        """Items waiting for a batch (not those being written)."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        """Queue ``item`` and wait until the batch holding it is written; its result. A caller
        cancelled while it waits leaves its item to be written all the same."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.append((item, future))
        self.submitted += 1
        if self._writer is None:
            self._writer = loop.create_task(self._drain(), name=self.name)
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:  # nothing else runs between this test and the finally
                n = min(self.max_batch, len(self._queue))
                await self._commit([self._queue.popleft() for _ in range(n)])
        finally:
            self._writer = None
            gone = RuntimeError(f"{self.name}: the writer stopped before writing this item")
            while self._queue:  # only when the task itself was cancelled (the loop closing)
                _, future = self._queue.popleft()
                if not future.done():
                    future.set_exception(gone)

    async def _commit(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        try:
            results = await self._write([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except Exception as e:  # every caller of the batch must hear it
            for _, future in batch:
                if not future.done():
                    future.set_exception(e)
            return
        except BaseException:  # cancelled mid-write: its callers hear it, then it goes on
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError(f"{self.name}: the write was cut short"))
            raise
        self._written(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a caller cancelled while it waited
                future.set_result(result)
