"""The closed-loop load generator's bounds (count, errors, loopback only) and its CPU per
request; no timing checks."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bench.clients import Limits, closed_loop, local_only
from bench.processes import CpuMeter
from bench.stats import Summary


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


# a server that spends 5 ms of CPU on each line it is sent, then answers it
BURNING_SERVER = """
import sys, time
for line in sys.stdin:
    until = time.process_time() + 0.005
    while time.process_time() < until:
        pass
    sys.stdout.write(line)
    sys.stdout.flush()
"""


def test_the_cpu_per_request_is_the_servers_own_over_the_requests_answered() -> None:
    """A server process burns 5 ms of CPU per request: its cell says about 5 ms of server CPU
    per request (read from /proc), and the client's own, smaller, beside it."""

    async def run() -> Summary:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", BURNING_SERVER,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert server.stdin is not None and server.stdout is not None
        stdin, stdout = server.stdin, server.stdout

        async def call(i: int) -> None:
            stdin.write(f"{i}\n".encode())
            await stdin.drain()
            assert await stdout.readline() == f"{i}\n".encode()

        try:
            limits = Limits(warmup_s=0.3, duration_s=1.5, max_requests=100_000)
            summary, errors = await closed_loop(call, 1, limits, CpuMeter({"server": server.pid}))
        finally:
            stdin.close()
            await server.wait()
        assert errors == []
        return summary

    summary = asyncio.run(run())
    cpu = summary.cpu_ms_per_request
    assert cpu is not None and set(cpu) == {"server", "client"}
    assert 4.5 <= cpu["server"] <= 6.5, cpu  # 5 ms a request, and reading its line
    assert cpu["client"] < cpu["server"]
    assert summary.requests > 20
    assert summary.as_json()["cpu_ms_per_request"]["server"] == round(cpu["server"], 3)


def test_a_cell_without_a_meter_says_nothing_of_cpu() -> None:
    async def call(i: int) -> None:
        await asyncio.sleep(0)

    limits = Limits(warmup_s=0.0, duration_s=30.0, max_requests=20)
    summary, _ = asyncio.run(closed_loop(call, 2, limits))
    assert summary.cpu_ms_per_request is None
    assert "cpu_ms_per_request" not in summary.as_json()
