"""A location: a ward, a room, a clinic."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry
from caregraph.api.types.address import Address
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import composite, connection, stored, to_one


@strawberry.type(description="A location (FHIR Location).")
class Location(Entity):
    name: str | None = stored()
    phone: str | None = stored()
    address: Address | None = composite(Address)

    encounters = connection("Location.encounters", "Encounter", "Visits held there.", window=True)

    appointments = connection(
        "Location.appointments", "Appointment", "Appointments booked there.", window=True
    )

    organization = to_one(
        "Location.organization", "Organization", "The organization that manages it."
    )


registry.register("Location", Location.from_record)
