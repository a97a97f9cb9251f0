"""A practitioner, with the visits, appointments, claims and referred images they are on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.address import Address
from caregraph.api.types.args import After, First, From, To
from caregraph.api.types.entity import Entity, entity_fields
from caregraph.api.types.human_name import HumanName
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.appointment import Appointment
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.imaging_study import ImagingStudy
    from caregraph.api.types.organization import Organization


@strawberry.type(description="A practitioner (FHIR Practitioner).")
class Practitioner(Entity):
    npi: str | None = strawberry.field(description="The US National Provider Identifier.")
    name: HumanName | None
    gender: str | None
    specialty: str | None
    address: Address | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Practitioner:
        p = row.node
        return cls(
            **entity_fields(row, link),
            npi=values.text(p.get("npi")),
            name=HumanName.from_props(p),
            gender=values.text(p.get("gender")),
            specialty=values.text(p.get("specialty")),
            address=Address.from_props(p),
        )

    @strawberry.field(
        description="Visits they took part in (edge role: attending, referring ...).",
        metadata={PATH: "Practitioner.encounters"},
    )
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
            "Practitioner.encounters",
            registry.mapper("Encounter"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Appointments they are booked on: their schedule.",
        metadata={PATH: "Practitioner.appointments"},
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
            "Practitioner.appointments",
            registry.mapper("Appointment"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Claims naming them as a provider (edge role: rendering, referring ...).",
        metadata={PATH: "Practitioner.claims"},
    )
    async def claims(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Claim, strawberry.lazy("caregraph.api.types.claim")]]:
        return await connect(
            info,
            self._handle,
            "Practitioner.claims",
            registry.mapper("Claim"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Imaging studies they referred.",
        metadata={PATH: "Practitioner.imagingStudies"},
    )
    async def imaging_studies(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[ImagingStudy, strawberry.lazy("caregraph.api.types.imaging_study")]]:
        return await connect(
            info,
            self._handle,
            "Practitioner.imagingStudies",
            registry.mapper("ImagingStudy"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Organizations they hold a role at.",
        metadata={PATH: "Practitioner.organizations"},
    )
    async def organizations(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Organization, strawberry.lazy("caregraph.api.types.organization")]]:
        return await connect(
            info,
            self._handle,
            "Practitioner.organizations",
            registry.mapper("Organization"),
            first=first,
            after=after,
        )


registry.register("Practitioner", Practitioner.from_record)
