"""837P and 837I claims: each CLM (loop 2300) with its context is one record.

The context of a claim is the hierarchy above it: the billing provider (2000A/2010AA), the
subscriber and the payer (2000B/2010BA/2010BB) and, when the patient is not the subscriber,
the patient (2000C/2010CA). The claim owns its service lines (2400) and the providers named
on it (2310x, 2420x). Everything is keyed so that other sources meet it: providers by NPI,
the payer by its payer id, the subscriber by member id within the payer, the claim by CLM01
within the billing provider's NPI (``keys.claim_key``), as an 835 names it.

The hierarchy is read the way the 005010 guides lay it out: each HL by its level code (HL03)
below the open level above it (a subscriber below the last billing provider, a patient below
the last subscriber). HL01 and HL02 are checked against that reading: numbering that does not
start at 1 is fine; a repeated HL01, or an HL02 that names no earlier HL, leaves the reading
unambiguous and is a warning; an HL02 that names another earlier HL than the one its position
puts it under makes the hierarchy contradict itself, and the claims below it are rejected.

Codes are Concepts (loaders/concepts.py): each HI diagnosis is a BILLS_DIAGNOSIS link from the
claim with its role (from the qualifier) and rank (its order in HI), and from each 837P line
its SV107 pointers name; each line's procedure (SV101, SV202) is a HAS_CODE link. The tokens
(``diagnosisCodes``, ``procedureCode``) stay on the nodes as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from caregraph.loaders import keys
from caregraph.loaders.concepts import Coded
from caregraph.loaders.identity import normalise
from caregraph.loaders.records import (
    Identifier,
    Item,
    Link,
    Node,
    Props,
    Record,
    Ref,
    SourceRef,
    token,
)
from caregraph.loaders.x12 import values as v
from caregraph.loaders.x12.reading import Seg
from caregraph.loaders.x12.units import FORMAT, TransactionContext, UnitTransaction, find, reject
from caregraph.loaders.x12.values import MappingError
from caregraph.ontology.vocab import CG

# NM101 entity codes of the providers a claim names, and the role each plays
PROVIDER_ROLES = {
    "85": "billing",
    "82": "rendering",
    "71": "attending",
    "72": "operating",
    "ZZ": "operating",  # 837I other operating physician
    "DN": "referring",
    "P3": "referring",  # 837P primary care provider as referring
    "DQ": "supervising",
    "DK": "ordering",
}
CLAIM_TYPES = {"X222": ("837P", "professional"), "X223": ("837I", "institutional")}
PARENT_LEVEL = {"22": "20", "23": "22"}  # HL03: subscriber below billing provider, patient
LOWER_LEVELS = {"20": ("22", "23"), "22": ("23",), "23": ()}
VOID_FREQUENCY = "8"  # CLM05-3: void or cancel of a prior claim
DIAGNOSIS_POINTERS = ("SV107-1", "SV107-2", "SV107-3", "SV107-4")  # 837P: to HI, from 1


@dataclass(slots=True)
class ClaimUnit:
    """One claim's segments and the context segments above it."""

    ordinal: int  # in the file: with ST02, unique in the file and the same on every reload
    header: list[Seg]
    billing: list[Seg]
    subscriber: list[Seg]
    patient: list[Seg] | None
    claim: list[Seg] = field(default_factory=list)

    def context(self) -> list[Seg]:
        return [*self.header, *self.billing, *self.subscriber, *(self.patient or [])]


