"""Money: Claim (with its items), ClaimResponse and ExplanationOfBenefit (remittances), Coverage.

A claim is keyed by its control number within its submitter: ``Claim.identifier`` (value
within system), else the resource id within the source. An ExplanationOfBenefit is a payer's
remittance and, where it does not point at a Claim resource (CARIN Blue Button EOBs are all
there is of the claim), also the claim it pays: keyed by ``EOB.claim``'s identifier, else the
EOB's own (preferring CARIN's unique claim id). Where it points at a Claim resource, that
resource says what the claim is, and the EOB adds only the coverage and visits it names.

Codes are Concepts (loaders/concepts.py): each coding of a ``diagnosisCodeableConcept`` is a
BILLS_DIAGNOSIS link from the claim with its type as role and its sequence as rank, and from
each item whose ``diagnosisSequence`` names it (ranked in that order); each coding of an
item's ``productOrService`` is a HAS_CODE link from the item.
"""

from __future__ import annotations

from caregraph.loaders import keys
from caregraph.loaders.concepts import Coded
from caregraph.loaders.fhir.errors import NotKeyable
from caregraph.loaders.fhir.mapping import Ctx, Mapper, Res
from caregraph.loaders.fhir.references import coverage_system
from caregraph.loaders.fhir.values import (
    Json,
    business_identifiers,
    clean,
    concept_code,
    concept_codes,
    concept_text,
    concept_token,
    currency,
    date_part,
    first,
    integer,
    money,
    normal_system,
    number,
    obj,
    objs,
    string,
)
from caregraph.loaders.records import Identifier, Node, Ref
from caregraph.ontology.vocab import CG

UNIQUE_CLAIM_ID = "uc"  # CARIN BB identifier type: the payer's id of the claim
MEMBER_TYPES = frozenset({"MB", "SN"})  # v2-0203 member number, subscriber number


def claim(res: Res, ctx: Ctx) -> Ref:
    business = business_identifiers(res.body)
    if business:
        submitter, control = business[0].system, business[0].value
        ids = [Identifier(keys.claim_system(submitter), control)]
        local = ctx.local(res)
        if local is not None:
            ids.append(local)
        key = keys.claim_key(submitter, control)
    else:
        local = ctx.local(res)
        if local is None:
            raise NotKeyable(res.type)
        submitter, control, key, ids = ctx.source, local.value, local.token, [local]
    return _claim(res, ctx, key, tuple(ids), control, submitter)


def claim_response(res: Res, ctx: Ctx) -> Ref:
    remittance = _remittance(res, ctx)
    paid = ctx.refs.to(res.body.get("request"), res.at("request"), "Claim")
    ctx.b.link(CG.remits, remittance, paid)
    return remittance


def explanation_of_benefit(res: Res, ctx: Ctx) -> Ref:
    body, refs, b = res.body, ctx.refs, ctx.b
    remittance = _remittance(res, ctx)
    named = obj(body.get("claim"))
    paid: Ref | None
    if isinstance(named.get("reference"), str):
        paid = refs.to(named, res.at("claim"), "Claim")
        for i, ins in enumerate(objs(body.get("insurance"))):
            cover = refs.to(ins.get("coverage"), res.at(f"insurance[{i}].coverage"), "Coverage")
            b.link(CG.coveredBy, paid, cover)
        for i, item in enumerate(objs(body.get("item"))):
            for visit in refs.all(
                item.get("encounter"), res.at(f"item[{i}].encounter"), "Encounter"
            ):
                b.link(CG.forEncounter, paid, visit)
    else:
        submitter, control = _claim_number(res, ctx, obj(named.get("identifier")))
        ident = Identifier(keys.claim_system(submitter), control)
        paid = _claim(res, ctx, ident.token, (ident,), control, submitter)
    b.link(CG.remits, remittance, paid)
    return remittance


def coverage(res: Res, ctx: Ctx) -> Ref:
    body, b = res.body, ctx.b
    business = business_identifiers(body)
    member = next((i for i in business if i.type in MEMBER_TYPES), None) or (
        business[0] if business else None
    )
    own = [Identifier(coverage_system(i.system), i.value, i.type) for i in business]
    key, ids = ctx.identify(res, prefer=lambda i: i.type in MEMBER_TYPES, business=own)
    classes = objs(body.get("class"))
    plan = next((c for c in classes if "plan" in concept_codes(c.get("type"))), None) or next(
        (c for c in classes if "group" in concept_codes(c.get("type"))), {}
    )
    plan_name = string(plan.get("name")) or string(plan.get("value"))
    payor = first(body.get("payor"))
    props = clean(
        {
            CG.status: string(body.get("status")),
            CG.memberId: member.value if member else None,
            CG.subscriberId: string(body.get("subscriberId")),
            CG.planName: plan_name,
            CG.relationship: concept_code(body.get("relationship")),
            CG.display: "coverage "
            + (plan_name or string(payor.get("display")) or concept_text(body.get("type"))),
        }
    )
    cover = b.add(Node(CG.Coverage, key, props, ids))
    beneficiary = ctx.refs.to(body.get("beneficiary"), res.at("beneficiary"), "Patient")
    b.link(CG.hasCoverage, beneficiary, cover)
    for payer in ctx.refs.all(body.get("payor"), res.at("payor"), "Organization", cls=CG.Payer):
        b.link(CG.hasPayer, cover, payer)
    return cover


