"""A claim, with its items, payments, providers, payer, visit and patient."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import codings, connection, stored, to_one
from caregraph.api.types.provider import Provider


@strawberry.type(description="A claim (X12 837; FHIR Claim).")
class Claim(Event):
    control_number: str | None = stored(description="Claim control number (CLM01).")
    submitter: str | None = stored(description="Who assigned the control number.")
    claim_type: str | None = stored()
    use: str | None = stored()
    service_start: str | None = stored(values.day, "YYYY-MM-DD.")
    service_end: str | None = stored(values.day)
    total_charge: float | None = stored(values.number)
    currency: str | None = stored()
    diagnosis_codes: list[str] = stored(values.texts)

    diagnoses = codings(
        "Claim.diagnoses",
        "The diagnoses it bills (X12 HI, FHIR Claim.diagnosis), each with its role "
        "(principal, admitting, other ...) and rank, and its text from a loaded terminology.",
    )

    items = connection("Claim.items", "ClaimItem", "Its lines, by sequence.")

    remittances = connection(
        "Claim.remittances", "Remittance", "Payments of it (X12 835), by date.", window=True
    )

    providers = connection(
        "Claim.providers",
        Provider,
        "Providers on it; the edge's role says which (billing, rendering ...).",
        make=registry.specific(("Practitioner", "Organization"), "Organization"),
    )

    payer = to_one("Claim.payer", "Payer", "The payer billed.")

    coverage = to_one("Claim.coverage", "Coverage", "The coverage billed.")

    encounter = to_one(
        "Claim.encounter",
        "Encounter",
        "The visit it bills (`link.rule` says how it was matched, if inferred).",
    )

    patient = to_one("Claim.patient", "Patient", "The patient.")


registry.register("Claim", Claim.from_record)
