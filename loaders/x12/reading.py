"""Reading an X12 file with pyx12: each segment placed in its loop, with what validation found.

The file is opened as text and checked up to its ISA header here (pyx12 needs the first
character of the stream to be the I of ISA, and the ISA at its fixed 106 characters); then
pyx12's ``X12ContextReader`` reads it one segment at a time, walks each segment into its loop
with the implementation guide's map and validates it. This module turns what pyx12 reports
into :class:`Seg` values: the segment, its loop path, the findings that make it
untrustworthy (``problems``: the record it is part of is rejected) and those that only make a
value unusable (``notes``: the record is written without that value, with a warning), worded
without the segment's values (they may be a patient's). The envelopes' control numbers and
counts, and the HL hierarchy, are checked by the loader itself (:mod:`loaders.x12.control`,
:mod:`loaders.x12.claims`): pyx12 assumes HL01 numbering from 1 and treats both as errors.
"""

from __future__ import annotations

import codecs
import functools
import importlib.resources
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pyx12.errors
import pyx12.params
import pyx12.segment
import pyx12.x12context
from pyx12.error_handler import errh_null

from caregraph.loaders.x12 import placing

READER_SETTING = "CAREGRAPH_X12_READER"  # "pyx12": the validating reader instead of the fast one
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)  # ISA01..ISA16
ISA_LENGTH = 106
KNOWN_VERSIONS = ("00401", "00501")  # what pyx12 reads; 00401 is refused per interchange later
_ISA_SEPARATORS = [3 + sum(w + 1 for w in ISA_WIDTHS[:n]) for n in range(16)]
SNIFF_CHARS = 4096
_REFDES = re.compile(r"^[A-Z0-9]*?([0-9]{2})(?:-([0-9]{1,2}))?$")
_NUMERIC = re.compile(r"^(R|N[0-9]?)$")
# Control characters other than the line breaks between segments, and the lone surrogates
# that undecodable bytes become: a segment holding them is not text.
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class FileProblem(Exception):
    """The whole file cannot be read as X12 (empty, wrong encoding, no ISA header)."""

    def __init__(self, message: str, code: str = "syntax") -> None:
        self.code = code  # a Rejected code: syntax, or unsupported for another X12 version
        super().__init__(message)


class ReadFailure(Exception):
    """pyx12 stopped inside the file: nothing after ``segment`` can be read."""

    def __init__(self, segment: int, message: str) -> None:
        self.segment = segment
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Note:
    """A warning about one segment: a report code and what, without values."""

    code: str  # unusual-value, incomplete ...
    message: str


@dataclass(slots=True)
class Seg:
    """One segment as pyx12 read it: where it is, its data, and what makes it untrustworthy."""

    number: int  # position in the file, ISA = 1
    id: str  # the segment id as written
    loops: tuple[str, ...]  # loop ids from the guide's map, outermost first
    data: pyx12.segment.Segment
    problems: list[str] = field(default_factory=list)  # reasons to reject what it is part of
    notes: list[Note] = field(default_factory=list)  # understood, with a value left out

    def note(self, code: str, message: str) -> None:
        """Something understood but incomplete or unusual here (once per code and message)."""
        found = Note(code, message)
        if found not in self.notes:
            self.notes.append(found)

    @property
    def loop(self) -> str:
        """The innermost loop: 2300, 2010AA, HEADER ..."""
        return self.loops[-1] if self.loops else "-"

    def within(self, loop: str) -> bool:
        return loop in self.loops

    def get(self, ref: str) -> str:
        """An element or component (``CLM02``, ``SV101-2``) as text; empty when absent."""
        # pyx12's Segment.get_value parses the reference into an X12Path on every call, a
        # third of the mapping's time; the reference's two digits (and component) suffice.
        element, component = _refdes(ref)
        elements = self.data.elements
        if element >= len(elements):
            return ""
        composite = elements[element]
        if component is None:
            value = composite.format()
        elif component < len(composite):
            value = composite[component].get_value()
        else:
            return ""
        return value.strip() if value else ""

    @property
    def label(self) -> str:
        """The segment id for messages: only ids the guides know, never stray data."""
        return self.id if self.id in known_segment_ids() else "unknown segment"

    def where(self) -> str:
        return f"segment {self.number} ({self.loop}/{self.label})"


@functools.cache
def known_segment_ids() -> frozenset[str]:
    """Every segment id of the maps the loader reads with (envelopes, 837P, 837I, 835, 999).

    A segment id outside them is shown as "unknown segment": a stray terminator inside a name
    would otherwise make part of the name look like a segment id in a message.
    """
    found: set[str] = set()
    maps = importlib.resources.files("pyx12") / "map"
    guides = (*placing.NEAREST_MAP.values(), placing.UNMAPPED_GROUP_MAP)
    for name in ("x12.control.00501.xml", *guides):
        found.update(re.findall(r'<segment xid="([A-Z0-9]{2,3})"', (maps / name).read_text()))
    return frozenset(found)


