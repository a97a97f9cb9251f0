"""CSV tables read one line at a time: what the CSV formats (Synthea, CMS DE-SynPUF) share.

Each line is parsed on its own (rather than by one ``csv.reader`` over the file) so that a bad
line is one rejection at its own line number and the reader goes on with the next; a header
is matched to a table by the columns it has.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


def head_columns(head: bytes) -> list[str] | None:
    """The first line of a file's head as upper-case column names; None when it is not CSV."""
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
    try:
        return [c.strip().upper() for c in next(csv.reader([first]), [])]
    except csv.Error:  # a stray CR or quote: not a CSV header
        return None


def read_header(fh: BinaryIO) -> list[str] | None:
    """The header line of an open file, upper-case; None when it is not UTF-8 CSV."""
    try:
        return [h.strip().upper() for h in next(csv.reader([fh.readline().decode("utf-8-sig")]))]
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line: its number, and its row by column, or why it is not one."""

    number: int
    row: dict[str, str] | None
    problem: str | None = None  # "line is not valid UTF-8", "line has 6 fields, ..."


def lines(fh: BinaryIO, header: list[str]) -> Iterator[Line]:
    """The lines after the header, each as a row of stripped values or a problem."""
    for number, raw in enumerate(fh, start=2):
        if not raw.strip():
            continue
        try:
            fields = next(csv.reader([raw.decode("utf-8")], strict=True))
        except UnicodeDecodeError:
            yield Line(number, None, "line is not valid UTF-8")
            continue
        except csv.Error:  # a stray CR or a broken quote inside the line
            yield Line(number, None, "line is not one CSV row (quoting or a line break)")
            continue
        if len(fields) != len(header):
            yield Line(number, None, f"line has {len(fields)} fields, the header has {len(header)}")
            continue
        yield Line(number, dict(zip(header, (f.strip() for f in fields), strict=True)))
