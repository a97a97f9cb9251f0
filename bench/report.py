"""The results: bench/results/latest.json (for machines) and docs/benchmarks.md (for people).

Headline figures come from the largest size of the run; every size's figures are kept under
``by_size``. A ratio is caregraph's figure over the other system's: for latency below 1 is
better, for throughput above 1 is better. Missing measurements are ``null``, never guessed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import queries
from bench.ingest import CaregraphLoad, Census, Export, LimitLoad, write_ms_per_record
from bench.latency import Cell
from bench.stats import ratio

ROOT = Path(__file__).resolve().parents[1]
ANALYSIS = ROOT / "bench" / "analysis.md"

QUESTIONS = {
    "patient_lookup": "(a) patient lookup",
    "patient_context": "(b) patientContext over a year",
    "practitioner_traversal": "(c) practitioner → visits → claims, studies",
}
SYSTEM_NAMES = {
    "caregraph": "caregraph GraphQL",
    "http_limit": "hand-written Cypher over HTTP (limit over HTTP)",
    "cypher": "hand-written Cypher (limit)",
    "peer": "@neo4j/graphql + Apollo (peer)",
}
TARGETS = {
    "ingest": 0.5,  # at least half the limit's throughput
    "p50_to_cypher": 1.5,  # at most 1.5x the hand-written Cypher's p50
    "p50_to_http_limit": 1.5,  # at most 1.5x the same Cypher's p50 behind a bare endpoint
    "throughput_to_peer": 1.0,  # at least the peer's throughput (8 clients)
    "scale": 1.3,  # 100k latency at most 1.3x the 1k latency
    "write_cost_scale": 1.2,  # a source's write cost per record at 100k within 1.2x of 1k
    "initial_speedup": 5.0,  # the bulk initial import's records/s over the incremental load's
}
SCALED = ("patient_context", "practitioner_traversal")
# what a document written before a key existed shows for it: it was not measured then
NOT_MEASURED = "not measured"


def _r(x: float | None, digits: int = 3) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return round(x, digits)


# -- per size --------------------------------------------------------------------------------
def ingest_figures(
    cg: CaregraphLoad, graph: Census, exported: Export, limits: Mapping[str, LimitLoad]
) -> dict[str, Any]:
    """Ingest at one size: caregraph, the limit(s), the ratio."""
    cg_eps = graph.elements / cg.seconds
    out: dict[str, Any] = {
        "records": cg.records,
        "graph": {
            "nodes": graph.nodes,
            "relationships": graph.relationships,
            "elements": graph.elements,
        },
        "caregraph": {
            "seconds": _r(cg.seconds),
            "records_per_s": _r(cg.records / cg.seconds, 1),
            "elements_per_s": _r(cg_eps, 1),
            "peak_memory_mb": _r(cg.maxrss_mb, 1),
            "workers_peak_memory_mb": _r(cg.workers_maxrss_mb, 1),
            "process_wall_seconds": _r(cg.wall_seconds),
            "process_cpu_seconds": _r(cg.cpu_seconds),
            "neo4j_cpu_seconds": _r(cg.neo4j_cpu_seconds),
            "by_source": [
                {
                    "source": s.source,
                    "records": s.read,
                    "rejected": s.rejected,
                    "seconds": _r(s.seconds),
                    "records_per_s": _r(s.read / s.seconds if s.seconds else None, 1),
                    "steps_s": {k: _r(v, 2) for k, v in s.steps.items()},
                }
                for s in cg.sources
            ],
        },
        "export_seconds": _r(exported.seconds),
        "limit": {},
    }
    for mode, lim in limits.items():
        out["limit"][mode] = {
            "seconds": _r(lim.seconds),
            "elements_per_s": _r(graph.elements / lim.seconds, 1),
            "records_per_s_equivalent": _r(cg.records / lim.seconds, 1),
            "transactions": lim.transactions,
            "neo4j_cpu_seconds": _r(lim.neo4j_cpu_seconds),
            "same_graph": lim.census == graph,
        }
        key = "ratio_to_limit" if mode == "create" else f"ratio_to_limit_{mode}"
        out[key] = _r(lim.seconds / cg.seconds)
    if "ratio_to_limit" not in out and limits:  # only merge was run: it is the limit then
        out["ratio_to_limit"] = out[f"ratio_to_limit_{next(iter(limits))}"]
    return out


def query_figures(cells: Sequence[Cell]) -> dict[str, Any]:
    """{question: {system: {clients: summary, ...}, ...}, ...} with each cell's errors."""
    out: dict[str, Any] = {}
    for c in cells:
        entry = c.summary.as_json()
        if c.errors:
            entry["error_samples"] = c.errors
        out.setdefault(c.question, {}).setdefault(c.system, {})[str(c.clients)] = entry
    return out


