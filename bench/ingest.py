"""Ingest: caregraph's whole pipeline against the limit, on the same final graph.

caregraph: every source system of the data set through ``loaders.pipeline.load`` (parse, map,
validate, identity, write, linking), as ``caregraph load`` runs it, in a child process so that
its peak memory (``ru_maxrss``) is the loader's alone.

The limit: the graph caregraph made is exported (every node with its labels and properties,
every relationship with its properties), the database is emptied (the ontology's schema
applied again, as before the caregraph load), and the same nodes and relationships are written
back from those pre-shaped rows with plain batched ``UNWIND`` Cypher through the driver: nodes
first (grouped by label set), then relationships (grouped by type and end labels, both ends
found by their unique key). Only the write transactions are timed. Both graphs are counted and
must be equal. Why this and not the pipeline's own WriteBatch rows: those leave out what the
linking rules add in the database (FOR_ENCOUNTER, REFERRED_BY, BASED_ON) and repeat nodes that
several records assert, so they are not "the same final graph"; see docs/benchmarks.md.

Run as ``python -m bench.ingest --data DIR --result FILE`` it is that child (Neo4j from the
NEO4J_* environment); ``--profile DIR`` writes one cProfile file per source system.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pickle
import resource
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from neo4j import Driver, ManagedTransaction

from bench.data import Dataset
from bench.database import BenchNeo4j
from bench.processes import ChildFailed, cpu_s, neo4j_env, status_kb
from caregraph.graph.settings import Neo4jSettings

# Nodes that are not data: the ontology's class nodes and schema node (written by `ontology
# apply` before either load), API keys and the audit log (written by the service).
# MeasureValue: the scorecard's snapshot that a load run keeps at its end (graph/scorecard.py),
# a measurement of the data rather than data; its cost stays in caregraph's load seconds, and
# the limit is not asked to write it (nor could it find one again: it is keyed by run and key)
NOT_DATA = ("Class", "OntologySchema", "ApiKey", "AuditEvent", "MeasureValue")
# How each kind of data node is found again: its label with a unique property (a coded
# element's Concept and its CodeSystem are keyed as in graph/terminology.py)
ANCHORS = (
    ("Entity", "key"),
    ("Identifier", "key"),
    ("SourceRecord", "key"),
    ("LoadRun", "runId"),
    ("Concept", "key"),
    ("CodeSystem", "key"),
    ("MatchCandidate", "key"),  # probable duplicates for a steward (graph/candidates.py)
    ("IdentityDecision", "key"),
)
CHUNK = 10_000  # rows per limit transaction


# -- caregraph's load (the child) --------------------------------------------------------------
@dataclass
class SourceLoad:
    source: str
    read: int
    rejected: int
    nodes_created: int
    relationships_created: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)  # identity/write/linking/commit


# the pipeline's steps that run in a batch's write transaction (LoadReport.timings); a run
# written before the commit was timed has no "commit" and sums the other three
WRITE_STEPS = ("identity", "write", "linking", "commit")


def write_ms_per_record(steps: Mapping[str, float | None], records: int) -> float | None:
    """Milliseconds of the write-side steps per record read (issue 17's write cost); None when
    the steps were not timed or nothing was read."""
    if not steps or not records:
        return None
    return 1000 * sum(steps.get(k) or 0.0 for k in WRITE_STEPS) / records


@dataclass
class CaregraphLoad:
    """What the child measured."""

    sources: list[SourceLoad]
    maxrss_mb: float
    wall_seconds: float  # the child's whole life, imports and ontology included
    # the child's CPU (user + system), its parse workers' included: the rest is waiting
    cpu_seconds: float = 0.0
    neo4j_cpu_seconds: float | None = None  # Neo4j's CPU meanwhile (None: not measured)
    workers_maxrss_mb: float | None = None  # the largest parse worker's peak (None: no worker)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.sources)

    @property
    def records(self) -> int:
        return sum(s.read for s in self.sources)

    def slowest(self) -> SourceLoad:
        """The source with the fewest records per second."""
        return min(self.sources, key=lambda s: s.read / s.seconds if s.seconds else float("inf"))


def _time_statements() -> dict[str, list[float]]:
    """Wrap the writer's statements and the linking rules to time each kind (profiling only:
    the measured load runs unwrapped)."""
    import caregraph.graph.identity as graph_identity
    import caregraph.graph.linking as linking
    import caregraph.graph.writer as writer

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])  # seconds, calls
    run = writer._run

    def timed_run(tx: ManagedTransaction, query: str, **params: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return run(tx, query, **params)
        finally:
            kind = f"write: {statement_kind(query)}"
            spent[kind][0] += time.perf_counter() - t0
            spent[kind][1] += 1

    rule_names = {rule.cypher: rule.name for rule in linking.RULES}
    apply_rules = linking.apply_rules

    class TimedTx:
        """The transaction, with each linking rule's statement timed (to its result)."""

        def __init__(self, tx: ManagedTransaction) -> None:
            self._tx = tx

        def run(self, query: str, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            result = self._tx.run(query, *args, **kwargs)
            result.peek()  # a rule returns one aggregated row: it is there when the rule is done
            name = f"link rule: {rule_names.get(query, query[:40])}"
            spent[name][0] += time.perf_counter() - t0
            spent[name][1] += 1
            return result

    def timed_rules(tx: ManagedTransaction, *args: Any, **kwargs: Any) -> Any:
        return apply_rules(TimedTx(tx), *args, **kwargs)  # type: ignore[arg-type]

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name][0] += time.perf_counter() - t0
                spent[name][1] += 1

        return wrapper

    # the names below are the writer's and linking's own; if they change, time less, not fail
    if hasattr(writer, "_run"):
        writer._run = timed_run
    linking.apply_rules = timed_rules
    writer.lookup_hashes = timed("read: lookup_hashes", writer.lookup_hashes)
    graph_identity.lookup = timed("read: identity lookup", graph_identity.lookup)
    return spent


