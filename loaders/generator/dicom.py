"""The PACS: one DICOM object per series of every study, headers only, written with pydicom.

Two layouts, chosen by the size of the data set:

- ``files``: DICOM Part 10 files (preamble, file meta, dataset; no pixel data), as a PACS
  export or a modality sends them: ``dicom/<batch>/<accession>-<series>.dcm``. Realistic, but
  one small file per series: 100,000 patients would make some 150,000 files.
- ``bulk``: DICOM JSON (PS3.18 F.2), as a DICOMweb archive answers a metadata query: one
  array of series-level objects per batch of patients, ``dicom-json/studies-<batch>.json``.
  The same attributes, a few files, and faster to write and read.

The patient is named as the EHR names them (MRN within IssuerOfPatientID RIVERSIDE); the
accession number within RIVERSIDE-RIS is the order's; the referring physician is the visit's
clinician by name only, as DICOM knows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from caregraph.loaders.generator import clock, ids
from caregraph.loaders.generator.scenario import Encounter, PatientCase, Series, Study

MANUFACTURER = "Riverside Imaging (synthetic)"


def dataset(case: PatientCase, e: Encounter, study: Study, series: Series) -> Dataset:
    """One series' object: patient, study, series and instance attributes."""
    person = case.person
    image = study.imaging
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: names keep their accents
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = image.sop_class
    ds.SOPInstanceUID = series.sop_uid
    ds.StudyDate = clock.da(study.start.date())
    ds.SeriesDate = clock.da(series.start.date())
    ds.StudyTime = study.start.strftime("%H%M%S")
    ds.SeriesTime = series.start.strftime("%H%M%S")
    ds.AccessionNumber = study.accession
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = ids.ACCESSION_ISSUER
    ds.IssuerOfAccessionNumberSequence = Sequence([issuer])
    ds.Modality = image.modality
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = e.organization.name
    ds.ReferringPhysicianName = f"{e.practitioner.family}^{e.practitioner.given}"
    ds.StationName = f"{e.organization.code}{image.modality}1"
    ds.StudyDescription = image.display
    ds.SeriesDescription = series.description
    ds.PatientName = "^".join(x for x in (person.family, person.given, person.middle) if x)
    ds.PatientID = case.mrn
    ds.IssuerOfPatientID = ids.PATIENT_AUTHORITY
    qualifiers = Dataset()
    qualifiers.IdentifierTypeCode = "MR"
    ds.IssuerOfPatientIDQualifiersSequence = Sequence([qualifiers])
    ds.PatientBirthDate = clock.da(person.birth)
    ds.PatientSex = "F" if person.gender == "female" else "M"
    offset = study.start.strftime("%z")
    ds.TimezoneOffsetFromUTC = offset
    ds.BodyPartExamined = image.body_part
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = series.uid
    ds.StudyID = study.accession
    ds.SeriesNumber = series.number
    ds.InstanceNumber = 1
    return ds


class DicomWriter:
    """Writes every study of every patient, as Part 10 files or DICOM JSON batches."""

    format = "dicom"

    def __init__(self, out: Path, batch_size: int, *, bulk: bool) -> None:
        self.bulk = bulk
        self.root = out / ("dicom-json" if bulk else "dicom")
        self.root.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.files = 0
        self.studies = 0
        self.series = 0
        self._batch = -1
        self._json: IO[str] | None = None
        self._items = 0

    @property
    def sources(self) -> dict[str, list[str]]:
        return {"pacs": [self.root.name]}

    def directory(self, d: object) -> None:
        """A PACS keeps no clinician directory: referrers are names on studies."""

    def patient(self, case: PatientCase) -> None:
        batch = case.index // self.batch_size
        if batch != self._batch:
            self._end_batch()
            self._batch = batch
        for e in case.encounters:
            if e.study is None:
                continue
            self.studies += 1
            for series in e.study.series:
                self.series += 1
                ds = dataset(case, e, e.study, series)
                if self.bulk:
                    self._write_json(ds)
                else:
                    self._write_part10(ds, e.study, series)

    def _write_part10(self, ds: Dataset, study: Study, series: Series) -> None:
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = ds.SOPClassUID
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        folder = self.root / f"{self._batch:04d}"
        folder.mkdir(exist_ok=True)
        ds.save_as(folder / f"{study.accession}-{series.number}.dcm", enforce_file_format=True)
        self.files += 1

    def _write_json(self, ds: Dataset) -> None:
        if self._json is None:
            self._json = (self.root / f"studies-{self._batch:04d}.json").open("w", encoding="utf-8")
            self._json.write("[\n")
            self._items = 0
            self.files += 1
        if self._items:
            self._json.write(",\n")
        self._json.write(json.dumps(ds.to_json_dict(), ensure_ascii=False, separators=(",", ":")))
        self._items += 1

    def _end_batch(self) -> None:
        if self._json is not None:
            self._json.write("\n]\n")
            self._json.close()
            self._json = None

    def close(self) -> dict[str, int]:
        self._end_batch()
        return {"files": self.files, "studies": self.studies, "series": self.series}
