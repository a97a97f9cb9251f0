"""A diagnosis or problem of a patient, with what it means (its Concepts) and the visit."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import codings, stored, to_one


@strawberry.type(
    description="A diagnosis or problem (FHIR Condition, HL7 v2 DG1, Synthea conditions). "
    "`time` is its onset, else when it was recorded."
)
class Condition(Event):
    clinical_status: str | None = stored(description="active | resolved | ...")
    verification_status: str | None = stored(description="confirmed | provisional ...")
    category: list[str] = stored(values.texts, "problem-list-item | encounter-diagnosis")
    onset: datetime | None = stored(values.dt)
    abatement: datetime | None = stored(values.dt)
    recorded_date: datetime | None = stored(values.dt)

    code = codings(
        "Condition.code", "What it is: each coding, with its text from a loaded terminology."
    )

    patient = to_one("Condition.patient", "Patient", "The patient.")

    encounter = to_one("Condition.encounter", "Encounter", "The visit it was recorded at.")


registry.register("Condition", Condition.from_record)
