"""The API's operations as MCP tools for agents, over stdio (``caregraph mcp``) and streamable
HTTP (``/mcp`` on the service).

Each tool is one GraphQL operation run through the same schema, with a context that carries
the caller: the same authentication, guardrails, role policy and audit apply as over
``/graphql``. A tool's query asks for everything the tool can show; before it runs, the
fields the caller's role may not read are taken out of it (:func:`prune`), so a billing
agent's encounter context simply has no diagnoses rather than failing. What a role may not do
at all (an analyst looking a patient up by MRN) is refused with the policy's own message.

Who the caller is: over HTTP, the request's bearer credential, checked by the service's
middleware on every request; over stdio, the key the command was started with
(``CAREGRAPH_API_KEY`` or ``--key``), checked again on every call so that a revoked key stops
working at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
from graphql import (
    REMOVE,
    FieldNode,
    GraphQLSchema,
    NameNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    print_ast,
    visit,
)
from mcp.server.mcpserver import Context as McpContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from caregraph.api import logs
from caregraph.api.access import selection
from caregraph.api.access.policy import VALUE_TYPES, FieldPolicy
from caregraph.api.auth import Authenticator, AuthError, Principal
from caregraph.api.availability import UNAVAILABLE
from caregraph.api.context import Services
from caregraph.api.type_system import graphql_core

# -- the operations --------------------------------------------------------------------------

FIND_PATIENT = """query FindPatient($id: String!) {
  patient(identifier: $id) {
    key kind display gender birthDate deceased
    name { text family given }
    address { line city state postalCode country }
    identifiers { token type rule }
    encounters(first: 5) { totalCount edges { node {
      key start status encounterClass description
    } } }
  }
}"""

PATIENT_CONTEXT = """query PatientContext(
  $id: String!, $from: DateTime, $to: DateTime, $budget: Int, $after: String, $under: String
) {
  patientContext(
    identifier: $id, from: $from, to: $to, budgetTokens: $budget, after: $after, underCode: $under
  ) {
    text truncated totalEvents earlierEvents estimatedTokens budgetTokens nextCursor
    included { kind count }
    omitted { kind count }
    patient { key }
  }
}"""

ENCOUNTER_CONTEXT = """query EncounterContext($id: String!) {
  encounter(identifier: $id) {
    key start end status encounterClass encounterType reasonCode description visitNumber
    diagnosisCodes
    reasons { system code display }
    diagnoses { edges { role rank node { kind display time
      ... on Condition { clinicalStatus code { system code display } }
      ... on Procedure { code { system code display } }
    } } }
    patient { key name { text } birthDate gender }
    practitioners { edges { role node { npi name { text } specialty } } }
    organization { npi name }
    locations { edges { node { name } } }
    appointments { edges { rule node { start status serviceType description } } }
    serviceRequests { edges { node { start status procedureCode reasonCode accessionNumber } } }
    imagingStudies { edges { rule node { start modality description studyInstanceUid } } }
    claims { edges { rule node {
      controlNumber status serviceStart totalCharge diagnosisCodes
      items { edges { node { sequence procedureCode chargeAmount } } }
      remittances { edges { node { paymentDate paymentAmount patientResponsibility } } }
    } } }
  }
}"""

PRACTITIONER_CONTEXT = """query PractitionerContext($npi: String!, $from: DateTime, $to: DateTime) {
  practitioner(npi: $npi) {
    npi name { text } specialty
    organizations { edges { node { npi name } } }
    appointments(from: $from, to: $to, first: 50) { totalCount edges { role node {
      key start end status serviceType description
      patient { key name { text } }
      locations { edges { node { name } } }
      encounter { key start status }
    } } }
    encounters(from: $from, to: $to, first: 50) { totalCount edges { role node {
      key start end status encounterClass description reasonCode
      patient { key name { text } }
      organization { name }
      claims { edges { node { controlNumber status totalCharge } } }
    } } }
  }
}"""

EXPLAIN_LINK = """query ExplainLink($a: String!, $b: String!) {
  explainLink(a: $a, b: $b) { a b kindA kindB same linked reasons { what rule evidence sources } }
}"""

ONTOLOGY_CLASS = """query OntologyClass($name: String!) {
  ontology { version class(name: $name) {
    name label comment domain parents superclasses subclasses properties keys keyNote
    alignments { kind target }
  } }
}"""

ONTOLOGY_PROPERTIES = """query OntologyProperties($after: String) {
  ontology { properties(first: 100, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      name label comment kind relationshipType domain range multiValued terminologies
      alignments { kind target }
    } }
  } }
}"""

CONCEPT = """query Concept($system: String!, $code: String!, $first: Int) {
  concept(system: $system, code: $code) {
    key system code display
    ancestors { system code display }
    descendants(first: $first) { totalCount endCursor nodes { code display } }
  }
}"""

INTEROPERABILITY = """query Interoperability($name: String, $source: String, $last: Int!) {
  interoperability { measures(name: $name, source: $source) {
    name family domain source group unit value numerator denominator observedAt definition
    trend(last: $last) { runId at value runSource }
  } }
}"""

# search_patients: the arguments are written into the text only when given (their values
# are variables), so a role that may not search by a name is refused only when it does
SEARCH_TERMS = (
    ("family", "String"),
    ("given", "String"),
    ("birthDate", "String"),
    ("gender", "String"),
    ("postalCode", "String"),
    ("identifierValue", "String"),
    ("first", "Int"),
    ("after", "String"),
)
SEARCH_PATIENTS = """query SearchPatients{params} {{
  patients{args} {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ score matchedOn patient {{
      key kind display gender birthDate
      name {{ text family given }}
      address {{ city state postalCode }}
      identifiers {{ token type rule }}
      sources {{ sourceSystem format kind recordId }}
    }} }} }}
  }}
}}"""


def search_patients_query(given: dict[str, Any]) -> str:
    """The search's operation, with the arguments given (never their values) in its text."""
    used = [(n, t) for n, t in SEARCH_TERMS if given.get(n) is not None]
    if not used:  # refused by the two-facts rule, with its code
        return SEARCH_PATIENTS.format(params="", args="")
    return SEARCH_PATIENTS.format(
        params="(" + ", ".join(f"${n}: {t}" for n, t in used) + ")",
        args="(" + ", ".join(f"{n}: ${n}" for n, _ in used) + ")",
    )


