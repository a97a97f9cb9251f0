"""FHIR JSON values as record values: codes as ``system|code``, money as float, dates as given.

Mapping reads the resource's JSON after the library has validated it, not the library's model
objects: the models turn date-times into ``datetime`` values that lose the source's spelling
(``Z`` becomes ``+00:00``, ``.100`` becomes ``.100000``, partial dates change), and caregraph
keeps date-times as the source wrote them. Validation has already checked every shape, so the
helpers here only guard against what the library coerces (numbers and booleans given as text).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from rdflib import URIRef

from caregraph.loaders import keys
from caregraph.loaders.records import Identifier, Props, Value
from caregraph.ontology.vocab import CG

Json = dict[str, Any]

# The NPI under the systems seen in the wild: the FHIR one, its OID, and a CMS example's typo.
NPI_SYSTEMS = frozenset(
    {keys.NPI_SYSTEM, "urn:oid:2.16.840.1.113883.4.6", "http://hl7.org.fhir/sid/us-npi"}
)
RFC3986 = "urn:ietf:rfc:3986"


def obj(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def objs(value: Any) -> list[Json]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def strings(value: Any) -> list[str]:
    return (
        [v.strip() for v in value if isinstance(v, str) and v.strip()]
        if isinstance(value, list)
        else []
    )


def number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value.strip()))
        except InvalidOperation:
            return None
    return None


def integer(value: Any) -> int | None:
    n = number(value)
    return int(n) if n is not None and n.is_integer() else None


def boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in ("true", "false"):
        return value.strip() == "true"
    return None


def money(value: Any) -> float | None:
    """A Money's value as float."""
    return number(obj(value).get("value"))


def currency(*values: Any) -> str:
    """The first currency among Money values."""
    for v in values:
        code = string(obj(v).get("currency"))
        if code:
            return code
    return ""


def date_part(value: Any) -> str:
    """The date of a date or date-time, as YYYY-MM-DD (or the partial date as given)."""
    return string(value)[:10]


def coding_token(coding: Any) -> str:
    """``system|code``; the bare code when the coding has no system."""
    c = obj(coding)
    code = string(c.get("code"))
    if not code:
        return ""
    system = string(c.get("system"))
    return f"{system}|{code}" if system else code


def concept_token(concept: Any) -> str:
    """The first coding of a CodeableConcept as a token, preferring one with a system."""
    codings = objs(obj(concept).get("coding"))
    for c in codings:
        if string(c.get("system")) and string(c.get("code")):
            return coding_token(c)
    for c in codings:
        if string(c.get("code")):
            return coding_token(c)
    return ""


def concept_code(concept: Any) -> str:
    """The first code of a CodeableConcept, without its system."""
    for c in objs(obj(concept).get("coding")):
        code = string(c.get("code"))
        if code:
            return code
    return ""


def concept_codes(concept: Any) -> set[str]:
    return {string(c.get("code")) for c in objs(obj(concept).get("coding"))} - {""}


def concept_text(concept: Any) -> str:
    """What a person reads: the text, else the first display, else the code."""
    cc = obj(concept)
    text = string(cc.get("text"))
    if text:
        return text
    for c in objs(cc.get("coding")):
        display = string(c.get("display"))
        if display:
            return display
    return concept_code(cc)


def first(values: Any) -> Json:
    items = objs(values)
    return items[0] if items else {}


def human_name(names: Any) -> Props:
    """The official (else usual, else first current) name: family, given names, text, display."""
    candidates = [n for n in objs(names) if string(n.get("use")) not in ("old", "maiden")]
    name: Json = {}
    for use in ("official", "usual"):
        name = next((n for n in candidates if string(n.get("use")) == use), {})
        if name:
            break
    if not name and candidates:
        name = candidates[0]
    family = string(name.get("family"))
    given = strings(name.get("given"))
    spelled = " ".join([*given, family]).strip()
    return clean(
        {
            CG.familyName: family,
            CG.givenNames: given,
            CG.nameText: string(name.get("text")) or spelled,
            CG.display: spelled or string(name.get("text")),
        }
    )


def address(addresses: Any) -> Props:
    """The first current address (a list, or Location's single address)."""
    items = [addresses] if isinstance(addresses, dict) else objs(addresses)
    current = [a for a in items if string(a.get("use")) != "old"] or items
    a = current[0] if current else {}
    return clean(
        {
            CG.addressLine: ", ".join(strings(a.get("line"))),
            CG.city: string(a.get("city")),
            CG.state: string(a.get("state")),
            CG.postalCode: string(a.get("postalCode")),
            CG.country: string(a.get("country")),
        }
    )


def phone(telecom: Any) -> str:
    for t in objs(telecom):
        if string(t.get("system")) == "phone" and string(t.get("value")):
            return string(t.get("value"))
    return ""


def normal_system(system: str) -> str:
    """Identifier systems that mean one namespace, spelt one way (the NPI's)."""
    return keys.NPI_SYSTEM if system in NPI_SYSTEMS else system


def identifier_type(ident: Json) -> str:
    """The identifier's type code (v2-0203 MR, NPI, MB, VN, ACSN ...), or ""."""
    return concept_code(ident.get("type"))


def business_identifiers(resource: Json) -> list[Identifier]:
    """``.identifier`` as Identifiers: those with a system (or typed NPI) and a value."""
    out: dict[str, Identifier] = {}
    for ident in objs(resource.get("identifier")):
        value = string(ident.get("value"))
        kind = identifier_type(ident)
        system = normal_system(string(ident.get("system")))
        if not system and kind == "NPI":
            system = keys.NPI_SYSTEM
        if not value or not system:
            continue  # a value without a system names nothing outside its source
        if system == keys.NPI_SYSTEM:
            kind = "NPI"
        found = Identifier(system, value, kind or None)
        out.setdefault(found.token, found)
    return list(out.values())


def is_npi(value: str) -> bool:
    """Ten digits: what the ontology takes as an NPI (Synthea writes short sequence numbers)."""
    return len(value) == 10 and value.isdigit()


def clean(props: dict[URIRef, Value | None]) -> Props:
    """Without the empty values: a property the source does not give is left out."""
    return {k: v for k, v in props.items() if v is not None and v != "" and v != []}