# -- the document ------------------------------------------------------------------------------
def _cell(size: Mapping[str, Any], q: str, system: str, clients: int) -> Mapping[str, Any]:
    found: Mapping[str, Any] = size.get("queries", {}).get(q, {}).get(system, {})
    cell: Mapping[str, Any] = found.get(str(clients), {})
    return cell


def _headline(size: Mapping[str, Any], q: str) -> dict[str, Any]:
    cg1, cy1, pe1 = (_cell(size, q, s, 1) for s in ("caregraph", "cypher", "peer"))
    cg8, cy8, pe8 = (_cell(size, q, s, 8) for s in ("caregraph", "cypher", "peer"))
    hl1, hl8 = _cell(size, q, "http_limit", 1), _cell(size, q, "http_limit", 8)
    p50_ratio = ratio(cg1.get("p50_ms"), cy1.get("p50_ms"))
    http_ratio = ratio(cg1.get("p50_ms"), hl1.get("p50_ms"))
    tp_ratio = ratio(cg8.get("throughput_rps"), pe8.get("throughput_rps"))
    return {
        "p50_ms": cg1.get("p50_ms"),
        "p95_ms": cg1.get("p95_ms"),
        "p99_ms": cg1.get("p99_ms"),
        "cypher_p50_ms": cy1.get("p50_ms"),
        "p50_ratio_to_cypher": _r(p50_ratio),
        "http_limit_p50_ms": hl1.get("p50_ms"),
        "p50_ratio_to_http_limit": _r(http_ratio),
        "p99_ms_at_32": _cell(size, q, "caregraph", 32).get("p99_ms"),
        "neo4j_graphql_p50_ms": pe1.get("p50_ms"),
        "p50_ratio_to_neo4j_graphql": _r(ratio(cg1.get("p50_ms"), pe1.get("p50_ms"))),
        "throughput_rps_at_8": cg8.get("throughput_rps"),
        "cypher_throughput_rps_at_8": cy8.get("throughput_rps"),
        "neo4j_graphql_throughput_rps_at_8": pe8.get("throughput_rps"),
        "throughput_ratio_to_neo4j_graphql": _r(tp_ratio),
        "throughput_ratio_to_cypher": _r(
            ratio(cg8.get("throughput_rps"), cy8.get("throughput_rps"))
        ),
        "http_limit_throughput_rps_at_8": hl8.get("throughput_rps"),
        "throughput_ratio_to_http_limit": _r(
            ratio(cg8.get("throughput_rps"), hl8.get("throughput_rps"))
        ),
        # CPU per request at 8 clients, by process (absent when the run did not measure it)
        "cpu_ms_per_request_at_8": cg8.get("cpu_ms_per_request"),
        "http_limit_cpu_ms_per_request_at_8": hl8.get("cpu_ms_per_request"),
        "neo4j_graphql_cpu_ms_per_request_at_8": pe8.get("cpu_ms_per_request"),
        "meets_p50_target": None if p50_ratio is None else p50_ratio <= TARGETS["p50_to_cypher"],
        "meets_throughput_target": None
        if tp_ratio is None
        else tp_ratio >= TARGETS["throughput_to_peer"],
        "meets_http_limit_p50_target": None
        if http_ratio is None
        else http_ratio <= TARGETS["p50_to_http_limit"],
    }


def _scale(by_size: Mapping[str, Any]) -> dict[str, Any]:
    sizes = sorted(int(n) for n in by_size)
    out: dict[str, Any] = {}
    for q in SCALED:
        p50 = {str(n): _cell(by_size[str(n)], q, "caregraph", 1).get("p50_ms") for n in sizes}
        entry: dict[str, Any] = {"p50_ms_by_size": p50}
        entry["p50_ratio_100k_to_1k"] = _r(ratio(p50.get("100000"), p50.get("1000")))
        if len(sizes) > 1:
            entry["p50_ratio_largest_to_smallest"] = _r(
                ratio(p50[str(sizes[-1])], p50[str(sizes[0])])
            )
            entry["sizes_compared"] = [sizes[0], sizes[-1]]
        out[q] = entry
    rss = {}
    for n in sizes:
        kb = by_size[str(n)].get("memory", {}).get("caregraph_serve_kb", {})
        rss[str(n)] = {
            "rss_mb": _r(kb.get("VmRSS", 0) / 1024, 1),
            "peak_mb": _r(kb.get("VmHWM", 0) / 1024, 1),
            "processes": kb.get("processes"),  # the server and its workers, summed
        }
    out["caregraph_serve_memory_by_size"] = rss
    if "100000" not in by_size:
        out["note"] = "100,000 patients were not run: p50_ratio_100k_to_1k is null, not estimated"
    return out


