"""Which loader reads a file: picked by what the file holds, not only by its name."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Protocol

from caregraph.loaders.records import Item

# One module per format; each defines LOADER. Order matters only for ties in detection.
FORMAT_MODULES = (
    "caregraph.loaders.dicom",
    "caregraph.loaders.fhir",
    "caregraph.loaders.hl7v2",
    "caregraph.loaders.x12",
    "caregraph.loaders.synthea",
    "caregraph.loaders.cms_synpuf",
)
HEAD_BYTES = 65536


class Loader(Protocol):
    """What every format module provides."""

    format: ClassVar[str]

    def detect(self, path: Path, head: bytes) -> bool:
        """True when ``head`` (the first bytes of ``path``) is this format."""
        ...

    def read(self, path: Path, source: str) -> Iterator[Item]:
        """Stream the file's records, each mapped, rejected or skipped."""
        ...


def loaders() -> list[Loader]:
    """Every available loader, in detection order."""
    return [importlib.import_module(name).LOADER for name in FORMAT_MODULES]


def detect(path: Path) -> Loader | None:
    """The loader for ``path``, or None when no format recognises it."""
    with path.open("rb") as fh:
        head = fh.read(HEAD_BYTES)
    for loader in loaders():
        try:
            if loader.detect(path, head):
                return loader
        except Exception:  # noqa: S112  # a detector that chokes on odd bytes says "not mine"
            continue
    return None
