"""What the 837 and 835 readers share: where a claim is, and how a transaction set is fed.

A transaction set is read one segment at a time. A claim (837 loop 2300) or claim payment
(835 loop 2100) is complete when the next one, the next hierarchical level or the SE trailer
begins; it is then mapped to one record, or rejected, before the next is read. What its
segments say is unusual (a date that is not a date, a hierarchy numbered oddly) goes with the
record as warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from caregraph.loaders.records import Item, Record, Rejected, Skipped, SourceRef
from caregraph.loaders.x12.reading import Seg
from caregraph.loaders.x12.values import MappingError

FORMAT = "x12"
MAX_REASONS = 3


@dataclass(slots=True)
class FileContext:
    """One file being read: its source system, name, and how many claims it has shown."""

    source: str
    file: str
    claims: int = 0  # claims and claim payments met so far, for positions

    def ref(self, position: str, record_id: str | None = None) -> SourceRef:
        return SourceRef(self.source, self.file, position, record_id)


@dataclass(slots=True)
class TransactionContext:
    """One transaction set (ST to SE): its ST segment and implementation guide."""

    file: FileContext
    st: Seg
    guide: str  # ST03, else GS08: 005010X222A1 ...

    @property
    def control(self) -> str:
        return self.st.get("ST02") or "?"

    def ref(self) -> SourceRef:
        return self.file.ref(f"transaction set (segment {self.st.number})", f"ST {self.control}")


class Transaction(Protocol):
    """Reads one transaction set's segments (between ST and SE) into items."""

    def feed(self, seg: Seg) -> Iterator[Item]: ...

    def close(self, se: Seg) -> Iterator[Item]:
        """The SE trailer arrived: finish what is held."""
        ...

    def abandon(self, why: str) -> Iterator[Item]:
        """No SE will come (the file ends, or another envelope segment came first)."""
        ...


U = TypeVar("U")


class UnitTransaction(Generic[U]):
    """A transaction set read one unit at a time (an 837's claims, an 835's claim payments):
    a unit is mapped to one record, or rejected, when the next one begins or the set ends.
    A reader says where a unit's segments are, what it is called, and how it is mapped."""

    units = "unit(s)"  # what the units are called in a rejection

    def __init__(self, ctx: TransactionContext) -> None:
        self.ctx = ctx
        self.header: list[Seg] = [ctx.st]
        self.current: U | None = None  # the unit being read
        self.count = 0  # units begun in this transaction set

    def close(self, se: Seg) -> Iterator[Item]:
        yield from self._finish()

    def abandon(self, why: str) -> Iterator[Item]:
        if self.current is not None:
            unit, self.current = self.current, None
            yield reject(self._ref(unit), [why], "syntax")
        else:
            yield reject(
                self.ctx.ref(), [f"{why}; {self.count} {self.units} before it were read"], "syntax"
            )

    def _finish(self) -> Iterator[Item]:
        """The unit being read is complete: its record, or its rejection."""
        if self.current is None:
            return
        unit, self.current = self.current, None
        segs = self._segments(unit)
        found = problems(segs)
        if found:
            yield reject(self._ref(unit), found, "syntax")
            return
        try:
            record = self._record(unit)
        except MappingError as e:
            yield reject(self._ref(unit), [str(e)], e.code)
            return
        yield noted(record, segs)

    def _segments(self, unit: U) -> list[Seg]:
        """The unit's segments, those above it that it depends on first."""
        raise NotImplementedError

    def _ref(self, unit: U) -> SourceRef:
        raise NotImplementedError

    def _record(self, unit: U) -> Record:
        """The unit mapped (MappingError when it cannot be)."""
        raise NotImplementedError


class UnsupportedTransaction:
    """A transaction set of a version caregraph does not read (a 4010 guide in a 5010 ISA)."""

    def __init__(self, ctx: TransactionContext, why: str) -> None:
        self.ctx = ctx
        self.why = why

    def feed(self, seg: Seg) -> Iterator[Item]:
        return iter(())

    def close(self, se: Seg) -> Iterator[Item]:
        yield Rejected(self.ctx.ref(), FORMAT, self.why, "unsupported")

    def abandon(self, why: str) -> Iterator[Item]:
        yield Rejected(self.ctx.ref(), FORMAT, self.why, "unsupported")


class SkippedTransaction:
    """A transaction set caregraph does not model (999, 997, 270, 277CA, 837D ...)."""

    def __init__(self, ctx: TransactionContext, kind: str) -> None:
        self.ctx = ctx
        self.kind = kind

    def feed(self, seg: Seg) -> Iterator[Item]:
        return iter(())

    def close(self, se: Seg) -> Iterator[Item]:
        yield Skipped(self.ctx.ref(), FORMAT, self.kind)

    def abandon(self, why: str) -> Iterator[Item]:
        yield Skipped(self.ctx.ref(), FORMAT, self.kind)


def find(
    segs: Iterable[Seg], seg_id: str, qualifier: str | None = None, loop: str | None = None
) -> Seg | None:
    """The first ``seg_id`` segment (in ``loop``, with element 01 = ``qualifier``)."""
    for seg in segs:
        if (
            seg.id == seg_id
            and (loop is None or seg.loop == loop)
            and (qualifier is None or seg.get(f"{seg_id}01") == qualifier)
        ):
            return seg
    return None


def problems(segments: Iterable[Seg]) -> list[str]:
    """Every finding that makes these segments untrustworthy, each with where it is."""
    return [f"{seg.where()}: {p}" for seg in segments for p in seg.problems]


def noted(record: Record, segments: Iterable[Seg]) -> Record:
    """The record with the notes of its segments as warnings, each saying where."""
    for seg in segments:
        for note in seg.notes:
            record.warn(note.code, f"{seg.where()}: {note.message}")
    return record


def reason(found: Sequence[str]) -> str:
    """The first few findings as one message."""
    more = len(found) - MAX_REASONS
    text = "; ".join(found[:MAX_REASONS])
    return f"{text} (and {more} more)" if more > 0 else text


def reject(ref: SourceRef, found: Sequence[str], code: str = "invalid") -> Rejected:
    return Rejected(ref, FORMAT, reason(found), code)
