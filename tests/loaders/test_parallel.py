"""Files read and checked in worker processes (``loaders/parallel.py``) give what reading them
in the loading process gives: the same reports (counts, rejections, warnings, in order) and
the same staged graph, on generated data and on every sample folder, the messy ones included.
No Neo4j: the staged graph (what the initial import writes) is compared, which the initial
import's own tests hold to the graph an incremental load writes."""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from caregraph.graph import staging
from caregraph.graph.staging import StagedGraph
from caregraph.loaders import parallel
from caregraph.loaders import pipeline as pipeline_module
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.initial import StagedPipeline
from caregraph.loaders.parallel import Checks, ReadPool
from caregraph.loaders.pipeline import expand
from caregraph.loaders.records import Record
from caregraph.loaders.report import LoadReport
from caregraph.ontology.model import load_ontology
from tests.browser.data import write_export

Sources = list[tuple[str, list[Path]]]


def stage(
    sources: Sources,
    identity: IdentityConfig,
    pool: ReadPool | None,
    folder: Path,
    workers: int | None = 0,
) -> tuple[list[dict[str, Any]], StagedGraph]:
    """Each source's report (what differs by run left out) and the staged graph (its file
    in ``folder``); ``workers`` as the pipeline's, when no ``pool`` is given."""
    onto = load_ontology()
    graph = StagedGraph(folder)
    reports = []
    for name, paths in sources:
        pipeline = StagedPipeline(
            driver=None,  # type: ignore[arg-type]  # the staged graph takes every write
            database="neo4j",
            onto=onto,
            source=name,
            identity=identity,
            graph=graph,
            pool=pool,
            workers=workers,
        )
        reports.append(comparable(pipeline.run(paths)))
    return reports, graph


def comparable(report: LoadReport) -> dict[str, Any]:
    said = report.as_json()
    for varies in ("runId", "seconds", "timings"):
        said.pop(varies, None)
    return said


def graph_text(graph: StagedGraph, run_ids: dict[str, str]) -> tuple[list[str], list[str]]:
    def norm(value: Any) -> str:
        text = repr(value)
        for run_id, said in run_ids.items():
            text = text.replace(run_id, said)
        return text

    def timeless(props: dict[str, Any]) -> dict[str, Any]:
        # when a stub was made or a run started: the clock's, not the input's
        return {k: "<time>" if isinstance(v, datetime) else v for k, v in props.items()}

    nodes = sorted(
        norm((key, n.labels, timeless(n.props)))
        for key, n in graph.iter_nodes()
        if "LoadRun" not in n.labels
    )
    rels = sorted(norm((r.type, r.start, r.end, r.props)) for r in graph.iter_rels())
    return nodes, rels


def run_order(graph: StagedGraph) -> dict[str, str]:
    runs = [n.props["runId"] for _, n in graph.iter_nodes() if "LoadRun" in n.labels]
    return {run_id: f"<run {i}>" for i, run_id in enumerate(runs)}