def statement_kind(query: str) -> str:
    """A short name for one of the writer's statements, from its text."""
    if "ON CREATE SET n.stub" in query:
        return "stub nodes"
    if "REMOVE n.stub" in query:
        return "nodes " + query.split("SET n += r.props, n:", 1)[1].split(" ", 1)[0]
    if "MERGE (i:Identifier" in query:
        return "identifiers"
    if "MERGE (s:SourceRecord" in query:
        return "source records"
    if "MERGE (a)-[x:" in query:
        return "links " + query.split("MERGE (a)-[x:", 1)[1].split("]", 1)[0].split(" ", 1)[0]
    return query[:40]


def _child(
    data: Path, result: Path, profile: Path | None, batch_size: int, workers: int | None = None
) -> None:
    from caregraph.api.process import settle_memory
    from caregraph.graph.driver import open_driver
    from caregraph.loaders.identity import IdentityConfig
    from caregraph.loaders.pipeline import load
    from caregraph.ontology.model import load_ontology

    manifest = json.loads((data / "manifest.json").read_text())
    dataset = Dataset(data, manifest, None)
    conn = Neo4jSettings()
    onto = load_ontology()
    identity = IdentityConfig.from_file(dataset.identity)
    settle_memory()  # as `caregraph load` does before it loads
    loads: list[SourceLoad] = []
    statements = _time_statements() if profile else None
    per_source: dict[str, dict[str, list[float]]] = {}
    with open_driver(conn) as driver:
        for name, paths in dataset.sources():
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            report = load(
                paths, driver=driver, database=conn.database, source=name, onto=onto,
                identity=identity, batch_size=batch_size,
                # cProfile sees one thread of one process: profile the stages in it
                workers=0 if profiler else workers, overlap=profiler is None,
            )  # fmt: skip
            if profiler and profile:
                profiler.disable()
                profile.mkdir(parents=True, exist_ok=True)
                profiler.dump_stats(profile / f"{name}.prof")
            if statements is not None:
                per_source[name] = {k: list(v) for k, v in statements.items()}
                statements.clear()
            if report.fatal:
                raise SystemExit(f"load of {name} failed: {report.fatal}")
            loads.append(
                SourceLoad(
                    name, report.total("read"), report.total("rejected"), report.nodes_created,
                    report.relationships_created, report.seconds,
                    dict(getattr(report, "timings", {})),
                )
            )  # fmt: skip
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers_usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pools closed: waited for
    result.write_text(
        json.dumps(
            {
                "sources": [asdict(s) for s in loads],
                "maxrss_mb": usage.ru_maxrss / 1024,  # kB on Linux
                "workers_maxrss_mb": workers_usage.ru_maxrss / 1024 or None,
                "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in (usage, workers_usage)),
            },
            indent=2,
        )
    )
    if profile:
        (profile / "statements.json").write_text(json.dumps(per_source, indent=2))


def _cpu_since(pid: int | None, before: float | None) -> float | None:
    """The CPU seconds a process has used since it had used ``before`` (None: not measured)."""
    return None if pid is None or before is None else cpu_s(pid) - before


