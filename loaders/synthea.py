"""Synthea CSV export: patients, encounters, conditions, procedures, providers, organizations,
payers, claims, claims_transactions, imaging_studies and payer_transitions.

Columns are read by header name (they move between Synthea versions); which table a file is
comes from its header, not its name. Synthea's ids are UUIDs under Synthea's own identifier
system, the one its FHIR export uses too, so the CSV and the FHIR of one Synthea run meet.

Lines are decoded and split one at a time (rather than one ``csv.reader`` over the file) so
that a line in a wrong encoding or with a wrong number of fields is rejected alone and the
rest of the file loads. Synthea never writes a quoted newline inside a field.

Conditions and procedures have no id column: a row is keyed by its patient, encounter, code
and start, which Synthea writes once per patient and encounter. Their codes are SNOMED CT
unless a SYSTEM column (Synthea 3.1 on) names another system; every code is linked to its
Concept (loaders/concepts.py).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from rdflib import URIRef

from caregraph.loaders import concepts, csvrows, keys, roles
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
from caregraph.ontology.vocab import CG

FORMAT = "synthea-csv"
SYNTHEA = "https://github.com/synthetichealth/synthea"
SNOMED = "http://snomed.info/sct"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"

# FHIR v3 ActCode for Synthea's encounter classes
ENCOUNTER_CLASS = {
    "ambulatory": "AMB",
    "outpatient": "AMB",
    "wellness": "AMB",
    "urgentcare": "AMB",
    "emergency": "EMER",
    "inpatient": "IMP",
    "home": "HH",
    "hospice": "HH",
    "snf": "IMP",
    "virtual": "VR",
}
GENDER = {"M": "male", "F": "female"}

# header columns that tell each table apart
SIGNATURES: dict[str, frozenset[str]] = {
    "patients": frozenset({"ID", "BIRTHDATE", "FIRST", "LAST", "GENDER"}),
    "encounters": frozenset({"ID", "START", "PATIENT", "ENCOUNTERCLASS"}),
    "providers": frozenset({"ID", "ORGANIZATION", "NAME", "SPECIALITY"}),
    "organizations": frozenset({"ID", "NAME", "REVENUE", "UTILIZATION"}),
    "payers": frozenset({"ID", "NAME", "AMOUNT_COVERED"}),
    "claims_transactions": frozenset({"ID", "CLAIMID", "CHARGEID", "TYPE", "AMOUNT"}),
    "claims": frozenset({"ID", "PATIENTID", "PROVIDERID", "APPOINTMENTID"}),
    "imaging_studies": frozenset({"ID", "PATIENT", "ENCOUNTER", "SERIES_UID", "MODALITY_CODE"}),
    "payer_transitions": frozenset({"PATIENT", "MEMBERID", "PAYER"}),
    "procedures": frozenset({"START", "PATIENT", "ENCOUNTER", "CODE", "BASE_COST", "REASONCODE"}),
    "conditions": frozenset({"START", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"}),
}
# Columns that make a header another table's although it has a table's signature: the
# clinical tables share their columns (START, PATIENT, ENCOUNTER, CODE ...), and conditions.csv
# has none of its own; medications.csv has every column of procedures.csv and more.
NOT_WITH: dict[str, frozenset[str]] = {
    "procedures": frozenset({"PAYER", "DISPENSES", "TOTALCOST", "PAYER_COVERAGE"}),
    "conditions": frozenset(
        {
            "ID",  # careplans
            "BASE_COST",  # procedures, medications, immunizations
            "UDI",  # devices
            "TYPE", "CATEGORY", "REACTION1", "SEVERITY1",  # allergies
            "PAYER",  # medications
            "QUANTITY",  # supplies
            "VALUE", "UNITS",  # observations
        }
    ),
}  # fmt: skip


class RowError(ValueError):
    """A row that cannot be mapped; the message names the column, never its value."""

    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code  # the Rejected code: identity (no usable key) or invalid


# Columns Synthea's data dictionary marks required that identify nothing: a row without one
# is understood, so it is written with an `incomplete` warning instead of rejected (an
# encounter's START and PATIENT, and a study's PATIENT, are the shapes' warnings).
WANTED: dict[str, tuple[str, ...]] = {
    "patients": ("BIRTHDATE", "LAST", "FIRST"),
    "providers": ("NAME",),
    "organizations": ("NAME",),
    "payers": ("NAME",),
    "imaging_studies": ("DATE",),
    "conditions": ("ENCOUNTER", "DESCRIPTION"),
    "procedures": ("ENCOUNTER", "DESCRIPTION"),
}


def table_of(header: list[str]) -> str | None:
    """Which Synthea table a header belongs to."""
    cols = {h.strip().upper() for h in header}
    for table, needed in SIGNATURES.items():
        if needed <= cols and not NOT_WITH.get(table, frozenset()) & cols:
            return table
    return None


def table_for(path: Path, header: list[str]) -> str | None:
    """The table a file is: by its header; a header only conditions.csv and the allergies.csv
    of Synthea before 3.0 share (START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION) is told apart
    by the file's name, the only thing that differs."""
    table = table_of(header)
    if table == "conditions" and path.stem.lower().startswith("allerg"):
        return None
    return table


