"""What a generated data set holds, for whoever loads or tests it: ``manifest.json``.

The manifest says which files each source system wrote (so that each can be loaded with its
own ``--source``), how many records of each kind there are, and the facts a test or a
benchmark checks without re-deriving them: patient 0's identifiers, visit, study, claim and
payment, the namesakes, and the numbers of individuals the graph should hold once identity
has made one patient of each patient's records. ``identity.toml`` beside it is the alias
table that makes each feed's spelling of Riverside's identifier systems one namespace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caregraph.loaders.generator import clock, ids
from caregraph.loaders.generator.directory import Directory
from caregraph.loaders.generator.scenario import Encounter, PatientCase

IDENTITY_TOML = f"""\
# Identity rules for the Riverside Health data that `caregraph synth` writes.
# Load with: caregraph load DIR/... --source NAME --identity identity.toml
# Format: loaders/identity.py IdentityConfig.from_file. Each [namespaces] entry names a
# canonical identifier system and the other spellings of the same namespace in the feeds.

[namespaces]
# Medical record numbers: the EHR's FHIR system; HL7 v2 PID-3 assigning authority and DICOM
# IssuerOfPatientID "{ids.PATIENT_AUTHORITY}"; the bare OID some interfaces send.
"{ids.MRN_SYSTEM}" = ["{ids.PATIENT_AUTHORITY}", "{ids.MRN_SYSTEM.removeprefix("urn:oid:")}"]
# Visit numbers: FHIR Encounter.identifier; HL7 v2 PV1-19 assigning authority.
"{ids.VISIT_SYSTEM}" = ["{ids.VISIT_AUTHORITY}", "{ids.VISIT_SYSTEM.removeprefix("urn:oid:")}"]
# NPIs: the FHIR NPI system; HL7 v2 XCN assigning authorities as senders spell them
# (namespace, NPPES OID with and without urn:oid:).
"{ids.NPI_SYSTEM}" = [
  "NPI",
  "US-NPI",
  "CMS-NPI",
  "NPPES",
  "2.16.840.1.113883.4.6",
  "urn:oid:2.16.840.1.113883.4.6",
]

[rules]
demographics_exact = true  # claims know patients only by member id and demographics
disabled = []
"""


@dataclass
class Tally:
    """Running counts of what the graph should hold, kept as patients stream past."""

    patients: int = 0
    namesakes: int = 0
    encounters: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    appointments: int = 0
    cancelled_appointments: int = 0
    rescheduled: int = 0
    imaging_studies: int = 0
    imaging_series: int = 0
    conditions: int = 0  # the EHR's: one per diagnosis documented at a visit
    procedures: int = 0  # the EHR's: one per service performed at a visit
    claims: int = 0
    claim_lines: int = 0
    payments: int = 0
    denied: int = 0
    namesake_list: list[dict[str, str | int]] = field(default_factory=list)
    duplicate_list: list[dict[str, str | int]] = field(default_factory=list)
    patient0: dict[str, Any] | None = None

    def add(self, case: PatientCase) -> None:
        self.patients += 1
        if case.namesake is not None:
            self.namesakes += 1
            self.namesake_list.append(
                {
                    "of": case.index,
                    "mrn": case.namesake.mrn,
                    "birthDate": case.namesake.person.birth.isoformat(),
                }
            )
        if case.duplicate is not None:
            self.duplicate_list.append(
                {
                    "of": case.index,
                    "mrn": case.mrn,
                    "duplicateMrn": case.duplicate.mrn,
                    "variant": case.duplicate.variant,
                }
            )
        for e in case.encounters:
            self.encounters += 1
            self.by_class[e.klass] = self.by_class.get(e.klass, 0) + 1
            if e.appointment is not None:
                self.appointments += 1
                self.rescheduled += len(e.appointment.bookings) > 1
            if e.cancelled is not None:
                self.cancelled_appointments += 1
            if e.study is not None:
                self.imaging_studies += 1
                self.imaging_series += len(e.study.series)
            self.conditions += len(e.documented)
            self.procedures += len(e.procedures)
            if e.claim is not None:
                self.claims += 1
                self.claim_lines += len(e.claim.lines)
            if e.payment is not None:
                self.payments += 1
                self.denied += e.payment.status == "4"
        if case.index == 0:
            self.patient0 = facts(case)

    def expected(self, directory: Directory) -> dict[str, Any]:
        return {
            "individuals": {
                # a duplicate registration is a patient of its own until identity joins it
                "patients": self.patients + self.namesakes + len(self.duplicate_list),
                "encounters": self.encounters,
                "encountersByClass": dict(sorted(self.by_class.items())),
                "appointments": self.appointments + self.cancelled_appointments,
                "cancelledAppointments": self.cancelled_appointments,
                "rescheduledAppointments": self.rescheduled,
                "imagingStudies": self.imaging_studies,
                "imagingSeries": self.imaging_series,
                "conditions": self.conditions,
                "procedures": self.procedures,
                "claims": self.claims,
                "claimItems": self.claim_lines,
                "remittances": self.payments,
                "deniedClaims": self.denied,
                "practitioners": len(directory.practitioners),
                "organizations": len(directory.organizations),
                "locations": len(directory.locations),
                "payers": len(directory.payers),
            },
            "patient0": self.patient0,
            "namesakes": self.namesake_list,
            # the same person registered twice (synth --duplicates): the pairs identity should
            # find, each with its variant
            "duplicates": self.duplicate_list,
        }


def facts(case: PatientCase) -> dict[str, Any]:
    """One patient's identifiers and records as every source spells them."""
    p = case.person
    out: dict[str, Any] = {
        "index": case.index,
        "mrn": case.mrn,
        "mrnSystem": ids.MRN_SYSTEM,
        "familyName": p.family,
        "givenName": p.given,
        "birthDate": p.birth.isoformat(),
        "gender": p.gender,
        "memberId": case.coverage.member_id,
        "payerId": case.coverage.payer.payer_id,
        "pcpNpi": case.pcp.npi,
        "encounters": [_encounter(e) for e in case.encounters],
    }
    if case.namesake is not None:
        out["namesake"] = {
            "mrn": case.namesake.mrn,
            "birthDate": case.namesake.person.birth.isoformat(),
        }
    return out


