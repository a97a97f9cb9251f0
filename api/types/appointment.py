"""An appointment: a booked visit, with who and where."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import connection, stored, to_one


@strawberry.type(description="An appointment (FHIR Appointment; HL7 SIU).")
class Appointment(Event):
    start: datetime | None = stored(values.dt)
    end: datetime | None = stored(values.dt)
    minutes_duration: int | None = stored(values.integer)
    service_type: str | None = stored(description="A code, as system|code.")
    reason_code: str | None = stored()
    description: str | None = stored()
    cancel_reason: str | None = stored()

    patient = to_one("Appointment.patient", "Patient", "The patient.")

    practitioners = connection(
        "Appointment.practitioners", "Practitioner", "Practitioners booked on it (edge role)."
    )

    locations = connection("Appointment.locations", "Location", "Where it is booked.")

    encounter = to_one(
        "Appointment.encounter",
        "Encounter",
        "The visit it led to (`link.rule` says how it was matched).",
    )


registry.register("Appointment", Appointment.from_record)
