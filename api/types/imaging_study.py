"""An imaging study, with its series, its visit, its referrer and its patient."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import connection, stored, to_one


@strawberry.type(description="An imaging study (DICOM study; FHIR ImagingStudy).")
class ImagingStudy(Event):
    study_instance_uid: str | None = stored(description="Bare, without urn:oid:.")
    start: datetime | None = stored(values.dt)
    modality: list[str] = stored(values.texts, "DICOM modality codes (CT, MR ...).")
    description: str | None = stored()
    accession_number: str | None = stored()
    procedure_code: str | None = stored()
    body_site: str | None = stored()
    number_of_series: int | None = stored(values.integer)
    number_of_instances: int | None = stored(values.integer)
    referring_physician_name: str | None = stored(
        description="The referrer's name as DICOM gives it (FAMILY^GIVEN); see `referrer`."
    )

    series = connection("ImagingStudy.series", "ImagingSeries", "Its series, by series number.")

    patient = to_one("ImagingStudy.patient", "Patient", "The patient.")

    encounter = to_one(
        "ImagingStudy.encounter",
        "Encounter",
        "The visit it belongs to (`link.rule` says how it was matched).",
    )

    referrer = to_one(
        "ImagingStudy.referrer",
        "Practitioner",
        "The referring practitioner (`link.rule` says how the name was matched).",
    )

    performed_at = to_one(
        "ImagingStudy.performedAt", "Organization", "The institution that performed it."
    )

    based_on = to_one("ImagingStudy.basedOn", "ServiceRequest", "The order it fulfils.")


registry.register("ImagingStudy", ImagingStudy.from_record)
