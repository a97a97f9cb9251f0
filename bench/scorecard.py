"""``python -m bench.scorecard``: what the scorecard costs as the graph grows.

For each size, a generated Riverside Health is loaded source by source into a Neo4j of its
own (the pipeline snapshots the scorecard at the end of each run within its budget), then the
measures are computed again on their own and a snapshot is written again, each timed, and the
numbers of measure values and of snapshot nodes are counted. Then two daily feeds (a few new
patients' EHR records each, of a generated system of their own) are loaded on top: one as
`caregraph load` does by default, the scorecard's snapshot within its budget
(graph/scorecard.py ``HistoryBudget``), one keeping a snapshot whatever it costs
(``--snapshot always``), each timed from the call to its return. It prints one JSON line per
size: what a daily feed's load pays for the scorecard at the end of its run, beside what the
load took.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.database import BenchNeo4j
from caregraph.graph import scorecard
from caregraph.graph.scorecard import EVERY_RUN
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load

FEED_PATIENTS = 5  # a daily feed's new patients (a day's EHR records of each)


def measure_size(neo: BenchNeo4j, patients: int, work: Path) -> dict[str, object]:
    """Load ``patients`` generated patients; time the load, the measures and a snapshot."""
    data = work / f"riverside-{patients}"
    manifest = generate(data, patients, seed=0)
    identity = IdentityConfig.from_file(data / "identity.toml")
    neo.empty()
    driver, database = neo.driver, neo.database
    started = time.perf_counter()
    runs = [
        load(
            [data / p for p in paths],
            driver=driver,
            database=database,
            source=source,
            identity=identity,
        )
        for source, paths in manifest["sources"].items()
    ]
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    found = scorecard.measure(driver, database)
    measure_s = time.perf_counter() - started
    started = time.perf_counter()
    scorecard.snapshot(driver, database, runs[-1].run_id)
    snapshot_s = time.perf_counter() - started
    records, _, _ = driver.execute_query(
        "MATCH (v:MeasureValue) RETURN count(v) AS n", database_=database
    )
    feeds = {}
    for name, history in (("feed", scorecard.HistoryBudget()), ("feedEveryRun", EVERY_RUN)):
        folder = work / f"{name}-{patients}"
        feed = generate(folder, FEED_PATIENTS, seed=patients + len(feeds) + 1, formats=("fhir",))
        paths = [folder / p for p in feed["sources"]["ehr"]]
        started = time.perf_counter()
        report = load(paths, driver=driver, database=database, source="ehr", history=history)
        said = report.scorecard.as_json() if report.scorecard else {}
        feeds[name] = {
            "records": report.total("read"),
            "seconds": round(time.perf_counter() - started, 3),
            "loadSeconds": round(report.seconds, 3),
            **said,
        }
    return {
        "patients": patients,
        "records": sum(r.total("read") for r in runs),
        "loadRuns": len(runs),
        "loadSeconds": round(load_s, 2),
        "measureSeconds": round(measure_s, 3),
        "snapshotSeconds": round(snapshot_s, 3),
        "measureValues": len(found),
        "snapshotNodes": int(records[0]["n"]),
        **feeds,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The scorecard's cost as the graph grows.")
    p.add_argument("--sizes", default="100,1000", help="patients per size, comma-separated")
    p.add_argument("--heap", default="1g", help="Neo4j heap (use 3g from 100k patients)")
    p.add_argument("--pagecache", default="512m", help="Neo4j page cache (4g from 100k)")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="caregraph-bench-scorecard-") as tmp:
        work = Path(tmp)
        neo = BenchNeo4j(work / "neo4j", heap=args.heap, pagecache=args.pagecache)
        neo.start()
        try:
            for size in sizes:
                sys.stdout.write(json.dumps(measure_size(neo, size, work)) + "\n")
                sys.stdout.flush()
        finally:
            neo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
