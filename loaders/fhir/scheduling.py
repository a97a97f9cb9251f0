"""The calendar: Appointment, Schedule, Slot."""

from __future__ import annotations

from caregraph.loaders import roles
from caregraph.loaders.fhir.mapping import Ctx, Mapper, Res
from caregraph.loaders.fhir.values import (
    clean,
    concept_code,
    concept_text,
    concept_token,
    first,
    identifier_type,
    integer,
    obj,
    objs,
    string,
)
from caregraph.loaders.records import Node, Ref
from caregraph.ontology.vocab import CG


def appointment(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    key, ids = ctx.identify(res)
    raw = objs(body.get("identifier"))
    start = string(body.get("start"))
    description = string(body.get("description"))
    cancel = obj(body.get("cancelationReason"))
    props = clean(
        {
            CG.status: string(body.get("status")),
            CG.start: start,
            CG.end: string(body.get("end")),
            CG.minutesDuration: integer(body.get("minutesDuration")),
            CG.serviceType: concept_token(first(body.get("serviceType"))),
            CG.description: description,
            CG.reasonCode: concept_token(first(body.get("reasonCode"))),
            CG.cancelReason: concept_token(cancel) or concept_text(cancel),
            CG.placerOrderNumber: _typed(raw, "PLAC"),
            CG.fillerOrderNumber: _typed(raw, "FILL"),
            CG.display: description or f"appointment {start[:10]}".strip(),
        }
    )
    appt = b.add(Node(CG.Appointment, key, props, ids))
    for i, part in enumerate(objs(body.get("participant"))):
        actor = refs.to(
            part.get("actor"), res.at(f"participant[{i}].actor"), "Patient", "Practitioner",
            "Location",
        )  # fmt: skip
        if actor is None:
            continue
        if actor.cls == CG.Patient:
            b.link(CG.hasAppointment, actor, appt)
        elif actor.cls == CG.Practitioner:
            role = roles.role(concept_code(first(part.get("type"))))
            b.link(CG.hasParticipant, appt, actor, clean({CG.role: role}))
        else:
            b.link(CG.atLocation, appt, actor)
    for slot in refs.all(body.get("slot"), res.at("slot"), "Slot"):
        b.link(CG.bookedIn, appt, slot)
    return appt


def schedule(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res)
    service = first(body.get("serviceType"))
    props = clean(
        {
            CG.serviceType: concept_token(service),
            CG.display: string(body.get("comment")) or concept_text(service) or "schedule",
        }
    )
    sched = ctx.b.add(Node(CG.Schedule, key, props, ids))
    for actor in ctx.refs.all(body.get("actor"), res.at("actor"), "Practitioner", "Location"):
        ctx.b.link(CG.scheduleFor, sched, actor)
    return sched


def slot(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res)
    start = string(body.get("start"))
    props = clean(
        {
            CG.status: string(body.get("status")),
            CG.start: start,
            CG.end: string(body.get("end")),
            CG.serviceType: concept_token(first(body.get("serviceType"))),
            CG.display: f"slot {start[:16]}".strip(),
        }
    )
    node = ctx.b.add(Node(CG.Slot, key, props, ids))
    ctx.b.link(
        CG.inSchedule, node, ctx.refs.to(body.get("schedule"), res.at("schedule"), "Schedule")
    )
    return node


def _typed(identifiers: list[dict[str, object]], kind: str) -> str:
    """The value of the identifier of a v2-0203 type (PLAC, FILL)."""
    return next((string(i.get("value")) for i in identifiers if identifier_type(i) == kind), "")


MAPPERS: dict[str, Mapper] = {"Appointment": appointment, "Schedule": schedule, "Slot": slot}
