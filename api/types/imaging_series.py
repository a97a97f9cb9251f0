"""A series of an imaging study."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from caregraph.api.connections import PATH, one
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.entity import Entity, entity_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.imaging_study import ImagingStudy


@strawberry.type(description="A series of an imaging study (DICOM series).")
class ImagingSeries(Entity):
    series_instance_uid: str | None
    series_number: int | None
    modality: list[str]
    body_site: str | None
    description: str | None
    number_of_instances: int | None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> ImagingSeries:
        p = row.node
        return cls(
            **entity_fields(row, link),
            series_instance_uid=values.text(p.get("seriesInstanceUid")),
            series_number=values.integer(p.get("seriesNumber")),
            modality=values.texts(p.get("modality")),
            body_site=values.text(p.get("bodySite")),
            description=values.text(p.get("description")),
            number_of_instances=values.integer(p.get("numberOfInstances")),
        )

    @strawberry.field(description="The study.", metadata={PATH: "ImagingSeries.study"})
    async def study(
        self, info: Info[Context, None]
    ) -> Annotated[ImagingStudy, strawberry.lazy("caregraph.api.types.imaging_study")] | None:
        return await one(info, self._handle, "ImagingSeries.study", registry.mapper("ImagingStudy"))


registry.register("ImagingSeries", ImagingSeries.from_record)
