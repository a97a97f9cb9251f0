"""``python -m bench.durable_write``: what a request's audit record costs Neo4j at one client,
against a read and a plain durable write, and what that leaves of issue 16's p50 target.

An answer is not sent before its audit record is committed (api/audit.py), and at one client
no other request shares the commit (graph/groupcommit.py batches only what waits together).
So at one client every answer pays a durable write on top of its read. This measures, on an
empty managed Neo4j started as ``make bench`` starts it, one statement at a time through the
async driver as the service sends them:

- a read of one count;
- a write of one node (``CREATE``, auto-commit): the least a durable record can cost;
- caregraph's audit append of one record (graph/keys_and_audit.py ``awrite_audit``: the
  day's chain head, the record, its indexes, the anchor line);
- the disk's own ``fsync`` of a 300-byte append, for scale.

Each is timed in ``--rounds`` rounds of ``--n`` statements after a round that warms the JVM;
the figure is the median round's mean (wall and Neo4j's CPU from /proc, per statement). Then,
from ``bench/results/latest.json``, each query's p50 target (1.5 times the limit over HTTP's
p50) against the limit plus the one-node write: what is left for everything else caregraph
does per request. It prints a table and writes ``--result``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.database import BenchNeo4j
from bench.machine import describe
from bench.processes import cpu_s
from bench.report import TARGETS
from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import Anchors
from caregraph.graph.driver import open_async_driver
from caregraph.graph.settings import Neo4jSettings

ROOT = Path(__file__).resolve().parents[1]
SUBJECT = "bench.durable_write"  # the audit records this writes say who wrote them
EVENT: dict[str, Any] = {  # an audit event the size of a lookup's (no patient value in it)
    "subject": SUBJECT,
    "role": "clinician",
    "method": "api-key",
    "requestId": "bench",
    "purpose": "TREAT",
    "channel": "bench",
    "operation": "PatientLookup",
    "operationType": "query",
    "fields": ["patient", "patient.name", "patient.birthDate", "patient.identifiers"],
    "patients": ["bench-patient"],
    "outcome": "ok",
    "errorCodes": [],
}
STATEMENTS = ("read", "write one node", "audit append")


def measure(
    conn: Neo4jSettings, server_pid: int | None, anchors: Anchors, n: int, rounds: int
) -> dict[str, dict[str, float | None]]:
    """Per statement: ``wall_ms`` and ``neo4j_cpu_ms`` (None without the server's process),
    the median round's mean; the scratch nodes it wrote are deleted again."""
    return asyncio.run(_measure(conn, server_pid, anchors, n, rounds))


async def _measure(
    conn: Neo4jSettings, server_pid: int | None, anchors: Anchors, n: int, rounds: int
) -> dict[str, dict[str, float | None]]:
    driver = open_async_driver(conn)
    database = conn.database
    heads: dict[str, Any] = {}

    def server_cpu() -> float | None:
        return cpu_s(server_pid) if server_pid is not None else None

    async def run(query: str, **params: Any) -> None:
        async with driver.session(database=database) as session:
            await (await session.run(query, params)).consume()

    async def audit(_: int) -> None:
        record = keys_and_audit.audit_record(EVENT)
        await keys_and_audit.awrite_audit(driver, database, [record], anchors, heads)

    steps: dict[str, Callable[[int], Awaitable[None]]] = {
        "read": lambda _: run("MATCH (x:BenchScratch) RETURN count(x) AS n"),
        "write one node": lambda i: run("CREATE (:BenchScratch {i: $i})", i=i),
        "audit append": audit,
    }
    timed: dict[str, list[tuple[float, float | None]]] = {name: [] for name in steps}
    try:
        for round_ in range(rounds + 1):  # round 0 warms the JVM's code for each statement
            for name, step in steps.items():
                cpu0 = server_cpu()
                t0 = time.perf_counter()
                for i in range(n):
                    await step(i)
                wall = (time.perf_counter() - t0) / n * 1000
                cpu1 = server_cpu()
                cpu = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) / n * 1000
                if round_:
                    timed[name].append((wall, cpu))
        await run("MATCH (x:BenchScratch) CALL (x) { DELETE x } IN TRANSACTIONS OF 5000 ROWS")
    finally:
        await driver.close()
    return {name: _median_round(rows) for name, rows in timed.items()}


