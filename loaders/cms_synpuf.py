"""CMS DE-SynPUF CSV: Beneficiary Summary, Carrier, Inpatient and Outpatient Claims.

The Data Entrepreneurs' Synthetic Public Use Files are CMS's synthetic Medicare claims, one
table per file, with the column names of the DE-SynPUF codebook. Which table a file is comes
from its header, not its name. Every row is one record:

- a beneficiary is a Patient keyed by DESYNPUF_ID (the same in every yearly file, so the
  beneficiary of 2008, 2009 and 2010 is one patient), with a Medicare Coverage and Payer;
- a carrier claim (professional) is a Claim keyed by CLM_ID with its lines 1..13 (HCPCS,
  performing NPI, line diagnosis) as items; an inpatient or outpatient claim (institutional)
  is a Claim keyed by CLM_ID and SEGMENT with its HCPCS lines, the provider institution
  (PRVDR_NUM) and the attending, operating and other physicians; an inpatient claim also
  asserts the stay it bills (an Encounter of class IMP, keyed by CLM_ID);
- what Medicare paid on a claim, and what it left to the beneficiary, is the claim's
  Remittance (as a FHIR ExplanationOfBenefit is): DE-SynPUF claims are final-action claims,
  already adjudicated. DE-SynPUF has no submitted charges, so no totalCharge or chargeAmount.
- a Prescription Drug Events row is skipped: caregraph does not model medications.

Codes are Concepts (loaders/concepts.py): the claim's ICD-9-CM diagnoses are BILLS_DIAGNOSIS
links (ICD9_DGNS_CD_1 principal, the others other, ADMTNG_ICD9_DGNS_CD admitting; ranked in
column order), a carrier line's diagnosis one from its item; each line's HCPCS code is its
item's HAS_CODE. The tokens stay on the nodes.

Not kept, for want of an ontology property: ICD-9 procedure codes, the DRG, utilization days,
race, county, ESRD and chronic-condition flags, coverage months, annual reimbursement totals,
tax numbers, line processing indicators and line-level amounts (summed on the remittance).

Rejected: a line that is not UTF-8 or whose field count differs from the header's (``syntax``),
a row without DESYNPUF_ID or CLM_ID (``identity``). A date or amount that does not parse, a
code outside its pattern or table, is left out with an ``unusual-value`` warning naming the
column; an empty birth date, sex, claim date or segment is an ``incomplete`` warning. Lines
are decoded and split one at a time, as in :mod:`loaders.synthea`: a bad line is rejected
alone and the rest of the file loads (DE-SynPUF never quotes a newline inside a field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import ClassVar

from rdflib import URIRef

from caregraph.loaders import csvrows, keys, roles
from caregraph.loaders.records import (
    Identifier,
    Item,
    Link,
    Node,
    Props,
    Record,
    Ref,
    Rejected,
    Skipped,
    SourceRef,
    Value,
)
from caregraph.loaders.x12.values import CPT, HCPCS, ICD9CM, concept, icd_dotted
from caregraph.ontology.vocab import CG

FORMAT = "cms-synpuf"
SYNPUF = "urn:caregraph:cms-synpuf"
BENEFICIARY_SYSTEM = f"{SYNPUF}:beneficiary"
CLAIM_SYSTEM = f"{SYNPUF}:claim"
ENCOUNTER_SYSTEM = f"{SYNPUF}:encounter"
REMITTANCE_SYSTEM = f"{SYNPUF}:remittance"
COVERAGE_SYSTEM = f"{SYNPUF}:coverage"
PAYER_SYSTEM = f"{SYNPUF}:payer"
# CMS Certification Number (PRVDR_NUM), in the namespace CMS's own FHIR claims use
CCN_SYSTEM = "https://bluebutton.cms.gov/resources/variables/prvdr_num"

SEX = {"1": "male", "2": "female"}  # BENE_SEX_IDENT_CD
# SP_STATE_CODE: SSA state codes 01..53 as USPS codes (54 is "others" in DE-SynPUF)
_USPS_IN_SSA_ORDER = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
    "NH NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VI VA WA WV WI WY"
)
SSA_STATE = dict(zip([f"{n:02d}" for n in range(1, 54)], _USPS_IN_SSA_ORDER.split(), strict=True))
SSA_OTHERS = "54"

CARRIER_LINES = range(1, 14)
INSTITUTIONAL_LINES = range(1, 46)
CARRIER_DIAGNOSES = range(1, 9)
INSTITUTIONAL_DIAGNOSES = range(1, 11)

# Beneficiary cost sharing on the remittance, as X12 claim adjustments (group-reason):
# PR-1 deductible, PR-2 coinsurance, PR-66 blood deductible, OA-23 paid by a primary payer.
CARRIER_SHARES = {
    "LINE_BENE_PTB_DDCTBL_AMT": "PR-1",
    "LINE_COINSRNC_AMT": "PR-2",
    "LINE_BENE_PRMRY_PYR_PD_AMT": "OA-23",
}
INPATIENT_SHARES = {
    "NCH_BENE_IP_DDCTBL_AMT": "PR-1",
    "NCH_BENE_PTA_COINSRNC_LBLTY_AM": "PR-2",
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": "PR-66",
    "NCH_PRMRY_PYR_CLM_PD_AMT": "OA-23",
}
OUTPATIENT_SHARES = {
    "NCH_BENE_PTB_DDCTBL_AMT": "PR-1",
    "NCH_BENE_PTB_COINSRNC_AMT": "PR-2",
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": "PR-66",
    "NCH_PRMRY_PYR_CLM_PD_AMT": "OA-23",
}
PATIENT_SHARE = ("PR-",)  # the adjustments the beneficiary pays

# header columns that tell each table apart (checked in this order: inpatient before
# outpatient, whose columns it has too)
SIGNATURES: dict[str, frozenset[str]] = {
    "beneficiary": frozenset({"DESYNPUF_ID", "BENE_BIRTH_DT", "BENE_SEX_IDENT_CD"}),
    "carrier": frozenset({"DESYNPUF_ID", "CLM_ID", "HCPCS_CD_1", "PRF_PHYSN_NPI_1"}),
    "inpatient": frozenset({"DESYNPUF_ID", "CLM_ID", "SEGMENT", "CLM_ADMSN_DT"}),
    "outpatient": frozenset({"DESYNPUF_ID", "CLM_ID", "SEGMENT", "PRVDR_NUM"}),
    "drug events": frozenset({"DESYNPUF_ID", "PDE_ID", "PROD_SRVC_ID"}),
}
# the columns naming a row: its beneficiary and, but for the beneficiary table, its own id
ROW_ID = {"beneficiary": "", "drug events": "PDE_ID"}  # others: CLM_ID

_ICD9_DIAGNOSIS = re.compile(r"^([0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4})$")
_HCPCS = re.compile(r"^[0-9A-Z][0-9]{3}[0-9A-Z]$")  # CPT 99213, 0001F; HCPCS II G0101
_CPT = re.compile(r"^[0-9]{4}[0-9A-Z]$")


def table_of(header: list[str]) -> str | None:
    """Which DE-SynPUF table a header belongs to."""
    cols = {h.strip().upper() for h in header}
    for table, needed in SIGNATURES.items():
        if needed <= cols:
            return table
    return None


def beneficiary(value: str) -> Identifier:
    return Identifier(BENEFICIARY_SYSTEM, value, "MB")


class RowError(ValueError):
    """A row that cannot be mapped; the message names the column, never its value."""

    def __init__(self, message: str, code: str = "identity") -> None:
        super().__init__(message)
        self.code = code


class SynpufLoader:
    """Reads one DE-SynPUF CSV table."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        return csvrows.detects(path, head, table_of)

    def read(self, path: Path, source: str) -> Iterator[Item]:
        for got in csvrows.table_rows(path, source, FORMAT, table_of, "a DE-SynPUF"):
            yield got if isinstance(got, Rejected) else _item(got.table, got.values, got.where)