def _claim_number(res: Res, ctx: Ctx, named: Json) -> tuple[str, str]:
    """Submitter and control number of the claim an EOB pays, when no Claim resource says."""
    system, value = string(named.get("system")), string(named.get("value"))
    if system and value:
        return normal_system(system), value
    business = sorted(business_identifiers(res.body), key=lambda i: i.type != UNIQUE_CLAIM_ID)
    if business:
        return business[0].system, business[0].value
    if res.id:
        return ctx.source, res.id
    raise NotKeyable(res.type)


def _totals(values: object) -> dict[str, float]:
    """Adjudication totals by category code, in the source's order."""
    out: dict[str, float] = {}
    for t in objs(values):
        code, amount = concept_code(t.get("category")), money(t.get("amount"))
        if code and amount is not None:
            out.setdefault(code, amount)
    return out


def _claim(
    res: Res, ctx: Ctx, key: str, ids: tuple[Identifier, ...], control: str, submitter: str
) -> Ref:
    """A claim as a Claim (or an EOB) states it: the claim, its items and whom it names."""
    body, refs, b = res.body, ctx.refs, ctx.b
    billable = obj(body.get("billablePeriod"))
    total = body.get("total")
    totals = _totals(total)
    charge = money(total) if isinstance(total, dict) else totals.get("submitted")
    diagnoses = _diagnoses(body)
    props = clean(
        {
            CG.controlNumber: control,
            CG.submitter: submitter,
            CG.status: string(body.get("status")),
            CG.claimType: concept_code(body.get("type")),
            CG.use: string(body.get("use")),
            CG.totalCharge: charge,
            CG.currency: currency(total, *(t.get("amount") for t in objs(total))),
            CG.serviceStart: date_part(billable.get("start")),
            CG.serviceEnd: date_part(billable.get("end")),
            CG.diagnosisCodes: list(dict.fromkeys(diagnoses.values())),
            CG.display: f"claim {control}",
        }
    )
    node = b.add(Node(CG.Claim, key, props, ids))
    b.link(CG.hasClaim, refs.to(body.get("patient"), res.at("patient"), "Patient"), node)
    provider = refs.to(body.get("provider"), res.at("provider"), "Practitioner", "Organization")
    b.link(CG.hasProvider, node, provider, {CG.role: "billing"})
    team: dict[int, tuple[Ref, str]] = {}
    for i, member in enumerate(objs(body.get("careTeam"))):
        who = refs.to(
            member.get("provider"), res.at(f"careTeam[{i}].provider"), "Practitioner",
            "Organization",
        )  # fmt: skip
        role = concept_code(member.get("role"))
        b.link(CG.hasProvider, node, who, clean({CG.role: role}))
        seq = integer(member.get("sequence"))
        if who is not None and seq is not None:
            team[seq] = (who, role)
    insurer = refs.to(body.get("insurer"), res.at("insurer"), "Organization", cls=CG.Payer)
    b.link(CG.hasPayer, node, insurer)
    for i, ins in enumerate(objs(body.get("insurance"))):
        cover = refs.to(ins.get("coverage"), res.at(f"insurance[{i}].coverage"), "Coverage")
        b.link(CG.coveredBy, node, cover)
    billed = _billed(res, ctx, node)
    for i, item in enumerate(objs(body.get("item"))):
        _item(res, ctx, node, item, i, diagnoses, team, billed)
    return node


def _billed(res: Res, ctx: Ctx, claim: Ref) -> dict[int, list[Coded]]:
    """BILLS_DIAGNOSIS links from the claim, role from the diagnosis's type and rank from its
    sequence (a code repeated in one role keeps its first rank); the Concepts by sequence."""
    by_sequence: dict[int, list[Coded]] = {}
    seen: set[tuple[Coded, str]] = set()
    for i, d in enumerate(objs(res.body.get("diagnosis"))):
        path = res.at(f"diagnosis[{i}].diagnosisCodeableConcept")
        found = ctx.codes(path, d.get("diagnosisCodeableConcept"))
        seq = integer(d.get("sequence")) or i + 1
        by_sequence.setdefault(seq, []).extend(found)
        role = concept_code(first(d.get("type")))
        for code in found:
            if (code, role) not in seen:
                seen.add((code, role))
                props = clean({CG.role: role, CG.rank: seq})
                ctx.b.link(CG.billsDiagnosis, claim, code.ref, props)
    return by_sequence


