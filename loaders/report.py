"""The load report: per file and format, what was read, written, skipped and rejected."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from caregraph.loaders.records import Record, RecordWarning, Rejected, Skipped, SourceRef


@dataclass(slots=True)
class FileReport:
    """Counts for one file. Always: read == written + skipped + rejected + not_attempted."""

    path: str
    format: str
    read: int = 0
    written: int = 0  # in the graph after this load (includes `unchanged`)
    unchanged: int = 0  # already in the graph as they are: nothing was written again
    skipped: int = 0  # kinds caregraph does not model, entries that carry no record
    rejected: int = 0
    warned: int = 0  # of `written`: written with warnings
    not_attempted: int = 0  # read, but a fatal error stopped the load before they were written

    @property
    def reconciles(self) -> bool:
        return self.read == self.written + self.skipped + self.rejected + self.not_attempted


@dataclass(frozen=True, slots=True)
class Warned:
    """One warning of one written record: where, which format, the warning."""

    ref: SourceRef
    format: str
    warning: RecordWarning


@dataclass(frozen=True, slots=True)
class ScorecardSnapshot:
    """What became of the scorecard's snapshot at the end of a run: ``kept`` (it took
    ``seconds``), ``deferred`` (the last snapshot took ``last_seconds``, more than the
    history's budget allows after ``loading_seconds`` of loading since; a later run keeps
    one) or ``failed`` (said in the log; the records are loaded)."""

    outcome: str
    seconds: float | None = None
    last_seconds: float | None = None
    loading_seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        said: dict[str, Any] = {"snapshot": self.outcome}
        for name, value in (
            ("snapshotSeconds", self.seconds),
            ("lastSnapshotSeconds", self.last_seconds),
            ("loadingSecondsSince", self.loading_seconds),
        ):
            if value is not None:
                said[name] = round(value, 3)
        return said


@dataclass(slots=True)
class LoadReport:
    """The whole load: files, graph changes, rejects, time."""

    run_id: str
    source: str
    files: list[FileReport] = field(default_factory=list)
    nodes_created: int = 0
    nodes_updated: int = 0
    relationships_created: int = 0
    relationships_updated: int = 0
    seconds: float = 0.0
    rejects: list[Rejected] = field(default_factory=list)
    warnings: list[Warned] = field(default_factory=list)
    skips: list[Skipped] = field(default_factory=list)  # the skipped entries that say why
    conflicts: list[str] = field(default_factory=list)
    merges: dict[str, int] = field(default_factory=dict)
    links: dict[str, int] = field(default_factory=dict)  # links made by linking rules, per rule
    # nodes a rule left unlinked because more than one target qualified, per rule
    ambiguous: dict[str, int] = field(default_factory=dict)
    # seconds of the write transactions of the records that changed, per step (identity,
    # write, linking, and the commit), and how many records those steps handled: the linking
    # cost per record is timings["linking"] / that. Not timed: the lookup of the records'
    # hashes that tells the changed ones apart.
    timings: dict[str, float] = field(default_factory=dict)
    timed_records: int = 0
    rejects_file: str | None = None
    fatal: str | None = None
    files_not_read: list[str] = field(default_factory=list)  # left unopened by a fatal error
    # None: the run kept no snapshot of its own (a fatal error ended it, or it is a run of
    # an initial import before its last, whose one snapshot covers them all)
    scorecard: ScorecardSnapshot | None = None

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def exit_code(self) -> int:
        """0 nothing rejected, 1 some records rejected (the rest loaded), 2 fatal."""
        if self.fatal:
            return 2
        return 1 if self.total("rejected") else 0

    def add_warnings(self, rec: Record) -> None:
        """List a written record's warnings."""
        self.warnings.extend(Warned(rec.ref, rec.format, w) for w in rec.warnings)

    def warning_counts(self) -> dict[str, int]:
        """Warnings by code."""
        return dict(sorted(Counter(w.warning.code for w in self.warnings).items()))

    def reject_counts(self) -> dict[str, int]:
        """Rejections by code."""
        return dict(sorted(Counter(r.code for r in self.rejects).items()))

    def records_per_second(self) -> float:
        return self.total("read") / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "source": self.source,
            "seconds": round(self.seconds, 3),
            "totals": {
                name: self.total(name)
                for name in ("read", "written", "warned", "unchanged", "skipped", "rejected")
            }
            | {"notAttempted": self.total("not_attempted")},
            "graph": {
                "nodesCreated": self.nodes_created,
                "nodesUpdated": self.nodes_updated,
                "relationshipsCreated": self.relationships_created,
                "relationshipsUpdated": self.relationships_updated,
            },
            "files": [asdict(f) for f in self.files],
            "rejects": [
                {
                    "file": r.ref.file,
                    "position": r.ref.position,
                    "recordId": r.ref.record_id,
                    "format": r.format,
                    "code": r.code,
                    "reason": r.reason,
                }
                for r in self.rejects
            ],
            "rejectCounts": self.reject_counts(),
            "warnings": [
                {
                    "file": w.ref.file,
                    "position": w.ref.position,
                    "recordId": w.ref.record_id,
                    "format": w.format,
                    "code": w.warning.code,
                    "message": w.warning.message,
                }
                for w in self.warnings
            ],
            "warningCounts": self.warning_counts(),
            "skips": [
                {
                    "file": s.ref.file,
                    "position": s.ref.position,
                    "recordId": s.ref.record_id,
                    "format": s.format,
                    "kind": s.kind,
                    "reason": s.reason,
                }
                for s in self.skips
            ],
            "identity": {
                "merges": self.merges,
                "links": self.links,
                "ambiguous": self.ambiguous,
                "conflicts": self.conflicts,
            },
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "timedRecords": self.timed_records,
            "rejectsFile": self.rejects_file,
            "fatal": self.fatal,
            "filesNotRead": self.files_not_read,
            "scorecard": self.scorecard.as_json() if self.scorecard else None,
            "exitCode": self.exit_code,
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")
