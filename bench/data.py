"""The benchmark's data: Riverside Health from ``loaders.synth``, one folder per size.

Generated once per (patients, seed) into bench/data/synth-<N>/ (git-ignored) and reused while
its manifest says the same size and seed; the generator is seeded and deterministic, so a
reused folder holds the same bytes a new run would write.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from loaders.synth import clear, generate


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


def ensure(root: Path, patients: int, seed: int = 0) -> Dataset:
    """The data set for ``patients`` and ``seed``, generated unless already there."""
    out = root / f"synth-{patients}"
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("patients") == patients and manifest.get("seed") == seed:
            return Dataset(out, manifest, None)
    clear(out)
    started = time.perf_counter()
    manifest = generate(out, patients, seed=seed)
    return Dataset(out, manifest, time.perf_counter() - started)
