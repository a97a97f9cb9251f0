"""A remittance: a payer's payment of a claim."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.concept import Coding, codings
from caregraph.api.types.entity import Event, event_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.payer import Payer


@strawberry.type(description="A payment of a claim (X12 835 CLP; FHIR ClaimResponse).")
class Remittance(Event):
    payment_amount: float | None
    payment_date: str | None = strawberry.field(description="YYYY-MM-DD.")
    total_charge: float | None
    patient_responsibility: float | None
    adjustments: list[str] = strawberry.field(description="group-reason:amount, e.g. CO-45:12.00")
    claim_status_code: str | None
    payer_control_number: str | None
    control_number: str | None
    description: str | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Remittance:
        p = row.node
        return cls(
            **event_fields(row, link),
            payment_amount=values.number(p.get("paymentAmount")),
            payment_date=values.day(p.get("paymentDate")),
            total_charge=values.number(p.get("totalCharge")),
            patient_responsibility=values.number(p.get("patientResponsibility")),
            adjustments=values.texts(p.get("adjustments")),
            claim_status_code=values.text(p.get("claimStatusCode")),
            payer_control_number=values.text(p.get("payerControlNumber")),
            control_number=values.text(p.get("controlNumber")),
            description=values.text(p.get("description")),
        )

    @strawberry.field(
        description="Why the payment differs from the charge: each claim adjustment reason "
        "(CARC) with its group (CO, PR, OA, PI) and amount, and its text when loaded.",
        metadata={PATH: "Remittance.adjustmentReasons"},
    )
    async def adjustment_reasons(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Remittance.adjustmentReasons")

    @strawberry.field(
        description="Remittance advice remark codes (RARC: MOA, MIA, LQ).",
        metadata={PATH: "Remittance.remarks"},
    )
    async def remarks(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Remittance.remarks")

    @strawberry.field(description="The claim it pays.", metadata={PATH: "Remittance.claim"})
    async def claim(
        self, info: Info[Context, None]
    ) -> Annotated[Claim, strawberry.lazy("caregraph.api.types.claim")] | None:
        return await one(info, self._handle, "Remittance.claim", registry.mapper("Claim"))

    @strawberry.field(description="The payer that paid.", metadata={PATH: "Remittance.payer"})
    async def payer(
        self, info: Info[Context, None]
    ) -> Annotated[Payer, strawberry.lazy("caregraph.api.types.payer")] | None:
        return await one(info, self._handle, "Remittance.payer", registry.mapper("Payer"))


registry.register("Remittance", Remittance.from_record)
