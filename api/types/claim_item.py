"""A line of a claim."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.concept import Coding, codings
from caregraph.api.types.entity import Entity, entity_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.claim import Claim


@strawberry.type(description="A line of a claim (X12 2400 loop; FHIR Claim.item).")
class ClaimItem(Entity):
    sequence: int | None
    procedure_code: str | None = strawberry.field(description="A code, as system|code.")
    quantity: float | None
    charge_amount: float | None
    service_start: str | None
    service_end: str | None
    diagnosis_codes: list[str]

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> ClaimItem:
        p = row.node
        return cls(
            **entity_fields(row, link),
            sequence=values.integer(p.get("sequence")),
            procedure_code=values.text(p.get("procedureCode")),
            quantity=values.number(p.get("quantity")),
            charge_amount=values.number(p.get("chargeAmount")),
            service_start=values.day(p.get("serviceStart")),
            service_end=values.day(p.get("serviceEnd")),
            diagnosis_codes=values.texts(p.get("diagnosisCodes")),
        )

    @strawberry.field(
        description="What was done (SV101, SV202, productOrService), with its text from a "
        "loaded terminology.",
        metadata={PATH: "ClaimItem.code"},
    )
    async def code(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "ClaimItem.code")

    @strawberry.field(
        description="The claim's diagnoses the line points at (SV107, diagnosisSequence).",
        metadata={PATH: "ClaimItem.diagnoses"},
    )
    async def diagnoses(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "ClaimItem.diagnoses")

    @strawberry.field(description="The claim.", metadata={PATH: "ClaimItem.claim"})
    async def claim(
        self, info: Info[Context, None]
    ) -> Annotated[Claim, strawberry.lazy("caregraph.api.types.claim")] | None:
        return await one(info, self._handle, "ClaimItem.claim", registry.mapper("Claim"))


registry.register("ClaimItem", ClaimItem.from_record)
