"""``python -m bench.fidelity``: every real sample file loaded, summarised in docs/fidelity.md.

Each folder of ``../shared/samples`` is loaded as its own source system into a Neo4j of its
own (a managed server under a temporary folder, emptied between folders, so one folder's
records never meet another's), with caregraph's own pipeline. The table says, per folder and
format, how many records were read, written, written with warnings, skipped and rejected,
then lists every rejection and warning by its code and reason, and the graph's integrity
checks after each folder (no node of two unrelated classes, no self-loop, no event linked to
two patients). The reasons name positions and codes, never patient values.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo4j import Driver

from bench.database import free_port
from caregraph.graph import integrity
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import ManagedNeo4jSettings
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"


@dataclass
class FolderResult:
    """What loading one sample folder gave."""

    folder: str
    formats: Counter[str] = field(default_factory=Counter)
    files: int = 0
    read: int = 0
    written: int = 0
    warned: int = 0
    skipped: int = 0
    rejected: int = 0
    not_attempted: int = 0
    rejects: Counter[str] = field(default_factory=Counter)  # "code: reason" -> count
    warnings: Counter[str] = field(default_factory=Counter)
    integrity: dict[str, int] = field(default_factory=dict)
    conflicts: Counter[str] = field(default_factory=Counter)  # kind -> count
    ambiguous: dict[str, int] = field(default_factory=dict)  # rule -> records left unlinked
    fatal: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "formats": dict(self.formats),
            "files": self.files,
            "read": self.read,
            "written": self.written,
            "withWarnings": self.warned,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "notAttempted": self.not_attempted,
            "rejects": dict(self.rejects),
            "warnings": dict(self.warnings),
            "integrity": self.integrity,
            "conflicts": dict(self.conflicts),
            "ambiguous": self.ambiguous,
            "fatal": self.fatal,
        }


def _general(reason: str) -> str:
    """A reason without its positions, so equal reasons at different places count together."""
    text = re.sub(
        r"\b(segment|line|entry|message|claim|payment|row|item|record|file|interchange|group) "
        r"\d+\b",
        r"\1 #",
        reason,
    )
    text = re.sub(r"\[\d+\]", "[#]", text)
    text = re.sub(r"\(\d+/", "(#/", text)  # X12 loop ids in "segment 12 (2300/CLM)"
    return text[:200]


def summarise(folder: Path, report: dict[str, Any], checks: dict[str, int]) -> FolderResult:
    """One folder's line of the table, from its load report and the integrity checks."""
    out = FolderResult(folder.name)
    for f in report["files"]:
        out.files += 1
        out.formats[f["format"]] += 1
        out.read += f["read"]
        out.written += f["written"]
        out.warned += f.get("warned", 0)
        out.skipped += f["skipped"]
        out.rejected += f["rejected"]
        out.not_attempted += f.get("notAttempted", f.get("not_attempted", 0))
    for r in report["rejects"]:
        out.rejects[f"{r.get('code', 'rejected')}: {_general(r['reason'])}"] += 1
    for w in report.get("warnings", []):
        out.warnings[f"{w['code']}: {_general(w['message'])}"] += 1
    out.integrity = checks
    for conflict in report["identity"]["conflicts"]:
        out.conflicts[conflict.split(":", 1)[0]] += 1
    out.ambiguous = dict(report["identity"].get("ambiguous", {}))
    out.fatal = report.get("fatal")
    return out


def run(samples: Path, home: Path) -> list[FolderResult]:
    """Load each sample folder on its own into a fresh managed Neo4j under ``home``."""
    settings = ManagedNeo4jSettings(
        bolt_port=free_port(), http_port=free_port(), heap="1g", pagecache="256m"
    )
    server = ManagedNeo4j(home / "neo4j", settings)
    server.start()
    conn = server.connection()
    try:
        driver = open_driver(conn)
        try:
            return run_on(driver, conn.database, samples)
        finally:
            driver.close()
    finally:
        server.stop()


