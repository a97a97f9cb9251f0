"""What a search found: each node with its score and the terms it matched on."""

from __future__ import annotations

import strawberry

from caregraph.api.types.location import Location
from caregraph.api.types.organization import Organization
from caregraph.api.types.patient import Patient
from caregraph.api.types.practitioner import Practitioner

SCORE = "How well it matched: the points of the terms it matched (docs/search.md); higher first."
MATCHED_ON = (
    "The terms it matched on, and how: identifier, family (family-prefix), given (given-other: "
    "a middle name; given-prefix), birthDate, postalCode, gender, npi, name, specialty."
)


@strawberry.type(description="A patient a search found, with its score.")
class PatientMatch:
    score: int = strawberry.field(description=SCORE)
    matched_on: list[str] = strawberry.field(description=MATCHED_ON)
    patient: Patient = strawberry.field(
        description="The patient, with the identifiers and sources that make it up."
    )


@strawberry.type(description="A practitioner a search found, with its score.")
class PractitionerMatch:
    score: int = strawberry.field(description=SCORE)
    matched_on: list[str] = strawberry.field(description=MATCHED_ON)
    practitioner: Practitioner


@strawberry.type(description="An organization a search found, with its score.")
class OrganizationMatch:
    score: int = strawberry.field(description=SCORE)
    matched_on: list[str] = strawberry.field(description=MATCHED_ON)
    organization: Organization


@strawberry.type(description="A location a search found, with its score.")
class LocationMatch:
    score: int = strawberry.field(description=SCORE)
    matched_on: list[str] = strawberry.field(description=MATCHED_ON)
    location: Location