def _item(table: str, values: dict[str, str], where: SourceRef) -> Item:
    """One row of ``table`` as a record, a rejection or a skip."""
    row = _Row(table, values)
    if table == "drug events":
        return Skipped(where, FORMAT, "prescription drug event", "caregraph does not model drugs")
    try:
        row.need("DESYNPUF_ID", row.id_column)
    except RowError as e:
        return Rejected(where, FORMAT, f"{table}: {e}", e.code)
    where = SourceRef(where.system, where.file, where.position, f"{table}/{row.record_id}")
    record = MAPPERS[table](row, where)
    for code, message in row.warnings:
        record.warn(code, message)
    return record


class _Row:
    """One row's columns, read into record values; what does not fit is noted, not raised."""

    def __init__(self, table: str, cols: dict[str, str]) -> None:
        self.table = table
        self.cols = cols
        self.warnings: list[tuple[str, str]] = []

    def __getitem__(self, col: str) -> str:
        return self.cols.get(col, "")

    @property
    def id_column(self) -> str:
        """The column of the row's own id ("" for a beneficiary: DESYNPUF_ID is its id)."""
        return ROW_ID.get(self.table, "CLM_ID")

    @property
    def record_id(self) -> str:
        """DESYNPUF_ID, CLM_ID, or CLM_ID:SEGMENT of an institutional claim."""
        ident = self[self.id_column or "DESYNPUF_ID"]
        return f"{ident}:{self.segment}" if "SEGMENT" in self.cols else ident

    @property
    def segment(self) -> str:
        return self["SEGMENT"] or "1"

    def need(self, *cols: str) -> None:
        """Columns without which the row has no identity."""
        missing = [c for c in cols if c and not self[c]]
        if missing:
            raise RowError(f"required column {', '.join(missing)} is empty")

    def note(self, code: str, message: str) -> None:
        self.warnings.append((code, f"{self.table}: {message}"))

    def wanted(self, *cols: str) -> None:
        """Columns the codebook always fills: empty is understood, and said."""
        for col in cols:
            if not self[col]:
                self.note("incomplete", f"column {col} is empty")

    def date(self, col: str) -> str:
        """A YYYYMMDD date as ISO 8601; empty when absent or not a date (noted)."""
        text = self[col]
        if not text:
            return ""
        try:
            if len(text) != 8 or not text.isdigit():
                raise ValueError(col)
            return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
        except ValueError:
            self.note("unusual-value", f"column {col} is not a date (YYYYMMDD): left out")
            return ""

    def amount(self, col: str) -> float | None:
        """A dollar amount; None when absent or not a number (noted)."""
        text = self[col]
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            self.note("unusual-value", f"column {col} is not an amount: left out")
            return None

    def diagnosis(self, col: str) -> str:
        """An ICD-9-CM diagnosis code (no dot in DE-SynPUF) as a dotted token."""
        code = self[col].upper()
        if not code:
            return ""
        if not _ICD9_DIAGNOSIS.match(code):
            self.note("unusual-value", f"column {col} is not an ICD-9-CM diagnosis code: left out")
            return ""
        return f"{ICD9CM}|{icd_dotted(ICD9CM, code)}"

    def procedure(self, col: str) -> str:
        """A HCPCS code as a token: CPT (level I) or HCPCS level II, by its shape."""
        code = self[col].upper()
        if not code:
            return ""
        if not _HCPCS.match(code):
            self.note("unusual-value", f"column {col} is not a HCPCS code: left out")
            return ""
        return f"{CPT if _CPT.match(code) else HCPCS}|{code}"

    def diagnoses(self, cols: list[str]) -> list[str]:
        return list(dict.fromkeys(d for c in cols if (d := self.diagnosis(c))))


