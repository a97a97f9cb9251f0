"""A profile of caregraph's load: cProfile per source system, and time per Cypher statement.

The load runs again (on an empty database, at the smallest size) in the child with cProfile
on and the writer's statements and linking rules timed one by one; the slowest source (fewest
records per second) is summarised: where its time goes by pipeline stage, its top functions,
and its statements. The text lands in bench/results/profile-<N>.txt.
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
from pathlib import Path
from typing import Any

from bench import ingest
from bench.data import ensure
from bench.database import BenchNeo4j
from caregraph.graph.settings import Neo4jSettings

ROOT = Path(__file__).resolve().parents[1]

# Pipeline stages by the function that does them (file suffix, function name).
STAGES = (
    ("parse + map (the format's loader)", "loaders/registry.py", "_guarded"),
    ("validate (shapes, datatypes)", "loaders/pipeline.py", "problems"),
    ("write transaction (all below)", "loaders/pipeline.py", "_write"),
    ("  skip unchanged (lookup_hashes)", "graph/writer.py", "lookup_hashes"),
    ("  identity (resolve)", "loaders/identity.py", "resolve"),
    ("  records to rows", "loaders/write_rows.py", "to_rows"),
    ("  write_batch", "graph/writer.py", "write_batch"),
    ("  linking rules", "graph/linking.py", "apply_rules"),
)


def stages(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative seconds of each stage's function (wall time: cProfile's default timer)."""
    table: dict[tuple[str, int, str], Any] = stats.stats  # type: ignore[attr-defined]
    out = []
    for title, suffix, func in STAGES:
        total = sum(
            v[3] for (file, _, name), v in table.items() if name == func and file.endswith(suffix)
        )
        out.append((title, total))
    return out


def top(stats: pstats.Stats, sort: str, n: int = 25) -> str:
    buf = io.StringIO()
    stats.stream = buf  # type: ignore[attr-defined]  # pstats prints to its stream attribute
    stats.sort_stats(sort).print_stats(n)
    lines = buf.getvalue().splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls")), 0)
    return "\n".join(lines[start:])


def run(args: argparse.Namespace, db: BenchNeo4j, work: Path) -> dict[str, Any]:
    """Profile the load of the smallest size; write the text; return the summary."""
    n = args.sizes[0]
    dataset = ensure(args.data, n, args.seed)
    db.empty()
    prof_dir = work / f"profile-{n}"
    load = ingest.load_caregraph(
        dataset, db.connection(), work, profile=prof_dir, batch_size=args.batch_size
    )
    slow = load.slowest()
    prof_file = str(prof_dir / f"{slow.source}.prof")
    stage_times = stages(pstats.Stats(prof_file))  # full paths: stages match on them
    stats = pstats.Stats(prof_file).strip_dirs()
    statements = json.loads((prof_dir / "statements.json").read_text()).get(slow.source, {})
    ordered = sorted(statements.items(), key=lambda kv: -kv[1][0])
    text = [
        f"caregraph load profile: {n} patients, source '{slow.source}' (the slowest: "
        f"{slow.read} records in {slow.seconds:.1f} s under cProfile, "
        f"{slow.read / slow.seconds:.0f} records/s)",
        "",
        "Per source under the profiler (records/s):",
        *(f"  {s.source:<12} {s.read:>7} records {s.seconds:8.1f} s "
          f"{s.read / s.seconds if s.seconds else 0:8.0f}/s" for s in load.sources),
        "",
        "Stages (cumulative wall seconds):",
        *(f"  {title:<40} {secs:8.2f}" for title, secs in stage_times),
        "",
        "Cypher statements in the write transaction (wall seconds, calls):",
        *(f"  {name:<48} {v[0]:8.2f} {int(v[1]):6d}" for name, v in ordered),
        "",
        "Top functions by cumulative time:",
        top(stats, "cumulative"),
        "",
        "Top functions by own time:",
        top(stats, "tottime"),
    ]  # fmt: skip
    out = ROOT / "bench" / "results" / f"profile-{n}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(text) + "\n")
    return {
        "patients": n,
        "source": slow.source,
        "records": slow.read,
        "seconds": round(slow.seconds, 2),
        "stages_s": {title.strip(): round(secs, 2) for title, secs in stage_times},
        "statements_s": {name: round(v[0], 2) for name, v in ordered[:12]},
        "text": str(out.relative_to(ROOT)),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.profile --sizes 1000``: the profile alone, on the bench's Neo4j."""
    from bench.run import parse

    args = parse(argv)
    db = BenchNeo4j(args.data / "neo4j", heap=args.heap, pagecache=args.pagecache)
    external = Neo4jSettings()
    if external.external:
        db.external = external
    db.start()
    try:
        summary = run(args, db, args.data / "work")
    finally:
        db.stop()
    print(json.dumps({k: v for k, v in summary.items()}, indent=2))


if __name__ == "__main__":
    main()
