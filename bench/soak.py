"""``python -m bench.soak --clients 32 --duration 600 --json out.json``: the soak (issue 15).

N clients ask a mix of questions (the benchmark's three and the README's examples, each of
many patients) of ``caregraph serve`` for D seconds while ``caregraph load`` writes a second
batch of generated patients into the same graph (bench/batch.py). Every answer is classified
(bench/answers.py): ok (200, data, no errors), an explicit refusal (503 OVERLOADED or
SERVICE_UNAVAILABLE with Retry-After, 429 RATE_LIMITED: the client waits as told, then goes
on) or an error (anything else: a timeout, a lost connection, another status, an error
body). The RSS of the service's processes is
sampled from the end of a warm-up to the end. Afterwards the audit records of the soak's own
key are counted by outcome and held against the answered reads, and the audit's hash chain
of the days the soak ran is verified against the service's anchor file.

The data: one generated data set of base + load patients in the bulk layout, base patients
per file. The first batch of files (with the directory of clinicians and organizations) is
loaded first, in this process, one source system after the other; the rest is the second
batch, which one ``caregraph load`` writes during the soak: every format's files of it (FHIR,
HL7 v2, DICOM JSON, X12 837 and 835, in the manifest's order) as one delivery, so one process
start, not six, sits in the soak's time budget. No patient is in both batches, so the load
adds patients instead of rewriting some.

``run_soak(conn, clients=..., duration_s=...)`` is the same run for a caller with a Neo4j of
its own (tests/bench/test_soak.py runs a bounded one on the tests' server; ``make
reliability`` the long one); run as a module it starts a managed Neo4j under bench/data, or
uses the one NEO4J_URI names.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from neo4j import Driver

from bench import data, machine, queries
from bench.answers import CONNECTION, TIMEOUT, Tally, Verdict, classify
from bench.batch import BatchLoad
from bench.clients import AnswerError, Call, Limits, closed_loop, local_only
from bench.database import BenchNeo4j
from bench.processes import MemorySampler
from bench.service import Service
from bench.stats import percentile
from caregraph.api.audit import NO_PATIENT_DATA
from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import Anchors
from caregraph.graph.driver import open_driver
from caregraph.graph.settings import Neo4jSettings, Paths, Settings
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT_S = 30.0  # an answer slower than this is an error: the service hangs
FEED = "riverside-feed"  # the source name the second batch is loaded under
PURPOSE = "TREAT"  # X-Purpose-Of-Use: the soak reads as a clinician treating
RSS_BOUND_SHARE = 0.5  # RSS may grow by half of its start, or by RSS_BOUND_KB, not more
RSS_BOUND_KB = 100 * 1024


# -- questions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One question of the mix: its i-th text and variables."""

    name: str
    text: Callable[[int], str]
    variables: Callable[[int], dict[str, Any]]
    audited: bool  # it reads patient data, so each answer is one audit record


def mix(sample: queries.Sample, readme: Path = queries.README) -> list[Question]:
    """The benchmark's three questions and the README's examples, bound to the sample."""
    out = [
        Question(a.name, lambda _i, text=a.caregraph[0]: text, a.caregraph[1], True)
        for a in queries.questions(sample)
    ]
    for example in queries.readme_examples(readme):
        roots = queries.root_fields(example)
        name = "readme " + "+".join(roots)
        while name in {q.name for q in out}:
            name += "'"
        audited = bool(set(roots) - NO_PATIENT_DATA)  # the ontology's example reads no patient
        out.append(Question(name, queries.readme_bound(example, sample), lambda _i: {}, audited))
    return out


