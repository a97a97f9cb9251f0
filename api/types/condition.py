"""A diagnosis or problem of a patient, with what it means (its Concepts) and the visit."""

from __future__ import annotations

from datetime import datetime
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
    from caregraph.api.types.encounter import Encounter
    from caregraph.api.types.patient import Patient


@strawberry.type(
    description="A diagnosis or problem (FHIR Condition, HL7 v2 DG1, Synthea conditions). "
    "`time` is its onset, else when it was recorded."
)
class Condition(Event):
    clinical_status: str | None = strawberry.field(description="active | resolved | ...")
    verification_status: str | None = strawberry.field(description="confirmed | provisional ...")
    category: list[str] = strawberry.field(description="problem-list-item | encounter-diagnosis")
    onset: datetime | None
    abatement: datetime | None
    recorded_date: datetime | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Condition:
        p = row.node
        return cls(
            **event_fields(row, link),
            clinical_status=values.text(p.get("clinicalStatus")),
            verification_status=values.text(p.get("verificationStatus")),
            category=values.texts(p.get("category")),
            onset=values.dt(p.get("onset")),
            abatement=values.dt(p.get("abatement")),
            recorded_date=values.dt(p.get("recordedDate")),
        )

    @strawberry.field(
        description="What it is: each coding, with its text from a loaded terminology.",
        metadata={PATH: "Condition.code"},
    )
    async def code(self, info: Info[Context, None]) -> list[Coding]:
        return await codings(info, self._handle, "Condition.code")

    @strawberry.field(description="The patient.", metadata={PATH: "Condition.patient"})
    async def patient(
        self, info: Info[Context, None]
    ) -> Annotated[Patient, strawberry.lazy("caregraph.api.types.patient")] | None:
        return await one(info, self._handle, "Condition.patient", registry.mapper("Patient"))

    @strawberry.field(
        description="The visit it was recorded at.", metadata={PATH: "Condition.encounter"}
    )
    async def encounter(
        self, info: Info[Context, None]
    ) -> Annotated[Encounter, strawberry.lazy("caregraph.api.types.encounter")] | None:
        return await one(info, self._handle, "Condition.encounter", registry.mapper("Encounter"))


registry.register("Condition", Condition.from_record)
