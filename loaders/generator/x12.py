"""Billing's 837P claims and the payers' 835 payments, as X12 005010 text.

pyx12, the library the loader reads with, parses and validates but does not write, so the
segments are written here; the tests validate every file with pyx12. Each file is one
interchange with correct control numbers and counts: ISA13 = IEA02, GS06 = GE02, ST02 =
SE02, SE01 = the segments of the set, GE01 = its sets, IEA01 = its groups.

- ``x12/837-<batch>.837`` (source "billing"): a claim per billed visit, CLM01 = the visit
  number; billing provider (2010AA) = the visit's organization, rendering (2310B) = its
  clinician; the patient is the subscriber, known only by member id, name, birth date and
  sex. Claims stream out as patients are made: a billing provider level (HL 20) opens when
  the provider changes, a subscriber level (HL 22) per patient under it.
- ``x12/835-<batch>.835`` (source "payer"): the payments for a batch of patients' claims,
  grouped as payers send them: a functional group per payer, a transaction set per payee
  and weekly payment run. They are held per batch (bounded) and written when it ends.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

from caregraph.loaders.generator import clock
from caregraph.loaders.generator.directory import Address, Organization, Payer
from caregraph.loaders.generator.scenario import Adjustment, Claim, Encounter, PatientCase, Payment

SENDER = "RIVERSIDEHLTH"  # Riverside's interchange id
CLEARINGHOUSE = "RHCLEARING"
CLAIMS_PER_SET = 5000  # the 837 guide's limit of CLM segments per transaction set
_NOT_X12 = str.maketrans("", "", "*~:^")  # separators never appear inside a value
# CLP06 has no commercial (CI) or Blue Cross (BL) code: payers report those plans as PPO (12)
REMIT_FILING = {"CI": "12", "BL": "12"}


def money(cents: int) -> str:
    """An X12 decimal (R): no trailing zeros after the point, none at all for whole amounts."""
    whole, part = divmod(cents, 100)
    return f"{whole}" if part == 0 else f"{whole}.{part:02d}".rstrip("0")


def text(value: str) -> str:
    """Upper-case ASCII as X12's basic character set: accents folded, separators dropped."""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return folded.upper().translate(_NOT_X12)


def seg(*elements: str) -> str:
    """A segment: elements joined by '*', trailing empty elements dropped, '~' and a newline."""
    parts = list(elements)
    while parts and parts[-1] == "":
        parts.pop()
    return "*".join(parts) + "~\n"


def isa(sender: str, receiver: str, control: int, moment: date) -> str:
    """The ISA with its fixed-width elements."""
    return seg(
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        "ZZ",
        sender.ljust(15),
        "ZZ",
        receiver.ljust(15),
        moment.strftime("%y%m%d"),
        "2300",
        "^",
        "00501",
        f"{control:09d}",
        "0",
        "T",
        ":",
    )


class _Interchange:
    """One file: ISA ... IEA with its groups and sets, counted as they are written."""

    def __init__(self, path: Path, sender: str, receiver: str, control: int) -> None:
        self.fh: IO[str] = path.open("w", encoding="ascii", newline="")
        self.control = control
        self.sender = sender
        self.receiver = receiver
        self.groups = 0
        self.sets = 0
        self.segments = 0
        self.fh.write(isa(sender, receiver, control, clock.AS_OF))

    def open_group(self, code: str, sender: str, guide: str) -> None:
        self.groups += 1
        self.sets = 0
        self.fh.write(
            seg(
                "GS",
                code,
                sender,
                self.receiver,
                clock.da(clock.AS_OF),
                "2300",
                str(self.groups),
                "X",
                guide,
            )
        )

    def open_set(self, kind: str, guide: str) -> None:
        self.sets += 1
        self.segments = 0
        self.write(seg("ST", kind, f"{self.sets:04d}", guide))

    def write(self, *segments: str) -> None:
        for s in segments:
            self.fh.write(s)
            self.segments += 1

    def close_set(self) -> None:
        self.write(seg("SE", str(self.segments + 1), f"{self.sets:04d}"))

    def close_group(self) -> None:
        self.fh.write(seg("GE", str(self.sets), str(self.groups)))

    def close(self) -> None:
        self.fh.write(seg("IEA", str(self.groups), f"{self.control:09d}"))
        self.fh.close()


