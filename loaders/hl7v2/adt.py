"""ADT A01 (admit), A03 (discharge), A04 (register), A08 (update): patient and visit."""

from __future__ import annotations

from loaders.hl7v2.assemble import RecordBuilder
from loaders.hl7v2.segments import Message
from loaders.hl7v2.visits import encounter, patient, unnumbered_key, visit_number, visit_parts
from ontology.vocab import CG

EVENTS = ("A01", "A03", "A04", "A08")
# A08 changes what it carries and leaves the visit's status as the last event set it.
STATUS = {"A01": "in-progress", "A04": "arrived", "A03": "finished"}


def read(msg: Message, source: str) -> RecordBuilder:
    """PID -> Patient HAS_ENCOUNTER Encounter (PV1) with practitioners and location."""
    pid, pv1 = msg.need("PID"), msg.need("PV1")
    b = RecordBuilder()
    pat = patient(pid, source)
    pref = b.add(pat)
    number = visit_number(pv1, source)
    key = number.token if number else unnumbered_key(pv1, source, pat.key, msg.header.control_id)
    enc = b.add(encounter(pv1, source, key, number, STATUS.get(msg.header.event)))
    b.link(CG.hasEncounter, pref, enc)
    visit_parts(b, pv1, enc, source)
    return b
