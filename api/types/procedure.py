"""A procedure performed on a patient, with what it was (its Concepts), why, who and when."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, Connection, connect, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.args import After, First
from caregraph.api.types.concept import Coding, codings
from caregraph.api.types.entity import Event, event_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.patient import Patient
    from caregraph.api.types.practitioner import Practitioner


@strawberry.type(description="A procedure performed (FHIR Procedure, HL7 v2 PR1, Synthea).")
class Procedure(Event):
    start: datetime | None
    end: datetime | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Procedure:
        p = row.node
        return cls(
            **event_fields(row, link),
            start=values.dt(p.get("start")),
            end=values.dt(p.get("end")),
        )

    @strawberry.field(
        description="What was done: each coding, with its text from a loaded terminology.",
        metadata={PATH: "Procedure.code"},
    )
    async def code(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Procedure.code")

    @strawberry.field(description="Why it was done.", metadata={PATH: "Procedure.reasons"})
    async def reasons(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Procedure.reasons")

    @strawberry.field(description="The patient.", metadata={PATH: "Procedure.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Procedure.patient", registry.mapper("Patient"))

    @strawberry.field(description="The visit.", metadata={PATH: "Procedure.encounter"})
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(info, self._handle, "Procedure.encounter", registry.mapper("Encounter"))

    @strawberry.field(
        description="Who performed it; the edge's role says how.",
        metadata={PATH: "Procedure.performers"},
    )
    async def performers(
        self, info: Info[Context, None], first: First = None, after: After = None
    ) -> Connection[Annotated[Practitioner, strawberry.lazy("caregraph.api.types.practitioner")]]:
        return await connect(
            info,
            self._handle,
            "Procedure.performers",
            registry.mapper("Practitioner"),
            first=first,
            after=after,
        )


registry.register("Procedure", Procedure.from_record)
