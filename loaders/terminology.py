"""Terminologies as data: a code system's concepts and hierarchy (``caregraph terminology load``).

Two sources:

- ``icd10cm``: the ICD-10-CM release of CMS (public domain) that the simple_icd_10_cm package
  ships: chapters (``9``), blocks (``I20-I25``), categories (``I21``) and codes (``I21.4``),
  each with its description and its parent. The release's version is read from the tabular
  file the package carries.
- a file the user provides, for a terminology caregraph may not ship (SNOMED CT, LOINC, CPT):
  CSV with the header ``system,code,display,parent`` (other columns ignored). ``system`` is a
  code system's URI or a name the ontology knows for it (``SNOMED-CT``, an OID ...); ``parent``
  is a code of the same system, empty for a top concept; a concept with several parents has
  one row per parent (its display on any of them). A line that is not one CSV row, or that has
  no system or code, is left out and reported by its line number, never by its content.

Keys are spelt by loaders/concepts.py, so a terminology's Concepts are the nodes that records'
codes already made. The writing is graph/terminology.py's.
"""

from __future__ import annotations

import re
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import version as dist_version
from pathlib import Path

from neo4j import Driver

from caregraph.graph import terminology as gt
from caregraph.loaders import csvrows
from caregraph.loaders.concepts import ICD10CM, coded, known_system
from caregraph.ontology.model import load_ontology

FILE_COLUMNS = ("SYSTEM", "CODE", "DISPLAY", "PARENT")


@dataclass(slots=True)
class Release:
    """The concepts of one release of one code system, ready to write."""

    uri: str  # the code system's canonical URI
    name: str
    version: str
    release: str  # where it came from: package and file, or the user's file
    entries: list[gt.ConceptEntry]


@dataclass(frozen=True, slots=True)
class LineProblem:
    """A line of a terminology file that was left out: its number and why (no values)."""

    line: int
    reason: str


@dataclass(slots=True)
class TerminologyReport:
    """What one load of one release did."""

    uri: str
    name: str
    version: str
    concepts: int
    broader: int  # BROADER links the release gives
    changes: gt.TerminologyChanges
    seconds: float
    problems: list[LineProblem] = field(default_factory=list)


# -- ICD-10-CM, as shipped ------------------------------------------------------------------
def icd10cm() -> Release:
    """The ICD-10-CM release that simple_icd_10_cm carries."""
    with warnings.catch_warnings():
        # its data is read at import with importlib.resources' legacy calls, which warn on
        # every import; nothing for a caregraph user to act on
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm  # type: ignore[import-untyped]  # no py.typed marker

    entries: list[gt.ConceptEntry] = []
    seen: set[str] = set()
    for code in cm.get_all_codes(with_dots=True):
        concept = coded(ICD10CM, code)
        if concept is None or concept.key in seen:
            # 39 blocks hold one category of their own name (B10, C7A ...): one concept, whose
            # parent is the block's
            continue
        seen.add(concept.key)
        parent = next((a for a in cm.get_ancestors(code) if a != code), "")
        above = coded(ICD10CM, parent) if parent else None
        entries.append(
            gt.ConceptEntry(
                concept.key,
                concept.system,
                concept.code,
                cm.get_description(code) or None,
                (above.key,) if above else (),
            )
        )
    year, source = _icd10cm_release()
    return Release(ICD10CM, _name(ICD10CM), year, source, entries)


def _icd10cm_release() -> tuple[str, str]:
    """The release's version (the tabular file's <version>, a fiscal year) and where it came
    from (the package, its version and the CMS file it carries)."""
    data = resources.files("simple_icd_10_cm.data")
    tabular = sorted(f.name for f in data.iterdir() if re.match(r"icd10.*tabular.*\.xml$", f.name))
    package = f"simple_icd_10_cm {dist_version('simple_icd_10_cm')}"
    if not tabular:
        return "unknown", package
    year = "unknown"
    with data.joinpath(tabular[-1]).open("rb") as fh:
        # the version is the file's first element: stop there rather than parse 30 MB. The
        # file is the package's own, installed with caregraph, not input (hence no defusedxml)
        for _, elem in ET.iterparse(fh, events=("end",)):  # noqa: S314
            if elem.tag == "version":
                year = (elem.text or "").strip() or year
                break
    return year, f"{package}, CMS {tabular[-1]}"


