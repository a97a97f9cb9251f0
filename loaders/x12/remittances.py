"""835 claim payments: each CLP (loop 2100) with its service lines (2110) is one record.

A payment names the claim it pays the way an 837 does: CLP01 (the provider's control number,
CLM01 in the claim) within the payee's NPI (1000B N1*PE, the billing provider of the claim),
so ``Remittance -REMITS-> Claim`` meets the claim whichever file is loaded first. The payer is
keyed by the same payer id as in the 837 (1000A REF*2U or N104, else the TRN03 company id).

A payee named by its tax id only (N103 FI or XV: the 835 guide allows it) does not name the
claim's key: the payment is written with CLP01 as its control number and its payer, without
``REMITS``, and an ``unmatched`` warning; linking finds the claim by CLP01 and payer.

Adjustment reasons (CAS, claim and service lines) are ADJUSTED_FOR links to CARC Concepts, one
per group and reason with the amounts summed; remark codes (MOA, MIA, LQ*HE) are HAS_REMARK
links to RARC Concepts. The ``adjustments`` tokens stay on the remittance, one per CAS reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from caregraph.loaders import concepts, keys
from caregraph.loaders.records import Item, Link, Node, Props, Record, Ref, SourceRef, token
from caregraph.loaders.x12 import values as v
from caregraph.loaders.x12.claims import payer_node
from caregraph.loaders.x12.reading import Seg
from caregraph.loaders.x12.units import FORMAT, UnitTransaction, find
from caregraph.loaders.x12.values import MappingError
from caregraph.ontology.vocab import CG

PAYER_ID_QUALIFIERS = ("XV", "PI")  # N103 qualifiers whose N104 is a payer id
CAS_TRIPLETS = range(2, 19, 3)  # CAS02/03, CAS05/06 ... CAS17/18: reason code and amount
# the elements that carry remittance advice remark codes (RARC): MOA (professional and
# outpatient) and MIA (inpatient) at the claim, LQ*HE at a service line
REMARKS = {
    "MOA": ("MOA03", "MOA04", "MOA05", "MOA06", "MOA07"),
    "MIA": ("MIA05", "MIA20", "MIA21", "MIA22", "MIA23"),
}


@dataclass(slots=True)
class PaymentUnit:
    """One claim payment's segments and the header above it."""

    ordinal: int  # in the file: with ST02, unique in the file and the same on every reload
    header: list[Seg]
    claim: list[Seg] = field(default_factory=list)


class PaymentTransaction(UnitTransaction[PaymentUnit]):
    """An 835 transaction set, read one claim payment at a time."""

    units = "payment(s)"

    def feed(self, seg: Seg) -> Iterator[Item]:
        if seg.id == "CLP":
            yield from self._finish()
            self.ctx.file.claims += 1
            self.count += 1
            self.current = PaymentUnit(self.ctx.file.claims, self.header, [seg])
        elif seg.id in ("LX", "PLB"):  # a new header number, or the provider-level summary
            yield from self._finish()
        elif self.current is not None:
            self.current.claim.append(seg)
        elif not seg.within("2000"):
            self.header.append(seg)

    def _segments(self, unit: PaymentUnit) -> list[Seg]:
        return [*unit.header, *unit.claim]

    def _record(self, unit: PaymentUnit) -> Record:
        nodes, links, unmatched = _map(unit)
        record = Record(self._ref(unit), FORMAT, "835 claim payment", nodes, links)
        if unmatched:
            record.warn("unmatched", unmatched)
        return record

    def _ref(self, unit: PaymentUnit) -> SourceRef:
        return self.ctx.file.ref(
            f"claim payment {unit.ordinal} (segment {unit.claim[0].number})",
            f"{self.ctx.control}/claim payment {unit.ordinal}",
        )


