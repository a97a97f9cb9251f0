"""Which loader reads a file: picked by what the file holds, not only by its name."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar, Protocol

from caregraph.loaders.records import Item, Rejected, SourceRef

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


def read(path: Path, source: str) -> tuple[str | None, Iterable[Item]]:
    """A file's format (None: not one caregraph reads) and its items, read lazily."""
    loader = detect(path)
    if loader is None:
        return None, ()
    return loader.format, _guarded(loader.read(path, source), path, loader.format, source)


def _guarded(items: Iterator[Item], path: Path, fmt: str, source: str) -> Iterable[Item]:
    """The loader's items; a loader bug ends its file with one Rejected, not the whole load."""
    count = 0
    try:
        for item in items:
            count += 1
            yield item
    except Exception as e:  # a loader must not raise on data; if it does, say where and go on
        yield Rejected(
            SourceRef(source, str(path), f"after record {count}"),
            fmt,
            f"the {fmt} reader failed ({type(e).__name__}); the rest of this file was not read",
            "reader",
        )