class ClaimTransaction(UnitTransaction[ClaimUnit]):
    """An 837 transaction set, read one claim at a time."""

    units = "claim(s)"

    def __init__(self, ctx: TransactionContext, kind: str, claim_type: str) -> None:
        super().__init__(ctx)
        self.kind = kind  # 837P / 837I
        self.claim_type = claim_type
        self.billing: list[Seg] = []
        self.subscriber: list[Seg] = []
        self.patient: list[Seg] | None = None
        self.hl_ids: dict[str, Seg] = {}  # HL01 -> the last HL with that ID
        self.open: dict[str, Seg] = {}  # HL03 level -> the HL of that level open now

    def feed(self, seg: Seg) -> Iterator[Item]:
        if seg.id == "CLM":
            yield from self._finish()
            self.ctx.file.claims += 1
            self.count += 1
            self.current = ClaimUnit(
                self.ctx.file.claims,
                self.header,
                self.billing,
                self.subscriber,
                self.patient,
                [seg],
            )
        elif seg.id == "HL":
            yield from self._finish()
            self._level(seg)
        elif self.current is not None:
            self.current.claim.append(seg)
        elif self.patient is not None:
            self.patient.append(seg)
        elif self.subscriber:
            self.subscriber.append(seg)
        elif self.billing:
            self.billing.append(seg)
        else:
            self.header.append(seg)

    def close(self, se: Seg) -> Iterator[Item]:
        yield from self._finish()
        if self.count == 0:
            yield reject(self.ctx.ref(), [f"{se.where()}: the transaction set holds no claim"])

    def _level(self, hl: Seg) -> None:
        # The level code (HL03), not the loop pyx12 chose, says what the level is: a wrong
        # code then shows as a problem of the claims below it rather than a misfiled level.
        level = hl.get("HL03")
        if level in LOWER_LEVELS:
            self._hierarchy(hl, level)
        if level == "20":
            self.billing, self.subscriber, self.patient = [hl], [], None
        elif level == "22":
            self.subscriber, self.patient = [hl], None
        elif level == "23":
            self.patient = [hl]
        else:
            hl.problems.append("HL03 is not a level of an 837 (20, 22 or 23)")
            self.patient = [hl]

    def _hierarchy(self, hl: Seg, level: str) -> None:
        """HL01 and HL02 checked against the level's place (see the module's docstring)."""
        ident, parent = hl.get("HL01"), hl.get("HL02")
        if not ident:
            hl.note("incomplete", "HL01 (hierarchical ID number) is missing")
        elif ident in self.hl_ids:
            hl.note(
                "unusual-value",
                f"HL01 repeats the ID of the HL at segment {self.hl_ids[ident].number} "
                "(HL01 is unique in a transaction set)",
            )
        above = self.open.get(PARENT_LEVEL.get(level, ""))
        if level == "20":
            if parent:
                hl.note("unusual-value", "HL02 names a parent of a billing provider level (20)")
        elif above is None:
            pass  # no level above it at all: the claims below it have no provider or subscriber
        elif not parent:
            hl.note(
                "incomplete",
                f"HL02 (parent ID) is missing: read as below the HL at segment {above.number}",
            )
        elif parent != above.get("HL01"):
            named = self.hl_ids.get(parent)
            if named is not None:
                hl.problems.append(
                    f"HL02 names the HL at segment {named.number}, but the HL follows the one "
                    f"at segment {above.number}: the hierarchy contradicts itself"
                )
            else:
                hl.note(
                    "unusual-value",
                    "HL02 names no earlier HL (a parent must come before its children): "
                    f"read as below the HL at segment {above.number}, by its position and level",
                )
        if ident:
            self.hl_ids[ident] = hl
        self.open[level] = hl
        for lower in LOWER_LEVELS[level]:
            self.open.pop(lower, None)

    def _segments(self, unit: ClaimUnit) -> list[Seg]:
        return [*unit.context(), *unit.claim]

    def _ref(self, unit: ClaimUnit) -> SourceRef:
        return self.ctx.file.ref(
            f"claim {unit.ordinal} (segment {unit.claim[0].number})",
            f"{self.ctx.control}/claim {unit.ordinal}",
        )

    def _record(self, unit: ClaimUnit) -> Record:
        mapped = _ClaimMapping(unit, self.kind, self.claim_type)
        return Record(self._ref(unit), FORMAT, f"{self.kind} claim", *mapped.build())


def claim_kind(guide: str) -> tuple[str, str] | None:
    """(837P, professional) or (837I, institutional) from the guide; None for others."""
    for marker, kind in CLAIM_TYPES.items():
        if marker in guide:
            return kind
    return None


