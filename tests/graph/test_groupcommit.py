"""Group commit on its own (graph/groupcommit.py): what arrives while the writer is busy goes
into one batch, a lone item is written at once, a failed batch fails every caller in it; the
same for the event loop's AsyncGroupCommit.

The write here is a plain function that the test holds and releases; the audit's own batches
against Neo4j are in tests/graph/test_chain.py and tests/api/test_audit.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from caregraph.graph.groupcommit import AsyncGroupCommit, GroupCommit

HANG = 30.0  # only a bound that tells a hang from a slow machine; nothing here is timed


class HeldWrite:
    """A write that records its batches and, while ``held``, waits until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail: BaseException | None = None

    def hold(self) -> None:
        self.release.clear()
        self.entered.clear()

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.entered.set()
        assert self.release.wait(HANG), "the test never released the write"
        if self.fail is not None:
            raise self.fail
        return [i * 10 for i in items]


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + HANG
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"hung waiting for {what}"
        time.sleep(0.005)


def test_a_lone_item_is_written_at_once_and_gets_its_own_result() -> None:
    write = HeldWrite()
    group = GroupCommit(write)
    assert group.submit(7).result(HANG) == 70
    assert write.batches == [[7]] and (group.batches, group.commits, group.items) == (1, 1, 1)


def test_what_arrives_while_the_writer_is_busy_is_written_in_one_batch() -> None:
    write = HeldWrite()
    group = GroupCommit(write, max_batch=50)
    write.hold()
    first = group.submit(0)
    assert write.entered.wait(HANG)  # the writer is busy with item 0
    rest = [group.submit(i) for i in range(1, 21)]
    assert group.queued == 20
    write.release.set()
    assert [f.result(HANG) for f in [first, *rest]] == [i * 10 for i in range(21)]
    assert write.batches == [[0], list(range(1, 21))]
    assert (group.commits, group.items, group.largest) == (2, 21, 20)


def test_a_batch_is_at_most_max_batch_items() -> None:
    write = HeldWrite()
    group = GroupCommit(write, max_batch=8)
    write.hold()
    first = group.submit(0)
    assert write.entered.wait(HANG)
    rest = [group.submit(i) for i in range(1, 21)]
    write.release.set()
    assert [f.result(HANG) for f in [first, *rest]] == [i * 10 for i in range(21)]
    assert [len(b) for b in write.batches] == [1, 8, 8, 4]


def test_a_failed_batch_fails_every_caller_in_it_and_the_next_batch_is_written() -> None:
    write = HeldWrite()
    group = GroupCommit(write)
    write.hold()
    first = group.submit(0)
    assert write.entered.wait(HANG)
    doomed = [group.submit(i) for i in (1, 2, 3)]
    write.fail = ConnectionError("the database went away")
    write.release.set()
    for future in (first, *doomed):
        with pytest.raises(ConnectionError, match="went away"):
            future.result(HANG)
    assert (group.batches, group.commits, group.items) == (2, 0, 0)
    write.fail = None
    assert group.submit(4).result(HANG) == 40  # the writer carries on
    wait_until(lambda: not group._writing, "the writer thread to end")


def test_a_coroutine_waits_without_a_thread_and_a_cancelled_wait_is_still_written() -> None:
    write = HeldWrite()
    group = GroupCommit(write)

    async def scenario() -> tuple[int, bool]:
        write.hold()
        blocker = asyncio.wrap_future(group.submit(1))
        await asyncio.to_thread(write.entered.wait, HANG)
        abandoned = asyncio.ensure_future(asyncio.wrap_future(group.submit(2)))
        kept = asyncio.wrap_future(group.submit(3))
        await asyncio.sleep(0)
        abandoned.cancel()  # the caller went away before its batch was written
        write.release.set()
        results = await asyncio.gather(blocker, kept)
        return results[1], abandoned.cancelled()

    kept, cancelled = asyncio.run(scenario())
    assert kept == 30 and cancelled
    assert write.batches == [[1], [2, 3]]  # item 2 was recorded all the same
    wait_until(lambda: not group._writing, "the writer thread to end")
    assert group.submit(4).result(HANG) == 40


def test_no_thread_is_left_when_nothing_is_queued() -> None:
    group = GroupCommit(HeldWrite(), name="caregraph-test-idle")
    group.submit(1).result(HANG)
    wait_until(
        lambda: not any(t.name == "caregraph-test-idle" for t in threading.enumerate()),
        "the writer thread to end",
    )


# -- on an event loop ----------------------------------------------------------------------


class HeldAsyncWrite:
    """HeldWrite as a coroutine: records its batches and, while held, waits for release."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.fail: BaseException | None = None

    def hold(self) -> None:
        self.release.clear()
        self.entered.clear()

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        self.entered.set()
        await asyncio.wait_for(self.release.wait(), HANG)
        if self.fail is not None:
            raise self.fail
        return [i * 10 for i in items]


def test_on_the_loop_what_arrives_while_writing_is_one_batch_of_at_most_max_batch() -> None:
    async def scenario() -> tuple[list[int], HeldAsyncWrite, AsyncGroupCommit[int, int]]:
        write = HeldAsyncWrite()
        group = AsyncGroupCommit(write, max_batch=8)
        assert await group.submit(7) == 70  # a lone item, at once
        write.hold()
        first = asyncio.ensure_future(group.submit(0))
        await asyncio.wait_for(write.entered.wait(), HANG)  # the writer is busy with item 0
        rest = [asyncio.ensure_future(group.submit(i)) for i in range(1, 21)]
        await asyncio.sleep(0)
        assert group.queued == 20 and not any(f.done() for f in rest)
        write.release.set()
        return list(await asyncio.gather(first, *rest)), write, group

    results, write, group = asyncio.run(scenario())
    assert results == [i * 10 for i in range(21)]
    assert [len(b) for b in write.batches] == [1, 1, 8, 8, 4]
    assert (group.batches, group.commits, group.items, group.largest) == (5, 5, 22, 8)
    assert group._writer is None  # no task is left when nothing is queued


def test_on_the_loop_a_failed_batch_fails_its_callers_and_a_cancelled_wait_is_written() -> None:
    async def scenario() -> tuple[HeldAsyncWrite, AsyncGroupCommit[int, int], list[object]]:
        write = HeldAsyncWrite()
        group = AsyncGroupCommit(write)
        write.hold()
        first = asyncio.ensure_future(group.submit(0))
        await asyncio.wait_for(write.entered.wait(), HANG)
        doomed = [asyncio.ensure_future(group.submit(i)) for i in (1, 2)]
        abandoned = asyncio.ensure_future(group.submit(3))
        await asyncio.sleep(0)
        abandoned.cancel()  # the caller went away before its batch was written
        write.fail = ConnectionError("the database went away")
        write.release.set()
        outcomes = await asyncio.gather(first, *doomed, abandoned, return_exceptions=True)
        write.fail = None
        outcomes.append(await group.submit(4))  # the writer carries on
        return write, group, outcomes

    write, group, outcomes = asyncio.run(scenario())
    assert [type(o).__name__ for o in outcomes[:3]] == ["ConnectionError"] * 3
    assert isinstance(outcomes[3], asyncio.CancelledError) and outcomes[4] == 40
    assert write.batches == [[0], [1, 2, 3], [4]]  # item 3 was in its batch all the same
    assert (group.batches, group.commits, group.items) == (3, 1, 1)