def write_cost(by_size: Mapping[str, Any]) -> dict[str, Any]:
    """Per source: milliseconds of the write-side steps per record read at every size, and the
    largest size's over the smallest's (issue 17: a record costs as much at 100k as at 1k)."""
    ms: dict[str, dict[str, float | None]] = {}
    for n in sorted(int(n) for n in by_size):
        for s in by_size[str(n)]["ingest"]["caregraph"]["by_source"]:
            per = write_ms_per_record(s.get("steps_s") or {}, s["records"])
            ms.setdefault(s["source"], {})[str(n)] = _r(per)
    return compare_write_cost(ms)


def compare_write_cost(ms: Mapping[str, Mapping[str, float | None]]) -> dict[str, Any]:
    """Per source, from its ms per record by size: the largest size's over the smallest's and
    whether that meets issue 17's target (``bench/write_cost.py`` compares its own sizes so)."""
    sizes = sorted({int(n) for by in ms.values() for n in by})
    out: dict[str, Any] = {}
    for source, by in ms.items():
        scale = _r(ratio(by.get(str(sizes[-1])), by.get(str(sizes[0])))) if len(sizes) > 1 else None
        out[source] = {
            "ms_per_record_by_size": by,
            "sizes_compared": [sizes[0], sizes[-1]],
            "ratio_largest_to_smallest": scale,
            "meets_target": None if scale is None else scale <= TARGETS["write_cost_scale"],
        }
    return out


def write_cost_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document's write cost by source; derived from its by_size when it was written
    before the key existed (it is a function of by_size alone)."""
    return doc["ingest"].get("write_cost_by_source") or write_cost(doc["by_size"])


def build(
    by_size: Mapping[str, Any],
    machine: Mapping[str, Any],
    settings: Mapping[str, Any],
    started: datetime,
    seconds: float,
    profile: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """latest.json's document."""
    sizes = sorted(int(n) for n in by_size)
    largest = by_size[str(sizes[-1])]
    ingest = largest["ingest"]
    label = "sizes run: " + ", ".join(f"{n:,} patients" for n in sizes)
    if sizes == [1000]:
        label += " (make bench-quick)"
    return {
        "label": label,
        "generated_at": started.isoformat(timespec="seconds"),
        "run_seconds": round(seconds, 1),
        "sizes": sizes,
        "headline_size": sizes[-1],
        "machine": dict(machine),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in settings.items()
            if k not in ("json", "doc", "data")
        },
        "ingest": {
            "patients": sizes[-1],
            "ratio_to_limit": ingest.get("ratio_to_limit"),
            "ratio_to_limit_merge": ingest.get("ratio_to_limit_merge"),
            "records_per_s": ingest["caregraph"]["records_per_s"],
            "elements_per_s": ingest["caregraph"]["elements_per_s"],
            "limit_elements_per_s": ingest["limit"].get("create", {}).get("elements_per_s"),
            "limit_merge_elements_per_s": ingest["limit"].get("merge", {}).get("elements_per_s"),
            "peak_memory_mb": ingest["caregraph"]["peak_memory_mb"],
            "meets_target": None
            if ingest.get("ratio_to_limit") is None
            else ingest["ratio_to_limit"] >= TARGETS["ingest"],
            "profile": dict(profile) if profile else None,
            "write_cost_by_source": write_cost(by_size),
            # the bulk initial import of the same data set (None: not run at this size)
            "initial_records_per_s": ingest.get("initial_records_per_s"),
            "initial_speedup": ingest.get("speedup"),
            "initial_same_graph": (ingest.get("initial") or {}).get("same_graph"),
            "initial_peak_memory_mb": (ingest.get("initial") or {}).get("peak_memory_mb"),
            "meets_initial_target": None
            if ingest.get("speedup") is None
            else ingest["speedup"] >= TARGETS["initial_speedup"],
        },
        "queries": {q: _headline(largest, q) for q in QUESTIONS},
        # what (b) read and how the peer chose its payments (bench/queries.py): documents
        # without these keys come from runs before (b) read conditions and procedures
        "context_events": list(queries.CONTEXT_KINDS),
        "peer_context_payments_by": queries.PEER_CONTEXT_PAYMENTS_BY,
        "scale": _scale(by_size),
        "targets": TARGETS,
        "by_size": dict(by_size),
    }


# -- writing -----------------------------------------------------------------------------------
def _fmt(x: Any, digits: int = 1, suffix: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}{suffix}"
    return f"{x:,.{digits}f}{suffix}"


def _met(flag: bool | None) -> str:
    return "n/a" if flag is None else ("met" if flag else "**missed**")


