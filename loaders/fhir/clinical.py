"""Visits, diagnoses, procedures and images: Encounter, Condition, Procedure, ImagingStudy.

Codes are Concepts (loaders/concepts.py): a condition's and a procedure's code, and an
encounter's or procedure's reason, are linked to the Concept of every coding that has a system
(HAS_CODE, HAS_REASON); the first coding is also kept as a token on the node, as for other
coded elements.
"""

from __future__ import annotations

from caregraph.loaders import keys, roles
from caregraph.loaders.fhir.mapping import Ctx, Mapper, Res
from caregraph.loaders.fhir.values import (
    RFC3986,
    Json,
    business_identifiers,
    clean,
    coding_token,
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
from caregraph.loaders.records import Identifier, Node, RecordBuilder, Ref
from caregraph.ontology.vocab import CG


def _is_visit_number(i: Identifier) -> bool:
    return i.type == "VN"


def encounter(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    business = business_identifiers(body)
    visit = next((i for i in business if _is_visit_number(i)), business[0] if business else None)
    key, ids = ctx.identify(res, prefer=_is_visit_number, business=business)
    period = obj(body.get("period"))
    start = string(period.get("start"))
    kind = string(obj(body.get("class")).get("code"))
    props = clean(
        {
            CG.status: string(body.get("status")),
            CG.encounterClass: kind,
            CG.encounterType: concept_token(first(body.get("type"))),
            CG.start: start,
            CG.end: string(period.get("end")),
            CG.reasonCode: concept_token(first(body.get("reasonCode"))),
            CG.visitNumber: visit.value if visit else None,
            CG.display: f"{kind} {start[:10]}".strip() or "encounter",
        }
    )
    enc = b.add(Node(CG.Encounter, key, props, ids))
    b.link(CG.hasEncounter, refs.to(body.get("subject"), res.at("subject"), "Patient"), enc)
    for i, reason in enumerate(objs(body.get("reasonCode"))):
        for code in ctx.codes(res.at(f"reasonCode[{i}]"), reason):
            b.link(CG.hasReason, enc, code.ref)
    for i, diagnosis in enumerate(objs(body.get("diagnosis"))):
        path = res.at(f"diagnosis[{i}].condition")
        diagnosed = refs.to(diagnosis.get("condition"), path, "Condition", "Procedure")
        use = concept_code(diagnosis.get("use"))
        b.link(
            CG.hasDiagnosis,
            enc,
            diagnosed,
            clean({CG.role: use, CG.rank: integer(diagnosis.get("rank"))}),
        )
    for i, part in enumerate(objs(body.get("participant"))):
        doc = refs.to(
            part.get("individual"), res.at(f"participant[{i}].individual"), "Practitioner"
        )
        role = roles.role(concept_code(first(part.get("type"))))
        b.link(CG.hasParticipant, enc, doc, clean({CG.role: role}))
    provider = refs.to(body.get("serviceProvider"), res.at("serviceProvider"), "Organization")
    b.link(CG.serviceProvider, enc, provider)
    for i, loc in enumerate(objs(body.get("location"))):
        b.link(
            CG.atLocation,
            enc,
            refs.to(loc.get("location"), res.at(f"location[{i}].location"), "Location"),
        )
    for appt in refs.all(body.get("appointment"), res.at("appointment"), "Appointment"):
        b.link(CG.forEncounter, appt, enc)
    return enc


def _moment(res: Res, ctx: Ctx, element: str, end: bool = False) -> str:
    """``element[x]`` as a date-time: the dateTime, or the start (``end``: the end) of the
    Period. An Age, Range or string says when only loosely: left out, with a warning."""
    body = res.body
    given = string(body.get(f"{element}DateTime"))
    if given:
        return given
    period = obj(body.get(f"{element}Period"))
    if period:
        return string(period.get("end" if end else "start"))
    for kind in ("Age", "Range", "String", "Boolean"):
        if f"{element}{kind}" in body:
            ctx.warn(
                "unusual-value",
                f"{res.at(element + kind)} is not a date or time: loaded without {element}",
            )
    return ""


def condition(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    key, ids = ctx.identify(res)
    code = obj(body.get("code"))
    categories = [concept_code(c) for c in objs(body.get("category"))]
    props = clean(
        {
            CG.clinicalStatus: concept_code(body.get("clinicalStatus")),
            CG.verificationStatus: concept_code(body.get("verificationStatus")),
            CG.category: list(dict.fromkeys(c for c in categories if c)),
            CG.onset: _moment(res, ctx, "onset"),
            CG.abatement: _moment(res, ctx, "abatement", end=True),
            CG.recordedDate: string(body.get("recordedDate")),
            CG.display: concept_text(code) or "condition",
        }
    )
    node = b.add(Node(CG.Condition, key, props, ids))
    b.link(CG.hasCondition, refs.to(body.get("subject"), res.at("subject"), "Patient"), node)
    b.link(CG.forEncounter, node, refs.to(body.get("encounter"), res.at("encounter"), "Encounter"))
    for concept in ctx.codes(res.at("code"), code):
        b.link(CG.hasCode, node, concept.ref)
    return node


def procedure(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    key, ids = ctx.identify(res)
    code = obj(body.get("code"))
    start = _moment(res, ctx, "performed")
    reasons = objs(body.get("reasonCode"))
    props = clean(
        {
            CG.status: string(body.get("status")),
            CG.start: start,
            CG.end: string(obj(body.get("performedPeriod")).get("end")),
            CG.procedureCode: concept_token(code),
            CG.reasonCode: concept_token(reasons[0]) if reasons else "",
            CG.display: f"{concept_text(code) or 'procedure'} {start[:10]}".strip(),
        }
    )
    node = b.add(Node(CG.Procedure, key, props, ids))
    b.link(CG.hasProcedure, refs.to(body.get("subject"), res.at("subject"), "Patient"), node)
    b.link(CG.forEncounter, node, refs.to(body.get("encounter"), res.at("encounter"), "Encounter"))
    for concept in ctx.codes(res.at("code"), code):
        b.link(CG.hasCode, node, concept.ref)
    for i, reason in enumerate(reasons):
        for concept in ctx.codes(res.at(f"reasonCode[{i}]"), reason):
            b.link(CG.hasReason, node, concept.ref)
    for i, performer in enumerate(objs(body.get("performer"))):
        doc = refs.to(performer.get("actor"), res.at(f"performer[{i}].actor"), "Practitioner")
        function = obj(performer.get("function"))
        role = roles.role(concept_code(function), concept_text(function)) or "performer"
        b.link(CG.hasParticipant, node, doc, {CG.role: role})
    b.link(CG.atLocation, node, refs.to(body.get("location"), res.at("location"), "Location"))
    return node


def _study_uid(ident: Json) -> str:
    """A Study Instance UID: system urn:dicom:uid, or (as Synthea writes it) urn:ietf:rfc:3986
    with a urn:oid: value."""
    system, value = string(ident.get("system")), string(ident.get("value"))
    if system == keys.DICOM_UID_SYSTEM or (system == RFC3986 and value.startswith("urn:oid:")):
        return value.removeprefix("urn:oid:")
    return ""


def imaging_study(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    raw = objs(body.get("identifier"))
    uid = next((u for u in map(_study_uid, raw) if u), "")
    accession = next((i for i in raw if identifier_type(i) == "ACSN"), {})
    # The accession is a property only (as DICOM has it): as an identifier it would also
    # name the order it came from, and the identity step would make the two one node.
    business = [
        i for i in business_identifiers(body)
        if i.type != "ACSN" and not _study_uid({"system": i.system, "value": i.value})
    ]  # fmt: skip
    if uid:
        business.insert(0, Identifier(keys.DICOM_UID_SYSTEM, uid))
    key, ids = ctx.identify(res, business=business)
    series = objs(body.get("series"))
    modality = [string(m.get("code")) for m in objs(body.get("modality"))]
    if not any(modality):  # R4 moved it to the series; the study's is what its series have
        modality = [string(obj(s.get("modality")).get("code")) for s in series]
    modality = list(dict.fromkeys(m for m in modality if m))
    start = string(body.get("started"))
    description = string(body.get("description"))
    assigner = obj(accession.get("assigner"))
    props = clean(
        {
            CG.studyInstanceUid: uid,
            CG.status: string(body.get("status")),
            CG.start: start,
            CG.modality: modality,
            CG.numberOfSeries: integer(body.get("numberOfSeries")),
            CG.numberOfInstances: integer(body.get("numberOfInstances")),
            CG.description: description,
            CG.procedureCode: concept_token(first(body.get("procedureCode"))),
            CG.accessionNumber: string(accession.get("value")),
            CG.accessionIssuer: string(obj(assigner.get("identifier")).get("value"))
            or string(assigner.get("display"))
            or string(accession.get("system")),
            CG.display: description or f"{' '.join(modality)} study {start[:10]}".strip(),
        }
    )
    study = b.add(Node(CG.ImagingStudy, key, props, ids))
    patient = refs.to(body.get("subject"), res.at("subject"), "Patient")
    b.link(CG.hasImagingStudy, patient, study)
    b.link(CG.forEncounter, study, refs.to(body.get("encounter"), res.at("encounter"), "Encounter"))
    referrer = refs.to(body.get("referrer"), res.at("referrer"), "Practitioner")
    b.link(CG.referredBy, study, referrer)
    for order in refs.all(body.get("basedOn"), res.at("basedOn"), "ServiceRequest"):
        b.link(CG.basedOn, study, order)
    for s in series:
        b.link(CG.hasSeries, study, _series(s, b))
    return study


def _series(s: Json, b: RecordBuilder) -> Ref:
    uid = string(s.get("uid")).removeprefix("urn:oid:")
    modality = string(obj(s.get("modality")).get("code"))
    number = integer(s.get("number"))
    description = string(s.get("description"))
    props = clean(
        {
            CG.seriesInstanceUid: uid,
            CG.seriesNumber: number,
            CG.modality: [modality] if modality else [],
            CG.bodySite: coding_token(s.get("bodySite")),
            CG.description: description,
            CG.numberOfInstances: integer(s.get("numberOfInstances")),
            CG.display: description or f"{modality} series {number or ''}".strip(),
        }
    )
    ident = Identifier(keys.DICOM_UID_SYSTEM, uid)
    return b.add(Node(CG.ImagingSeries, keys.uid_key(uid), props, (ident,)))


MAPPERS: dict[str, Mapper] = {
    "Encounter": encounter,
    "Condition": condition,
    "Procedure": procedure,
    "ImagingStudy": imaging_study,
}