def load_caregraph(
    dataset: Dataset,
    conn: Neo4jSettings,
    work: Path,
    *,
    profile: Path | None = None,
    batch_size: int = 500,
    timeout_s: float = 24 * 3600,
    neo4j_pid: int | None = None,
    workers: int | None = None,
) -> CaregraphLoad:
    """Load every source of the data set with caregraph's pipeline, in a child process;
    ``neo4j_pid``: the server's process, whose CPU during the load is measured too."""
    result = work / f"caregraph-load-{dataset.patients}.json"
    result.unlink(missing_ok=True)
    args = [sys.executable, "-m", "bench.ingest", "--data", str(dataset.path),
            "--result", str(result), "--batch-size", str(batch_size)]  # fmt: skip
    if workers is not None:
        args += ["--workers", str(workers)]
    if profile:
        args += ["--profile", str(profile)]
    log = work / "logs" / f"caregraph-load-{dataset.patients}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    neo4j_before = cpu_s(neo4j_pid) if neo4j_pid is not None else None
    with log.open("wb") as out:
        proc = subprocess.run(
            args, env={**os.environ, **neo4j_env(conn)}, stdout=out, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1], timeout=timeout_s, check=False,
        )  # fmt: skip
    wall = time.perf_counter() - started
    neo4j_used = _cpu_since(neo4j_pid, neo4j_before)
    if proc.returncode != 0 or not result.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-10:]
        raise ChildFailed(f"caregraph load failed ({proc.returncode}): " + " | ".join(tail))
    data = json.loads(result.read_text())
    return CaregraphLoad(
        [SourceLoad(**s) for s in data["sources"]],
        data["maxrss_mb"],
        wall,
        data.get("cpu_seconds", 0.0),
        neo4j_used,
        data.get("workers_maxrss_mb"),
    )


# -- counting and exporting the graph --------------------------------------------------------
@dataclass(frozen=True)
class Census:
    """Data nodes and relationships in the graph (ontology classes, keys, audit left out)."""

    nodes: int
    relationships: int

    @property
    def elements(self) -> int:
        return self.nodes + self.relationships


_DATA_NODE = " AND ".join(f"NOT n:{label}" for label in NOT_DATA)


def census(driver: Driver, database: str) -> Census:
    """Count the data nodes and the relationships between them."""
    records, _, _ = driver.execute_query(
        f"MATCH (n) WHERE {_DATA_NODE} "
        "CALL (n) { MATCH (n)-[r]->(m) WHERE "
        + _DATA_NODE.replace("n:", "m:")
        + " RETURN count(r) AS rels } RETURN count(n) AS nodes, sum(rels) AS rels",
        database_=database,
    )
    return Census(int(records[0]["nodes"]), int(records[0]["rels"]))


def _anchor_expr(var: str) -> str:
    cases = " ".join(
        f"WHEN {var}:{label} THEN ['{label}', {var}.{prop}]" for label, prop in ANCHORS
    )
    return f"CASE {cases} END"


@dataclass
class Export:
    """The exported graph, as pickled chunks of rows in one file."""

    path: Path
    census: Census
    seconds: float


def export(driver: Driver, database: str, path: Path) -> Export:
    """Write every data node and relationship as rows grouped for UNWIND, to ``path``."""
    started = time.perf_counter()
    nodes = rels = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh, driver.session(database=database) as session:
        groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)

        def flush(key: tuple[Any, ...]) -> None:
            pickle.dump((key, groups.pop(key)), fh, protocol=pickle.HIGHEST_PROTOCOL)

        result = session.run(
            f"MATCH (n) WHERE {_DATA_NODE} RETURN labels(n) AS labels, properties(n) AS props"
        )
        for rec in result:
            labels = tuple(sorted(rec["labels"]))
            anchor = next(((lb, p) for lb, p in ANCHORS if lb in labels), None)
            if anchor is None:
                raise ValueError(f"a data node with no known key: labels {labels}")
            key = ("nodes", labels, *anchor)
            groups[key].append(dict(rec["props"]))
            nodes += 1
            if len(groups[key]) >= CHUNK:
                flush(key)
        for key in list(groups):
            flush(key)
        result = session.run(
            f"MATCH (a)-[r]->(b) WITH a, r, b, {_anchor_expr('a')} AS s, {_anchor_expr('b')} AS e "
            "WHERE s IS NOT NULL AND e IS NOT NULL "
            "RETURN type(r) AS type, s, e, properties(r) AS props"
        )
        for rec in result:
            s, e = rec["s"], rec["e"]
            key = ("rels", rec["type"], s[0], e[0])
            groups[key].append({"s": s[1], "e": e[1], "p": dict(rec["props"])})
            rels += 1
            if len(groups[key]) >= CHUNK:
                flush(key)
        for key in list(groups):
            flush(key)
    return Export(path, Census(nodes, rels), time.perf_counter() - started)