def _median_round(rows: list[tuple[float, float | None]]) -> dict[str, float | None]:
    wall, cpu = sorted(rows, key=lambda row: row[0])[len(rows) // 2]  # the median wall's round
    return {"wall_ms": round(wall, 3), "neo4j_cpu_ms": None if cpu is None else round(cpu, 3)}


def fsync_ms(directory: Path, n: int) -> float:
    """The mean time of a 300-byte append and its ``fsync`` in ``directory``."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 299 + b"\n")
            os.fsync(fd)
        return round((time.perf_counter() - t0) / n * 1000, 3)
    finally:
        os.close(fd)
        path.unlink()


def headroom(latest: dict[str, Any], write_ms: float) -> dict[str, dict[str, float]]:
    """Per query of ``latest`` (bench/results/latest.json's shape): the p50 target (the
    target ratio times the limit over HTTP's p50), the limit plus one durable write, what is
    left between them, and what caregraph spends there today (its p50 less the limit's and
    the write's)."""
    ratio = TARGETS["p50_to_http_limit"]
    out: dict[str, dict[str, float]] = {}
    for query, q in latest.get("queries", {}).items():
        limit, ours = q.get("http_limit_p50_ms"), q.get("p50_ms")
        if limit is None or ours is None:
            continue
        out[query] = {
            "http_limit_p50_ms": limit,
            "target_p50_ms": round(ratio * limit, 3),
            "limit_plus_write_ms": round(limit + write_ms, 3),
            "left_for_the_rest_ms": round(ratio * limit - limit - write_ms, 3),
            "caregraph_p50_ms": ours,
            "caregraph_rest_ms": round(ours - limit - write_ms, 3),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=800, help="statements per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--latest", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    p.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "durable-write.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="caregraph-durable-write-") as tmp:
        work = Path(tmp)
        neo = BenchNeo4j(work / "neo4j")
        neo.start()
        try:
            keys_and_audit.ensure_schema(neo.driver, neo.database)
            machine = describe(neo.version(), f"heap {neo.heap}, page cache {neo.pagecache}", {})
            anchors = Anchors(work / "audit-anchors", os.urandom(32))
            statements = measure(neo.connection(), neo.server_pid(), anchors, args.n, args.rounds)
            disk = fsync_ms(work, args.n)
        finally:
            neo.stop()
    latest = json.loads(args.latest.read_text()) if args.latest.exists() else {}
    write = statements["write one node"]["wall_ms"]
    assert write is not None  # measure always times the wall
    result = {
        "machine": machine,
        "n": args.n,
        "rounds": args.rounds,
        "statements": statements,
        "fsync_ms": disk,
        "headroom": headroom(latest, write),
        "headroom_from": f"{args.latest.name} of {latest.get('generated_at')}, "
        f"{latest.get('headline_size')} patients",
    }
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2) + "\n")
    for name, cost in statements.items():
        print(f"{name:16s} {cost['wall_ms']:7.3f} ms wall  {cost['neo4j_cpu_ms']} ms Neo4j CPU")
    print(f"{'fsync (disk)':16s} {disk:7.3f} ms")
    for query, h in result["headroom"].items():
        print(
            f"{query:24s} target {h['target_p50_ms']:6.2f} ms, limit + write "
            f"{h['limit_plus_write_ms']:6.2f}: {h['left_for_the_rest_ms']:5.2f} ms left; "
            f"caregraph spends {h['caregraph_rest_ms']:5.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
