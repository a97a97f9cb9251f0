"""``python -m bench.overload``: what callers see when more ask than the service can answer.

N clients in closed loops ask the benchmark's three questions in turn against ``caregraph
serve`` (one worker per core), for 32 and 128 clients, in three modes: admission control as
shipped with clients that send their next request as soon as the last one answered or was
refused, ignoring Retry-After (the worst case: every refusal comes straight back); the same
with clients that wait the Retry-After a refusal gives, as HTTP clients and agents' retry
libraries do; and admission control turned off (no bound in flight, no queue). Every
response is classified as the soak does (bench/answers.py): answered (200 with data),
refused on purpose (503 OVERLOADED or SERVICE_UNAVAILABLE with Retry-After, 429
RATE_LIMITED), or an error (anything else: a timeout, another status, an error body, a
dropped connection, a 503 that does not say when to come back). What the run shows is the
p50/p99/max of each class, so that overload is seen to produce quick refusals, not
timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import data, ingest, machine, queries
from bench.answers import classify
from bench.clients import local_only
from bench.database import BenchNeo4j
from bench.service import Service
from bench.stats import percentile
from caregraph.graph.settings import Neo4jSettings

ROOT = Path(__file__).resolve().parents[1]
# no admission control: a bound nobody reaches, and nothing queued
UNBOUNDED = {"CAREGRAPH_API_MAX_IN_FLIGHT": "100000", "CAREGRAPH_API_MAX_QUEUED": "0"}


@dataclass(frozen=True)
class Mode:
    """The service's settings, and whether its clients wait the Retry-After of a refusal."""

    env: dict[str, str]
    waits_retry_after: bool = False


MODES = {
    "admission": Mode({}),
    "admission, clients wait Retry-After": Mode({}, waits_retry_after=True),
    "unbounded": Mode(UNBOUNDED),
}


@dataclass
class Outcomes:
    """The responses of one run, by class, with their latencies in milliseconds."""

    answered: list[float] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    refusal_codes: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, response: httpx.Response | None, error: str | None, ms: float) -> None:
        """Classify one response (``None`` with ``error`` when none came back), as the soak
        does (bench/answers.py)."""
        if response is None:
            self.errors.append(ms)
            self.error_kinds[error or "no response"] += 1
            return
        verdict = classify(response.status_code, response.headers, response.content)
        if verdict.kind == "ok":
            self.answered.append(ms)
        elif verdict.kind == "refused":
            self.refused.append(ms)
            self.refusal_codes[verdict.label] += 1
        else:
            self.errors.append(ms)
            self.error_kinds[verdict.label] += 1

    def figures(self) -> dict[str, Any]:
        total = len(self.answered) + len(self.refused) + len(self.errors)
        return {
            "requests": total,
            "seconds": round(self.seconds, 2),
            "answered": _latency(self.answered),
            "answered_per_s": round(len(self.answered) / self.seconds, 1) if self.seconds else 0,
            "refused": _latency(self.refused),
            "refusal_codes": dict(self.refusal_codes),
            "errors": _latency(self.errors),
            "error_kinds": dict(self.error_kinds),
        }


def _latency(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"count": 0}
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1),
    }


async def pressure(
    url: str,
    headers: dict[str, str],
    asked: list[queries.Asked],
    clients: int,
    duration_s: float,
    timeout_s: float = 30.0,
    waits_retry_after: bool = False,
) -> Outcomes:
    """``clients`` closed loops for ``duration_s`` seconds; every response classified. With
    ``waits_retry_after``, a client refused waits the seconds the refusal says first."""
    local_only(url)
    out = Outcomes()
    counter = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        begin = time.perf_counter()
        stop_at = begin + duration_s

        async def loop() -> None:
            nonlocal counter
            while time.perf_counter() < stop_at:
                i = counter
                counter += 1
                question = asked[i % len(asked)]
                query, variables = question.caregraph
                t0 = time.perf_counter()
                response: httpx.Response | None = None
                error: str | None = None
                try:
                    response = await client.post(
                        url, json={"query": query, "variables": variables(i)}, headers=headers
                    )
                except httpx.HTTPError as e:  # a timeout or a dropped connection: an error
                    error = type(e).__name__
                out.add(response, error, (time.perf_counter() - t0) * 1000)
                wait = _retry_after(response) if waits_retry_after else 0.0
                if wait:
                    await asyncio.sleep(min(wait, max(0.0, stop_at - time.perf_counter())))

        await asyncio.gather(*(loop() for _ in range(clients)))
        out.seconds = time.perf_counter() - begin
    return out


