"""An organization: a hospital, a practice, an imaging centre."""

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
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.imaging_study import ImagingStudy
    from caregraph.api.types.location import Location
    from caregraph.api.types.practitioner import Practitioner


@strawberry.type(description="An organization (FHIR Organization).")
class Organization(Entity):
    npi: str | None = strawberry.field(description="The US National Provider Identifier.")
    name: str | None
    org_type: str | None
    phone: str | None
    address: Address | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Organization:
        p = row.node
        return cls(
            **entity_fields(row, link),
            npi=values.text(p.get("npi")),
            name=values.text(p.get("name")),
            org_type=values.text(p.get("orgType")),
            phone=values.text(p.get("phone")),
            address=Address.from_props(p),
        )

    @strawberry.field(description="Visits it provided.", metadata={PATH: "Organization.encounters"})
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
            "Organization.encounters",
            registry.mapper("Encounter"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Imaging studies performed there.",
        metadata={PATH: "Organization.imagingStudies"},
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
            "Organization.imagingStudies",
            registry.mapper("ImagingStudy"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Claims naming it as a provider (edge role: billing ...).",
        metadata={PATH: "Organization.claims"},
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
            "Organization.claims",
            registry.mapper("Claim"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Practitioners with a role there.",
        metadata={PATH: "Organization.practitioners"},
    )
    async def practitioners(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")]]:
        return await connect(
            info,
            self._handle,
            "Organization.practitioners",
            registry.mapper("Practitioner"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Locations it manages.", metadata={PATH: "Organization.locations"}
    )
    async def locations(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Location, strawberry.lazy("caregraph.api.types.location")]]:
        return await connect(
            info,
            self._handle,
            "Organization.locations",
            registry.mapper("Location"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="The organization it is part of.", metadata={PATH: "Organization.partOf"}
    )
    async def part_of(self, info: Info[Context, None]) -> Organization | None:
        return await one(info, self._handle, "Organization.partOf", registry.mapper("Organization"))


registry.register("Organization", Organization.from_record)
