"""Visits and images: Encounter, ImagingStudy (with its series)."""

from __future__ import annotations

from loaders import keys, roles
from loaders.fhir.mapping import Builder, Ctx, Mapper, Res
from loaders.fhir.values import (
    RFC3986,
    Json,
    business_identifiers,
    clean,
    coding_token,
    concept_code,
    concept_token,
    first,
    identifier_type,
    integer,
    obj,
    objs,
    string,
)
from loaders.records import Identifier, Node, Ref
from ontology.vocab import CG


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


def _series(s: Json, b: Builder) -> Ref:
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
    return b.add(Node(CG.ImagingSeries, keys.series_key(uid), props, (ident,)))


MAPPERS: dict[str, Mapper] = {"Encounter": encounter, "ImagingStudy": imaging_study}