class _ClaimMapping:
    """One claim unit mapped to nodes and links (one object per claim, then dropped)."""

    def __init__(self, unit: ClaimUnit, kind: str, claim_type: str) -> None:
        self.unit = unit
        self.kind = kind
        self.claim_type = claim_type
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.provided: set[tuple[str, str, str]] = set()
        # the claim's diagnoses in HI order (each composite, so that a line's pointer finds
        # the one it counts to), with their roles
        self.diagnoses: list[tuple[str, Coded]] = [
            found
            for hi in unit.claim
            if hi.id == "HI" and hi.loop == "2300"
            for n in range(1, 13)
            if (found := v.diagnosis(hi, f"HI{n:02d}"))
        ]

    def build(self) -> tuple[list[Node], list[Link]]:
        unit = self.unit
        clm = unit.claim[0]
        control = v.required(clm, "CLM01", "patient control number", "identity")
        billing = find(unit.billing, "NM1", "85", loop="2010AA")
        if billing is None:
            raise MappingError(
                clm, "no billing provider: loop 2010AA (NM1*85) is missing", "identity"
            )
        npi = _npi(billing)
        if not npi:
            raise MappingError(billing, "NM109 is not an NPI (NM108 is not XX)", "identity")
        claim_key = keys.claim_key(npi, control)
        claim_ident = Identifier(keys.claim_system(npi), control)

        lines = _lines(unit.claim)  # none is a warning of the ontology's shapes
        props = self._claim_props(clm, control, npi, lines)
        claim = self._add(Node(CG.Claim, claim_key, v.clean(props), (claim_ident,)))
        self._billed(claim.ref)

        self._provided(claim.ref, billing, "billing", _address(unit.billing, "2010AA"))
        for nm1 in unit.claim:
            role = PROVIDER_ROLES.get(nm1.get("NM101")) if nm1.id == "NM1" else None
            # 2310x only: the other payers' providers (2330x) are not this claim's providers
            if role and role != "billing" and nm1.loop.startswith("2310"):
                self._provided(claim.ref, nm1, role)
        for seq, line in lines:
            self._line(claim, seq, line)
        self._people(claim)
        return list(self.nodes.values()), self.links

    def _claim_props(
        self, clm: Seg, control: str, npi: str, lines: list[tuple[int, list[Seg]]]
    ) -> v.Fields:
        start, end = "", ""
        statement = find(self.unit.claim, "DTP", "434", loop="2300")
        if statement is not None:
            start, end = v.period(statement, "DTP02", "DTP03")
        else:
            dates = [
                v.period(dtp, "DTP02", "DTP03")
                for _, line in lines
                if (dtp := find(line, "DTP", "472", loop="2400")) is not None
            ]
            if dates:
                start, end = min(d[0] for d in dates), max(d[1] for d in dates)
        diagnoses = [code.key for _, code in self.diagnoses]
        total = v.amount(clm, "CLM02")
        if total is None:
            raise MappingError(clm, "CLM02 (total claim charge) is missing")
        return {
            CG.controlNumber: control,
            CG.submitter: npi,
            CG.totalCharge: total,
            CG.claimType: self.claim_type,
            CG.use: "claim",
            CG.status: "cancelled" if clm.get("CLM05-3") == VOID_FREQUENCY else "active",
            CG.serviceStart: start,
            CG.serviceEnd: end,
            CG.diagnosisCodes: list(dict.fromkeys(diagnoses)),
            CG.display: f"{self.kind} claim {control}",
        }

    def _billed(self, claim: Ref) -> None:
        """A BILLS_DIAGNOSIS link to each diagnosis in its role, ranked by its order in HI (a
        code repeated in the same role keeps its first rank)."""
        seen: set[tuple[str, Coded]] = set()
        for rank, (role, code) in enumerate(self.diagnoses, 1):
            if (role, code) not in seen:
                seen.add((role, code))
                props: Props = {CG.role: role, CG.rank: rank}
                self.links.append(Link(CG.billsDiagnosis, claim, code.ref, props))

    def _pointed(self, item: Ref, sv1: Seg) -> None:
        """The 837P line's diagnosis pointers (SV107) as BILLS_DIAGNOSIS links ranked in the
        pointers' order; a pointer past the claim's diagnoses is noted and left out."""
        seen: set[Coded] = set()
        for rank, ref in enumerate(DIAGNOSIS_POINTERS, 1):
            pointer = sv1.get(ref)
            if not pointer:
                continue
            if not pointer.isdigit() or not 0 < int(pointer) <= len(self.diagnoses):
                sv1.note("unusual-value", f"{ref} points to no diagnosis of the claim's HI")
                continue
            code = self.diagnoses[int(pointer) - 1][1]
            if code not in seen:
                seen.add(code)
                self.links.append(Link(CG.billsDiagnosis, item, code.ref, {CG.rank: rank}))

    def _line(self, claim: Node, seq: int, line: list[Seg]) -> None:
        lx = line[0]
        key = keys.item_key(claim.key, seq)
        if key in self.nodes:
            raise MappingError(lx, "LX01 repeats the number of an earlier service line")
        sv1 = find(line, "SV1", loop="2400")
        sv2 = find(line, "SV2", loop="2400")
        if sv1 is not None:
            code, charge, quantity = v.procedure_token(sv1, "SV101"), (sv1, "SV102"), "SV104"
            service = sv1
        elif sv2 is not None:
            code, charge, quantity = v.procedure_token(sv2, "SV202"), (sv2, "SV203"), "SV205"
            service = sv2
        else:
            raise MappingError(lx, "the service line has no SV1 or SV2")
        start, end = "", ""
        dtp = find(line, "DTP", "472", loop="2400")
        if dtp is not None:
            start, end = v.period(dtp, "DTP02", "DTP03")
        props = {
            CG.sequence: seq,
            CG.procedureCode: code,
            CG.chargeAmount: v.amount(*charge),
            CG.quantity: v.amount(service, quantity),
            CG.serviceStart: start,
            CG.serviceEnd: end,
            CG.display: f"line {seq}",
        }
        item = self._add(Node(CG.ClaimItem, key, v.clean(props)))
        self.links.append(Link(CG.hasItem, claim.ref, item.ref))
        billed = v.concept(code)  # SV201's revenue code has no code system in the ontology
        if billed is not None:
            self.links.append(Link(CG.hasCode, item.ref, billed.ref))
        if sv1 is not None:
            self._pointed(item.ref, sv1)
        for nm1 in line:
            role = PROVIDER_ROLES.get(nm1.get("NM101")) if nm1.id == "NM1" else None
            if role and nm1.loop.startswith("2420"):
                self._provided(item.ref, nm1, role)
                self._provided(claim.ref, nm1, role)

    def _people(self, claim: Node) -> None:
        unit = self.unit
        subscriber = find(unit.subscriber, "NM1", "IL", loop="2010BA")
        if subscriber is None:
            raise MappingError(
                unit.claim[0], "no subscriber: loop 2010BA (NM1*IL) is missing", "identity"
            )
        member = v.required(subscriber, "NM109", "subscriber member id", "identity")
        payer_nm1 = find(unit.subscriber, "NM1", "PR", loop="2010BB")
        if payer_nm1 is None:
            raise MappingError(
                unit.claim[0], "no payer: loop 2010BB (NM1*PR) is missing", "identity"
            )
        payer_id = v.required(payer_nm1, "NM109", "payer id", "identity")
        payer = self._add(payer_node(payer_id, payer_nm1.get("NM103")))
        member_id = Identifier(f"urn:caregraph:payer:{payer_id}:member", member, "MB")
        coverage_system = f"urn:caregraph:payer:{payer_id}:coverage"
        sbr = find(unit.subscriber, "SBR", loop="2000B")

        if unit.patient is None:
            nm1, loop, people = subscriber, "2010BA", unit.subscriber
        else:
            found = find(unit.patient, "NM1", "QC", loop="2010CA")
            if found is None:
                raise MappingError(
                    unit.patient[0], "no patient: loop 2010CA (NM1*QC) is missing", "identity"
                )
            nm1, loop, people = found, "2010CA", unit.patient
        dmg = find(people, "DMG", loop=loop)
        # a dependent is known by name and birth date within the membership (see _dependent)
        birth = (
            ""
            if dmg is None
            else v.d8(dmg, "DMG02")
            if unit.patient is None
            else v.strict_d8(dmg, "DMG02", "dependent's identity")
        )
        if unit.patient is None:
            ident, relationship, coverage_key = member_id, "18", token(coverage_system, member)
        else:
            ident = _dependent(payer_id, member, nm1, birth)
            pat = find(people, "PAT", loop="2000C")
            relationship = pat.get("PAT01") if pat else ""
            coverage_key = token(coverage_system, ident.value)
        props = {
            **v.person_name(nm1),
            CG.birthDate: birth,
            CG.gender: v.gender(dmg, "DMG03"),
            **_address(people, loop),
        }
        patient = self._add(Node(CG.Patient, ident.token, v.clean(props), (ident,)))
        coverage_props = {
            CG.memberId: member,
            CG.subscriberId: member,
            CG.relationship: v.RELATIONSHIP.get(relationship, "other" if relationship else ""),
            CG.planName: sbr.get("SBR04") if sbr else "",
            CG.display: f"coverage by {payer_nm1.get('NM103') or payer_id}",
        }
        coverage = self._add(Node(CG.Coverage, coverage_key, v.clean(coverage_props)))
        self.links += [
            Link(CG.hasClaim, patient.ref, claim.ref),
            Link(CG.hasCoverage, patient.ref, coverage.ref),
            Link(CG.hasPayer, coverage.ref, payer.ref),
            Link(CG.coveredBy, claim.ref, coverage.ref),
            Link(CG.hasPayer, claim.ref, payer.ref),
        ]

    def _provided(self, by: Ref, nm1: Seg, role: str, address: v.Fields | None = None) -> None:
        if not _npi(nm1):
            return  # a provider without an NPI cannot be keyed across sources
        node = self._provider(nm1, address or {})
        seen = (by.key, node.key, role)
        if seen not in self.provided:
            self.provided.add(seen)
            self.links.append(Link(CG.hasProvider, by, node.ref, {CG.role: role}))

    def _provider(self, nm1: Seg, address: v.Fields) -> Node:
        npi = _npi(nm1)
        ident = keys.npi(npi)
        if nm1.get("NM102") == "1":
            props = {CG.npi: npi, **v.person_name(nm1), **address}
            return self._add(Node(CG.Practitioner, ident.token, v.clean(props), (ident,)))
        props = {CG.npi: npi, CG.name: nm1.get("NM103"), **address}
        return self._add(Node(CG.Organization, ident.token, v.clean(props), (ident,)))

    def _add(self, node: Node) -> Node:
        """One node per key in a record: a second mention adds what the first lacked."""
        known = self.nodes.get(node.key)
        if known is None:
            self.nodes[node.key] = node
            return node
        for prop, value in node.props.items():
            known.props.setdefault(prop, value)
        return known


