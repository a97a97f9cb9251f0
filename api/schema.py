"""The GraphQL schema: root fields gathered from one module per type."""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib.metadata import version
from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, Info

from caregraph.api import lookup, review, search
from caregraph.api.access.policy import AUDIT_ONLY_ADMINS, SCORECARD_ROLES
from caregraph.api.access.refusals import Access, ForbiddenFieldError
from caregraph.api.audit import Audit
from caregraph.api.auth import Role
from caregraph.api.availability import Availability
from caregraph.api.connections import Connection, Edge, connection, cursor, edge, page_size, window
from caregraph.api.context import Context
from caregraph.api.direct import Direct
from caregraph.api.error_masking import MaskUnexpected, log_errors
from caregraph.api.errors import BadArgumentError
from caregraph.api.limits import Guardrails
from caregraph.api.types import values
from caregraph.api.types.appointment import Appointment
from caregraph.api.types.args import After, First
from caregraph.api.types.audit_event import AuditEvent
from caregraph.api.types.claim import Claim
from caregraph.api.types.claim_item import ClaimItem
from caregraph.api.types.concept import Concept, find_concept
from caregraph.api.types.condition import Condition
from caregraph.api.types.coverage import Coverage
from caregraph.api.types.encounter import Encounter
from caregraph.api.types.explanation import Explanation, Reason
from caregraph.api.types.generic_event import GenericEvent
from caregraph.api.types.identity_review import IdentityDecision, MatchCandidate, MatchStatus
from caregraph.api.types.imaging_series import ImagingSeries
from caregraph.api.types.imaging_study import ImagingStudy
from caregraph.api.types.interoperability import Interoperability
from caregraph.api.types.location import Location
from caregraph.api.types.match import (
    LocationMatch,
    OrganizationMatch,
    PatientMatch,
    PractitionerMatch,
)
from caregraph.api.types.ontology import Ontology
from caregraph.api.types.organization import Organization
from caregraph.api.types.patient import Patient
from caregraph.api.types.patient_context import PatientContext, patient_context
from caregraph.api.types.payer import Payer
from caregraph.api.types.practitioner import Practitioner
from caregraph.api.types.procedure import Procedure
from caregraph.api.types.remittance import Remittance
from caregraph.api.types.service_request import ServiceRequest
from caregraph.graph import explain, keys_and_audit


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
        description="Patients matching every term given, best first (docs/search.md): names "
        "match folded (case, accents, spaces and hyphens ignored; a prefix matches too), a "
        "birth date by its start (1961, 1961-08, 1961-08-21). Needs an identifierValue or at "
        "least two demographic facts (SEARCH_TOO_BROAD); audited as a search."
    )
    async def patients(
        self,
        info: Info[Context, None],
        family: Annotated[str | None, strawberry.argument(description="Family name.")] = None,
        given: Annotated[str | None, strawberry.argument(description="A given name.")] = None,
        birth_date: Annotated[
            str | None, strawberry.argument(description="YYYY, YYYY-MM or YYYY-MM-DD.")
        ] = None,
        gender: Annotated[
            str | None, strawberry.argument(description="male, female, other or unknown.")
        ] = None,
        postal_code: Annotated[
            str | None, strawberry.argument(description="A postal code, or its start.")
        ] = None,
        identifier_value: Annotated[
            str | None,
            strawberry.argument(description="An identifier's value (MRN, member id ...)."),
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[PatientMatch]:
        return await search.patients(
            info,
            lambda m: PatientMatch(
                score=m.score, matched_on=m.matched, patient=Patient.from_record(m.row)
            ),
            family=family, given=given, birth_date=birth_date, gender=gender,
            postal_code=postal_code, identifier_value=identifier_value, first=first, after=after,
        )  # fmt: skip

    @strawberry.field(
        description="Practitioners matching every term, best first: `name` words each start "
        "the family or a given name (folded), `npi` exactly, `specialty` within the "
        "specialty's text. Needs one term."
    )
    async def practitioners(
        self,
        info: Info[Context, None],
        name: str | None = None,
        npi: str | None = None,
        specialty: str | None = None,
        first: First = None,
        after: After = None,
    ) -> Connection[PractitionerMatch]:
        return await search.practitioners(
            info,
            lambda m: PractitionerMatch(
                score=m.score, matched_on=m.matched, practitioner=Practitioner.from_record(m.row)
            ),
            name=name, npi=npi, specialty=specialty, first=first, after=after,
        )  # fmt: skip

    @strawberry.field(description="Organizations whose name has every word (folded), best first.")
    async def organizations(
        self,
        info: Info[Context, None],
        name: str,
        npi: str | None = None,
        first: First = None,
        after: After = None,
    ) -> Connection[OrganizationMatch]:
        return await search.places(
            info,
            "Organization",
            lambda m: OrganizationMatch(
                score=m.score, matched_on=m.matched, organization=Organization.from_record(m.row)
            ),
            name=name, npi=npi, first=first, after=after,
        )  # fmt: skip

    @strawberry.field(description="Locations whose name has every word (folded), best first.")
    async def locations(
        self,
        info: Info[Context, None],
        name: str,
        first: First = None,
        after: After = None,
    ) -> Connection[LocationMatch]:
        return await search.places(
            info,
            "Location",
            lambda m: LocationMatch(
                score=m.score, matched_on=m.matched, location=Location.from_record(m.row)
            ),
            name=name, npi=None, first=first, after=after,
        )  # fmt: skip

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
        under_code: Annotated[
            str | None,
            strawberry.argument(
                description="Only events coded under this concept (`system|code`, or a bare "
                "ICD-10-CM code or range such as I20-I25), and the images, orders, "
                "appointments and claims of the visits that are; give it again with `after`."
            ),
        ] = None,
    ) -> PatientContext | None:
        return await patient_context(info, identifier, from_, to, budget_tokens, after, under_code)

    @strawberry.field(
        description="A code of a code system, with its text and its place in the hierarchy. "
        "`system` is the canonical URI or a name or OID the ontology knows (ICD-10-CM: "
        "http://hl7.org/fhir/sid/icd-10-cm, ICD10CM, 2.16.840.1.113883.6.90); an ICD-10-CM "
        "code with or without its dot. Null when the graph has no such concept."
    )
    async def concept(self, info: Info[Context, None], system: str, code: str) -> Concept | None:
        return await find_concept(info, system, code)

    @strawberry.field(description="The ontology: what the graph's labels and types mean.")
    def ontology(self) -> Ontology:
        return Ontology.current()

    @strawberry.field(
        description="The interoperability scorecard: continuity, identity, completeness and "
        "freshness per source system and domain, each measure with its definition and "
        "history. Admins and analysts."
    )
    def interoperability(self, info: Info[Context, None]) -> Interoperability:
        ctx = info.context
        role = ctx.principal.role if ctx.principal else None
        if role not in (
            Role.admin,
            Role.analyst,
        ):  # the policy refuses first; this is the second line
            name = role.value if role else "(none)"
            raise ForbiddenFieldError(
                name, "interoperability", "Query.interoperability", SCORECARD_ROLES
            )
        return Interoperability()

    @strawberry.field(
        description="Why `a` and `b` (identifier tokens system|value, keys, or bare values) "
        "are one individual, or how they are linked: the identifiers and rules that make them "
        "one, or the relationships between them with the rule and evidence of each."
    )
    async def explain_link(self, info: Info[Context, None], a: str, b: str) -> Explanation:
        ctx = info.context
        key_a, key_b = await asyncio.gather(_node(ctx, a, "a"), _node(ctx, b, "b"))
        node_a = await asyncio.to_thread(explain.explain_node, ctx.driver, ctx.database, key_a)
        await asyncio.to_thread(ctx.reader.note_patients, [key_a, key_b])
        if key_a == key_b:
            same, linked, reasons = True, False, node_a.identifiers
            node_b = node_a
        else:
            node_b = await asyncio.to_thread(explain.explain_node, ctx.driver, ctx.database, key_b)
            same = False
            reasons = await asyncio.to_thread(
                explain.explain_link, ctx.driver, ctx.database, key_a, key_b
            )
            linked = bool(reasons)
        return Explanation(
            a=key_a,
            b=key_b,
            kind_a=values.kind_of(node_a.labels),
            kind_b=values.kind_of(node_b.labels),
            same=same,
            linked=linked,
            reasons=[Reason.from_because(r) for r in reasons],
        )

    @strawberry.field(
        description="Probable matches between patients, most probable first (`status` null: "
        "all). Stewards and admins."
    )
    async def match_candidates(
        self,
        info: Info[Context, None],
        status: MatchStatus | None = MatchStatus.OPEN,
        first: First = None,
        after: After = None,
    ) -> Connection[MatchCandidate]:
        return await review.candidates(info, status.value if status else None, first, after)

    @strawberry.field(
        description="The read audit, newest first: filter by who (`subject`), which patient "
        "(a patient key) and since when. Admins only."
    )
    async def audit_log(
        self,
        info: Info[Context, None],
        subject: str | None = None,
        patient: str | None = None,
        since: datetime | None = None,
        first: First = None,
        after: After = None,
    ) -> Connection[AuditEvent]:
        ctx = info.context
        if ctx.principal is None or ctx.principal.role is not Role.admin:
            role = ctx.principal.role.value if ctx.principal else "(none)"
            raise ForbiddenFieldError(role, "auditLog", "Query.auditLog", AUDIT_ONLY_ADMINS)
        size = page_size(info, first)
        since, _ = window(since, None)
        position = ctx.cursors.decode(after)
        rows = await asyncio.to_thread(
            keys_and_audit.query_audit,
            ctx.driver,
            ctx.database,
            subject=subject,
            patient=patient,
            since=since,
            limit=size + 1,
            after=position,
        )
        edges: list[Edge[AuditEvent]] = [
            edge(AuditEvent.from_record(r), cursor(ctx.cursors.encode, int(r["ms"]), str(r["id"])))
            for r in rows[:size]
        ]
        return connection(edges, more=len(rows) > size, after=position is not None)


@strawberry.type(
    description="Identity decisions, for stewards and admins (docs/identity.md): each recorded "
    "with who, when and why, returned by each mutation, on the candidate it closes "
    "(`matchCandidates`), and in `caregraph explain`."
)
class Mutation:
    @strawberry.mutation(
        description="Merge a candidate's two patients into one (the one with more source "
        "records remains); `splitPatient` undoes it exactly."
    )
    async def accept_match(
        self, info: Info[Context, None], candidate: str, reason: str
    ) -> IdentityDecision:
        return await review.accept(info, candidate, reason)

    @strawberry.mutation(
        description="Keep a candidate's two patients apart: the pair is never proposed again."
    )
    async def reject_match(
        self, info: Info[Context, None], candidate: str, reason: str
    ) -> IdentityDecision:
        return await review.reject(info, candidate, reason)

    @strawberry.mutation(
        description="Undo every merge into a patient (by key), newest first: the patients it "
        "absorbed are back as they were, with their identifiers, records and links."
    )
    async def split_patient(
        self, info: Info[Context, None], patient: str, reason: str
    ) -> list[IdentityDecision]:
        return await review.split(info, patient, reason)


async def _node(ctx: Context, token: str, argument: str) -> str:
    """The key of the one node a token names."""
    text = token.strip()
    if not text:
        raise BadArgumentError(argument, "give system|value, a key or a bare value")
    keys = await asyncio.to_thread(explain.find_node, ctx.driver, ctx.database, text)
    if not keys:
        raise BadArgumentError(argument, "names nothing in the graph")
    if len(keys) > 1:
        raise BadArgumentError(argument, f"names {len(keys)} nodes; give it as system|value")
    return keys[0]


class Schema(strawberry.Schema):
    """The schema, logging errors by kind (unexpected ones whole, under the request id)."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        context = execution_context.context if execution_context else None
        log_errors(errors, getattr(context, "request_id", None))


schema = Schema(
    query=Query,
    mutation=Mutation,
    types=[
        Appointment,
        ClaimItem,
        Condition,
        Coverage,
        GenericEvent,
        ImagingSeries,
        Location,
        Payer,
        Procedure,
        Remittance,
        ServiceRequest,
    ],
    # availability first, outermost: it admits before the guardrails, whose cost estimate
    # reads the graph, and sees the audit's errors too (Neo4j gone before the record is a
    # 503); the audit next, so that it records the operation once every other extension has
    # had its say; access after the guardrails, whose validation it builds on
    # direct answers last: they replace graphql-core's execution, inside every other hook
    extensions=[Availability, Audit, Guardrails, Access, MaskUnexpected, Direct],
)
