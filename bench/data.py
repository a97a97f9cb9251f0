"""The benchmark's data: Riverside Health from ``loaders.generator``, one folder per size.

Generated once per (patients, seed) into bench/data/synth-<N>/ (git-ignored) and reused while
its manifest says the same size and seed; the generator is seeded and deterministic, so a
reused folder holds the same bytes a new run would write.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from caregraph.loaders.generator import clear, generate
from caregraph.loaders.generator.generator import BATCH_SIZE, resolve_layout


@dataclass(frozen=True)
class Dataset:
    """One generated data set and what its manifest says."""

    path: Path
    manifest: dict[str, Any]
    generate_seconds: float | None  # None when an earlier run's folder was reused

    @property
    def patients(self) -> int:
        return int(self.manifest["patients"])

    @property
    def as_of(self) -> date:
        return date.fromisoformat(self.manifest["asOf"])

    @property
    def identity(self) -> Path:
        return self.path / str(self.manifest["identity"])

    def sources(self) -> list[tuple[str, list[Path]]]:
        """Each source system with its files, in the manifest's order (the load order)."""
        return [
            (name, [self.path / p for p in paths])
            for name, paths in self.manifest["sources"].items()
        ]

    def batches(self, first: int, stop: int | None = None) -> list[tuple[str, list[Path]]]:
        """Each source system with its files of patient batches ``first`` to ``stop``
        (exclusive; None: to the end), in the load order. Batch 0 also takes the files that
        hold no patients (the FHIR directory of clinicians and organizations), so batch 0
        loads on its own and a later batch only adds patients. Bulk layout only: there every
        patient's records are in the files numbered by its batch."""
        if self.manifest.get("layout") != "bulk":
            raise ValueError("patient batches are in the bulk layout's file names only")
        out = []
        for name, paths in self.sources():
            files = [f for p in paths for f in (sorted(p.rglob("*")) if p.is_dir() else [p])]
            chosen = [f for f in files if f.is_file() and _within(_batch(f), first, stop)]
            if chosen:
                out.append((name, chosen))
        return out


_BATCH = re.compile(r"[.-](\d{4})\.[A-Za-z0-9]+$")  # Patient.0001.ndjson, 837-0001.837


def _batch(path: Path) -> int | None:
    found = _BATCH.search(path.name)
    return int(found.group(1)) if found else None


def _within(batch: int | None, first: int, stop: int | None) -> bool:
    if batch is None:  # a file of no batch (the directory) goes with batch 0
        return first == 0
    return batch >= first and (stop is None or batch < stop)


# Every measured size is generated in the bulk layout (FHIR NDJSON, DICOM JSON), the only one
# a large size can have, so that a figure compared across sizes (a source's write cost per
# record, bench/write_cost.py) differs by the size of the graph, not by the formats read.
MEASURED_LAYOUT = "bulk"


def ensure(
    root: Path,
    patients: int,
    seed: int = 0,
    *,
    layout: str = "auto",
    batch_size: int = BATCH_SIZE,
) -> Dataset:
    """The data set for ``patients`` and ``seed`` (and layout, patients per file), generated
    unless already there."""
    out = root / f"synth-{patients}"
    # the benchmark's folders keep their names: asking for the layout that ``auto`` picks for
    # this size is asking for ``auto``
    chosen = resolve_layout(layout, patients) == resolve_layout("auto", patients)
    if not chosen or batch_size != BATCH_SIZE:
        out = root / f"synth-{patients}-{layout}-{batch_size}"
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        same = (manifest.get(k) for k in ("patients", "seed", "layout", "batchSize"))
        if tuple(same) == (patients, seed, resolve_layout(layout, patients), batch_size):
            return Dataset(out, manifest, None)
    clear(out)
    started = time.perf_counter()
    manifest = generate(out, patients, seed=seed, layout=layout, batch_size=batch_size)
    return Dataset(out, manifest, time.perf_counter() - started)