def run_on(driver: Driver, database: str, samples: Path) -> list[FolderResult]:
    """Each sample folder loaded on its own into ``database``, emptied before each: for a
    throwaway database only (the tests' and this command's own)."""
    onto = load_ontology()
    results: list[FolderResult] = []
    for folder in sorted(p for p in samples.iterdir() if p.is_dir()):
        integrity.wipe(driver, database)
        report = load([folder], driver=driver, database=database, source=folder.name, onto=onto)
        checks = integrity.check(driver, database, onto)
        results.append(summarise(folder, report.as_json(), checks.as_counts()))
        print(
            f"{folder.name}: read {results[-1].read}, rejected {results[-1].rejected}",
            file=sys.stderr,
        )
    return results


def markdown(results: list[FolderResult]) -> str:
    """The fidelity table and its reasons, as docs/fidelity.md."""
    lines = [
        "# Fidelity on real files",
        "",
        "Made by `make fidelity` (`python -m bench.fidelity`): every folder of "
        "`../shared/samples` loaded as its own source system into an empty graph with "
        "caregraph's pipeline. A record is *written* (with or without warnings), *skipped* "
        "(a kind caregraph does not model, or an entry that carries no record), or *rejected* "
        "(its syntax or its identity cannot be understood). read = written + skipped + "
        "rejected + not attempted, in every row.",
        "",
        "| folder | formats | files | read | written | with warnings | skipped | rejected |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        formats = ", ".join(f"{k} {v}" for k, v in sorted(r.formats.items()))
        lines.append(
            f"| {r.folder} | {formats} | {r.files} | {r.read} | {r.written} | {r.warned} "
            f"| {r.skipped} | {r.rejected} |"
        )
    total = FolderResult("total")
    for r in results:
        for name in ("files", "read", "written", "warned", "skipped", "rejected"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    lines.append(
        f"| **total** | | {total.files} | {total.read} | {total.written} | {total.warned} "
        f"| {total.skipped} | {total.rejected} |"
    )
    for title, of in (("Rejections", "rejects"), ("Warnings", "warnings")):
        listed = [
            f"- {r.folder}: {n} x `{reason}`"
            for r in results
            for reason, n in sorted(getattr(r, of).items())
        ]
        lines += ["", f"## {title}, by code and reason", "", *(listed or ["None."])]
    lines += ["", "## Identity conflicts kept apart, and links left undecided", ""]
    kept = [
        f"- {r.folder}: "
        + ", ".join(
            [f"{n} x {kind}" for kind, n in sorted(r.conflicts.items())]
            + [f"{n} left unlinked by {rule} (several targets)" for rule, n in r.ambiguous.items()]
        )
        for r in results
        if r.conflicts or r.ambiguous
    ]
    lines += kept or ["None."]
    lines += [
        "",
        "## The graph's integrity after each folder",
        "",
        "Counted by `graph/integrity.py`: nodes carrying two classes the ontology does not "
        "relate, relationships from a node to itself, and studies, claims, encounters or "
        "appointments linked to more than one patient. Every cell must be 0.",
        "",
    ]
    names = sorted({k for r in results for k in r.integrity})
    lines.append("| folder | " + " | ".join(names) + " |")
    lines.append("| --- |" + " ---: |" * len(names))
    for r in results:
        lines.append(
            f"| {r.folder} | " + " | ".join(str(r.integrity.get(n, 0)) for n in names) + " |"
        )
    fatal = [r for r in results if r.fatal]
    if fatal:
        lines += ["", "## Fatal errors", ""]
        lines += [f"- {r.folder}: {r.fatal}" for r in fatal]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.fidelity", description=__doc__.splitlines()[0]
    )
    p.add_argument("--samples", type=Path, default=SAMPLES)
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "fidelity.md")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "fidelity.json")
    args = p.parse_args(argv)
    if not args.samples.is_dir():
        print(f"no samples at {args.samples}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="caregraph-fidelity-") as tmp:
        results = run(args.samples, Path(tmp))
    args.doc.write_text(markdown(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps([r.as_json() for r in results], indent=2) + "\n")
    print(f"wrote {args.doc} and {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
