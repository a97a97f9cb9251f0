"""X12 element values as record values: amounts, dates, names, addresses and coded tokens.

Every reader here takes a :class:`~loaders.x12.reading.Seg` and an element reference
(``CLM02``, ``SV101-2``). A value the record cannot do without that does not fit raises
:class:`MappingError` naming the segment and element, never the value; a value it can do
without (a date, a gender code) is left out, or made neutral, with a note on the segment that
the record's warnings then carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from rdflib import URIRef

from caregraph.loaders import concepts
from caregraph.loaders.concepts import Coded
from caregraph.loaders.records import Props, Value
from caregraph.loaders.x12.reading import Seg
from caregraph.ontology.vocab import CG

Fields = dict[URIRef, Value | None]  # properties before empty values are dropped

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9CM = "http://hl7.org/fhir/sid/icd-9-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
NDC = "http://hl7.org/fhir/sid/ndc"
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"
PAYER_ID_SYSTEM = "urn:caregraph:payer-id"

# HI qualifiers that carry diagnoses (principal, admitting, other, reason for visit, external
# cause), by code system; the rest of HI (occurrence, value, condition, procedure codes) is not
# a diagnosis.
DIAGNOSIS_QUALIFIERS = {
    "ABK": ICD10CM,
    "ABJ": ICD10CM,
    "ABF": ICD10CM,
    "APR": ICD10CM,
    "ABN": ICD10CM,
    "BK": ICD9CM,
    "BJ": ICD9CM,
    "BF": ICD9CM,
    "PR": ICD9CM,
    "BN": ICD9CM,
}
# the role of each of those diagnoses on the claim, as CARIN Blue Button's claim diagnosis
# types (the FHIR ExplanationOfBenefit.diagnosis.type a payer would give it)
DIAGNOSIS_ROLES = {
    "ABK": "principal",
    "BK": "principal",
    "ABJ": "admitting",
    "BJ": "admitting",
    "ABF": "other",
    "BF": "other",
    "APR": "patientreasonforvisit",
    "PR": "patientreasonforvisit",
    "ABN": "externalcauseofinjury",
    "BN": "externalcauseofinjury",
}
GENDER = {"M": "male", "F": "female", "U": "unknown"}
# X12 individual relationship codes (SBR02, PAT01) -> FHIR subscriber-relationship codes
RELATIONSHIP = {"18": "self", "01": "spouse", "19": "child", "53": "common"}

_CPT = re.compile(r"^[0-9]{4}[0-9A-Z]$")  # 99213, 0001F, 0002U


class MappingError(ValueError):
    """A claim or payment that cannot be mapped: where (segment, element), why, and the
    rejection's code (``invalid``: the standard's rule broken; ``identity``: no usable key)."""

    def __init__(self, seg: Seg | None, message: str, code: str = "invalid") -> None:
        self.seg = seg
        self.code = code
        super().__init__(f"{seg.where()}: {message}" if seg else message)


def text(seg: Seg | None, ref: str) -> str:
    """The element's text, stripped; empty when absent."""
    return seg.get(ref) if seg else ""


def required(seg: Seg | None, ref: str, what: str, code: str = "invalid") -> str:
    """The element's text, or a MappingError naming what is missing."""
    value = text(seg, ref)
    if not value:
        raise MappingError(seg, f"{ref} ({what}) is missing", code)
    return value


def amount(seg: Seg, ref: str) -> float | None:
    """An X12 R (decimal) element as float; None when empty."""
    value = seg.get(ref)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise MappingError(seg, f"{ref} is not a valid number") from None


def money(value: float) -> str:
    """An amount as X12 writes it in an adjustment token: two decimals."""
    return f"{value:.2f}"


def d8(seg: Seg, ref: str, raw: str | None = None) -> str:
    """A CCYYMMDD date as ISO 8601; empty when absent, or when it is not a date (noted)."""
    value = seg.get(ref) if raw is None else raw
    if not value:
        return ""
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        seg.note("unusual-value", f"{ref} is not a valid date")
        return ""


