"""An encounter (a visit), with who was there, where, and what was billed and imaged."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import codings, connection, stored, to_one


@strawberry.type(description="A visit (FHIR Encounter).")
class Encounter(Event):
    start: datetime | None = stored(values.dt)
    end: datetime | None = stored(values.dt)
    encounter_class: str | None = stored(description="v3 ActCode: AMB, IMP, EMER ...")
    encounter_type: str | None = stored(description="A code, as system|code.")
    reason_code: str | None = stored(description="A code, as system|code.")
    description: str | None = stored()
    visit_number: str | None = stored()
    diagnosis_codes: list[str] = stored(values.texts)

    reasons = codings(
        "Encounter.reasons",
        "Why the visit took place: each coding, with its text from a loaded "
        "terminology (`reasonCode` is the first of them as system|code).",
    )

    diagnoses = connection(
        "Encounter.diagnoses",
        Event,
        "The visit's diagnoses (FHIR Encounter.diagnosis, HL7 v2 DG1): conditions "
        "and procedures, the edge's link giving the role (admission, billing, final ...) and "
        "rank.",
        make=registry.specific(("Condition", "Procedure"), "GenericEvent"),
    )

    conditions = connection(
        "Encounter.conditions", "Condition", "Conditions recorded at the visit."
    )

    procedures = connection(
        "Encounter.procedures", "Procedure", "Procedures performed at the visit."
    )

    patient = to_one("Encounter.patient", "Patient", "The patient.")

    practitioners = connection(
        "Encounter.practitioners",
        "Practitioner",
        "Practitioners who took part; the edge's role says how (attending ...).",
    )

    organization = to_one(
        "Encounter.organization", "Organization", "The organization that provided it."
    )

    location = to_one(
        "Encounter.locations",
        "Location",
        "Where it took place (the first by key when several are recorded; see `locations`).",
    )

    locations = connection("Encounter.locations", "Location", "Every location recorded for it.")

    claims = connection(
        "Encounter.claims",
        "Claim",
        "Claims for it (the edge says which rule linked each, if inferred).",
        window=True,
    )

    imaging_studies = connection(
        "Encounter.imagingStudies", "ImagingStudy", "Imaging studies done for it.", window=True
    )

    appointments = connection(
        "Encounter.appointments", "Appointment", "Appointments that led to it.", window=True
    )

    service_requests = connection(
        "Encounter.serviceRequests", "ServiceRequest", "Orders placed in it.", window=True
    )


registry.register("Encounter", Encounter.from_record)
