"""ADT: the patient (PID) of every trigger, and the visit (PV1) it admits, discharges or updates.

Visit events (A01 admit, A03 discharge, A04 register, A05 pre-admit, A08 update, A11 cancel
admit, A13 cancel discharge ...) need PV1 in the standard's message structure; one sent
without it still names its patient, which is written with an ``incomplete`` warning. Person
events carry no visit (A24/A37 link and unlink two patients, A28/A31 add and update a person,
A40 and the other merges pair each surviving PID with an MRG): every PID is written, and a
PV1 is read only when PV1-19 names a visit. Links and merges between patients are not
modelled: the patients are written, the link or merge is not applied and a warning says so.
Deletions (A23, A29) are skipped by the loader. An event outside table 0003 is read as a
visit update (A08), with a warning.
"""

from __future__ import annotations

import re

from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.clinical import add_clinical
from caregraph.loaders.hl7v2.errors import MissingSegment
from caregraph.loaders.hl7v2.segments import Message
from caregraph.loaders.hl7v2.visits import (
    encounter,
    numbered_visit,
    patient,
    unnumbered_key,
    visit_number,
    visit_parts,
)
from caregraph.ontology.vocab import CG

# A08 and the other updates change what they carry and leave the status as the last event set it.
STATUS = {
    "A01": "in-progress",
    "A04": "arrived",
    "A05": "planned",
    "A03": "finished",
    "A11": "cancelled",  # cancel admit: the stay did not take place
    "A13": "in-progress",  # cancel discharge: the patient is still there
    "A38": "cancelled",  # cancel pre-admit
}
VISIT_EVENTS = frozenset({*STATUS, "A02", "A06", "A07", "A08", "A12"})
LINKS = frozenset({"A24", "A37"})
MERGES = frozenset({"A18", "A30", "A34", "A35", "A36", "A39", "A40", "A41", "A42", "A44"})
PERSON_EVENTS = frozenset({"A28", "A31", *LINKS, *MERGES})
DELETES = frozenset({"A23", "A29"})
_TABLE_0003 = re.compile(r"A[0-6]\d")


def read(msg: Message, source: str) -> MessageBuilder:
    """PID -> Patient HAS_ENCOUNTER Encounter (PV1) with practitioners and location; DG1, PR1."""
    event = msg.header.event
    if event in PERSON_EVENTS:
        return _person(msg, source)
    b = MessageBuilder()
    if not _TABLE_0003.fullmatch(event):
        b.warn(
            "unusual-value",
            f"MSH-9.2 (trigger event) {event[:3]} is not an ADT event of HL7 table 0003: "
            "read as an update of the patient and visit",
        )
    pat = patient(b, msg.need("PID"), source)
    pv1 = msg.first("PV1")
    if pv1 is None:
        if event in VISIT_EVENTS:
            b.warn("incomplete", f"{msg.kind} has no PV1 segment: the patient is loaded, no visit")
        add_clinical(b, msg, source, pat, None)
        return b
    number = visit_number(pv1, source)
    key = number.token if number else unnumbered_key(b, pv1, source, pat.key, msg.header.control_id)
    enc = encounter(b, pv1, source, key, number, STATUS.get(event))
    b.link(CG.hasEncounter, pat, enc)
    visit_parts(b, pv1, enc, source)
    add_clinical(b, msg, source, pat, enc)
    if event == "A13":
        b.warn(
            "not-applied",
            "ADT^A13 cancels a discharge: the visit is in progress again, but a discharge time "
            "an earlier message gave (PV1-45) is not removed",
        )
    return b


def _person(msg: Message, source: str) -> MessageBuilder:
    """Every PID as a Patient; a visit only where PV1-19 names one."""
    pids = msg.all("PID")
    if not pids:
        raise MissingSegment(msg.kind, "PID")
    b = MessageBuilder()
    patients = [patient(b, pid, source) for pid in pids]
    enc = numbered_visit(b, msg.first("PV1"), patients[0], source)
    add_clinical(b, msg, source, patients[0], enc)
    event = msg.header.event
    if event in LINKS and len(pids) > 1:
        b.warn(
            "not-applied",
            f"{msg.kind} links or unlinks two patients: both are loaded, the link is not modelled",
        )
    if event in MERGES and msg.first("MRG") is not None:
        b.warn(
            "not-applied",
            f"{msg.kind} merges records (MRG): the surviving patient is loaded, the merge of "
            "the prior identifiers into it is not applied",
        )
    return b
