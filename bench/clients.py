"""Closed-loop load: N clients, each sending its next request when the last one answered.

Every request goes to 127.0.0.1 only, and a cell is bounded both in time (warm-up plus
measured seconds) and in count (``max_requests`` measured requests), so a run cannot flood
anything or go on for ever. Requests that start during the warm-up are not measured; the
measured window's throughput is its completed requests over its wall time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import httpx
from neo4j import AsyncDriver, RoutingControl

from bench.http_limit import encode_params
from bench.stats import Summary, summarize

Call = Callable[[int], Awaitable[Any]]  # the i-th request; raises when it fails


class AnswerError(Exception):
    """A request that came back without an answer (HTTP error, GraphQL errors, no data)."""


@dataclass(frozen=True)
class Limits:
    """How long and how much one cell may run."""

    warmup_s: float = 1.0
    duration_s: float = 5.0
    max_requests: int = 3000
    max_error_share: float = 0.5  # a cell failing more than this is stopped early


def local_only(url: str) -> str:
    """The URL, if it points at this machine's loopback; anything else is refused."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"load is only ever sent to 127.0.0.1, not to {host}")
    return url


async def closed_loop(
    call: Call, clients: int, limits: Limits, meter: Callable[[], dict[str, float]] | None = None
) -> tuple[Summary, list[str]]:
    """Run ``clients`` concurrent closed loops of ``call``; the measured window's summary and
    the first few error messages.

    ``meter``: CPU seconds used so far by each process that serves the calls (a
    :class:`bench.processes.CpuMeter`), read when the measured window opens and once every
    call has finished; their difference over the calls that finished in between is the
    summary's ``cpu_ms_per_request``. The calls in flight when the window opens did part of
    their work before it, the ones that end after it closes all of theirs inside: at most
    ``clients`` calls out of the window's, counted as the ones that finished."""
    latencies: list[float] = []
    errors: list[str] = []
    error_count = 0
    counter = 0
    begin = time.perf_counter()
    measure_from = begin + limits.warmup_s
    stop_at = measure_from + limits.duration_s
    last_end = measure_from
    marked: dict[str, float] = {}
    marked_at = float("inf")
    finished_since_mark = 0

    def done() -> bool:
        now = time.perf_counter()
        if now >= stop_at or len(latencies) >= limits.max_requests:
            return True
        measured = len(latencies) + error_count
        return measured >= 20 and error_count > limits.max_error_share * measured

    async def mark(read: Callable[[], dict[str, float]]) -> None:
        nonlocal marked_at
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        marked.update(await asyncio.to_thread(read))  # /proc read off the loop: no stall
        marked_at = time.perf_counter()

    async def client() -> None:
        nonlocal counter, error_count, last_end, finished_since_mark
        while not done():
            i = counter
            counter += 1
            t0 = time.perf_counter()
            try:
                await call(i)
            except Exception as e:  # a failed request is counted and reported, not fatal
                if t0 >= measure_from:
                    error_count += 1
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {str(e)[:300]}")
                finished_since_mark += time.perf_counter() >= marked_at
                continue
            t1 = time.perf_counter()
            finished_since_mark += t1 >= marked_at
            if t0 >= measure_from and t1 <= stop_at and len(latencies) < limits.max_requests:
                latencies.append(t1 - t0)
                last_end = max(last_end, t1)

    marking = asyncio.create_task(mark(meter)) if meter is not None else None
    await asyncio.gather(*(client() for _ in range(clients)))
    window = (stop_at if len(latencies) < limits.max_requests else last_end) - measure_from
    summary = summarize(latencies, error_count, max(window, 1e-9))
    if marking is not None and meter is not None:
        if not marking.done():  # stopped before the window opened (errors): nothing to say
            marking.cancel()
        elif finished_since_mark:
            used = meter()
            summary = replace(summary, cpu_ms_per_request={
                name: 1000 * (used[name] - marked[name]) / finished_since_mark for name in used
            })  # fmt: skip
    return summary, errors


def graphql_call(
    client: httpx.AsyncClient,
    url: str,
    query: str,
    variables: Callable[[int], dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> Call:
    """POST the query with the i-th variables; the parsed ``data`` or an AnswerError."""
    local_only(url)

    async def call(i: int) -> Any:
        response = await client.post(
            url, json={"query": query, "variables": variables(i)}, headers=headers
        )
        if response.status_code != 200:
            raise AnswerError(f"HTTP {response.status_code}: {response.text[:200]}")
        body = response.json()
        if body.get("errors"):
            raise AnswerError(str(body["errors"])[:300])
        if body.get("data") is None:
            raise AnswerError("no data")
        return body["data"]

    return call


def cypher_call(
    driver: AsyncDriver, database: str, cypher: str, params: Callable[[int], dict[str, Any]]
) -> Call:
    """Run the query with the i-th parameters through the driver; the records."""

    async def call(i: int) -> Any:
        records, _, _ = await driver.execute_query(
            cypher, params(i), database_=database, routing_=RoutingControl.READ
        )
        return records

    return call


def http_call(client: httpx.AsyncClient, url: str, params: Callable[[int], dict[str, Any]]) -> Call:
    """POST the i-th Cypher parameters to the limit over HTTP (bench/http_limit.py); the
    records as parsed JSON, or an AnswerError. Encoded and parsed as graphql_call does (httpx's
    JSON), so the client's own cost is the same for both."""
    local_only(url)

    async def call(i: int) -> Any:
        response = await client.post(url, json=encode_params(params(i)))
        if response.status_code != 200:
            raise AnswerError(f"HTTP {response.status_code}: {response.text[:200]}")
        return response.json()

    return call