# -- a user's file ----------------------------------------------------------------------------
def from_file(path: Path, version: str | None = None) -> tuple[list[Release], list[LineProblem]]:
    """The releases (one per code system) a terminology CSV holds, and the lines left out."""
    problems: list[LineProblem] = []
    by_system: dict[str, dict[str, _Gathered]] = {}
    with path.open("rb") as fh:
        header = csvrows.read_header(fh)
        if header is None or not {"SYSTEM", "CODE"} <= set(header):
            raise TerminologyFileError(
                path, "line 1 is not a CSV header with the columns system,code,display,parent"
            )
        for line in csvrows.lines(fh, header):
            if line.row is None:
                problems.append(LineProblem(line.number, line.problem or "not a CSV row"))
                continue
            row = line.row
            concept = coded(row.get("SYSTEM", ""), row.get("CODE", ""))
            if concept is None:
                problems.append(LineProblem(line.number, "no system or no code"))
                continue
            if not known_system(concept.system) and ":" not in concept.system:
                problems.append(
                    LineProblem(
                        line.number,
                        "the system is neither a URI nor a code system the ontology knows",
                    )
                )
                continue
            concepts = by_system.setdefault(concept.system, {})
            got = concepts.setdefault(concept.key, _Gathered(concept.code))
            display = row.get("DISPLAY", "")
            if display and not got.display:
                got.display = display
            elif display and display != got.display:
                problems.append(
                    LineProblem(
                        line.number, "another display for a code given before: kept the first"
                    )
                )
            parent = coded(concept.system, row.get("PARENT", ""))
            if parent is not None and parent.key not in got.parents and parent.key != concept.key:
                got.parents.append(parent.key)
    name = path.name
    out = [
        Release(
            uri,
            _name(uri),
            version or "unversioned",
            f"file {name}",
            [
                gt.ConceptEntry(key, uri, g.code, g.display or None, tuple(g.parents))
                for key, g in concepts.items()
            ],
        )
        for uri, concepts in sorted(by_system.items())
    ]
    return out, problems


@dataclass(slots=True)
class _Gathered:
    code: str
    display: str = ""
    parents: list[str] = field(default_factory=list)


class TerminologyFileError(ValueError):
    """A terminology file caregraph cannot read at all: its name and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


# -- loading ------------------------------------------------------------------------------------
BUILTIN: dict[str, Callable[[], Release]] = {"icd10cm": icd10cm}


def load(
    driver: Driver,
    database: str,
    release: Release,
    batch_size: int = 5000,
    problems: list[LineProblem] | None = None,
) -> TerminologyReport:
    """Write a release into the graph (only what differs from what is there) and say what
    changed and how long it took."""
    started = time.perf_counter()
    gt.ensure_schema(driver, database)
    changes = gt.write_concepts(driver, database, release.entries, batch_size)
    changes.system_changed = gt.record_release(
        driver,
        database,
        gt.CodeSystemRelease(
            release.uri, release.name, release.version, release.release, len(release.entries)
        ),
        changes.changed,
    )
    return TerminologyReport(
        uri=release.uri,
        name=release.name,
        version=release.version,
        concepts=len(release.entries),
        broader=sum(len(e.parents) for e in release.entries),
        changes=changes,
        seconds=time.perf_counter() - started,
        problems=list(problems or []),
    )


def _name(uri: str) -> str:
    known = load_ontology().code_system(uri)
    return known.label if known is not None else uri


def names() -> Iterator[str]:
    """The code systems ``terminology load NAME`` reads from what caregraph ships."""
    return iter(sorted(BUILTIN))
