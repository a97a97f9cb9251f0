"""A claim, with its items, payments, providers, payer, visit and patient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.args import After, First, From, To
from caregraph.api.types.concept import Coding, codings
from caregraph.api.types.entity import Event, event_fields
from caregraph.api.types.link import LinkData
from caregraph.api.types.provider import Provider
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.claim_item import ClaimItem
    from caregraph.api.types.coverage import Coverage
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.payer import Payer
    from caregraph.api.types.remittance import Remittance


@strawberry.type(description="A claim (X12 837; FHIR Claim).")
class Claim(Event):
    control_number: str | None = strawberry.field(description="Claim control number (CLM01).")
    submitter: str | None = strawberry.field(description="Who assigned the control number.")
    claim_type: str | None
    use: str | None
    service_start: str | None = strawberry.field(description="YYYY-MM-DD.")
    service_end: str | None
    total_charge: float | None
    currency: str | None
    diagnosis_codes: list[str]

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Claim:
        p = row.node
        return cls(
            **event_fields(row, link),
            control_number=values.text(p.get("controlNumber")),
            submitter=values.text(p.get("submitter")),
            claim_type=values.text(p.get("claimType")),
            use=values.text(p.get("use")),
            service_start=values.day(p.get("serviceStart")),
            service_end=values.day(p.get("serviceEnd")),
            total_charge=values.number(p.get("totalCharge")),
            currency=values.text(p.get("currency")),
            diagnosis_codes=values.texts(p.get("diagnosisCodes")),
        )

    @strawberry.field(
        description="The diagnoses it bills (X12 HI, FHIR Claim.diagnosis), each with its role "
        "(principal, admitting, other ...) and rank, and its text from a loaded terminology.",
        metadata={PATH: "Claim.diagnoses"},
    )
    async def diagnoses(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Claim.diagnoses")

    @strawberry.field(description="Its lines, by sequence.", metadata={PATH: "Claim.items"})
    async def items(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[ClaimItem, strawberry.lazy("caregraph.api.types.claim_item")]]:
        return await connect(
            info,
            self._handle,
            "Claim.items",
            registry.mapper("ClaimItem"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Payments of it (X12 835), by date.", metadata={PATH: "Claim.remittances"}
    )
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
            "Claim.remittances",
            registry.mapper("Remittance"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Providers on it; the edge's role says which (billing, rendering ...).",
        metadata={PATH: "Claim.providers"},
    )
    async def providers(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Provider]:
        return await connect(
            info,
            self._handle,
            "Claim.providers",
            registry.specific(("Practitioner", "Organization"), "Organization"),
            first=first,
            after=after,
        )

    @strawberry.field(description="The payer billed.", metadata={PATH: "Claim.payer"})
    async def payer(
        self, info: Info[Context, None]
    ) -> Annotated[Payer, strawberry.lazy("caregraph.api.types.payer")] | None:
        return await one(info, self._handle, "Claim.payer", registry.mapper("Payer"))

    @strawberry.field(description="The coverage billed.", metadata={PATH: "Claim.coverage"})
    async def coverage(
        self, info: Info[Context, None]
    ) -> Annotated[Coverage, strawberry.lazy("caregraph.api.types.coverage")] | None:
        return await one(info, self._handle, "Claim.coverage", registry.mapper("Coverage"))

    @strawberry.field(
        description="The visit it bills (`link.rule` says how it was matched, if inferred).",
        metadata={PATH: "Claim.encounter"},
    )
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(info, self._handle, "Claim.encounter", registry.mapper("Encounter"))

    @strawberry.field(description="The patient.", metadata={PATH: "Claim.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Claim.patient", registry.mapper("Patient"))


registry.register("Claim", Claim.from_record)
