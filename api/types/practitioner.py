"""A practitioner, with the visits, appointments, claims and referred images they are on."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry
from caregraph.api.types.address import Address
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import composite, connection, stored
from caregraph.api.types.human_name import HumanName


@strawberry.type(description="A practitioner (FHIR Practitioner).")
class Practitioner(Entity):
    npi: str | None = stored(description="The US National Provider Identifier.")
    name: HumanName | None = composite(HumanName)
    gender: str | None = stored()
    specialty: str | None = stored()
    address: Address | None = composite(Address)

    encounters = connection(
        "Practitioner.encounters",
        "Encounter",
        "Visits they took part in (edge role: attending, referring ...).",
        window=True,
    )

    appointments = connection(
        "Practitioner.appointments",
        "Appointment",
        "Appointments they are booked on: their schedule.",
        window=True,
    )

    claims = connection(
        "Practitioner.claims",
        "Claim",
        "Claims naming them as a provider (edge role: rendering, referring ...).",
        window=True,
    )

    imaging_studies = connection(
        "Practitioner.imagingStudies", "ImagingStudy", "Imaging studies they referred.", window=True
    )

    organizations = connection(
        "Practitioner.organizations", "Organization", "Organizations they hold a role at."
    )


registry.register("Practitioner", Practitioner.from_record)