def sid(value: str) -> Identifier:
    return Identifier(SYNTHEA, value, "RI")


def ref(cls: URIRef, value: str) -> Ref:
    return Ref(cls, sid(value).token)


class SyntheaLoader:
    """Reads one Synthea CSV table."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        return csvrows.detects(path, head, lambda header: table_for(path, header))

    def read(self, path: Path, source: str) -> Iterator[Item]:
        context: _Context | None = None
        rows = csvrows.table_rows(
            path, source, FORMAT, lambda header: table_for(path, header), "a Synthea CSV"
        )
        for got in rows:
            if isinstance(got, Rejected):
                yield got
                continue
            table, row = got.table, got.values
            context = context or _Context(path, source, table)
            rid = row.get("ID") or ""
            where = SourceRef(
                source, str(path), got.where.position, f"{table}/{rid}" if rid else None
            )
            try:
                item = MAPPERS[table](row, where, context)
            except RowError as e:
                yield Rejected(where, FORMAT, f"{table}: {e}", e.code)
                continue
            if isinstance(item, Record):
                for col in WANTED.get(table, ()):
                    if not row.get(col):
                        item.warn("incomplete", f"{table}: column {col} is empty")
            yield item


class _Context:
    """Per-file state: the charge lines of claims, read from the sibling transactions file."""

    def __init__(self, path: Path, source: str, table: str) -> None:
        self.path = path
        self.source = source
        self.table = table
        self._charges: dict[str, list[dict[str, str]]] | None = None

    def charges(self, claim_id: str) -> list[dict[str, str]]:
        """CHARGE lines of a claim, from claims_transactions.csv beside claims.csv."""
        if self._charges is None:
            # Only the few columns an item needs are kept, so this index stays small.
            self._charges = defaultdict(list)
            sibling = self.path.with_name("claims_transactions.csv")
            if sibling.exists():
                with sibling.open(encoding="utf-8", errors="replace", newline="") as fh:
                    for row in csv.DictReader(fh):
                        if row.get("TYPE") == "CHARGE":
                            self._charges[row["CLAIMID"]].append(_charge_fields(row))
        return self._charges.get(claim_id, [])


def _charge_fields(row: dict[str, str]) -> dict[str, str]:
    return {
        k: (row.get(k) or "").strip()
        for k in ("CHARGEID", "PROCEDURECODE", "AMOUNT", "UNITS", "FROMDATE", "TODATE")
    }


def _need(row: dict[str, str], *cols: str) -> None:
    """Columns without which the row has no identity (its own, or what it belongs to)."""
    missing = [c for c in cols if not row.get(c)]
    if missing:
        raise RowError(f"required column {', '.join(missing)} is empty", "identity")


def _money(row: dict[str, str], col: str) -> float | None:
    text = row.get(col, "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError as e:
        raise RowError(f"column {col} is not a number") from e


def _patient(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID")
    ids = [sid(row["ID"])]
    name = f"{row.get('FIRST', '')} {row.get('LAST', '')}".strip()
    if row.get("SSN"):
        ids.append(Identifier(keys.SSN_SYSTEM, row["SSN"], "SS"))
    props: dict[URIRef, Value | None] = {
        CG.familyName: row.get("LAST", ""),
        CG.givenNames: [row["FIRST"]] if row.get("FIRST") else [],
        CG.nameText: name,
        CG.display: name or f"patient {row['ID']}",
        CG.birthDate: row.get("BIRTHDATE", ""),
        CG.gender: GENDER.get(row.get("GENDER", ""), "unknown"),
        CG.deceased: bool(row.get("DEATHDATE")),
        CG.addressLine: row.get("ADDRESS", ""),
        CG.city: row.get("CITY", ""),
        CG.state: row.get("STATE", ""),
        CG.postalCode: row.get("ZIP", ""),
    }
    node = Node(CG.Patient, ids[0].token, _clean(props), tuple(ids))
    return Record(where, FORMAT, "patient", [node])


def _encounter(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID")
    enc = sid(row["ID"])
    cls = row.get("ENCOUNTERCLASS", "")
    props: dict[URIRef, Value | None] = {
        CG.start: row.get("START", ""),
        CG.end: row.get("STOP", ""),
        CG.status: "finished" if row.get("STOP") else "in-progress",
        CG.encounterClass: ENCOUNTER_CLASS.get(cls, cls),
        CG.encounterType: f"{SNOMED}|{row['CODE']}" if row.get("CODE") else "",
        CG.description: row.get("DESCRIPTION", ""),
        CG.reasonCode: f"{SNOMED}|{row['REASONCODE']}" if row.get("REASONCODE") else "",
        CG.display: f"{cls} {row.get('START', '')[:10]}".strip(),
    }
    node = Node(CG.Encounter, enc.token, _clean(props), (enc,))
    links = _coded(CG.hasReason, node.ref, SNOMED, row.get("REASONCODE", ""))
    if row.get("PATIENT"):  # without it the shapes warn: an encounter's subject is 0..1
        links.append(Link(CG.hasEncounter, ref(CG.Patient, row["PATIENT"]), node.ref))
    if row.get("ORGANIZATION"):
        links.append(Link(CG.serviceProvider, node.ref, ref(CG.Organization, row["ORGANIZATION"])))
    if row.get("PROVIDER"):
        links.append(
            Link(
                CG.hasParticipant,
                node.ref,
                ref(CG.Practitioner, row["PROVIDER"]),
                {CG.role: roles.PARTICIPATION_TYPE["PPRF"]},  # the provider performed it
            )
        )
    return Record(where, FORMAT, "encounter", [node], links)


def _coded(rel: URIRef, holder: Ref, system: str, code: str) -> list[Link]:
    """A link to the Concept of a code (none when the cell is empty)."""
    found = concepts.coded(system, code)
    return concepts.links(rel, holder, [found]) if found else []


def _system(row: dict[str, str]) -> str:
    """The code system of a clinical row: its SYSTEM column (Synthea 3.1 on), else SNOMED CT,
    the one Synthea codes conditions and procedures in."""
    return row.get("SYSTEM") or SNOMED


def _clinical_key(kind: str, row: dict[str, str]) -> str:
    """A condition's or procedure's key: Synthea writes one row per patient, encounter, code
    and start, and gives the row no id of its own."""
    parts = (row["PATIENT"], row.get("ENCOUNTER", ""), _system(row), row["CODE"], row["START"])
    return f"{SYNTHEA}/{kind}|{'/'.join(parts)}"


def _unknown_system(record: Record, table: str, row: dict[str, str]) -> None:
    """A SYSTEM that is neither a URI nor a name the ontology knows keys its codes under a bare
    name, which no other source will spell the same way: written, and said."""
    system = row.get("SYSTEM", "")
    if system and not concepts.known_system(system) and ":" not in system:
        record.warn(
            "unusual-value",
            f"{table}: column SYSTEM names a code system caregraph does not know: "
            "its codes are keyed under the name as given",
        )


def _condition(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "PATIENT", "CODE", "START")
    props: dict[URIRef, Value | None] = {
        CG.onset: row["START"],
        CG.abatement: row.get("STOP", ""),
        # as Synthea's own FHIR export says it: resolved once it has a stop, else active
        CG.clinicalStatus: "resolved" if row.get("STOP") else "active",
        CG.verificationStatus: "confirmed",
        CG.display: row.get("DESCRIPTION") or "condition",
    }
    node = Node(CG.Condition, _clinical_key("Condition", row), _clean(props))
    links = [Link(CG.hasCondition, ref(CG.Patient, row["PATIENT"]), node.ref)]
    links += _coded(CG.hasCode, node.ref, _system(row), row["CODE"])
    if row.get("ENCOUNTER"):
        links.append(Link(CG.forEncounter, node.ref, ref(CG.Encounter, row["ENCOUNTER"])))
    record = Record(_keyless(where), FORMAT, "condition", [node], links)
    _unknown_system(record, "conditions", row)
    return record


def _procedure(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "PATIENT", "CODE", "START")
    system = _system(row)
    code = concepts.coded(system, row["CODE"])
    reason = concepts.coded(SNOMED, row.get("REASONCODE", ""))
    props: dict[URIRef, Value | None] = {
        CG.start: row["START"],
        CG.end: row.get("STOP", ""),
        CG.status: "completed",  # Synthea exports the procedures that were performed
        CG.procedureCode: code.key if code else "",
        CG.reasonCode: reason.key if reason else "",
        CG.display: f"{row.get('DESCRIPTION') or 'procedure'} {row['START'][:10]}",
    }
    node = Node(CG.Procedure, _clinical_key("Procedure", row), _clean(props))
    links = [Link(CG.hasProcedure, ref(CG.Patient, row["PATIENT"]), node.ref)]
    links += _coded(CG.hasCode, node.ref, system, row["CODE"])
    links += _coded(CG.hasReason, node.ref, SNOMED, row.get("REASONCODE", ""))
    if row.get("ENCOUNTER"):
        links.append(Link(CG.forEncounter, node.ref, ref(CG.Encounter, row["ENCOUNTER"])))
    record = Record(_keyless(where), FORMAT, "procedure", [node], links)
    _unknown_system(record, "procedures", row)
    return record


def _keyless(where: SourceRef) -> SourceRef:
    """A row without an id is known by its position (its key holds a date, which a record id
    would carry into messages)."""
    return SourceRef(where.system, where.file, where.position, None)


def _provider(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID")
    ident = sid(row["ID"])
    props: dict[URIRef, Value | None] = {
        CG.name: row["NAME"],
        CG.display: row["NAME"],
        CG.gender: GENDER.get(row.get("GENDER", ""), "unknown"),
        CG.specialty: row.get("SPECIALITY", ""),
        CG.addressLine: row.get("ADDRESS", ""),
        CG.city: row.get("CITY", ""),
        CG.state: row.get("STATE", ""),
        CG.postalCode: row.get("ZIP", ""),
    }
    practitioner = Node(CG.Practitioner, ident.token, _clean(props), (ident,))
    nodes = [practitioner]
    links: list[Link] = []
    if row.get("ORGANIZATION"):
        role = Node(
            CG.PractitionerRole,
            f"{SYNTHEA}/PractitionerRole|{row['ID']}",
            _clean(
                {CG.specialty: row.get("SPECIALITY", ""), CG.display: row.get("SPECIALITY", "")}
            ),
        )
        nodes.append(role)
        links += [
            Link(CG.roleOf, role.ref, practitioner.ref),
            Link(CG.roleAt, role.ref, ref(CG.Organization, row["ORGANIZATION"])),
        ]
    return Record(where, FORMAT, "provider", nodes, links)


def _organization(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID")
    ident = sid(row["ID"])
    props: dict[URIRef, Value | None] = {
        CG.name: row["NAME"],
        CG.display: row["NAME"],
        CG.addressLine: row.get("ADDRESS", ""),
        CG.city: row.get("CITY", ""),
        CG.state: row.get("STATE", ""),
        CG.postalCode: row.get("ZIP", ""),
        CG.phone: row.get("PHONE", ""),
    }
    return Record(
        where, FORMAT, "organization", [Node(CG.Organization, ident.token, _clean(props), (ident,))]
    )


def _payer(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID")
    ident = sid(row["ID"])
    props: dict[URIRef, Value | None] = {
        CG.name: row["NAME"],
        CG.display: row["NAME"],
        CG.payerId: row["ID"],
        CG.addressLine: row.get("ADDRESS", ""),
        CG.city: row.get("CITY", ""),
        CG.state: row.get("STATE_HEADQUARTERED", ""),
        CG.postalCode: row.get("ZIP", ""),
    }
    return Record(where, FORMAT, "payer", [Node(CG.Payer, ident.token, _clean(props), (ident,))])


def _claim(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID", "PATIENTID")
    control = row["ID"]
    key = keys.claim_key(SYNTHEA, control)
    diagnoses = [
        f"{SNOMED}|{row[f'DIAGNOSIS{i}']}" for i in range(1, 9) if row.get(f"DIAGNOSIS{i}")
    ]
    # DIAGNOSIS1..8 in their order: Synthea gives no role, only the rank (a code repeated in a
    # later column keeps its first)
    billed: dict[concepts.Coded, int] = {}
    for i in range(1, 9):
        code = concepts.coded(SNOMED, row.get(f"DIAGNOSIS{i}", ""))
        if code is not None:
            billed.setdefault(code, i)
    items = [_item(key, charge) for charge in ctx.charges(control)]
    amounts = [n.props.get(CG.chargeAmount) for n, _ in items]
    total = sum(a for a in amounts if isinstance(a, float))
    props: dict[URIRef, Value | None] = {
        CG.controlNumber: control,
        CG.submitter: SYNTHEA,
        CG.claimType: "professional",
        CG.status: (row.get("STATUS1") or row.get("STATUSP") or "").lower(),
        CG.serviceStart: row.get("SERVICEDATE", "")[:10],
        CG.diagnosisCodes: diagnoses,
        CG.totalCharge: round(total, 2) if items else None,
        CG.display: f"claim {control[:8]}" + (f" ${total:.2f}" if items else ""),
    }
    claim = Node(CG.Claim, key, _clean(props), (Identifier(keys.claim_system(SYNTHEA), control),))
    nodes = [claim]
    links = [Link(CG.hasClaim, ref(CG.Patient, row["PATIENTID"]), claim.ref)]
    links += [Link(CG.billsDiagnosis, claim.ref, c.ref, {CG.rank: r}) for c, r in billed.items()]
    for item, item_links in items:
        nodes.append(item)
        links += item_links
    if row.get("APPOINTMENTID"):  # Synthea's appointment id is the encounter's id
        links.append(Link(CG.forEncounter, claim.ref, ref(CG.Encounter, row["APPOINTMENTID"])))
    for col, role in (
        ("PROVIDERID", "rendering"),
        ("REFERRINGPROVIDERID", "referring"),
        ("SUPERVISINGPROVIDERID", "supervising"),
    ):
        if row.get(col):
            links.append(
                Link(CG.hasProvider, claim.ref, ref(CG.Practitioner, row[col]), {CG.role: role})
            )
    payer = row.get("PRIMARYPATIENTINSURANCEID", "")
    if payer and payer != "0":
        links.append(Link(CG.hasPayer, claim.ref, ref(CG.Payer, payer)))
    return Record(where, FORMAT, "claim", nodes, links)


def _item(claim_key: str, charge: dict[str, str]) -> tuple[Node, list[Link]]:
    """A charge line as a claim item, with its HAS_ITEM and its procedure's HAS_CODE."""
    try:
        seq = int(charge["CHARGEID"])
        amount = float(charge["AMOUNT"]) if charge["AMOUNT"] else None
        units = float(charge["UNITS"]) if charge["UNITS"] else None
    except ValueError as e:
        raise RowError("a charge line's CHARGEID, AMOUNT or UNITS is not a number") from e
    item = Node(
        CG.ClaimItem,
        keys.item_key(claim_key, seq),
        _clean(
            {
                CG.sequence: seq,
                CG.procedureCode: f"{SNOMED}|{charge['PROCEDURECODE']}"
                if charge["PROCEDURECODE"]
                else "",
                CG.chargeAmount: amount,
                CG.quantity: units,
                CG.serviceStart: charge["FROMDATE"][:10],
                CG.serviceEnd: charge["TODATE"][:10],
                CG.display: f"item {seq}",
            }
        ),
    )
    has_item = Link(CG.hasItem, Ref(CG.Claim, claim_key), item.ref)
    return item, [has_item, *_coded(CG.hasCode, item.ref, SNOMED, charge["PROCEDURECODE"])]


