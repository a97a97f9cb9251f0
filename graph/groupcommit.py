"""Group commit: items that concurrent callers submit are written in batches, one write (one
transaction) per batch, and each caller waits for the batch that holds its item.

A batch closes when the writer is free: the writer takes everything queued (at most
``max_batch``) and writes it; what arrives meanwhile waits for the next batch. A lone item is
written at once, with no delay added to gather company. If a batch's write fails, every item
in it fails with that error, so no caller takes a failed write for a success.

The writer is a thread that exists while there is something to write and ends when the queue
is empty, so an idle process holds no thread and nothing has to be closed. Callers wait on a
``concurrent.futures.Future``: a synchronous caller with ``result()``, a coroutine with
``asyncio.wrap_future``, which holds no thread while it waits.

No library is used: the job queues and executors at hand (``ThreadPoolExecutor``, anyio's
thread pools) run one call per item; none hands a writer everything queued at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Writes submitted items in batches with ``write``, which returns one result per item in
    order (or raises, failing the whole batch)."""

    def __init__(
        self, write: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 64, name: str = ""
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self.max_batch = max_batch
        self.name = name or "group-commit"
        self._lock = threading.Lock()
        self._queue: deque[tuple[T, Future[R]]] = deque()
        self._writing = False
        self.submitted = 0  # items submitted so far
        # counted by the writer thread only: what tests and benchmarks read
        self.batches = 0  # writes attempted, one transaction each
        self.commits = 0  # writes that succeeded
        self.items = 0  # items in the writes that succeeded
        self.largest = 0  # the largest batch written

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
        self.commits += 1
        self.items += len(batch)
        self.largest = max(self.largest, len(batch))
        waiting = set(map(id, live))
        for (_, future), result in zip(batch, results, strict=True):
            if id(future) in waiting:
                future.set_result(result)
