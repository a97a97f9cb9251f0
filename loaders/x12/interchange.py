"""An X12 file read as items: envelopes checked, each transaction set read by its kind.

ISA/IEA (interchange), GS/GE (functional group) and ST/SE (transaction set) are followed
here. An 837P/837I set goes to :mod:`loaders.x12.claims`, an 835 to
:mod:`loaders.x12.remittances`; any other set (999, 997, 270, 277CA, 837D ...) is one
Skipped item, and a set of another version (a 4010 guide) one Rejected item.

Envelope counts and control numbers that do not add up (SE01, GE01, IEA01, a trailer that
closes another control number, a repeated GS06 or ST02) leave the content understood: its
records are written with an ``envelope`` warning (found beforehand by
:mod:`loaders.x12.control`). A copy of an earlier interchange of the file (same ISA13, same
content) is one Skipped item; other content under a used ISA13 is one ``conflict``. A missing
trailer (a truncated file) is one Rejected item; the claims before it that were complete are
still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from caregraph.loaders.records import Item, Record, Rejected, Skipped
from caregraph.loaders.x12.claims import ClaimTransaction, claim_kind
from caregraph.loaders.x12.control import InterchangeScan, Plan, plan
from caregraph.loaders.x12.reading import FileProblem, ReadFailure, Seg, open_text, segments
from caregraph.loaders.x12.remittances import PaymentTransaction
from caregraph.loaders.x12.units import (
    FORMAT,
    FileContext,
    SkippedTransaction,
    Transaction,
    TransactionContext,
    UnsupportedTransaction,
)

VERSION = "00501"
GUIDE_VERSION = "005010"
_GUIDE = re.compile(r"^[0-9]{6}[0-9A-Z]{0,6}$")  # 005010X222A1
_SET_ID = re.compile(r"^[0-9]{3}[A-Z]?$")  # 837, 835, 999, 277 ...


def items(path: Path, source: str) -> Iterator[Item]:
    """Every record, rejection and skip of the file, one transaction set at a time."""
    ctx = FileContext(source, str(path))
    try:
        with open_text(path) as first:
            envelopes = plan(first)
        stream = open_text(path)
    except FileProblem as e:
        yield Rejected(ctx.ref("file"), FORMAT, str(e), e.code)
        return
    except OSError as e:
        yield Rejected(
            ctx.ref("file"), FORMAT, f"the file cannot be read ({type(e).__name__})", "reader"
        )
        return
    with stream:
        yield from _Envelopes(ctx, envelopes).read(segments(stream))


class _Envelopes:
    """The interchange, group and transaction set open at each segment."""

    def __init__(self, ctx: FileContext, envelopes: Plan) -> None:
        self.ctx = ctx
        self.plan = envelopes
        self.isa: Seg | None = None
        self.gs: Seg | None = None
        self.tx: Transaction | None = None
        self.tx_ctx: TransactionContext | None = None
        self.skipping = False  # inside an interchange not read (another version, a copy)
        # envelope findings of the open interchange, group and transaction set
        self.isa_notes: list[str] = []
        self.gs_notes: list[str] = []
        self.st_notes: list[str] = []
        self.stray = False  # a stray segment outside any transaction set was reported
        self.last: Seg | None = None

    def read(self, segs: Iterator[Seg]) -> Iterator[Item]:
        try:
            for seg in segs:
                self.last = seg
                yield from self._step(seg)
        except ReadFailure as e:
            at = f"segment {e.segment}"
            yield from self._abandon(f"{at}: {e}; the transaction set cannot be completed")
            yield Rejected(
                self.ctx.ref(at), FORMAT, f"{e}: the rest of the file was not read", "syntax"
            )
            return
        yield from self._end()

    def _step(self, seg: Seg) -> Iterator[Item]:
        if seg.id == "ISA":
            yield from self._isa(seg)
        elif seg.id == "IEA":
            yield from self._abandon(_early(seg))
            self.isa, self.gs, self.skipping, self.isa_notes = None, None, False, []
        elif self.skipping:
            return
        elif seg.id == "GS":
            yield from self._abandon(_early(seg))
            self.gs, self.stray = seg, False
            self.gs_notes = self.plan.groups.get(seg.number, [])
        elif seg.id == "GE":
            yield from self._abandon(_early(seg))
            self.gs, self.gs_notes = None, []
        elif seg.id == "ST":
            yield from self._abandon(_early(seg))
            self.tx_ctx, self.tx = self._transaction(seg)
            self.stray = False
            self.st_notes = self.plan.transactions.get(seg.number, [])
        elif seg.id == "SE":
            if self.tx is None or self.tx_ctx is None:
                yield from self._stray(seg)
                return
            yield from self._noted(self.tx.close(seg))
            self.tx, self.tx_ctx, self.st_notes = None, None, []
        elif self.tx is not None:
            yield from self._noted(self.tx.feed(seg))
        else:
            yield from self._stray(seg)

    def _noted(self, items: Iterator[Item]) -> Iterator[Item]:
        """The items, each record with the findings of the envelopes around it."""
        for item in items:
            if isinstance(item, Record):
                for found in (*self.st_notes, *self.gs_notes, *self.isa_notes):
                    item.warn("envelope", found)
            yield item

    def _isa(self, seg: Seg) -> Iterator[Item]:
        yield from self._abandon(_early(seg))
        if self.isa is not None:
            yield Rejected(
                self.ctx.ref(f"interchange (segment {self.isa.number})"),
                FORMAT,
                f"{seg.where()}: a new interchange began before the IEA trailer of this one",
                "syntax",
            )
        self.isa, self.gs, self.stray = seg, None, False
        scan = self.plan.interchanges.get(seg.number) or InterchangeScan(seg.get("ISA13"))
        self.isa_notes = scan.findings
        control = seg.get("ISA13")
        ref = self.ctx.ref(
            f"interchange (segment {seg.number})", f"ISA {control}" if control.isdigit() else None
        )
        self.skipping = True
        if scan.same_as is not None:
            yield Skipped(
                ref,
                FORMAT,
                "interchange",
                f"duplicate of interchange {control if control.isdigit() else ''} at segment "
                f"{scan.same_as}: the same ISA13 and content again",
            )
            return
        if scan.conflicts_with is not None:
            yield Rejected(
                ref,
                FORMAT,
                f"{seg.where()}: ISA13 repeats the control number of the interchange at segment "
                f"{scan.conflicts_with} with other content; the interchange was not read",
                "conflict",
            )
            return
        version = seg.get("ISA12")
        self.skipping = version != VERSION
        if self.skipping:
            yield Rejected(
                ref,
                FORMAT,
                f"{seg.where()}: ISA12 version {version if version.isdigit() else '(none)'} "
                f"is not {VERSION}: "
                "caregraph reads X12 005010 only; the interchange was not read",
                "unsupported",
            )

    def _transaction(self, st: Seg) -> tuple[TransactionContext, Transaction]:
        # ST01 and the guide end up in messages: only when they look like codes
        guide = st.get("ST03") or (self.gs.get("GS08") if self.gs else "")
        guide = guide if _GUIDE.match(guide) else ""
        ctx = TransactionContext(self.ctx, st, guide)
        kind = st.get("ST01") if _SET_ID.match(st.get("ST01")) else ""
        if kind in ("837", "835") and guide and not guide.startswith(GUIDE_VERSION):
            return ctx, UnsupportedTransaction(
                ctx,
                f"{st.where()}: the {kind} guide {guide} is not a {GUIDE_VERSION} guide: "
                "caregraph reads X12 005010 only",
            )
        if kind == "837":
            found = claim_kind(guide)
            if found is not None:
                return ctx, ClaimTransaction(ctx, *found)
            return ctx, SkippedTransaction(ctx, f"837 {guide or 'unknown guide'} transaction set")
        if kind == "835":
            return ctx, PaymentTransaction(ctx)
        return ctx, SkippedTransaction(ctx, f"{kind or 'unknown'} transaction set")

    def _abandon(self, why: str) -> Iterator[Item]:
        if self.tx is not None:
            yield from self.tx.abandon(why)
        self.tx, self.tx_ctx = None, None

    def _stray(self, seg: Seg) -> Iterator[Item]:
        if not self.stray:
            self.stray = True
            yield Rejected(
                self.ctx.ref(f"segment {seg.number}"),
                FORMAT,
                f"{seg.where()}: outside any transaction set (between SE and the next ST)",
                "syntax",
            )

    def _end(self) -> Iterator[Item]:
        where = f"the file ends after {self.last.where() if self.last else 'its ISA'}"
        if self.tx is not None:
            yield from self._abandon(
                f"{where} inside the transaction set, before its SE: the file is truncated "
                "(or an empty segment stopped the reader)"
            )
        elif self.gs is not None or (self.isa is not None and not self.skipping):
            missing = "GE and IEA" if self.gs is not None else "IEA"
            opened = self.gs or self.isa
            assert opened is not None
            yield Rejected(
                self.ctx.ref(f"segment {opened.number}"),
                FORMAT,
                f"{where} without its {missing} trailer: the file is truncated",
                "syntax",
            )


def _early(seg: Seg) -> str:
    return f"{seg.where()}: {seg.id} came before the SE trailer of the transaction set (SE missing)"
