"""The envelopes' control numbers and counts, checked in one quick pass before the file is read.

What a trailer says about its envelope (SE01 counts the segments of its transaction set,
GE01 the sets of its group, IEA01 the groups of its interchange; SE02, GE02 and IEA02 repeat
the control number they close) is only known at the trailer, after every claim of the
envelope has been read. So the file is first split into segments the way pyx12 splits it
(same terminators, same numbering) without placing or validating them, and each envelope's
findings are kept by the segment number of its header: the records then stream with their
envelope's warnings, however long the envelope is.

The same pass digests each interchange, so that a copy of an earlier one (same ISA13, same
content) is known at its ISA and skipped whole, and different content under a control number
already used is known as a conflict.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from caregraph.loaders.x12.reading import ISA_LENGTH

_CHUNK = 1 << 16


@dataclass(slots=True)
class InterchangeScan:
    """One interchange (ISA to IEA): its findings, and whether it repeats an earlier one."""

    control: str  # ISA13
    findings: list[str] = field(default_factory=list)  # IEA01, IEA02
    same_as: int | None = None  # ISA segment of an earlier interchange with the same content
    conflicts_with: int | None = None  # ... with the same ISA13 and other content


@dataclass(slots=True)
class Plan:
    """Envelope findings by the segment number of the envelope's header (ISA, GS, ST)."""

    interchanges: dict[int, InterchangeScan] = field(default_factory=dict)
    groups: dict[int, list[str]] = field(default_factory=dict)  # GS06 repeated, GE01, GE02
    transactions: dict[int, list[str]] = field(default_factory=dict)  # ST02 repeated, SE01/02


def plan(stream: io.TextIOBase) -> Plan:
    """Every envelope's findings (the stream starts at a fixed-width ISA: see ``open_text``)."""
    return _Scanner().scan(stream)


def _segments(stream: io.TextIOBase) -> Iterator[str]:
    """The stream's segments as pyx12's RawX12File splits them: on the ISA's terminator, line
    breaks before a segment dropped, and an empty segment ending the read."""
    head = stream.read(ISA_LENGTH)
    if len(head) < ISA_LENGTH:
        return
    terminator = head[-1]
    buffer = head
    while True:
        if terminator not in buffer:
            more = stream.read(_CHUNK)
            if not more:
                return
            buffer += more
            continue
        segment, buffer = buffer.split(terminator, 1)
        segment = segment.lstrip("\n\r")
        if not segment:
            return
        yield segment


class _Scanner:
    def __init__(self) -> None:
        self.out = Plan()
        self.sep = "*"
        self.isa: tuple[int, list[str]] | None = None  # segment number, elements
        self.digest = hashlib.sha256()
        self.gs: tuple[int, list[str]] | None = None
        self.st: tuple[int, list[str]] | None = None
        self.groups = 0  # in the open interchange
        self.sets = 0  # in the open group
        self.count = 0  # segments of the open transaction set
        self.group_ids: set[str] = set()
        self.set_ids: set[str] = set()
        self.complete: dict[str, tuple[int, str]] = {}  # ISA13 -> (ISA segment, digest)

    def scan(self, stream: io.TextIOBase) -> Plan:
        for number, text in enumerate(_segments(stream), start=1):
            if number == 1:
                self.sep = text[3]
            elements = text.split(self.sep)
            self._step(number, elements[0].strip(), elements, text)
        return self.out

    def _step(self, number: int, seg_id: str, elements: list[str], text: str) -> None:
        if seg_id == "ISA":
            self.isa, self.gs, self.st = (number, elements), None, None
            self.digest = hashlib.sha256()
            self.groups = 0
            self.group_ids = set()
            self.out.interchanges[number] = InterchangeScan(_element(elements, 13))
        if self.isa is not None:
            self.digest.update(text.strip().encode("utf-8", "surrogateescape") + b"\x1e")
        if self.st is not None:
            self.count += 1
        if seg_id == "IEA":
            self._iea(number, elements)
        elif seg_id == "GS":
            self.gs, self.sets, self.set_ids = (number, elements), 0, set()
            self.groups += 1
            control = _element(elements, 6)
            found = self.out.groups.setdefault(number, [])
            if control in self.group_ids:
                found.append(
                    f"segment {number} (GS): GS06 repeats a group control number already "
                    "used in the interchange"
                )
            self.group_ids.add(control)
        elif seg_id == "GE" and self.gs is not None:
            opened, gs = self.gs
            found = self.out.groups.setdefault(opened, [])
            if not _same_number(_element(elements, 1), self.sets):
                found.append(
                    f"segment {number} (GE): GE01 does not count the transaction sets of the group"
                )
            if not _same_number(_element(elements, 2), _element(gs, 6)):
                found.append(
                    f"segment {number} (GE): GE02 does not match GS06: the trailer closes "
                    "another functional group"
                )
            self.gs = None
        elif seg_id == "ST":
            self.st, self.count = (number, elements), 1
            self.sets += 1
            control = _element(elements, 2)
            found = self.out.transactions.setdefault(number, [])
            if control in self.set_ids:
                found.append(
                    f"segment {number} (ST): ST02 repeats a transaction set control number "
                    "already used in the group"
                )
            self.set_ids.add(control)
        elif seg_id == "SE" and self.st is not None:
            opened, st = self.st
            found = self.out.transactions.setdefault(opened, [])
            if not _same_number(_element(elements, 1), self.count):
                found.append(
                    f"segment {number} (SE): SE01 does not count the segments of the "
                    "transaction set"
                )
            if _element(elements, 2) != _element(st, 2):
                found.append(
                    f"segment {number} (SE): SE02 does not match ST02: the trailer closes "
                    "another transaction set"
                )
            self.st = None

    def _iea(self, number: int, elements: list[str]) -> None:
        if self.isa is None:
            return
        opened, isa = self.isa
        scan = self.out.interchanges[opened]
        if not _same_number(_element(elements, 1), self.groups):
            scan.findings.append(
                f"segment {number} (IEA): IEA01 does not count the functional groups of the "
                "interchange"
            )
        if not _same_number(_element(elements, 2), _element(isa, 13)):
            scan.findings.append(
                f"segment {number} (IEA): IEA02 does not match ISA13: the trailer closes "
                "another interchange"
            )
        digest = self.digest.hexdigest()
        earlier = self.complete.get(scan.control)
        if earlier is None:
            self.complete[scan.control] = (opened, digest)
        elif earlier[1] == digest:
            scan.same_as = earlier[0]
        else:
            scan.conflicts_with = earlier[0]
        self.isa, self.gs, self.st = None, None, None


def _element(elements: list[str], n: int) -> str:
    return elements[n].strip() if n < len(elements) else ""


def _same_number(value: str, expected: int | str) -> bool:
    """Control numbers and counts compared as numbers (``000000905`` is ``905``)."""
    expected = str(expected).strip()
    if value.isdigit() and expected.isdigit():
        return int(value) == int(expected)
    return value == expected
