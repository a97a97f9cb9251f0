"""The load pipeline: detect -> parse -> map -> validate -> link -> write -> report.

Files stream through their format's loader one record at a time; records are validated
against the ontology's shapes, gathered into batches, resolved by the identity step and
written in one transaction per batch. A record the writer refuses is retried alone so that
only it is rejected. If Neo4j goes away the load stops with a clear error; running it again
completes it, and nothing is duplicated because every write merges on business keys.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as dist_version
from pathlib import Path

from neo4j import Driver, ManagedTransaction
from neo4j.exceptions import (
    ClientError,
    DatabaseError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from caregraph.graph import linking, scorecard
from caregraph.graph import writer as gw
from caregraph.graph.errors import WriteError
from caregraph.loaders import registry
from caregraph.loaders.checking import Validator
from caregraph.loaders.identity import IdentityConfig, Resolution, Resolver
from caregraph.loaders.limits import LoadLimits
from caregraph.loaders.parallel import Checked, Checks, ReadPool, auto_workers
from caregraph.loaders.records import Record, Rejected, Skipped, SourceRef
from caregraph.loaders.report import FileReport, LoadReport, ScorecardSnapshot
from caregraph.loaders.write_rows import OntologyView, Prepared, RowSettings, to_rows

Progress = Callable[[str, int], None]
log = logging.getLogger(__name__)


@dataclass
class Pipeline:
    """One load of one or more paths as one source system."""

    driver: Driver
    database: str
    onto: OntologyView
    source: str
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    batch_size: int = 500
    row_settings: RowSettings = field(default_factory=RowSettings)
    on_progress: Progress | None = None
    overlap: bool = True  # write a batch while the next is read (off: one thread, for profiling)
    strict: bool = False  # a record with warnings is rejected instead of written
    limits: LoadLimits = field(default_factory=LoadLimits)
    # Files parsed, mapped and checked in this many worker processes (0: in this process). A
    # loader and the checks are pure functions of a file and its records, so any process can
    # run them; the items come back in file order, streamed (loaders/parallel.py), and what
    # must see them in order (identity, linking, writing) stays one stream here. None: as
    # many as the input pays for (loaders.parallel.auto_workers).
    workers: int | None = 0
    pool: ReadPool | None = None  # a pool that outlives this load (several loads share it)
    # when the run keeps a snapshot of the scorecard at its end (graph/scorecard.py)
    history: scorecard.HistoryBudget = field(default_factory=scorecard.HistoryBudget)

    def __post_init__(self) -> None:
        self.run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self.report = LoadReport(run_id=self.run_id, source=self.source)
        self.resolver = Resolver(self.identity, self.onto)
        self.validator = Validator(self.onto, self.row_settings, self.limits)
        self._pending: list[tuple[Prepared, FileReport]] = []
        # One batch is written while the next is read: reading is Python's work, writing is
        # mostly Neo4j's, so on two cores they overlap. Batches are still written one after
        # another, in order (a batch's identity lookups see every batch before it).
        self._writer: ThreadPoolExecutor | None = None  # made by run()
        self._inflight: Future[None] | None = None
        self._lock = threading.Lock()  # the report is counted from both threads

    # -- driving -----------------------------------------------------------------------------
    def run(
        self,
        paths: Sequence[Path],
        rejects_path: Path | None = None,
        rejects_dir: Path | None = None,
    ) -> LoadReport:
        """Load ``paths``; list rejects and warnings in ``rejects_path``, or in a file named by
        the run id under ``rejects_dir`` (so a load never overwrites an earlier one's list)."""
        if rejects_path is None and rejects_dir is not None:
            rejects_path = rejects_dir / f"{self.run_id}.jsonl"
        started = time.perf_counter()
        if self.overlap:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="caregraph-write")
        self._begin(self.run_props())
        files = list(expand(paths))
        opened = 0
        pool = self._read_pool(files)
        try:
            read_all = (
                pool.read(files, self.source, self._checks())
                if pool is not None
                else ((p, *registry.read(p, self.source)) for p in files)
            )
            for path, fmt, items in read_all:
                opened += 1
                self._load_file(path, fmt, items)
            self._flush()
            self._wait()
        except WriteError as e:
            self.report.fatal = str(e)
        finally:
            if pool is not None and pool is not self.pool:
                pool.close()
            if self._writer is not None:
                self._writer.shutdown(wait=True, cancel_futures=True)
                self._writer = None
        if self.report.fatal:
            # what the fatal error left without an outcome, so every report adds up: records
            # read but not written (the failed batch, the ones waiting), and files not opened
            for fr in self.report.files:
                fr.not_attempted = fr.read - fr.written - fr.skipped - fr.rejected
            self.report.files_not_read = [str(p) for p in files[opened:]]
        self.report.seconds = time.perf_counter() - started
        if rejects_path is not None and (self.report.rejects or self.report.warnings):
            rejects_path.parent.mkdir(parents=True, exist_ok=True)
            listing = self.report.as_json()
            with rejects_path.open("w") as fh:
                for item in listing["rejects"]:
                    fh.write(json.dumps({"outcome": "rejected", **item}) + "\n")
                for item in listing["warnings"]:
                    fh.write(json.dumps({"outcome": "warning", **item}) + "\n")
            self.report.rejects_file = str(rejects_path)
        if not self.report.fatal:
            totals = self.report.as_json()["totals"]
            rejected = self.report.reject_counts()
            self._finish(
                {
                    "endedAt": datetime.now(UTC),
                    "counts": json.dumps(totals),
                    "warningCounts": json.dumps(self.report.warning_counts()),
                    "rejectCounts": json.dumps(rejected),
                    # the same as two lists, which Cypher reads without parsing JSON
                    "rejectCodes": list(rejected),
                    "rejectCodeCounts": list(rejected.values()),
                    **totals,
                }
            )
        return self.report

    def _read_pool(self, files: Sequence[Path]) -> ReadPool | None:
        """The worker processes that read this load's files; None: read here."""
        if self.pool is not None:
            return self.pool
        workers = auto_workers(files) if self.workers is None else self.workers
        if workers < 1 or not files:
            return None
        return ReadPool(workers)

    def _checks(self) -> Checks | None:
        """What workers need to check records as this process would; None (they read only,
        and the records are checked here) for an ontology not read from files."""
        ontology_files = tuple(getattr(self.onto, "files", ()))
        if not ontology_files:
            return None
        return Checks(ontology_files, self.onto.version, self.row_settings, self.limits)

    def run_props(self) -> dict[str, object]:
        """What the run's LoadRun node says when it starts."""
        return {
            "startedAt": datetime.now(UTC),
            "sourceSystem": self.source,
            "caregraphVersion": dist_version("caregraph"),
            "ontologyVersion": self.onto.version,
            "display": f"load {self.run_id}",
        }

    def _begin(self, props: dict[str, object]) -> None:
        """Before the first record: the schema the writer merges on, and the run's node."""
        gw.ensure_write_schema(self.driver, self.database)
        gw.start_run(self.driver, self.database, self.run_id, props)

    def _finish(self, props: dict[str, object]) -> None:
        """After the last record of a run without a fatal error: the run's counts, and the
        scorecard as this run leaves the graph when the history's budget allows it."""
        gw.finish_run(self.driver, self.database, self.run_id, props)
        # The records are loaded whatever happens here, so a failure is said, not made the
        # load's.
        try:
            state = scorecard.history_state(self.driver, self.database)
            if not self.history.due(state):
                self.report.scorecard = ScorecardSnapshot(
                    "deferred", last_seconds=state.last_seconds,
                    loading_seconds=state.loading_seconds,
                )  # fmt: skip
                return
            started = time.perf_counter()
            scorecard.snapshot(self.driver, self.database, self.run_id)
            self.report.scorecard = ScorecardSnapshot("kept", seconds=time.perf_counter() - started)
        except (Neo4jError, DriverError) as e:
            self.report.scorecard = ScorecardSnapshot("failed")
            log.warning(
                "load run %s: the scorecard snapshot failed (%s); the records are loaded, "
                "and the next run's snapshot will measure them",
                self.run_id,
                type(e).__name__,
            )

    def _load_file(self, path: Path, fmt: str | None, items: Iterable[Checked]) -> None:
        if fmt is None:
            fr = FileReport(str(path), "unknown", read=1)  # the whole file is the one record
            self.report.files.append(fr)
            self._reject(
                fr,
                Rejected(
                    SourceRef(self.source, str(path), "file"),
                    "unknown",
                    "not a format caregraph reads (FHIR JSON/NDJSON, Synthea CSV, CMS "
                    "DE-SynPUF CSV, HL7 v2, DICOM, X12 005010); check the file or its encoding",
                    # a format caregraph does not read, unless there is nothing in it to read
                    "syntax" if _empty(path) else "unsupported",
                ),
            )
            return
        fr = FileReport(str(path), fmt)
        self.report.files.append(fr)
        for item in items:
            fr.read += 1
            outcome = self._checked(item)
            if isinstance(outcome, Skipped):
                fr.skipped += 1
                if outcome.reason:
                    self.report.skips.append(outcome)
            elif isinstance(outcome, Rejected):
                self._reject(fr, outcome)
            elif self.strict and outcome.record.warnings:
                rec = outcome.record
                reason = "; ".join(f"{w.code}: {w.message}" for w in rec.warnings)
                self._reject(fr, Rejected(rec.ref, rec.format, reason, "strict"))
            else:
                self._pending.append((outcome, fr))
                if len(self._pending) >= self.batch_size:
                    self._flush()
            if self.on_progress and fr.read % 100 == 0:
                self.on_progress(str(path), fr.read)
        if self.on_progress:
            self.on_progress(str(path), fr.read)

    def _checked(self, item: Checked) -> Prepared | Rejected | Skipped:
        """A record checked (here, unless the worker that read it did), or the item as is."""
        return self.validator.check(item) if isinstance(item, Record) else item

    def _reject(self, fr: FileReport, item: Rejected) -> None:
        with self._lock:
            fr.rejected += 1
            self.report.rejects.append(item)

    # -- writing -----------------------------------------------------------------------------
    def _flush(self) -> None:
        """Hand the pending records to the writer, once it has written the batch before."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        self._wait()
        if self._writer is None:  # not within run(): write now
            self._write_pending(pending)
            return
        self._inflight = self._writer.submit(self._write_pending, pending)

    def _wait(self) -> None:
        """Wait for the batch being written; its WriteError, if any, is raised here."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def _write_pending(self, pending: list[tuple[Prepared, FileReport]]) -> None:
        try:
            self._write([ready for ready, _ in pending], [fr for _, fr in pending])
        except ClientError as e:
            if len(pending) == 1:
                ready, fr = pending[0]
                rec = ready.record
                self._reject(
                    fr,
                    Rejected(
                        rec.ref, rec.format, f"Neo4j refused the record ({e.code})", "refused"
                    ),
                )
                return
            # find the record Neo4j refuses: write the batch again one record at a time
            for one in pending:
                self._write_pending([one])

    def _write(self, prepared: list[Prepared], files: list[FileReport]) -> None:
        records = [p.record for p in prepared]

        def work(tx: ManagedTransaction) -> BatchWritten:
            hashes = gw.lookup_hashes(tx, [r.ref.key for r in records])
            pairs = zip(prepared, files, strict=True)
            fresh = [(p, f) for p, f in pairs if hashes.get(p.record.ref.key) != p.content_hash]
            changed = [(p.record, f) for p, f in fresh]
            if not fresh:
                return BatchWritten(changed)
            t0 = time.perf_counter()
            resolution = self.resolver.resolve(tx, [r for r, _ in changed])
            ready = [p for p, _ in fresh]
            batch = to_rows(ready, resolution, self.onto, self.identity, self.run_id)
            t1 = time.perf_counter()
            stats = gw.write_batch(tx, batch)
            t2 = time.perf_counter()
            by_label: dict[str, list[str]] = {}
            for n in batch.nodes:
                by_label.setdefault(n.labels[0], []).append(n.key)
            links = linking.apply_rules(tx, by_label, self.run_id, self.identity.enabled_rules())
            t3 = time.perf_counter()
            timing = {"identity": t1 - t0, "write": t2 - t1, "linking": t3 - t2}
            return BatchWritten(changed, stats, resolution, batch, links, timing, t3)

        try:
            with self.driver.session(database=self.database) as session:
                out = session.execute_write(work)
                if out.timing:
                    # The commit is where Neo4j applies what the steps wrote (the store, the
                    # indexes); it belongs to no one step, so it is timed as its own.
                    out.timing["commit"] = time.perf_counter() - out.ended
        except (ServiceUnavailable, SessionExpired, TransientError, DatabaseError) as e:
            raise WriteError(
                f"Neo4j failed during the load ({type(e).__name__}); nothing of the current "
                f"batch was written: run the same load again to complete it"
            ) from e
        with self._lock:
            self._count(records, files, out)

    def _count(self, records: list[Record], files: list[FileReport], out: BatchWritten) -> None:
        changed_ids = {id(r) for r, _ in out.changed}
        for rec, fr in zip(records, files, strict=True):
            fr.written += 1
            if id(rec) not in changed_ids:
                fr.unchanged += 1
            if rec.warnings:
                fr.warned += 1
                self.report.add_warnings(rec)
        stats = out.stats
        rep = self.report
        rep.nodes_created += stats.nodes_created
        rep.relationships_created += stats.relationships_created
        batch, res, linked = out.batch, out.resolution, out.links
        if batch is not None and res is not None and linked is not None:
            distinct = {n.key for n in batch.nodes}
            rep.nodes_updated += len(distinct & res.existing)
            links = {(x.type, x.src, x.dst, x.props.get("role")) for x in batch.links}
            rep.relationships_updated += max(0, len(links) - stats.links_created)
            for m in res.merges:
                rep.merges[m.rule] = rep.merges.get(m.rule, 0) + 1
            for rule, made in linked.made.items():
                rep.links[rule] = rep.links.get(rule, 0) + made
            for rule, count in linked.ambiguous.items():
                rep.ambiguous[rule] = rep.ambiguous.get(rule, 0) + count
            for step, seconds in out.timing.items():
                rep.timings[step] = rep.timings.get(step, 0.0) + seconds
            rep.timed_records += len(res.node_keys)
            rep.conflicts.extend(c.message() for c in res.conflicts)


