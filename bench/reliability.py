"""``make reliability`` (``python -m bench.reliability``): the long variants of the reliability
suite, and docs/reliability.md from what they tried and survived.

1. The fuzz, fault and limit tests, with hypothesis's ``long`` profile and the fault tests'
   long rounds (CAREGRAPH_RELIABILITY_LONG=1); each test records its figures (inputs tried,
   requests sent, faults survived) through the ``figures`` fixture into a JSON-lines file.
2. Overload: 32 and 128 clients against ``caregraph serve``, with admission control as
   shipped and without it (bench/overload.py).
3. The soak: 32 clients of mixed queries for 10 minutes while a load runs (bench/soak.py).

``make test`` runs the bounded variant of every one of these (CI must stay well under 30
minutes on a 2-core machine); this command is the long run, and its figures are what the
document shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reliability.md"

# the tests whose long variants run here (each also runs bounded in `make test`)
SUITES = [
    "tests/loaders/test_fuzz.py",
    "tests/loaders/test_limits.py",
    "tests/loaders/test_faults.py",
    "tests/loaders/test_initial.py",
    "tests/api/test_fuzz.py",
    "tests/api/test_faults.py",
    "tests/api/test_availability.py",
    "tests/api/test_admission.py",
    "tests/api/test_bodies.py",
    "tests/graph/test_chain.py",
]


def run_tests(
    figures: Path, work: Path, suites: list[str], long: bool, examples: int = 1000
) -> dict[str, Any]:
    """pytest on ``suites``; their outcome counts (from its JUnit XML) and wall time. The long
    variants try ``examples`` inputs per fuzzed parser, and GraphQL requests per role."""
    junit = work / "junit.xml"
    env = {**os.environ, "CAREGRAPH_RELIABILITY_FIGURES": str(figures)}
    if long:
        env.update(
            HYPOTHESIS_PROFILE="long",
            CAREGRAPH_RELIABILITY_LONG="1",
            CAREGRAPH_FUZZ_EXAMPLES=str(examples),
        )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
         *suites],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    outcome = _junit(junit) if junit.exists() else {}
    return {
        "suites": suites,
        "seconds": round(time.perf_counter() - started, 1),
        "exit_code": proc.returncode,
        **outcome,
    }


def _junit(path: Path) -> dict[str, Any]:
    root = ET.parse(path).getroot()  # noqa: S314 - pytest's own file, written just now
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return {}
    counts = {k: int(suite.get(k, "0")) for k in ("tests", "failures", "errors", "skipped")}
    failed = [
        f"{case.get('classname')}::{case.get('name')}"
        for case in suite.iter("testcase")
        if case.find("failure") is not None or case.find("error") is not None
    ]
    return {**counts, "failed": failed}


def read_figures(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The figures lines, grouped by suite."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                grouped[entry.pop("suite")].append(entry)
    return dict(grouped)


# -- the document ---------------------------------------------------------------------------

PROMISES = """\
## What caregraph promises