def _caller(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    questions: Sequence[Question],
    tally: Tally,
    stop_at: float,
    phase: str,
) -> Call:
    """The i-th request: question i mod n, of the (i div n)-th patient, clinician or visit."""
    local_only(url)

    async def call(i: int) -> None:
        question = questions[i % len(questions)]
        j = i // len(questions)
        body = {"query": question.text(j), "variables": question.variables(j)}
        # the soak's own request id, which the service takes over: each answer can be found
        # in the audit, also one the service recorded after this client gave up on it
        request_id = f"soak-{phase}{i}"
        t0 = time.perf_counter()
        try:
            response = await http.post(
                url, json=body, headers={**headers, "X-Request-Id": request_id}
            )
        except httpx.TimeoutException:
            verdict = Verdict("error", TIMEOUT)
        except httpx.HTTPError:  # refused, reset, closed: the kind is in the service's log
            verdict = Verdict("error", CONNECTION)
        else:
            verdict = classify(response.status_code, response.headers, response.content)
        tally.add(question.name, verdict, (time.perf_counter() - t0) * 1000, request_id)
        if verdict.kind == "error":
            # closed_loop counts it too, and stops a run whose answers are mostly errors
            raise AnswerError(verdict.label)
        if verdict.kind == "refused":  # a well-behaved client waits as told (not past the end)
            await asyncio.sleep(max(0.0, min(verdict.retry_after_s, stop_at - time.perf_counter())))

    return call


def _limits(seconds: float) -> Limits:
    # bounded by time alone: a soak has no request budget
    return Limits(warmup_s=0.0, duration_s=seconds, max_requests=sys.maxsize)


async def _prime(
    http: httpx.AsyncClient,
    service: Service,
    headers: dict[str, str],
    questions: Sequence[Question],
    tally: Tally,
) -> None:
    """Each question once per worker, one question at a time, each on a new connection (so
    the workers share them): a fresh worker's first deep questions plan their reads, and
    all clients at once on a cold service time out there (2 of 9 at load 5 on 2 cores), a
    cold start that is not what the soak measures. Their answers are counted all the same."""
    n = len(questions)
    call = _caller(http, service.url, {**headers, "Connection": "close"}, questions, tally,
                   time.perf_counter(), "p")  # fmt: skip

    async def quietly(i: int) -> None:
        with contextlib.suppress(AnswerError):  # counted in the tally already
            await call(i)

    for i in range(n):
        await asyncio.gather(*(quietly(i + k * n) for k in range(service.workers)))


async def _ask(
    service: Service,
    questions: Sequence[Question],
    clients: int,
    warmup_s: float,
    duration_s: float,
    warmed: Callable[[], None],
    started: Callable[[], None],
) -> tuple[Tally, Tally, float]:
    """The warm-up (a priming pass, then the clients), then the soak: the warm-up's and the
    soak's tallies and the soak's wall seconds."""
    headers = {**service.headers, "X-Purpose-Of-Use": PURPOSE}
    pool = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=pool) as http:
        warm = Tally()
        await _prime(http, service, headers, questions, warm)
        if warmup_s > 0:
            stop_at = time.perf_counter() + warmup_s
            call = _caller(http, service.url, headers, questions, warm, stop_at, "w")
            await closed_loop(call, clients, _limits(warmup_s))
        warmed()
        soak = Tally()
        begin = time.perf_counter()
        call = _caller(http, service.url, headers, questions, soak, begin + duration_s, "s")
        clients_running = asyncio.create_task(closed_loop(call, clients, _limits(duration_s)))
        await asyncio.sleep(0)  # every client has sent its first request
        started()
        await clients_running
        return warm, soak, time.perf_counter() - begin


# -- the load ----------------------------------------------------------------------------------
def _load_base(
    driver: Driver, database: str, dataset: data.Dataset, progress: Callable[[str], None]
) -> dict[str, Any]:
    """The first batch, in this process, as the graph the soak starts from."""
    onto = load_ontology()
    identity = IdentityConfig.from_file(dataset.identity)
    figures: Counter[str] = Counter()
    started = time.perf_counter()
    for source, files in dataset.batches(0, 1):
        report = load(
            files, driver=driver, database=database, source=source, onto=onto, identity=identity
        )
        if report.fatal:
            raise RuntimeError(f"the base load of {source} failed: {report.fatal}")
        for k in ("read", "written", "rejected"):
            figures[k] += report.total(k)
        progress(f"  base {source}: {report.total('read')} records")
    return {**figures, "seconds": round(time.perf_counter() - started, 2)}