def _map(unit: PaymentUnit) -> tuple[list[Node], list[Link], str]:
    """The payment's nodes and links, and why it names no claim ("" when it does)."""
    clp = unit.claim[0]
    control = v.required(clp, "CLP01", "patient control number", "identity")
    header = unit.header
    bpr = find(header, "BPR")
    trn = find(header, "TRN")
    payer_n1 = find(header, "N1", "PR", loop="1000A")
    payee_n1 = find(header, "N1", "PE", loop="1000B")
    if trn is None:
        raise MappingError(clp, "the payment has no TRN (check or EFT trace number)", "identity")
    if payer_n1 is None:
        raise MappingError(clp, "the payment has no payer (1000A N1*PR)", "identity")
    payer_id = _payer_id(header, payer_n1, trn)
    npi, unmatched = "", ""
    if payee_n1 is None:
        unmatched = f"{clp.where()}: the payment has no payee (1000B N1*PE)"
    elif payee_n1.get("N103") != "XX" or not payee_n1.get("N104"):
        unmatched = f"{payee_n1.where()}: the payee has no NPI (N103 is not XX)"
    else:
        npi = payee_n1.get("N104")
    if unmatched:
        unmatched += (
            ": the claim it pays is keyed by the billing provider's NPI and CLM01, so it is "
            "not named; written without it, for linking by CLP01 and payer"
        )
    trace = v.required(trn, "TRN02", "check or EFT trace number", "identity")
    payer_control = clp.get("CLP07")
    paid = v.amount(clp, "CLP04")  # absent: a warning of the ontology's shapes
    start = find(unit.claim, "DTM", "232", loop="2100")
    end = find(unit.claim, "DTM", "233", loop="2100")
    props: v.Fields = {
        CG.controlNumber: control,
        CG.submitter: npi,
        CG.paymentAmount: paid,
        CG.totalCharge: v.amount(clp, "CLP03"),
        CG.patientResponsibility: v.amount(clp, "CLP05"),
        CG.claimStatusCode: clp.get("CLP02"),
        CG.payerControlNumber: payer_control,
        CG.paymentDate: v.d8(bpr, "BPR16") if bpr else "",
        CG.serviceStart: v.d8(start, "DTM02") if start else "",
        CG.serviceEnd: v.d8(end, "DTM02") if end else "",
        CG.adjustments: [adj for cas in unit.claim if cas.id == "CAS" for adj in _adjustments(cas)],
        CG.display: f"payment {v.money(paid) if paid is not None else '(none)'} "
        f"for claim {control}",
    }
    key = token(f"urn:caregraph:remittance:{payer_id}", f"{trace}:{control}:{payer_control}")
    remittance = Node(CG.Remittance, key, v.clean(props))
    payer = payer_node(payer_id, payer_n1.get("N102"))
    links = [Link(CG.paidBy, remittance.ref, payer.ref), *_reasons(remittance.ref, unit.claim)]
    if npi:
        claim = Ref(CG.Claim, keys.claim_key(npi, control))
        links.insert(0, Link(CG.remits, remittance.ref, claim))
    return [remittance, payer], links, unmatched


def _payer_id(header: list[Seg], payer_n1: Seg, trn: Seg) -> str:
    """REF*2U in 1000A, else N104 when it is a payer id, else the TRN03 originating company."""
    ref_2u = find(header, "REF", "2U", loop="1000A")
    if ref_2u is not None and ref_2u.get("REF02"):
        return ref_2u.get("REF02")
    if payer_n1.get("N103") in PAYER_ID_QUALIFIERS and payer_n1.get("N104"):
        return payer_n1.get("N104")
    return v.required(trn, "TRN03", "payer identifier", "identity")


def _adjustments(cas: Seg) -> list[str]:
    """A CAS segment as group-reason:amount tokens (CO-45:12.00), one per reason."""
    group = cas.get("CAS01")
    out: list[str] = []
    for n in CAS_TRIPLETS:
        reason = cas.get(f"CAS{n:02d}")
        amount = v.amount(cas, f"CAS{n + 1:02d}")
        if reason and amount is not None:
            out.append(f"{group}-{reason}:{v.money(amount)}")
    return out


def _reasons(remittance: Ref, segs: list[Seg]) -> list[Link]:
    """ADJUSTED_FOR a CARC Concept per group and reason, with the amounts of the claim's and
    its service lines' CAS summed; HAS_REMARK a RARC Concept per remark code."""
    totals: dict[tuple[str, str], float] = {}
    remarks: list[str] = []
    for seg in segs:
        if seg.id == "CAS":
            group = seg.get("CAS01")
            for n in CAS_TRIPLETS:
                reason = seg.get(f"CAS{n:02d}")
                amount = v.amount(seg, f"CAS{n + 1:02d}")
                if group and reason and amount is not None:
                    totals[group, reason] = totals.get((group, reason), 0.0) + amount
        elif seg.id in REMARKS:
            remarks += [seg.get(ref) for ref in REMARKS[seg.id]]
        elif seg.id == "LQ" and seg.get("LQ01") == "HE":
            remarks.append(seg.get("LQ02"))
    links = []
    for (group, reason), amount in totals.items():
        code = concepts.coded(v.CARC, reason)
        if code is not None:
            props: Props = {CG.group: group, CG.amount: round(amount, 2)}
            links.append(Link(CG.adjustedFor, remittance, code.ref, props))
    found = [c for r in remarks if (c := concepts.coded(v.RARC, r)) is not None]
    return links + concepts.links(CG.hasRemark, remittance, found)
