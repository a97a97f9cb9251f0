"""DICOM headers (never pixel data): Part 10 files, DICOMDIR and DICOM JSON, with pydicom.

- A Part 10 file (``DICM`` after the 128-byte preamble) is one Record: its study, series,
  patient and institution. The pipeline walks folders; repeats of a study across files merge
  on the study's key in the writer.
- A DICOMDIR is one Record per STUDY directory record (see ``dicomdir``).
- A DICOM JSON file (QIDO-RS / WADO-RS metadata) is one Record per array item ("item N").

A raw dataset without preamble and file meta is not read: without the meta header there is
no transfer syntax to trust, and pydicom's ``force=True`` guessing would read garbage as
data. Bad objects become Rejected with the attribute's keyword and tag, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import MediaStorageDirectoryStorage

from caregraph.loaders.dicom import dicomdir, dicomjson, mapping
from caregraph.loaders.dicom.errors import DicomError
from caregraph.loaders.records import Item, Link, Node, Record, Rejected, SourceRef

FORMAT = "dicom"
PREAMBLE = 128
UTF8_BOM = b"\xef\xbb\xbf"
_JSON_HEAD = re.compile(rb'"[0-9A-Fa-f]{8}"\s*:\s*\{\s*"(vr|Value|BulkDataURI|InlineBinary)"')
_UNDEFINED_LENGTH = 0xFFFFFFFF
_JSON_IDS = ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID")  # most specific first


class DicomLoader:
    """Reads DICOM Part 10 files, DICOMDIRs and DICOM JSON."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        """``DICM`` at offset 128, DICOM JSON tags, or a DICOMDIR / .dcm name."""
        if head[PREAMBLE : PREAMBLE + 4] == b"DICM":
            return True
        start = head.removeprefix(UTF8_BOM).lstrip()
        if start[:1] in (b"[", b"{") and _JSON_HEAD.search(head):
            return True
        return path.name.upper() == "DICOMDIR" or path.suffix.lower() in (".dcm", ".dicom")

    def read(self, path: Path, source: str) -> Iterator[Item]:
        """The file's records: one per Part 10 file, DICOMDIR study record or JSON item."""
        file = str(path)
        whole = SourceRef(source, file, "file")
        try:
            with path.open("rb") as fh:
                head = fh.read(PREAMBLE + 4)
        except OSError as e:
            yield Rejected(whole, FORMAT, f"the file cannot be read ({e.strerror})")
            return
        if not head.strip():
            yield Rejected(whole, FORMAT, "the file is empty: it holds no DICOM object")
        elif head[PREAMBLE : PREAMBLE + 4] == b"DICM":
            yield from self._part10(path, source)
        elif head.removeprefix(UTF8_BOM).lstrip()[:1] in (b"[", b"{"):
            yield from self._json(path, source)
        else:
            yield Rejected(
                whole,
                FORMAT,
                "not a DICOM Part 10 file (no 128-byte preamble and 'DICM' prefix, so no file "
                "meta information) and not DICOM JSON; export it as a Part 10 file",
            )

    def _part10(self, path: Path, source: str) -> Iterator[Item]:
        file = str(path)
        try:
            with mapping.strict_text():
                ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, OSError, ValueError, DicomError) as e:
            reason = str(e) if isinstance(e, DicomError) else "its header cannot be read"
            yield Rejected(
                SourceRef(source, file, "file"), FORMAT, f"not a readable DICOM file: {reason}"
            )
            return
        ref = SourceRef(source, file, "file")
        try:
            if ds.file_meta.get("MediaStorageSOPClassUID") == MediaStorageDirectoryStorage or (
                "DirectoryRecordSequence" in ds
            ):
                yield from self._dicomdir(path, ds, source)
                return
            sop = _safe_uid(ds, "SOPInstanceUID") or _safe_uid(
                ds.file_meta, "MediaStorageSOPInstanceUID"
            )
            ref = SourceRef(source, file, "file", sop)
            if _truncated(ds):
                yield Rejected(
                    ref, FORMAT, "the file is truncated: an attribute's value ends early", "syntax"
                )
                return
            with mapping.strict_text():
                nodes, links = _object(ds, source, series_required=True)
        except DicomError as e:
            yield Rejected(ref, FORMAT, str(e))
            return
        except Exception as e:  # pydicom decodes lazily: a damaged element
            # can raise anything from its value converters (an unknown VR, a bad length)
            yield Rejected(
                ref,
                FORMAT,
                f"an attribute's value cannot be decoded ({type(e).__name__}): the file is "
                "damaged or not valid DICOM",
                "syntax",
            )
            return
        yield Record(ref, FORMAT, "DICOM instance", nodes, links)

    def _dicomdir(self, path: Path, ds: Dataset, source: str) -> Iterator[Item]:
        file = str(path)
        count = 0
        for entry in dicomdir.studies(ds):
            count += 1
            position = f"study record {entry.index}"
            study_uid = _safe_uid(entry.study.record, "StudyInstanceUID")
            ref = SourceRef(source, file, position, study_uid)
            try:
                with mapping.strict_text():
                    nodes, links = dicomdir.nodes(path, entry, source)
            except DicomError as e:
                yield Rejected(ref, FORMAT, str(e))
                continue
            yield Record(ref, FORMAT, "DICOMDIR study", nodes, links)
        if count == 0:
            yield Rejected(
                SourceRef(source, file, "file"), FORMAT, "the DICOMDIR lists no STUDY records"
            )

    def _json(self, path: Path, source: str) -> Iterator[Item]:
        file = str(path)
        last = 0
        try:
            for n, item in dicomjson.items(path):
                last = n
                ref = SourceRef(source, file, f"item {n}")
                try:
                    with mapping.strict_text():
                        ds = dicomjson.dataset(item, n)
                        rid = next(filter(None, (_safe_uid(ds, k) for k in _JSON_IDS)), None)
                        ref = SourceRef(source, file, ref.position, rid)
                        nodes, links = _object(ds, source, series_required=False)
                except DicomError as e:
                    yield Rejected(ref, FORMAT, str(e))
                    continue
                yield Record(ref, FORMAT, "DICOM JSON", nodes, links)
        except dicomjson.NotJson as e:
            where = f"item {last + 1}" if last else "file"
            yield Rejected(SourceRef(source, file, where), FORMAT, f"not DICOM JSON: {e}")


