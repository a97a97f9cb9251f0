"""The closed-loop load generator's bounds (count, errors, loopback only); no timing checks."""

from __future__ import annotations

import asyncio

import pytest

from bench.clients import Limits, closed_loop, local_only


def test_load_goes_only_to_loopback() -> None:
    assert local_only("http://127.0.0.1:8000/graphql")
    with pytest.raises(ValueError, match=r"only ever sent to 127\.0\.0\.1"):
        local_only("http://example.org/graphql")


def test_a_cell_stops_at_its_request_bound() -> None:
    calls: list[int] = []

    async def call(i: int) -> None:
        calls.append(i)
        await asyncio.sleep(0)

    limits = Limits(warmup_s=0.0, duration_s=30.0, max_requests=50)
    summary, errors = asyncio.run(closed_loop(call, 4, limits))
    assert summary.requests == 50
    assert errors == []
    assert len(calls) < 60  # at most one request in flight per client past the bound


def test_clients_ask_distinct_consecutive_arguments() -> None:
    seen: list[int] = []

    async def call(i: int) -> None:
        seen.append(i)
        await asyncio.sleep(0)

    asyncio.run(closed_loop(call, 8, Limits(warmup_s=0.0, duration_s=30.0, max_requests=40)))
    assert sorted(seen) == list(range(len(seen)))


def test_a_failing_system_is_stopped_early_and_its_errors_kept() -> None:
    async def call(i: int) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("no answer")

    limits = Limits(warmup_s=0.0, duration_s=30.0, max_requests=1000)
    summary, errors = asyncio.run(closed_loop(call, 2, limits))
    assert summary.requests == 0
    assert 20 <= summary.errors < 1000
    assert errors and errors[0] == "RuntimeError: no answer"
    assert len(errors) <= 5
