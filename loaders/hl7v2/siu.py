"""SIU S12 to S26: an appointment booked, rescheduled, modified, cancelled or missed."""

from __future__ import annotations

from datetime import datetime

from caregraph.loaders import roles
from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.clinical import add_clinical
from caregraph.loaders.hl7v2.datatypes import coded, dtm, ei, location, practitioner, put, text
from caregraph.loaders.hl7v2.errors import MissingValue
from caregraph.loaders.hl7v2.segments import Message, Seg
from caregraph.loaders.hl7v2.visits import numbered_visit, patient
from caregraph.loaders.records import Node, Props
from caregraph.ontology.vocab import CG

# S23/S24 block and open schedule slots and S25 is a query: no appointment, so Skipped.
EVENTS = (*(f"S{n}" for n in range(12, 23)), "S26")
# The trigger says what happened; for the rest (S14 modified, S18-S22 resource changes)
# SCH-25, the filler's status (HL7 table 0278), says where the appointment now stands, and
# without it the appointment is still booked: those events change it, they do not end it.
EVENT_STATUS = {
    "S12": "booked",
    "S13": "booked",  # rescheduled: booked again, at its new start
    "S15": "cancelled",
    "S16": "cancelled",  # discontinued
    "S17": "entered-in-error",  # deleted: HL7 sends it for appointments entered in error
    "S26": "noshow",
}
FILLER_STATUS = {
    "PENDING": "pending",
    "WAITLIST": "waitlist",
    "BOOKED": "booked",
    "OVERBOOK": "booked",
    "STARTED": "arrived",
    "COMPLETE": "fulfilled",
    "CANCELLED": "cancelled",
    "DC": "cancelled",
    "DELETED": "entered-in-error",
    "NOSHOW": "noshow",
}
CANCELLING = ("S15", "S16")
MINUTES_PER = {"s": 1 / 60, "min": 1, "h": 60, "d": 1440}
UNITS = {
    **dict.fromkeys(("sec", "second", "seconds"), "s"),
    **dict.fromkeys(("m", "mins", "minute", "minutes"), "min"),
    **dict.fromkeys(("hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("day", "days"), "d"),
}


def read(msg: Message, source: str) -> MessageBuilder:
    """SCH -> Appointment; PID HAS_APPOINTMENT; AIP participants, AIL locations, PV1 visit."""
    sch = msg.need("SCH")
    event = msg.header.event
    filler = ei(sch.rep(2), source, "appointment", "FILL")
    placer = ei(sch.rep(1), source, "appointment-placer", "PLAC")
    if filler is None and placer is None:
        raise MissingValue("SCH-1 and SCH-2", "placer and filler appointment id")
    key = (filler or placer).token  # type: ignore[union-attr]  # one of them is set
    props: Props = {}
    b = MessageBuilder()
    filler_status = sch.get(25).upper()
    if filler_status and filler_status not in FILLER_STATUS and event not in EVENT_STATUS:
        b.warn(
            "unusual-value", "SCH-25 (filler status) is not an HL7 table 0278 code: read as booked"
        )
    status = EVENT_STATUS.get(event) or FILLER_STATUS.get(filler_status, "booked")
    put(props, CG.status, status)
    start, end = _times(b, msg, sch)
    put(props, CG.start, start)
    put(props, CG.end, end)
    put(props, CG.minutesDuration, _between(start, end) or _duration(b, sch))
    put(props, CG.reasonCode, coded(sch.rep(7), source, "0276"))
    ais = msg.first("AIS")
    put(props, CG.serviceType, coded(ais.rep(3), source) if ais else None)
    if event in CANCELLING:
        put(props, CG.cancelReason, text(sch.rep(6)))
    idents = tuple(i for i in (filler, placer) if i is not None)
    appt = b.add(Node(CG.Appointment, key, props, idents))
    pid = msg.first("PID")
    pat = patient(b, pid, source) if pid else None
    if pat is not None:
        b.link(CG.hasAppointment, pat, appt)
    enc = numbered_visit(b, msg.first("PV1"), pat, source)
    if enc is not None:
        b.link(CG.forEncounter, appt, enc)
    add_clinical(b, msg, source, pat, enc)
    for aip in msg.all("AIP"):
        doc = practitioner(aip.rep(3), source)
        if doc is not None:
            role = roles.role(aip.rep(4).get(1), text(aip.rep(4))) or "participant"
            b.link(CG.hasParticipant, appt, b.add(doc), {CG.role: role})
    for ail in msg.all("AIL"):
        loc = location(ail.rep(3), source)
        if loc is not None:
            b.link(CG.atLocation, appt, b.add(loc))
    return b


def _times(b: MessageBuilder, msg: Message, sch: Seg) -> tuple[str | None, str | None]:
    """TQ1-7/8 (v2.5+), else SCH-11 (its predecessor), else the first resource's start."""
    tq1 = msg.first("TQ1")
    if tq1 is not None and tq1.get(7):
        return (
            b.read(dtm, tq1.get(7), "TQ1-7 (start date/time)"),
            b.read(dtm, tq1.get(8), "TQ1-8 (end date/time)"),
        )
    if sch.get(11, 4):
        return (
            b.read(dtm, sch.get(11, 4), "SCH-11.4 (start date/time)"),
            b.read(dtm, sch.get(11, 5), "SCH-11.5 (end date/time)"),
        )
    for sid, field in (("AIS", 4), ("AIL", 6), ("AIP", 6)):
        for seg in msg.all(sid):
            if seg.get(field):
                return b.read(dtm, seg.get(field), f"{sid}-{field} (start date/time)"), None
    return None, None


def _between(start: str | None, end: str | None) -> int | None:
    if not start or not end or "T" not in start or "T" not in end:
        return None
    try:
        minutes = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except (TypeError, ValueError):  # one with an offset, one without; or an hour alone
        return None
    return round(minutes / 60) if minutes >= 0 else None


def _duration(b: MessageBuilder, sch: Seg) -> int | None:
    """SCH-9 in SCH-10's units (minutes when none are given)."""
    value = sch.get(9)
    if not value:
        return None
    try:
        amount = float(value)
    except ValueError:
        b.warn("unusual-value", "SCH-9 (appointment duration) is not a number: loaded without it")
        return None
    unit = sch.get(10).lower() or "min"
    factor = MINUTES_PER.get(UNITS.get(unit, unit))
    return round(amount * factor) if factor is not None else None
