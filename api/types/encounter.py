"""An encounter (a visit), with who was there, where, and what was billed and imaged."""

from __future__ import annotations

from datetime import datetime
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
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.appointment import Appointment
    from caregraph.api.types.claim import Claim
    from caregraph.api.types.condition import Condition
    from caregraph.api.types.imaging_study import ImagingStudy
    from caregraph.api.types.location import Location
    from caregraph.api.types.organization import Organization
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.practitioner import Practitioner
    from caregraph.api.types.procedure import Procedure
    from caregraph.api.types.service_request import ServiceRequest


@strawberry.type(description="A visit (FHIR Encounter).")
class Encounter(Event):
    start: datetime | None
    end: datetime | None
    encounter_class: str | None = strawberry.field(description="v3 ActCode: AMB, IMP, EMER ...")
    encounter_type: str | None = strawberry.field(description="A code, as system|code.")
    reason_code: str | None = strawberry.field(description="A code, as system|code.")
    description: str | None
    visit_number: str | None
    diagnosis_codes: list[str]

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Encounter:
        p = row.node
        return cls(
            **event_fields(row, link),
            start=values.dt(p.get("start")),
            end=values.dt(p.get("end")),
            encounter_class=values.text(p.get("encounterClass")),
            encounter_type=values.text(p.get("encounterType")),
            reason_code=values.text(p.get("reasonCode")),
            description=values.text(p.get("description")),
            visit_number=values.text(p.get("visitNumber")),
            diagnosis_codes=values.texts(p.get("diagnosisCodes")),
        )

    @strawberry.field(
        description="Why the visit took place: each coding, with its text from a loaded "
        "terminology (`reasonCode` is the first of them as system|code).",
        metadata={PATH: "Encounter.reasons"},
    )
    async def reasons(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Encounter.reasons")

    @strawberry.field(
        description="The visit's diagnoses (FHIR Encounter.diagnosis, HL7 v2 DG1): conditions "
        "and procedures, the edge's link giving the role (admission, billing, final ...) and "
        "rank.",
        metadata={PATH: "Encounter.diagnoses"},
    )
    async def diagnoses(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Event]:
        return await connect(
            info,
            self._handle,
            "Encounter.diagnoses",
            registry.specific(("Condition", "Procedure"), "GenericEvent"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Conditions recorded at the visit.", metadata={PATH: "Encounter.conditions"}
    )
    async def conditions(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Condition, strawberry.lazy("caregraph.api.types.condition")]]:
        return await connect(
            info,
            self._handle,
            "Encounter.conditions",
            registry.mapper("Condition"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Procedures performed at the visit.", metadata={PATH: "Encounter.procedures"}
    )
    async def procedures(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Procedure, strawberry.lazy("caregraph.api.types.procedure")]]:
        return await connect(
            info,
            self._handle,
            "Encounter.procedures",
            registry.mapper("Procedure"),
            first=first,
            after=after,
        )

    @strawberry.field(description="The patient.", metadata={PATH: "Encounter.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Encounter.patient", registry.mapper("Patient"))

    @strawberry.field(
        description="Practitioners who took part; the edge's role says how (attending ...).",
        metadata={PATH: "Encounter.practitioners"},
    )
    async def practitioners(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")]]:
        return await connect(
            info,
            self._handle,
            "Encounter.practitioners",
            registry.mapper("Practitioner"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="The organization that provided it.",
        metadata={PATH: "Encounter.organization"},
    )
    async def organization(
        self, info: Info[Context, None]
    ) -> Annotated[Organization, strawberry.lazy("caregraph.api.types.organization")] | None:
        return await one(
            info, self._handle, "Encounter.organization", registry.mapper("Organization")
        )

    @strawberry.field(
        description="Where it took place (the first by key when several are recorded; see "
        "`locations`).",
        metadata={PATH: "Encounter.locations"},
    )
    async def location(
        self, info: Info[Context, None]
    ) -> Annotated[Location, strawberry.lazy("caregraph.api.types.location")] | None:
        return await one(info, self._handle, "Encounter.locations", registry.mapper("Location"))

    @strawberry.field(
        description="Every location recorded for it.", metadata={PATH: "Encounter.locations"}
    )
    async def locations(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Location, strawberry.lazy("caregraph.api.types.location")]]:
        return await connect(
            info,
            self._handle,
            "Encounter.locations",
            registry.mapper("Location"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Claims for it (the edge says which rule linked each, if inferred).",
        metadata={PATH: "Encounter.claims"},
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
            "Encounter.claims",
            registry.mapper("Claim"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Imaging studies done for it.", metadata={PATH: "Encounter.imagingStudies"}
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
            "Encounter.imagingStudies",
            registry.mapper("ImagingStudy"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Appointments that led to it.", metadata={PATH: "Encounter.appointments"}
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
            "Encounter.appointments",
            registry.mapper("Appointment"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )

    @strawberry.field(
        description="Orders placed in it.", metadata={PATH: "Encounter.serviceRequests"}
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
            info,
            self._handle,
            "Encounter.serviceRequests",
            registry.mapper("ServiceRequest"),
            first=first,
            after=after,
            start=from_,
            end=to,
        )


registry.register("Encounter", Encounter.from_record)
