"""Each caller's view of the graph: the role table (``api/access/policy.py``) turned into the
:class:`~graph.projection.Projection` that every read query carries.

:data:`FIELD_PROPERTIES` says which graph properties each GraphQL field is made of; a
property is read for a role only when a field the role may read is made of it, so a hidden
field's property (and any property no field shows, such as the identity step's match key)
never leaves Neo4j. A traversal field the role may not read is closed in the query too, and a
lookup is allowed only by what the role may read. :data:`OWNERS` is how a node finds its
patient, so that every read can name the patients it read for the audit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache, lru_cache

from rdflib import URIRef

from caregraph.api import paths
from caregraph.api.access.policy import YEAR, AccessPolicy
from caregraph.api.type_system import graphql_core
from caregraph.graph.projection import IDENTIFIER_LOOKUP, Hop, LabelView, Projection
from caregraph.graph.readers import TIME_PROPERTIES
from caregraph.ontology.temporal import precision_property
from caregraph.ontology.vocab import CG

IN, OUT = False, True

_ENTITY: dict[str, tuple[str, ...]] = {"loaded": ("stub",), "display": ("display",)}
_EVENT: dict[str, tuple[str, ...]] = {
    "time": TIME_PROPERTIES,
    "timePrecision": (*TIME_PROPERTIES, *(precision_property(p) for p in TIME_PROPERTIES)),
    "status": ("status",),
}
_NAME: dict[str, tuple[str, ...]] = {
    "name.family": ("familyName",),
    "name.given": ("givenNames",),
    "name.text": ("nameText", "name", "givenNames", "familyName"),
}
_ADDRESS: dict[str, tuple[str, ...]] = {
    "address.line": ("addressLine",),
    "address.city": ("city",),
    "address.state": ("state",),
    "address.postalCode": ("postalCode",),
    "address.country": ("country",),
}


def _same(*names: str) -> dict[str, tuple[str, ...]]:
    """Fields stored under their own name."""
    return {n: (n,) for n in names}


# GraphQL type -> field -> the graph properties it is made of (fields made of none, such as
# traversals, `key` and `kind`, are not listed)
FIELD_PROPERTIES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "Patient": {
        **_ENTITY, **_NAME, **_ADDRESS, **_same("birthDate", "gender", "deceased"),
    },
    "Practitioner": {
        **_ENTITY, **_NAME, **_ADDRESS, **_same("npi", "gender", "specialty"),
    },
    "Organization": {**_ENTITY, **_ADDRESS, **_same("npi", "name", "orgType", "phone")},
    "Location": {**_ENTITY, **_ADDRESS, **_same("name", "phone")},
    "Payer": {**_ENTITY, **_ADDRESS, **_same("name", "payerId")},
    "Encounter": {
        **_ENTITY, **_EVENT,
        **_same("start", "end", "encounterClass", "encounterType", "reasonCode", "description",
                "visitNumber", "diagnosisCodes"),
    },
    "Appointment": {
        **_ENTITY, **_EVENT,
        **_same("start", "end", "minutesDuration", "serviceType", "reasonCode", "description",
                "cancelReason"),
    },
    "ImagingStudy": {
        **_ENTITY, **_EVENT,
        **_same("studyInstanceUid", "start", "modality", "description", "accessionNumber",
                "procedureCode", "bodySite", "numberOfSeries", "numberOfInstances",
                "referringPhysicianName"),
    },
    "ImagingSeries": {
        **_ENTITY,
        **_same("seriesInstanceUid", "seriesNumber", "modality", "bodySite", "description",
                "numberOfInstances"),
    },
    "ServiceRequest": {
        **_ENTITY, **_EVENT,
        **_same("start", "procedureCode", "accessionNumber", "placerOrderNumber",
                "fillerOrderNumber", "reasonCode"),
    },
    "Claim": {
        **_ENTITY, **_EVENT,
        **_same("controlNumber", "submitter", "claimType", "use", "serviceStart", "serviceEnd",
                "totalCharge", "currency", "diagnosisCodes"),
    },
    "ClaimItem": {
        **_ENTITY,
        **_same("sequence", "procedureCode", "quantity", "chargeAmount", "serviceStart",
                "serviceEnd", "diagnosisCodes"),
    },
    "Remittance": {
        **_ENTITY, **_EVENT,
        **_same("paymentAmount", "paymentDate", "totalCharge", "patientResponsibility",
                "adjustments", "claimStatusCode", "payerControlNumber", "controlNumber",
                "description"),
    },
    "Coverage": {
        **_ENTITY,
        **_same("memberId", "subscriberId", "planName", "relationship", "status", "start",
                "end"),
    },
    "Condition": {
        **_ENTITY, **_EVENT,
        **_same("clinicalStatus", "verificationStatus", "category", "onset", "abatement",
                "recordedDate"),
    },
    "Procedure": {**_ENTITY, **_EVENT, **_same("start", "end")},
    # terminology, not patient data: read by whoever may follow a field to it
    "Concept": _same("system", "code", "display"),
    "Identifier": {**_same("system", "value"), "type": ("identifierType",)},
    "SourceRecord": {
        **_ENTITY,
        **_same("sourceSystem", "file", "position", "recordId", "format", "kind"),
        "loadRun": ("runId",),
    },
}  # fmt: skip
GENERIC = "GenericEvent"  # events of classes without a type: `properties` is all of them
GENERIC_FIELDS: Mapping[str, tuple[str, ...]] = {**_ENTITY, **_EVENT}

# how a node of a class reaches its patient: (object property, direction, class reached)
_OWNERS: tuple[tuple[URIRef, tuple[tuple[URIRef, bool, URIRef], ...]], ...] = (
    (CG.Patient, ()),
    (CG.Encounter, ((CG.hasEncounter, IN, CG.Patient),)),
    (CG.Appointment, ((CG.hasAppointment, IN, CG.Patient),)),
    (CG.ImagingStudy, ((CG.hasImagingStudy, IN, CG.Patient),)),
    (CG.ServiceRequest, ((CG.hasServiceRequest, IN, CG.Patient),)),
    (CG.Claim, ((CG.hasClaim, IN, CG.Patient),)),
    (CG.Coverage, ((CG.hasCoverage, IN, CG.Patient),)),
    (CG.Condition, ((CG.hasCondition, IN, CG.Patient),)),
    (CG.Procedure, ((CG.hasProcedure, IN, CG.Patient),)),
    (CG.ClaimItem, ((CG.hasItem, IN, CG.Claim), (CG.hasClaim, IN, CG.Patient))),
    (CG.Remittance, ((CG.remits, OUT, CG.Claim), (CG.hasClaim, IN, CG.Patient))),
    (CG.ImagingSeries, ((CG.hasSeries, IN, CG.ImagingStudy), (CG.hasImagingStudy, IN, CG.Patient))),
    (CG.Identifier, ((CG.identifies, OUT, CG.Patient),)),
)  # fmt: skip


@cache
def owners() -> tuple[tuple[str, tuple[Hop, ...]], ...]:
    """Label -> the way from a node of it to its patient, in graph names."""
    onto = paths.ontology()
    return tuple(
        (
            onto.classes[cls].name,
            tuple(Hop(onto.relationship_type(p), out, onto.classes[c].name) for p, out, c in hops),
        )
        for cls, hops in _OWNERS
    )


@cache
def lineage() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every class's label -> its superclasses' labels, nearest first (Projection.lineage)."""
    onto = paths.ontology()
    return tuple(
        (cls.name, tuple(onto.classes[s].name for s in onto.superclasses(iri)[1:]))
        for iri, cls in sorted(onto.classes.items())
    )


