"""``python -m bench.parse``: what one core parses and maps per second, format by format.

The read step of a load (detect, parse, map a file into records) is a pure function from a
file to items; it runs in the loading process or in ``caregraph load --workers N`` processes,
and it is what a cluster executor would share out. This measures it alone, with no Neo4j:
a generated Riverside Health of ``--patients`` patients (files layout), each source's files
read ``--rounds`` times in this one process, the best round kept (the machine's other work
only slows a round down). X12 is measured with the fast reader and with pyx12's validating
reader (``CAREGRAPH_X12_READER=pyx12``), the reader before issue 17. It prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import describe, load_average
from caregraph.loaders import registry
from caregraph.loaders.generator import generate
from caregraph.loaders.pipeline import expand
from caregraph.loaders.records import Record
from caregraph.loaders.x12.reading import READER_SETTING


def _read(files: list[Path]) -> tuple[int, float]:
    """Records read from ``files`` and the seconds it took."""
    started = time.perf_counter()
    records = 0
    for path in files:
        loader = registry.detect(path)
        if loader is None:
            continue
        records += sum(isinstance(i, Record) for i in loader.read(path, "bench"))
    return records, time.perf_counter() - started


def measure(patients: int, rounds: int, out: Path) -> dict[str, Any]:
    machine = describe("none (no Neo4j in this measure)", "-", {})
    manifest = generate(out, patients, seed=1, layout="files")
    results: dict[str, Any] = {}
    for source, paths in sorted(manifest["sources"].items()):
        files = list(expand([out / p for p in paths]))
        readers = ("fast", "pyx12") if source in ("billing", "payer") else ("",)
        for reader in readers:
            if reader:
                os.environ[READER_SETTING] = reader
            best = min((_read(files) for _ in range(rounds)), key=lambda r: r[1])
            name = f"{source} ({reader} reader)" if reader else source
            results[name] = {
                "files": len(files),
                "records": best[0],
                "seconds": round(best[1], 2),
                "records_per_s": round(best[0] / best[1], 1),
            }
        os.environ.pop(READER_SETTING, None)
    machine["load_average_at_end"] = load_average()
    return {"patients": patients, "rounds": rounds, "machine": machine, "sources": results}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.parse", description=__doc__)
    p.add_argument("--patients", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="caregraph-bench-parse-") as tmp:
        result = measure(args.patients, args.rounds, Path(tmp))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