def strict_d8(seg: Seg, ref: str, what: str) -> str:
    """A date the record cannot do without (it is part of a key): MappingError when invalid."""
    value = d8(seg, ref)
    if not value and seg.get(ref):
        raise MappingError(seg, f"{ref} is not a valid date: it is part of the {what}", "identity")
    return value


def period(seg: Seg, qualifier_ref: str, value_ref: str) -> tuple[str, str]:
    """A D8 date or RD8 range (DTP02/DTP03) as (start, end) ISO dates."""
    value = seg.get(value_ref)
    if seg.get(qualifier_ref) == "RD8" or "-" in value:
        first, _, last = value.partition("-")
        return d8(seg, value_ref, first), d8(seg, value_ref, last or first)
    start = d8(seg, value_ref)
    return start, start


def gender(seg: Seg | None, ref: str) -> str:
    """DMG03 as a FHIR administrative gender; empty when absent."""
    value = text(seg, ref)
    if not value or seg is None:
        return ""
    if value not in GENDER:
        seg.note("unusual-value", f"{ref} is not a gender code (M, F or U): read as unknown")
        return GENDER["U"]
    return GENDER[value]


def person_name(nm1: Seg) -> Fields:
    """NM103 family, NM104 and NM105 given names, as ontology properties."""
    given = [g for g in (nm1.get("NM104"), nm1.get("NM105")) if g]
    return {CG.familyName: nm1.get("NM103"), CG.givenNames: given}


def address(n3: Seg | None, n4: Seg | None) -> Fields:
    """N3 street lines (joined by a comma) and N4 city, state, postal code, country."""
    lines = [v for v in (text(n3, "N301"), text(n3, "N302")) if v]
    return {
        CG.addressLine: ", ".join(lines),
        CG.city: text(n4, "N401"),
        CG.state: text(n4, "N402"),
        CG.postalCode: text(n4, "N403"),
        CG.country: text(n4, "N404"),
    }


def diagnosis(seg: Seg, ref: str) -> tuple[str, Coded] | None:
    """One HI composite as its role on the claim and its ICD code; None when it is not a
    diagnosis."""
    qualifier = seg.get(f"{ref}-1")
    system = DIAGNOSIS_QUALIFIERS.get(qualifier)
    code = seg.get(f"{ref}-2")
    if system is None or not code:
        return None
    found = concepts.coded(system, icd_dotted(system, code.upper()))
    return (DIAGNOSIS_ROLES[qualifier], found) if found else None


def icd_dotted(system: str, code: str) -> str:
    """X12 sends ICD codes without their dot; FHIR and the other sources write it."""
    if "." in code or len(code) <= 3:
        return code
    if system == ICD9CM and code.startswith("E"):
        return f"{code[:4]}.{code[4:]}" if len(code) > 4 else code
    return f"{code[:3]}.{code[3:]}"


def procedure_token(seg: Seg, ref: str) -> str | None:
    """A procedure composite (SV101, SV202, SVC01) as a code token; None when absent.

    HC covers both CPT (five characters, four digits first) and HCPCS Level II (a letter and
    four digits): the code's shape tells which.
    """
    qualifier = seg.get(f"{ref}-1")
    code = seg.get(f"{ref}-2").upper()
    if not code:
        return None
    if qualifier == "HC":
        system = CPT if _CPT.match(code) else HCPCS
    elif qualifier == "N4":
        system = NDC
    else:
        system = f"urn:caregraph:x12:product-service-id-qualifier:{qualifier or 'unknown'}"
    return f"{system}|{code}"


def concept(token: str | None) -> Coded | None:
    """The Concept a ``system|code`` token names (its system made canonical); None for none."""
    if not token:
        return None
    given = concepts.split_key(token)
    return concepts.coded(given.system, given.code)


def clean(props: Mapping[URIRef, Value | None]) -> Props:
    """Drop empty values: an empty element asserts nothing."""
    return {k: v for k, v in props.items() if v is not None and v != "" and v != []}