def _beneficiary(row: _Row, where: SourceRef) -> Record:
    ident = beneficiary(row["DESYNPUF_ID"])
    row.wanted("BENE_BIRTH_DT", "BENE_SEX_IDENT_CD")
    sex = row["BENE_SEX_IDENT_CD"]
    gender = SEX.get(sex, "unknown") if sex else ""
    if sex and sex not in SEX:
        row.note("unusual-value", "column BENE_SEX_IDENT_CD is not 1 or 2: read as unknown")
    state = row["SP_STATE_CODE"].zfill(2) if row["SP_STATE_CODE"] else ""
    if state and state != SSA_OTHERS and state not in SSA_STATE:
        row.note("unusual-value", "column SP_STATE_CODE is not an SSA state code: left out")
    row.date("BENE_DEATH_DT")  # no property keeps the date: read only to note a bad one
    props: dict[URIRef, Value | None] = {
        CG.birthDate: row.date("BENE_BIRTH_DT"),
        CG.gender: gender,
        # Only a death is said (even with a bad date): a yearly file without one says nothing
        # of the later years, and must not undo the death another year's file recorded.
        CG.deceased: True if row["BENE_DEATH_DT"] else None,
        CG.state: SSA_STATE.get(state, ""),
        CG.display: f"beneficiary {ident.value}",
    }
    patient = Node(CG.Patient, ident.token, _clean(props), (ident,))
    coverage, payer = _medicare(ident.value)
    links = [
        Link(CG.hasCoverage, patient.ref, coverage.ref),
        Link(CG.hasPayer, coverage.ref, payer.ref),
    ]
    return Record(where, FORMAT, "beneficiary", [patient, coverage, payer], links)


