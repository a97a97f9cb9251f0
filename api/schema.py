"""The GraphQL schema: root fields gathered from one module per type."""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib.metadata import version
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, Info

from api import lookup
from api.context import Context
from api.limits import Guardrails
from api.masking import MaskUnexpected, log_errors
from api.types.appointment import Appointment
from api.types.claim import Claim
from api.types.claim_item import ClaimItem
from api.types.coverage import Coverage
from api.types.encounter import Encounter
from api.types.generic_event import GenericEvent
from api.types.imaging_series import ImagingSeries
from api.types.imaging_study import ImagingStudy
from api.types.location import Location
from api.types.ontology import Ontology
from api.types.organization import Organization
from api.types.patient import Patient
from api.types.patient_context import PatientContext, patient_context
from api.types.payer import Payer
from api.types.practitioner import Practitioner
from api.types.remittance import Remittance
from api.types.service_request import ServiceRequest


@strawberry.type(description="The service and the graph behind it.")
class Service:
    version: str
    neo4j_version: str
    neo4j_edition: str


@strawberry.type
class Query:
    @strawberry.field(description="Versions of caregraph and of the Neo4j it reads.")
    async def service(self, info: Info[Context, None]) -> Service:
        components = await asyncio.to_thread(info.context.reader.server_components)
        return Service(
            version=version("caregraph"),
            neo4j_version=components["version"],
            neo4j_edition=components["edition"],
        )

    @strawberry.field(
        description="A patient by identifier: a FHIR token `system|value`, or a bare value "
        "(an error names the identifier systems if it matches several patients)."
    )
    async def patient(self, info: Info[Context, None], identifier: str) -> Patient | None:
        row = await lookup.find(
            info,
            lookup.token_or_value("Patient", identifier, "identifier"),
            what="patient",
            argument="identifier",
        )
        return Patient.from_record(row) if row else None

    @strawberry.field(description="A practitioner by NPI.")
    async def practitioner(self, info: Info[Context, None], npi: str) -> Practitioner | None:
        row = await lookup.find(
            info, lookup.by_npi("Practitioner", npi), what="practitioner", argument="npi"
        )
        return Practitioner.from_record(row) if row else None

    @strawberry.field(description="An organization by NPI.")
    async def organization(self, info: Info[Context, None], npi: str) -> Organization | None:
        row = await lookup.find(
            info, lookup.by_npi("Organization", npi), what="organization", argument="npi"
        )
        return Organization.from_record(row) if row else None

    @strawberry.field(
        description="A visit by identifier (visit number or source id): `system|value` or a "
        "bare value."
    )
    async def encounter(self, info: Info[Context, None], identifier: str) -> Encounter | None:
        row = await lookup.find(
            info,
            lookup.token_or_value("Encounter", identifier, "identifier"),
            what="encounter",
            argument="identifier",
        )
        return Encounter.from_record(row) if row else None

    @strawberry.field(description="An imaging study by Study Instance UID, bare (no urn:oid:).")
    async def imaging_study(
        self, info: Info[Context, None], study_instance_uid: str
    ) -> ImagingStudy | None:
        row = await lookup.find(
            info,
            lookup.by_study_uid(study_instance_uid),
            what="imaging study",
            argument="studyInstanceUid",
        )
        return ImagingStudy.from_record(row) if row else None

    @strawberry.field(
        description="A claim by control number (CLM01); if several submitters used the same "
        "number, give `system|value` with the system the error names."
    )
    async def claim(self, info: Info[Context, None], control_number: str) -> Claim | None:
        row = await lookup.find(
            info,
            lookup.by_control_number(control_number),
            what="claim",
            argument="controlNumber",
            systems=lookup.claim_systems,
        )
        return Claim.from_record(row) if row else None

    @strawberry.field(
        description="Everything about a patient in a window as one bounded call: an ordered, "
        "de-duplicated timeline of visits, appointments, images, orders, claims and payments, "
        "a compact `text` for an LLM that fits `budgetTokens`, and what was left out."
    )
    async def patient_context(
        self,
        info: Info[Context, None],
        identifier: str,
        from_: Annotated[
            datetime | None, strawberry.argument(name="from", description="Window start.")
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Window end.")] = None,
        budget_tokens: Annotated[
            int | None,
            strawberry.argument(description="Token budget of `text` (default 2000)."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="`nextCursor` of an earlier call: the rest."),
        ] = None,
    ) -> PatientContext | None:
        return await patient_context(info, identifier, from_, to, budget_tokens, after)

    @strawberry.field(description="The ontology: what the graph's labels and types mean.")
    def ontology(self) -> Ontology:
        return Ontology.current()


class Schema(strawberry.Schema):
    """The schema, logging errors by kind (unexpected ones whole, under the request id)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context = execution_context.context if execution_context else None
        log_errors(errors, getattr(context, "request_id", None))


schema = Schema(
    query=Query,
    types=[
        Appointment,
        ClaimItem,
        Coverage,
        GenericEvent,
        ImagingSeries,
        Location,
        Payer,
        Remittance,
        ServiceRequest,
    ],
    extensions=[Guardrails, MaskUnexpected],
)
