"""Child processes the bench starts (the API service, the peer, the loader): start, wait, stop,
and how much memory they hold.

Each is started in its own session so that stopping it (SIGTERM, then SIGKILL after a grace
period) reaches exactly that process and what it spawned, nothing else on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from caregraph.graph.settings import Neo4jSettings


class ChildFailed(RuntimeError):
    """A child process did not come up or did not finish well."""


def neo4j_env(conn: Neo4jSettings) -> dict[str, str]:
    """The environment that points caregraph (and the peer) at the bench's Neo4j."""
    assert conn.uri, "a Neo4j URI is needed"
    return {
        "NEO4J_URI": conn.uri,
        "NEO4J_USERNAME": conn.username,
        "NEO4J_PASSWORD": conn.password.get_secret_value() if conn.password else "",
        "NEO4J_DATABASE": conn.database,
    }


def answers_ready(base_url: str) -> bool:
    """Whether a service (caregraph's, or the limit over HTTP) says it is ready."""
    try:
        response = httpx.get(f"{base_url}/readyz", timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def status_kb(pid: int) -> dict[str, int]:
    """A process's memory lines of /proc/PID/status (VmRSS, VmHWM ...), in kB; empty once it
    has gone (a zombie has no VmRSS line)."""
    out: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name.startswith("Vm"):
                out[name] = int(value.split()[0])
    return out


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process and its descendants (a server's workers),
    summed, in kB, from /proc; ``processes`` says how many were counted."""
    out: dict[str, int] = {"VmRSS": 0, "VmHWM": 0, "processes": 0}
    for p in [pid, *_descendants(pid)]:
        status = status_kb(p)
        if status:
            out["VmRSS"] += status.get("VmRSS", 0)
            out["VmHWM"] += status.get("VmHWM", 0)
            out["processes"] += 1
    return out


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (a server's workers), the process first."""
    return [pid, *_descendants(pid)]


_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    """What /proc/PID/stat says of a process that this bench reads."""

    cpu_s: float  # user and system (fields 14 and 15)
    started: str  # in clock ticks after boot (field 22): tells a reused pid apart


def proc_stat(pid: int) -> ProcStat:
    """The process's /proc/PID/stat; OSError when it is gone."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return ProcStat((int(fields[11]) + int(fields[12])) / _TICKS_PER_S, fields[19])


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) that a process and its descendants alive now have used,
    from /proc; a process gone since is not counted, so read it around a span in which the
    tree keeps its processes (a server and its workers)."""
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += proc_stat(p).cpu_s
    return total


@dataclass(frozen=True)
class CpuMeter:
    """The CPU seconds used so far by named process trees (a server, Neo4j) and by this
    process, the load-generating client (``client``), read together."""

    pids: Mapping[str, int]

    def __call__(self) -> dict[str, float]:
        used = {name: cpu_s(pid) for name, pid in self.pids.items()}
        mine = os.times()
        used["client"] = mine.user + mine.system
        return used


def rss_kb(pid: int) -> int | None:
    """A process's resident memory now (VmRSS, kB), or None once it has gone."""
    return status_kb(pid).get("VmRSS")


def command_line(pid: int) -> list[str]:
    """A process's arguments (empty once it has gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Child:
    """One long-running child (a server), with its output in a log file."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        ready: Callable[[], bool],
        cwd: Path | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        """Start it and wait until ``ready()`` (or raise with the log's tail)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                list(args), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **env}, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ChildFailed(f"{self.name} exited during start: {self.tail()}")
            if ready():
                return
            time.sleep(0.3)
        self.stop()
        raise ChildFailed(f"{self.name} did not become ready in {timeout_s:.0f}s: {self.tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def memory_kb(self) -> dict[str, int]:
        return memory_kb(self.pid)

    def tail(self, lines: int = 15) -> str:
        if not self.log.exists():
            return ""
        return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-lines:])

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM its process group, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@dataclass
class ProcessMemory:
    """One process's RSS over a sampling: first and last seen, highest, in kB."""

    pid: int
    role: str
    start_kb: int
    end_kb: int
    max_kb: int
    samples: int
    gone: bool = False  # it had ended by the last sample (a worker that died)

    @property
    def growth_kb(self) -> int:
        return self.end_kb - self.start_kb


class MemorySampler:
    """The RSS of a server and its descendants (uvicorn's parent and workers), sampled from
    /proc every ``every_s`` seconds in a thread between start() and stop(); psutil would do
    this too, but it is not a dependency, and /proc says it in a few lines."""

    def __init__(self, pid: int, every_s: float) -> None:
        self.pid = pid
        self.every_s = every_s
        self.series: dict[int, list[int]] = {}  # pid: RSS at each sample it was seen at
        self.totals: list[int] = []  # the whole tree's RSS at each sample
        self.roles: dict[int, str] = {}
        self._last: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> None:
        self.sample()  # the start figure is taken now, not a period later
        self._thread.start()

    def stop(self) -> None:
        """Take the end figure and stop (once: a second call changes nothing)."""
        if self._thread.ident is None or self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        total = 0
        seen = set()
        for p in process_tree(self.pid):
            rss = rss_kb(p)
            if rss is None:
                continue
            seen.add(p)
            total += rss
            self.series.setdefault(p, []).append(rss)
            if p not in self.roles:
                self.roles[p] = self._role(p)
        self.totals.append(total)
        self._last = seen

    def _role(self, pid: int) -> str:
        if pid == self.pid:
            return "parent"
        args = " ".join(command_line(pid))
        if "resource_tracker" in args:
            return "resource tracker"
        if "multiprocessing" in args or "spawn_main" in args:
            return "worker"
        return Path(args.split(" ", 1)[0]).name or "child"

    def processes(self) -> list[ProcessMemory]:
        return [
            ProcessMemory(
                pid, self.roles[pid], rss[0], rss[-1], max(rss), len(rss), pid not in self._last
            )
            for pid, rss in self.series.items()
        ]
