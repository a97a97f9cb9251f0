"""HL7 v2 data types as caregraph values: DTM, CX, XCN, XPN, XAD, PL, EI, CWE.

Each reader takes the field's name (``PID-7``) so that an error can say where, never what.
"""

from __future__ import annotations

import re
from datetime import datetime

from rdflib import URIRef

from caregraph.loaders import concepts, keys
from caregraph.loaders.hl7v2.errors import BadValue
from caregraph.loaders.hl7v2.segments import Rep
from caregraph.loaders.records import Identifier, Node, Props, token
from caregraph.ontology.vocab import CG

DTM_SHAPE = "an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ])"
# Seconds' fraction with its dot as the standard writes it, or without (17-digit stamps).
_DTM = re.compile(
    r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4}|\d{1,4})?([+-]\d{4})?"
)
_OID = re.compile(r"[0-2](\.(0|[1-9]\d*))+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
NPI_OID = "2.16.840.1.113883.4.6"
SSN_OID = "2.16.840.1.113883.4.1"

# HL7 table 0396 names the ontology does not list as code system aliases (the ones it does,
# I10, I10C, I9C, C4, SCT, LN ..., are read through loaders/concepts.py, so an HL7 v2 code
# names the same Concept as the FHIR and X12 spellings of that code).
CODE_SYSTEMS = {
    "SNM": "http://snomed.info/sct",
    "NDC": "http://hl7.org/fhir/sid/ndc",
    "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "UCUM": "http://unitsofmeasure.org",
    # not "HCPT": in HL7 table 0396 that is the Health Care Provider Taxonomy, not HCPCS
}
V2_TABLE = "http://terminology.hl7.org/CodeSystem/v2-"

# HL7 table 0001 -> FHIR administrative gender (the v2-to-FHIR concept map).
GENDERS = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}


def dtm(text: str, field: str) -> str | None:
    """An HL7 DTM/TS as ISO 8601 cut to the precision sent, with the source's offset if any.

    ``2008`` -> ``2008``, ``200803`` -> ``2008-03``, ``2008030510`` -> ``2008-03-05T10``,
    ``200803051030-0500`` -> ``2008-03-05T10:30-05:00``: a missing part is never made up.
    """
    if not text:
        return None
    m = _DTM.fullmatch(text)
    if m is None:
        raise BadValue(field, DTM_SHAPE)
    y, mo, d, h, mi, s, frac, off = m.groups()
    if frac and not s:
        raise BadValue(field, DTM_SHAPE)
    try:
        datetime(int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0))
    except ValueError as e:
        raise BadValue(field, DTM_SHAPE) from e
    zone = ""
    if off:
        if int(off[1:3]) > 14 or int(off[3:5]) > 59:
            raise BadValue(field, DTM_SHAPE)
        zone = f"{off[:3]}:{off[3:]}"
    if h is None:
        return "-".join(p for p in (y, mo, d) if p)
    if frac and not frac.startswith("."):
        frac = "." + frac
    clock = ":".join(p for p in (h, mi, s) if p)
    return f"{y}-{mo}-{d}T{clock}{frac or ''}{zone}"


def date(text: str, field: str) -> str | None:
    """The date part of a DTM (a birth date sent with a time keeps only its day)."""
    value = dtm(text, field)
    return value[:10] if value else None


def gender(text: str, field: str) -> str | None:
    if not text:
        return None
    found = GENDERS.get(text.upper())
    if found is None:
        raise BadValue(field, "an HL7 table 0001 sex code (F, M, O, U, A, N)")
    return found


def issuer(namespace: str, universal: str, universal_type: str) -> str | None:
    """An HD (assigning authority) as an identifier system: its universal id when given."""
    if universal:
        if universal_type.upper() == "ISO" or _OID.fullmatch(universal):
            return f"urn:oid:{universal}"
        if universal_type.upper() == "UUID" or _UUID.fullmatch(universal):
            return f"urn:uuid:{universal.lower()}"
        return universal
    return namespace or None


def id_system(authority: list[str], id_type: str) -> str | None:
    """The system of a CX/XCN/EI identifier from its assigning authority and type code."""
    ns, uid, utype = [*authority, "", "", ""][:3]
    if id_type.upper() == "NPI" or ns.upper() == "NPI" or uid == NPI_OID:
        return keys.NPI_SYSTEM
    if ns.upper() in ("SSA", "USSSA") or uid == SSN_OID:
        return keys.SSN_SYSTEM
    return issuer(ns, uid, utype)