def _chunks(path: Path) -> Iterator[tuple[tuple[Any, ...], list[Any]]]:
    with path.open("rb") as fh:
        while True:
            try:
                yield pickle.load(fh)  # noqa: S301 - the file this module wrote moments ago
            except EOFError:
                return


# -- the limit ---------------------------------------------------------------------------------
def _q(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain name: {name!r}")
    return f"`{name}`"


def _node_query(labels: tuple[str, ...], anchor: str, prop: str, mode: str) -> str:
    all_labels = ":".join(_q(x) for x in labels)
    if mode == "create":
        return f"UNWIND $rows AS r CREATE (n:{all_labels}) SET n = r"
    key = _q(prop)
    return f"UNWIND $rows AS r MERGE (n:{_q(anchor)} {{{key}: r.{key}}}) SET n = r, n:{all_labels}"


def _rel_query(rel: str, start: str, end: str, mode: str, role: bool) -> str:
    s_prop = dict(ANCHORS)[start]
    e_prop = dict(ANCHORS)[end]
    match = (
        f"UNWIND $rows AS r MATCH (a:{_q(start)} {{{_q(s_prop)}: r.s}}) "
        f"MATCH (b:{_q(end)} {{{_q(e_prop)}: r.e}}) "
    )
    if mode == "create":
        return match + f"CREATE (a)-[x:{_q(rel)}]->(b) SET x = r.p"
    # MERGE like caregraph's writer: a role tells two links between the same pair apart
    pattern = " {role: r.p.role}" if role else ""
    return match + f"MERGE (a)-[x:{_q(rel)}{pattern}]->(b) SET x = r.p"


@dataclass
class LimitLoad:
    mode: str  # "create" or "merge"
    seconds: float  # the write transactions only
    transactions: int
    census: Census | None = field(default=None)
    neo4j_cpu_seconds: float | None = None  # Neo4j's CPU during the writes (None: not measured)


def write_limit(
    driver: Driver, database: str, exported: Export, mode: str, neo4j_pid: int | None = None
) -> LimitLoad:
    """Write the exported graph into the (empty) database with plain batched UNWIND;
    ``neo4j_pid``: the server's process, whose CPU during the writes is measured too."""
    if mode not in ("create", "merge"):
        raise ValueError("mode is create or merge")
    neo4j_before = cpu_s(neo4j_pid) if neo4j_pid is not None else None
    seconds = 0.0
    transactions = 0

    def run(query: str, rows: list[Any]) -> None:
        nonlocal seconds, transactions

        def work(tx: ManagedTransaction) -> None:
            tx.run(query, rows=rows).consume()

        with driver.session(database=database) as session:
            t0 = time.perf_counter()
            session.execute_write(work)
            seconds += time.perf_counter() - t0
        transactions += 1

    # nodes first (every chunk), then relationships: both ends must exist before a link
    for key, rows in _chunks(exported.path):
        if key[0] == "nodes":
            _, labels, anchor, prop = key
            run(_node_query(labels, anchor, prop, mode), rows)
    for key, rows in _chunks(exported.path):
        if key[0] == "rels":
            _, rel, start, end = key
            if mode == "merge":
                with_role = [r for r in rows if "role" in r["p"]]
                plain = [r for r in rows if "role" not in r["p"]]
                for subset, role in ((plain, False), (with_role, True)):
                    if subset:
                        run(_rel_query(rel, start, end, mode, role), subset)
            else:
                run(_rel_query(rel, start, end, mode, False), rows)
    used = _cpu_since(neo4j_pid, neo4j_before)
    return LimitLoad(mode, seconds, transactions, neo4j_cpu_seconds=used)


# -- the bulk initial import (issue 17) ---------------------------------------------------------
@dataclass
class InitialLoad:
    """``caregraph load --initial`` of every source of the data set into the managed server's
    empty database: records read, the whole import's seconds (reading, staging, the files,
    the server stopped, neo4j-admin, the server started, schema, linking, scorecard) and each
    phase's, and the census of the graph it built."""

    records: int
    seconds: float
    phases: dict[str, float]
    census: Census
    workers: int = 0
    # the loading process's peak resident memory during the import (its parse workers are
    # processes of their own, each holding a file's items at a time)
    peak_memory_mb: float | None = None


def _peak_rss_kb(reset: bool = False) -> int | None:
    """This process's peak resident memory (VmHWM, kB); ``reset``: start the peak again
    from what is resident now (Linux's clear_refs), so a phase's peak is its own."""
    if reset:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
    return status_kb(os.getpid()).get("VmHWM")


def load_initial(
    dataset: Dataset, db: BenchNeo4j, batch_size: int = 500, workers: int | None = None
) -> InitialLoad:
    """The initial import of the data set; the database must be empty (``db.empty()``).
    ``workers``: files parsed in that many processes (Neo4j is idle while they are read);
    None: as ``caregraph load --initial`` does, one per core."""
    from caregraph.loaders.identity import IdentityConfig
    from caregraph.loaders.initial import import_initial
    from caregraph.ontology.model import load_ontology

    if db.server is None:
        raise ValueError("the initial import needs the managed server (NEO4J_URI is set)")
    db.close_driver()  # the server stops and starts again during the import
    if workers is None:
        workers = os.cpu_count() or 1
    _peak_rss_kb(reset=True)
    started = time.perf_counter()
    result = import_initial(
        [(name, paths) for name, paths in dataset.sources()],
        server=db.server,
        database=db.database,
        onto=load_ontology(),
        identity=IdentityConfig.from_file(dataset.identity),
        batch_size=batch_size,
        workers=workers,
    )
    seconds = time.perf_counter() - started
    peak = _peak_rss_kb()
    return InitialLoad(
        result.records,
        seconds,
        result.seconds,
        census(db.driver, db.database),
        workers,
        None if peak is None else peak / 1024,
    )


def compare_initial(
    patients: int, root: Path, seed: int = 0, workers: int | None = None
) -> dict[str, Any]:
    """At one size: caregraph's incremental load and its initial import of the same data set
    into a cold empty database each, their records/s, and whether the two censuses agree."""
    from bench import data

    dataset = data.ensure(root, patients, seed)
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    db = BenchNeo4j(root / "neo4j-initial")
    db.start()
    try:
        db.empty()
        cg = load_caregraph(dataset, db.connection(), work)
        graph = census(db.driver, db.database)
        db.empty()
        initial = load_initial(dataset, db, workers=workers)
    finally:
        db.stop()
    return initial_figures(cg, graph, initial)


def initial_figures(cg: CaregraphLoad, graph: Census, initial: InitialLoad) -> dict[str, Any]:
    """``ingest.initial_records_per_s`` and what it rests on; ``same_graph`` is the census
    check (data nodes and relationships, as the limit's)."""
    return {
        "initial_records_per_s": round(initial.records / initial.seconds, 1),
        "initial": {
            "records": initial.records,
            "seconds": round(initial.seconds, 1),
            "phases_s": {k: round(v, 1) for k, v in initial.phases.items()},
            "census": asdict(initial.census),
            "same_graph": initial.census == graph,
            "workers": initial.workers,
            "peak_memory_mb": _round(initial.peak_memory_mb),
        },
        "incremental_records_per_s": round(cg.records / cg.seconds, 1),
        "speedup": round((initial.records / initial.seconds) / (cg.records / cg.seconds), 2),
        # the incremental load's write cost, as latest.json's ingest.write_cost_by_source
        "incremental_write_ms_per_record": {
            s.source: _round(write_ms_per_record(s.steps, s.read)) for s in cg.sources
        },
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="caregraph's load, as the bench's child")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        help="parse processes of the load (0: in-process; default: as `caregraph load` "
        "chooses, loaders.parallel.auto_workers)",
    )
    parser.add_argument(
        "--compare-initial",
        type=int,
        metavar="PATIENTS",
        help="instead: the incremental load and the initial import of that many patients' "
        "data set (generated under --data), written as JSON to --result",
    )
    parser.add_argument(
        "--initial-workers",
        type=int,
        help="with --compare-initial: parse processes (default: one per core)",
    )
    args = parser.parse_args(argv)
    if args.compare_initial:
        figures = compare_initial(args.compare_initial, args.data, workers=args.initial_workers)
        args.result.parent.mkdir(parents=True, exist_ok=True)
        args.result.write_text(json.dumps({"patients": args.compare_initial, **figures}, indent=2))
        print(json.dumps(figures))
        return
    _child(args.data, args.result, args.profile, args.batch_size, args.workers)


if __name__ == "__main__":
    main()
