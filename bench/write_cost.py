"""``python -m bench.write_cost``: each source's write cost per record as the graph grows,
read from the same formats at every size.

Issue 17 asks a source's write cost per record (its batches' identity step, write, linking
rules and commit, in ms per record read: ``bench/ingest.py`` ``write_ms_per_record``) at
100,000 patients to stay within 1.2 times the figure at 1,000. The generator writes a small
data set in its ``files`` layout (a FHIR Bundle per patient, a DICOM Part 10 file per series)
and a large one in its ``bulk`` layout (FHIR NDJSON, DICOM JSON): the same patients and
records, other formats. Those formats cost more or less to parse, and the parse counts in the
write steps' times: the pipeline reads the next batch in a thread while the writer writes
(``loaders/pipeline.py``), and that thread holds the GIL while it parses. Measured on the
PACS at 10,000 patients (DICOM JSON, the writer on its own and then with the reading thread):
0.86 against 1.43 ms per record. So a comparison across sizes in two layouts is a comparison
of formats as much as of graph sizes.

Here every size is generated in the ``bulk`` layout and loaded as the benchmark loads it (its
load child, a managed Neo4j with its settings, a warm-up like its own): the figures differ
only by the size of the graph the records are written into. It prints, and writes to
``--result``, each source's write cost at each size and the largest size's over the
smallest's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bench import data, ingest
from bench.database import BenchNeo4j
from bench.machine import describe
from bench.report import TARGETS

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = data.MEASURED_LAYOUT


def measure(sizes: list[int], root: Path, work: Path, seed: int = 0) -> dict[str, Any]:
    """Each size loaded into an empty, warmed server; the write cost per record by source."""
    neo = BenchNeo4j(work / "neo4j")
    neo.start()
    try:
        machine = describe(neo.version(), f"heap {neo.heap}, page cache {neo.pagecache}", {})
        by_size: dict[str, dict[str, float | None]] = {}
        for n in sizes:
            dataset = data.ensure(root, n, seed, layout=LAYOUT)
            neo.empty()
            _warm(neo, root, seed, work)
            loaded = ingest.load_caregraph(dataset, neo.connection(), work)
            by_size[str(n)] = {
                s.source: _round(ingest.write_ms_per_record(s.steps, s.read))
                for s in loaded.sources
            }
    finally:
        neo.stop()
    return {"layout": LAYOUT, "machine": machine, "write_ms_per_record": by_size,
            "ratio_largest_to_smallest": ratios(by_size)}  # fmt: skip


def ratios(by_size: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Each source's cost at the largest size over its cost at the smallest."""
    sizes = sorted(by_size, key=int)
    small, large = by_size[sizes[0]], by_size[sizes[-1]]
    out: dict[str, float | None] = {}
    for source, cost in small.items():
        other = large.get(source)
        out[source] = round(other / cost, 3) if cost and other is not None else None
    return out


def _warm(neo: BenchNeo4j, root: Path, seed: int, work: Path) -> None:
    """As ``bench/run.py`` warms Neo4j before a measured load: a small data set loaded and
    deleted, so the measured load does not pay a cold JVM's planning and compiling."""
    from bench.run import WARM_UP_PATIENTS  # local: bench.run imports most of the bench

    warm = data.ensure(root, WARM_UP_PATIENTS, seed, layout=LAYOUT)
    ingest.load_caregraph(warm, neo.connection(), work)
    neo.delete_data()


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sizes", default="1000,10000", help="patients, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "write-cost.json")
    args = p.parse_args(argv)
    sizes = sorted(int(x) for x in args.sizes.split(","))
    with tempfile.TemporaryDirectory(prefix="caregraph-write-cost-") as tmp:
        result = measure(sizes, args.data, Path(tmp), args.seed)
    result["target"] = TARGETS["write_cost_scale"]
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["write_ms_per_record"]))
    print(json.dumps(result["ratio_largest_to_smallest"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