@functools.cache
def _refdes(ref: str) -> tuple[int, int | None]:
    """``SV101-2`` -> (0, 1): the element's and the component's index, from 0."""
    found = _REFDES.match(ref)
    if found is None:
        raise ValueError(f"not an element reference: {ref}")
    component = found.group(2)
    return int(found.group(1)) - 1, int(component) - 1 if component else None


# -- opening -----------------------------------------------------------------------------------
def open_text(path: Path) -> io.TextIOBase:
    """The file as text starting at its ISA, fixed-width; or FileProblem saying why not."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_CHARS)
    _check_encoding(head)
    fh_text = path.open(encoding="utf-8", errors="surrogateescape", newline="")
    try:
        start = fh_text.read(SNIFF_CHARS)
        stripped = start.lstrip("\ufeff \t\r\n")
        if not stripped:
            raise FileProblem("the file is empty")
        if not stripped.startswith("ISA"):
            if re.match(r"^(GS|ST)[^A-Za-z0-9\s]", stripped):
                raise FileProblem(
                    "no ISA interchange envelope: the file starts with its "
                    f"{stripped[:2]} segment; an X12 interchange must begin with an ISA header"
                )
            raise FileProblem("not an X12 interchange: the file does not begin with ISA")
        isa, rest = _fixed_isa(stripped)
        version = isa[84:89]
        if version not in KNOWN_VERSIONS:
            if version.isdigit():
                raise FileProblem(
                    f"ISA12 version {version} is not 00501: caregraph reads X12 005010 only",
                    "unsupported",
                )
            raise FileProblem("ISA12 is not an X12 version number: the ISA header is malformed")
        return _Joined(isa + rest, fh_text)
    except BaseException:
        fh_text.close()
        raise


def _check_encoding(head: bytes) -> None:
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if head.startswith(bom):
            raise FileProblem(f"the file is {name} text; X12 is ASCII or UTF-8: convert it")
    if b"\x00" in head[:64] and head.replace(b"\x00", b"").lstrip().startswith(b"ISA"):
        raise FileProblem("the file is UTF-16 text (no BOM); X12 is ASCII or UTF-8: convert it")


def _fixed_isa(text: str) -> tuple[str, str]:
    """The ISA padded to its fixed widths (pyx12 reads exactly 106 characters), and the rest.

    Some senders trim the ISA's padded fields; the element separator (ISA position 3) and
    the count of 16 elements still say where it ends: ISA16 is one character, then the
    segment terminator.
    """
    if len(text) < 4 or text[3].isalnum() or text[3].isspace():
        raise FileProblem("the ISA header is malformed: no element separator after ISA")
    sep = text[3]
    if len(text) >= ISA_LENGTH and all(text[i] == sep for i in _ISA_SEPARATORS):
        return text[:ISA_LENGTH], text[ISA_LENGTH:]
    parts = text.split(sep, 16)
    if len(parts) < 17 or len(parts[16]) < 2:
        raise FileProblem("the ISA header is malformed: it does not have its 16 elements")
    fields, tail = parts[1:16], parts[16]
    isa16, terminator = tail[0], tail[1]
    if any(len(f.strip()) > w for f, w in zip(fields, ISA_WIDTHS, strict=False)):
        raise FileProblem("the ISA header is malformed: an element is longer than its width")
    padded = [f.strip().ljust(w) for f, w in zip(fields, ISA_WIDTHS, strict=False)]
    return sep.join(["ISA", *padded, isa16]) + terminator, tail[2:]


class _Joined(io.TextIOBase):
    """Text already read (the fixed ISA and what followed it), then the rest of the file."""

    def __init__(self, prefix: str, rest: TextIO) -> None:
        self._prefix = prefix
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        if size is None or size < 0:
            out, self._prefix = self._prefix + self._rest.read(), ""
            return out
        if self._prefix:
            out, self._prefix = self._prefix[:size], self._prefix[size:]
            return out if len(out) == size else out + self._rest.read(size - len(out))
        return self._rest.read(size)

    def close(self) -> None:
        self._rest.close()
        super().close()


# -- segments ----------------------------------------------------------------------------------
class _Findings(errh_null):  # type: ignore[misc]  # pyx12 is untyped
    """An error handler that keeps what pyx12 finds about the segment being read."""

    def __init__(self) -> None:
        super().__init__()
        self.element: Any = None
        self.problems: list[str] = []
        self.notes: list[Note] = []

    def drain(self) -> tuple[list[str], list[Note]]:
        out = (self.problems, self.notes)
        self.problems, self.notes = [], []
        return out

    def handle_errors(self, err_list: list[tuple[str, str, str, Any, int | None]]) -> None:
        return  # envelope (isa, gs, st) and HL findings: checked by the loader, see above

    def add_ele(self, map_node: Any) -> None:
        self.element = map_node

    def ele_error(
        self, err_cde: str, err_str: str, bad_value: str | None, refdes: str | None = None
    ) -> None:
        found = unusable(err_cde, self.element, refdes)
        if found is not None:
            self.notes.append(found)


def unusable(err_cde: str, element: Any, refdes: str | None) -> Note | None:
    """What an element finding of pyx12 means for caregraph, or None when nothing.

    A value of the wrong type is unusable, but the rest of the segment is understood: the
    value is left out with a warning (the mapping decides when a value it needs is missing).
    A code outside pyx12's list, a length or a situational rule does not change what the
    element means, so it is not reported. Dates can hide in AN elements typed by a format
    qualifier (DMG02 by DMG01).
    """
    dtype = (element.data_type if element is not None else None) or ""
    ref = refdes or (element.refdes if element is not None else "an element")
    if err_cde == "8":
        return Note("unusual-value", f"{ref} is not a valid date")
    if err_cde == "9":
        return Note("unusual-value", f"{ref} is not a valid time")
    if err_cde == "6" and _NUMERIC.match(dtype):
        return Note("unusual-value", f"{ref} is not a valid number")
    return None


def segments(stream: io.TextIOBase) -> Iterator[Seg]:
    """Every segment of the stream in order, placed in its loop: by the fast reader
    (loaders/x12/placing.py), or by pyx12's validating reader when CAREGRAPH_X12_READER=pyx12.
    Both give the same segments, loops and findings."""
    if os.environ.get(READER_SETTING, "fast") == "pyx12":
        return validated_segments(stream)
    return fast_segments(stream)


def fast_segments(stream: io.TextIOBase) -> Iterator[Seg]:
    """Every segment of the stream, placed by pyx12's walker without its counting and checked
    only for what caregraph uses (loaders/x12/placing.py says why)."""
    try:
        placed = placing.place(stream)
    except pyx12.errors.X12Error as e:
        raise ReadFailure(1, "the ISA header is malformed (pyx12 refuses it)") from e
    return _fast(placed)


def _fast(placed: Iterator[placing.Placed]) -> Iterator[Seg]:
    number = 0
    loops: tuple[str, ...] = ()
    try:
        for p in placed:
            number = p.line or number + 1
            notes: list[Note] = []
            for f in p.findings:
                found = unusable(f.code, f.element, f.refdes)
                if found is not None:
                    notes.append(found)
            seg, loops = _seg(number, p.data, p.node, loops, [], notes)
            yield seg
    except Exception as e:  # pyx12 raises more than its own errors on some malformed input
        raise ReadFailure(number + 1, f"pyx12 cannot read on ({type(e).__name__})") from e


def validated_segments(stream: io.TextIOBase) -> Iterator[Seg]:
    """Every segment of the stream in order, placed and fully validated by pyx12's
    ``X12ContextReader`` (the reference the fast reader is tested against)."""
    findings = _Findings()
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.ParamsBase(), findings, stream)
    except pyx12.errors.X12Error as e:
        raise ReadFailure(1, "the ISA header is malformed (pyx12 refuses it)") from e
    reader.map_index_if = placing.NearestMaps()
    return _validated(reader, findings)


def _validated(reader: Any, findings: _Findings) -> Iterator[Seg]:
    number = 0
    loops: tuple[str, ...] = ()
    try:
        for node in reader.iter_segments():
            number = node.cur_line_number or number + 1
            problems, notes = findings.drain()
            seg, loops = _seg(number, node.seg_data, node.x12_map_node, loops, problems, notes)
            yield seg
    except Exception as e:  # pyx12 raises more than its own errors on some malformed input
        raise ReadFailure(number + 1, f"pyx12 cannot read on ({type(e).__name__})") from e
    finally:
        reader.close()


def _seg(
    number: int,
    data: pyx12.segment.Segment,
    mapped: Any,
    loops: tuple[str, ...],
    problems: list[str],
    notes: list[Note],
) -> tuple[Seg, tuple[str, ...]]:
    """The segment as the loader reads it, and the loop path the next segment starts from (a
    segment with no place of its own keeps the previous one's)."""
    seg_id = data.get_seg_id() or ""
    path = mapped.get_path() if mapped is not None else ""
    if mapped is not None and mapped.id == seg_id:
        loops = tuple(p for p in path.split("/")[1:-1] if p)
    seg = Seg(number, seg_id, loops, data, problems, notes)
    if mapped is None or mapped.id != seg_id:
        seg.problems.append(
            f"{seg.label} has no place here in the implementation guide "
            "(misplaced, unknown or malformed segment)"
        )
    if _NOT_TEXT.search(data.format()):
        seg.problems.append("holds control characters or bytes that are not UTF-8 text")
    return seg, loops
