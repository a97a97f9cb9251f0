"""Queries: every question, through every system, at every concurrency, on one graph."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from neo4j import AsyncGraphDatabase

from bench.clients import Call, Limits, closed_loop, cypher_call, graphql_call, http_call
from bench.http_limit import json_default
from bench.queries import Asked
from bench.stats import Summary
from caregraph.graph.settings import Neo4jSettings


@dataclass(frozen=True)
class Endpoints:
    """Where each system answers: caregraph's services by name (url, headers), the peer,
    the limit over HTTP (bench/http_limit.py), Neo4j."""

    caregraph: dict[str, tuple[str, dict[str, str]]]  # name: (url, headers)
    peer_url: str | None  # None: the peer is skipped
    neo4j: Neo4jSettings
    http_limit_url: str | None = None  # None: the limit over HTTP is skipped


@dataclass
class Cell:
    question: str
    system: str
    clients: int
    summary: Summary
    errors: list[str]


@dataclass
class Agreement:
    """Items in the answers of each system to the same first requests (a sanity check), and
    whether the limit over HTTP gave the very answers of the raw Cypher (None: not asked)."""

    question: str
    counts: dict[str, int]
    errors: dict[str, str]
    http_limit_equals_cypher: bool | None = None

    @property
    def agree(self) -> bool:
        values = set(self.counts.values())
        return len(values) == 1 and not self.errors


async def _with_calls(
    endpoints: Endpoints, asked: Asked, clients: int, body: Any
) -> Any:  # body(calls: dict[str, Call]) -> awaitable
    conn = endpoints.neo4j
    password = conn.password.get_secret_value() if conn.password else ""
    assert conn.uri
    pool = max(clients, 1)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    async with (
        httpx.AsyncClient(timeout=60.0, limits=limits) as http,
        AsyncGraphDatabase.driver(
            conn.uri, auth=(conn.username, password), max_connection_pool_size=max(clients, 8),
            notifications_min_severity="OFF",
        ) as driver,
    ):  # fmt: skip
        calls: dict[str, Call] = {
            name: graphql_call(http, url, asked.caregraph[0], asked.caregraph[1], headers)
            for name, (url, headers) in endpoints.caregraph.items()
        }
        if endpoints.http_limit_url:
            url = f"{endpoints.http_limit_url}/{asked.name}"
            calls["http_limit"] = http_call(http, url, asked.cypher[1])
        calls["cypher"] = cypher_call(driver, conn.database, asked.cypher[0], asked.cypher[1])
        if endpoints.peer_url:
            calls["peer"] = graphql_call(http, endpoints.peer_url, asked.peer[0], asked.peer[1])
        return await body(calls)


def agreement(endpoints: Endpoints, asked: Asked, requests: int) -> Agreement:
    """Ask each system the first ``requests`` questions in turn; count their answers' items
    (this also warms every system's caches for the measured cells)."""
    counters = {
        "cypher": asked.count_cypher,
        "http_limit": asked.count_cypher,  # the same records, as JSON
        "peer": asked.count_peer,
        **{name: asked.count_caregraph for name in endpoints.caregraph},
    }

    async def body(calls: dict[str, Call]) -> Agreement:
        counts: dict[str, int] = {}
        errors: dict[str, str] = {}
        answers: dict[str, list[Any]] = {}
        for system, call in calls.items():
            total = 0
            answers[system] = []
            try:
                for i in range(requests):
                    answer = await call(i)
                    total += counters[system](answer)
                    answers[system].append(answer)
            except Exception as e:  # reported in the results, and the cells will show it too
                errors[system] = f"{type(e).__name__}: {str(e)[:300]}"
            counts[system] = total
        same = None
        if "http_limit" in calls and not errors.keys() & {"http_limit", "cypher"}:
            same = answers["http_limit"] == [as_json(rs) for rs in answers["cypher"]]
        return Agreement(asked.name, counts, errors, same)

    result: Agreement = asyncio.run(_with_calls(endpoints, asked, 1, body))
    return result


def as_json(records: Any) -> Any:
    """The driver's records as the limit over HTTP writes them, parsed back: what its answer
    must equal, value for value."""
    return orjson.loads(orjson.dumps([r.data() for r in records], default=json_default))


def _cpu(per_request: Mapping[str, float] | None) -> str:
    """The CPU per request as the progress line says it."""
    if not per_request:
        return ""
    return "  CPU ms/request: " + ", ".join(f"{k} {v:.2f}" for k, v in per_request.items())


def measure(
    endpoints: Endpoints,
    questions: Sequence[Asked],
    concurrency: Sequence[int],
    limits: Limits,
    progress: Any = print,
    meters: Mapping[str, Callable[[], dict[str, float]]] | None = None,
) -> list[Cell]:
    """Every question x concurrency x system; systems interleaved so drift hits all alike.
    ``meters``: by system, what reads the CPU of the processes that serve it (its cells then
    say the CPU per request of each, bench.clients.closed_loop)."""
    meters = meters or {}
    cells: list[Cell] = []
    for asked in questions:
        for clients in concurrency:

            async def body(
                calls: dict[str, Call], clients: int = clients, name: str = asked.name
            ) -> list[Cell]:
                out = []
                for system, call in calls.items():
                    summary, errors = await closed_loop(call, clients, limits, meters.get(system))
                    out.append(Cell(name, system, clients, summary, errors))
                return out

            done: list[Cell] = asyncio.run(_with_calls(endpoints, asked, clients, body))
            for cell in done:
                s = cell.summary
                progress(
                    f"  {cell.question:<24} {cell.system:<10} {cell.clients:>2} clients: "
                    f"p50 {s.p50_ms:8.2f} ms  p99 {s.p99_ms:8.2f} ms  "
                    f"{s.throughput_rps:8.1f} req/s  ({s.requests} ok, {s.errors} failed)"
                    + _cpu(s.cpu_ms_per_request)
                )
            cells.extend(done)
    return cells