def _transaction(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID", "CLAIMID", "TYPE")
    kind = row["TYPE"]
    claim_key = keys.claim_key(SYNTHEA, row["CLAIMID"])
    if kind == "CHARGE":
        item, item_links = _item(claim_key, _charge_fields(row))
        return Record(where, FORMAT, "charge", [item], item_links)
    if kind == "PAYMENT":
        amount = _money(row, "PAYMENTS")  # absent: the shapes warn (a payment's amount is 0..1)
        rem = Node(
            CG.Remittance,
            f"{SYNTHEA}/payment|{row['ID']}",
            _clean(
                {
                    CG.paymentAmount: amount,
                    CG.paymentDate: row.get("FROMDATE", "")[:10],
                    CG.description: (row.get("METHOD") or "").lower(),
                    CG.display: f"payment ${amount:.2f}" if amount is not None else "payment",
                }
            ),
        )
        return Record(
            where, FORMAT, "payment", [rem], [Link(CG.remits, rem.ref, Ref(CG.Claim, claim_key))]
        )
    return Skipped(where, FORMAT, f"transaction {kind}")


def _imaging(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "ID", "SERIES_UID")
    # Synthea's CSV names no study UID: the study is keyed by Synthea's id for it.
    study = sid(row["ID"])
    modality = row.get("MODALITY_CODE", "")
    series = Node(
        CG.ImagingSeries,
        keys.uid_key(row["SERIES_UID"]),
        _clean(
            {
                CG.seriesInstanceUid: row["SERIES_UID"],
                CG.modality: [modality] if modality else [],
                CG.bodySite: f"{SNOMED}|{row['BODYSITE_CODE']}" if row.get("BODYSITE_CODE") else "",
                CG.description: row.get("BODYSITE_DESCRIPTION", ""),
                CG.display: f"{modality} series",
            }
        ),
    )
    node = Node(
        CG.ImagingStudy,
        study.token,
        _clean(
            {
                CG.start: row.get("DATE", ""),
                CG.modality: [modality] if modality else [],
                CG.procedureCode: f"{SNOMED}|{row['PROCEDURE_CODE']}"
                if row.get("PROCEDURE_CODE")
                else "",
                CG.description: row.get("MODALITY_DESCRIPTION", ""),
                CG.display: f"{modality} {row.get('DATE', '')[:10]}".strip(),
            }
        ),
        (study,),
    )
    links = [Link(CG.hasSeries, node.ref, series.ref)]
    if row.get("PATIENT"):  # without it the shapes warn (DICOM's Patient ID is type 2)
        links.append(Link(CG.hasImagingStudy, ref(CG.Patient, row["PATIENT"]), node.ref))
    if row.get("ENCOUNTER"):
        links.append(Link(CG.forEncounter, node.ref, ref(CG.Encounter, row["ENCOUNTER"])))
    return Record(where, FORMAT, "imaging study", [node, series], links)


def _payer_transition(row: dict[str, str], where: SourceRef, ctx: _Context) -> Item:
    _need(row, "PATIENT", "PAYER")
    member = row.get("MEMBERID") or row["PATIENT"]
    start = row.get("START_YEAR", "")
    system = f"urn:caregraph:payer:{row['PAYER']}:member"
    coverage = Node(
        CG.Coverage,
        f"{system}|{member}|{start[:10]}",
        _clean(
            {
                CG.memberId: member,
                CG.start: start,
                CG.end: row.get("END_YEAR", ""),
                CG.relationship: (row.get("OWNERSHIP") or "").lower(),
                CG.display: f"coverage from {start[:10]}",
            }
        ),
    )
    return Record(
        SourceRef(where.system, where.file, where.position, None),
        FORMAT,
        "coverage",
        [coverage],
        [
            Link(CG.hasCoverage, ref(CG.Patient, row["PATIENT"]), coverage.ref),
            Link(CG.hasPayer, coverage.ref, ref(CG.Payer, row["PAYER"])),
        ],
    )


def _clean(props: Mapping[URIRef, Value | None]) -> Props:
    """Drop empty values: an empty CSV cell asserts nothing."""
    return {k: v for k, v in props.items() if v is not None and v != "" and v != []}


Mapper = Callable[[dict[str, str], SourceRef, _Context], Item]
MAPPERS: dict[str, Mapper] = {
    "patients": _patient,
    "encounters": _encounter,
    "providers": _provider,
    "organizations": _organization,
    "payers": _payer,
    "claims": _claim,
    "claims_transactions": _transaction,
    "imaging_studies": _imaging,
    "payer_transitions": _payer_transition,
    "conditions": _condition,
    "procedures": _procedure,
}

LOADER = SyntheaLoader()