class ClaimWriter:
    """837P: every claim of every patient, streamed."""

    format = "x12-837"
    guide = "005010X222A1"

    def __init__(self, out: Path, batch_size: int) -> None:
        self.root = out / "x12"
        self.root.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.files: list[str] = []
        self.claims = 0
        self.lines = 0
        self._batch = -1
        self._x: _Interchange | None = None
        self._hl = 0
        self._billing_hl = 0
        self._billing: Organization | None = None
        self._in_set = 0

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"billing": list(self.files)}

    def directory(self, d: object) -> None:
        """Providers are named inside each claim."""

    def patient(self, case: PatientCase) -> None:
        batch = case.index // self.batch_size
        if batch != self._batch:
            self._end_batch()
            self._batch = batch
        subscriber_open = False
        for e in case.encounters:
            if e.claim is None:
                continue
            x = self._interchange()
            if self._in_set >= CLAIMS_PER_SET:
                self._close_set()
                self._open_set()
            if e.organization is not self._billing:
                self._billing_level(e.organization)
                subscriber_open = False
            if not subscriber_open:
                self._subscriber_level(case)
                subscriber_open = True
            x.write(*self._claim(e, e.claim))
            self._in_set += 1
            self.claims += 1
            self.lines += len(e.claim.lines)

    def _interchange(self) -> _Interchange:
        if self._x is None:
            name = f"837-{self._batch:04d}.837"
            self._x = _Interchange(self.root / name, SENDER, CLEARINGHOUSE, self._batch + 1)
            self.files.append(f"x12/{name}")
            self._x.open_group("HC", SENDER, self.guide)
            self._open_set()
        return self._x

    def _open_set(self) -> None:
        x = self._x
        assert x is not None
        x.open_set("837", self.guide)
        self._hl = 0
        self._billing = None
        self._in_set = 0
        x.write(
            seg(
                "BHT",
                "0019",
                "00",
                f"RH{self._batch + 1:06d}{x.sets:03d}",
                clock.da(clock.AS_OF),
                "2300",
                "CH",
            ),
            seg("NM1", "41", "2", "RIVERSIDE HEALTH", "", "", "", "", "46", "RH0001"),
            seg("PER", "IC", "BILLING OFFICE", "TE", "7085550100"),
            seg("NM1", "40", "2", "RIVERSIDE CLEARINGHOUSE", "", "", "", "", "46", CLEARINGHOUSE),
        )

    def _billing_level(self, org: Organization) -> None:
        x = self._x
        assert x is not None
        self._hl += 1
        self._billing_hl = self._hl
        self._billing = org
        x.write(
            seg("HL", str(self._hl), "", "20", "1"),
            seg("NM1", "85", "2", text(org.name), "", "", "", "", "XX", org.npi),
            *_place(org.address, zip4=True),
            seg("REF", "EI", org.tin),
        )

    def _subscriber_level(self, case: PatientCase) -> None:
        x = self._x
        assert x is not None
        self._hl += 1
        p, payer = case.person, case.coverage.payer
        x.write(
            seg("HL", str(self._hl), str(self._billing_hl), "22", "0"),
            seg("SBR", "P", "18", payer.group, "", "", "", "", "", payer.filing),
            seg(
                "NM1",
                "IL",
                "1",
                text(p.family),
                text(p.given),
                text(p.middle),
                "",
                "",
                "MI",
                case.coverage.member_id,
            ),
            *_place(p.address),
            seg("DMG", "D8", clock.da(p.birth), "F" if p.gender == "female" else "M"),
            seg("NM1", "PR", "2", text(payer.name), "", "", "", "", "PI", payer.payer_id),
        )

    def _claim(self, e: Encounter, claim: Claim) -> list[str]:
        doc = e.practitioner
        codes = [d.icd10.replace(".", "") for d in claim.diagnoses]
        hi = [f"ABK:{codes[0]}", *(f"ABF:{c}" for c in codes[1:])]
        pointers = ":".join(str(n) for n in range(1, min(len(codes), 4) + 1))
        out = [
            seg(
                "CLM",
                claim.control,
                money(claim.total),
                "",
                "",
                f"{claim.place}:B:1",
                "Y",
                "A",
                "Y",
                "Y",
            ),
        ]
        if e.klass == "IMP":
            out.append(seg("DTP", "435", "D8", clock.da(e.start.date())))  # admission date
        out += [
            seg("HI", *hi),
            seg(
                "NM1",
                "82",
                "1",
                text(doc.family),
                text(doc.given),
                text(doc.middle),
                "",
                "",
                "XX",
                doc.npi,
            ),
            seg("PRV", "PE", "PXC", doc.specialty.taxonomy),
        ]
        for line in claim.lines:
            out += [
                seg("LX", str(line.number)),
                seg(
                    "SV1",
                    f"HC:{line.procedure.cpt}",
                    money(line.charge),
                    "UN",
                    "1",
                    "",
                    "",
                    pointers,
                ),
                seg("DTP", "472", "D8", clock.da(line.day)),
            ]
        return out

    def _close_set(self) -> None:
        if self._x is not None:
            self._x.close_set()

    def _end_batch(self) -> None:
        if self._x is not None:
            self._x.close_set()
            self._x.close_group()
            self._x.close()
            self._x = None

    def close(self) -> dict[str, int]:
        self._end_batch()
        return {"files": len(self.files), "claims": self.claims, "service_lines": self.lines}