def _item(
    res: Res,
    ctx: Ctx,
    claim: Ref,
    item: Json,
    index: int,
    diagnoses: dict[int, str],
    team: dict[int, tuple[Ref, str]],
    billed: dict[int, list[Coded]],
) -> None:
    refs, b = ctx.refs, ctx.b
    seq = integer(item.get("sequence")) or index + 1
    served = obj(item.get("servicedPeriod"))
    quantity = number(obj(item.get("quantity")).get("value"))
    price = money(item.get("unitPrice"))
    submitted = _totals(item.get("adjudication")).get("submitted")  # an EOB's line charge
    charge = money(item.get("net"))
    if charge is None and price is not None:
        charge = price * (quantity if quantity is not None else 1.0)
    if charge is None:
        charge = submitted
    code = concept_token(item.get("productOrService"))
    on_date = date_part(item.get("servicedDate"))
    props = clean(
        {
            CG.sequence: seq,
            CG.procedureCode: code,
            CG.quantity: quantity,
            CG.chargeAmount: charge,
            CG.currency: currency(
                item.get("net"),
                item.get("unitPrice"),
                *(a.get("amount") for a in objs(item.get("adjudication"))),
            ),
            CG.serviceStart: on_date or date_part(served.get("start")),
            CG.serviceEnd: on_date or date_part(served.get("end")),
            CG.diagnosisCodes: [
                diagnoses[s] for s in map(integer, item.get("diagnosisSequence") or [])
                if s in diagnoses
            ],
            CG.display: f"item {seq} {code.rsplit('|', 1)[-1]}".strip(),
        }
    )  # fmt: skip
    node = b.add(Node(CG.ClaimItem, keys.item_key(claim.key, seq), props))
    b.link(CG.hasItem, claim, node)
    service = item.get("productOrService")
    for concept in ctx.codes(res.at(f"item[{index}].productOrService"), service):
        b.link(CG.hasCode, node, concept.ref)
    pointed: list[Coded] = []
    for s in map(integer, item.get("diagnosisSequence") or []):
        pointed += [c for c in billed.get(s or 0, []) if c not in pointed]
    for rank, concept in enumerate(pointed, 1):
        b.link(CG.billsDiagnosis, node, concept.ref, {CG.rank: rank})
    for visit in refs.all(item.get("encounter"), res.at(f"item[{index}].encounter"), "Encounter"):
        b.link(CG.forEncounter, claim, visit)
    for s in map(integer, item.get("careTeamSequence") or []):
        if s in team:
            who, role = team[s]
            b.link(CG.hasProvider, node, who, clean({CG.role: role}))


def _diagnoses(body: Json) -> dict[int, str]:
    """Diagnosis codes by sequence, the principal one first."""
    found: list[tuple[bool, int, str]] = []
    for i, d in enumerate(objs(body.get("diagnosis"))):
        code = concept_token(d.get("diagnosisCodeableConcept"))
        if not code:
            continue  # a diagnosisReference names a Condition: not a code of the claim's own
        principal = any("principal" in concept_codes(t) for t in objs(d.get("type")))
        found.append((not principal, integer(d.get("sequence")) or i + 1, code))
    return {seq: code for _, seq, code in sorted(found)}


def _remittance(res: Res, ctx: Ctx) -> Ref:
    """A ClaimResponse or EOB as the payer's remittance: what it paid, and its totals."""
    body = res.body
    key, ids = ctx.identify(res)
    totals = _totals(body.get("total"))
    payment = obj(body.get("payment"))
    # CARIN BB EOBs carry no payment element: the benefit total is what the payer pays.
    paid = money(payment.get("amount"))
    if paid is None:
        paid = totals.get("benefit")
    business = business_identifiers(body)
    billable = obj(body.get("billablePeriod"))
    props = clean(
        {
            CG.paymentAmount: paid,
            CG.totalCharge: totals.get("submitted"),
            CG.patientResponsibility: totals.get("memberliability"),
            CG.adjustments: [f"{code}:{amount:.2f}" for code, amount in totals.items()],
            CG.currency: currency(
                payment.get("amount"), *(t.get("amount") for t in objs(body.get("total")))
            ),
            CG.paymentDate: date_part(payment.get("date")),
            CG.claimStatusCode: string(body.get("outcome")),
            CG.payerControlNumber: business[0].value if business else None,
            CG.status: string(body.get("status")),
            CG.serviceStart: date_part(billable.get("start")),
            CG.serviceEnd: date_part(billable.get("end")),
            CG.display: f"payment {paid:.2f}" if paid is not None else "remittance",
        }
    )
    remittance = ctx.b.add(Node(CG.Remittance, key, props, ids))
    insurer = ctx.refs.to(body.get("insurer"), res.at("insurer"), "Organization", cls=CG.Payer)
    ctx.b.link(CG.paidBy, remittance, insurer)
    return remittance


MAPPERS: dict[str, Mapper] = {
    "Claim": claim,
    "ClaimResponse": claim_response,
    "ExplanationOfBenefit": explanation_of_benefit,
    "Coverage": coverage,
}
