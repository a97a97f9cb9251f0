"""``python -m bench.suite_cpu``: where a run of the test suite spends the machine's CPU, by
kind of process.

Issue 22 asks for the suite in 8 minutes on a 2-core machine, and the suite is CPU-bound on
both cores all along (docs/testing.md), so what decides its length is how much CPU each kind of
process uses: the Neo4j servers the tests start (the session servers, the short-lived ones
that are restarted and killed), the pytest workers' own Python, the children they spawn. This
runs a command (``make test`` by default) in its own session and samples, twice a second from
``/proc``, the CPU of every process descended from it; each process counts with the last
figure seen for it (one that ends between two samples loses at most half a second of its
CPU). It prints one line per kind and writes them to ``--result``.

Why not ``psacct`` or ``perf``: neither is installed on the machines the suite runs on, and
neither classes a JVM by the settings it was started with.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import proc_stat, process_tree

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_S = 0.5

# Kinds, by what a process's command line shows (tests/conftest.py sets the JVM flags).
SHORT_LIVED_NEO4J = "Neo4j, short-lived (C1 only: spare, analyst, browser)"
SESSION_NEO4J = "Neo4j, long-lived (the session servers' settings)"
OTHER_JVM = "other JVMs (neo4j-admin, the class archive)"
PYTEST_WORKER = "pytest workers"
PYTEST_MAIN = "pytest's main process"
CAREGRAPH_CHILD = "caregraph commands (serve, mcp, load ...)"
PYTHON_CHILD = "other Python children (parse workers, managers)"
BROWSER = "the browser (Chromium, Playwright's driver)"
OTHER = "other"


def classify(argv: Sequence[str]) -> str:
    """The kind of a process, from its command line."""
    if not argv:
        return OTHER
    program = os.path.basename(argv[0])
    line = " ".join(argv)
    if program == "java":
        if "org.neo4j.server" not in line:
            return OTHER_JVM
        return SHORT_LIVED_NEO4J if "-XX:TieredStopAtLevel=1" in argv else SESSION_NEO4J
    if "chrom" in line or "playwright" in line or program == "node":
        return BROWSER
    if program.startswith("python") or program in {"pytest", "caregraph"}:
        if "execnet" in line or "exec(eval(sys.stdin.readline()))" in line:
            return PYTEST_WORKER  # pytest-xdist's worker, started through execnet
        # the console script runs as ``python .../bin/caregraph``, or as ``-m caregraph.api.cli``
        if "caregraph" in {os.path.basename(a) for a in argv[:2]} or "caregraph.api.cli" in line:
            return CAREGRAPH_CHILD
        if program == "pytest" or "pytest" in argv[1:3]:
            return PYTEST_MAIN
        return PYTHON_CHILD
    return OTHER


@dataclass
class Tally:
    """The CPU seconds last seen for each process of the tree, by (pid, start time)."""

    seen: dict[tuple[int, str], tuple[str, float]] = field(default_factory=dict)

    def sample(self, root: int) -> None:
        for pid in process_tree(root):
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = proc_stat(pid)
                key = (pid, stat.started)  # the start time tells a reused pid apart
                # read each time: a process just forked shows its parent's command line
                # until it execs its own; one that has ended and is not yet reaped shows none
                # (it keeps the kind it had)
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
                known = self.seen.get(key)
                kind = classify(argv) if argv or known is None else known[0]
                self.seen[key] = (kind, stat.cpu_s)

    def by_kind(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for kind, cpu in self.seen.values():
            entry = out.setdefault(kind, {"processes": 0, "cpu_s": 0.0})
            entry["processes"] += 1
            entry["cpu_s"] += cpu
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu_s"]))


@dataclass(frozen=True)
class SuiteCpu:
    """One run of a command: how it ended, how long it took, and the CPU of each kind of
    process it started."""

    command: str
    exit_code: int
    seconds: float
    by_kind: dict[str, dict[str, float]]

    @property
    def cpu_s(self) -> float:
        return sum(k["cpu_s"] for k in self.by_kind.values())

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 1),
            "cpu_s": round(self.cpu_s, 1),
            "by_kind": {
                name: {"processes": int(k["processes"]), "cpu_s": round(k["cpu_s"], 1)}
                for name, k in self.by_kind.items()
            },
        }


def run(command: Sequence[str], cwd: Path = ROOT) -> SuiteCpu:
    """Run ``command``, sampling its process tree until it ends."""
    tally = Tally()
    began = time.monotonic()
    proc = subprocess.Popen(list(command), cwd=cwd, start_new_session=True)
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            tally.sample(proc.pid)
            stop.wait(SAMPLE_S)

    thread = threading.Thread(target=sampler, name="suite-cpu", daemon=True)
    thread.start()
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C: the command's whole session stops too
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait()
    finally:
        stop.set()
        thread.join()
    return SuiteCpu(shlex.join(command), code, time.monotonic() - began, tally.by_kind())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("command", nargs="*", default=["make", "test"], help="default: make test")
    p.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "suite-cpu.json")
    args = p.parse_args(argv)
    result = run(args.command)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    print(f"{result.command}: exit {result.exit_code}, {result.seconds:.1f} s, "
          f"{result.cpu_s:.1f} s of CPU")  # fmt: skip
    for name, k in result.by_kind.items():
        print(f"  {k['cpu_s']:8.1f} s  {int(k['processes']):4d}  {name}")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
