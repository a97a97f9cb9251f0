"""latest.json's shape and docs/benchmarks.md's table, from made-up cells (no Neo4j)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.ingest import (
    CaregraphLoad,
    Census,
    Export,
    InitialLoad,
    LimitLoad,
    SourceLoad,
    initial_figures,
)
from bench.latency import Cell
from bench.stats import summarize

QUESTIONS = ("patient_lookup", "patient_context", "practitioner_traversal")


def _size(n: int, slow: float, http_limit: bool = True) -> dict[str, Any]:
    cells = []
    systems = [("caregraph", 6.0 * slow, 100.0), ("cypher", 2.0, 400.0), ("peer", 4.0, 50.0)]
    if http_limit:
        systems.append(("http_limit", 3.0, 200.0))
    for q in QUESTIONS:
        for system, ms, rps in systems:
            for clients in (1, 8, 32):
                s = summarize([ms / 1000] * 10, 0, 10 / (rps if clients > 1 else rps / 2))
                cells.append(Cell(q, system, clients, s, []))
    graph = Census(nodes=100, relationships=300)
    cg = CaregraphLoad([SourceLoad("ehr", 50, 0, 100, 300, 4.0)], maxrss_mb=120.0, wall_seconds=5)
    limits = {
        "create": LimitLoad("create", 1.0, 3, graph),
        "merge": LimitLoad("merge", 2.0, 3, graph),
    }
    return {
        "patients": n,
        "queries": report.query_figures(cells),
        "memory": {
            "caregraph_serve_kb": {"VmRSS": 150 * 1024, "VmHWM": 160 * 1024, "processes": 3}
        },
        "ingest": report.ingest_figures(cg, graph, Export(Path("x"), graph, 0.1), limits),
    }


def _doc(sizes: dict[str, Any]) -> dict[str, Any]:
    machine = {
        "cpu": "test cpu",
        "cores": 2,
        "memory_gb": 24.0,
        "os": "linux",
        "python": "3.11",
        "neo4j": "5.26.0 community",
        "neo4j_memory": "heap 3g",
    }
    settings = {"duration": 5.0, "warmup": 1.0, "max_requests": 3000, "json": Path("a")}
    return report.build(sizes, machine, settings, datetime(2025, 1, 1, tzinfo=UTC), 60.0)


def test_latest_json_has_the_fields_the_issue_asks_for() -> None:
    doc = json.loads(json.dumps(_doc({"1000": _size(1000, 1.0)}), default=str))
    assert doc["machine"]["cpu"] == "test cpu"
    assert doc["ingest"]["ratio_to_limit"] == 0.25  # 1 s of limit writes over 4 s of pipeline
    assert doc["ingest"]["ratio_to_limit_merge"] == 0.5
    assert doc["ingest"]["meets_target"] is False
    for q in QUESTIONS:
        h = doc["queries"][q]
        assert h["p50_ms"] == 6.0
        assert h["p50_ratio_to_cypher"] == 3.0
        assert h["throughput_ratio_to_neo4j_graphql"] == 2.0  # 100 over 50 req/s at 8 clients
        assert h["meets_p50_target"] is False and h["meets_throughput_target"] is True
        assert h["http_limit_p50_ms"] == 3.0
        assert h["p50_ratio_to_http_limit"] == 2.0
        assert h["meets_http_limit_p50_target"] is False
        assert h["throughput_ratio_to_http_limit"] == 0.5
        assert h["p99_ms_at_32"] == 6.0
    for q in ("patient_context", "practitioner_traversal"):
        assert doc["scale"][q]["p50_ratio_100k_to_1k"] is None  # not run: null, never guessed
    assert "settings" in doc and "json" not in doc["settings"]
    assert doc["label"] == "sizes run: 1,000 patients (make bench-quick)"


def test_scale_ratio_compares_100k_with_1k() -> None:
    doc = _doc({"1000": _size(1000, 1.0), "100000": _size(100000, 1.2)})
    scale = doc["scale"]["patient_context"]
    assert scale["p50_ratio_100k_to_1k"] == 1.2
    assert scale["p50_ms_by_size"] == {"1000": 6.0, "100000": 7.2}
    assert doc["headline_size"] == 100000
    memory = doc["scale"]["caregraph_serve_memory_by_size"]["1000"]
    assert memory == {"rss_mb": 150.0, "peak_mb": 160.0, "processes": 3}


def test_markdown_shows_targets_machine_and_misses() -> None:
    md = report.markdown(_doc({"1000": _size(1000, 1.0), "10000": _size(10000, 1.1)}))
    assert "**sizes run: 1,000 patients, 10,000 patients**" in md
    assert "| CPU | test cpu, 2 cores |" in md
    assert "| ingest ≥ 50% of the limit's throughput | 0.250" in md
    assert "**missed**" in md
    assert "100k not run; 10,000 vs 1,000: 1.10x" in md
    assert "| (a) patient lookup | caregraph GraphQL | 6.60 |" in md  # the largest size
    assert "## Method" in md


def test_markdown_shows_the_limit_over_http_beside_the_others() -> None:
    md = report.markdown(_doc({"1000": _size(1000, 1.0)}))
    assert "| (a) patient lookup: p50 ≤ 1.5x Cypher over HTTP | 2.00x (6.0 vs 3.0 ms) |" in md
    assert "| (a) patient lookup | hand-written Cypher over HTTP (limit over HTTP) | 3.00 |" in md
    assert "p99 @32" in md
    assert "Cypher over HTTP | not measured" not in md and "in this run" not in md


def test_the_cpu_per_request_of_each_process_is_reported_where_measured() -> None:
    size = _size(1000, 1.0)
    cell = size["queries"]["patient_lookup"]["caregraph"]["8"]
    cell["cpu_ms_per_request"] = {"server": 3.4, "neo4j": 2.1, "client": 1.5}
    doc = json.loads(json.dumps(_doc({"1000": size}), default=str))
    lookup = doc["queries"]["patient_lookup"]
    assert lookup["cpu_ms_per_request_at_8"] == {"server": 3.4, "neo4j": 2.1, "client": 1.5}
    assert lookup["http_limit_cpu_ms_per_request_at_8"] is None  # that cell did not measure it
    md = report.markdown(doc)
    assert "| (a) patient lookup | caregraph GraphQL | 3.40 | 2.10 | 1.50 | 7.00 |" in md
    assert md.count("| caregraph GraphQL | 3.40 |") == 1  # only the cells that measured it
    # a run that measured no CPU has no such table
    assert "CPU per request at 8 clients" not in report.markdown(_doc({"1000": _size(1000, 1.0)}))


def test_the_cpu_of_the_loader_and_of_neo4j_during_each_load_is_reported() -> None:
    graph = Census(nodes=100, relationships=300)
    cg = CaregraphLoad(
        [SourceLoad("ehr", 50, 0, 100, 300, 4.0)], 120.0, 5.0, 3.5, neo4j_cpu_seconds=2.25
    )
    limits = {"merge": LimitLoad("merge", 2.0, 3, graph, neo4j_cpu_seconds=1.5)}
    figures = report.ingest_figures(cg, graph, Export(Path("x"), graph, 0.1), limits)
    assert figures["caregraph"]["neo4j_cpu_seconds"] == 2.25
    assert figures["limit"]["merge"]["neo4j_cpu_seconds"] == 1.5
    size = _size(1000, 1.0)
    size["ingest"] = figures
    md = report.markdown(_doc({"1000": size}))
    assert "| 1,000 | 5.0 | 3.5 | 2.2 | 2.0 | 1.5 |" in md
    # a run that measured no Neo4j CPU (an external server) has no such table
    assert "Where a load's time goes" not in report.markdown(_doc({"1000": _size(1000, 1.0)}))


def test_a_document_from_before_the_limit_over_http_says_not_measured() -> None:
    doc = json.loads(json.dumps(_doc({"1000": _size(1000, 1.0, http_limit=False)}), default=str))
    for h in doc["queries"].values():  # as latest.json was written before the key existed
        for key in [k for k in h if "http_limit" in k]:
            del h[key]
    md = report.markdown(doc)
    assert "| (a) patient lookup: p50 ≤ 1.5x Cypher over HTTP | not measured | n/a |" in md
    assert "hand-written Cypher over HTTP (limit over HTTP): not measured in this run." in md


def test_the_committed_results_still_render() -> None:
    latest = Path(__file__).parents[2] / "bench" / "results" / "latest.json"
    doc = json.loads(latest.read_text())
    md = report.markdown(doc)
    # the limit over HTTP is in its targets, measured or (in results from before it) not
    measured = next(iter(doc["queries"].values())).get("http_limit_p50_ms") is not None
    assert ("p50 ≤ 1.5x Cypher over HTTP | not measured" in md) != measured
    assert "p50 ≤ 1.5x Cypher over HTTP" in md
    assert "one process" not in md.split("## Method")[1].split("## Where")[0]


def test_every_size_s_disagreement_is_named() -> None:
    sizes = {"1000": _size(1000, 1.0), "10000": _size(10000, 1.0)}
    for n, peer in (("1000", 69), ("10000", 70)):
        sizes[n]["agreement"] = {
            "patient_context": {
                "items": {"caregraph": 70, "http_limit": 70, "cypher": 70, "peer": peer},
                "errors": {},
                "agree": peer == 70,
                "http_limit_equals_cypher": True,
            }
        }
    md = report.markdown(_doc(sizes))
    assert "| 1,000 | (b) patientContext over a year | 70 | 70 | 70 | 69 | yes | **no** |" in md
    assert "| 10,000 | (b) patientContext over a year | 70 | 70 | 70 | 70 | yes | yes |" in md
    assert "- 1,000 patients, (b) patientContext over a year: caregraph GraphQL 70," in md
    assert "- 10,000 patients" not in md


def test_write_cost_per_record_compares_each_source_across_sizes() -> None:
    sizes = {"1000": _size(1000, 1.0), "100000": _size(100000, 1.0)}
    spent = {  # seconds of the write-side steps for 50 records read of each source
        "1000": ({"identity": 0.02, "write": 0.02, "linking": 0.005, "commit": 0.005}, 0.05),
        "100000": ({"identity": 0.03, "write": 0.025, "linking": 0.005, "commit": 0.005}, 0.05),
    }
    for n, (ehr, payer) in spent.items():
        sizes[n]["ingest"]["caregraph"]["by_source"] = [
            {"source": "ehr", "records": 50, "seconds": 1.0, "records_per_s": 50.0, "steps_s": ehr},
            # a run from before the commit was timed: the other steps are summed
            {"source": "payer", "records": 50, "seconds": 1.0, "records_per_s": 50.0,
             "steps_s": {"write": payer}},
        ]  # fmt: skip
    doc = json.loads(json.dumps(_doc(sizes), default=str))
    cost = doc["ingest"]["write_cost_by_source"]
    assert cost["ehr"]["ms_per_record_by_size"] == {"1000": 1.0, "100000": 1.3}
    assert cost["ehr"]["ratio_largest_to_smallest"] == 1.3
    assert cost["ehr"]["meets_target"] is False
    assert cost["payer"]["ratio_largest_to_smallest"] == 1.0
    assert cost["payer"]["meets_target"] is True
    md = report.markdown(doc)
    assert "| write cost per record, ehr: 100,000 ≤ 1.2x 1,000 patients | 1.30x" in md
    assert "| ehr | 1.000 | 1.300 |" in md
    # a document written before the key existed derives it from its by_size
    del doc["ingest"]["write_cost_by_source"]
    assert report.markdown(doc) == md


def test_the_initial_import_is_held_to_five_times_the_incremental_load() -> None:
    size = _size(1000, 1.0)  # the incremental load: 50 records in 4 s, 12.5 records/s
    graph = Census(nodes=100, relationships=300)
    cg = CaregraphLoad([SourceLoad("ehr", 50, 0, 100, 300, 4.0)], maxrss_mb=120.0, wall_seconds=5)
    size["ingest"].update(initial_figures(cg, graph, InitialLoad(50, 2.0, {"stage": 1.0}, graph)))
    doc = json.loads(json.dumps(_doc({"1000": size}), default=str))
    ingest = doc["ingest"]
    assert ingest["initial_records_per_s"] == 25.0
    assert ingest["initial_speedup"] == 2.0
    assert ingest["initial_same_graph"] is True
    assert ingest["meets_initial_target"] is False
    md = report.markdown(doc)
    assert "| bulk initial import ≥ 5x the incremental load's records/s | 2.00x (25.0 vs 12.5" in md
    # a run without the import says so
    md = report.markdown(_doc({"1000": _size(1000, 1.0)}))
    assert (
        "| bulk initial import ≥ 5x the incremental load's records/s | not measured | n/a |" in md
    )
