"""An order (service request): what was asked for, by whom, and the images that answer it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.args import After, First
from caregraph.api.types.entity import Event, event_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.imaging_study import ImagingStudy
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.practitioner import Practitioner


@strawberry.type(description="An order (FHIR ServiceRequest; HL7 ORM/ORU).")
class ServiceRequest(Event):
    start: datetime | None
    procedure_code: str | None
    accession_number: str | None
    placer_order_number: str | None
    filler_order_number: str | None
    reason_code: str | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> ServiceRequest:
        p = row.node
        return cls(
            **event_fields(row, link),
            start=values.dt(p.get("start")),
            procedure_code=values.text(p.get("procedureCode")),
            accession_number=values.text(p.get("accessionNumber")),
            placer_order_number=values.text(p.get("placerOrderNumber")),
            filler_order_number=values.text(p.get("fillerOrderNumber")),
            reason_code=values.text(p.get("reasonCode")),
        )

    @strawberry.field(description="The patient.", metadata={PATH: "ServiceRequest.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "ServiceRequest.patient", registry.mapper("Patient"))

    @strawberry.field(description="The visit.", metadata={PATH: "ServiceRequest.encounter"})
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(
            info, self._handle, "ServiceRequest.encounter", registry.mapper("Encounter")
        )

    @strawberry.field(description="Who ordered it.", metadata={PATH: "ServiceRequest.requester"})
    async def requester(
        self, info: Info[Context, None]
    ) -> Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")] | None:
        return await one(
            info, self._handle, "ServiceRequest.requester", registry.mapper("Practitioner")
        )

    @strawberry.field(
        description="Imaging studies that fulfil it.",
        metadata={PATH: "ServiceRequest.imagingStudies"},
    )
    async def imaging_studies(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[ImagingStudy, strawberry.lazy("caregraph.api.types.imaging_study")]]:
        return await connect(
            info,
            self._handle,
            "ServiceRequest.imagingStudies",
            registry.mapper("ImagingStudy"),
            first=first,
            after=after,
        )


registry.register("ServiceRequest", ServiceRequest.from_record)
