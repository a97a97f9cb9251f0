"""FHIR R4 JSON: single resources, Bundles and Bulk Data NDJSON, parsed with fhir.resources.

- :mod:`~loaders.fhir.reading`: the file as resources (a resource, a Bundle's entries, NDJSON
  lines), each with its position.
- :mod:`~loaders.fhir.validation`: each resource checked by fhir.resources' R4B models.
- :mod:`~loaders.fhir.references`: References (relative, absolute, urn:uuid, conditional,
  logical, contained) as Refs.
- :mod:`~loaders.fhir.mapping`: one resource -> one Record; the mappers per domain are
  :mod:`directory`, :mod:`clinical`, :mod:`scheduling` and :mod:`financial`.

Resource types caregraph does not model (Observation, MedicationRequest ...) are Skipped, and so are
Bundle entries that carry no record (a transaction's DELETE or GET: caregraph does not
retract on DELETE). Only what cannot be understood is Rejected, with a code: ``syntax`` (not
FHIR JSON), ``unsupported`` (an R5 or STU3 resource type), ``invalid`` (R4's own rules broken)
or ``identity`` (nothing to key it by). What is understood but unusual or incomplete (a
reference to another server, a single value where R4 has a list) is written with a warning.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from caregraph.loaders.fhir.mapping import FORMAT
from caregraph.loaders.fhir.reading import WIDE_BOMS, items
from caregraph.loaders.records import Item

_RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:\s*"')
# DICOM JSON: objects keyed by 8-hex-digit tags (the DICOM loader reads those)
_DICOM_TAG = re.compile(rb'"[0-9A-Fa-f]{8}"\s*:\s*\{')


class FhirLoader:
    """FHIR R4 JSON resources, Bundles and NDJSON."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        """JSON (or NDJSON) whose first object has a resourceType; not DICOM JSON. A UTF-16
        file is claimed too, so that it is rejected as FHIR in the wrong encoding."""
        if head.startswith(WIDE_BOMS):
            for encoding in ("utf-16", "utf-32"):
                try:
                    text = head.decode(encoding, errors="ignore").encode("utf-8")
                except UnicodeError:
                    continue
                if self._looks_fhir(text.lstrip(codecs.BOM_UTF8)):
                    return True
            return False
        return self._looks_fhir(head.removeprefix(codecs.BOM_UTF8))

    @staticmethod
    def _looks_fhir(head: bytes) -> bool:
        body = head.lstrip()
        if not body.startswith((b"{", b"[")) or _DICOM_TAG.search(body[:4096]):
            return False
        return _RESOURCE_TYPE.search(body) is not None

    def read(self, path: Path, source: str) -> Iterator[Item]:
        """Stream the file's resources, each mapped, rejected or skipped."""
        return items(path, source)


LOADER = FhirLoader()
