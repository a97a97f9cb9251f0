"""The fast X12 reader: pyx12's placement of each segment, without the validation caregraph
throws away.

Why it exists. pyx12's ``X12ContextReader`` does three things per segment: it walks the
segment into its loop with the implementation guide's map, it counts every loop and segment
against the guide's repeat limits and usage, and it validates every element (code lists,
lengths, character sets, syntax rules, situational rules), building a 999-style error tree.
caregraph keeps only the first and a sliver of the third: the loop path, and the findings that
make a value unusable (a date that is not a date, a time that is not a time, a number that is
not a number; :class:`loaders.x12.reading._Findings`). Profiled on a generated 837 of 1,000
patients, the counting and the discarded validation were about three quarters of pyx12's time,
and pyx12 was about 60 % of the billing source's load time (issue 17).

What it is not. It is not a second X12 parser: segments are split by pyx12's own tokenizer
(``X12Reader``), placed by pyx12's own walker (``walk_tree``) over the same maps, and the
unusable-value findings come from pyx12's own element validators called on the elements that
can produce them. The walker's placement does not depend on its counters (they only produce
errors), so switching the counting off changes no loop path; which is why there is no
re-read with the validating reader on an anomaly: an anomaly (a segment with no place, a
broken hierarchy, envelope counts that do not add up) is placed, or not, exactly as pyx12
places it, and the loader's own checks (loaders.x12.control, loaders.x12.claims) see the same
segments either way. tests/loaders/test_x12_placing.py checks that both readers give equal
segments, loops and findings on every X12 sample, the generator's files and a file of each
anomaly class. ``CAREGRAPH_X12_READER=pyx12`` selects the validating reader.

It subclasses pyx12 internals (``walk_tree``'s counting hooks), so pyproject.toml pins pyx12's
major version, and the equality test is what tells a pyx12 upgrade that changed them.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyx12.map_if
import pyx12.map_index
import pyx12.map_walker
import pyx12.params
import pyx12.segment
import pyx12.x12file

CONTROL_MAPS = {"00501": "x12.control.00501.xml", "00401": "x12.control.00401.xml"}
ENVELOPE = frozenset(("ISA", "IEA", "GS", "GE", "ST", "SE"))
# pyx12 ships one map per transaction and 5010 addendum; for another addendum of the same
# guide (X222A2, X223A1, X223A3) the nearest map it has is used: the addenda change code lists
# and situational rules, not the loop structure that the mapping relies on.
NEAREST_MAP = {
    "005010X222": "837.5010.X222.A1.xml",
    "005010X223": "837Q3.I.5010.X223.A1.xml",
    "005010X221": "835.5010.X221.A1.xml",
}
# For a functional group pyx12 has no map for (a 270, a 997 in 5010, a 277CA ...) a map is
# still needed to keep pyx12 reading through to the next group; its segments are not placed
# and the loader skips those transaction sets whole, so which map does not matter.
UNMAPPED_GROUP_MAP = "999.5010.xml"
_GUIDE_ADDENDUM = re.compile(r"A[0-9]+$")
_NUMERIC_TYPES = ("R", "N")
_DTP_FORMATS = ("RD8", "D8", "D6", "DT", "TM")
_TYPE_LIST_ELEMENT = "1250"  # a date/time format qualifier (DMG01, DTM05 ...)
_TYPED_ELEMENT = "1251"  # the date/time its qualifier types (DMG02, DTM06 ...)


class NearestMaps(pyx12.map_index.map_index):  # type: ignore[misc]  # pyx12 is untyped
    """pyx12's map index, falling back to the nearest map for another 5010 addendum."""

    def get_filename(
        self, icvn: str | None, vriic: str | None, fic: str | None, tspc: str | None = None
    ) -> str | None:
        found: str | None = super().get_filename(icvn, vriic, fic, tspc)
        if found:
            return found
        guide = _GUIDE_ADDENDUM.sub("", vriic or "")
        return NEAREST_MAP.get(guide, UNMAPPED_GROUP_MAP)


