"""A payer: an insurer that covers patients and pays claims."""

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
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.coverage import Coverage
    from caregraph.api.types.remittance import Remittance


@strawberry.type(description="A payer (FHIR Organization of type payer; X12 payer).")
class Payer(Entity):
    name: str | None
    payer_id: str | None
    address: Address | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Payer:
        p = row.node
        return cls(
            **entity_fields(row, link),
            name=values.text(p.get("name")),
            payer_id=values.text(p.get("payerId")),
            address=Address.from_props(p),
        )

    @strawberry.field(description="Claims sent to it.", metadata={PATH: "Payer.claims"})
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
            "Payer.claims",
            registry.mapper("Claim"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(description="Coverages it provides.", metadata={PATH: "Payer.coverages"})
    async def coverages(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Coverage, strawberry.lazy("caregraph.api.types.coverage")]]:
        return await connect(
            info,
            self._handle,
            "Payer.coverages",
            registry.mapper("Coverage"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(description="Payments it made.", metadata={PATH: "Payer.remittances"})
    async def remittances(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Remittance, strawberry.lazy("caregraph.api.types.remittance")]]:
        return await connect(
            info,
            self._handle,
            "Payer.remittances",
            registry.mapper("Remittance"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )


registry.register("Payer", Payer.from_record)