# -- the run -----------------------------------------------------------------------------------
def _latency(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "p50_ms": round(percentile(values, 50), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2),
    }


def _memory(sampler: MemorySampler) -> dict[str, Any]:
    totals = sampler.totals
    start, end = totals[0], totals[-1]
    return {
        "every_s": sampler.every_s,
        "samples": len(totals),
        "total": {
            "start_kb": start,
            "end_kb": end,
            "max_kb": max(totals),
            "growth_kb": end - start,
            "growth_pct": round(100 * (end - start) / start, 1) if start else None,
            # a leak keeps growing; caches and pools fill early, then stay
            "second_half_growth_kb": end - totals[len(totals) // 2],
        },
        "series_kb": totals,  # the whole tree's RSS at each sample, every_s apart
        "processes": [
            {
                "pid": p.pid,
                "role": p.role,
                "start_kb": p.start_kb,
                "end_kb": p.end_kb,
                "max_kb": p.max_kb,
                "growth_kb": p.growth_kb,
                "samples": p.samples,
                "gone": p.gone,
            }
            for p in sampler.processes()
        ],
    }


def _audit(
    driver: Driver,
    database: str,
    service: Service,
    questions: Sequence[Question],
    tallies: Sequence[Tally],
    days: set[str],
) -> dict[str, Any]:
    """The soak key's audit records against the answers, request by request, and the days'
    chains."""
    records = keys_and_audit.audit_outcomes(driver, database, service.subject)
    by_outcome = Counter(outcome for _, outcome in records)
    ok_records = Counter(request for request, outcome in records if outcome == "ok")
    audited = {q.name for q in questions if q.audited}
    answered = {r for t in tallies for r, q in t.answered.items() if q in audited}
    unanswered = {r for t in tallies for r in t.unanswered}
    late = ok_records.keys() - answered  # recorded ok, but this client had no answer
    error_answers = sum(n for t in tallies for q, n in t.error_answers.items() if q in audited)
    anchors = Anchors.open(Settings(paths=Paths(home=service.home)), make_key=False)
    checks = [keys_and_audit.verify_audit(driver, database, anchors, day) for day in sorted(days)]
    return {
        "records": len(records),
        "by_outcome": dict(sorted(by_outcome.items())),
        "answered_reads": len(answered),  # ok answers to questions that read patient data
        "ok_records_equal_answered_reads": by_outcome["ok"] == len(answered),
        # request by request: every answered read has one ok record, and no other has one
        "answered_without_record": len(answered - ok_records.keys()),
        "recorded_more_than_once": sum(1 for n in ok_records.values() if n > 1),
        # ok records of requests this client gave up on (timeouts): the service answered late
        "recorded_after_client_gave_up": len(late & unanswered),
        "recorded_not_asked": len(late - unanswered),  # by nobody of this soak: must be 0
        "unaudited_answers": sum(
            n for t in tallies for q, n in t.ok.items() if q not in audited
        ),  # ok answers that read no patient data (the ontology)
        # the records of reads that went wrong (partial, failed, refused) against the answers
        # with errors in a GraphQL body; refusals before GraphQL (503, 429) are not recorded
        "error_answers": error_answers,
        "other_records_equal_error_answers": len(records) - by_outcome["ok"] == error_answers,
        "chain_intact": all(c.intact for c in checks),
        "chain_problems": [p for c in checks for d in c.days for p in d.problems][:5],
    }


def run_soak(
    conn: Neo4jSettings,
    *,
    clients: int = 32,
    duration_s: float = 600.0,
    warmup_s: float = 10.0,
    base_patients: int = 1000,
    load_patients: int = 4000,
    seed: int = 0,
    workers: int | None = None,
    work: Path | None = None,
    data_root: Path | None = None,
    rss_every_s: float | None = None,
    load_timeout_s: float | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Soak ``caregraph serve`` on the Neo4j of ``conn`` (its graph is added to, not emptied):
    the figures, as ``--json`` writes them."""
    if clients < 1 or duration_s <= 0 or base_patients < 1 or load_patients < 1:
        raise ValueError("clients, duration and both batches' patients must be positive")
    work = work or ROOT / "bench" / "data" / "soak"
    for own in ("state", "load-state", "logs"):  # this run's state: old anchor lines would
        shutil.rmtree(work / own, ignore_errors=True)  # name heads of another graph
    dataset = data.ensure(
        data_root or ROOT / "bench" / "data",
        base_patients + load_patients,
        seed,
        layout="bulk",
        batch_size=base_patients,
    )
    second = [(FEED, [f for _, files in dataset.batches(1) for f in files])]
    service = Service(work / "logs", work / "state", key_name="soak", workers=workers)
    every = rss_every_s or max(1.0, min(5.0, duration_s / 30))
    load_av = machine.load_average()
    days = {datetime.now(UTC).date().isoformat()}
    with open_driver(conn) as driver:
        progress(f"base: {base_patients} patients")
        base = _load_base(driver, conn.database, dataset, progress)
        sample = queries.sample(driver, conn.database, dataset.as_of, seed=seed)
        questions = mix(sample)
        batch = BatchLoad(second, dataset.identity, conn, work / "load-state", work / "logs")
        sampler: MemorySampler | None = None
        try:
            progress(f"starting caregraph serve ({service.workers} workers)")
            service.start(conn, driver)
            sampler = MemorySampler(service.child.pid, every)
            progress(
                f"{clients} clients: {warmup_s:g} s warm-up, then {duration_s:g} s with the load"
            )
            warm, soak, seconds = asyncio.run(
                _ask(service, questions, clients, warmup_s, duration_s, sampler.start, batch.start)
            )
            soak_ended = time.perf_counter()
            sampler.stop()
            progress(
                "clients done; waiting for the load" if batch.ended is None else "clients done"
            )
            finished = batch.wait(load_timeout_s or max(600.0, 2 * duration_s))
        finally:  # also when something failed: nothing of the soak's is left running
            if sampler is not None:
                sampler.stop()
            batch.wait(0)
            service.stop()
        days.add(datetime.now(UTC).date().isoformat())
        audit = _audit(driver, conn.database, service, questions, (warm, soak), days)
    ok_ms = [ms for values in soak.latencies_ms.values() for ms in values]
    counts = soak.counts()
    return {
        "clients": clients,
        "duration_s": duration_s,
        "seconds": round(seconds, 2),
        "warmup_s": warmup_s,
        "workers": service.workers,
        **counts,
        "errors_total": sum(counts["errors"].values()),
        "refusals_total": sum(counts["refusals"].values()),
        "error_samples": soak.error_samples,
        "latency": _latency(ok_ms),  # of the ok answers
        "throughput_rps": round(counts["ok"] / seconds, 2) if seconds else 0.0,
        "questions": {
            q.name: {
                "requests": soak.requests[q.name],
                "ok": soak.ok[q.name],
                "audited": q.audited,
                **_latency(soak.latencies_ms.get(q.name, [])),
            }
            for q in questions
        },
        "warmup": {**warm.counts(), "error_samples": warm.error_samples},
        "rss": _memory(sampler) if sampler else {},
        "audit": audit,
        "load": {"patients": load_patients, **batch.figures(finished, soak_ended)},
        "base": {"patients": base_patients, **base},
        "load_average": {"start": load_av, "end": machine.load_average()},
    }


# -- the verdict and the summary ---------------------------------------------------------------
def shortfalls(result: dict[str, Any]) -> list[str]:
    """What the soak's criteria (issue 15) found wrong, in words; empty when it passed."""
    out = []
    if result["errors_total"]:
        out.append(f"{result['errors_total']} errors: {result['errors']}")
    if result["warmup"]["errors"]:
        out.append(f"errors in the warm-up: {result['warmup']['errors']}")
    audit = result["audit"]
    if not audit["ok_records_equal_answered_reads"]:
        out.append(
            f"{audit['by_outcome'].get('ok', 0)} ok audit records for "
            f"{audit['answered_reads']} answered reads "
            f"({audit['recorded_after_client_gave_up']} answered after the client gave up)"
        )
    if audit["answered_without_record"] or audit["recorded_more_than_once"]:
        out.append(
            f"{audit['answered_without_record']} answered reads without an audit record, "
            f"{audit['recorded_more_than_once']} recorded more than once"
        )
    if not audit["chain_intact"]:
        out.append(f"the audit chain is broken: {audit['chain_problems']}")
    load_ = result["load"]
    if not load_["finished"] or not load_["adds_up"]:
        out.append("the load did not finish with reports that add up")
    total = result["rss"]["total"]
    if total["growth_kb"] > max(RSS_BOUND_SHARE * total["start_kb"], RSS_BOUND_KB):
        out.append(f"RSS grew by {total['growth_kb']} kB from {total['start_kb']} kB")
    return out


def _by(counts: dict[str, int]) -> str:
    return f" {counts}" if counts else ""


def summary(result: dict[str, Any]) -> str:
    """A few lines for a person."""
    lat = result["latency"]
    rss = result["rss"]["total"]
    audit = result["audit"]
    load_ = result["load"]
    lines = [
        f"soak: {result['clients']} clients, {result['seconds']:.0f} s, "
        f"{result['workers']} workers",
        f"  requests {result['requests']}: ok {result['ok']}, "
        f"refused {result['refusals_total']}{_by(result['refusals'])}, "
        f"errors {result['errors_total']}{_by(result['errors'])}",
        f"  ok latency p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms; "
        f"{result['throughput_rps']} answers/s",
        f"  RSS {rss['start_kb'] / 1024:.0f} -> {rss['end_kb'] / 1024:.0f} MB "
        f"(max {rss['max_kb'] / 1024:.0f} MB, growth {rss['growth_pct']}%, "
        f"{rss['second_half_growth_kb'] / 1024:+.0f} MB in the second half) over "
        f"{len(result['rss']['processes'])} processes",
        f"  audit: {audit['records']} records {audit['by_outcome']} for "
        f"{audit['answered_reads']} answered reads and {audit['error_answers']} error answers "
        f"(+{audit['unaudited_answers']} answers that read no patient); "
        f"chain {'intact' if audit['chain_intact'] else 'BROKEN'}",
        f"  load of {load_['patients']} patients: read {load_['read']}, written "
        f"{load_['written']}, rejected {load_['rejected']} in {load_['seconds']} s "
        f"({'finished' if load_['finished'] else 'NOT finished'}"
        f"{', before the clients stopped' if load_['ended_before_clients'] else ''})",
    ]
    problems = shortfalls(result)
    lines.append("  passed" if not problems else "  FAILED: " + "; ".join(problems))
    return "\n".join(lines)


def _log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=600.0, help="seconds of the soak")
    p.add_argument("--warmup", type=float, default=10.0, help="seconds before it (RSS baseline)")
    p.add_argument("--base-patients", type=int, default=1000, help="in the graph at the start")
    p.add_argument("--load-patients", type=int, default=4000, help="loaded during the soak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, help="caregraph serve --workers (default: cores)")
    p.add_argument("--heap", default="1g", help="managed Neo4j heap")
    p.add_argument("--pagecache", default="1g", help="managed Neo4j page cache")
    p.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the soak met its criteria, 1 when not."""
    args = parse(argv)
    external = Neo4jSettings()
    db = BenchNeo4j(
        args.data / "neo4j-soak",
        heap=args.heap,
        pagecache=args.pagecache,
        external=external if external.external else None,
    )
    _log("starting Neo4j" if db.external is None else f"using Neo4j at {external.uri}")
    db.start()
    try:
        if db.external is None:
            db.empty()  # a managed server is the soak's own: start from an empty graph
        result = run_soak(
            db.connection(),
            clients=args.clients,
            duration_s=args.duration,
            warmup_s=args.warmup,
            base_patients=args.base_patients,
            load_patients=args.load_patients,
            seed=args.seed,
            workers=args.workers,
            work=args.data / "soak",
            data_root=args.data,
            progress=_log,
        )
    finally:
        db.stop()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(summary(result))
    return 1 if shortfalls(result) else 0


if __name__ == "__main__":
    sys.exit(main())