class _NoCount:
    """A loop and segment counter that counts nothing: the walker consults counts only to
    report repeat and usage errors, which caregraph does not use."""

    def increment(self, xpath: Any) -> None:
        return None

    def reset_to_node(self, xpath: Any) -> None:
        return None

    def get_count(self, xpath: Any) -> int:
        return 1  # "seen": no "mandatory segment missing" findings are assembled


class _Placing(pyx12.map_walker.walk_tree):  # type: ignore[misc]  # pyx12 is untyped
    """pyx12's map walker with its counting and requirement findings switched off."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = _NoCount()

    def _check_seg_usage(self, *args: Any) -> None:
        return None

    def _check_loop_usage(self, *args: Any) -> None:
        return None

    def _record_loop_missing_if_required(self, *args: Any) -> None:
        return None

    def _flush_mandatory_segs(self, cur_pos: int | None = None) -> None:
        return None

    def _seg_not_found_error(self, *args: Any) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Finding:
    """One element finding as pyx12's error handler would receive it."""

    code: str  # pyx12's IK4 code: 8 date, 9 time, 6 invalid character or type ...
    element: Any  # the element's map node
    refdes: str | None


@dataclass(frozen=True, slots=True)
class Placed:
    """One segment: where in the file, its data, the map node it was placed at (when the walk
    finds no place, the previous segment's node, as pyx12 keeps it) and the findings about its
    values."""

    line: int
    data: pyx12.segment.Segment
    node: Any
    findings: tuple[Finding, ...]


# seg id -> the element positions (from 1) that any loaded map matches that segment by
_KEY_POSITIONS: dict[str, set[int]] = {}


@functools.cache
def _map(name: str) -> Any:
    """A pyx12 map, loaded once per process (pyx12's reader loads it again for every file)."""
    root = pyx12.map_if.load_map_file(name, pyx12.params.ParamsBase())
    _learn_keys(root)
    return root


def _learn_keys(root: Any) -> None:
    """Where each segment of the map is told apart from others with its id: the element
    ``segment_if.is_match`` reads (01, the 01 composite, ENT02, HL03), for every segment node."""
    for node in root.loop_segment_iterator():
        if isinstance(node, pyx12.map_if.segment_if):
            key = node._resolve_unique_key_field(node.id, with_qual=False)
            positions = _KEY_POSITIONS.setdefault(node.id, set())
            if key is not None:
                positions.add(key[1])


@functools.cache
def _checked(node: Any) -> tuple[int, ...]:
    """The positions of ``node``'s elements whose validation can find an unusable value: the
    dates, times and numbers, date/time qualifiers and what they type, and composites that
    hold one. Code lists, lengths and the rest are not checked: caregraph does not use them."""

    def typed(element: Any) -> bool:
        dtype = element.get_data_type() or ""
        return (
            dtype in ("DT", "TM")
            or dtype.startswith(_NUMERIC_TYPES)
            or element.data_ele in (_TYPE_LIST_ELEMENT, _TYPED_ELEMENT)
        )

    found: list[int] = []
    for i in range(node.get_child_count()):
        child = node.get_child_node_by_idx(i)
        if isinstance(child, pyx12.map_if.composite_if):
            if any(typed(sub) for sub in child.children):
                found.append(i)
        elif typed(child) or (node.id == "DTP" and i in (1, 2)):
            found.append(i)
    return tuple(found)


_MEMO_LIMIT = 100_000  # results kept per file; past it the memo starts again