@dataclass(frozen=True, slots=True)
class _Paid:
    """What an 835 needs of one paid claim (held until its batch is written)."""

    family: str
    given: str
    middle: str
    member_id: str
    start: date
    end: date
    claim: Claim
    payment: Payment


class RemittanceWriter:
    """835: the payments of each batch of patients, grouped by payer, payee and run."""

    format = "x12-835"
    guide = "005010X221A1"

    def __init__(self, out: Path, batch_size: int) -> None:
        self.root = out / "x12"
        self.root.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.files: list[str] = []
        self.payments = 0
        self.sets = 0
        self._batch = -1
        self._held: dict[tuple[str, str, date], list[_Paid]] = {}
        self._payers: dict[str, Payer] = {}
        self._payees: dict[str, Organization] = {}

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"payer": list(self.files)}

    def directory(self, d: object) -> None:
        """Payers and payees are named inside each payment."""

    def patient(self, case: PatientCase) -> None:
        batch = case.index // self.batch_size
        if batch != self._batch:
            self._end_batch()
            self._batch = batch
        payer = case.coverage.payer
        self._payers[payer.payer_id] = payer
        p = case.person
        for e in case.encounters:
            if e.claim is None or e.payment is None:
                continue
            self._payees[e.organization.npi] = e.organization
            key = (payer.payer_id, e.organization.npi, e.payment.date)
            self._held.setdefault(key, []).append(
                _Paid(
                    p.family,
                    p.given,
                    p.middle,
                    case.coverage.member_id,
                    e.start.date(),
                    e.end.date(),
                    e.claim,
                    e.payment,
                )
            )

    def _end_batch(self) -> None:
        if not self._held:
            return
        name = f"835-{self._batch:04d}.835"
        x = _Interchange(self.root / name, CLEARINGHOUSE, SENDER, self._batch + 1)
        self.files.append(f"x12/{name}")
        current_payer = ""
        for payer_id, npi, run in sorted(self._held):
            if payer_id != current_payer:
                if current_payer:
                    x.close_group()
                x.open_group("HP", payer_id, self.guide)
                current_payer = payer_id
            x.open_set("835", "")
            self._set(
                x, self._payers[payer_id], self._payees[npi], run, self._held[(payer_id, npi, run)]
            )
            x.close_set()
            self.sets += 1
        x.close_group()
        x.close()
        self._held.clear()

    def _set(
        self, x: _Interchange, payer: Payer, payee: Organization, run: date, paid: list[_Paid]
    ) -> None:
        total = sum(p.payment.paid for p in paid)
        company = f"1{payer.tin}"
        if total:
            bpr = seg(
                "BPR",
                "I",
                money(total),
                "C",
                "ACH",
                "CCP",
                "01",
                "071000013",
                "DA",
                f"{payer.payer_id}001",
                company,
                "",
                "01",
                "071904779",
                "DA",
                f"{payee.tin}01",
                clock.da(run),
            )
        else:  # every claim of the run denied: a notice without a payment
            bpr = seg("BPR", "H", "0", "C", "NON", *[""] * 11, clock.da(run))
        trace = f"{payer.payer_id}{run:%y%m%d}{payee.index:04d}{self._batch:04d}"
        x.write(
            bpr,
            seg("TRN", "1", trace, company),
            seg("DTM", "405", clock.da(run)),
            seg("N1", "PR", text(payer.name)),
            *_place(payer.address),
            seg("REF", "2U", payer.payer_id),
            seg("PER", "BL", "PROVIDER SERVICES", "TE", payer.phone),
            seg("N1", "PE", text(payee.name), "XX", payee.npi),
            *_place(payee.address),
            seg("REF", "TJ", payee.tin),
            seg("LX", "1"),
        )
        for p in paid:
            x.write(*self._claim_payment(payer, p))
            self.payments += 1

    def _claim_payment(self, payer: Payer, p: _Paid) -> list[str]:
        pay, claim = p.payment, p.claim
        out = [
            seg(
                "CLP",
                claim.control,
                pay.status,
                money(claim.total),
                money(pay.paid),
                money(pay.patient_share) if pay.patient_share else "",
                REMIT_FILING.get(payer.filing, payer.filing),
                pay.payer_control,
                claim.place,
                "1",
            ),
            *_cas(pay.claim_adjustments),
            seg(
                "NM1",
                "QC",
                "1",
                text(p.family),
                text(p.given),
                text(p.middle),
                "",
                "",
                "MI",
                p.member_id,
            ),
            seg("DTM", "232", clock.da(p.start)),
            seg("DTM", "233", clock.da(p.end)),
        ]
        for lp in pay.lines:
            line = lp.line
            allowed = line.charge - sum(a.cents for a in lp.adjustments if a.group == "CO")
            out += [
                seg("SVC", f"HC:{line.procedure.cpt}", money(line.charge), money(lp.paid), "", "1"),
                seg("DTM", "472", clock.da(line.day)),
                *_cas(lp.adjustments),
                seg("AMT", "B6", money(allowed)),
            ]
        return out

    def close(self) -> dict[str, int]:
        self._end_batch()
        return {"files": len(self.files), "payments": self.payments, "transaction_sets": self.sets}


def _cas(adjustments: Iterable[Adjustment]) -> list[str]:
    """One CAS per adjustment group, up to six reason/amount pairs each."""
    groups: dict[str, list[Adjustment]] = {}
    for a in adjustments:
        groups.setdefault(a.group, []).append(a)
    out = []
    for group, items in groups.items():
        elements: list[str] = []
        for a in items[:6]:
            elements += [a.reason, money(a.cents), ""]
        out.append(seg("CAS", group, *elements))
    return out


def _place(a: Address, *, zip4: bool = False) -> list[str]:
    postal = f"{a.postal}0001" if zip4 else a.postal  # 2010AA wants ZIP+4
    return [seg("N3", text(a.line)), seg("N4", text(a.city), a.state, postal)]
