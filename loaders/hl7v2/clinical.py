"""DG1 diagnoses and PR1 procedures: the Conditions and Procedures of the message's patient.

Each DG1 is a Condition and each PR1 a Procedure of the patient (PID), FOR_ENCOUNTER the visit
(PV1) when the message names one, and HAS_CODE to the Concept of its code (DG1-3, PR1-3, and
the CWE's alternate code): the system is DG1-3.3 / PR1-3.3 (or, in older feeds, the coding
method DG1-2 / PR1-2), made canonical by the ontology (``I10`` -> ICD-10-CM, ``SCT`` -> SNOMED
CT, ``C4`` -> CPT ...; loaders/concepts.py); an ICD-10-CM code gets its dot.

Keys. DG1 and PR1 carry no identifier that feeds fill reliably (DG1-20 and PR1-19 are
optional, and the shared samples send one DG1-20 for two different diagnoses), so a node is
keyed by where it belongs and what it is: the visit's key (the patient's when the message
names no visit), then the code's Concept key, and for a procedure its date/time (PR1-5), since
one visit may hold the same procedure twice. A reload, or a later A08 or A03 listing the same
diagnosis, names the same node; a diagnosis that changes from admitting to final stays one
Condition with two HAS_DIAGNOSIS roles. A segment without a code is keyed by its set id
(DG1-1, PR1-1; its place among the message's DG1 or PR1 when that is empty) and written with
an ``incomplete`` warning.

The Encounter HAS_DIAGNOSIS each Condition, with the role of DG1-6 (table 0052) and the rank
of DG1-15 (table 0359, 1 the primary diagnosis, 0 not ranked); a Procedure only when PR1-14
(table 0418) ranks it (0 the admitting procedure, 1 the primary one). PR1-8 anesthesiologist,
PR1-11 surgeon and PR1-12 procedure practitioner are the Procedure's participants. A segment
whose action code (DG1-21, PR1-20) deletes it is not applied, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from caregraph.loaders import concepts
from caregraph.loaders.concepts import Coded
from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.datatypes import dtm, practitioner, put
from caregraph.loaders.hl7v2.segments import Message, Rep, Seg
from caregraph.loaders.records import Node, Props, Ref
from caregraph.ontology.vocab import CG

# HL7 table 0052 (diagnosis type) -> the role on HAS_DIAGNOSIS
DIAGNOSIS_TYPE = {"A": "admitting", "W": "working", "F": "final"}
# PR1's practitioners by field (8 anesthesiologist, 11 surgeon, 12 procedure practitioner)
PR1_ROLES = ((8, "anesthesiologist"), (11, "surgeon"), (12, "performer"))
# FHIR condition-category: what a DG1 is (as the HL7 v2-to-FHIR DG1 map sets it)
ENCOUNTER_DIAGNOSIS = "encounter-diagnosis"
DELETE = "D"  # table 0206 action code
# Keys live in caregraph's own namespace for HL7 v2 clinical facts: they are not identifiers
# any system assigned, and they name no source (two feeds about one visit share its key).
CONDITION_KEYS = "urn:caregraph:hl7v2:Condition"
PROCEDURE_KEYS = "urn:caregraph:hl7v2:Procedure"


@dataclass(frozen=True, slots=True)
class _Code:
    """A DG1-3 / PR1-3 read: its Concepts (primary first), raw code and text."""

    concepts: list[Coded]
    code: str
    text: str


def add_clinical(
    b: MessageBuilder, msg: Message, source: str, pat: Ref | None, enc: Ref | None
) -> None:
    """Each DG1 and PR1 of ``msg`` as a Condition or Procedure of ``pat`` for ``enc``."""
    dg1s, pr1s = msg.all("DG1"), msg.all("PR1")
    if not dg1s and not pr1s:
        return
    if pat is None:
        b.warn("incomplete", f"{msg.kind} has DG1 or PR1 segments but no PID: they are not loaded")
        return
    scope = enc.key if enc is not None else pat.key
    for n, seg in enumerate(dg1s, 1):
        _diagnosis(b, seg, n, scope, pat, enc)
    for n, seg in enumerate(pr1s, 1):
        _procedure(b, seg, n, scope, pat, enc, source)


def _where(seg: Seg, n: int) -> str:
    return f"{seg.id} #{n} (line {seg.line})"


def _read_code(b: MessageBuilder, seg: Seg, n: int, what: str) -> _Code:
    """Field 3 (CWE) with its system from component 3, else field 2 (the coding method)."""
    rep = seg.rep(3)
    where = _where(seg, n)
    fallback = seg.get(2)
    found: list[Coded] = []
    for code_c, system_c in ((1, 3), (4, 6)):
        code, system = rep.get(code_c), rep.get(system_c) or (fallback if code_c == 1 else "")
        if not code:
            continue
        if not system:
            b.warn(
                "unusual-value",
                f"{where}: {seg.id}-3.{code_c} ({what} code) has no coding system "
                f"({seg.id}-3.{system_c}, {seg.id}-2): not linked to a Concept",
            )
            continue
        if not concepts.known_system(system) and ":" not in system:
            b.warn(
                "unusual-value",
                f"{where}: {seg.id}-3.{system_c} names a coding system caregraph does not "
                "know: its code is keyed under the name as given",
            )
        made = concepts.coded(system, code)
        if made is not None and made not in found:
            found.append(made)
    text = rep.get(2) or rep.get(5) or seg.get(4)
    return _Code(found, rep.get(1), text)


def _identity(code: _Code, seg: Seg, n: int) -> str:
    """The part of the key that says which diagnosis or procedure this is."""
    if code.concepts:
        return code.concepts[0].key
    if code.code:
        return f"{seg.id}-3|{code.code}"  # a code without a system
    return f"{seg.id}-1|{seg.get(1) or n}"


def _deleted(b: MessageBuilder, seg: Seg, n: int, field: int) -> bool:
    if seg.get(field).upper() != DELETE:
        return False
    b.warn(
        "not-applied",
        f"{_where(seg, n)}: {seg.id}-{field} (action code) deletes it: caregraph does not "
        "apply deletes",
    )
    return True


def _rank(b: MessageBuilder, seg: Seg, n: int, field: int, what: str) -> int | None:
    text = seg.get(field)
    if not text:
        return None
    if not text.isdigit():
        b.warn(
            "unusual-value",
            f"{_where(seg, n)}: {seg.id}-{field} ({what}) is not a number: loaded without it",
        )
        return None
    return int(text)


def _diagnosis(b: MessageBuilder, seg: Seg, n: int, scope: str, pat: Ref, enc: Ref | None) -> None:
    if _deleted(b, seg, n, 21):
        return
    code = _read_code(b, seg, n, "diagnosis")
    if not code.code:
        b.warn(
            "incomplete",
            f"{_where(seg, n)}: DG1-3 (diagnosis code) is empty: the condition is loaded "
            "without a code",
        )
    props: Props = {CG.category: [ENCOUNTER_DIAGNOSIS]}
    put(props, CG.onset, b.read(dtm, seg.get(5), f"{_where(seg, n)}: DG1-5 (diagnosis date/time)"))
    put(
        props,
        CG.recordedDate,
        b.read(dtm, seg.get(19), f"{_where(seg, n)}: DG1-19 (attestation date/time)"),
    )
    props[CG.display] = code.text or code.code or "diagnosis"
    key = f"{scope}/{_identity(code, seg, n)}"
    node = b.add(Node(CG.Condition, f"{CONDITION_KEYS}|{key}", props))
    b.link(CG.hasCondition, pat, node)
    for concept in code.concepts:
        b.link(CG.hasCode, node, concept.ref)
    if enc is None:
        return
    b.link(CG.forEncounter, node, enc)
    link: Props = {}
    kind = seg.get(6).upper()
    if kind and kind not in DIAGNOSIS_TYPE:
        b.warn(
            "unusual-value",
            f"{_where(seg, n)}: DG1-6 (diagnosis type) is not an HL7 table 0052 code "
            "(A, W, F): linked without a role",
        )
    put(link, CG.role, DIAGNOSIS_TYPE.get(kind))
    rank = _rank(b, seg, n, 15, "diagnosis priority")
    put(link, CG.rank, rank or None)  # 0: not included in the ranking
    b.link(CG.hasDiagnosis, enc, node, link)


def _procedure(
    b: MessageBuilder,
    seg: Seg,
    n: int,
    scope: str,
    pat: Ref,
    enc: Ref | None,
    source: str,
) -> None:
    if _deleted(b, seg, n, 20):
        return
    code = _read_code(b, seg, n, "procedure")
    if not code.code:
        b.warn(
            "incomplete",
            f"{_where(seg, n)}: PR1-3 (procedure code) is empty: the procedure is loaded "
            "without a code",
        )
    start = b.read(dtm, seg.get(5), f"{_where(seg, n)}: PR1-5 (procedure date/time)")
    props: Props = {}
    put(props, CG.start, start)
    put(props, CG.procedureCode, code.concepts[0].key if code.concepts else None)
    props[CG.display] = f"{code.text or code.code or 'procedure'} {(start or '')[:10]}".strip()
    key = f"{scope}/{_identity(code, seg, n)}" + (f"@{start}" if start else "")
    node = b.add(Node(CG.Procedure, f"{PROCEDURE_KEYS}|{key}", props))
    b.link(CG.hasProcedure, pat, node)
    for concept in code.concepts:
        b.link(CG.hasCode, node, concept.ref)
    for field, role in PR1_ROLES:
        for doc in _practitioners(seg.reps(field), source):
            b.link(CG.hasParticipant, node, b.add(doc), {CG.role: role})
    if enc is None:
        return
    b.link(CG.forEncounter, node, enc)
    rank = _rank(b, seg, n, 14, "procedure priority")
    if rank is not None:
        # table 0418: 0 is the admitting procedure, 1 the primary, then ranked secondaries
        link: Props = {CG.role: "admitting"} if rank == 0 else {CG.rank: rank}
        b.link(CG.hasDiagnosis, enc, node, link)


def _practitioners(reps: list[Rep], source: str) -> Iterator[Node]:
    for rep in reps:
        doc = practitioner(rep, source)
        if doc is not None:
            yield doc