def cx(rep: Rep, source: str, fallback: str) -> Identifier | None:
    """A CX (PID-3, PV1-19): value CX.1, system from CX.4, type CX.5."""
    value = rep.get(1)
    if not value:
        return None
    id_type = rep.get(5)
    system = id_system(rep.comp(4), id_type) or keys.local_system(source, fallback)
    return Identifier(system, value, id_type or None)


def ei(rep: Rep, source: str, fallback: str, id_type: str) -> Identifier | None:
    """An EI (order and appointment numbers): value EI.1 within namespace EI.2 / EI.3."""
    value = rep.get(1)
    if not value:
        return None
    system = issuer(rep.get(2), rep.get(3), rep.get(4)) or keys.local_system(source, fallback)
    return Identifier(system, value, id_type)


def name_props(family: str, given: list[str]) -> Props:
    props: Props = {}
    given = [g for g in given if g]
    if family:
        props[CG.familyName] = family
    if given:
        props[CG.givenNames] = given
    if family or given:
        props[CG.nameText] = " ".join([*given, family]).strip()
    return props


def xpn(rep: Rep) -> Props:
    """An XPN (PID-5): family XPN.1.1, given XPN.2, further given names XPN.3."""
    return name_props(rep.get(1, 1), [rep.get(2), rep.get(3)])


def xad(rep: Rep) -> Props:
    """An XAD (PID-11): street lines joined by a comma, city, state, postal code, country."""
    props: Props = {}
    lines = [" ".join(rep.subs(1)), rep.get(2)]
    line = ", ".join(x for x in lines if x)
    for term, value in (
        (CG.addressLine, line),
        (CG.city, rep.get(3)),
        (CG.state, rep.get(4)),
        (CG.postalCode, rep.get(5)),
        (CG.country, rep.get(6)),
    ):
        if value:
            props[term] = value
    return props


def practitioner(rep: Rep, source: str) -> Node | None:
    """An XCN (PV1-7, ORC-12, AIP-3) as a Practitioner keyed by its id within its authority."""
    pid = rep.get(1)
    if not pid:
        return None  # a name alone: linking it to someone is the identity step's job
    id_type = rep.get(13)
    system = id_system(rep.comp(9), id_type) or keys.local_system(source, "practitioner")
    npi = system == keys.NPI_SYSTEM
    ident = Identifier(system, pid, "NPI" if npi else (id_type or None))
    props = name_props(rep.get(2, 1), [rep.get(3), rep.get(4)])
    if npi:
        props[CG.npi] = pid
    return Node(CG.Practitioner, ident.token, props, (ident,))


def location(rep: Rep, source: str) -> Node | None:
    """A PL (PV1-3, AIL-3) as a Location keyed by facility, point of care, room and bed."""
    parts = [rep.get(4), rep.get(1), rep.get(2), rep.get(3)]
    if not any(parts):
        return None
    key = token(keys.local_system(source, "location"), "^".join(parts))
    # PL-9 often describes the unit, not the bed: its room and bed keep two beds of one unit
    # apart to a reader, as they are in the key
    description = rep.get(9)
    shown = [description, rep.get(2), rep.get(3)] if description else parts
    name = " / ".join(p for p in shown if p)
    return Node(CG.Location, key, {CG.name: name})


def coded(rep: Rep, source: str, table: str | None = None) -> str | None:
    """A CWE/CE as ``system|code``; a code without system is read in its HL7 ``table``."""
    code = rep.get(1)
    if not code:
        return None
    name = rep.get(3).upper()
    if name and concepts.known_system(name):
        made = concepts.coded(name, code)
        return made.key if made is not None else None
    if name in CODE_SYSTEMS:
        system = CODE_SYSTEMS[name]
    elif re.fullmatch(r"HL7\d{4}", name):
        system = V2_TABLE + name[3:]
    elif not name and table:
        system = V2_TABLE + table
    else:
        system = keys.local_system(source, f"codesystem:{name or 'unnamed'}")
    return f"{system}|{code}"


def text(rep: Rep) -> str | None:
    """A CWE's text, else its code (for free-text properties such as a cancel reason)."""
    return rep.get(2) or rep.get(1) or None


def put(props: Props, term: URIRef, value: str | int | list[str] | None) -> None:
    """Set a property only when there is a value."""
    if value is not None and value != "" and value != []:
        props[term] = value
