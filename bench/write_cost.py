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
from bench.report import TARGETS, compare_write_cost

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = data.MEASURED_LAYOUT


def measure(sizes: list[int], root: Path, work: Path, seed: int = 0) -> dict[str, Any]:
    """Each size loaded into an empty server warmed as ``make bench`` warms it; the write cost
    per record by source, compared as ``make bench`` compares it."""
    from bench.run import LOAD_BATCH, WarmUp  # local: bench.run imports most of the bench

    warm = WarmUp(argparse.Namespace(data=root, seed=seed, batch_size=LOAD_BATCH), work)
    neo = BenchNeo4j(work / "neo4j")
    neo.start()
    try:
        machine = describe(neo.version(), f"heap {neo.heap}, page cache {neo.pagecache}", {})
        ms: dict[str, dict[str, float | None]] = {}
        for n in sizes:
            dataset = data.ensure(root, n, seed, layout=LAYOUT)
            neo.empty()
            warm(neo)
            loaded = ingest.load_caregraph(dataset, neo.connection(), work, batch_size=LOAD_BATCH)
            for s in loaded.sources:
                per = ingest.write_ms_per_record(s.steps, s.read)
                ms.setdefault(s.source, {})[str(n)] = None if per is None else round(per, 3)
    finally:
        neo.stop()
    return {"layout": LAYOUT, "machine": machine, "by_source": compare_write_cost(ms)}


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
    for source, cost in result["by_source"].items():
        print(source, json.dumps(cost["ms_per_record_by_size"]), cost["ratio_largest_to_smallest"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
