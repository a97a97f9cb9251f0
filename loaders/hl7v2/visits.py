"""What ADT, SIU and order messages share: the patient (PID) and the visit (PV1)."""

from __future__ import annotations

from caregraph.loaders import keys
from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.datatypes import (
    coded,
    cx,
    date,
    dtm,
    gender,
    id_system,
    location,
    practitioner,
    put,
    xad,
    xpn,
)
from caregraph.loaders.hl7v2.errors import BadValue, MissingValue
from caregraph.loaders.hl7v2.segments import Seg
from caregraph.loaders.records import Identifier, Node, Props, Ref, token
from caregraph.ontology.vocab import CG

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
# HL7 table 0004 (patient class) -> v3 ActCode encounter class, as the v2-to-FHIR map does.
PATIENT_CLASS = {"I": "IMP", "O": "AMB", "E": "EMER", "P": "PRENC", "R": "AMB", "B": "IMP"}
# Table 0004 codes with no encounter class: commercial account, not applicable, unknown.
NO_CLASS = frozenset({"C", "N", "U"})
PV1_ROLES = ((7, "attending"), (8, "referring"), (9, "consulting"), (17, "admitting"))


def patient(b: MessageBuilder, pid: Seg, source: str) -> Ref:
    """PID as a Patient keyed by its first MR identifier (else its first identifier).

    Only PID-3 is needed: a birth date that is not a date, or a sex outside table 0001, is
    left out (the sex as ``unknown``) with a warning, and the patient is written.
    """
    idents: list[Identifier] = []
    for rep in pid.reps(3):
        ident = cx(rep, source, "PID-3")
        if ident is not None and ident.token not in {i.token for i in idents}:
            idents.append(ident)
    if not idents:
        raise MissingValue("PID-3", "patient identifier list")
    key = next((i for i in idents if i.type == "MR"), idents[0]).token
    props = xpn(pid.rep(5))
    put(props, CG.birthDate, b.read(date, pid.get(7), "PID-7 (date of birth)"))
    try:
        put(props, CG.gender, gender(pid.get(8), "PID-8 (administrative sex)"))
    except BadValue as e:
        b.warn("unusual-value", f"{e}: loaded as unknown")
        props[CG.gender] = "unknown"
    props.update(xad(pid.rep(11)))
    return b.add(Node(CG.Patient, key, props, tuple(idents)))


def visit_number(pv1: Seg, source: str) -> Identifier | None:
    """PV1-19 within its assigning authority (or the source's own visit numbers)."""
    rep = pv1.rep(19)
    if not rep.get(1):
        return None
    system = id_system(rep.comp(4), "") or keys.local_system(source, "visit")
    return Identifier(system, rep.get(1), "VN")


def encounter(
    b: MessageBuilder,
    pv1: Seg,
    source: str,
    key: str,
    number: Identifier | None,
    status: str | None,
) -> Ref:
    """PV1 as an Encounter: class, type, admit and discharge times, status.

    What PV1 leaves empty is left out, so an update (A08, A03) keeps what an earlier message
    gave; an unknown patient class or a time that is not a DTM is left out with a warning.
    """
    props: Props = {}
    code = pv1.get(2)
    klass = PATIENT_CLASS.get(code.upper())
    if code and klass is None and code.upper() not in NO_CLASS:
        b.warn("unusual-value", "PV1-2 (patient class) is not an HL7 table 0004 code: left out")
    put(props, CG.encounterClass, f"{ACT_CODE}|{klass}" if klass else None)
    put(props, CG.encounterType, coded(pv1.rep(4), source, "0007"))
    put(props, CG.start, b.read(dtm, pv1.get(44), "PV1-44 (admit date/time)"))
    put(props, CG.end, b.read(dtm, pv1.get(45), "PV1-45 (discharge date/time)"))
    put(props, CG.visitNumber, number.value if number else None)
    put(props, CG.status, status)
    return b.add(Node(CG.Encounter, key, props, (number,) if number else ()))


def unnumbered_key(
    b: MessageBuilder, pv1: Seg, source: str, patient_key: str, control_id: str
) -> str:
    """A visit without PV1-19: its patient and admit time, or failing that this message."""
    start = b.read(dtm, pv1.get(44), "PV1-44 (admit date/time)")
    if start:
        return token(keys.local_system(source, "visit"), f"{patient_key}@{start}")
    return token(keys.local_system(source, "visit-message"), control_id)


def visit_parts(b: MessageBuilder, pv1: Seg, enc: Ref, source: str) -> None:
    """PV1's practitioners (attending, referring, consulting, admitting) and location."""
    for field, role in PV1_ROLES:
        for rep in pv1.reps(field):
            doc = practitioner(rep, source)
            if doc is not None:
                b.link(CG.hasParticipant, enc, b.add(doc), {CG.role: role})
    loc = location(pv1.rep(3), source)
    if loc is not None:
        b.link(CG.atLocation, enc, b.add(loc))


def numbered_visit(
    b: MessageBuilder, pv1: Seg | None, patient: Ref | None, source: str
) -> Ref | None:
    """For SIU, orders and person events: the visit PV1-19 names, or None when it names none.

    ADT owns visits. A scheduling, order or person message that gives the visit's admit time
    asserts it; one that does not only points at it by its number, and the identity step
    ties that reference to the visit ADT loads (or a stub until then).
    """
    if pv1 is None:
        return None
    number = visit_number(pv1, source)
    if number is None:
        return None
    if pv1.get(44):
        enc = encounter(b, pv1, source, number.token, number, None)
    else:
        enc = Ref(CG.Encounter, number.token)
    if patient is not None:
        b.link(CG.hasEncounter, patient, enc)
    visit_parts(b, pv1, enc, source)
    return enc
