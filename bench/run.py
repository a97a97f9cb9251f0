"""``python -m bench.run --sizes 1000,10000,100000``: the whole benchmark, in one run.

For each size, smallest first: generate (or reuse) the data; empty the database and load it
with caregraph's pipeline; export the graph; start caregraph's service, the peer and the
limit over HTTP; ask the three questions through caregraph, hand-written Cypher (through the
driver, and over HTTP from a bare ASGI endpoint) and the peer at each concurrency; stop them;
empty the database and write the exported graph again as the limit. Then write
bench/results/latest.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data, ingest, latency, machine, profile, queries, report
from bench.clients import Limits
from bench.database import BenchNeo4j
from bench.http_limit import HttpLimitServer
from bench.peer import Peer
from bench.peer import versions as peer_versions
from bench.processes import CpuMeter
from bench.service import Service
from caregraph.graph.settings import Neo4jSettings

ROOT = Path(__file__).resolve().parents[1]


def _sizes(text: str) -> list[int]:
    sizes = sorted({int(x.replace("_", "")) for x in text.split(",") if x.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive numbers of patients: 1000,10000")
    return sizes


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=_sizes, default=[1000], help="patients, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clients", type=_ints, default=[1, 8, 32], help="concurrency levels")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds per cell")
    p.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell")
    p.add_argument("--max-requests", type=int, default=3000, help="measured requests per cell")
    p.add_argument("--limit-modes", default="create,merge", help="create and/or merge")
    p.add_argument("--batch-size", type=int, default=LOAD_BATCH, help="caregraph's load batch size")
    p.add_argument("--heap", default="3g", help="managed Neo4j heap")
    p.add_argument("--pagecache", default="4g", help="managed Neo4j page cache")
    p.add_argument("--no-peer", action="store_true", help="skip @neo4j/graphql")
    p.add_argument(
        "--no-http-limit", action="store_true", help="skip the hand-written Cypher over HTTP"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="uvicorn workers of caregraph's service and of the limit over HTTP (one per core)",
    )
    p.add_argument(
        "--profile", action="store_true", help="also cProfile caregraph's load (smallest size)"
    )
    p.add_argument(
        "--no-initial",
        action="store_true",
        help="skip caregraph load --initial (the bulk import: 40 min at 100k patients here)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="keep the sizes (and profile) already in --json that this run does not measure: "
        "a long run in parts, such as 1k and 10k, then 100k",
    )
    p.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


WARM_UP_PATIENTS = 300
LOAD_BATCH = 500  # caregraph's load batch size unless --batch-size says otherwise


class WarmUp:
    """Neo4j is restarted for every measured load (an empty store), and a cold JVM wrote the
    first 14k records 2.6 times slower than a warm one (11.5 s against 4.4 s). So before each
    measured load, caregraph's load and both limits write a small dataset once, which is
    then deleted: whichever is measured, it meets a JVM warmed on all three write paths.
    Not reported."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.exported: ingest.Export | None = None

    def __call__(self, db: BenchNeo4j) -> None:
        log(f"  warming Neo4j up ({WARM_UP_PATIENTS} patients, then deleted)")
        dataset = data.ensure(self.args.data, WARM_UP_PATIENTS, self.args.seed)
        ingest.load_caregraph(dataset, db.connection(), self.work, batch_size=self.args.batch_size)
        if self.exported is None:
            self.exported = ingest.export(db.driver, db.database, self.work / "export-warm.pickle")
        for mode in ("create", "merge"):
            db.delete_data()
            ingest.write_limit(db.driver, db.database, self.exported, mode)
        db.delete_data()


def run_size(
    args: argparse.Namespace, db: BenchNeo4j, n: int, work: Path, warm: Callable[[BenchNeo4j], None]
) -> dict[str, Any]:
    """Everything measured at one size."""
    log(f"{n} patients: data")
    dataset = data.ensure(args.data, n, args.seed, layout=data.MEASURED_LAYOUT)
    out: dict[str, Any] = {
        "patients": n,
        "data": {
            "path": str(dataset.path.relative_to(ROOT)) if dataset.path.is_relative_to(ROOT)
            else str(dataset.path),
            "generate_seconds": dataset.generate_seconds,
            "counts": dataset.manifest["counts"],
        },
    }  # fmt: skip

    log(f"{n} patients: caregraph load")
    db.empty()
    warm(db)
    cg = ingest.load_caregraph(
        dataset, db.connection(), work, batch_size=args.batch_size, neo4j_pid=db.server_pid()
    )
    graph = ingest.census(db.driver, db.database)
    log(f"  {cg.records} records, {graph.elements} graph elements in {cg.seconds:.1f} s")
    exported = ingest.export(db.driver, db.database, work / f"export-{n}.pickle")

    out["queries"], out["agreement"], out["memory"] = _queries(args, db, dataset, work)

    limits: dict[str, ingest.LimitLoad] = {}
    for mode in [m.strip() for m in args.limit_modes.split(",") if m.strip()]:
        log(f"{n} patients: the limit ({mode})")
        db.empty()
        warm(db)
        limit = ingest.write_limit(db.driver, db.database, exported, mode, db.server_pid())
        limit.census = ingest.census(db.driver, db.database)
        log(f"  {limit.census.elements} graph elements in {limit.seconds:.1f} s")
        limits[mode] = limit
    out["ingest"] = report.ingest_figures(cg, graph, exported, limits)
    if db.server is not None and not args.no_initial:  # neo4j-admin: the managed server only
        log(f"{n} patients: caregraph load --initial")
        db.empty()  # no warm-up: the import stops and starts the server, whatever ran before
        initial = ingest.load_initial(dataset, db, batch_size=args.batch_size)
        out["ingest"].update(ingest.initial_figures(cg, graph, initial))
        log(f"  {initial.records} records in {initial.seconds:.1f} s, same graph: "
            f"{out['ingest']['initial']['same_graph']}")  # fmt: skip
    exported.path.unlink(missing_ok=True)
    return out


