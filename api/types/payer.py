"""A payer: an insurer that covers patients and pays claims."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry
from caregraph.api.types.address import Address
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import composite, connection, stored


@strawberry.type(description="A payer (FHIR Organization of type payer; X12 payer).")
class Payer(Entity):
    name: str | None = stored()
    payer_id: str | None = stored()
    address: Address | None = composite(Address)

    claims = connection("Payer.claims", "Claim", "Claims sent to it.", window=True)

    coverages = connection("Payer.coverages", "Coverage", "Coverages it provides.", window=True)

    remittances = connection("Payer.remittances", "Remittance", "Payments it made.", window=True)


registry.register("Payer", Payer.from_record)
