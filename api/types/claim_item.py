"""A line of a claim."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import codings, stored, to_one


@strawberry.type(description="A line of a claim (X12 2400 loop; FHIR Claim.item).")
class ClaimItem(Entity):
    sequence: int | None = stored(values.integer)
    procedure_code: str | None = stored(description="A code, as system|code.")
    quantity: float | None = stored(values.number)
    charge_amount: float | None = stored(values.number)
    service_start: str | None = stored(values.day)
    service_end: str | None = stored(values.day)
    diagnosis_codes: list[str] = stored(values.texts)

    code = codings(
        "ClaimItem.code",
        "What was done (SV101, SV202, productOrService), with its text from a loaded terminology.",
    )

    diagnoses = codings(
        "ClaimItem.diagnoses",
        "The claim's diagnoses the line points at (SV107, diagnosisSequence).",
    )

    claim = to_one("ClaimItem.claim", "Claim", "The claim.")


registry.register("ClaimItem", ClaimItem.from_record)
