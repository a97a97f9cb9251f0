"""Identifiers of the synthetic health system: NPIs, UIDs, MRNs, visit and claim numbers.

Identifiers that must be unique across patients are derived from the patient's index (and
the encounter's number within the patient), never drawn at random, so two patients can never
share one by chance; the random generator only chooses what real systems would vary.
"""

from __future__ import annotations

import uuid

NPI_PREFIX = "80840"  # the card issuer prefix the NPI check digit is computed with
# Riverside Health's OID arc (fictional, under HL7's example root): one namespace per kind of id
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.1"
VISIT_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.2"
LOCATION_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.3"
ROLE_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.4"
CONDITION_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.5"  # the EHR's problem-list entry ids
PROCEDURE_SYSTEM = "urn:oid:2.16.840.1.113883.3.7777.6"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
# How each feed spells those namespaces (HL7 v2 assigning authorities, DICOM issuers)
PATIENT_AUTHORITY = "RIVERSIDE"
VISIT_AUTHORITY = "RIVERSIDE-VN"
ACCESSION_ISSUER = "RIVERSIDE-RIS"
ORDER_AUTHORITY = "RIVERSIDE-EHR"
SCHEDULE_AUTHORITY = "RIVERSIDE-SCHED"
NPI_AUTHORITY = "NPI"
# A fixed namespace for name-based UUIDs and the 2.25 UIDs made from them
_NAMESPACE = uuid.UUID("8d6f2a8e-6c1b-5b5e-9a51-5f1c0c7a7e01")
_MEMBER_STRIDE = 7919  # prime, coprime with 10**9: index -> member number is one-to-one


def luhn_check_digit(payload: str) -> str:
    """The Luhn check digit that makes ``payload + digit`` valid."""
    total = 0
    for n, ch in enumerate(reversed(payload)):
        d = int(ch)
        if n % 2 == 0:  # doubled: the rightmost payload digit sits next to the check digit
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def npi(base9: str) -> str:
    """A 10-digit NPI from its first nine digits, with the check digit CMS computes."""
    return base9 + luhn_check_digit(NPI_PREFIX + base9)


def npi_is_valid(value: str) -> bool:
    """True for a 10-digit NPI whose check digit passes Luhn with the 80840 prefix."""
    return (
        len(value) == 10
        and value.isdigit()
        and luhn_check_digit(NPI_PREFIX + value[:9]) == value[9]
    )


def name_uuid(seed: int, *parts: object) -> uuid.UUID:
    """A deterministic UUID for one thing of one data set (seed and path of parts)."""
    return uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in (seed, *parts)))


def dicom_uid(seed: int, *parts: object) -> str:
    """A DICOM UID under 2.25 (the UUID-derived root of PS3.5 B.2): at most 44 characters."""
    return f"2.25.{name_uuid(seed, *parts).int}"


def mrn(index: int) -> str:
    return f"{10_000_000 + index}"


def namesake_mrn(index: int) -> str:
    return f"{90_000_000 + index}"


def duplicate_mrn(index: int) -> str:
    """The MRN of patient ``index``'s second registration (synth --duplicates)."""
    return f"{80_000_000 + index}"


def visit_number(index: int, k: int) -> str:
    return f"V{index:08d}{k:02d}"


def accession(index: int, k: int) -> str:
    return f"A{index:08d}{k:02d}"


def placer_order(index: int, k: int) -> str:
    return f"P{index:08d}{k:02d}"


def appointment(index: int, k: int, cancelled: bool = False) -> str:
    return f"S{index:08d}{k:02d}{'X' if cancelled else ''}"


def member_id(prefix: str, index: int) -> str:
    return f"{prefix}{(index * _MEMBER_STRIDE + 104_729) % 10**9:09d}"


def payer_claim_number(payer_id: str, index: int, k: int) -> str:
    return f"{payer_id}{index:08d}{k:02d}"
