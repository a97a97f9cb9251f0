"""The traversals behind the API's fields, named by ``Type.field`` and built from the ontology.

Each traversal is declared with ontology terms (``CG.hasEncounter``, ``CG.Encounter``); the
ontology turns them into the labels and relationship types of the graph, so a renamed
relationship type changes here without code. Events over a superclass (``ClinicalEvent``) are
found through the ontology too: every object property from the start class to a subclass of
the kind, and one more step for events that hang off those (a remittance off a claim).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from rdflib import URIRef

from caregraph.graph.readers import Step, TraversalPath
from caregraph.ontology.model import Ontology, load_ontology
from caregraph.ontology.vocab import CG

OUT, IN = True, False

# name -> (start class, chains of (object property, direction, class reached), order)
_SPECS: dict[str, tuple[URIRef, tuple[tuple[tuple[URIRef, bool, URIRef], ...], ...], str]] = {
    # every node
    "Entity.identifiers": (CG.Entity, (((CG.identifies, IN, CG.Identifier),),), "key"),
    "Entity.sources": (CG.Entity, (((CG.asserted, IN, CG.SourceRecord),),), "key"),
    # patient
    "Patient.encounters": (CG.Patient, (((CG.hasEncounter, OUT, CG.Encounter),),), "time"),
    "Patient.appointments": (CG.Patient, (((CG.hasAppointment, OUT, CG.Appointment),),), "time"),
    "Patient.imagingStudies": (
        CG.Patient,
        (((CG.hasImagingStudy, OUT, CG.ImagingStudy),),),
        "time",
    ),
    "Patient.claims": (CG.Patient, (((CG.hasClaim, OUT, CG.Claim),),), "time"),
    "Patient.coverages": (CG.Patient, (((CG.hasCoverage, OUT, CG.Coverage),),), "time"),
    "Patient.serviceRequests": (
        CG.Patient,
        (((CG.hasServiceRequest, OUT, CG.ServiceRequest),),),
        "time",
    ),
    "Patient.conditions": (CG.Patient, (((CG.hasCondition, OUT, CG.Condition),),), "time"),
    "Patient.procedures": (CG.Patient, (((CG.hasProcedure, OUT, CG.Procedure),),), "time"),
    # practitioner
    "Practitioner.encounters": (
        CG.Practitioner,
        (((CG.hasParticipant, IN, CG.Encounter),),),
        "time",
    ),
    "Practitioner.appointments": (
        CG.Practitioner,
        (((CG.hasParticipant, IN, CG.Appointment),),),
        "time",
    ),
    "Practitioner.claims": (CG.Practitioner, (((CG.hasProvider, IN, CG.Claim),),), "time"),
    "Practitioner.imagingStudies": (
        CG.Practitioner,
        (((CG.referredBy, IN, CG.ImagingStudy),),),
        "time",
    ),
    "Practitioner.organizations": (
        CG.Practitioner,
        (((CG.roleOf, IN, CG.PractitionerRole), (CG.roleAt, OUT, CG.Organization)),),
        "key",
    ),
    # organization
    "Organization.encounters": (
        CG.Organization,
        (((CG.serviceProvider, IN, CG.Encounter),),),
        "time",
    ),
    "Organization.imagingStudies": (
        CG.Organization,
        (((CG.performedAt, IN, CG.ImagingStudy),),),
        "time",
    ),
    "Organization.claims": (CG.Organization, (((CG.hasProvider, IN, CG.Claim),),), "time"),
    "Organization.practitioners": (
        CG.Organization,
        (((CG.roleAt, IN, CG.PractitionerRole), (CG.roleOf, OUT, CG.Practitioner)),),
        "key",
    ),
    "Organization.locations": (CG.Organization, (((CG.managedBy, IN, CG.Location),),), "key"),
    "Organization.partOf": (CG.Organization, (((CG.partOf, OUT, CG.Organization),),), "key"),
    # payer
    "Payer.claims": (CG.Payer, (((CG.hasPayer, IN, CG.Claim),),), "time"),
    "Payer.coverages": (CG.Payer, (((CG.hasPayer, IN, CG.Coverage),),), "time"),
    "Payer.remittances": (CG.Payer, (((CG.paidBy, IN, CG.Remittance),),), "time"),
    # location
    "Location.encounters": (CG.Location, (((CG.atLocation, IN, CG.Encounter),),), "time"),
    "Location.appointments": (CG.Location, (((CG.atLocation, IN, CG.Appointment),),), "time"),
    "Location.organization": (CG.Location, (((CG.managedBy, OUT, CG.Organization),),), "key"),
    # encounter
    "Encounter.patient": (CG.Encounter, (((CG.hasEncounter, IN, CG.Patient),),), "key"),
    "Encounter.practitioners": (
        CG.Encounter,
        (((CG.hasParticipant, OUT, CG.Practitioner),),),
        "key",
    ),
    "Encounter.organization": (
        CG.Encounter,
        (((CG.serviceProvider, OUT, CG.Organization),),),
        "key",
    ),
    "Encounter.locations": (CG.Encounter, (((CG.atLocation, OUT, CG.Location),),), "key"),
    "Encounter.claims": (CG.Encounter, (((CG.forEncounter, IN, CG.Claim),),), "time"),
    "Encounter.imagingStudies": (
        CG.Encounter,
        (((CG.forEncounter, IN, CG.ImagingStudy),),),
        "time",
    ),
    "Encounter.appointments": (
        CG.Encounter,
        (((CG.forEncounter, IN, CG.Appointment),),),
        "time",
    ),
    "Encounter.serviceRequests": (
        CG.Encounter,
        (((CG.forEncounter, IN, CG.ServiceRequest),),),
        "time",
    ),
    "Encounter.diagnoses": (
        CG.Encounter,
        (((CG.hasDiagnosis, OUT, CG.Condition),), ((CG.hasDiagnosis, OUT, CG.Procedure),)),
        "time",
    ),
    "Encounter.conditions": (CG.Encounter, (((CG.forEncounter, IN, CG.Condition),),), "time"),
    "Encounter.procedures": (CG.Encounter, (((CG.forEncounter, IN, CG.Procedure),),), "time"),
    "Encounter.reasons": (CG.Encounter, (((CG.hasReason, OUT, CG.Concept),),), "key"),
    # diagnoses and procedures
    "Condition.patient": (CG.Condition, (((CG.hasCondition, IN, CG.Patient),),), "key"),
    "Condition.encounter": (CG.Condition, (((CG.forEncounter, OUT, CG.Encounter),),), "key"),
    "Condition.code": (CG.Condition, (((CG.hasCode, OUT, CG.Concept),),), "key"),
    "Procedure.patient": (CG.Procedure, (((CG.hasProcedure, IN, CG.Patient),),), "key"),
    "Procedure.encounter": (CG.Procedure, (((CG.forEncounter, OUT, CG.Encounter),),), "key"),
    "Procedure.code": (CG.Procedure, (((CG.hasCode, OUT, CG.Concept),),), "key"),
    "Procedure.reasons": (CG.Procedure, (((CG.hasReason, OUT, CG.Concept),),), "key"),
    "Procedure.performers": (
        CG.Procedure,
        (((CG.hasParticipant, OUT, CG.Practitioner),),),
        "key",
    ),
    # appointment
    "Appointment.patient": (CG.Appointment, (((CG.hasAppointment, IN, CG.Patient),),), "key"),
    "Appointment.practitioners": (
        CG.Appointment,
        (((CG.hasParticipant, OUT, CG.Practitioner),),),
        "key",
    ),
    "Appointment.locations": (CG.Appointment, (((CG.atLocation, OUT, CG.Location),),), "key"),
    "Appointment.encounter": (
        CG.Appointment,
        (((CG.forEncounter, OUT, CG.Encounter),),),
        "key",
    ),
    # imaging
    "ImagingStudy.patient": (
        CG.ImagingStudy,
        (((CG.hasImagingStudy, IN, CG.Patient),),),
        "key",
    ),
    "ImagingStudy.series": (
        CG.ImagingStudy,
        (((CG.hasSeries, OUT, CG.ImagingSeries),),),
        "seriesNumber",
    ),
    "ImagingStudy.encounter": (
        CG.ImagingStudy,
        (((CG.forEncounter, OUT, CG.Encounter),),),
        "key",
    ),
    "ImagingStudy.referrer": (
        CG.ImagingStudy,
        (((CG.referredBy, OUT, CG.Practitioner),),),
        "key",
    ),
    "ImagingStudy.performedAt": (
        CG.ImagingStudy,
        (((CG.performedAt, OUT, CG.Organization),),),
        "key",
    ),
    "ImagingStudy.basedOn": (
        CG.ImagingStudy,
        (((CG.basedOn, OUT, CG.ServiceRequest),),),
        "key",
    ),
    "ImagingSeries.study": (
        CG.ImagingSeries,
        (((CG.hasSeries, IN, CG.ImagingStudy),),),
        "key",
    ),
    # orders
    "ServiceRequest.patient": (
        CG.ServiceRequest,
        (((CG.hasServiceRequest, IN, CG.Patient),),),
        "key",
    ),
    "ServiceRequest.encounter": (
        CG.ServiceRequest,
        (((CG.forEncounter, OUT, CG.Encounter),),),
        "key",
    ),
    "ServiceRequest.requester": (
        CG.ServiceRequest,
        (((CG.referredBy, OUT, CG.Practitioner),),),
        "key",
    ),
    "ServiceRequest.imagingStudies": (
        CG.ServiceRequest,
        (((CG.basedOn, IN, CG.ImagingStudy),),),
        "time",
    ),
    # financial
    "Claim.patient": (CG.Claim, (((CG.hasClaim, IN, CG.Patient),),), "key"),
    "Claim.items": (CG.Claim, (((CG.hasItem, OUT, CG.ClaimItem),),), "sequence"),
    "Claim.remittances": (CG.Claim, (((CG.remits, IN, CG.Remittance),),), "time"),
    "Claim.providers": (
        CG.Claim,
        (
            ((CG.hasProvider, OUT, CG.Practitioner),),
            ((CG.hasProvider, OUT, CG.Organization),),
        ),
        "key",
    ),
    "Claim.payer": (CG.Claim, (((CG.hasPayer, OUT, CG.Payer),),), "key"),
    "Claim.coverage": (CG.Claim, (((CG.coveredBy, OUT, CG.Coverage),),), "key"),
    "Claim.encounter": (CG.Claim, (((CG.forEncounter, OUT, CG.Encounter),),), "key"),
    "Claim.diagnoses": (CG.Claim, (((CG.billsDiagnosis, OUT, CG.Concept),),), "key"),
    "ClaimItem.claim": (CG.ClaimItem, (((CG.hasItem, IN, CG.Claim),),), "key"),
    "ClaimItem.diagnoses": (CG.ClaimItem, (((CG.billsDiagnosis, OUT, CG.Concept),),), "key"),
    "ClaimItem.code": (CG.ClaimItem, (((CG.hasCode, OUT, CG.Concept),),), "key"),
    "Remittance.adjustmentReasons": (
        CG.Remittance,
        (((CG.adjustedFor, OUT, CG.Concept),),),
        "key",
    ),
    "Remittance.remarks": (CG.Remittance, (((CG.hasRemark, OUT, CG.Concept),),), "key"),
    "Remittance.claim": (CG.Remittance, (((CG.remits, OUT, CG.Claim),),), "key"),
    "Remittance.payer": (CG.Remittance, (((CG.paidBy, OUT, CG.Payer),),), "key"),
    "Coverage.patient": (CG.Coverage, (((CG.hasCoverage, IN, CG.Patient),),), "key"),
    "Coverage.payer": (CG.Coverage, (((CG.hasPayer, OUT, CG.Payer),),), "key"),
    "Coverage.claims": (CG.Coverage, (((CG.coveredBy, IN, CG.Claim),),), "time"),
}

NAMES = frozenset(_SPECS)

# how a node of a class carries its codes, for `underCode`: chains from it to a Concept
_CODED: dict[URIRef, tuple[tuple[tuple[URIRef, bool, URIRef], ...], ...]] = {
    CG.Encounter: (
        ((CG.hasReason, OUT, CG.Concept),),
        ((CG.hasDiagnosis, OUT, CG.Condition), (CG.hasCode, OUT, CG.Concept)),
        ((CG.forEncounter, IN, CG.Condition), (CG.hasCode, OUT, CG.Concept)),
    ),
    CG.Condition: (((CG.hasCode, OUT, CG.Concept),),),
    CG.Procedure: (((CG.hasCode, OUT, CG.Concept),), ((CG.hasReason, OUT, CG.Concept),)),
    CG.Claim: (((CG.billsDiagnosis, OUT, CG.Concept),),),
    # a study by the reason of the visit it belongs to
    CG.ImagingStudy: (((CG.forEncounter, OUT, CG.Encounter), (CG.hasReason, OUT, CG.Concept)),),
}


def ontology() -> Ontology:
    """The ontology the API reads the graph with."""
    return load_ontology()


def path(name: str) -> TraversalPath:
    """The traversal behind a field, by ``Type.field``."""
    return _build(ontology(), name)


@lru_cache(maxsize=256)
def _build(onto: Ontology, name: str) -> TraversalPath:
    start, chains, order = _SPECS[name]
    built = _steps(onto, chains)
    sources = name == "Entity.sources"
    targets = {chain[-1][2] for chain in chains}
    coded = _CODED.get(next(iter(targets))) if len(targets) == 1 else None
    return TraversalPath(
        onto.classes[start].name,
        built,
        order=order,
        with_run=sources,
        coded=_steps(onto, coded) if coded else (),
    )


def _steps(
    onto: Ontology, chains: tuple[tuple[tuple[URIRef, bool, URIRef], ...], ...]
) -> tuple[tuple[Step, ...], ...]:
    return tuple(
        tuple(
            Step(onto.relationship_type(prop), out, onto.classes[cls].name)
            for prop, out, cls in chain
        )
        for chain in chains
    )


@lru_cache(maxsize=256)
def _events(onto: Ontology, start: URIRef, kind: URIRef) -> TraversalPath:
    wanted = onto.subclasses(kind)
    ups = set(onto.superclasses(start))
    entities = onto.subclasses(CG.Entity)
    chains: list[tuple[Step, ...]] = []
    reached: set[URIRef] = set()  # classes one step away, events or not
    for prop in sorted(onto.object_properties.values(), key=lambda p: p.name):
        if prop.graph_name is None:
            continue
        if not {*prop.domain, *prop.range} <= entities:
            # never through a Concept: one code is shared by every patient's records, so an
            # encounter's reason would lead to every other encounter with that reason
            continue
        for out, here, there in ((OUT, prop.domain, prop.range), (IN, prop.range, prop.domain)):
            if not ups & set(here):
                continue
            for cls in there:
                reached.add(cls)
                label = _event_label(onto, cls, kind, wanted)
                if label:
                    chains.append((Step(prop.graph_name, out, label),))
    direct = {c for c in reached if c in wanted}
    for prop in sorted(onto.object_properties.values(), key=lambda p: p.name):
        if prop.graph_name is None:
            continue
        for cls in prop.domain:
            # an event of the kind that the start node does not reach in one step, but that
            # points at something it does reach (a remittance at a patient's claim)
            if (
                cls not in wanted
                or cls in direct
                or any(up in direct for up in onto.superclasses(cls))
            ):
                continue
            for target in prop.range:
                if target in reached:
                    first = _first_step(onto, ups, target)
                    if first:
                        chains.append((first, Step(prop.graph_name, IN, onto.classes[cls].name)))
    unique = tuple(dict.fromkeys(chains))
    return TraversalPath(onto.classes[start].name, unique, order="time", distinct=True)


def _event_label(
    onto: Ontology, cls: URIRef, kind: URIRef, wanted: frozenset[URIRef]
) -> str | None:
    if cls in wanted:
        return onto.classes[cls].name
    if kind in onto.subclasses(cls):  # the range is broader than the kind: only the kind
        return onto.classes[kind].name
    return None


def _first_step(onto: Ontology, ups: set[URIRef], target: URIRef) -> Step | None:
    for prop in sorted(onto.object_properties.values(), key=lambda p: p.name):
        if prop.graph_name and ups & set(prop.domain) and target in prop.range:
            return Step(prop.graph_name, OUT, onto.classes[target].name)
    return None


def events(start: URIRef, kind: URIRef) -> TraversalPath:
    """Events of ``kind`` (and its subclasses) of a node of class ``start``."""
    return _events(ontology(), start, kind)


# how an event of any kind carries codes, for a timeline `underCode`: its own codes (a visit's
# reason, a condition's or procedure's code, a claim's billed diagnoses), its diagnoses' codes,
# or those of the visit it is for (the images, orders, appointments and claims that followed)
_TIMELINE_CODED = (
    ((CG.hasReason, OUT, CG.Concept),),
    ((CG.hasCode, OUT, CG.Concept),),
    ((CG.billsDiagnosis, OUT, CG.Concept),),
    ((CG.hasDiagnosis, OUT, CG.Condition), (CG.hasCode, OUT, CG.Concept)),
    ((CG.forEncounter, OUT, CG.Encounter), (CG.hasReason, OUT, CG.Concept)),
    (
        (CG.forEncounter, OUT, CG.Encounter),
        (CG.hasDiagnosis, OUT, CG.Condition),
        (CG.hasCode, OUT, CG.Concept),
    ),
)


def coded_events(start: URIRef, kind: URIRef) -> TraversalPath:
    """:func:`events`, with the ways an event carries codes (for ``underCode``)."""
    return replace(events(start, kind), coded=_steps(ontology(), _TIMELINE_CODED))


def event_kind(name: str) -> URIRef:
    """The ontology class an events query asks for, by name or label (any case)."""
    from caregraph.api.errors import BadArgumentError  # here: errors is API-facing, paths is not

    onto = ontology()
    wanted = name.strip().lower().replace(" ", "")
    kinds = sorted(onto.classes[c].name for c in onto.subclasses(CG.Event))
    for cls in onto.subclasses(CG.Event):
        c = onto.classes[cls]
        if wanted in (c.name.lower(), c.label.lower().replace(" ", "")):
            return cls
    raise BadArgumentError("kind", f"not an event class of the ontology; one of {', '.join(kinds)}")
