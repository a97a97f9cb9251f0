"""How business keys are spelt, so that every loader spells the same individual the same way.

- An individual with identifiers is keyed by one of its tokens ``system|value``.
- NPIs use the FHIR NPI system, whatever format they came from.
- A resource known only by its id in one source gets a source-local identifier
  ``urn:caregraph:<source>:<ResourceType>|<id>``: two sources never collide on it.
- DICOM UIDs are keyed bare under ``urn:dicom:uid`` (no ``urn:oid:`` prefix).
- A claim is keyed by its control number within its submitter (X12 CLM01 within the billing
  provider's NPI; FHIR Claim.identifier within its system): ``claim_key``. An 835 payment
  names the same claim with CLP01 within the payee's NPI.
"""

from __future__ import annotations

from caregraph.loaders.records import Identifier, token

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
DICOM_UID_SYSTEM = "urn:dicom:uid"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


def npi(value: str) -> Identifier:
    return Identifier(NPI_SYSTEM, value.strip(), "NPI")


def local_system(source: str, resource_type: str) -> str:
    return f"urn:caregraph:{source}:{resource_type}"


def source_local(source: str, resource_type: str, rid: str) -> Identifier:
    """The identifier of a resource that only its source's id names."""
    return Identifier(local_system(source, resource_type), rid, "RI")


def uid_key(uid: str) -> str:
    """The key of what a DICOM UID names (a study, a series): the UID is unique by itself,
    bare or as urn:oid:."""
    return token(DICOM_UID_SYSTEM, uid.removeprefix("urn:oid:").strip())


def claim_system(submitter: str) -> str:
    """The namespace of the control numbers one submitter assigns."""
    return f"urn:caregraph:claim-submitter:{submitter}"


def claim_key(submitter: str, control_number: str) -> str:
    return token(claim_system(submitter), control_number.strip())


def item_key(claim: str, sequence: int | str) -> str:
    return f"{claim}#{sequence}"