def _medicare(member: str) -> tuple[Node, Node]:
    """The beneficiary's Medicare coverage and Medicare, the payer of every DE-SynPUF claim."""
    payer = Node(
        CG.Payer,
        f"{PAYER_SYSTEM}|medicare",
        {CG.name: "Medicare", CG.payerId: "medicare", CG.display: "Medicare"},
    )
    coverage = Node(
        CG.Coverage,
        f"{COVERAGE_SYSTEM}|{member}",
        {
            CG.memberId: member,
            CG.subscriberId: member,
            CG.relationship: "self",
            CG.planName: "Medicare",
            CG.display: "coverage by Medicare",
        },
    )
    return coverage, payer


class _Claim:
    """One claim row's nodes and links, built up (one object per row, then dropped)."""

    def __init__(self, row: _Row, claim_type: str) -> None:
        self.row = row
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        control = row["CLM_ID"]
        self.value = row.record_id  # CLM_ID, with the SEGMENT of an institutional claim
        row.wanted("CLM_FROM_DT", "CLM_THRU_DT")
        if "SEGMENT" in row.cols:
            row.wanted("SEGMENT")
        self.start, self.end = row.date("CLM_FROM_DT"), row.date("CLM_THRU_DT")
        ident = Identifier(CLAIM_SYSTEM, self.value)
        props: dict[URIRef, Value | None] = {
            CG.controlNumber: control,
            CG.submitter: SYNPUF,
            CG.claimType: claim_type,
            CG.use: "claim",
            CG.status: "active",
            CG.serviceStart: self.start,
            CG.serviceEnd: self.end,
            CG.display: f"{row.table} claim {self.value}",
        }
        self.claim = self.add(Node(CG.Claim, ident.token, _clean(props), (ident,)))
        patient = Ref(CG.Patient, beneficiary(row["DESYNPUF_ID"]).token)
        coverage, payer = _medicare(row["DESYNPUF_ID"])
        self.add(coverage)
        self.add(payer)
        self.links += [
            Link(CG.hasClaim, patient, self.claim.ref),
            Link(CG.hasCoverage, patient, coverage.ref),
            Link(CG.hasPayer, coverage.ref, payer.ref),
            Link(CG.coveredBy, self.claim.ref, coverage.ref),
            Link(CG.hasPayer, self.claim.ref, payer.ref),
        ]
        self.payer = payer

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.key, node)

    def diagnoses(self, cols: list[str], admitting: str = "") -> None:
        """The claim's diagnosis tokens, and a BILLS_DIAGNOSIS link to each: the first column
        the principal, the others other, ``admitting`` admitting; ranked in column order, empty
        columns aside (a code repeated in one role keeps its first rank)."""
        given = [*cols, admitting] if admitting else cols
        tokens = [self.row.diagnosis(c) for c in given]
        found = list(dict.fromkeys(d for d in tokens if d))
        if found:
            self.claim.props[CG.diagnosisCodes] = found
        seen: set[tuple[str, str]] = set()
        present = [(col, token) for col, token in zip(given, tokens, strict=True) if token]
        for rank, (col, token) in enumerate(present, 1):
            role = "admitting" if col == admitting else "principal" if col == cols[0] else "other"
            code = concept(token)
            if code is not None and (token, role) not in seen:
                seen.add((token, role))
                props: Props = {CG.role: role, CG.rank: rank}
                self.links.append(Link(CG.billsDiagnosis, self.claim.ref, code.ref, props))

    def item(self, seq: int, props: Mapping[URIRef, Value | None]) -> Node:
        item = Node(
            CG.ClaimItem,
            keys.item_key(self.claim.key, seq),
            _clean({CG.sequence: seq, **props, CG.display: f"line {seq}"}),
        )
        self.add(item)
        self.links.append(Link(CG.hasItem, self.claim.ref, item.ref))
        billed = concept(str(props.get(CG.procedureCode) or ""))
        if billed is not None:
            self.links.append(Link(CG.hasCode, item.ref, billed.ref))
        line_diagnoses = props.get(CG.diagnosisCodes) or []
        for rank, token in enumerate(line_diagnoses if isinstance(line_diagnoses, list) else [], 1):
            if (code := concept(str(token))) is not None:
                self.links.append(Link(CG.billsDiagnosis, item.ref, code.ref, {CG.rank: rank}))
        return item

    def practitioner(self, col: str, role: str, *by: Node) -> Node | None:
        """The physician an NPI column names, as ``role`` of the claim (and of ``by``).

        The NPI is kept as given: one that is not ten digits is a warning of the shapes.
        """
        npi = self.row[col]
        if not npi:
            return None
        ident = keys.npi(npi)
        node = self.add(
            Node(CG.Practitioner, ident.token, {CG.npi: npi, CG.display: f"NPI {npi}"}, (ident,))
        )
        for owner in (self.claim, *by):
            link = Link(CG.hasProvider, owner.ref, node.ref, {CG.role: role})
            if link not in self.links:
                self.links.append(link)
        return node

    def remittance(self, paid: float | None, shares: dict[str, float]) -> None:
        """What Medicare paid, and the beneficiary's and other payers' shares, as adjustments."""
        adjustments = [f"{code}:{amount:.2f}" for code, amount in shares.items() if amount]
        owed = [amount for code, amount in shares.items() if code.startswith(PATIENT_SHARE)]
        node = self.add(
            Node(
                CG.Remittance,
                f"{REMITTANCE_SYSTEM}|{self.value}",
                _clean(
                    {
                        CG.controlNumber: self.row["CLM_ID"],
                        CG.paymentAmount: paid,
                        CG.patientResponsibility: round(sum(owed), 2) if owed else None,
                        CG.adjustments: adjustments,
                        CG.serviceStart: self.start,
                        CG.serviceEnd: self.end,
                        CG.display: "payment" + (f" {paid:.2f}" if paid is not None else ""),
                    }
                ),
            )
        )
        self.links += [
            Link(CG.remits, node.ref, self.claim.ref),
            Link(CG.paidBy, node.ref, self.payer.ref),
        ]

    def record(self, where: SourceRef) -> Record:
        return Record(
            where, FORMAT, f"{self.row.table} claim", list(self.nodes.values()), self.links
        )


