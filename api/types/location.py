"""A location: a ward, a room, a clinic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.address import Address
from caregraph.api.types.args import After, First, From, To
from caregraph.api.types.entity import Entity, entity_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.appointment import Appointment
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.organization import Organization


@strawberry.type(description="A location (FHIR Location).")
class Location(Entity):
    name: str | None
    phone: str | None
    address: Address | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Location:
        p = row.node
        return cls(
            **entity_fields(row, link),
            name=values.text(p.get("name")),
            phone=values.text(p.get("phone")),
            address=Address.from_props(p),
        )

    @strawberry.field(description="Visits held there.", metadata={PATH: "Location.encounters"})
    async def encounters(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")]]:
        return await connect(
            info,
            self._handle,
            "Location.encounters",
            registry.mapper("Encounter"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Appointments booked there.", metadata={PATH: "Location.appointments"}
    )
    async def appointments(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Appointment, strawberry.lazy("caregraph.api.types.appointment")]]:
        return await connect(
            info,
            self._handle,
            "Location.appointments",
            registry.mapper("Appointment"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="The organization that manages it.", metadata={PATH: "Location.organization"}
    )
    async def organization(
        self, info: Info[Context, None]
    ) -> Annotated[Organization, strawberry.lazy("caregraph.api.types.organization")] | None:
        return await one(
            info, self._handle, "Location.organization", registry.mapper("Organization")
        )


registry.register("Location", Location.from_record)
