"""A remittance: a payer's payment of a claim."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import codings, stored, to_one


@strawberry.type(description="A payment of a claim (X12 835 CLP; FHIR ClaimResponse).")
class Remittance(Event):
    payment_amount: float | None = stored(values.number)
    payment_date: str | None = stored(values.day, "YYYY-MM-DD.")
    total_charge: float | None = stored(values.number)
    patient_responsibility: float | None = stored(values.number)
    adjustments: list[str] = stored(values.texts, "group-reason:amount, e.g. CO-45:12.00")
    claim_status_code: str | None = stored()
    payer_control_number: str | None = stored()
    control_number: str | None = stored()
    description: str | None = stored()

    adjustment_reasons = codings(
        "Remittance.adjustmentReasons",
        "Why the payment differs from the charge: each claim adjustment reason "
        "(CARC) with its group (CO, PR, OA, PI) and amount, and its text when loaded.",
    )

    remarks = codings("Remittance.remarks", "Remittance advice remark codes (RARC: MOA, MIA, LQ).")

    claim = to_one("Remittance.claim", "Claim", "The claim it pays.")

    payer = to_one("Remittance.payer", "Payer", "The payer that paid.")


registry.register("Remittance", Remittance.from_record)
