"""Who may read what: the role table, as data, and the policy objects built from it.

Every field of every GraphQL type is either readable by a role, hidden from it, or readable
generalised (a birth date as its year; a key as a pseudonym). The table below is the whole
policy: the GraphQL layer refuses a query that selects a hidden field before anything runs
(``api/access/refusals.py``), the readers' Cypher never returns a hidden property
(``api/access/projections.py`` turns this table into the projection every read query
carries), and ``patientContext.text`` asks the policy fact by fact (``api/render.py``).

clinician
    reads patients, visits, appointments, imaging, orders, coverage and the directory, and
    claims and payments without their amounts.
    hidden: money (claim and line charges, currency, payments, patient responsibility,
    adjustments, and the captions of claims and payments, which show amounts); the audit log.
billing
    reads demographics and identifiers, claims, lines, payments, coverage, payers and the
    directory; of visits their dates, class, status and numbers (to tie claims to visits); of
    appointments their times and service; of orders and studies their codes, dates, modality
    and numbers.
    hidden: clinical detail (a visit's type, reason, description and diagnoses; an
    appointment's reason, description and cancel reason; an order's reason; a study's
    description, body site, series and counts; the properties of unknown event kinds); the
    audit log.
analyst
    reads everything clinical and financial without direct identifiers: a limited data set,
    with the birth date generalised to its year and the keys of patient data (which embed
    MRNs, claim numbers, DICOM UIDs) replaced by stable pseudonyms.
    hidden: names, identifiers (MRN, SSN, member ids, visit, claim, accession and order
    numbers, DICOM UIDs, source record ids and files), street, city and postal code (state
    and country stay), captions (made of names and numbers); lookups by identifier
    (``patient``, ``patientContext``, ``encounter``, ``imagingStudy``, ``claim``,
    ``explainLink``: each probes a direct identifier); the audit log. The directory
    (practitioners, organizations, locations, payers) is not patient data: all of it.
admin
    reads everything, and the audit log (``auditLog``); may take identity decisions.
steward
    a data steward reviews identity: reads patients by identifier or search with their
    demographics, identifiers and source records, the probable matches
    (``matchCandidates``) and the decisions on them, and takes decisions (the mutations
    ``acceptMatch``, ``rejectMatch``, ``splitPatient``: admins may too).
    reads the directory (not patient data) where a patient's fields lead to it.
    hidden: everything clinical and financial (a patient's visits, images, claims ...), the
    directory's connections to patient data, the scorecard, the audit log.

The interoperability scorecard (``interoperability``: counts, no patient data) is read by
admins and analysts; the records behind a measure are patient data, pseudonymised for
analysts like any other key.

A type a role's table does not name is hidden from it (deny by default); the structural
types (connections, edges, page info, links, the ontology) carry no patient data and are
readable by all. A name and an address are fields of their owner: ``("Patient",
"address.city")`` is Patient's address's city.

Filtering is reading: an argument that selects by a field (``patient(identifier:)`` by the
patient's identifiers, a ``from``/``to`` window by event time) is allowed only to a role that
may read that field (:data:`ARGUMENT_FIELDS`), so a hidden field cannot be probed through a
filter either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Protocol

from caregraph.api.auth import Role

YEAR = "year"  # a date shown as its year, YYYY


class FieldPolicy(Protocol):
    """Decides, per GraphQL type and field, whether the caller may read it."""

    def allows(self, type_name: str, field_name: str) -> bool: ...


@dataclass(frozen=True)
class Fields:
    """Which fields of one type a role may read: all of them but ``hidden``, or ``only``."""

    only: frozenset[str] | None = None
    hidden: frozenset[str] = frozenset()

    def allows(self, name: str) -> bool:
        owner, _, _ = name.partition(".")  # a name's or an address's part: the owner first
        for candidate in {owner, name}:
            if candidate in self.hidden:
                return False
        if self.only is None:
            return True
        return owner in self.only or name in self.only


def every() -> Fields:
    return Fields()


def all_but(*names: str) -> Fields:
    return Fields(hidden=frozenset(names))


def only(*names: str) -> Fields:
    return Fields(only=frozenset(names))


# -- the table -------------------------------------------------------------------------------

DIRECTORY = ("Practitioner", "Organization", "Location", "Payer")
PATIENT_DATA = (
    "Patient", "Encounter", "Appointment", "ImagingStudy", "ImagingSeries", "ServiceRequest",
    "Claim", "ClaimItem", "Remittance", "Coverage", "GenericEvent", "Condition", "Procedure",
)  # fmt: skip
PROVENANCE = ("Identifier", "SourceRecord", "LoadRun")
# the interoperability scorecard: counts for admins and analysts (a record behind a measure
# is patient data: its keys are pseudonyms for analysts, below)
SCORECARD = ("Interoperability", "Measure", "MeasurePoint", "MeasureRecord")
LOOKUPS = ("patient", "patientContext", "encounter", "imagingStudy", "claim", "explainLink")
MONEY_CLAIM = ("totalCharge", "currency", "display")  # a claim's caption shows its amount
MONEY_REMITTANCE = (
    "paymentAmount", "totalCharge", "patientResponsibility", "adjustments",
    "adjustmentReasons", "display",
)  # fmt: skip
# the fields of patient data that name or number an individual: hidden from analysts
_NO_ID = ("display", "identifiers")

# the patient fields that tell who someone is: what a steward compares
IDENTITY_FIELDS = (
    "key", "kind", "loaded", "display", "link", "identifiers", "sources", "name", "birthDate",
    "gender", "deceased", "address",
)  # fmt: skip
TABLE: Mapping[Role, Mapping[str, Fields]] = {
    Role.clinician: {
        "Query": all_but("auditLog", "interoperability", "matchCandidates"),
        # the scorecard's types are reached only through Query.interoperability, which is
        # refused with its reason; named here so that nothing below it hides that refusal
        **{t: every() for t in (*DIRECTORY, *PATIENT_DATA, *PROVENANCE, *SCORECARD)},
        "Claim": all_but(*MONEY_CLAIM),
        "ClaimItem": all_but("chargeAmount"),
        "Remittance": all_but(*MONEY_REMITTANCE),
    },
    Role.billing: {
        "Query": all_but("auditLog", "interoperability", "matchCandidates"),
        **{t: every() for t in (*DIRECTORY, *PROVENANCE, *SCORECARD)},  # as for clinicians
        "Patient": every(),
        "Claim": every(),
        "ClaimItem": every(),
        "Remittance": every(),
        "Coverage": every(),
        # diagnoses and procedures are what billing codes: billing reads them (issue 19)
        "Condition": every(),
        "Procedure": every(),
        "Encounter": all_but(
            "encounterType", "reasonCode", "reasons", "description", "diagnosisCodes"
        ),
        "Appointment": all_but("reasonCode", "description", "cancelReason"),
        "ServiceRequest": all_but("reasonCode"),
        "ImagingStudy": all_but(
            "description", "bodySite", "series", "numberOfSeries", "numberOfInstances"
        ),
        "GenericEvent": all_but("properties"),
        # ImagingSeries: not named, so hidden (imaging detail beyond date and modality)
    },
    Role.analyst: {
        "Query": only(
            "service",
            "ontology",
            "concept",
            "practitioner",
            "organization",
            "interoperability",
            # searches: of patients by what analysts read (birth year, gender), never by name
            # (ARGUMENT_FIELDS); of the directory by anything
            "patients",
            "practitioners",
            "organizations",
            "locations",
        ),
        **{t: every() for t in (*DIRECTORY, "Identifier", "LoadRun", *SCORECARD)},
        "Patient": all_but(*_NO_ID, "name", "address.line", "address.city", "address.postalCode"),
        "Encounter": all_but(*_NO_ID, "visitNumber"),
        "Appointment": all_but(*_NO_ID),
        "ImagingStudy": all_but(*_NO_ID, "studyInstanceUid", "accessionNumber"),
        "ImagingSeries": all_but(*_NO_ID, "seriesInstanceUid"),
        "ServiceRequest": all_but(
            *_NO_ID, "accessionNumber", "placerOrderNumber", "fillerOrderNumber"
        ),
        "Claim": all_but(*_NO_ID, "controlNumber"),
        "ClaimItem": all_but(*_NO_ID),
        "Remittance": all_but(*_NO_ID, "controlNumber", "payerControlNumber"),
        "Coverage": all_but(*_NO_ID, "memberId", "subscriberId"),
        "GenericEvent": all_but(*_NO_ID, "properties"),
        "Condition": all_but(*_NO_ID),
        "Procedure": all_but(*_NO_ID),
        "SourceRecord": all_but("display", "recordId", "file"),
    },
    Role.steward: {
        # not explainLink: it names any node (a visit, a claim), which is not a steward's
        "Query": only("service", "ontology", "patient", "patients", "matchCandidates"),
        "Mutation": every(),
        "Patient": only(*IDENTITY_FIELDS),
        # the directory is not patient data (as for analysts): an identifier's system may
        # name a payer or an organization
        **{
            t: every()
            for t in (
                *DIRECTORY,
                *PROVENANCE,
                "MatchCandidate",
                "MatchEvidence",
                "IdentityDecision",
            )
        },
    },
}

REVIEW_ROLES = frozenset({Role.steward, Role.admin})  # who may take identity decisions

GENERALISED: Mapping[Role, Mapping[tuple[str, str], str]] = {
    Role.analyst: {("Patient", "birthDate"): YEAR},
}

# keys of these types embed identifiers (an MRN, a claim number, a DICOM UID): shown as
# pseudonyms (HMAC of the key with the server's pseudonym key), stable across requests
PSEUDONYMISED: Mapping[Role, frozenset[str]] = {
    Role.analyst: frozenset((*PATIENT_DATA, "SourceRecord", "MeasureRecord")),
}

# why a field is hidden, as the refusal says it (no value is ever in it)
WHY: Mapping[Role, str] = {
    Role.clinician: "amounts of money are hidden from clinicians",
    Role.billing: "clinical detail is hidden from billing",
    Role.analyst: "direct identifiers (names, identifiers, addresses, record numbers, "
    "captions made of them) are hidden from analysts",
    Role.admin: "",
    Role.steward: "a steward reads who a patient is (demographics, identifiers, records) and "
    "the identity review, not clinical or financial data",
}
AUDIT_ONLY_ADMINS = "only admins may read the audit log"
STEWARDS_ONLY = "identity review and decisions are for stewards and admins"
SCORECARD_ROLES = "the interoperability scorecard is for admins and analysts"
NO_LOOKUPS = (
    "analysts may not look patient data up by identifier: a lookup by MRN, visit, claim or "
    "accession number probes a direct identifier; reach patients through practitioner(npi) "
    "or organization(npi), where they carry pseudonymous keys"
)

# an argument that selects by a field counts as reading that field
ARGUMENT_FIELDS: Mapping[tuple[str, str, str], tuple[str, str]] = {
    ("Query", "patient", "identifier"): ("Patient", "identifiers"),
    ("Query", "patientContext", "identifier"): ("Patient", "identifiers"),
    ("Query", "encounter", "identifier"): ("Encounter", "identifiers"),
    ("Query", "imagingStudy", "studyInstanceUid"): ("ImagingStudy", "studyInstanceUid"),
    ("Query", "claim", "controlNumber"): ("Claim", "controlNumber"),
    ("Query", "practitioner", "npi"): ("Practitioner", "npi"),
    ("Query", "organization", "npi"): ("Organization", "npi"),
    ("Query", "explainLink", "a"): ("Patient", "identifiers"),
    ("Query", "explainLink", "b"): ("Patient", "identifiers"),
    ("Query", "auditLog", "patient"): ("AuditEvent", "patients"),
    ("Query", "auditLog", "subject"): ("AuditEvent", "subject"),
    ("Query", "concept", "system"): ("Concept", "system"),  # terminology: every role
    ("Query", "concept", "code"): ("Concept", "code"),
    # a filter by code reads the codes it filters by
    ("Patient", "encounters", "underCode"): ("Encounter", "reasons"),
    ("Patient", "imagingStudies", "underCode"): ("Encounter", "reasons"),
    ("Patient", "conditions", "underCode"): ("Condition", "code"),
    ("Patient", "procedures", "underCode"): ("Procedure", "code"),
    ("Patient", "claims", "underCode"): ("Claim", "diagnoses"),
    ("Query", "patientContext", "underCode"): ("Encounter", "reasons"),
    # the searches: a term selects by the field it matches (analysts: no names, no postal
    # codes, no identifiers; the birth date by its year only, api/search.py)
    ("Query", "patients", "family"): ("Patient", "name"),
    ("Query", "patients", "given"): ("Patient", "name"),
    ("Query", "patients", "birthDate"): ("Patient", "birthDate"),
    ("Query", "patients", "gender"): ("Patient", "gender"),
    ("Query", "patients", "postalCode"): ("Patient", "address.postalCode"),
    ("Query", "patients", "identifierValue"): ("Patient", "identifiers"),
    ("Query", "practitioners", "name"): ("Practitioner", "name"),
    ("Query", "practitioners", "npi"): ("Practitioner", "npi"),
    ("Query", "practitioners", "specialty"): ("Practitioner", "specialty"),
    ("Query", "organizations", "name"): ("Organization", "name"),
    ("Query", "organizations", "npi"): ("Organization", "npi"),
    ("Query", "locations", "name"): ("Location", "name"),
    # the identity review: stewards and admins (the candidates' status is theirs to read)
    ("Query", "matchCandidates", "status"): ("MatchCandidate", "status"),
    ("Mutation", "acceptMatch", "candidate"): ("MatchCandidate", "key"),
    ("Mutation", "rejectMatch", "candidate"): ("MatchCandidate", "key"),
    ("Mutation", "splitPatient", "patient"): ("Patient", "key"),
    ("Interoperability", "measures", "name"): ("Measure", "name"),
    ("Interoperability", "measures", "source"): ("Measure", "source"),
    ("Interoperability", "measures", "domain"): ("Measure", "domain"),
    ("Interoperability", "measures", "family"): ("Measure", "family"),
}
WINDOW_ARGUMENTS = ("from", "to")  # select by event time: the node type's `time`

# types that hold no patient data: readable by every authenticated caller
STRUCTURE = frozenset(
    {
        "Query", "PageInfo", "Link", "KindCount", "PatientContext", "Service", "Ontology",
        "OntologyClass", "OntologyProperty", "Alignment", "TermAlignment", "Explanation",
        "Reason", "Coding", "Concept", "ConceptPage",
        # a search's match: a score and term names; what it found is checked as its own type
        "PatientMatch", "PractitionerMatch", "OrganizationMatch", "LocationMatch",
    }
)  # fmt: skip
VALUE_TYPES = frozenset({"HumanName", "Address"})  # fields of their owner: ("Patient", "name.text")


def structural(type_name: str) -> bool:
    return (
        type_name in STRUCTURE
        or type_name.endswith(("Connection", "Edge"))
        or type_name.startswith("__")
    )


# -- policies --------------------------------------------------------------------------------


class AccessPolicy(FieldPolicy, Protocol):
    """A FieldPolicy that can also say how and why (hashable: what is derived from a policy
    is cached per policy)."""

    @property
    def role(self) -> Role | None: ...

    def __hash__(self) -> int: ...

    def generalisation(self, type_name: str, field_name: str) -> str | None: ...

    def pseudonymised(self, type_name: str) -> bool: ...

    def why(self, type_name: str, field_name: str) -> str: ...


@dataclass(frozen=True, eq=False)
class RolePolicy:
    """One role's row of the table."""

    role: Role | None
    types: Mapping[str, Fields] = field(default_factory=dict)
    generalised: Mapping[tuple[str, str], str] = field(default_factory=dict)
    pseudonyms: frozenset[str] = frozenset()
    everything: bool = False

    def allows(self, type_name: str, field_name: str) -> bool:
        if self.everything or field_name.startswith("__"):
            return True
        fields = self.types.get(type_name)
        if fields is None:
            return type_name != "Query" and structural(type_name) and self.role is not None
        return fields.allows(field_name)

    def generalisation(self, type_name: str, field_name: str) -> str | None:
        return self.generalised.get((type_name, field_name))

    def pseudonymised(self, type_name: str) -> bool:
        return type_name in self.pseudonyms

    def why(self, type_name: str, field_name: str) -> str:
        if self.role is None:
            return "no caller is authenticated"
        if (type_name, field_name) == ("Query", "auditLog"):
            return AUDIT_ONLY_ADMINS
        if (type_name, field_name) == ("Query", "interoperability"):
            return SCORECARD_ROLES
        if type_name == "Mutation" or (type_name, field_name) == ("Query", "matchCandidates"):
            return STEWARDS_ONLY
        if type_name == "Query" and field_name in LOOKUPS and self.role is Role.analyst:
            return NO_LOOKUPS
        return WHY[self.role] or "not readable"


@cache
def for_role(role: Role) -> RolePolicy:
    """The policy of a role (one object per role, so what is derived from it is cached)."""
    if role is Role.admin:
        return RolePolicy(role, everything=True)
    return RolePolicy(
        role,
        TABLE[role],
        GENERALISED.get(role, {}),
        PSEUDONYMISED.get(role, frozenset()),
    )


NOBODY = RolePolicy(None)  # no principal: nothing is readable


@dataclass(frozen=True, eq=False)
class Narrowed:
    """A role's policy narrowed further by another (it can only hide more)."""

    base: RolePolicy
    extra: FieldPolicy

    @property
    def role(self) -> Role | None:
        return self.base.role

    def allows(self, type_name: str, field_name: str) -> bool:
        return self.base.allows(type_name, field_name) and self.extra.allows(type_name, field_name)

    def generalisation(self, type_name: str, field_name: str) -> str | None:
        return self.base.generalisation(type_name, field_name)

    def pseudonymised(self, type_name: str) -> bool:
        return self.base.pseudonymised(type_name)

    def why(self, type_name: str, field_name: str) -> str:
        return self.base.why(type_name, field_name)
