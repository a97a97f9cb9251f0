"""A tiny Synthea CSV export for the browser tests: one patient's visit with a claim and an
image, a second visit, and a claim that no visit matches."""

from __future__ import annotations

import csv
from pathlib import Path

PATIENT = "8d4c4326-e9de-4f45-9a4c-f8c36bff89ae"
PATIENT_NAME = "Ada Lovelace"
OTHER_PATIENT = "0b9a7c43-1f0e-4a52-9f3a-2a6f1c0d5e77"
ORG = "ef58ea08-d883-3957-8300-150554edc8fb"
PROVIDER = "3421aa75-dec7-378d-a9e0-0bc764e4cb0d"
ENCOUNTER = "a1b2c3d4-0000-4000-8000-000000000001"
LATER_ENCOUNTER = "a1b2c3d4-0000-4000-8000-000000000002"
CLAIM = "c1a1m000-0000-4000-8000-000000000001"
LONE_CLAIM = "c1a1m000-0000-4000-8000-000000000009"
STUDY = "1mag1ng0-0000-4000-8000-000000000001"


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _patient(pid: str, first: str, last: str, birth: str, gender: str) -> dict[str, str]:
    return {"Id": pid, "BIRTHDATE": birth, "FIRST": first, "LAST": last, "GENDER": gender}


def _encounter(eid: str, start: str, stop: str, cls: str, description: str) -> dict[str, str]:
    return {
        "Id": eid, "START": start, "STOP": stop, "PATIENT": PATIENT, "ORGANIZATION": ORG,
        "PROVIDER": PROVIDER, "ENCOUNTERCLASS": cls, "CODE": "185349003",
        "DESCRIPTION": description,
    }  # fmt: skip


def _claim(cid: str, pid: str, encounter: str, date: str) -> dict[str, str]:
    return {
        "Id": cid, "PATIENTID": pid, "PROVIDERID": PROVIDER, "APPOINTMENTID": encounter,
        "SERVICEDATE": date, "DIAGNOSIS1": "44054006", "STATUS1": "CLOSED",
    }  # fmt: skip


def _charge(tid: str, cid: str, amount: str) -> dict[str, str]:
    return {
        "ID": tid, "CLAIMID": cid, "CHARGEID": "1", "TYPE": "CHARGE", "AMOUNT": amount,
        "FROMDATE": "2024-05-01T10:00:00Z", "TODATE": "2024-05-01T10:30:00Z",
        "PROCEDURECODE": "185349003", "UNITS": "1",
    }  # fmt: skip


def write_export(folder: Path) -> Path:
    """Write the export into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder / "patients.csv",
        [
            _patient(PATIENT, "Ada", "Lovelace", "1971-12-10", "F"),
            _patient(OTHER_PATIENT, "Charles", "Babbage", "1961-12-26", "M"),
        ],
    )
    _write(
        folder / "organizations.csv",
        [{"Id": ORG, "NAME": "Analytical Engine Clinic", "REVENUE": "0", "UTILIZATION": "2"}],
    )
    _write(
        folder / "providers.csv",
        [
            {
                "Id": PROVIDER, "ORGANIZATION": ORG, "NAME": "Dr. Mary Somerville",
                "GENDER": "F", "SPECIALITY": "GENERAL PRACTICE",
            }
        ],
    )  # fmt: skip
    _write(
        folder / "encounters.csv",
        [
            _encounter(ENCOUNTER, "2024-05-01T10:00:00Z", "2024-05-01T10:30:00Z",
                       "ambulatory", "Encounter for check up"),
            _encounter(LATER_ENCOUNTER, "2024-06-12T09:00:00Z", "2024-06-12T09:20:00Z",
                       "outpatient", "Follow-up encounter"),
        ],
    )  # fmt: skip
    _write(
        folder / "claims.csv",
        [
            _claim(CLAIM, PATIENT, ENCOUNTER, "2024-05-01T10:00:00Z"),
            _claim(LONE_CLAIM, OTHER_PATIENT, "", "2024-07-03T00:00:00Z"),
        ],
    )
    _write(
        folder / "claims_transactions.csv",
        [_charge("t-1", CLAIM, "129.50"), _charge("t-2", LONE_CLAIM, "80.00")],
    )
    _write(
        folder / "imaging_studies.csv",
        [
            {
                "Id": STUDY, "DATE": "2024-05-01T10:10:00Z", "PATIENT": PATIENT,
                "ENCOUNTER": ENCOUNTER, "SERIES_UID": "1.2.840.99999.1.1",
                "BODYSITE_CODE": "51185008", "BODYSITE_DESCRIPTION": "Thoracic structure",
                "MODALITY_CODE": "CR", "MODALITY_DESCRIPTION": "Computed Radiography",
                "PROCEDURE_CODE": "399208008",
            }
        ],
    )  # fmt: skip
    return folder