def _encounter(e: Encounter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "visitNumber": e.visit,
        "visitSystem": ids.VISIT_SYSTEM,
        "class": e.klass,
        "start": clock.iso(e.start),
        "end": clock.iso(e.end),
        "practitionerNpi": e.practitioner.npi,
        "practitionerName": f"{e.practitioner.family}^{e.practitioner.given}",
        "organizationNpi": e.organization.npi,
        "organizationName": e.organization.name,
        "location": e.location.ident,
        "reason": e.reason.icd10,
        "documentedDiagnoses": [d.icd10 for d in e.documented],
        "procedures": [p.cpt for p, _ in e.procedures],
    }
    if e.appointment is not None:
        out["appointment"] = {
            "id": e.appointment.ident,
            "authority": ids.SCHEDULE_AUTHORITY,
            "start": clock.iso(e.appointment.start),
            "events": [b.event for b in e.appointment.bookings],
        }
    if e.cancelled is not None:
        out["cancelledAppointment"] = e.cancelled.ident
    if e.study is not None:
        out["study"] = {
            "studyInstanceUid": e.study.uid,
            "accessionNumber": e.study.accession,
            "accessionIssuer": ids.ACCESSION_ISSUER,
            "placerOrderNumber": e.study.placer,
            "start": clock.iso(e.study.start),
            "modality": e.study.imaging.modality,
            "seriesInstanceUids": [s.uid for s in e.study.series],
        }
    if e.claim is not None:
        out["claim"] = {
            "controlNumber": e.claim.control,
            "billingNpi": e.organization.npi,
            "totalCharge": e.claim.total / 100,
            "procedureCodes": [line.procedure.cpt for line in e.claim.lines],
            "diagnosisCodes": [d.icd10 for d in e.claim.diagnoses],
            "undocumentedDiagnoses": [d.icd10 for d in e.undocumented],
        }
    if e.payment is not None:
        out["payment"] = {
            "status": e.payment.status,
            "paid": e.payment.paid / 100,
            "patientResponsibility": e.payment.patient_share / 100,
            "payerControlNumber": e.payment.payer_control,
            "paymentDate": e.payment.date.isoformat(),
        }
    return out