def markdown(doc: Mapping[str, Any]) -> str:
    """docs/benchmarks.md from latest.json's document."""
    m = doc["machine"]
    ing = doc["ingest"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m bench.run` (make bench, make bench-quick) from "
        "bench/results/latest.json; the analysis section is bench/analysis.md. -->",
        "",
        f"**{doc['label']}**, run {doc['generated_at']} in {doc['run_seconds'] / 60:.0f} min. "
        f"Headline figures are at {doc['headline_size']:,} patients.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
        f"| ingest ≥ 50% of the limit's throughput | {_fmt(ing['ratio_to_limit'], 3)} "
        f"(vs an idempotent MERGE load: {_fmt(ing.get('ratio_to_limit_merge'), 3)}) "
        f"| {_met(ing['meets_target'])} |",
    ]
    for q, title in QUESTIONS.items():
        h = doc["queries"][q]
        lines.append(
            f"| {title}: p50 ≤ 1.5x Cypher | {_fmt(h['p50_ratio_to_cypher'], 2)}x "
            f"({_fmt(h['p50_ms'], 1)} vs {_fmt(h['cypher_p50_ms'], 1)} ms) "
            f"| {_met(h['meets_p50_target'])} |"
        )
        if "p50_ratio_to_http_limit" in h:
            measured = (
                f"{_fmt(h['p50_ratio_to_http_limit'], 2)}x ({_fmt(h['p50_ms'], 1)} vs "
                f"{_fmt(h.get('http_limit_p50_ms'), 1)} ms)"
            )
        else:
            measured = NOT_MEASURED
        lines.append(
            f"| {title}: p50 ≤ 1.5x Cypher over HTTP | {measured} "
            f"| {_met(h.get('meets_http_limit_p50_target'))} |"
        )
        lines.append(
            f"| {title}: throughput ≥ peer (8 clients) | "
            f"{_fmt(h['throughput_ratio_to_neo4j_graphql'], 2)}x "
            f"({_fmt(h['throughput_rps_at_8'], 1)} vs "
            f"{_fmt(h['neo4j_graphql_throughput_rps_at_8'], 1)} req/s) "
            f"| {_met(h['meets_throughput_target'])} |"
        )
    for q in SCALED:
        s = doc["scale"][q]
        r = s["p50_ratio_100k_to_1k"]
        if r is None and "p50_ratio_largest_to_smallest" in s:
            a, b = s["sizes_compared"]
            measured = (
                f"100k not run; {b:,} vs {a:,}: {_fmt(s['p50_ratio_largest_to_smallest'], 2)}x"
            )
        elif r is None:
            measured = "not measured (one size only)"
        else:
            measured = f"{_fmt(r, 2)}x"
        met = None if r is None else r <= TARGETS["scale"]
        lines.append(f"| {QUESTIONS[q]}: 100k p50 ≤ 1.3x 1k | {measured} | {_met(met)} |")
    initial = ing.get("initial_records_per_s")
    measured = (
        NOT_MEASURED
        if initial is None
        else f"{_fmt(ing['initial_speedup'], 2)}x ({_fmt(initial)} vs "
        f"{_fmt(ing['records_per_s'])} records/s; same graph: {_fmt(ing['initial_same_graph'])}; "
        f"peak memory {_fmt(ing.get('initial_peak_memory_mb'))} MB)"
    )
    lines.append(
        f"| bulk initial import ≥ 5x the incremental load's records/s | {measured} "
        f"| {_met(ing.get('meets_initial_target'))} |"
    )
    for source, c in write_cost_of(doc).items():
        a, b = c["sizes_compared"]
        by = c["ms_per_record_by_size"]
        measured = (
            "one size only"
            if a == b
            else f"{_fmt(c['ratio_largest_to_smallest'], 2)}x ({_fmt(by.get(str(b)), 3)} vs "
            f"{_fmt(by.get(str(a)), 3)} ms)"
        )
        lines.append(
            f"| write cost per record, {source}: {b:,} ≤ 1.2x {a:,} patients | {measured} "
            f"| {_met(c['meets_target'])} |"
        )

    lines += [
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPU | {m['cpu']}, {m['cores']} cores |",
        f"| memory | {m['memory_gb']} GB |",
        f"| OS | {m['os']} |",
        f"| Python | {m['python']} |",
        f"| Neo4j | {m['neo4j']} ({m['neo4j_memory']}) |",
        f"| Node | {m.get('node') or 'n/a'} |",
        "| peer | "
        + ", ".join(f"{k} {v}" for k, v in (m.get("peer_packages") or {}).items())
        + " |",
        f"| load average (1, 5, 15 min) | at start {m.get('load_average_at_start')}, "
        f"at end {m.get('load_average_at_end')} |",
        "",
        "Everything ran on this one machine: Neo4j, caregraph's service, the peer and the "
        "load-generating client share its cores. A load average above the core count means "
        "other work was running too; read the figures with that in mind.",
        "",
        "## Ingest",
        "",
        "| patients | records | graph nodes + relationships | caregraph s | records/s | "
        "elements/s | peak MB | limit s (CREATE) | limit elements/s | limit s (MERGE) | ratio "
        "(CREATE) | ratio (MERGE) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n in doc["sizes"]:
        s = doc["by_size"][str(n)]["ingest"]
        cg = s["caregraph"]
        lc = s["limit"].get("create", {})
        lm = s["limit"].get("merge", {})
        same = all(v.get("same_graph") for v in s["limit"].values())
        lines.append(
            f"| {n:,} | {s['records']:,} | {s['graph']['elements']:,}"
            f"{'' if same else ' (limit graph differs!)'} | {_fmt(cg['seconds'])} | "
            f"{_fmt(cg['records_per_s'])} | {_fmt(cg['elements_per_s'], 0)} | "
            f"{_fmt(cg['peak_memory_mb'], 0)} | {_fmt(lc.get('seconds'))} | "
            f"{_fmt(lc.get('elements_per_s'), 0)} | {_fmt(lm.get('seconds'))} | "
            f"{_fmt(s.get('ratio_to_limit'), 3)} | {_fmt(s.get('ratio_to_limit_merge'), 3)} |"
        )
    lines += _ingest_cpu_md(doc)
    big = doc["by_size"][str(doc["headline_size"])]["ingest"]["caregraph"]["by_source"]
    cost = write_cost_of(doc)
    lines += [
        "",
        f"By source system at {doc['headline_size']:,} patients (loaded in this order):",
        "",
        "| source | records | seconds | records/s | identity s | write s | linking s | commit s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(
            f"| {s['source']} | {s['records']:,} | {_fmt(s['seconds'])} | "
            f"{_fmt(s['records_per_s'])} | {_fmt(s.get('steps_s', {}).get('identity'), 1)} | "
            f"{_fmt(s.get('steps_s', {}).get('write'), 1)} | "
            f"{_fmt(s.get('steps_s', {}).get('linking'), 1)} | "
            f"{_fmt(s.get('steps_s', {}).get('commit'), 1)} |"
            for s in big
        ),
        "",
        "identity, write, linking and commit (of each batch's transaction) are the"
        " pipeline's own step timings (LoadReport.timings); the rest of a source's seconds is"
        " reading, parsing, mapping and validating.",
        "",
        "Write cost per record, by source and size: milliseconds of identity + write + linking"
        " + commit per record read (a record should cost as much at the largest size as at"
        " the smallest, within 1.2x):",
        "",
        "| source | " + " | ".join(f"{n:,}" for n in doc["sizes"]) + " |",
        "| --- |" + " ---: |" * len(doc["sizes"]),
        *(
            f"| {source} | "
            + " | ".join(_fmt(c["ms_per_record_by_size"].get(str(n)), 3) for n in doc["sizes"])
            + " |"
            for source, c in cost.items()
        ),
    ]
    lines += _queries_md(doc)
    lines += _scale_md(doc)
    prof = ing.get("profile")
    if prof:
        lines += [
            "",
            "## Profile of the slowest ingest path",
            "",
            f"`{prof['source']}` at {prof['patients']:,} patients under cProfile "
            f"({prof['records']:,} records, {_fmt(prof['seconds'])} s); full text in "
            f"`{prof['text']}`. The profiled load reads and writes in one thread (cProfile "
            "sees only its own), so its stages add up; the measured loads overlap them.",
            "",
            "| stage | seconds |",
            "| --- | ---: |",
            *(f"| {k} | {_fmt(v, 2)} |" for k, v in prof["stages_s"].items()),
            "",
            "| statement in the write transaction | seconds |",
            "| --- | ---: |",
            *(f"| {k} | {_fmt(v, 2)} |" for k, v in prof["statements_s"].items()),
        ]
    lines += ["", _method(doc).strip()]
    if ANALYSIS.exists():
        lines += ["", ANALYSIS.read_text().strip()]
    return "\n".join(lines) + "\n"


def _ingest_cpu_md(doc: Mapping[str, Any]) -> list[str]:
    """The CPU of the loading process and of Neo4j during each load, where measured."""
    rows = []
    for n in doc["sizes"]:
        s = doc["by_size"][str(n)]["ingest"]
        cg, lm = s["caregraph"], s["limit"].get("merge", {})
        if cg.get("neo4j_cpu_seconds") is None:
            continue
        rows.append(
            f"| {n:,} | {_fmt(cg['process_wall_seconds'])} | {_fmt(cg['process_cpu_seconds'])} | "
            f"{_fmt(cg['neo4j_cpu_seconds'])} | {_fmt(lm.get('seconds'))} | "
            f"{_fmt(lm.get('neo4j_cpu_seconds'))} |"
        )
    if not rows:
        return []
    return [
        "",
        "Where a load's time goes, in CPU seconds: caregraph's loading process with its "
        "parse workers (as many as `caregraph load` chooses: loaders.parallel.auto_workers) "
        "and Neo4j during the whole `caregraph load`, against Neo4j during the MERGE "
        "limit's writes of the same graph. Two cores: a load whose processes' CPU adds up "
        "to less than twice its wall time leaves a core idle.",
        "",
        "| patients | caregraph load wall s | its processes' CPU s | Neo4j CPU s | MERGE limit s | "
        "its Neo4j CPU s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
    ]


def _queries_md(doc: Mapping[str, Any]) -> list[str]:
    n = doc["headline_size"]
    size = doc["by_size"][str(n)]
    levels = sorted({int(c) for q in size["queries"].values() for s in q.values() for c in s})
    lines = [
        "",
        f"## Queries at {n:,} patients",
        "",
        "Latency at 1 client (ms); throughput (requests/s) at each concurrency; each cell "
        f"{doc['settings'].get('warmup')} s warm-up, then {doc['settings'].get('duration')} s "
        f"or {doc['settings'].get('max_requests')} requests.",
        "",
        "| question | system | p50 | p95 | p99 | "
        + " | ".join(f"req/s @{c}" for c in levels)
        + " | "
        + " | ".join(f"p50 @{c}" for c in levels if c != 1)
        + " | "
        + " | ".join(f"p99 @{c}" for c in levels if c != 1)
        + " | failed |",
        "| --- | --- | ---: | ---: | ---: | "
        + " | ".join("---:" for _ in levels)
        + " | "
        + " | ".join("---:" for c in levels if c != 1)
        + " | "
        + " | ".join("---:" for c in levels if c != 1)
        + " | ---: |",
    ]
    for q, title in QUESTIONS.items():
        for system in SYSTEM_NAMES:
            cells = size["queries"].get(q, {}).get(system)
            if not cells:
                continue
            one = cells.get("1", {})
            failed = sum(int(c.get("errors", 0)) for c in cells.values())
            lines.append(
                f"| {title} | {SYSTEM_NAMES[system]} | {_fmt(one.get('p50_ms'), 2)} | "
                f"{_fmt(one.get('p95_ms'), 2)} | {_fmt(one.get('p99_ms'), 2)} | "
                + " | ".join(_fmt(cells.get(str(c), {}).get("throughput_rps")) for c in levels)
                + " | "
                + " | ".join(_fmt(cells.get(str(c), {}).get("p50_ms"), 1) for c in levels if c != 1)
                + " | "
                + " | ".join(_fmt(cells.get(str(c), {}).get("p99_ms"), 1) for c in levels if c != 1)
                + f" | {failed} |"
            )
    absent = [
        name
        for system, name in SYSTEM_NAMES.items()
        if not any(system in q for q in size["queries"].values())
    ]
    if absent:
        lines += ["", f"{', '.join(absent)}: {NOT_MEASURED} in this run."]
    lines += [
        "",
        "Ratios (caregraph over the other; latency: lower is better, throughput: higher is "
        "better):",
        "",
        "| question | p50 / Cypher over HTTP | p50 / Cypher | p50 / peer | req/s @8 / Cypher | "
        "req/s @8 / peer |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for q, title in QUESTIONS.items():
        h = doc["queries"][q]
        lines.append(
            f"| {title} | {_given(h, 'p50_ratio_to_http_limit', 2)} | "
            f"{_fmt(h['p50_ratio_to_cypher'], 2)} | "
            f"{_fmt(h['p50_ratio_to_neo4j_graphql'], 2)} | "
            f"{_fmt(h['throughput_ratio_to_cypher'], 2)} | "
            f"{_fmt(h['throughput_ratio_to_neo4j_graphql'], 2)} |"
        )
    lines += _cpu_md(size)
    lines += _agreement_md(doc)
    return lines


CPU_PARTS = {"server": "server", "neo4j": "Neo4j", "client": "client"}


def _cpu_md(size: Mapping[str, Any]) -> list[str]:
    """CPU per request at 8 clients, by process, for the systems whose cells measured it."""
    rows = []
    for q, title in QUESTIONS.items():
        for system, name in SYSTEM_NAMES.items():
            cpu = _cell(size, q, system, 8).get("cpu_ms_per_request")
            if cpu:
                parts = " | ".join(_fmt(cpu.get(k), 2) for k in CPU_PARTS)
                rows.append(f"| {title} | {name} | {parts} | {_fmt(sum(cpu.values()), 2)} |")
    if not rows:
        return []
    return [
        "",
        "CPU per request at 8 clients (ms), by process: the system's server with its workers "
        "(none for the Cypher sent from the client), Neo4j, and the load-generating client, "
        "read from /proc when each cell's measured window opens and once its last request is "
        "answered, over the requests answered in between. Every process shares the same "
        "cores, so a system's requests/s at 8 clients is about the cores it keeps busy over "
        "the sum.",
        "",
        "| question | system | " + " | ".join(CPU_PARTS.values()) + " | sum |",
        "| --- | --- | " + " | ".join("---:" for _ in CPU_PARTS) + " | ---: |",
        *rows,
    ]


def _given(values: Mapping[str, Any], key: str, digits: int = 1) -> str:
    """A figure, or NOT_MEASURED when the document was written before the key existed."""
    return _fmt(values[key], digits) if key in values else NOT_MEASURED


def _agreement_md(doc: Mapping[str, Any]) -> list[str]:
    """Each size's item counts, and every disagreement named (not only the headline size's)."""
    sizes = [n for n in doc["sizes"] if doc["by_size"][str(n)].get("agreement")]
    if not sizes:
        return []
    lines = [
        "",
        "Do they answer the same? Items in the answers to the first 20 arguments (patients' "
        "identifiers; events; visits + claims + studies), at every size; the limit over HTTP "
        "must also give the very records of the Cypher through the driver:",
        "",
        "| patients | question | caregraph | Cypher over HTTP | Cypher | peer | HTTP = driver's "
        "records | agree | errors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    disagreements = []
    for n in sizes:
        agreement = doc["by_size"][str(n)]["agreement"]
        for q, title in QUESTIONS.items():
            entry = agreement.get(q, {})
            a = entry.get("items", {})
            failed = entry.get("errors", {})
            errors = "; ".join(f"{k}: {v[:160]}" for k, v in failed.items())
            agree = entry.get("agree")
            if agree is False:
                disagreements.append(
                    f"{n:,} patients, {title}: "
                    + ", ".join(f"{SYSTEM_NAMES.get(k, k)} {v:,}" for k, v in a.items())
                    + (f" (errors: {', '.join(failed)})" if failed else "")
                )
            lines.append(
                f"| {n:,} | {title} | {_fmt(a.get('caregraph'))} | "
                f"{_given(a, 'http_limit')} | {_fmt(a.get('cypher'))} | {_fmt(a.get('peer'))} | "
                f"{_given(entry, 'http_limit_equals_cypher')} | "
                f"{'n/a' if agree is None else ('yes' if agree else '**no**')} | "
                f"{errors or 'none'} |"
            )
    if disagreements:
        lines += ["", "Disagreements in this run:", ""]
        lines += [f"- {d}" for d in disagreements]
        lines += ["", _peer_payments(doc)]
    return lines


def _peer_payments(doc: Mapping[str, Any]) -> str:
    """How the run's peer chose (b)'s payments: what explains its count of (b)'s events."""
    if doc.get("peer_context_payments_by") == "paymentDate":
        return (
            "The peer asks for (b)'s payments by their payment date, as caregraph and the "
            "Cypher count them; a disagreement left is not explained by the window."
        )
    return (
        "This run's peer asked for (b)'s payments under the claims served in the year, that is "
        "by their claim's service date; caregraph and the Cypher count a payment in the year "
        "it was paid. A payment in the year for a claim served the year before (or a claim of "
        "the year paid after it) is counted by one side only. Since this run, the bench's peer "
        "asks for payments by payment date, and its Cypher and peer read the conditions and "
        "procedures that caregraph's (b) now counts too (bench/queries.py); a run since then "
        "shows whether the four agree."
    )


def _scale_md(doc: Mapping[str, Any]) -> list[str]:
    s = doc["scale"]
    lines = [
        "",
        "## Scale",
        "",
        "| patients | (b) p50 ms | (c) p50 ms | caregraph serve RSS MB (peak), all processes |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for n in doc["sizes"]:
        mem = s["caregraph_serve_memory_by_size"].get(str(n), {})
        lines.append(
            f"| {n:,} | {_fmt(s['patient_context']['p50_ms_by_size'].get(str(n)), 2)} | "
            f"{_fmt(s['practitioner_traversal']['p50_ms_by_size'].get(str(n)), 2)} | "
            f"{_fmt(mem.get('rss_mb'), 0)} ({_fmt(mem.get('peak_mb'), 0)}), "
            f"{mem.get('processes') or '?'} processes |"
        )
    if s.get("note"):
        lines += ["", s["note"] + "."]
    return lines


METHOD = """
## Method

- **One run, one Neo4j, one data set per size.** `python -m bench.run` starts a managed
  Neo4j 5.26 Community (`graph.server.ManagedNeo4j` under bench/data/neo4j, heap and page
  cache from `--heap`/`--pagecache`) or uses `NEO4J_URI`. Between loads the database's store
  is removed and the ontology's schema applied again (`graph.schema.apply`), so every load
  starts from the same empty, indexed database.
- **Data**: `loaders.generator.generate` (the `caregraph synth` generator, seed 0): FHIR, HL7 v2
  ADT/SIU/ORM, DICOM, X12 837/835 from six source systems, with the overlaps identity and
  linking resolve. Above 1,000 patients it writes bulk layouts (FHIR NDJSON, DICOM JSON).
- **Ingest, caregraph**: each source system through `loaders.pipeline.load` with the data
  set's identity.toml (what `caregraph load --source S --identity ...` does), batch size 500,
  in a child process; seconds are the pipeline's own (parse, map, validate, identity, write,
  linking); peak memory is the child's `ru_maxrss`.
- **Ingest, the limit**: the graph caregraph made is exported (every data node with its
  labels and properties; every relationship with its properties and both ends' keys) and
  written into the emptied database by plain batched `UNWIND` Cypher, 10,000 rows per
  transaction: `CREATE` for nodes and for relationships (found by their ends' unique keys);
  and again with `MERGE` on the same keys, which is what a user who wants re-runnable loads
  writes. Only the write transactions are timed; both graphs are counted and must match
  caregraph's. We chose this over capturing the pipeline's WriteBatch rows because those rows
  are not the final graph: linking rules add relationships inside the database, and nodes
  asserted by several records (a patient in six feeds) come once per record. Exporting gives
  the limit exactly the same final nodes and relationships and no work it would not need.
  The ratio is the limit's write seconds over caregraph's pipeline seconds, i.e. caregraph's
  elements/s over the limit's.
- **Queries**: three questions (bench/queries.py holds all their text), each asked (i) through
  `caregraph serve` over HTTP with a clinician API key (uvicorn with one worker process per
  core, {workers} workers here, otherwise default settings), (ii) as one hand-written Cypher
  query through the async Python driver (the limit), (iii) as the same Cypher text over HTTP
  (the limit over HTTP, bench/http_limit.py: a bare ASGI endpoint with no authentication and
  no GraphQL, on uvicorn with as many workers as caregraph's service, the async driver and
  orjson), and (iv) through the Neo4j GraphQL Library 7 on Apollo Server 5 (Node, one
  process; type definitions in bench/peer/typedefs.graphql) over HTTP. (a)
  `patient(identifier:)`; the peer goes through the Identifier node's key (indexed) to its
  patient. (b) `patientContext(identifier:, from:, to:)` for the year before the data's as-of
  date, selecting `text totalEvents truncated`; Cypher and the peer fetch the same events
  ({events}) with the neighbours the text names, but
  do not render text;
  {payments} (c)
  `practitioner(npi:)` → first 20 visits oldest first → their claims and imaging studies
  (first 20 each). The arguments cycle through up to 100 patients and practitioners spread
  over the graph, in a seeded order, the same for every system.
- **Load**: closed loop, 1, 8 and 32 concurrent clients (asyncio, httpx or the async
  driver), only to 127.0.0.1; per cell a warm-up, then a bounded window (seconds and
  requests); throughput is completed requests over the window; latency percentiles by linear
  interpolation. Systems are interleaved per cell so that drift on the machine hits them all.
  Before measuring, each system answers the first 20 arguments once (warming caches); the
  item counts of those answers are compared in the table above.
- **Scale**: (b) and (c) p50 at 1 client at each size; the service's RSS (and peak) from
  /proc after its queries.
"""


def _method(doc: Mapping[str, Any]) -> str:
    # a document without the setting comes from a run whose service had one worker per core
    # (bench/service.py's default then), which the machine's core count gives
    workers = doc["settings"].get("workers") or doc["machine"]["cores"]
    if doc.get("peer_context_payments_by") == "paymentDate":
        payments = "the peer asks for payments by payment date, as the others count them."
    else:
        payments = (
            "the peer of this run filtered payments by their claim's service date rather than "
            "by payment date."
        )
    # before (b) read conditions and procedures, runs did not record what it read
    events = doc.get("context_events") or ("visits", "appointments", "studies", "claims",
                                           "payments")  # fmt: skip
    return METHOD.format(workers=workers, payments=payments, events=", ".join(events))


def write(doc: Mapping[str, Any], json_path: Path, md_path: Path) -> None:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    md_path.parent.mkdir(parents=True, exist_ok=True)
    md_path.write_text(markdown(doc))


def main() -> None:
    """``python -m bench.report``: render docs/benchmarks.md again from latest.json (after
    editing bench/analysis.md), without measuring anything."""
    json_path = ROOT / "bench" / "results" / "latest.json"
    md_path = ROOT / "docs" / "benchmarks.md"
    doc = json.loads(json_path.read_text())
    if "write_cost_by_source" not in doc["ingest"]:  # a run from before the key: derived
        doc["ingest"]["write_cost_by_source"] = write_cost(doc["by_size"])  # from its by_size
        json_path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
        print(f"added ingest.write_cost_by_source to {json_path} from its by_size")
    md_path.write_text(markdown(doc))
    print(f"wrote {md_path} from {json_path}")


if __name__ == "__main__":
    main()
