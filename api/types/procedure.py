"""A procedure performed on a patient, with what it was (its Concepts), why, who and when."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import codings, connection, stored, to_one


@strawberry.type(description="A procedure performed (FHIR Procedure, HL7 v2 PR1, Synthea).")
class Procedure(Event):
    start: datetime | None = stored(values.dt)
    end: datetime | None = stored(values.dt)

    code = codings(
        "Procedure.code", "What was done: each coding, with its text from a loaded terminology."
    )

    reasons = codings("Procedure.reasons", "Why it was done.")

    patient = to_one("Procedure.patient", "Patient", "The patient.")

    encounter = to_one("Procedure.encounter", "Encounter", "The visit.")

    performers = connection(
        "Procedure.performers", "Practitioner", "Who performed it; the edge's role says how."
    )


registry.register("Procedure", Procedure.from_record)