@dataclass(slots=True)
class BatchWritten:
    """What one batch's write transaction did: the records whose content changed (the others
    are unchanged since their last load), Neo4j's counters, and when any changed the identity
    step's resolution, the rows written, the links the rules made, each step's time and when
    the last step ended (the commit is timed from there)."""

    changed: list[tuple[Record, FileReport]]
    stats: gw.WriteStats = field(default_factory=gw.WriteStats)
    resolution: Resolution | None = None
    batch: gw.WriteBatch | None = None
    links: linking.Linked | None = None
    timing: dict[str, float] = field(default_factory=dict)
    ended: float = 0.0  # time.perf_counter()


def _empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except OSError:
        return True


def expand(paths: Sequence[Path]) -> Iterator[Path]:
    """Files under the given paths, recursively, in a stable order; hidden files left out."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts):
                    yield child
        else:
            yield path


def default_source(paths: Sequence[Path]) -> str:
    """The source system's name when none is given: the first path's name."""
    first = paths[0].resolve()
    return first.name if first.is_dir() else first.stem


def load(
    paths: Sequence[Path],
    *,
    driver: Driver,
    database: str,
    source: str | None = None,
    onto: OntologyView | None = None,
    identity: IdentityConfig | None = None,
    batch_size: int = 500,
    rejects_path: Path | None = None,
    rejects_dir: Path | None = None,
    on_progress: Progress | None = None,
    overlap: bool = True,
    strict: bool = False,
    limits: LoadLimits | None = None,
    workers: int | None = 0,
    history: scorecard.HistoryBudget | None = None,
) -> LoadReport:
    """Load files and folders as one source system; return the report. ``workers``: parse
    files in that many processes (0: in this one; None: as many as the input pays for,
    :func:`~caregraph.loaders.parallel.auto_workers`). ``history``: when the run keeps a snapshot
    of the scorecard (default: within :class:`~caregraph.graph.scorecard.HistoryBudget`)."""
    if onto is None:
        from caregraph.ontology.model import load_ontology

        onto = load_ontology()
    pipeline = Pipeline(
        driver=driver,
        database=database,
        onto=onto,
        source=source or default_source(paths),
        identity=identity or IdentityConfig(),
        batch_size=batch_size,
        on_progress=on_progress,
        overlap=overlap,
        strict=strict,
        limits=limits or LoadLimits(),
        workers=workers,
        history=history or scorecard.HistoryBudget(),
    )
    return pipeline.run(paths, rejects_path=rejects_path, rejects_dir=rejects_dir)
