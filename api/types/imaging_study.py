"""An imaging study, with its series, its visit, its referrer and its patient."""

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
    from caregraph.api.types.imaging_series import ImagingSeries
    from caregraph.api.types.organization import Organization
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.practitioner import Practitioner
    from caregraph.api.types.service_request import ServiceRequest


@strawberry.type(description="An imaging study (DICOM study; FHIR ImagingStudy).")
class ImagingStudy(Event):
    study_instance_uid: str | None = strawberry.field(description="Bare, without urn:oid:.")
    start: datetime | None
    modality: list[str] = strawberry.field(description="DICOM modality codes (CT, MR ...).")
    description: str | None
    accession_number: str | None
    procedure_code: str | None
    body_site: str | None
    number_of_series: int | None
    number_of_instances: int | None
    referring_physician_name: str | None = strawberry.field(
        description="The referrer's name as DICOM gives it (FAMILY^GIVEN); see `referrer`."
    )

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> ImagingStudy:
        p = row.node
        return cls(
            **event_fields(row, link),
            study_instance_uid=values.text(p.get("studyInstanceUid")),
            start=values.dt(p.get("start")),
            modality=values.texts(p.get("modality")),
            description=values.text(p.get("description")),
            accession_number=values.text(p.get("accessionNumber")),
            procedure_code=values.text(p.get("procedureCode")),
            body_site=values.text(p.get("bodySite")),
            number_of_series=values.integer(p.get("numberOfSeries")),
            number_of_instances=values.integer(p.get("numberOfInstances")),
            referring_physician_name=values.text(p.get("referringPhysicianName")),
        )

    @strawberry.field(
        description="Its series, by series number.", metadata={PATH: "ImagingStudy.series"}
    )
    async def series(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[
        Annotated[ImagingSeries, strawberry.lazy("caregraph.api.types.imaging_series")]
    ]:
        return await connect(
            info,
            self._handle,
            "ImagingStudy.series",
            registry.mapper("ImagingSeries"),
            first=first,
            after=after,
        )

    @strawberry.field(description="The patient.", metadata={PATH: "ImagingStudy.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "ImagingStudy.patient", registry.mapper("Patient"))

    @strawberry.field(
        description="The visit it belongs to (`link.rule` says how it was matched).",
        metadata={PATH: "ImagingStudy.encounter"},
    )
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(info, self._handle, "ImagingStudy.encounter", registry.mapper("Encounter"))

    @strawberry.field(
        description="The referring practitioner (`link.rule` says how the name was matched).",
        metadata={PATH: "ImagingStudy.referrer"},
    )
    async def referrer(
        self, info: Info[Context, None]
    ) -> Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")] | None:
        return await one(
            info, self._handle, "ImagingStudy.referrer", registry.mapper("Practitioner")
        )

    @strawberry.field(
        description="The institution that performed it.",
        metadata={PATH: "ImagingStudy.performedAt"},
    )
    async def performed_at(
        self, info: Info[Context, None]
    ) -> Annotated[Organization, strawberry.lazy("caregraph.api.types.organization")] | None:
        return await one(
            info, self._handle, "ImagingStudy.performedAt", registry.mapper("Organization")
        )

    @strawberry.field(description="The order it fulfils.", metadata={PATH: "ImagingStudy.basedOn"})
    async def based_on(
        self, info: Info[Context, None]
    ) -> Annotated[ServiceRequest, strawberry.lazy("caregraph.api.types.service_request")] | None:
        return await one(
            info, self._handle, "ImagingStudy.basedOn", registry.mapper("ServiceRequest")
        )


registry.register("ImagingStudy", ImagingStudy.from_record)
