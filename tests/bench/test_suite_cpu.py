"""``python -m bench.suite_cpu``: the CPU of a command's processes, by kind."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench import suite_cpu
from tests.conftest import SHORT_LIVED_JVM_OPTIONS, TEST_SERVER_JVM_OPTIONS

XDIST_WORKER = "import sys;exec(eval(sys.stdin.readline()))"  # execnet's bootstrap
NEO4J = ["-cp", "/cache/lib/*", "org.neo4j.server.CommunityEntryPoint", "--home-dir=/h"]


def test_each_process_the_suite_starts_is_put_in_its_kind() -> None:
    java = ["/usr/bin/java", "-Xms512m", "-XX:+UseG1GC"]
    cases = {
        suite_cpu.SESSION_NEO4J: [*java, *shlex.split(TEST_SERVER_JVM_OPTIONS), *NEO4J],
        suite_cpu.SHORT_LIVED_NEO4J: [*java, *shlex.split(SHORT_LIVED_JVM_OPTIONS), *NEO4J],
        suite_cpu.OTHER_JVM: [*java, "org.neo4j.cli.AdminTool", "database", "import"],
        suite_cpu.PYTEST_WORKER: [
            "python",
            "-u",
            "-c",
            "import sys;exec(eval(sys.stdin.readline()))",
        ],
        suite_cpu.PYTEST_MAIN: [".venv/bin/python", "-m", "pytest", "-n", "2"],
        suite_cpu.CAREGRAPH_CHILD: ["/v/bin/python3.11", "/v/bin/caregraph", "serve"],
        suite_cpu.PYTHON_CHILD: ["python3.11", "-B", "-c", "from multiprocessing.spawn import x"],
        suite_cpu.BROWSER: ["/ms-playwright/chromium-1/chrome-linux/chrome", "--headless"],
        suite_cpu.OTHER: ["make", "test"],
    }
    assert {kind: suite_cpu.classify(argv) for kind, argv in cases.items()} == {
        kind: kind for kind in cases
    }


BUSY = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"


def test_a_commands_processes_and_its_childrens_cpu_are_counted(tmp_path: Path) -> None:
    script = tmp_path / "busy.py"
    script.write_text(
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {BUSY.format(s=1.2)!r}])\n"
        + BUSY.format(s=0.8)
        + "sys.exit(3)\n"
    )
    result = suite_cpu.run([sys.executable, str(script)])
    assert result.exit_code == 3
    python = result.by_kind[suite_cpu.PYTHON_CHILD]
    assert python["processes"] == 2
    # each process loses at most the half second after its last sample
    assert 2.0 - 2 * suite_cpu.SAMPLE_S <= python["cpu_s"] <= 2.5
    assert result.seconds >= 2.0
    assert result.as_json()["exit_code"] == 3


def test_a_process_keeps_its_kind_and_cpu_once_it_has_ended_and_waits_to_be_reaped() -> None:
    """A server a test stops or kills shows no command line between its end and its reaping:
    it is still counted as what it was."""
    child = subprocess.Popen([sys.executable, "-c", BUSY.format(s=0.6)])
    try:
        tally = suite_cpu.Tally()
        deadline = time.monotonic() + 30
        while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not end"
            tally.sample(os.getpid())  # as the sampler does while the command runs
            time.sleep(0.05)
        assert Path(f"/proc/{child.pid}/cmdline").read_bytes() == b""  # what the tally sees
        tally.sample(os.getpid())
    finally:
        child.wait()
    [(kind, cpu)] = [v for (pid, _), v in tally.seen.items() if pid == child.pid]
    assert kind == suite_cpu.PYTHON_CHILD
    assert cpu >= 0.5
