"""Synthetic Riverside Health: every system's records in its own format, from one seed.

``generate(out, patients, seed=...)`` writes what a health system's separate systems would
hold about the same patients, each in the format it speaks, with the overlaps that the
identity and linking rules resolve:

| source     | format                                 | module                             |
| ---------- | -------------------------------------- | ---------------------------------- |
| ehr        | FHIR R4 transaction Bundles, or NDJSON | :mod:`loaders.generator.fhir`      |
| scheduling | HL7 v2 SIU S12/S13/S15                 | :mod:`loaders.generator.hl7v2`     |
| adt        | HL7 v2 ADT A01/A03, ORM O01            | :mod:`loaders.generator.hl7v2`     |
| pacs       | DICOM Part 10 headers, or DICOM JSON   | :mod:`loaders.generator.dicom`     |
| billing    | X12 837P 005010X222A1                  | :mod:`loaders.generator.x12`       |
| payer      | X12 835 005010X221A1                   | :mod:`loaders.generator.x12`       |

The story of each patient is :mod:`loaders.generator.scenario`; the directory of clinicians,
organizations and payers is :mod:`loaders.generator.directory`; ``manifest.json`` says what was
written and the facts to expect (:mod:`loaders.generator.manifest`). ``write_demo(out)`` writes
the small demo set that ``caregraph demo`` loads.
"""

from __future__ import annotations

from caregraph.loaders.generator.generator import FORMATS, LAYOUTS, clear, generate, write_demo

__all__ = ["FORMATS", "LAYOUTS", "clear", "generate", "write_demo"]
