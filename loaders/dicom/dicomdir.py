"""A DICOMDIR: one record per STUDY directory record, with its patient and series.

The directory records are walked by their offsets (first root record, next sibling, first
child), as PS3.10 defines them. pydicom's FileSet also reads them, but it drops every branch
that does not end in a referenced file and keeps its record tree private, so a DICOMDIR
listing studies whose images are not on the medium would lose them. Headers of referenced
files, when present next to the DICOMDIR, fill in what the directory records leave out
(institution, referring physician, timezone, birth date, body part).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from caregraph.loaders.dicom import mapping
from caregraph.loaders.dicom.errors import DicomError
from caregraph.loaders.records import Link, Node
from caregraph.ontology.vocab import CG

_DIRECTORY_GROUP = 0x0004  # the record's own bookkeeping: offsets, type, file id
_LEVELS = {"PATIENT", "STUDY", "SERIES"}  # what is not an instance-level record


@dataclass
class Entry:
    """A directory record and the records below it."""

    record: Dataset
    children: list[Entry] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.record.get("DirectoryRecordType", "")).strip().upper()

    def leaves(self) -> Iterator[Entry]:
        if not self.children and self.kind not in _LEVELS:
            yield self
        for child in self.children:
            yield from child.leaves()


@dataclass
class StudyEntry:
    """A STUDY record with its PATIENT record, as the mapping reads them."""

    index: int
    patient: Entry | None
    study: Entry


def studies(ds: Dataset) -> Iterator[StudyEntry]:
    """Every STUDY record of the directory, in directory order."""
    index = 0
    for top in _tree(ds):
        pairs = (
            [(top, s) for s in top.children if s.kind == "STUDY"]
            if top.kind == "PATIENT"
            else [(None, top)]
            if top.kind == "STUDY"
            else []
        )
        for patient, study in pairs:
            index += 1
            yield StudyEntry(index, patient, study)


def _tree(ds: Dataset) -> list[Entry]:
    records: list[Dataset] = list(ds.get("DirectoryRecordSequence", []))
    by_offset = {r.seq_item_tell: r for r in records if r.seq_item_tell is not None}
    root = ds.get("OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity")
    if root in by_offset:
        seen: set[int] = set()
        return _siblings(root, by_offset, seen)
    return _in_order(records)  # no usable offsets: read the records' order as their hierarchy


def _siblings(offset: int, by_offset: dict[int, Dataset], seen: set[int]) -> list[Entry]:
    out: list[Entry] = []
    while offset and offset in by_offset and offset not in seen:  # `seen` stops loops
        seen.add(offset)
        record = by_offset[offset]
        entry = Entry(record)
        lower = record.get("OffsetOfReferencedLowerLevelDirectoryEntity", 0)
        entry.children = _siblings(lower, by_offset, seen)
        out.append(entry)
        offset = record.get("OffsetOfTheNextDirectoryRecord", 0)
    return out


def _in_order(records: list[Dataset]) -> list[Entry]:
    levels = {"PATIENT": 0, "STUDY": 1, "SERIES": 2}
    roots: list[Entry] = []
    stack: list[Entry] = []
    for record in records:
        entry = Entry(record)
        depth = levels.get(entry.kind, 3)
        del stack[depth:]
        (stack[-1].children if stack else roots).append(entry)
        if depth < 3:
            stack.append(entry)
    return roots


def header(dicomdir: Path, entry: Entry) -> Dataset | None:
    """The header of the first referenced file under ``entry`` that can be read, if any."""
    for leaf in entry.leaves():
        file_id = leaf.record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        path = dicomdir.parent.joinpath(*parts)
        if not path.is_file():
            path = dicomdir.parent.joinpath(*(p.lower() for p in parts))
        if not path.is_file():
            continue
        try:
            return pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:  # noqa: S112  # an unreadable image: the directory still says enough
            continue
    return None


def merged(*layers: Dataset | None) -> Dataset:
    """One dataset from several, later layers winning; directory bookkeeping left out."""
    out = Dataset()
    for layer in layers:
        if layer is None:
            continue
        for elem in layer:  # iterating decodes each value with its own dataset's charset
            if elem.tag.group != _DIRECTORY_GROUP and elem.tag != 0x00080005:
                out[elem.tag] = elem
    return out


def nodes(dicomdir: Path, entry: StudyEntry, source: str) -> tuple[list[Node], list[Link]]:
    """The study's nodes (patient, study, series, institution) and links."""
    series_nodes: list[Node] = []
    first_header: Dataset | None = None
    instances = 0
    for child in entry.study.children:
        if child.kind != "SERIES":
            continue
        count = sum(1 for _ in child.leaves())
        instances += count
        series_header = header(dicomdir, child)
        first_header = first_header or series_header
        node = mapping.series(merged(series_header, child.record), required=True)
        if node is None:  # pragma: no cover  # required=True raises instead
            raise DicomError("a SERIES record has no SeriesInstanceUID")
        node.props.setdefault(CG.numberOfInstances, count)
        series_nodes.append(node)
    if first_header is None and not series_nodes:
        first_header = header(dicomdir, entry.study)
    base = merged(first_header, entry.patient.record if entry.patient else None, entry.study.record)
    study = mapping.study(base)
    modalities: list[str] = sorted(
        {str(m) for s in series_nodes for m in _as_list(s.props.get(CG.modality))}
    )
    if modalities:
        study.props[CG.modality] = modalities
    study.props[CG.numberOfSeries] = len(series_nodes)
    study.props[CG.numberOfInstances] = instances
    pat = mapping.patient(base, source)
    org = mapping.institution(base, source)
    found = [n for n in (pat, study, org) if n is not None] + series_nodes
    return found, mapping.links(study.ref, pat, org, series_nodes)


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []
