"""An appointment: a booked visit, with who and where."""

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
    from caregraph.api.types.location import Location
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.practitioner import Practitioner


@strawberry.type(description="An appointment (FHIR Appointment; HL7 SIU).")
class Appointment(Event):
    start: datetime | None
    end: datetime | None
    minutes_duration: int | None
    service_type: str | None = strawberry.field(description="A code, as system|code.")
    reason_code: str | None
    description: str | None
    cancel_reason: str | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Appointment:
        p = row.node
        return cls(
            **event_fields(row, link),
            start=values.dt(p.get("start")),
            end=values.dt(p.get("end")),
            minutes_duration=values.integer(p.get("minutesDuration")),
            service_type=values.text(p.get("serviceType")),
            reason_code=values.text(p.get("reasonCode")),
            description=values.text(p.get("description")),
            cancel_reason=values.text(p.get("cancelReason")),
        )

    @strawberry.field(description="The patient.", metadata={PATH: "Appointment.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Appointment.patient", registry.mapper("Patient"))

    @strawberry.field(
        description="Practitioners booked on it (edge role).",
        metadata={PATH: "Appointment.practitioners"},
    )
    async def practitioners(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")]]:
        return await connect(
            info,
            self._handle,
            "Appointment.practitioners",
            registry.mapper("Practitioner"),
            first=first,
            after=after,
        )

    @strawberry.field(description="Where it is booked.", metadata={PATH: "Appointment.locations"})
    async def locations(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Location, strawberry.lazy("caregraph.api.types.location")]]:
        return await connect(
            info,
            self._handle,
            "Appointment.locations",
            registry.mapper("Location"),
            first=first,
            after=after,
        )

    @strawberry.field(
        description="The visit it led to (`link.rule` says how it was matched).",
        metadata={PATH: "Appointment.encounter"},
    )
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(info, self._handle, "Appointment.encounter", registry.mapper("Encounter"))


registry.register("Appointment", Appointment.from_record)
