"""An X12 file read as items: envelopes checked, each transaction set read by its kind.

ISA/IEA (interchange), GS/GE (functional group) and ST/SE (transaction set) are followed
here. An 837P/837I set goes to :mod:`loaders.x12.claims`, an 835 to
:mod:`loaders.x12.remittances`; any other set (999, 997, 270, 277CA, 837D ...) is one
Skipped item. What goes wrong with an envelope (a trailer that closes another control
number, a wrong count, a missing trailer) is one Rejected item for that envelope; the claims
inside it that were complete are still read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from loaders.records import Item, Rejected
from loaders.x12.claims import ClaimTransaction, claim_kind
from loaders.x12.reading import FileProblem, ReadFailure, Seg, open_text, segments
from loaders.x12.remittances import PaymentTransaction
from loaders.x12.units import (
    FORMAT,
    FileContext,
    SkippedTransaction,
    Transaction,
    TransactionContext,
    reject,
)

VERSION = "00501"
_GUIDE = re.compile(r"^[0-9]{6}[0-9A-Z]{0,6}$")  # 005010X222A1
_SET_ID = re.compile(r"^[0-9]{3}[A-Z]?$")  # 837, 835, 999, 277 ...


def items(path: Path, source: str) -> Iterator[Item]:
    """Every record, rejection and skip of the file, one transaction set at a time."""
    ctx = FileContext(source, str(path))
    try:
        stream = open_text(path)
    except FileProblem as e:
        yield Rejected(ctx.ref("file"), FORMAT, str(e))
        return
    except OSError as e:
        yield Rejected(ctx.ref("file"), FORMAT, f"the file cannot be read ({type(e).__name__})")
        return
    with stream:
        yield from _Envelopes(ctx).read(segments(stream))


class _Envelopes:
    """The interchange, group and transaction set open at each segment."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.isa: Seg | None = None
        self.gs: Seg | None = None
        self.tx: Transaction | None = None
        self.tx_ctx: TransactionContext | None = None
        self.skipping = False  # inside an interchange of another X12 version
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
            yield Rejected(self.ctx.ref(at), FORMAT, f"{e}: the rest of the file was not read")
            return
        yield from self._end()

    def _step(self, seg: Seg) -> Iterator[Item]:
        if seg.id == "ISA":
            yield from self._isa(seg)
        elif seg.id == "IEA":
            yield from self._abandon(_early(seg))
            if seg.envelope and not self.skipping:
                yield self._envelope_reject("interchange", self.isa or seg, seg)
            self.isa, self.gs, self.skipping = None, None, False
        elif self.skipping:
            return
        elif seg.id == "GS":
            yield from self._abandon(_early(seg))
            self.gs, self.stray = seg, False
            if seg.envelope:
                yield self._envelope_reject("functional group", seg, seg)
        elif seg.id == "GE":
            yield from self._abandon(_early(seg))
            if seg.envelope:
                yield self._envelope_reject("functional group", self.gs or seg, seg)
            self.gs = None
        elif seg.id == "ST":
            yield from self._abandon(_early(seg))
            self.tx_ctx, self.tx = self._transaction(seg)
            self.stray = False
            if seg.envelope:
                yield reject(self.tx_ctx.ref(), [f"{seg.where()}: {e}" for e in seg.envelope])
        elif seg.id == "SE":
            if self.tx is None or self.tx_ctx is None:
                yield from self._stray(seg)
                return
            yield from self.tx.close(seg)
            if seg.envelope:
                yield reject(self.tx_ctx.ref(), [f"{seg.where()}: {e}" for e in seg.envelope])
            self.tx, self.tx_ctx = None, None
        elif self.tx is not None:
            yield from self.tx.feed(seg)
        else:
            yield from self._stray(seg)

    def _isa(self, seg: Seg) -> Iterator[Item]:
        yield from self._abandon(_early(seg))
        if self.isa is not None:
            yield Rejected(
                self.ctx.ref(f"interchange (segment {self.isa.number})"),
                FORMAT,
                f"{seg.where()}: a new interchange began before the IEA trailer of this one",
            )
        self.isa, self.gs, self.stray = seg, None, False
        if seg.envelope:
            yield self._envelope_reject("interchange", seg, seg)
        version = seg.get("ISA12")
        self.skipping = version != VERSION
        if self.skipping:
            yield Rejected(
                self.ctx.ref(f"interchange (segment {seg.number})"),
                FORMAT,
                f"{seg.where()}: ISA12 version {version if version.isdigit() else '(none)'} "
                f"is not {VERSION}: "
                "caregraph reads X12 005010 only; the interchange was not read",
            )

    def _transaction(self, st: Seg) -> tuple[TransactionContext, Transaction]:
        # ST01 and the guide end up in messages: only when they look like codes
        guide = st.get("ST03") or (self.gs.get("GS08") if self.gs else "")
        guide = guide if _GUIDE.match(guide) else ""
        ctx = TransactionContext(self.ctx, st, guide)
        kind = st.get("ST01") if _SET_ID.match(st.get("ST01")) else ""
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
            )

    def _envelope_reject(self, what: str, opened: Seg, closing: Seg) -> Rejected:
        return reject(
            self.ctx.ref(f"{what} (segment {opened.number})"),
            [f"{closing.where()}: {e}" for e in closing.envelope],
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
            )


def _early(seg: Seg) -> str:
    return f"{seg.where()}: {seg.id} came before the SE trailer of the transaction set (SE missing)"
