"""A series of an imaging study."""

from __future__ import annotations

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Entity
from caregraph.api.types.fields import stored, to_one


@strawberry.type(description="A series of an imaging study (DICOM series).")
class ImagingSeries(Entity):
    series_instance_uid: str | None = stored()
    series_number: int | None = stored(values.integer)
    modality: list[str] = stored(values.texts)
    body_site: str | None = stored()
    description: str | None = stored()
    number_of_instances: int | None = stored(values.integer)

    study = to_one("ImagingSeries.study", "ImagingStudy", "The study.")


registry.register("ImagingSeries", ImagingSeries.from_record)