def _retry_after(response: httpx.Response | None) -> float:
    """The seconds a refusal (503 or 429) asks the client to wait; 0 for anything else."""
    if response is None or response.status_code not in (429, 503):
        return 0.0
    try:
        return max(0.0, float(response.headers.get("retry-after", "0")))
    except ValueError:
        return 0.0


def measure(
    conn: Neo4jSettings,
    db_driver: Any,
    database: str,
    as_of: Any,
    work: Path,
    clients: list[int],
    duration_s: float,
    modes: dict[str, Mode],
    warmup_s: float = 15.0,
) -> dict[str, Any]:
    """For each mode and each client count: the outcomes' figures."""
    sample = queries.sample(db_driver, database, as_of)
    asked = queries.questions(sample)
    results: dict[str, Any] = {}
    for i, (mode, how) in enumerate(modes.items()):
        service = Service(work / "logs" / f"mode-{i}", work / "state", how.env)
        service.start(conn, db_driver)
        try:
            # each service warmed up before it is measured (its workers' first queries, Neo4j's
            # plan cache and JIT): unwarmed, the first mode measured ran at a third of the
            # speed of the next on the same data, whatever its settings
            asyncio.run(pressure(service.url, service.headers, asked, 8, warmup_s))
            for n in clients:
                outcome = asyncio.run(
                    pressure(
                        service.url, service.headers, asked, n, duration_s,
                        waits_retry_after=how.waits_retry_after,
                    )
                )  # fmt: skip
                results.setdefault(mode, {})[str(n)] = outcome.figures()
                print(f"  {mode}, {n} clients: {_line(outcome.figures())}", flush=True)
        finally:
            service.stop()
    return results


def _line(f: dict[str, Any]) -> str:
    a, r, e = f["answered"], f["refused"], f["errors"]
    return (
        f"{a['count']} answered (p50 {a.get('p50_ms', '-')} ms, p99 {a.get('p99_ms', '-')} ms, "
        f"max {a.get('max_ms', '-')} ms), {r['count']} refused (p99 {r.get('p99_ms', '-')} ms), "
        f"{e['count']} errors {f['error_kinds'] or ''}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.overload", description=__doc__.splitlines()[0]
    )
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--clients", default="32,128", help="client counts, comma-separated")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per cell")
    p.add_argument("--no-unbounded", action="store_true", help="skip the run without admission")
    p.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args(argv)
    clients = [int(x) for x in args.clients.split(",") if x.strip()]
    modes = {k: m for k, m in MODES.items() if not (args.no_unbounded and m.env is UNBOUNDED)}
    with tempfile.TemporaryDirectory(prefix="caregraph-overload-") as tmp:
        work = Path(tmp)
        db = BenchNeo4j(work / "neo4j", heap="1g", pagecache="1g")
        db.start()
        try:
            dataset = data.ensure(args.data, args.patients)
            ingest.load_caregraph(dataset, db.connection(), work)
            figures = {
                "machine": machine.describe(db.version(), "heap 1g, page cache 1g", {}),
                "patients": args.patients,
                "duration_s": args.duration,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "modes": measure(
                    db.connection(), db.driver, db.database, dataset.as_of, work, clients,
                    args.duration, modes,
                ),
            }  # fmt: skip
        finally:
            db.stop()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
