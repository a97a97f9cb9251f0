"""``python -m bench.terminology``: what ICD-10-CM costs to load, and what `underCode` costs.

On a generated Riverside Health of ``--patients`` patients, loaded source by source into a
Neo4j of its own: the shipped ICD-10-CM release is read, loaded (concepts, BROADER links, the
store's growth on disk) and loaded again (a rerun that changes nothing); then a patient's
visits are asked for with and without ``underCode: "I20-I25"`` (every code under the block of
ischemic heart diseases), each ``--requests`` times over up to 100 patients, one request at a
time, through the GraphQL schema in this process (an admin's context, no HTTP: the filter's
cost, not the transport's). It prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.database import BenchNeo4j
from bench.queries import sample
from caregraph.api.auth import Principal, Role
from caregraph.api.context import Context
from caregraph.api.fanout import FanoutCache
from caregraph.api.schema import schema
from caregraph.api.settings import ApiSettings
from caregraph.loaders import terminology as lt
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load

VISITS = """query($id: String!, $under: String) { patient(identifier: $id) {
  encounters(underCode: $under, first: 20) { totalCount edges { node { key start } } } } }"""
RANGE = "I20-I25"


def _store_bytes(neo: BenchNeo4j) -> int:
    """The database's store files on disk, read with the server stopped (a clean shutdown
    flushes the store: Community has no db.checkpoint()); the server is started again."""
    assert neo.server is not None
    neo._close_driver()
    neo.server.stop()
    folder = neo.server.data_dir / "databases" / neo.database
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    neo.server.start()
    return size


def _latencies(neo: BenchNeo4j, patients: tuple[str, ...], under: str | None, n: int) -> dict:
    principal = Principal("bench:terminology", Role.admin, "bench")
    fanout = FanoutCache()
    took: list[float] = []
    found = 0

    async def one(i: int) -> None:
        nonlocal found
        ctx = Context(
            driver=neo.driver,
            database=neo.database,
            settings=ApiSettings(),
            fanout=fanout,
            principal=principal,
        )
        started = time.perf_counter()
        result = await schema.execute(
            VISITS,
            variable_values={"id": patients[i % len(patients)], "under": under},
            context_value=ctx,
        )
        took.append((time.perf_counter() - started) * 1000)
        if result.errors:
            raise RuntimeError(result.errors[0].message)
        data: Any = result.data
        found += data["patient"]["encounters"]["totalCount"] if data["patient"] else 0

    async def run() -> None:
        for i in range(n):
            await one(i)

    asyncio.run(run())
    ordered = sorted(took)
    return {
        "requests": n,
        "p50Ms": round(statistics.median(ordered), 2),
        "p95Ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "visitsFound": found,
    }


def measure(neo: BenchNeo4j, work: Path, patients: int, requests: int) -> dict[str, object]:
    """Load the health system, then ICD-10-CM twice, then ask; the figures."""
    data = work / f"riverside-{patients}"
    manifest = generate(data, patients, seed=0)
    identity = IdentityConfig.from_file(data / "identity.toml")
    neo.empty()
    for source, paths in manifest["sources"].items():
        load(
            [data / p for p in paths],
            driver=neo.driver,
            database=neo.database,
            source=source,
            identity=identity,
        )
    before = _store_bytes(neo)
    started = time.perf_counter()
    release = lt.icd10cm()
    read_s = time.perf_counter() - started
    first = lt.load(neo.driver, neo.database, release)
    again = lt.load(neo.driver, neo.database, release)
    after = _store_bytes(neo)
    asked = sample(neo.driver, neo.database, date(2025, 1, 1)).patients
    _latencies(neo, asked, None, min(50, requests))  # warm-up: plans and page cache
    return {
        "patients": patients,
        "release": f"{release.name} {release.version}",
        "concepts": first.concepts,
        "broader": first.broader,
        "releaseReadSeconds": round(read_s, 2),
        "loadSeconds": round(first.seconds, 2),
        "reloadSeconds": round(again.seconds, 2),
        "reloadChanged": again.changes.changed,
        "storeGrowthMB": round((after - before) / 1e6, 1),
        "visits": _latencies(neo, asked, None, requests),
        "visitsUnder": {"range": RANGE, **_latencies(neo, asked, RANGE, requests)},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="ICD-10-CM's load and the underCode filter's cost.")
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--heap", default="1g", help="Neo4j heap (use 3g from 100k patients)")
    p.add_argument("--pagecache", default="1g", help="Neo4j page cache (4g from 100k)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="caregraph-bench-terminology-") as tmp:
        work = Path(tmp)
        neo = BenchNeo4j(work / "neo4j", heap=args.heap, pagecache=args.pagecache)
        neo.start()
        try:
            figures = measure(neo, work, args.patients, args.requests)
            figures["neo4j"] = neo.version()
        finally:
            neo.stop()
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