def _object(ds: Dataset, source: str, *, series_required: bool) -> tuple[list[Node], list[Link]]:
    """One dataset's nodes and links: study, series, patient, institution."""
    study = mapping.study(ds)
    series = mapping.series(ds, required=series_required)
    pat = mapping.patient(ds, source)
    org = mapping.institution(ds, source)
    series_nodes = [series] if series is not None else []
    nodes = [n for n in (pat, study, org) if n is not None] + series_nodes
    return nodes, mapping.links(study.ref, pat, org, series_nodes)


def _safe_uid(ds: Dataset, keyword: str) -> str | None:
    """A UID to name the record by, or None when it is absent or unreadable."""
    try:
        with mapping.quiet():
            return mapping.uid(ds, keyword, required=False)
    except DicomError:
        return None


def _truncated(ds: Dataset) -> bool:
    """True when an element's value is shorter than its declared length (the file ends early).

    pydicom reads what is there and stops quietly at the end of a cut file; the declared
    lengths are the only trace. ``get_item`` returns the raw element without converting it.
    """
    for tag in list(ds.keys()):  # keys, not items: iterating the dataset would convert them
        raw = ds.get_item(tag)
        if (
            isinstance(raw, RawDataElement)
            and raw.value is not None
            and raw.length != _UNDEFINED_LENGTH
            and len(raw.value) < raw.length
        ):
            return True
    return False


LOADER = DicomLoader()