def _carrier(row: _Row, where: SourceRef) -> Record:
    claim = _Claim(row, "professional")
    claim.diagnoses([f"ICD9_DGNS_CD_{n}" for n in CARRIER_DIAGNOSES])
    paid: list[float] = []
    shares: dict[str, float] = {}
    for n in CARRIER_LINES:
        line_paid = row.amount(f"LINE_NCH_PMT_AMT_{n}")
        line_shares = {code: row.amount(f"{col}_{n}") for col, code in CARRIER_SHARES.items()}
        props: dict[URIRef, Value | None] = {
            CG.procedureCode: row.procedure(f"HCPCS_CD_{n}"),
            CG.diagnosisCodes: row.diagnoses([f"LINE_ICD9_DGNS_CD_{n}"]),
        }
        npi = row[f"PRF_PHYSN_NPI_{n}"]
        if not (npi or _clean(props) or line_paid or any(line_shares.values())):
            continue  # an empty line: DE-SynPUF fills all 13, with zeros
        item = claim.item(n, props)
        claim.practitioner(f"PRF_PHYSN_NPI_{n}", "rendering", item)
        if line_paid is not None:
            paid.append(line_paid)
        for code, amount in line_shares.items():
            shares[code] = shares.get(code, 0.0) + (amount or 0.0)
    claim.remittance(round(sum(paid), 2) if paid else None, shares)
    return claim.record(where)


