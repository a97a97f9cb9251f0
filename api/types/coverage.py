"""A coverage: a patient's insurance with a payer."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import connection, stored, to_one


@strawberry.type(description="Insurance coverage (FHIR Coverage).")
class Coverage(Entity):
    member_id: str | None = stored()
    subscriber_id: str | None = stored()
    plan_name: str | None = stored()
    relationship: str | None = stored(description="The patient's to the subscriber.")
    status: str | None = stored()
    start: datetime | None = stored(values.dt)
    end: datetime | None = stored(values.dt)

    patient = to_one("Coverage.patient", "Patient", "The covered patient.")

    payer = to_one("Coverage.payer", "Payer", "The payer.")

    claims = connection("Coverage.claims", "Claim", "Claims billed to it.", window=True)


registry.register("Coverage", Coverage.from_record)
