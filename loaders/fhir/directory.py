"""Who and where: Patient, Practitioner, PractitionerRole, Organization, Location."""

from __future__ import annotations

from caregraph.loaders import keys
from caregraph.loaders.fhir.mapping import Ctx, Mapper, Res
from caregraph.loaders.fhir.values import (
    address,
    boolean,
    business_identifiers,
    clean,
    concept_codes,
    concept_text,
    concept_token,
    first,
    human_name,
    is_npi,
    phone,
    string,
)
from caregraph.loaders.records import Identifier, Node, Props, Ref
from caregraph.ontology.vocab import CG

ORG_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"


def _is_mr(i: Identifier) -> bool:
    return i.type == "MR"


def _is_npi(i: Identifier) -> bool:
    return i.system == keys.NPI_SYSTEM


def _npi(ids: tuple[Identifier, ...]) -> str | None:
    """The NPI property: only a well-formed (ten-digit) NPI; any NPI token still keys."""
    return next((i.value for i in ids if _is_npi(i) and is_npi(i.value)), None)


def patient(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res, prefer=_is_mr)
    deceased = boolean(body.get("deceasedBoolean"))
    if deceased is None and string(body.get("deceasedDateTime")):
        deceased = True
    props: Props = {
        **human_name(body.get("name")),
        **clean(
            {
                CG.birthDate: string(body.get("birthDate")),
                CG.gender: string(body.get("gender")),
                CG.deceased: deceased,
                CG.phone: phone(body.get("telecom")),
            }
        ),
        **address(body.get("address")),
    }
    return ctx.b.add(Node(CG.Patient, key, props, ids))


def practitioner(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res, prefer=_is_npi)
    props: Props = {
        **human_name(body.get("name")),
        **clean(
            {
                CG.npi: _npi(ids),
                CG.gender: string(body.get("gender")),
                CG.birthDate: string(body.get("birthDate")),
                CG.phone: phone(body.get("telecom")),
            }
        ),
        **address(body.get("address")),
    }
    return ctx.b.add(Node(CG.Practitioner, key, props, ids))


def practitioner_role(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res)
    specialty = first(body.get("specialty"))
    props = clean(
        {
            CG.specialty: concept_token(specialty),
            CG.phone: phone(body.get("telecom")),
            CG.display: concept_text(first(body.get("code")))
            or concept_text(specialty)
            or "practitioner role",
        }
    )
    role = ctx.b.add(Node(CG.PractitionerRole, key, props, ids))
    refs = ctx.refs
    ctx.b.link(
        CG.roleOf, role, refs.to(body.get("practitioner"), res.at("practitioner"), "Practitioner")
    )
    ctx.b.link(
        CG.roleAt, role, refs.to(body.get("organization"), res.at("organization"), "Organization")
    )
    return role


def organization(res: Res, ctx: Ctx) -> Ref:
    """An organization; a payer (type ``pay``, or named as one in its bundle) is a Payer."""
    body = res.body
    key, ids = ctx.identify(res, prefer=_is_npi)
    types = body.get("type") or []
    is_payer = any("pay" in concept_codes(t) for t in types) or (
        res.id is not None and res.id in ctx.payers
    )
    business = business_identifiers(body)
    name = string(body.get("name"))
    props = clean(
        {
            CG.name: name,
            CG.orgType: concept_token(first(types)),
            CG.npi: _npi(ids),
            CG.payerId: business[0].value if is_payer and business else None,
            CG.phone: phone(body.get("telecom")),
            CG.display: name,
        }
    )
    cls = CG.Payer if is_payer else CG.Organization
    org = ctx.b.add(Node(cls, key, {**props, **address(body.get("address"))}, ids))
    ctx.b.link(CG.partOf, org, ctx.refs.to(body.get("partOf"), res.at("partOf"), "Organization"))
    return org


def location(res: Res, ctx: Ctx) -> Ref:
    body = res.body
    key, ids = ctx.identify(res)
    name = string(body.get("name"))
    props = clean({CG.name: name, CG.phone: phone(body.get("telecom")), CG.display: name})
    loc = ctx.b.add(Node(CG.Location, key, {**props, **address(body.get("address"))}, ids))
    managed = ctx.refs.to(
        body.get("managingOrganization"), res.at("managingOrganization"), "Organization"
    )
    ctx.b.link(CG.managedBy, loc, managed)
    return loc


MAPPERS: dict[str, Mapper] = {
    "Patient": patient,
    "Practitioner": practitioner,
    "PractitionerRole": practitioner_role,
    "Organization": organization,
    "Location": location,
}
