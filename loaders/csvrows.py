"""CSV tables read one line at a time: what the CSV formats (Synthea, CMS DE-SynPUF) share.

Each line is parsed on its own (rather than by one ``csv.reader`` over the file) so that a bad
line is one rejection at its own line number and the reader goes on with the next; a header
is matched to a table by the columns it has.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from caregraph.loaders.records import Rejected, SourceRef


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


def detects(path: Path, head: bytes, table_of: Callable[[list[str]], str | None]) -> bool:
    """Whether a file is a table of a CSV format: a .csv whose header ``table_of`` knows."""
    if path.suffix.lower() != ".csv":
        return False
    columns = head_columns(head)
    return columns is not None and table_of(columns) is not None


@dataclass(frozen=True, slots=True)
class Row:
    """A good line of a known table."""

    table: str
    where: SourceRef  # file and "line N"; the loader adds the record id
    values: dict[str, str]


def table_rows(
    path: Path,
    source: str,
    fmt: str,
    table_of: Callable[[list[str]], str | None],
    what: str,
) -> Iterator[Row | Rejected]:
    """A CSV table's rows, or the rejections of its header and of each bad line (syntax).

    ``what`` names the format in the rejection of a header no table has: "a Synthea CSV".
    """
    with path.open("rb") as fh:
        header = read_header(fh)
        first = SourceRef(source, str(path), "line 1")
        if header is None:
            yield Rejected(first, fmt, "header is not UTF-8 CSV", "syntax")
            return
        table = table_of(header)
        if table is None:
            yield Rejected(first, fmt, f"not {what} header", "unsupported")
            return
        for line in lines(fh, header):
            where = SourceRef(source, str(path), f"line {line.number}")
            if line.row is None:
                yield Rejected(where, fmt, f"{table}: {line.problem}", "syntax")
            else:
                yield Row(table, where, line.row)
