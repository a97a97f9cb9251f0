"""The soak's second batch: ``caregraph load`` in a thread while the service answers; each
(source, files) of the batch is one ``caregraph load``, one after the other."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.processes import neo4j_env
from caregraph.graph.settings import Neo4jSettings


@dataclass
class SourceRun:
    """One ``caregraph load`` of the batch: its exit code, wall time and JSON report."""

    source: str
    exit_code: int
    wall_s: float
    report: dict[str, Any] | None

    def figures(self) -> dict[str, Any]:
        """The report's counts, and whether every file's read = written + skipped +
        rejected + not attempted (a fatal error or no report: it does not add up)."""
        report = self.report or {}
        totals = report.get("totals", {})
        files = report.get("files", [])
        adds_up = (
            bool(files)
            and not report.get("fatal")
            and all(
                f["read"] == f["written"] + f["skipped"] + f["rejected"] + f["not_attempted"]
                for f in files
            )
        )
        return {
            "source": self.source,
            "exit_code": self.exit_code,
            "files": len(files),
            "formats": dict(sorted(Counter(str(f.get("format")) for f in files).items())),
            **{k: int(totals.get(k, 0)) for k in ("read", "written", "warned", "unchanged")},
            **{k: int(totals.get(k, 0)) for k in ("skipped", "rejected", "notAttempted")},
            "warnings": report.get("warningCounts", {}),
            "rejects": report.get("rejectCounts", {}),
            "fatal": report.get("fatal"),
            "report_seconds": report.get("seconds"),
            "wall_seconds": round(self.wall_s, 2),
            "adds_up": adds_up,
        }


class BatchLoad:
    """``caregraph load`` of each (source, files) of a batch, one after the other, in a thread
    (so the clients' event loop is never blocked by it)."""

    def __init__(
        self,
        batches: list[tuple[str, list[Path]]],
        identity: Path,
        conn: Neo4jSettings,
        home: Path,
        logs: Path,
    ) -> None:
        self.batches = batches
        self.identity = identity
        self.env = {**os.environ, **neo4j_env(conn), "CAREGRAPH_HOME": str(home)}
        self.logs = logs
        self.runs: list[SourceRun] = []
        self.began = 0.0
        self.ended: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # no new source starts once the load is cancelled
        self._cancelled = threading.Event()
        # its own "done", not Thread.is_alive(): a join interrupted by an exception (the
        # tests' timeout) leaves CPython 3.11's thread marked stopped while it still runs
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="batch-load", daemon=True)

    def start(self) -> None:
        self.began = time.perf_counter()
        self._thread.start()

    def _run(self) -> None:
        try:
            exe = Path(sys.executable).with_name("caregraph")
            self.logs.mkdir(parents=True, exist_ok=True)
            for source, files in self.batches:
                report = self.logs / f"load-{source}.json"
                report.unlink(missing_ok=True)
                args = [str(exe), "load", *map(str, files), "--source", source,
                        "--identity", str(self.identity), "--report", str(report)]  # fmt: skip
                t0 = time.perf_counter()
                with self._lock:
                    if self._cancelled.is_set():  # before its log exists: nothing of it
                        break
                    with (self.logs / f"load-{source}.log").open("wb") as out:
                        proc = self._proc = subprocess.Popen(
                            args, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                        )  # fmt: skip
                code = proc.wait()
                found = json.loads(report.read_text()) if report.exists() else None
                self.runs.append(SourceRun(source, code, time.perf_counter() - t0, found))
        finally:
            self.ended = time.perf_counter()
            self._done.set()

    def cancel(self) -> None:
        """Start no further source, and stop the one loading now (SIGTERM to its group)."""
        with self._lock:
            self._cancelled.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)

    def wait(self, timeout_s: float) -> bool:
        """Wait for the last source to finish; cancel the load after ``timeout_s``. Whether
        every source ran to its end."""
        if self._thread.ident is None:  # never started
            return False
        if not self._done.wait(timeout_s):
            self.cancel()
            self._done.wait(60)
            return False
        return not self._cancelled.is_set() and len(self.runs) == len(self.batches)

    def figures(self, finished: bool, soak_ended: float) -> dict[str, Any]:
        sources = [run.figures() for run in self.runs]
        ended = self.ended if self.ended is not None else time.perf_counter()
        totals = {
            k: sum(int(s[k]) for s in sources)
            for k in ("read", "written", "warned", "unchanged", "skipped", "rejected")
        }
        return {
            "finished": finished,
            "adds_up": bool(sources) and all(s["adds_up"] for s in sources),
            "seconds": round(ended - self.began, 2),
            # ended before the clients stopped: the rest of the soak ran without a load
            "ended_before_clients": self.ended is not None and self.ended < soak_ended,
            **totals,
            "sources": sources,
        }