def _institutional(row: _Row, shares_of: dict[str, str]) -> tuple[_Claim, Node | None, Node | None]:
    """An inpatient or outpatient claim, with its institution and attending physician."""
    claim = _Claim(row, "institutional")
    claim.diagnoses(
        [f"ICD9_DGNS_CD_{n}" for n in INSTITUTIONAL_DIAGNOSES], admitting="ADMTNG_ICD9_DGNS_CD"
    )
    for n in INSTITUTIONAL_LINES:
        code = row.procedure(f"HCPCS_CD_{n}")
        if code:
            claim.item(n, {CG.procedureCode: code})
    attending = claim.practitioner("AT_PHYSN_NPI", "attending")
    claim.practitioner("OP_PHYSN_NPI", "operating")
    claim.practitioner("OT_PHYSN_NPI", "other")
    org = None
    if row["PRVDR_NUM"]:  # the institution bills an institutional claim
        ident = Identifier(CCN_SYSTEM, row["PRVDR_NUM"], "PRN")
        props: Props = {CG.display: f"provider {ident.value}"}
        org = claim.add(Node(CG.Organization, ident.token, props, (ident,)))
        claim.links.append(Link(CG.hasProvider, claim.claim.ref, org.ref, {CG.role: "billing"}))
    shares = {code: row.amount(col) or 0.0 for col, code in shares_of.items()}
    claim.remittance(row.amount("CLM_PMT_AMT"), shares)
    return claim, org, attending


def _outpatient(row: _Row, where: SourceRef) -> Record:
    claim, _, _ = _institutional(row, OUTPATIENT_SHARES)
    return claim.record(where)


def _inpatient(row: _Row, where: SourceRef) -> Record:
    claim, org, attending = _institutional(row, INPATIENT_SHARES)
    # the stay is one encounter whichever segment of its claim is read
    ident = Identifier(ENCOUNTER_SYSTEM, row["CLM_ID"])
    start, end = row.date("CLM_ADMSN_DT"), row.date("NCH_BENE_DSCHRG_DT")
    props: dict[URIRef, Value | None] = {
        CG.start: start,  # absent: a warning of the shapes
        CG.end: end,
        CG.status: "finished" if end else "",
        CG.encounterClass: "IMP",
        CG.reasonCode: row.diagnosis("ADMTNG_ICD9_DGNS_CD"),
        CG.display: f"inpatient stay {start}".strip(),
    }
    enc = claim.add(Node(CG.Encounter, ident.token, _clean(props), (ident,)))
    patient = Ref(CG.Patient, beneficiary(row["DESYNPUF_ID"]).token)
    claim.links += [
        Link(CG.hasEncounter, patient, enc.ref),
        Link(CG.forEncounter, claim.claim.ref, enc.ref),
    ]
    if org is not None:
        claim.links.append(Link(CG.serviceProvider, enc.ref, org.ref))
    if attending is not None:
        role: Props = {CG.role: roles.PARTICIPATION_TYPE["ATND"]}
        claim.links.append(Link(CG.hasParticipant, enc.ref, attending.ref, role))
    return claim.record(where)


def _clean(props: Mapping[URIRef, Value | None]) -> Props:
    """Drop empty values: an empty CSV cell asserts nothing."""
    return {k: v for k, v in props.items() if v is not None and v != "" and v != []}


MAPPERS: dict[str, Callable[[_Row, SourceRef], Record]] = {
    "beneficiary": _beneficiary,
    "carrier": _carrier,
    "inpatient": _inpatient,
    "outpatient": _outpatient,
}

LOADER = SynpufLoader()
