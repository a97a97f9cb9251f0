"""An organization: a hospital, a practice, an imaging centre."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry
from caregraph.api.types.address import Address
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import composite, connection, stored, to_one


@strawberry.type(description="An organization (FHIR Organization).")
class Organization(Entity):
    npi: str | None = stored(description="The US National Provider Identifier.")
    name: str | None = stored()
    org_type: str | None = stored()
    phone: str | None = stored()
    address: Address | None = composite(Address)

    encounters = connection(
        "Organization.encounters", "Encounter", "Visits it provided.", window=True
    )

    imaging_studies = connection(
        "Organization.imagingStudies",
        "ImagingStudy",
        "Imaging studies performed there.",
        window=True,
    )

    claims = connection(
        "Organization.claims",
        "Claim",
        "Claims naming it as a provider (edge role: billing ...).",
        window=True,
    )

    practitioners = connection(
        "Organization.practitioners", "Practitioner", "Practitioners with a role there."
    )

    locations = connection("Organization.locations", "Location", "Locations it manages.")

    part_of = to_one("Organization.partOf", "Organization", "The organization it is part of.")


registry.register("Organization", Organization.from_record)
