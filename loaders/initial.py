"""The bulk initial import (issue 17): an empty database built by neo4j-admin, not by UNWIND.

The same pipeline reads the files (the same loaders, validation, limits, identity step and
rows, ``loaders/pipeline.py``), source by source in the order given, but a batch is written
into a :class:`~caregraph.graph.staging.StagedGraph` instead of over Bolt: the database is
empty, so what the identity step would read of it is exactly what this import wrote before,
which the staged graph answers. Then (``graph/bulk_import.py``) the staged graph becomes
neo4j-admin files, the managed server stops, the files are imported into a new store that is
swapped in for the old, the server starts, the old store's constraints and indexes and the
writer's are made again, the linking rules run over every node, and the scorecard is taken.
Incremental loads go on from there.

Where the result can differ from loading the same sources one ``caregraph load`` after
another (and why it is accepted):

- the linking rules run once over the whole graph, not batch by batch: a rule links when
  exactly one target qualifies, and they are written so that arrival order does not matter
  (graph/linking.py); a link that a rule made before a later record asserted the same link
  keeps the rule's name incrementally, and is the record's link here;
- a link a rule made carries the run that first wrote the later of its two ends;
- the scorecard is taken once, for the last run, not after each source (the import has no
  in-between graph to measure).

It refuses an external server (NEO4J_URI: neo4j-admin must reach the store's files) and a
database that has any node.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from neo4j import Driver

from caregraph.graph import bulk_import, linking, scorecard
from caregraph.graph import schema as graph_schema
from caregraph.graph import writer as gw
from caregraph.graph.bulk_import import BulkImportError
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.staging import StagedGraph
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.limits import LoadLimits
from caregraph.loaders.parallel import ReadPool
from caregraph.loaders.pipeline import BatchWritten, Pipeline, Progress, default_source
from caregraph.loaders.report import FileReport, LoadReport, ScorecardSnapshot
from caregraph.loaders.write_rows import OntologyView, Prepared, to_rows

log = logging.getLogger(__name__)


@dataclass
class StagedPipeline(Pipeline):
    """The load pipeline writing into a staged graph (no Neo4j until the import)."""

    graph: StagedGraph = field(kw_only=True)  # the graph it writes into (closed by its owner)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.overlap = False  # the staged writer is Python too: a second thread gains nothing

    def _begin(self, props: dict[str, object]) -> None:
        self.graph.start_run(self.run_id, dict(props))

    def _finish(self, props: dict[str, object]) -> None:
        self.graph.finish_run(self.run_id, dict(props))  # the scorecard: after the import

    def _write(self, prepared: list[Prepared], files: list[FileReport]) -> None:
        records = [p.record for p in prepared]
        hashes = self.graph.lookup_hashes([r.ref.key for r in records])
        pairs = zip(prepared, files, strict=True)
        fresh = [(p, f) for p, f in pairs if hashes.get(p.record.ref.key) != p.content_hash]
        changed = [(p.record, f) for p, f in fresh]
        out = BatchWritten(changed)
        if fresh:
            t0 = time.perf_counter()
            resolution = self.resolver.resolve_with(self.graph.lookup, [r for r, _ in changed])
            batch = to_rows(
                [p for p, _ in fresh], resolution, self.onto, self.identity, self.run_id
            )
            t1 = time.perf_counter()
            stats = self.graph.write_batch(batch, datetime.now(UTC))
            t2 = time.perf_counter()
            timing = {"identity": t1 - t0, "write": t2 - t1}
            # no links yet: the rules run after the import (their counts go to the last report)
            links = linking.Linked()
            out = BatchWritten(changed, stats, resolution, batch, links, timing, t2)
        with self._lock:
            self._count(records, files, out)


@dataclass(slots=True)
class ImportResult:
    """One report per source (as ``caregraph load`` gives), the links the rules made over
    the whole graph, and the seconds each phase took."""

    reports: list[LoadReport]
    links: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(r.total("read") for r in self.reports)


def import_initial(
    sources: Sequence[tuple[str | None, Sequence[Path]]],
    *,
    server: ManagedNeo4j,
    database: str,
    onto: OntologyView | None = None,
    identity: IdentityConfig | None = None,
    batch_size: int = 500,
    rejects_dir: Path | None = None,
    on_progress: Progress | None = None,
    strict: bool = False,
    limits: LoadLimits | None = None,
    workers: int = 0,
) -> ImportResult:
    """Build the graph of ``sources`` (each a source name, or None for its first path's name,
    and its paths, loaded in this order) with neo4j-admin into the managed server's empty
    database. BulkImportError when it refuses or fails, saying what the store is and what to
    do; the server runs again afterwards either way."""
    if onto is None:
        from caregraph.ontology.model import load_ontology

        onto = load_ontology()
    identity = identity or IdentityConfig()
    conn = server.connection()
    seconds: dict[str, float] = {}
    with open_driver(conn) as driver:
        before = bulk_import.contents(driver, database)
        if before.data_nodes:
            raise BulkImportError(
                "the database already holds nodes; an initial import builds an empty "
                "database only: load into it with `caregraph load` (without --initial)"
            )
        schema = bulk_import.schema_statements(driver, database)

    started = time.perf_counter()
    # staged on disk, beside the files; it holds every record's values, so it goes at the end
    with StagedGraph(server.home / "import" / "staged") as graph:
        reports: list[LoadReport] = []
        # one pool for every source: its processes start (and read the ontology) once
        with ReadPool(workers) if workers > 0 else nullcontext() as pool:
            for name, paths in sources:
                source = name or default_source(paths)
                pipeline = StagedPipeline(
                    driver=None,  # type: ignore[arg-type]  # never used: every write goes to ``graph``
                    database=database,
                    onto=onto,
                    source=source,
                    identity=identity,
                    batch_size=batch_size,
                    on_progress=on_progress,
                    strict=strict,
                    limits=limits or LoadLimits(),
                    pool=pool,
                    graph=graph,
                )
                reports.append(
                    pipeline.run(paths, rejects_dir=rejects_dir / source if rejects_dir else None)
                )
        seconds["stage"] = time.perf_counter() - started

        t = time.perf_counter()
        work = server.home / "import" / "initial"
        files = bulk_import.write_files(graph, work)
        seconds["files"] = time.perf_counter() - t

        t = time.perf_counter()
        server.stop()
        try:
            bulk_import.replace_store(server, files, server.logs_dir / "import-report.txt")
        finally:
            # the files hold every record's values in plain text: gone once imported or not
            shutil.rmtree(work, ignore_errors=True)
            server.start()
        seconds["import"] = time.perf_counter() - t

        t = time.perf_counter()
        run_ids = [r.run_id for r in reports]
        with open_driver(conn) as driver:
            gw.ensure_write_schema(driver, database)
            bulk_import.restore_schema(driver, database, schema)
            if before.ontology_applied:
                # its class nodes went with the old store: applied again (the ontology this import
                # read its records with)
                graph_schema.apply(driver, database, onto, force=True)  # type: ignore[arg-type]  # the view is the Ontology
            bulk_import.set_empty_lists(driver, database, files)
            seconds["schema"] = time.perf_counter() - t
            t = time.perf_counter()
            linked = bulk_import.link(
                driver, database, graph, run_ids[-1], identity.enabled_rules()
            )
            bulk_import.stamp_link_runs(driver, database, graph, run_ids)
            seconds["linking"] = time.perf_counter() - t
            t = time.perf_counter()
            # one snapshot, at the end of the last run, of the graph every run built
            kept = _snapshot(driver, database, run_ids[-1])
            seconds["scorecard"] = time.perf_counter() - t
            reports[-1].scorecard = ScorecardSnapshot(
                "kept" if kept else "failed", seconds=seconds["scorecard"] if kept else None
            )

    reports[-1].links = dict(linked.made)
    reports[-1].ambiguous = dict(linked.ambiguous)
    return ImportResult(reports, dict(linked.made), dict(linked.ambiguous), seconds)


def _snapshot(driver: Driver, database: str, run_id: str) -> bool:
    """The scorecard's snapshot at the end of run ``run_id``; False: it failed (logged)."""
    from neo4j.exceptions import DriverError, Neo4jError

    try:
        scorecard.snapshot(driver, database, run_id)
        return True
    except (Neo4jError, DriverError) as e:
        log.warning(
            "initial import: the scorecard snapshot failed (%s); the records are loaded, and "
            "the next run's snapshot will measure them",
            type(e).__name__,
        )
        return False


def describe(result: ImportResult) -> dict[str, Any]:
    """What the import did, for a report file."""
    return {
        "sources": [r.as_json() for r in result.reports],
        "links": result.links,
        "ambiguous": result.ambiguous,
        "seconds": result.seconds,
    }