def test_workers_give_the_same_reports_and_graph_as_one_process(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = generate(tmp_path / "data", 12, seed=11, duplicates=0.2)
    generated: Sources = [
        (name, [tmp_path / "data" / p for p in paths])
        for name, paths in manifest["sources"].items()
    ]
    folders = [f for f in sorted(samples.iterdir()) if f.is_dir() and "synthea" not in f.name]
    folders.append(write_export(tmp_path / "synthea-csv"))
    sources = generated + [(folder.name, [folder]) for folder in folders]
    identity = IdentityConfig.from_file(tmp_path / "data" / "identity.toml")

    # one process, few nodes kept in memory: most reads come back from the staged graph's file
    monkeypatch.setattr(staging, "NODE_CACHE", 20)
    alone, alone_graph = stage(sources, identity, None, tmp_path / "alone")
    monkeypatch.undo()
    # files over 16 KiB streamed in chunks, the others returned whole: both ways are covered
    monkeypatch.setattr(parallel, "STREAM_BYTES", 16 << 10)
    sizes = [p.stat().st_size for _, paths in sources for p in expand(paths)]
    assert any(s >= parallel.STREAM_BYTES for s in sizes)
    assert any(s < parallel.STREAM_BYTES for s in sizes)
    with ReadPool(2) as pool:
        together, together_graph = stage(sources, identity, pool, tmp_path / "together")

    assert together == alone
    # the comparison covers rejections, warnings and skips, which the workers' checks found
    assert sum(r["totals"]["rejected"] for r in alone) > 0
    assert sum(len(r["warnings"]) for r in alone) > 0
    assert sum(r["totals"]["skipped"] for r in alone) > 0
    assert graph_text(together_graph, run_order(together_graph)) == graph_text(
        alone_graph, run_order(alone_graph)
    )


def test_a_read_left_early_stops_its_workers_and_the_pool_reads_again(tmp_path: Path) -> None:
    generate(tmp_path / "data", 8, seed=3, formats=("hl7v2",))
    files = sorted((tmp_path / "data" / "hl7v2").glob("*.hl7"))
    onto = load_ontology()
    checks = Checks(onto.files, onto.version)
    pool = ReadPool(2, queued=1)
    try:
        first = pool.read(files, "adt", checks)
        _, fmt, items = next(first)
        assert fmt == "hl7v2"
        next(iter(items))
        first.close()  # what a fatal write error does: the rest is not wanted
        again = [(p, fmt, list(items)) for p, fmt, items in pool.read(files, "adt", checks)]
    finally:
        pool.close()
    assert [p for p, _, _ in again] == files
    read_here = [item for path in files for item in _read_here(path)]
    assert [type(x).__name__ for _, _, items in again for x in items] == [
        type(x).__name__ for x in read_here
    ]


def _read_here(path: Path) -> list[Any]:
    from caregraph.loaders.checking import Validator
    from caregraph.loaders.registry import read
    from caregraph.loaders.write_rows import RowSettings

    validator = Validator(load_ontology(), RowSettings())
    _, items = read(path, "adt")
    return [validator.check(x) if isinstance(x, Record) else x for x in items]


def test_a_worker_that_cannot_check_with_the_same_ontology_fails_the_read(tmp_path: Path) -> None:
    generate(tmp_path / "data", 2, seed=3, formats=("hl7v2",))
    files = sorted((tmp_path / "data" / "hl7v2").glob("*.hl7"))
    onto = load_ontology()
    with ReadPool(1) as pool, pytest.raises(RuntimeError, match="ontology's files changed"):
        for _, _, items in pool.read(files, "adt", Checks(onto.files, "not-" + onto.version)):
            list(items)


def _frozen_around_the_validator(checks: Checks) -> tuple[int, int]:
    """In a worker: the objects frozen before and after its validator is built."""
    before = gc.get_freeze_count()
    parallel._validator(checks)
    return before, gc.get_freeze_count()


def test_a_worker_takes_its_modules_and_ontology_out_of_the_collectors_passes() -> None:
    """What a worker keeps for its whole life (its modules, the ontology's graph it checks
    with) is frozen once the validator is built, as caregraph's entry points freeze theirs
    (api/process.py)."""
    onto = load_ontology()
    spawn = multiprocessing.get_context("spawn")  # a new interpreter, as the pool's workers
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        before, after = pool.submit(
            _frozen_around_the_validator, Checks(onto.files, onto.version)
        ).result()
    assert before == 0
    assert after > 10_000


def test_a_staged_graph_takes_its_file_with_it(tmp_path: Path) -> None:
    """The staged file holds every record's values: gone when the graph is closed, and when
    a graph nobody closed is collected."""
    with StagedGraph(tmp_path / "closed") as graph:
        graph.start_run("r1", {"display": "one"})
        assert [n.props["runId"] for _, n in graph.iter_nodes()] == ["r1"]
        assert (tmp_path / "closed" / "staged.sqlite").exists()
    assert not (tmp_path / "closed").exists()

    dropped = StagedGraph(tmp_path / "dropped")
    dropped.start_run("r1", {})
    del dropped
    gc.collect()
    assert not (tmp_path / "dropped").exists()


def sized(folder: Path, files: int, size: int) -> list[Path]:
    """``files`` files of ``size`` bytes (sparse: only their sizes are read)."""
    folder.mkdir()
    made = []
    for i in range(files):
        path = folder / f"part-{i:04d}.x12"
        path.touch()
        os.truncate(path, size)
        made.append(path)
    return made


def test_a_load_takes_a_worker_only_where_the_input_pays_for_its_start(tmp_path: Path) -> None:
    big = sized(tmp_path / "big", 9, 1 << 20)  # 9 MiB in files of 1 MiB: streamed
    bundles = sized(tmp_path / "bundles", 800, 12 << 10)  # 9.4 MiB of small files
    one = sized(tmp_path / "one", 1, 4 << 20)  # one 4 MiB file
    assert parallel.auto_workers(big, cores=2) == 1
    assert parallel.auto_workers(big, cores=16) == 1  # the ordered writer is the bound
    assert parallel.auto_workers(big, cores=1) == 0  # no core of its own
    assert parallel.auto_workers(bundles, cores=2) == 0  # a round trip per small file
    assert parallel.auto_workers(one, cores=2) == 0  # too little to pay back a start
    assert parallel.auto_workers([*one, *big], cores=2) == 1
    assert parallel.auto_workers([tmp_path / "gone.x12"], cores=2) == 0


def test_a_load_left_to_choose_reads_in_the_worker_it_chose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``workers=None`` (`caregraph load` without --workers): the pipeline reads through a
    pool of the size auto_workers gives, or in its own process, with the same report."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: auto_workers reads in the loading process")
    manifest = generate(tmp_path / "data", 4, seed=2, formats=("hl7v2",))
    (name, paths), *_ = [
        (name, [tmp_path / "data" / p for p in paths])
        for name, paths in manifest["sources"].items()
    ]
    made: list[int] = []

    class Counted(ReadPool):
        def __init__(self, workers: int, **kwargs: Any) -> None:
            made.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(pipeline_module, "ReadPool", Counted)
    monkeypatch.setattr(parallel, "STREAM_BYTES", 1)  # every file counts as a streamed one
    reports = []
    for least in (1 << 40, 1):  # more than the input holds, then any input
        monkeypatch.setattr(parallel, "AUTO_MIN_BYTES", least)
        said, graph = stage([(name, paths)], IdentityConfig(), None, tmp_path / f"{least}", None)
        graph.close()
        reports.append(said[0])
    assert made == [1]
    assert reports[0] == reports[1]
    assert reports[0]["totals"]["written"] > 0
