"""``python -m bench.analyst``: what refreshing the analyst graph costs after a load.

A generated Riverside Health of ``--patients`` patients is loaded source by source into a Neo4j
of its own, all sources but the last; the analyst graph (a second Neo4j, read-only) is opened
writable and refreshed in full; the last source is loaded and the analyst graph refreshed
incrementally (what `caregraph analyst refresh` does after a daily feed); then rebuilt in full
(`--full`, after everything). It prints one JSON object: seconds per step, what each wrote,
and the seconds of the read-only/writable restarts around the refreshes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench.database import BenchNeo4j, free_port
from caregraph.graph.analyst import RefreshReport, refresh
from caregraph.graph.analyst_server import AnalystNeo4j
from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.driver import open_driver
from caregraph.graph.pseudonyms import Pseudonyms
from caregraph.graph.settings import ManagedNeo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.ontology.deidentification import load_profile
from caregraph.ontology.model import load_ontology


def _figures(report: RefreshReport) -> dict[str, object]:
    return {
        "seconds": round(report.seconds, 1),
        "runs": len(report.runs),
        "nodes": report.nodes,
        "relationships": report.relationships,
        "unclassified": len(report.unclassified),
    }


def measure(work: Path, patients: int, heap: str, pagecache: str) -> dict[str, object]:
    data = work / f"riverside-{patients}"
    manifest = generate(data, patients, seed=0)
    identity = IdentityConfig.from_file(data / "identity.toml")
    sources = list(manifest["sources"].items())
    main = BenchNeo4j(work / "neo4j", heap=heap, pagecache=pagecache)
    main.start()
    analyst = AnalystNeo4j(
        work / "analyst-neo4j",
        ManagedNeo4jSettings(
            bolt_port=free_port(), http_port=free_port(), heap=heap, pagecache=pagecache,
            start_timeout=300.0,
        ),
    )  # fmt: skip
    onto = load_ontology()
    deid = Deidentifier(load_profile(onto), Pseudonyms(b"bench-analyst-key-0123456789"))
    figures: dict[str, object] = {"patients": patients}
    try:
        main.empty()

        def load_sources(part: list[tuple[str, list[str]]]) -> float:
            started = time.perf_counter()
            for source, paths in part:
                load([data / p for p in paths], driver=main.driver, database=main.database,
                     source=source, identity=identity)  # fmt: skip
            return round(time.perf_counter() - started, 1)

        figures["loadSeconds"] = load_sources(sources[:-1])
        opened = time.perf_counter()
        with analyst.writable() as conn, open_driver(conn) as target:
            figures["openWritableSeconds"] = round(time.perf_counter() - opened, 1)
            first = refresh(main.driver, main.database, target, conn.database, deid, full=True)
            figures["lastSource"] = sources[-1][0]
            figures["lastLoadSeconds"] = load_sources(sources[-1:])
            after = refresh(main.driver, main.database, target, conn.database, deid)
            rebuilt = refresh(main.driver, main.database, target, conn.database, deid, full=True)
            closing = time.perf_counter()
        figures["reopenReadOnlySeconds"] = round(time.perf_counter() - closing, 1)
        figures["full"] = _figures(first)
        figures["incremental"] = _figures(after)
        figures["rebuild"] = _figures(rebuilt)
        figures["neo4j"] = main.version()
    finally:
        analyst.stop()
        main.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The analyst graph's refresh after a load.")
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--heap", default="1g")
    p.add_argument("--pagecache", default="1g")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="caregraph-bench-analyst-") as tmp:
        figures = measure(Path(tmp), args.patients, args.heap, args.pagecache)
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