TOOL_NAMES = (
    "find_patient",
    "search_patients",
    "patient_context",
    "encounter_context",
    "practitioner_context",
    "explain_link",
    "ontology_lookup",
    "concept_lookup",
    "interoperability_scorecard",
)


# -- taking out what the caller may not read -------------------------------------------------


def prune(schema: GraphQLSchema, query: str, policy: FieldPolicy) -> str:
    """The query without the fields (below its root fields) that the policy hides, and
    without selections left empty by that."""
    document = parse(query)
    info = TypeInfo(schema)

    class Pruner(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.owners: list[tuple[tuple[str, ...], str]] = []  # fields kept, outermost first

        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            parent = info.get_parent_type()
            name = node.name.value
            if parent is None or name.startswith("__"):
                return None
            if parent.name in VALUE_TYPES and self.owners:
                types, owner_field = self.owners[-1]
                qualified = f"{owner_field}.{name}"
            else:
                types, qualified = selection._concrete(schema, parent), name
            if self.owners and not all(policy.allows(t, qualified) for t in types):
                return REMOVE  # a root field is never taken out: its refusal says why
            self.owners.append((types, name))
            return None

        def leave_field(self, node: FieldNode, *_: Any) -> Any:
            self.owners.pop()
            if node.selection_set is not None and not node.selection_set.selections:
                if not self.owners:
                    # a root field whose type the role reads nothing of stays, asking only
                    # its __typename, so that its own refusal says why (not an empty query)
                    typename = FieldNode(name=NameNode(value="__typename"))
                    return FieldNode(
                        alias=node.alias,
                        name=node.name,
                        arguments=node.arguments,
                        directives=node.directives,
                        selection_set=SelectionSetNode(selections=(typename,)),
                    )
                return REMOVE
            return None

    pruned = visit(document, TypeInfoVisitor(info, Pruner()))
    return print_ast(pruned)


# -- running a tool --------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who is calling a tool, and why."""

    principal: Principal
    purpose: str | None
    request_id: str
    channel: str


CallerOf = Callable[[McpContext], Awaitable[Caller]]


class Tools:
    """Runs the tools' operations for the callers one transport names, with the services
    made at the edge (given later when the server is built before they exist)."""

    def __init__(self, caller: CallerOf, services: Services | None = None) -> None:
        self.caller = caller
        self.services = services

    async def run(
        self,
        ctx: McpContext,
        query: str,
        variables: dict[str, Any],
        operation: str,
    ) -> dict[str, Any]:
        """The data of one operation, as the caller may see it; errors as a ToolError."""
        from caregraph.api.schema import schema  # here: the schema imports every type module

        if self.services is None:
            raise ToolError("the service is starting; try again")
        caller = await self.caller(ctx)
        context = self.services.context(
            caller.principal,
            request_id=caller.request_id,
            purpose=caller.purpose,
            channel=caller.channel,
        )
        with logs.calling(caller.request_id, caller.principal.subject, caller.principal.role):
            text = prune(graphql_core(schema), query, context.policy)
            result = await schema.execute(
                text, variable_values=variables, context_value=context, operation_name=operation
            )
        if result.errors:
            raise ToolError(
                "; ".join(
                    f"{e.message} [{(e.extensions or {}).get('code', 'ERROR')}]"
                    for e in result.errors
                )
            )
        return dict(result.data or {})


# the tools' inputs, as their JSON Schema says them (module level: the SDK reads the
# signatures' annotations by name)
Token = Annotated[
    str, Field(description="A FHIR token system|value (e.g. HOSP|MRN001), or a bare value.")
]
From = Annotated[
    datetime | None,
    Field(
        validation_alias="from",
        description="Window start, ISO 8601 with an offset (e.g. 2024-01-01T00:00:00Z).",
    ),
]
To = Annotated[
    datetime | None,
    Field(validation_alias="to", description="Window end (exclusive), with an offset."),
]
Budget = Annotated[
    int | None,
    Field(
        validation_alias="budgetTokens",
        ge=50,
        description="Token budget of the text (default 2000).",
    ),
]
After = Annotated[str | None, Field(description="nextCursor of an earlier call: the rest.")]
VisitToken = Annotated[
    str, Field(description="The visit's identifier: system|value or a bare visit number.")
]
Npi = Annotated[str, Field(description="The practitioner's NPI (10 digits).")]
Either = Annotated[str, Field(description="An identifier token, key or bare value.")]
Name = Annotated[str, Field(description="A class or property name, or a class label.")]
System = Annotated[
    str, Field(description="A code system: its URI, name or OID (ICD-10-CM, SNOMED CT ...).")
]
Code = Annotated[str, Field(description="A code of that system (I21.4 or I214).", max_length=64)]
UnderCode = Annotated[
    str | None,
    Field(
        validation_alias="underCode",
        description="Only what is coded under this concept (I20-I25, I21.4, or system|code) "
        "and what belongs to the visits that are.",
        max_length=200,
    ),
]
Descendants = Annotated[int, Field(description="How many concepts under it.", ge=0, le=100)]
MeasureName = Annotated[
    str | None, Field(description="One measure, e.g. claims-linked-to-encounter; all if absent.")
]
SourceName = Annotated[
    str | None, Field(description="One source system (with the totals); all if absent.")
]
TrendLength = Annotated[int, Field(ge=1, le=100, description="Load runs of history per measure.")]


Family = Annotated[str | None, Field(description="Family name (surname), or its start.")]
Given = Annotated[str | None, Field(description="A given name, or its start.")]
BirthDate = Annotated[
    str | None,
    Field(validation_alias="birthDate", description="YYYY, YYYY-MM or YYYY-MM-DD."),
]
Gender = Annotated[str | None, Field(description="male, female, other or unknown.")]
PostalCode = Annotated[
    str | None, Field(validation_alias="postalCode", description="A postal code, or its start.")
]
IdentifierValue = Annotated[
    str | None,
    Field(
        validation_alias="identifierValue",
        description="An identifier's value (an MRN, a member id), without its system.",
    ),
]
SearchFirst = Annotated[int, Field(ge=1, le=100, description="How many matches (default 10).")]


def build(tools: Tools) -> MCPServer:
    """The MCP server: one tool per operation, with JSON-Schema inputs."""
    server: MCPServer = MCPServer(
        "caregraph",
        instructions="Patient, encounter and practitioner context from caregraph's knowledge "
        "graph, bounded and cited; identity and link explanations; the ontology; the "
        "interoperability scorecard. What you "
        "see depends on your role: fields your role may not read are left out.",
    )

    @server.tool(
        name="find_patient",
        description="Find a patient by identifier token: demographics, identifiers (each with "
        "the rule that tied it) and the latest visits.",
    )
    async def find_patient(ctx: McpContext, identifier: Token) -> dict[str, Any]:
        return await tools.run(ctx, FIND_PATIENT, {"id": identifier}, "FindPatient")

    @server.tool(
        name="search_patients",
        description="Find patients by what you know of them: family and given name (case, "
        "accents and hyphens ignored; a prefix matches), birth date (1961, 1961-08 or "
        "1961-08-21), gender, postal code, or an identifier value (MRN, member id). Every "
        "term given must match; best first, each with its score, the terms it matched on, its "
        "identifiers and its sources. Needs an identifierValue or at least two of the others "
        "(else SEARCH_TOO_BROAD); analysts may search by birth year and gender only. Audited.",
    )
    async def search_patients(
        ctx: McpContext,
        family: Family = None,
        given: Given = None,
        birth_date: BirthDate = None,
        gender: Gender = None,
        postal_code: PostalCode = None,
        identifier_value: IdentifierValue = None,
        first: SearchFirst = 10,
        after: After = None,
    ) -> dict[str, Any]:
        variables = {
            "family": family, "given": given, "birthDate": birth_date, "gender": gender,
            "postalCode": postal_code, "identifierValue": identifier_value, "first": first,
            "after": after,
        }  # fmt: skip
        query = search_patients_query(variables)
        used = {k: v for k, v in variables.items() if v is not None}
        return await tools.run(ctx, query, used, "SearchPatients")

    @server.tool(
        name="patient_context",
        description="Everything about a patient in a window as one bounded call: a compact "
        "timeline text that fits budgetTokens (visits, diagnoses, procedures, appointments, "
        "images, orders, claims, payments, each code with its text), with counts of what was "
        "left out and a cursor (`after`) for the rest; `underCode` narrows it to one "
        "clinical question (I20-I25: ischemic heart disease).",
    )
    async def patient_context(
        ctx: McpContext,
        identifier: Token,
        from_: From = None,
        to: To = None,
        budget_tokens: Budget = None,
        after: After = None,
        under_code: UnderCode = None,
    ) -> dict[str, Any]:
        variables = {
            "id": identifier,
            "from": from_.isoformat() if from_ else None,
            "to": to.isoformat() if to else None,
            "budget": budget_tokens,
            "after": after,
            "under": under_code,
        }
        return await tools.run(ctx, PATIENT_CONTEXT, variables, "PatientContext")

    @server.tool(
        name="encounter_context",
        description="One visit with who was there, where, its orders, images, appointments, "
        "claims and payments, each link with the rule that made it.",
    )
    async def encounter_context(
        ctx: McpContext,
        identifier: VisitToken,
    ) -> dict[str, Any]:
        return await tools.run(ctx, ENCOUNTER_CONTEXT, {"id": identifier}, "EncounterContext")

    @server.tool(
        name="practitioner_context",
        description="A practitioner's schedule (appointments) and the visits they took part "
        "in, in a window, with the patients and what was billed.",
    )
    async def practitioner_context(
        ctx: McpContext,
        npi: Npi,
        from_: From = None,
        to: To = None,
    ) -> dict[str, Any]:
        variables = {
            "npi": npi,
            "from": from_.isoformat() if from_ else None,
            "to": to.isoformat() if to else None,
        }
        return await tools.run(ctx, PRACTITIONER_CONTEXT, variables, "PractitionerContext")

    @server.tool(
        name="explain_link",
        description="Why two identifiers (or keys) name one individual, with the identifiers "
        "and identity rules behind it; or how two individuals are linked, with each link's "
        "rule and evidence.",
    )
    async def explain_link(
        ctx: McpContext,
        a: Either,
        b: Either,
    ) -> dict[str, Any]:
        return await tools.run(ctx, EXPLAIN_LINK, {"a": a, "b": b}, "ExplainLink")

    @server.tool(
        name="ontology_lookup",
        description="What a class (a Neo4j label such as Encounter) or a property (such as "
        "hasEncounter or birthDate) of the graph means: definition, place in the hierarchy, "
        "alignments to FHIR, DICOM, X12 and HL7 v2.",
    )
    async def ontology_lookup(
        ctx: McpContext,
        name: Name,
    ) -> dict[str, Any]:
        found = await tools.run(ctx, ONTOLOGY_CLASS, {"name": name}, "OntologyClass")
        onto = found.get("ontology") or {}
        if onto.get("class"):
            return {"class": onto["class"], "version": onto.get("version")}
        after: str | None = None
        wanted = name.strip().lower()
        while True:
            page = await tools.run(ctx, ONTOLOGY_PROPERTIES, {"after": after}, "OntologyProperties")
            props = page["ontology"]["properties"]
            for edge in props["edges"]:
                if edge["node"]["name"].lower() == wanted:
                    return {"property": edge["node"], "version": onto.get("version")}
            if not props["pageInfo"]["hasNextPage"]:
                raise ToolError(f"the ontology has no class or property named {name!r}")
            after = props["pageInfo"]["endCursor"]

    @server.tool(
        name="concept_lookup",
        description="What a code means (ICD-10-CM I21.4, a SNOMED CT or LOINC code a loaded "
        "terminology has): its text, the concepts above it (I21, I20-I25 ...) and the first "
        "concepts under it. The system by URI, name or OID.",
    )
    async def concept_lookup(
        ctx: McpContext,
        system: System,
        code: Code,
        first: Descendants = 20,
    ) -> dict[str, Any]:
        variables = {"system": system, "code": code, "first": first}
        return await tools.run(ctx, CONCEPT, variables, "Concept")  # {"concept": null}: none

    @server.tool(
        name="interoperability_scorecard",
        description="Is the graph seeing across the health system's sources, and getting "
        "better? The scorecard's measures (continuity, identity, completeness, freshness) per "
        "source system and domain, each with its definition and its values over the last "
        "load runs (which run, which source). Counts only; admins and analysts.",
    )
    async def interoperability_scorecard(
        ctx: McpContext,
        name: MeasureName = None,
        source: SourceName = None,
        last: TrendLength = 5,
    ) -> dict[str, Any]:
        variables = {"name": name, "source": source, "last": last}
        return await tools.run(ctx, INTEROPERABILITY, variables, "Interoperability")

    return server


async def http_caller(ctx: McpContext) -> Caller:
    """The caller of an HTTP tool call: the principal the service's middleware authenticated
    from this very request's bearer credential."""
    request = ctx.request_context.request
    state = getattr(request, "state", None)
    principal = getattr(state, "principal", None)
    if not isinstance(principal, Principal):  # the middleware lets nothing through without
        raise ToolError("credentials required: send 'Authorization: Bearer <key or token>'")
    return Caller(
        principal,
        getattr(state, "purpose", None),
        getattr(state, "request_id", None) or uuid.uuid4().hex,
        "mcp-http",
    )


def stdio_caller(authenticator: Authenticator, key: str, purpose: str | None) -> CallerOf:
    """The caller of stdio tool calls: the command's key, checked again on every call."""

    async def find(ctx: McpContext) -> Caller:
        try:
            principal = await anyio.to_thread.run_sync(
                authenticator.authenticate, f"Bearer {key}", None
            )
        except AuthError as e:
            raise ToolError(f"refused: {e}") from e
        except UNAVAILABLE as e:  # the key could not be checked
            raise ToolError(
                "the graph database is not available now; try again shortly [SERVICE_UNAVAILABLE]"
            ) from e
        return Caller(principal, purpose, uuid.uuid4().hex, "mcp-stdio")

    return find
