"""Each caller's view of the graph: the role table (``api/access/policy.py``) turned into the
:class:`~graph.projection.Projection` that every read query carries.

:func:`field_properties` says which graph properties each GraphQL field is made of, as the
field declares them (api/types/fields.py); a property is read for a role only when a field the
role may read is made of it, so a hidden field's property (and any property no field shows,
such as the identity step's match key) never leaves Neo4j. A traversal field the role may not
read is closed in the query too, and a lookup is allowed only by what the role may read.
:func:`owners` is how a node finds its patient, so that every read can name the patients it
read for the audit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache, lru_cache
from typing import Any

from rdflib import URIRef

from caregraph.api import paths
from caregraph.api.access.policy import YEAR, AccessPolicy
from caregraph.api.type_system import graphql_core
from caregraph.graph.projection import IDENTIFIER_LOOKUP, Hop, LabelView, Projection
from caregraph.ontology.model import local
from caregraph.ontology.vocab import CG

IN, OUT = False, True
GENERIC = "GenericEvent"  # events of classes without a type: `properties` is all of them


@cache
def field_properties() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """GraphQL type -> field -> the graph properties it is made of, as each field declares
    them (api/types/fields.py): the node types and the types that show a node's properties
    (identifiers, source records, concepts). Fields made of none (traversals, ``key``,
    ``kind``) are not listed; ``GenericEvent`` is not either (:func:`generic_fields`), nor the
    parts of a node (a name, an address: listed under their owner's field)."""
    from graphql import GraphQLObjectType, get_named_type

    from caregraph.api.types.fields import is_composite

    nodes = {n: t for n, t in _types().items() if isinstance(t, GraphQLObjectType)}
    parts = {
        get_named_type(f.type).name
        for t in nodes.values()
        for f in t.fields.values()
        if is_composite(f.extensions.get("strawberry-definition"))
    }
    found = {n: _made_of(t) for n, t in nodes.items() if n != GENERIC and n not in parts}
    return {n: fields for n, fields in found.items() if fields}


@cache
def generic_fields() -> Mapping[str, tuple[str, ...]]:
    """What the fields an event of a class without a type shares with every event are made
    of (the Event interface's)."""
    return _made_of(_types()["Event"])


def _types() -> Mapping[str, Any]:
    from caregraph.api.schema import schema  # here: the schema's types import this module's users

    return graphql_core(schema).type_map


def _made_of(typ: Any) -> dict[str, tuple[str, ...]]:
    from caregraph.api.types.fields import properties_of

    fields: dict[str, tuple[str, ...]] = {}
    for fname, fdef in typ.fields.items():
        fields.update(properties_of(fdef.extensions.get("strawberry-definition"), fname))
    return fields


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
def zoned_properties() -> frozenset[str]:
    """The graph names of the ontology's xsd:dateTime properties (Projection.as_text)."""
    onto = paths.ontology()
    props = onto.datatype_properties
    return frozenset(local(iri) for iri in props if onto.datatype(iri) == "dateTime")


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
        if type_name in field_properties() and not policy.allows(type_name, fname):
            for chain in paths.path(name).chains:
                yield (type_name, chain[0].rel, chain[0].out)


@lru_cache(maxsize=16)
def projection(policy: AccessPolicy) -> Projection:
    """The projection of a policy (one per role, cached)."""
    if getattr(policy, "everything", False):
        return Projection(owners=owners(), lineage=lineage(), as_text=zoned_properties())
    views = []
    for type_name, fields in field_properties().items():
        keep, year = _props(policy, type_name, fields)
        lookups = [p for p in keep if p != "display"]
        if policy.allows(type_name, "identifiers"):
            lookups.append(IDENTIFIER_LOOKUP)
        views.append(LabelView(type_name, tuple(keep), tuple(year), tuple(lookups)))
    fallback: tuple[str, ...] | None = None
    if not policy.allows(GENERIC, "properties"):
        fallback = tuple(_props(policy, GENERIC, generic_fields())[0])
    return Projection(
        views=tuple(views),
        fallback=fallback,
        as_text=zoned_properties(),
        owners=owners(),
        lineage=lineage(),
        closed=frozenset(_closed(policy)),
        shown_keys=(
            frozenset(t for t in field_properties() if not policy.pseudonymised(t))
            if any(policy.pseudonymised(t) for t in (*field_properties(), GENERIC))
            else None
        ),
    )
