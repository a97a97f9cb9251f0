"""A participant's role in one vocabulary across sources.

A visit's practitioners come with their role coded differently by every source: FHIR
Encounter/Appointment.participant.type in HL7 v3 ParticipationType (``ATND``), HL7 v2 by
field (PV1-7 attending) or by table 0443 in AIP-4 (``AT^Attending``), X12 by NM101 entity
code, Synthea by column. Stored as they come, one attending physician reads as "ATND" from
the EHR and "attending" from the ADT feed, and an agent sees two roles. Every loader names
coded roles with ``role()``: the plain lower-case word the HL7 v2 and X12 loaders use.

A small table rather than a terminology service: these are the handful of codes the loaders
meet, and the words are caregraph's own (cg:role is a plain string in the ontology).
"""

from __future__ import annotations

# HL7 v3 ParticipationType (http://terminology.hl7.org/CodeSystem/v3-ParticipationType),
# the codes FHIR R4's encounter-participant-type binds
PARTICIPATION_TYPE = {
    "ADM": "admitting",
    "ATND": "attending",
    "CALLBCK": "callback contact",
    "CON": "consulting",
    "DIS": "discharging",
    "ESC": "escort",
    "REF": "referring",
    "PPRF": "primary performer",
    "SPRF": "secondary performer",
    "PART": "participant",
    "TRANSLATOR": "translator",
    "EMERGENCY": "emergency contact",
}

# HL7 v2 table 0443, Provider Role (AIP-4, ROL-3)
PROVIDER_ROLE = {
    "AD": "admitting",
    "AT": "attending",
    "CP": "consulting",
    "FHCP": "family health care professional",
    "PP": "primary care provider",
    "RP": "referring",
    "RT": "referred to provider",
}


def role(code: str | None, text: str | None = None) -> str | None:
    """The role's word for a code of either table, else the text or code as given (a local
    role such as "Gastroenterologist"); None when there is neither."""
    if code:
        key = code.strip().upper()
        found = PARTICIPATION_TYPE.get(key) or PROVIDER_ROLE.get(key)
        if found:
            return found
    given = (text or code or "").strip()
    return given or None