def _findings(
    node: Any, data: pyx12.segment.Segment, memo: dict[tuple[Any, ...], list[Any]]
) -> tuple[Finding, ...]:
    """What ``segment_if.is_valid_errors`` reports about the checked elements: the same calls,
    in the same order, on fewer elements. An element's result depends only on its map node, its
    text and the types it is checked against, and amounts, dates and qualifiers repeat, so
    results are kept in ``memo`` (one per file: texts depend on its separators)."""
    out: list[Finding] = []
    dtype: list[str | None] = []
    type_list: list[str | None] = []
    seg_id = data.get_seg_id()
    for i in _checked(node):
        if i >= len(data):
            break  # an absent element has no value to be unusable
        child = node.get_child_node_by_idx(i)
        ref = f"{i + 1:02d}"
        value = data.get(ref)
        types: list[str | None] | None = None
        if not isinstance(child, pyx12.map_if.composite_if):
            if i == 1 and seg_id == "DTP" and data.get_value("02") in _DTP_FORMATS:
                dtype = [data.get_value("02")]
            if child.data_ele == _TYPE_LIST_ELEMENT:
                type_list.extend(child.valid_codes)
            if i == 2 and seg_id == "DTP":
                types = dtype
            elif child.data_ele == _TYPED_ELEMENT and type_list:
                types = type_list
        key = (id(child), value.format() if value is not None else None, tuple(types or ()))
        errors = memo.get(key)
        if errors is None:
            if isinstance(child, pyx12.map_if.composite_if):
                _, errors = child.is_valid_errors(value)
            elif types is not None:
                _, errors = child.is_valid_errors(value, types)
            else:
                _, errors = child.is_valid_errors(value)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[key] = errors
        out += (Finding(e.err_cde, e.map_node, e.refdes) for e in errors if e.map_node is not None)
    return tuple(out)


def place(stream: io.TextIOBase) -> Iterator[Placed]:
    """Every segment of the stream, placed in its loop as pyx12 places it.

    ``X12ContextReader.iter_segments`` without the counting, the 999 error tree and the
    validation caregraph does not use: ISA and GS are placed by path in the control map, a GS
    switches to its guide's map (:class:`NearestMaps`), everything else is
    walked from the previous segment's node. The ISA is read here, before the first segment is
    asked for, so a header pyx12 refuses raises as the validating reader's constructor does.
    """
    return _walk(pyx12.x12file.X12Reader(stream))


def _walk(src: pyx12.x12file.X12Reader) -> Iterator[Placed]:
    control = _map(CONTROL_MAPS.get(src.icvn, CONTROL_MAPS["00501"]))
    maps = NearestMaps()
    walker = _Placing()
    # Where a walk ends depends only on where it starts, the segment id and the elements the
    # map's segments are matched by; most segments of a file repeat one of few such walks. The
    # cache lives for one file: the key holds element texts, which depend on its separators.
    walks: dict[tuple[int, str, tuple[str, ...]], Any] = {}
    checks: dict[tuple[Any, ...], list[Any]] = {}
    matched_by: dict[str, tuple[int, ...]] = {}  # seg id -> its key positions, sorted once
    node = control.getnodebypath("/ISA_LOOP/ISA")
    icvn: str | None = None
    try:
        for data in src:
            seg_id = data.get_seg_id()
            if seg_id == "ISA":
                node = control.getnodebypath("/ISA_LOOP/ISA")
                icvn = data.get_value("ISA12")
            elif seg_id == "GS":
                name = maps.get_filename(icvn, data.get_value("GS08"), data.get_value("GS01"))
                node = _map(name).getnodebypath("/ISA_LOOP/GS_LOOP/GS")
                matched_by.clear()  # a map loaded now may match a segment id by more elements
            else:
                elements = data.elements
                positions = matched_by.get(seg_id)
                if positions is None:
                    positions = matched_by[seg_id] = tuple(sorted(_KEY_POSITIONS.get(seg_id, ())))
                key = (
                    id(node),
                    seg_id,
                    tuple(
                        elements[i - 1].format() if i <= len(elements) else "" for i in positions
                    ),
                )
                if key in walks:
                    found = walks[key]
                else:
                    found, _, _, _ = walker.walk_errors(node, data, 0, 0, None)
                    if len(walks) >= _MEMO_LIMIT:
                        walks.clear()
                    walks[key] = found
                if found is None:  # no place: pyx12 keeps the previous node and checks nothing
                    yield Placed(src.get_cur_line(), data, node, ())
                    continue
                node = found
            findings: tuple[Finding, ...] = ()
            if seg_id not in ENVELOPE and isinstance(node, pyx12.map_if.segment_if):
                findings = _findings(node, data, checks)
            yield Placed(src.get_cur_line(), data, node, findings)
    finally:
        src.close()