@cache
def traversals() -> Mapping[tuple[str, str], str]:
    """(GraphQL type, field) -> the name of the traversal behind it (field metadata)."""
    from graphql import GraphQLInterfaceType, GraphQLObjectType

    from caregraph.api.connections import PATH
    from caregraph.api.schema import schema  # here: the schema's types import this module's users

    found: dict[tuple[str, str], str] = {}
    for name, typ in graphql_core(schema).type_map.items():
        if not isinstance(typ, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for fname, fdef in typ.fields.items():
            definition = fdef.extensions.get("strawberry-definition")
            meta = getattr(definition, "metadata", None) or {}
            if meta.get(PATH) in paths.NAMES:
                found[(name, fname)] = meta[PATH]
    return found


def _props(
    policy: AccessPolicy, type_name: str, fields: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], list[str]]:
    keep: list[str] = []
    year: list[str] = []
    for fname, props in fields.items():
        if not policy.allows(type_name, fname):
            continue
        into = year if policy.generalisation(type_name, fname) == YEAR else keep
        into.extend(props)
    return list(dict.fromkeys(p for p in keep if p not in year)), list(dict.fromkeys(year))


def _closed(policy: AccessPolicy) -> Iterator[tuple[str, str, bool]]:
    for (type_name, fname), name in traversals().items():
        if type_name in FIELD_PROPERTIES and not policy.allows(type_name, fname):
            for chain in paths.path(name).chains:
                yield (type_name, chain[0].rel, chain[0].out)


@lru_cache(maxsize=16)
def projection(policy: AccessPolicy) -> Projection:
    """The projection of a policy (one per role, cached)."""
    if getattr(policy, "everything", False):
        return Projection(owners=owners(), lineage=lineage())
    views = []
    for type_name, fields in FIELD_PROPERTIES.items():
        keep, year = _props(policy, type_name, fields)
        lookups = [p for p in keep if p != "display"]
        if policy.allows(type_name, "identifiers"):
            lookups.append(IDENTIFIER_LOOKUP)
        views.append(LabelView(type_name, tuple(keep), tuple(year), tuple(lookups)))
    fallback: tuple[str, ...] | None = None
    if not policy.allows(GENERIC, "properties"):
        fallback = tuple(_props(policy, GENERIC, GENERIC_FIELDS)[0])
    return Projection(
        views=tuple(views),
        fallback=fallback,
        owners=owners(),
        lineage=lineage(),
        closed=frozenset(_closed(policy)),
        shown_keys=(
            frozenset(t for t in FIELD_PROPERTIES if not policy.pseudonymised(t))
            if any(policy.pseudonymised(t) for t in (*FIELD_PROPERTIES, GENERIC))
            else None
        ),
    )
