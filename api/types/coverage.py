"""A coverage: a patient's insurance with a payer."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.args import After, First, From, To
from caregraph.api.types.entity import Entity, entity_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.payer import Payer


@strawberry.type(description="Insurance coverage (FHIR Coverage).")
class Coverage(Entity):
    member_id: str | None
    subscriber_id: str | None
    plan_name: str | None
    relationship: str | None = strawberry.field(description="The patient's to the subscriber.")
    status: str | None
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Coverage:
        p = row.node
        return cls(
            **entity_fields(row, link),
            member_id=values.text(p.get("memberId")),
            subscriber_id=values.text(p.get("subscriberId")),
            plan_name=values.text(p.get("planName")),
            relationship=values.text(p.get("relationship")),
            status=values.text(p.get("status")),
            start=values.dt(p.get("start")),
            end=values.dt(p.get("end")),
        )

    @strawberry.field(description="The covered patient.", metadata={PATH: "Coverage.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Coverage.patient", registry.mapper("Patient"))

    @strawberry.field(description="The payer.", metadata={PATH: "Coverage.payer"})
    async def payer(
        self, info: Info[Context, None]
    ) -> Annotated[Payer, strawberry.lazy("caregraph.api.types.payer")] | None:
        return await one(info, self._handle, "Coverage.payer", registry.mapper("Payer"))

    @strawberry.field(description="Claims billed to it.", metadata={PATH: "Coverage.claims"})
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
            "Coverage.claims",
            registry.mapper("Claim"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )


registry.register("Coverage", Coverage.from_record)
