"""An order (service request): what was asked for, by whom, and the images that answer it."""

from __future__ import annotations

from datetime import datetime

import strawberry

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.fields import connection, stored, to_one


@strawberry.type(description="An order (FHIR ServiceRequest; HL7 ORM/ORU).")
class ServiceRequest(Event):
    start: datetime | None = stored(values.dt)
    procedure_code: str | None = stored()
    accession_number: str | None = stored()
    placer_order_number: str | None = stored()
    filler_order_number: str | None = stored()
    reason_code: str | None = stored()

    patient = to_one("ServiceRequest.patient", "Patient", "The patient.")

    encounter = to_one("ServiceRequest.encounter", "Encounter", "The visit.")

    requester = to_one("ServiceRequest.requester", "Practitioner", "Who ordered it.")

    imaging_studies = connection(
        "ServiceRequest.imagingStudies", "ImagingStudy", "Imaging studies that fulfil it."
    )


registry.register("ServiceRequest", ServiceRequest.from_record)