def payer_node(payer_id: str, name: str) -> Node:
    """The payer, keyed by its payer id so that 837 and 835 name the same node."""
    ident = Identifier(v.PAYER_ID_SYSTEM, payer_id)
    props = v.clean({CG.payerId: payer_id, CG.name: name})
    return Node(CG.Payer, ident.token, props, (ident,))


def _dependent(payer_id: str, member: str, nm1: Seg, birth: str) -> Identifier:
    """A patient in 2000C has no id of their own: the payer knows them as a dependent of the
    subscriber's membership, told apart by name and birth date. The identifier is that, with
    the demographics digested so that an identifier value never spells a patient's name."""
    given = nm1.get("NM104")
    parts = "|".join((normalise(nm1.get("NM103")), normalise(given), birth))
    digest = hashlib.sha256(parts.encode()).hexdigest()[:16]
    return Identifier(f"urn:caregraph:payer:{payer_id}:dependent", f"{member}:{digest}")


def _npi(nm1: Seg) -> str:
    return nm1.get("NM109") if nm1.get("NM108") == "XX" else ""


def _address(segs: list[Seg], loop: str) -> v.Fields:
    return v.address(find(segs, "N3", loop=loop), find(segs, "N4", loop=loop))


def _lines(claim: list[Seg]) -> list[tuple[int, list[Seg]]]:
    """The service lines (2400), each from its LX, with its LX01 number."""
    out: list[tuple[int, list[Seg]]] = []
    for seg in claim:
        if seg.id == "LX":
            number = seg.get("LX01")
            if not number.isdigit():
                raise MappingError(seg, "LX01 is not a line number")
            out.append((int(number), [seg]))
        elif out:
            out[-1][1].append(seg)
    return out
