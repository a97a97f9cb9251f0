"""A patient, with the visits, appointments, images, claims and coverage around them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api import paths
from caregraph.api.connections import PATH, Connection, connect
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.address import Address
from caregraph.api.types.args import After, First, From, To, UnderCode
from caregraph.api.types.entity import Entity, Event, entity_fields
from caregraph.api.types.human_name import HumanName
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row
from caregraph.ontology.vocab import CG

if TYPE_CHECKING:
    from caregraph.api.types.appointment import Appointment
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.condition import Condition
    from caregraph.api.types.coverage import Coverage
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.imaging_study import ImagingStudy
    from caregraph.api.types.procedure import Procedure
    from caregraph.api.types.service_request import ServiceRequest

EVENT_TYPES = (
    "Encounter",
    "Appointment",
    "ImagingStudy",
    "ServiceRequest",
    "Claim",
    "Remittance",
    "Condition",
    "Procedure",
)


@strawberry.type(description="A patient (FHIR Patient).")
class Patient(Entity):
    name: HumanName | None
    birth_date: str | None = strawberry.field(description="YYYY-MM-DD (or YYYY, YYYY-MM).")
    gender: str | None = strawberry.field(description="male | female | other | unknown")
    deceased: bool | None
    address: Address | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Patient:
        p = row.node
        return cls(
            **entity_fields(row, link),
            name=HumanName.from_props(p),
            birth_date=values.day(p.get("birthDate")),
            gender=values.text(p.get("gender")),
            deceased=p.get("deceased") if isinstance(p.get("deceased"), bool) else None,
            address=Address.from_props(p),
        )

    @strawberry.field(description="Visits, oldest first.", metadata={PATH: "Patient.encounters"})
    async def encounters(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
        under_code: UnderCode = None,
    ) -> Connection[Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")]]:
        return await connect(
            info, self._handle, "Patient.encounters", registry.mapper("Encounter"),
            first=first, after=after, start=from_, end=to, under=under_code,
        )  # fmt: skip

    @strawberry.field(
        description="Appointments, earliest first.", metadata={PATH: "Patient.appointments"}
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
            info, self._handle, "Patient.appointments", registry.mapper("Appointment"),
            first=first, after=after, start=from_, end=to,
        )  # fmt: skip

    @strawberry.field(
        description="Imaging studies, oldest first.", metadata={PATH: "Patient.imagingStudies"}
    )
    async def imaging_studies(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
        under_code: UnderCode = None,
    ) -> Connection[Annotated[ImagingStudy, strawberry.lazy("caregraph.api.types.imaging_study")]]:
        return await connect(
            info, self._handle, "Patient.imagingStudies", registry.mapper("ImagingStudy"),
            first=first, after=after, start=from_, end=to, under=under_code,
        )  # fmt: skip

    @strawberry.field(
        description="Claims, by service date, oldest first.", metadata={PATH: "Patient.claims"}
    )
    async def claims(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
        under_code: UnderCode = None,
    ) -> Connection[Annotated[Claim, strawberry.lazy("caregraph.api.types.claim")]]:
        return await connect(
            info, self._handle, "Patient.claims", registry.mapper("Claim"),
            first=first, after=after, start=from_, end=to, under=under_code,
        )  # fmt: skip

    @strawberry.field(
        description="Insurance coverages, by start.", metadata={PATH: "Patient.coverages"}
    )
    async def coverages(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Annotated[Coverage, strawberry.lazy("caregraph.api.types.coverage")]]:
        return await connect(
            info, self._handle, "Patient.coverages", registry.mapper("Coverage"),
            first=first, after=after, start=from_, end=to,
        )  # fmt: skip

    @strawberry.field(
        description="Orders (service requests), oldest first.",
        metadata={PATH: "Patient.serviceRequests"},
    )
    async def service_requests(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[
        Annotated[ServiceRequest, strawberry.lazy("caregraph.api.types.service_request")]
    ]:
        return await connect(
            info, self._handle, "Patient.serviceRequests", registry.mapper("ServiceRequest"),
            first=first, after=after, start=from_, end=to,
        )  # fmt: skip

    @strawberry.field(
        description="Diagnoses and problems, by onset (else when recorded), oldest first.",
        metadata={PATH: "Patient.conditions"},
    )
    async def conditions(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
        under_code: UnderCode = None,
    ) -> Connection[Annotated[Condition, strawberry.lazy("caregraph.api.types.condition")]]:
        return await connect(
            info, self._handle, "Patient.conditions", registry.mapper("Condition"),
            first=first, after=after, start=from_, end=to, under=under_code,
        )  # fmt: skip

    @strawberry.field(
        description="Procedures performed, oldest first.", metadata={PATH: "Patient.procedures"}
    )
    async def procedures(
        self,
        info: Info[Context, None],
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
        under_code: UnderCode = None,
    ) -> Connection[Annotated[Procedure, strawberry.lazy("caregraph.api.types.procedure")]]:
        return await connect(
            info, self._handle, "Patient.procedures", registry.mapper("Procedure"),
            first=first, after=after, start=from_, end=to, under=under_code,
        )  # fmt: skip

    @strawberry.field(
        description="Events of any kind, found through the ontology: `kind` is an event class "
        "(Event, ClinicalEvent, FinancialEvent, SchedulingEvent, Encounter ...) by name or "
        "label, and every subclass of it counts. One timeline, oldest first, each event once.",
        metadata={PATH: "events"},
    )
    async def events(
        self,
        info: Info[Context, None],
        kind: str = "Event",
        first: First = None,
        after: After = None,
        from_: From = None,
        to: To = None,
    ) -> Connection[Event]:
        path = paths.events(CG.Patient, paths.event_kind(kind))
        return await connect(
            info, self._handle, path, registry.specific(EVENT_TYPES, "GenericEvent"),
            first=first, after=after, start=from_, end=to,
        )  # fmt: skip


registry.register("Patient", Patient.from_record)
