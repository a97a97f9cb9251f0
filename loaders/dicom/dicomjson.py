"""DICOM JSON (PS3.18 F.2, the QIDO-RS and WADO-RS metadata format), one item at a time.

The standard library decodes one array element at a time (``JSONDecoder.raw_decode``) from
a buffer refilled as needed, so a large WADO-RS metadata response is never held whole.
Pixel data and other bulk data are dropped before pydicom builds the dataset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pydicom.dataset import Dataset

from caregraph.loaders.dicom.errors import BadAttribute, DicomError

CHUNK = 1 << 20
_TAG = re.compile(r"[0-9A-Fa-f]{8}")
_BULK_GROUPS = ("7FE0",)  # pixel data and friends: headers only


class NotJson(DicomError):
    """The file stops being JSON (or UTF-8) at some item."""


def items(path: Path) -> Iterator[tuple[int, Any]]:
    """Each top-level item (an array's elements, or a lone object) with its 1-based number."""
    with path.open(encoding="utf-8-sig") as fh:
        reader = _Reader(fh)
        first = reader.peek()
        if first == "{":
            yield 1, reader.value(1)
            reader.expect_end()
            return
        if first != "[":
            raise NotJson("the file is not a JSON array or object")
        reader.pos += 1
        n = 0
        if reader.peek() == "]":
            reader.pos += 1
            reader.expect_end()
            return
        while True:
            n += 1
            yield n, reader.value(n)
            sep = reader.peek()
            reader.pos += 1
            if sep == "]":
                reader.expect_end()
                return
            if sep != ",":
                raise NotJson(f"the JSON breaks off after item {n}: expected ',' or ']'")


class _Reader:
    """A text buffer over a file, refilled as the decoder needs more."""

    def __init__(self, fh: TextIO) -> None:
        self.fh = fh
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> None:
        try:
            chunk = self.fh.read(max(CHUNK, len(self.buf)))  # doubling keeps re-parsing linear
        except UnicodeDecodeError as e:
            raise NotJson("the file is not UTF-8 text, as DICOM JSON must be") from e
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        self.eof = not chunk

    def peek(self) -> str:
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self._fill()

    def value(self, n: int) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if self.eof:
                    raise NotJson(f"item {n} is not valid JSON (the file may be truncated)") from e
                self._fill()
                continue
            if end == len(self.buf) and not self.eof:  # a number may go on in the next chunk
                self._fill()
                continue
            self.pos = end
            return value

    def expect_end(self) -> None:
        if self.peek() != "":
            raise NotJson("there is more after the JSON value ends")


def dataset(item: Any, n: int) -> Dataset:
    """An item as a pydicom Dataset; raise DicomError when it is not DICOM JSON."""
    if not isinstance(item, dict):
        raise DicomError(f"item {n} is not a JSON object, so not a DICOM JSON dataset")
    if not item or not all(isinstance(k, str) and _TAG.fullmatch(k) for k in item):
        raise DicomError(
            f"item {n} is not a DICOM JSON dataset: its keys must be 8-hex-digit tags "
            'such as "0020000D"'
        )
    kept = {k: v for k, v in item.items() if not k.upper().startswith(_BULK_GROUPS)}
    try:
        return Dataset.from_json(kept)
    except Exception as e:  # pydicom raises ValueError, TypeError, KeyError ... on bad items
        raise BadAttribute(_bad_tag(kept), "valid DICOM JSON for its VR") from e


def _bad_tag(item: dict[str, Any]) -> int:
    """The first attribute pydicom refuses on its own (to name it in the message)."""
    for key, value in item.items():
        try:
            Dataset.from_json({key: value})
        except Exception:  # looking for the one that fails
            return int(key, 16)
    return int(next(iter(item)), 16)
