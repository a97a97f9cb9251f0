"""Files read in worker processes, their items streamed back to the loading process in order.

A loader is a pure function from a file to items, and the checks a record passes before it is
written (``loaders/checking.py``) are a pure function of the record, so both run in a worker
process: what comes back is a file's items with every record already checked (a
:class:`~caregraph.loaders.write_rows.Prepared`, or the :class:`Rejected` it became). The
loading process keeps only the work that must see records in order (identity, rows, the
write, linking).

A file's items come back in chunks while the worker is still reading it, so a source that is
one big file (an X12 batch, an HL7 v2 feed) is read and checked in a worker while the loading
process writes what came before: two cores busy, where returning the whole file at the end
would leave one waiting for the other. Memory stays bounded: the files handed out ahead of the
one being taken are at most ``ahead_bytes`` of input (at least one per worker), and a streamed
file's queue holds at most ``queued`` chunks (its worker waits when it is full).

Why a queue per file from a ``multiprocessing`` manager, rather than the executor's futures: a
future returns once, at the end; the queues stream, and because each file has its own, the
loading process can take the files in order while later ones wait (one shared queue would
fill with a later file's chunks and stop the file being waited for). Each chunk crosses as
one pickled ``bytes``, so the manager's process only relays bytes.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import queue
import signal
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.managers import SyncManager
from pathlib import Path
from typing import Any

from caregraph.loaders.checking import Validator
from caregraph.loaders.limits import LoadLimits
from caregraph.loaders.records import Item, Record
from caregraph.loaders.registry import read
from caregraph.loaders.write_rows import Prepared, RowSettings

Checked = Item | Prepared  # what a worker sends back: a record arrives checked
CHUNK = 200  # items per message: large enough that a message's cost is small beside its items'
# A file under this size comes back whole, as its task's result: a stream's queue costs a few
# round trips to the manager, which for a FHIR Bundle of a few records cost more than reading it
STREAM_BYTES = 1 << 18
# An incremental load reads in one worker when its input holds at least this much in files of
# STREAM_BYTES or more (auto_workers); smaller inputs, and folders of small files, in-process.
AUTO_MIN_BYTES = 8 << 20
WORKER_NICENESS = 5  # how much lower the workers' priority is than the loading process's
_POLL_S = 1.0  # how often a wait for a chunk checks that its worker is still alive


@dataclass(frozen=True)
class Checks:
    """What a worker needs to check records as the loading process would: the ontology's
    files (read again in the worker) and version (compared, so both check with the same one),
    and the settings."""

    ontology_files: tuple[Path, ...]
    ontology_version: str
    cfg: RowSettings = field(default_factory=RowSettings)
    limits: LoadLimits = field(default_factory=LoadLimits)


def auto_workers(files: Sequence[Path], cores: int | None = None) -> int:
    """The parse workers an incremental load uses unless told: one, when the machine has a
    core for it and the input holds at least AUTO_MIN_BYTES in files of STREAM_BYTES or more;
    else none (read in the loading process).

    Why, measured with ``bench/ingest.py`` on 2 cores (docs/scale.md): a worker is a spawned
    process that costs 2-3 s to start (Python, the loaders, the ontology), and a file under
    STREAM_BYTES costs it a round trip. At 10,000 patients (six sources of 9.5-97 MiB in files
    of 1-2 MiB) one worker took the load from 751 to 1,027 records/s, and two gave no more
    (1,024: the ordered stream and Neo4j are then the bound); at 1,000 patients (sources of
    1-11 MiB, the EHR's 1,006 Bundles of 11 KiB each) a worker per source made the load
    slower in that run, 47.8 s against 36.5 s (part of which may be Neo4j planning the
    linking rules again on a young graph, which moves such a load by seconds run to run)."""
    if (cores if cores is not None else os.cpu_count() or 1) < 2:
        return 0
    streamed = sum(size for size in map(_size, files) if size >= STREAM_BYTES)
    return 1 if streamed >= AUTO_MIN_BYTES else 0


class ReadPool:
    """``workers`` processes reading files; :meth:`read` gives each file's items in order.
    One pool can serve several loads one after another (the sources of an initial import),
    so its processes start once."""

    def __init__(self, workers: int, *, ahead_bytes: int = 8 << 20, queued: int = 8) -> None:
        self.workers = workers
        # input handed out before the file being taken: enough that the workers go on reading
        # while this process writes a batch (500 records can be fifty small FHIR files)
        self.ahead_bytes = ahead_bytes
        self.queued = queued
        self._ctx = multiprocessing.get_context("spawn")  # not forked: the loader runs threads
        self._manager: SyncManager | None = None
        self._pool: ProcessPoolExecutor | None = None

    def read(
        self, files: Sequence[Path], source: str, checks: Checks | None
    ) -> Iterator[tuple[Path, str | None, Iterable[Checked]]]:
        """Each file with its format (None: not one caregraph reads) and its items, in the
        order given; a file's items must be consumed before the next file is asked for."""
        if self._manager is None or self._pool is None:
            self._manager = SyncManager(ctx=self._ctx)
            self._manager.start(_leave_interrupts_to_the_loader)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=self._ctx, initializer=_start_worker
            )
        manager, pool = self._manager, self._pool
        waiting: deque[tuple[Path, Any, Future[Any], int]] = deque()
        queued = iter(files)
        ahead = 0  # bytes of input handed out and not yet taken (kept, not summed each time)

        def submit(path: Path) -> None:
            nonlocal ahead
            size = _size(path)
            if size < STREAM_BYTES:
                whole = pool.submit(_read_whole, path, source, checks)
                waiting.append((path, None, whole, size))
            else:
                chunks = manager.Queue(self.queued)
                streamed = pool.submit(_read_into, path, source, checks, chunks)
                size = STREAM_BYTES  # what it holds at most: its queue
                waiting.append((path, chunks, streamed, size))
            ahead += size

        def hand_out() -> None:
            while len(waiting) <= self.workers or ahead < self.ahead_bytes:
                following = next(queued, None)
                if following is None:
                    return
                submit(following)

        done = False
        try:
            hand_out()
            while waiting:
                path, chunks, task, _ = waiting[0]
                if chunks is None:
                    yield (path, *task.result())
                else:
                    stream = _Stream(chunks, task)
                    yield path, stream.format(), stream.items()
                ahead -= waiting.popleft()[3]
                hand_out()
            done = True
        finally:
            if not done:
                # left early (a fatal error, Ctrl-C): workers may be waiting to put chunks no
                # one will take, so they are stopped; the next read starts new ones
                self.close()

    def close(self) -> None:
        """Stop the workers, also ones waiting to put a chunk (the manager goes first, which
        ends their wait with an error) and files not yet begun."""
        manager, pool, self._manager, self._pool = self._manager, self._pool, None, None
        if manager is not None:
            manager.shutdown()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Stream:
    """One file's messages from its worker: the format, then chunks of items, then None."""

    def __init__(self, chunks: Any, task: Future[None]) -> None:
        self.chunks = chunks
        self.task = task

    def _next(self) -> Any:
        while True:
            try:
                message = self.chunks.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.task.done():
                    continue
                self.task.result()  # the worker's error, if it failed
                message = self.chunks.get_nowait()  # it ended normally: its last message
            # bytes our own worker process pickled (the executor and the manager pickle too)
            return pickle.loads(message)  # noqa: S301

    def format(self) -> str | None:
        fmt: str | None = self._next()
        return fmt

    def items(self) -> Iterator[Checked]:
        while (chunk := self._next()) is not None:
            yield from chunk


