"""The read audit's hash chain: one chain per UTC day, and the check that recomputes it.

Each record stores ``prevHash`` and ``hash`` = SHA-256 of the previous record's hash, a
newline, and the record's canonical content: sorted-key JSON of every other property it stores
(times as ISO text in UTC to the microsecond), so editing, adding or removing any property
changes it. A day's first record follows ``GENESIS``; its records are numbered ``seq`` 1, 2, ...
and the day's ``(:AuditHead {day})`` holds the count and the last hash.

The check reports record ids, positions, times, counts and hashes, never a record's content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from caregraph.graph.anchors import AnchorLine, Head

GENESIS = "0" * 64
CHAIN_FIELDS = frozenset({"hash", "prevHash"})  # kept beside the content, not in it


def _plain(value: Any) -> Any:
    to_native = getattr(value, "to_native", None)  # a neo4j.time value as it is read back
    if callable(to_native):
        value = to_native()
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def canonical(record: Mapping[str, Any]) -> str:
    """The text a record's hash covers: its stored properties but the chain's own."""
    content = {k: _plain(v) for k, v in record.items() if k not in CHAIN_FIELDS and v is not None}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link(prev: str, record: Mapping[str, Any]) -> str:
    """The hash of a record that follows a record whose hash is ``prev``."""
    return hashlib.sha256(f"{prev}\n{canonical(record)}".encode()).hexdigest()


@dataclass(frozen=True)
class Linked:
    """A record as it is appended: numbered (``seq`` in ``record``), and chained."""

    record: dict[str, Any]
    prev: str
    hash: str


def extend(head: Head, records: Iterable[Mapping[str, Any]]) -> tuple[list[Linked], Head]:
    """Records of ``head``'s day appended after it in order, each numbered and chained to the
    one before it (the first to the head's hash), and the day's head after them."""
    linked = []
    count, prev = head.count, head.hash
    for record in records:
        count += 1
        stored = {**record, "seq": count}
        digest = link(prev, stored)
        linked.append(Linked(stored, prev, digest))
        prev = digest
    return linked, Head(head.day, count, prev)


@dataclass
class DayReport:
    """What the check found for one day: intact when ``problems`` is empty."""

    day: str
    records: int = 0
    last: str | None = None  # the last record's hash, when the chain holds up to it
    anchored: int | None = None  # the count of the day's newest authentic anchor line
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def check(
    day: str, rows: Iterable[Mapping[str, Any]], head: Head | None, lines: Sequence[AnchorLine]
) -> DayReport:
    """Recompute one day's chain (``rows`` in ``seq`` order) and hold it against the day's
    head in Neo4j and against the day's anchor lines."""
    report = DayReport(day)
    prev, hashes, ids = GENESIS, {}, {}
    broken = False
    for row in rows:
        report.records += 1
        if broken:
            continue  # only counted: the first break is the one to look at
        n = report.records
        seq = row.get("seq")
        where = f"record {seq} (id {row.get('id')}, at {_plain(row.get('at'))})"
        if seq != n:
            if isinstance(seq, int) and seq > n:
                gone = f"record {n} is" if seq == n + 1 else f"records {n} to {seq - 1} are"
                problem = f"{gone} missing (deleted): {where} follows record {n - 1}"
            else:
                problem = f"{where} is out of place where record {n} should be (a record was "
                problem += "added, copied or its position edited)"
            report.problems.append(problem)
            broken = True
        elif row.get("prevHash") != prev:
            report.problems.append(
                f"{where} does not link to record {n - 1}: a record between them was deleted "
                "or replaced"
            )
            broken = True
        elif link(prev, row) != row.get("hash"):
            report.problems.append(
                f"{where}: its content does not match its hash (the record was edited)"
            )
            broken = True
        else:
            prev = str(row["hash"])
            hashes[n], ids[n] = prev, row.get("id")
    n = report.records
    report.last = None if broken or not n else prev
    _against_head(report, head, broken)
    _against_anchors(report, hashes, ids, lines)
    return report


def _against_head(report: DayReport, head: Head | None, broken: bool) -> None:
    n = report.records
    if head is None:
        if n:
            report.problems.append("the day's head is missing from Neo4j (deleted)")
        return
    if head.count > n:
        report.problems.append(
            f"the head counts {head.count} records, Neo4j has {n}: the count went down "
            f"({head.count - n} deleted)"
        )
    elif head.count < n:
        report.problems.append(
            f"the head counts {head.count} records, Neo4j has {n}: records were added "
            "outside caregraph"
        )
    elif not broken and n and head.hash != report.last:
        report.problems.append(
            f"the head's hash {head.hash[:16]} is not the last record's "
            f"{(report.last or '')[:16]} (the head or the last record was edited)"
        )


def _against_anchors(
    report: DayReport, hashes: dict[int, str], ids: dict[int, Any], lines: Sequence[AnchorLine]
) -> None:
    n = report.records
    for line in lines:
        if not line.authentic:
            report.problems.append(
                f"anchor line {line.number}: its HMAC does not match (the line was edited, "
                "or written with another key)"
            )
    authentic = sorted(
        (x for x in lines if x.authentic and x.head is not None),
        key=lambda x: x.head.count if x.head else 0,
    )
    if not authentic:
        if n:
            report.problems.append(
                "no authentic anchor line for this day: the anchor file is missing, was "
                "replaced, or belongs to another state directory"
            )
        return
    report.anchored = authentic[-1].head.count if authentic[-1].head else None
    failing: list[str] = []
    for line in authentic:
        assert line.head is not None  # authentic lines were read
        count = line.head.count
        if count > n:
            failing.append(
                f"anchor line {line.number} says {count} records, Neo4j has {n}: the count "
                f"went down ({count - n} deleted)"
            )
        elif count in hashes and hashes[count] != line.head.hash:
            failing.append(
                f"record {count} (id {ids[count]}) has hash {hashes[count][:16]}, anchor line "
                f"{line.number} says {line.head.hash[:16]}: the chain was rewritten up to it"
            )
    if failing:
        more = len(failing) - 1
        report.problems.append(
            failing[-1] + (f" ({more} older anchor lines fail too)" if more else "")
        )