def _meters(
    db: BenchNeo4j, service: Service, http_limit: HttpLimitServer | None, peer: Peer | None
) -> dict[str, CpuMeter]:
    """By system, the processes whose CPU its cells measure: its server (caregraph's service,
    the limit over HTTP, the peer, each with its workers), Neo4j when the bench started it,
    and this process, the client (every system's load comes from it)."""
    neo4j = db.server_pid()
    shared = {"neo4j": neo4j} if neo4j is not None else {}
    servers = {"caregraph": service.child, "cypher": None}
    if http_limit:
        servers["http_limit"] = http_limit.child
    if peer:
        servers["peer"] = peer.child
    return {
        system: CpuMeter({**({"server": child.pid} if child else {}), **shared})
        for system, child in servers.items()
    }


def _queries(
    args: argparse.Namespace, db: BenchNeo4j, dataset: data.Dataset, work: Path
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    logs = work / "logs"
    services = {"caregraph": Service(logs, work / "state", workers=args.workers)}
    service = services["caregraph"]
    peer = None if args.no_peer else Peer(logs)
    # on as many workers as caregraph's service, so that the two differ only in what a
    # request does
    http_limit = None if args.no_http_limit else HttpLimitServer(logs, service.workers)
    try:
        log(f"{dataset.patients} patients: starting caregraph serve, the peer, the limit over HTTP")
        for svc in services.values():
            svc.start(db.connection(), db.driver)
        if peer:
            peer.start(db.connection())
        if http_limit:
            http_limit.start(db.connection())
        sample = queries.sample(db.driver, db.database, dataset.as_of, seed=args.seed)
        endpoints = latency.Endpoints(
            {name: (svc.url, svc.headers) for name, svc in services.items()},
            peer.url if peer else None,
            db.connection(),
            http_limit.url if http_limit else None,
        )
        asked = queries.questions(sample)
        agreement: dict[str, dict[str, Any]] = {}
        for q in asked:
            a = latency.agreement(endpoints, q, min(20, len(sample.patients)))
            agreement[q.name] = {"items": a.counts, "errors": a.errors, "agree": a.agree}
            if a.http_limit_equals_cypher is not None:
                agreement[q.name]["http_limit_equals_cypher"] = a.http_limit_equals_cypher
        limits = Limits(args.warmup, args.duration, args.max_requests)
        meters = _meters(db, service, http_limit, peer)
        cells = latency.measure(endpoints, asked, args.clients, limits, log, meters)
        memory = {"caregraph_serve_kb": service.child.memory_kb()}
        if peer:
            memory["peer_kb"] = peer.child.memory_kb()
        if http_limit:
            memory["http_limit_kb"] = http_limit.child.memory_kb()
        return report.query_figures(cells), agreement, memory
    finally:
        for svc in services.values():
            svc.stop()
        if peer:
            peer.stop()
        if http_limit:
            http_limit.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    work = args.data / "work"
    work.mkdir(parents=True, exist_ok=True)
    external = Neo4jSettings()
    db = BenchNeo4j(
        args.data / "neo4j",
        heap=args.heap,
        pagecache=args.pagecache,
        external=external if external.external else None,
    )
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    log("starting Neo4j" if db.external is None else f"using Neo4j at {external.uri}")
    db.start()
    results: dict[str, Any] = {}
    kept_profile: dict[str, Any] | None = None
    if args.keep and args.json.exists():
        earlier = json.loads(args.json.read_text())
        results = {n: r for n, r in earlier["by_size"].items() if int(n) not in args.sizes}
        kept_profile = earlier["ingest"].get("profile") if results else None
        log(f"keeping the figures of {', '.join(results) or 'no size'} from {args.json}")

    def save(prof: dict[str, Any] | None = None) -> None:
        host["load_average_at_end"] = machine.load_average()
        doc = report.build(
            results,
            host,
            vars(args),
            started,
            time.perf_counter() - t0,
            profile=prof or kept_profile,
        )
        report.write(doc, args.json, args.doc)
        log(f"wrote {args.json} and {args.doc}")

    try:
        peer = {} if args.no_peer else _peer_versions()
        memory = "external" if db.external else f"heap {args.heap}, page cache {args.pagecache}"
        host = machine.describe(db.version(), memory, peer)
        warm = WarmUp(args, work)
        for n in args.sizes:
            results[str(n)] = run_size(args, db, n, work, warm)
            # Written after every size, so that a run stopped or failing at a larger size
            # (100k patients take over an hour here) keeps the figures of the smaller ones.
            save()
        if args.profile:
            log(f"profiling caregraph's load at {args.sizes[0]} patients")
            save(profile.run(args, db, work))
    finally:
        db.stop()
    return 0


def _peer_versions() -> dict[str, str]:
    from bench.peer import install

    install()
    return peer_versions()


if __name__ == "__main__":
    sys.exit(main())
