"""MDM T01 to T11: the patient, visit and orders a clinical document is about.

The document itself (TXA, OBX) is not modelled, as ORU's OBX results are not; what MDM says
about the patient (PID), the visit it names (PV1-19) and the orders it answers (ORC/OBR) is.
"""

from __future__ import annotations

from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.orders import add_orders
from caregraph.loaders.hl7v2.segments import Message
from caregraph.loaders.hl7v2.visits import numbered_visit, patient

EVENTS = tuple(f"T{n:02}" for n in range(1, 12))


def read(msg: Message, source: str) -> MessageBuilder:
    """PID as a Patient with the visit PV1-19 names and each ORC/OBR order."""
    b = MessageBuilder()
    pat = patient(b, msg.need("PID"), source)
    add_orders(b, msg, source, pat, numbered_visit(b, msg.first("PV1"), pat, source))
    return b
