"""The EHR's FHIR R4 export, written with fhir.resources (R4B models, which read R4 data).

Two layouts, as EHRs offer them:

- ``files``: one transaction Bundle per patient (``fhir/patients-<batch>/patient-<i>.json``)
  and the directory in ``fhir/directory.json``. Resources point at each other the way an
  EHR's outbound interface does: the patient by ``urn:uuid`` within its bundle, clinicians,
  organizations and locations by conditional references on their business identifiers.
- ``bulk``: Bulk Data NDJSON (``fhir-bulk/<Type>.<batch>.ndjson``), one resource per line,
  with ids; the patient by relative reference ``Patient/<id>``.

Each encounter comes with the diagnoses documented at it (encounter-diagnosis Conditions that
``Encounter.diagnosis`` ranks, the visit's reason first) and the services performed
(Procedures with CPT codes). The claim bills the same diagnoses, except on the deliberately
mismatched visits (loaders/generator/scenario.py), which is what the billed-not-documented query
of the Browser guide finds.

Every resource is validated by its fhir.resources model before it is written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import IO, Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition as FhirCondition
from fhir.resources.R4B.encounter import Encounter as FhirEncounter
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.organization import Organization as FhirOrganization
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner as FhirPractitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole as FhirPractitionerRole
from fhir.resources.R4B.procedure import Procedure as FhirProcedure

from caregraph.loaders.generator import clock, ids, pools
from caregraph.loaders.generator.directory import (
    Address,
    Directory,
    Location,
    Organization,
    Practitioner,
)
from caregraph.loaders.generator.scenario import Encounter, PatientCase, Person

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
DIAGNOSIS_ROLE = "http://terminology.hl7.org/CodeSystem/diagnosis-role"
NUCC = "http://nucc.org/provider-taxonomy"
TAX_ID_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
LOCATION_TYPES = {"ED": "ER", "WARD": "HU", "RAD": "RADDX", "CLINIC": "OF"}
MODELS: dict[str, Any] = {
    "Patient": FhirPatient,
    "Encounter": FhirEncounter,
    "Organization": FhirOrganization,
    "Location": FhirLocation,
    "Practitioner": FhirPractitioner,
    "PractitionerRole": FhirPractitionerRole,
    "Condition": FhirCondition,
    "Procedure": FhirProcedure,
}
Json = dict[str, Any]


class FhirWriter:
    """Writes the EHR's patients, encounters, diagnoses and procedures, and the directory, as
    FHIR JSON."""

    format = "fhir"

    def __init__(self, out: Path, seed: int, batch_size: int, *, bulk: bool) -> None:
        self.seed = seed
        self.batch_size = batch_size
        self.bulk = bulk
        self.root = out / ("fhir-bulk" if bulk else "fhir")
        self.root.mkdir(parents=True, exist_ok=True)
        self.counts: dict[str, int] = {}
        self.files = 0
        self._batch = -1
        self._ndjson: dict[str, IO[bytes]] = {}

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"ehr": [self.root.name]}

    # -- directory -----------------------------------------------------------------------------
    def directory(self, d: Directory) -> None:
        resources: list[Json] = []
        for org in d.organizations:
            resources.append(self._organization(org))
        for loc in d.locations:
            resources.append(self._location(loc))
        for doc in d.practitioners:
            resources.append(self._practitioner(doc))
            resources.append(self._role(doc))
        if self.bulk:
            for kind in ("Organization", "Location", "Practitioner", "PractitionerRole"):
                with (self.root / f"{kind}.ndjson").open("wb") as fh:
                    self.files += 1
                    for res in resources:
                        if res["resourceType"] == kind:
                            self._line(fh, res)
            return
        entries = [self._entry(res, _condition(res)) for res in resources]
        self._bundle(self.root / "directory.json", entries)

    def _organization(self, org: Organization) -> Json:
        return {
            "resourceType": "Organization",
            "id": self._id("organization", org.npi),
            "identifier": [
                _ident(ids.NPI_SYSTEM, org.npi, "NPI"),
                _ident(TAX_ID_SYSTEM, org.tin, "TAX"),
            ],
            "active": True,
            "type": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/organization-type",
                    "prov",
                    "Healthcare Provider",
                )
            ],
            "name": org.name,
            "telecom": [{"system": "phone", "value": org.phone, "use": "work"}],
            "address": [_address(org.address, "work")],
        }

    def _location(self, loc: Location) -> Json:
        return {
            "resourceType": "Location",
            "id": self._id("location", loc.ident),
            "identifier": [{"system": ids.LOCATION_SYSTEM, "value": loc.ident}],
            "status": "active",
            "name": loc.name,
            "mode": "instance",
            "type": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/v3-RoleCode", LOCATION_TYPES[loc.kind]
                )
            ],
            "address": _address(loc.org.address, "work"),
            "managingOrganization": _npi_ref("Organization", loc.org.npi, loc.org.name),
        }

    def _practitioner(self, doc: Practitioner) -> Json:
        return {
            "resourceType": "Practitioner",
            "id": self._id("practitioner", doc.npi),
            "identifier": [_ident(ids.NPI_SYSTEM, doc.npi, "NPI")],
            "active": True,
            "name": [
                {
                    "use": "official",
                    "family": doc.family,
                    "given": [doc.given, doc.middle],
                    "prefix": ["Dr."],
                }
            ],
            "gender": doc.gender,
            "qualification": [
                {
                    "code": _concept(
                        "http://terminology.hl7.org/CodeSystem/v2-0360|2.7",
                        "MD",
                        "Doctor of Medicine",
                    )
                }
            ],
        }

    def _role(self, doc: Practitioner) -> Json:
        return {
            "resourceType": "PractitionerRole",
            "id": self._id("role", doc.npi),
            "identifier": [{"system": ids.ROLE_SYSTEM, "value": f"{doc.npi}-{doc.org.code}"}],
            "active": True,
            "practitioner": _npi_ref("Practitioner", doc.npi, _doc_name(doc)),
            "organization": _npi_ref("Organization", doc.org.npi, doc.org.name),
            "code": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor", "Doctor"
                )
            ],
            "specialty": [_concept(NUCC, doc.specialty.taxonomy, doc.specialty.display)],
            "location": [_location_ref(doc.location)],
        }

    # -- patients ------------------------------------------------------------------------------
    def patient(self, case: PatientCase) -> None:
        batch = case.index // self.batch_size
        if batch != self._batch:
            self._end_batch()
            self._batch = batch
        people: list[tuple[str, Person, str, PatientCase | None]] = [
            (case.mrn, case.person, "patient", case)
        ]
        if case.namesake is not None:
            people.append((case.namesake.mrn, case.namesake.person, "namesake", None))
        if case.duplicate is not None:  # the same person registered again: EHR only
            people.append((case.duplicate.mrn, case.duplicate.person, "duplicate", None))
        for mrn, person, role, owner in people:
            pid = self._id(role, case.index)
            patient = self._patient(pid, mrn, person, case)
            encounters: list[Json] = []
            for e in owner.encounters if owner else ():
                encounters += self._visit(pid, e)
            if self.bulk:
                self._line(self._stream("Patient"), patient)
                for res in encounters:
                    self._line(self._stream(res["resourceType"]), res)
                continue
            folder = self.root / f"patients-{batch:04d}"
            folder.mkdir(exist_ok=True)
            name = f"patient-{case.index:06d}{'' if role == 'patient' else '-' + role}.json"
            entries = [self._entry(patient, _condition(patient))]
            entries += [self._entry(enc, _condition(enc)) for enc in encounters]
            self._bundle(folder / name, entries)

    def _patient(self, pid: str, mrn: str, person: Person, case: PatientCase) -> Json:
        given = [person.given, person.middle] if person.middle else [person.given]
        return {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [_ident(ids.MRN_SYSTEM, mrn, "MR")],
            "active": True,
            "name": [{"use": "official", "family": person.family, "given": given}],
            # a registration may leave the phone out (a duplicate's "missing" variant)
            "telecom": [{"system": "phone", "value": person.phone, "use": "home"}]
            if person.phone
            else [],
            "gender": person.gender,
            "birthDate": person.birth.isoformat(),
            "address": [_address(person.address, "home")],
            "generalPractitioner": [_npi_ref("Practitioner", case.pcp.npi, _doc_name(case.pcp))],
            "managingOrganization": _npi_ref("Organization", case.pcp.org.npi, case.pcp.org.name),
        }

    def _ref(self, kind: str, ident: str) -> Json:
        """A reference to a resource of the patient's own: by ``urn:uuid`` within the bundle,
        by ``Type/id`` in bulk data."""
        return {"reference": f"{kind}/{ident}" if self.bulk else f"urn:uuid:{ident}"}

    def _visit(self, pid: str, e: Encounter) -> list[Json]:
        """The encounter, the diagnoses documented at it (Encounter.diagnosis pointing at
        encounter-diagnosis Conditions, the reason ranked first) and what was performed."""
        enc = self._encounter(pid, e)
        enc_id = self._id("encounter", e.visit)
        conditions = [
            self._diagnosis(pid, enc_id, e, n, d) for n, d in enumerate(e.documented, start=1)
        ]
        enc["diagnosis"] = [
            {
                "condition": self._ref("Condition", c["id"]),
                "use": _concept(DIAGNOSIS_ROLE, "billing", "Billing"),
                "rank": n,
            }
            for n, c in enumerate(conditions, start=1)
        ]
        procedures = [
            self._procedure(pid, enc_id, e, n, proc, when)
            for n, (proc, when) in enumerate(e.procedures, start=1)
        ]
        return [enc, *conditions, *procedures]

    def _diagnosis(self, pid: str, enc_id: str, e: Encounter, n: int, d: pools.Reason) -> Json:
        return {
            "resourceType": "Condition",
            "id": self._id("condition", e.visit, n),
            "identifier": [{"system": ids.CONDITION_SYSTEM, "value": f"{e.visit}-{n}"}],
            "clinicalStatus": _concept(CONDITION_CLINICAL, "active"),
            "verificationStatus": _concept(CONDITION_VERIFICATION, "confirmed"),
            "category": [_concept(CONDITION_CATEGORY, "encounter-diagnosis")],
            "code": _concept(ICD10CM, d.icd10, d.display),
            "subject": self._ref("Patient", pid),
            "encounter": self._ref("Encounter", enc_id),
            "recordedDate": clock.iso(e.end),
        }

    def _procedure(
        self, pid: str, enc_id: str, e: Encounter, n: int, proc: pools.Procedure, when: datetime
    ) -> Json:
        return {
            "resourceType": "Procedure",
            "id": self._id("procedure", e.visit, n),
            "identifier": [{"system": ids.PROCEDURE_SYSTEM, "value": f"{e.visit}-{n}"}],
            "status": "completed",
            "code": _concept(CPT, proc.cpt, proc.display),
            "subject": self._ref("Patient", pid),
            "encounter": self._ref("Encounter", enc_id),
            "performedDateTime": clock.iso(when),
            "reasonCode": [_concept(ICD10CM, e.reason.icd10, e.reason.display)],
        }

    def _encounter(self, pid: str, e: Encounter) -> Json:
        kind_code, kind_display = pools.ENCOUNTER_TYPES[e.klass]
        enc: Json = {
            "resourceType": "Encounter",
            "id": self._id("encounter", e.visit),
            "identifier": [_ident(ids.VISIT_SYSTEM, e.visit, "VN")],
            "status": "finished",
            "class": {"system": ACT_CODE, "code": e.klass, "display": pools.CLASS_DISPLAY[e.klass]},
            "type": [_concept(SNOMED, kind_code, kind_display)],
            "subject": self._ref("Patient", pid),
            "participant": [
                {
                    "type": [
                        _concept(
                            "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "ATND",
                            "attender",
                        )
                    ],
                    "individual": _npi_ref(
                        "Practitioner", e.practitioner.npi, _doc_name(e.practitioner)
                    ),
                }
            ],
            "period": {"start": clock.iso(e.start), "end": clock.iso(e.end)},
            "reasonCode": [_concept(ICD10CM, e.reason.icd10, e.reason.display)],
            "location": [{"location": _location_ref(e.location), "status": "completed"}],
            "serviceProvider": _npi_ref("Organization", e.organization.npi, e.organization.name),
        }
        if e.klass != "AMB":
            enc["priority"] = _concept(
                "http://terminology.hl7.org/CodeSystem/v3-ActPriority", "EL" if e.elective else "EM"
            )
        if e.klass == "IMP":
            enc["hospitalization"] = {
                "admitSource": _concept(
                    "http://terminology.hl7.org/CodeSystem/admit-source",
                    "gp" if e.elective else "emd",
                ),
                "dischargeDisposition": _concept(
                    "http://terminology.hl7.org/CodeSystem/discharge-disposition", "home"
                ),
            }
        return enc

    # -- output --------------------------------------------------------------------------------
    def _entry(self, res: Json, condition: str) -> Json:
        kind = res["resourceType"]
        body = {k: v for k, v in res.items() if k != "id"}  # the server assigns ids
        return {
            "fullUrl": f"urn:uuid:{res['id']}",
            "resource": body,
            "request": {"method": "PUT", "url": f"{kind}?{condition}"},
        }

    def _bundle(self, path: Path, entries: list[Json]) -> None:
        bundle = Bundle.model_validate(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        )
        path.write_bytes(bundle.model_dump_json().encode())
        self.files += 1
        for entry in entries:
            kind = entry["resource"]["resourceType"]
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def _line(self, fh: IO[bytes], res: Json) -> None:
        model = MODELS[res["resourceType"]].model_validate(res)
        fh.write(model.model_dump_json().encode() + b"\n")
        self.counts[res["resourceType"]] = self.counts.get(res["resourceType"], 0) + 1

    def _stream(self, kind: str) -> IO[bytes]:
        fh = self._ndjson.get(kind)
        if fh is None:
            fh = (self.root / f"{kind}.{self._batch:04d}.ndjson").open("wb")
            self._ndjson[kind] = fh
            self.files += 1
        return fh

    def _end_batch(self) -> None:
        for fh in self._ndjson.values():
            fh.close()
        self._ndjson.clear()

    def close(self) -> dict[str, int]:
        self._end_batch()
        return {"files": self.files, **{k: self.counts[k] for k in sorted(self.counts)}}

    def _id(self, *parts: object) -> str:
        return str(ids.name_uuid(self.seed, "fhir", *parts))


def _ident(system: str, value: str, code: str) -> Json:
    return {
        "type": {"coding": [{"system": V2_0203, "code": code}]},
        "system": system,
        "value": value,
    }


def _concept(system: str, code: str, display: str | None = None) -> Json:
    coding: Json = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def _npi_ref(kind: str, npi: str, display: str) -> Json:
    return {"reference": f"{kind}?identifier={ids.NPI_SYSTEM}|{npi}", "display": display}


def _location_ref(loc: Location) -> Json:
    return {
        "reference": f"Location?identifier={ids.LOCATION_SYSTEM}|{loc.ident}",
        "display": loc.name,
    }


def _condition(res: Json) -> str:
    """The conditional URL of a PUT: the resource's first business identifier."""
    first = res["identifier"][0]
    return f"identifier={first['system']}|{first['value']}"


def _address(a: Address, use: str) -> Json:
    out: Json = {
        "use": use,
        "line": [a.line],
        "city": a.city,
        "state": a.state,
        "postalCode": a.postal,
        "country": "US",
    }
    if not a.postal:  # FHIR has no empty strings: a postal code left out is absent
        del out["postalCode"]
    return out


def _doc_name(doc: Practitioner) -> str:
    return f"Dr. {doc.given} {doc.middle}. {doc.family}"