- **Atomic records, no duplicates on rerun.** A record is written whole or not at all (one
  transaction per batch; a record's nodes, relationships and provenance go together). A load
  stopped by a fault (Neo4j killed, the loader killed) leaves only whole records; running the
  same input again gives exactly the graph a clean load gives, and running it once more
  changes nothing.
- **Reports add up.** Every load report, including one cut short by a fatal error, satisfies
  read = written + skipped + rejected + notAttempted, overall and per file; every rejection
  and warning names file, position, record id and reason, never a patient value.
- **No answer without an audit record.** A read's audit record is committed before its answer
  is sent; if it cannot be written, the caller gets an error instead of the data. Records are
  hash-chained and anchored outside Neo4j, so `caregraph audit verify` shows an edit or a
  deletion. A record whose answer never reached the caller can exist only when the service
  died between the commit and the send (the conservative side).
- **Fail fast and say so.** Neo4j unreachable: 503 `SERVICE_UNAVAILABLE` with `Retry-After`
  within the driver's acquisition timeout, then at once while the worker's breaker is open;
  recovery without a restart. More requests than a worker takes: 503 `OVERLOADED` with
  `Retry-After` at once or after a bounded wait, never a timeout after the work was half done.
  A caller over its rate: 429 `RATE_LIMITED`.
- **Bounded input.** Every limit below is a setting, named in the error that enforces it.
"""


def limits_table() -> str:
    """The limits in force, with their settings and defaults, read from the code."""
    from caregraph.api.settings import ApiSettings
    from caregraph.loaders.limits import LoadLimits

    rows = ["| setting | default | what it bounds |", "|---|---|---|"]
    for prefix, model in (("CAREGRAPH_API_", ApiSettings), ("CAREGRAPH_LOAD_", LoadLimits)):
        for name, info in model.model_fields.items():
            if name in ("host", "port", "cursor_key", "pseudonym_key"):
                continue
            what = (info.description or "").replace("|", "/")
            rows.append(f"| `{prefix}{name.upper()}` | `{json.dumps(info.default)}` | {what} |")
    return "\n".join(rows)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)
    body = ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join([head, *body])


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "/")


def render(result: dict[str, Any]) -> str:
    """docs/reliability.md from one run's result."""
    m = result["machine"]
    tests = result["tests"]
    figures: dict[str, list[dict[str, Any]]] = result["figures"]
    out = [
        "# Reliability",
        "",
        "Written by `make reliability` (bench/reliability.py) on "
        f"{result['finished']}; `make test` runs the bounded variant of every suite below.",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, Python "
        f"{m['python']}; load average at start {m['load_average_at_start']}.",
        "",
        PROMISES,
        "## Limits",
        "",
        limits_table(),
        "",
        "## The tests, long variants",
        "",
        ("Bounded (CI) variants" if result.get("bounded") else "Long variants")
        + (
            f" ({result['fuzz_examples']} inputs per fuzzed parser and GraphQL requests per role)"
            if result.get("fuzz_examples")
            else ""
        )
        + f" of {', '.join(f'`{x}`' for x in tests['suites'])}: "
        f"{tests.get('tests', '?')} tests in {tests['seconds']} s: "
        f"{tests.get('failures', '?')} failed, {tests.get('errors', '?')} errors, "
        f"{tests.get('skipped', '?')} skipped"
        + (f" ({', '.join(tests['failed'])})" if tests.get("failed") else "")
        + ".",
        "",
    ]
    for suite, rows in sorted(figures.items()):
        out += [f"### {suite}", ""]
        # one table per kind of fault: their figures differ, and one wide table would be empty
        # in most cells
        kinds = sorted({str(row.get("fault", "")) for row in rows})
        for kind in kinds:
            some = [row for row in rows if str(row.get("fault", "")) == kind]
            columns = sorted({k for row in some for k in row if k not in ("test", "fault")})
            out += [*([f"{kind}:", ""] if kind else []), _table(some, columns), ""]
    if result.get("overload"):
        out += _overload(result["overload"])
    if result.get("soak"):
        from bench import soak

        out += ["## Soak", "", "```", soak.summary(result["soak"]), "```", ""]
    return "\n".join(out)


def _overload(o: dict[str, Any]) -> list[str]:
    lines = [
        "## Overload",
        "",
        f"{o['patients']} patients; closed-loop clients, {o['duration_s']} s per cell, the "
        "benchmark's three questions in turn, `caregraph serve` with one worker per core. "
        "`admission`: admission control as shipped, clients that send again at once when "
        "refused, ignoring Retry-After (the worst case); `admission, clients wait "
        "Retry-After`: the same service, clients that wait as a refusal asks; `unbounded`: "
        "admission control off. Latencies in ms, as clients measure them on the same machine"
        + (f" (overload run {o['at']})" if o.get("at") else "")
        + ".",
        "",
        "| admission | clients | answered | answered/s | answered p50 / p99 / max | refused "
        "| refused p99 / max | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, cells in o["modes"].items():
        for clients, f in cells.items():
            a, r, e = f["answered"], f["refused"], f["errors"]
            lines.append(
                f"| {mode} | {clients} | {a['count']} | {f['answered_per_s']} | "
                f"{a.get('p50_ms', '-')} / {a.get('p99_ms', '-')} / {a.get('max_ms', '-')} | "
                f"{r['count']} | {r.get('p99_ms', '-')} / {r.get('max_ms', '-')} | "
                f"{e['count']} {_cell(f['error_kinds']) if e['count'] else ''} |"
            )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.reliability", description=__doc__.splitlines()[0]
    )
    p.add_argument("--bounded", action="store_true", help="CI's bounded variants, not the long")
    p.add_argument(
        "--suites", type=lambda t: [x for x in t.split(",") if x], default=SUITES,
        help="test files to run, comma-separated (default: all the reliability suites)",
    )  # fmt: skip
    p.add_argument(
        "--fuzz-examples", type=int, default=1000,
        help="long variants: inputs per fuzzed parser, GraphQL requests per role (a fifth of "
        "that per MCP tool and role)",
    )  # fmt: skip
    p.add_argument("--overload-duration", type=float, default=30.0)
    p.add_argument("--no-overload", action="store_true")
    p.add_argument("--soak-clients", type=int, default=32)
    p.add_argument("--soak-duration", type=float, default=600.0)
    p.add_argument("--no-soak", action="store_true")
    p.add_argument("--doc", type=Path, default=DOC)
    p.add_argument("--json", type=Path, help="also write the whole result here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="caregraph-reliability-") as tmp:
        work = Path(tmp)
        figures = work / "figures.jsonl"
        result: dict[str, Any] = {
            "machine": machine.describe("", "", {}),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        result["bounded"] = args.bounded
        result["tests"] = run_tests(
            figures, work, args.suites, long=not args.bounded, examples=args.fuzz_examples
        )
        result["fuzz_examples"] = None if args.bounded else args.fuzz_examples
        result["figures"] = read_figures(figures)
        if not args.no_overload:
            from bench import overload

            overload_json = work / "overload.json"
            overload.main(["--duration", str(args.overload_duration), "--json", str(overload_json)])
            result["overload"] = json.loads(overload_json.read_text())
        if not args.no_soak:
            from bench import soak

            soak_json = work / "soak.json"
            soak.main(["--clients", str(args.soak_clients), "--duration", str(args.soak_duration),
                       "--json", str(soak_json)])  # fmt: skip
            result["soak"] = json.loads(soak_json.read_text())
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.doc.write_text(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.doc}")
    return 0 if result["tests"].get("exit_code") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
