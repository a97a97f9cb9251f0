"""The generator's loop: one patient at a time, made, written by every format, dropped.

Memory holds the directory (one clinician per 50 patients), the open files, one batch of 835
payments (they are grouped by payer before they are written) and the manifest's counts:
nothing grows with the number of patients but the namesake list (one entry per 200).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from caregraph.loaders.generator import clock
from caregraph.loaders.generator.dicom import DicomWriter
from caregraph.loaders.generator.directory import Directory
from caregraph.loaders.generator.fhir import FhirWriter
from caregraph.loaders.generator.hl7v2 import Hl7Writer
from caregraph.loaders.generator.manifest import IDENTITY_TOML, Tally
from caregraph.loaders.generator.scenario import PatientCase, patient_case
from caregraph.loaders.generator.x12 import ClaimWriter, RemittanceWriter

FORMATS = ("fhir", "hl7v2", "dicom", "x12")
LAYOUTS = ("auto", "files", "bulk")
# Up to this many patients the files are as the systems write them one by one (a FHIR
# bundle per patient, a Part 10 file per series); above it, as bulk exports (FHIR NDJSON,
# DICOM JSON batches), so that 100,000 patients do not make 250,000 small files.
FILES_UP_TO = 1000
BATCH_SIZE = 1000  # patients per HL7 v2, X12, NDJSON and DICOM JSON file
OUTPUTS = (
    "fhir",
    "fhir-bulk",
    "hl7v2",
    "dicom",
    "dicom-json",
    "x12",
    "manifest.json",
    "identity.toml",
)
SOURCES = ("ehr", "scheduling", "adt", "pacs", "billing", "payer")


class Writer(Protocol):
    format: str

    @property
    def sources(self) -> dict[str, list[str]]: ...

    def directory(self, d: Directory) -> None: ...

    def patient(self, case: PatientCase) -> None: ...

    def close(self) -> dict[str, int]: ...


def resolve_layout(layout: str, patients: int) -> str:
    """``files`` or ``bulk``: ``auto`` picks by the number of patients."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        return "files" if patients <= FILES_UP_TO else "bulk"
    return layout


def clear(out: Path) -> None:
    """Remove what an earlier run wrote into ``out`` (and nothing else)."""
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def generate(
    out: Path,
    patients: int,
    *,
    seed: int = 0,
    formats: Sequence[str] = FORMATS,
    layout: str = "auto",
    batch_size: int = BATCH_SIZE,
    on_patient: Callable[[int], None] | None = None,
    duplicates: float = 0.0,
) -> dict[str, Any]:
    """Write ``patients`` patients' records into ``out``; return the manifest (also written).
    ``duplicates``: the share of patients registered a second time in the EHR (0 to 1)."""
    if not 0.0 <= duplicates <= 1.0:
        raise ValueError("duplicates must be between 0 and 1")
    if patients < 1:
        raise ValueError("patients must be at least 1")
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    chosen = resolve_layout(layout, patients)
    bulk = chosen == "bulk"
    out.mkdir(parents=True, exist_ok=True)
    writers: list[Writer] = []
    if "fhir" in formats:
        writers.append(FhirWriter(out, seed, batch_size, bulk=bulk))
    if "hl7v2" in formats:
        writers.append(Hl7Writer(out, batch_size))
    if "dicom" in formats:
        writers.append(DicomWriter(out, batch_size, bulk=bulk))
    if "x12" in formats:
        writers += [ClaimWriter(out, batch_size), RemittanceWriter(out, batch_size)]

    directory = Directory.build(seed, patients)
    for w in writers:
        w.directory(directory)
    tally = Tally()
    for index in range(patients):
        case = patient_case(index, seed, directory, duplicates)
        for w in writers:
            w.patient(case)
        tally.add(case)
        if on_patient is not None:
            on_patient(index)
    counts = {w.format: w.close() for w in writers}
    sources: dict[str, list[str]] = {}
    for w in writers:
        sources.update(w.sources)

    (out / "identity.toml").write_text(IDENTITY_TOML)
    manifest: dict[str, Any] = {
        "generator": "caregraph synth",
        "healthSystem": "Riverside Health",
        "seed": seed,
        "patients": patients,
        "duplicates": duplicates,
        "asOf": clock.AS_OF.isoformat(),
        "layout": chosen,
        "batchSize": batch_size,
        "formats": [f for f in FORMATS if f in formats],
        "identity": "identity.toml",
        "sources": {name: sources[name] for name in SOURCES if name in sources},
        "counts": counts,
        "expected": tally.expected(directory),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


DEMO_PATIENTS = 12


def write_demo(out: Path) -> dict[str, Any]:
    """The demo data set: 12 patients of Riverside Health in every format, seed 0."""
    clear(out)
    return generate(out, DEMO_PATIENTS, seed=0, layout="files")