# -- in the worker process -------------------------------------------------------------------
def _leave_interrupts_to_the_loader() -> None:
    """Ctrl-C is the loading process's to act on: a terminal sends SIGINT to the whole
    process group, and a worker or the manager that took it would die mid-file with a
    traceback of its own, while the loading process stops the pool in order (its ``close``:
    the batch being written is committed, the files not begun are dropped)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_worker() -> None:
    _leave_interrupts_to_the_loader()
    _yield_to_the_writer()


def _yield_to_the_writer() -> None:
    """Lower this worker's priority: the loading process is the one ordered stream every record
    goes through, so when the cores are all busy it should be the one that runs (with two
    workers on two cores it otherwise gets a third of them)."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


_validators: dict[Checks, Validator] = {}


def _validator(checks: Checks) -> Validator:
    """The worker's validator, built once per process and settings."""
    found = _validators.get(checks)
    if found is None:
        from caregraph.ontology.model import load_ontology

        onto = load_ontology(checks.ontology_files)
        if onto.version != checks.ontology_version:
            raise RuntimeError(
                "the ontology's files changed during the load: run it again to check every "
                "record with one ontology"
            )
        found = _validators[checks] = Validator(onto, checks.cfg, checks.limits)
        # the worker's modules and the ontology's graph live as long as it does: out of the
        # collector's full passes, as caregraph's entry points do (api/process.py says why;
        # that module is the API's, which a loader does not import)
        gc.collect()
        gc.freeze()
    return found


def _read_whole(path: Path, source: str, checks: Checks | None) -> tuple[str | None, list[Checked]]:
    """Read one file, its items checked, as one list."""
    validator = _validator(checks) if checks is not None else None
    fmt, items = read(path, source)
    return fmt, [_checked(item, validator) for item in items]


def _read_into(path: Path, source: str, checks: Checks | None, chunks: Any) -> None:
    """Read one file into its queue: the format, chunks of checked items, then None."""
    validator = _validator(checks) if checks is not None else None
    fmt, items = read(path, source)
    chunks.put(pickle.dumps(fmt))
    chunk: list[Checked] = []
    for item in items:
        chunk.append(_checked(item, validator))
        if len(chunk) >= CHUNK:
            chunks.put(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
            chunk = []
    if chunk:
        chunks.put(pickle.dumps(chunk, pickle.HIGHEST_PROTOCOL))
    chunks.put(pickle.dumps(None))


def _checked(item: Item, validator: Validator | None) -> Checked:
    return validator.check(item) if validator is not None and isinstance(item, Record) else item


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # read whole: the worker reports why it cannot be read
