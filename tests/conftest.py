"""Test fixtures: a real Neo4j for the whole session, and a clean graph for each test.

The session starts its own managed Neo4j (Maven-fetched, on free ports, under a temporary
state directory) unless NEO4J_URI names a server to use instead. Nothing here fakes Neo4j.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from neo4j import Driver
from starlette.types import ASGIApp

from caregraph.graph import integrity
from caregraph.graph.analyst_server import AnalystNeo4j
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import ManagedNeo4jSettings, Neo4jSettings

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "samples"

# what the tests' own processes keep in a state directory (the audit's anchor file and key)
# goes to a temporary one, never into the checkout, one per test process (pytest-xdist's
# workers inherit the environment, and each has a Neo4j of its own); a test that needs its own
# sets its own
# that directory holds an audit key: it goes when the process ends, not left in /tmp run after run
os.environ["CAREGRAPH_HOME"] = tempfile.mkdtemp(prefix="caregraph-tests-home-")
atexit.register(shutil.rmtree, os.environ["CAREGRAPH_HOME"], ignore_errors=True)
# the API's bound on a whole request (10 s by default) is a limit that its own tests set
# (tests/api/test_limits.py); elsewhere it only turns a slow moment of a busy 2-core machine
# running the suite in two processes into a refusal that is not what those tests check
os.environ.setdefault("CAREGRAPH_API_QUERY_TIMEOUT_S", "60")


CHECKOUT_STATE = Path(__file__).resolve().parents[1] / ".caregraph"


def _state_files() -> dict[str, int]:
    if not CHECKOUT_STATE.is_dir():
        return {}
    return {
        str(p): p.stat().st_mtime_ns
        for p in CHECKOUT_STATE.rglob("*")
        if p.is_file() and "neo4j" not in p.relative_to(CHECKOUT_STATE).parts
    }


@pytest.fixture(scope="session", autouse=True)
def checkout_state_untouched() -> Iterator[None]:
    """The tests never write the user's own state (./.caregraph: keys, audit anchors,
    rejects); a test that did would make `caregraph audit verify` report a broken chain."""
    before = _state_files()
    yield
    changed = sorted(p for p, t in _state_files().items() if before.get(p) != t)
    assert changed == [], f"the tests wrote the checkout's state directory: {changed}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Resolve Neo4j's jars with Maven once, before pytest-xdist's workers start their servers
    (two Maven runs filling one empty local repository at the same time can corrupt it), and
    make the class archive that every server start of the session then maps (once per
    machine; see ManagedNeo4j.class_archive)."""
    if hasattr(session.config, "workerinput") or Neo4jSettings().external:
        return  # a worker: the controller has resolved them; or no managed server is used
    with tempfile.TemporaryDirectory(prefix="caregraph-tests-jars-") as home:
        server = ManagedNeo4j(Path(home), managed_settings())
        server.classpath()
        server.make_class_archive()


# pytest-xdist (`make test`): the test files that take longest, on any worker, handed out
# first, so that the last minutes do not leave one worker running a long file while the
# other waits (xdist hands out files in collection order here: --no-loadscope-reorder); they
# restart, kill or import into Neo4j servers, or build an analyst graph. The rest follow,
# largest first.
SCHEDULED_FIRST = (
    "tests/loaders/test_initial.py",
    "tests/browser",
    "tests/loaders/test_faults.py",
    "tests/api/test_audit.py",
    "tests/api/test_faults.py",
    "tests/graph/test_analyst.py",
    "tests/loaders/test_pipeline.py",
    "tests/loaders/test_fhir.py",
    "tests/api/test_fuzz.py",
    "tests/api/test_roles.py",
    "tests/bench/test_soak.py",
    "tests/api/cli/test_load.py",
    "tests/graph/test_stewardship.py",
)


def work_unit(nodeid: str) -> str:
    """The tests one worker runs together: a test file's (its module fixtures, such as a loaded
    dataset, are built once), and all of tests/browser/'s (one Neo4j, API and Chromium for
    all: its fixtures are the package's)."""
    path = nodeid.split("::", 1)[0]
    return "tests/browser" if path.startswith("tests/browser/") else path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the tests by work unit: the SCHEDULED_FIRST ones first, then the others, those
    with most tests first; within a unit, as collected."""
    sizes = Counter(work_unit(item.nodeid) for item in items)

    def rank(unit: str) -> tuple[int, int]:
        first = SCHEDULED_FIRST.index(unit) if unit in SCHEDULED_FIRST else len(SCHEDULED_FIRST)
        return (first, -sizes[unit])

    order = {unit: n for n, unit in enumerate(sorted(sizes, key=lambda u: (*rank(u), u)))}
    items.sort(key=lambda item: order[work_unit(item.nodeid)])  # stable: within a unit as is


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile, with tests/browser/ as one unit (see work_unit)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # local: only a controller under xdist

    class TestFileScheduling(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return TestFileScheduling(config, log)


def neo4j_env(conn: Neo4jSettings) -> dict[str, str]:
    """The environment that points a caregraph command or process at ``conn``."""
    return {
        "NEO4J_URI": conn.uri or "",
        "NEO4J_USERNAME": conn.username,
        "NEO4J_PASSWORD": conn.password.get_secret_value() if conn.password else "",
        "NEO4J_DATABASE": conn.database,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(app: ASGIApp, port: int | None = None, start_timeout_s: float = 30.0) -> Iterator[str]:
    """``app`` on uvicorn in a thread, on ``port`` (else a free one), until the block ends; its
    base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), (
                f"the API on {port} did not start"
            )
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# A test server lives minutes, and most of its CPU goes to compiling: Cypher planning query
# texts (hypothesis makes many) and HotSpot compiling Neo4j's planner (a Flight Recorder
# profile of the whole suite: HotSpot's compilers 822 s of Neo4j's 1,484 s of CPU; planning
# 81% of the samples of Neo4j's own threads; see docs/testing.md). Measured on three
# query-heavy files (2 cores, whole machine's CPU): 365 s with Neo4j's defaults, 321 s with
# both of these. The planner keeps its plans while the small test graphs are wiped and
# reloaded (a plan for a few hundred nodes is as good as another), and C2 compiles only code
# that runs twelve times as often as by default (C1's code runs the rest): on four files,
# Neo4j's CPU 272 s with four times, 247 s with twelve (239 s with forty, but 6% longer).
TEST_SERVER_CONFIG = {
    "dbms.cypher.statistics_divergence_threshold": "1.0",
    "dbms.cypher.min_replan_interval": "1h",
}
TEST_SERVER_JVM_OPTIONS = (
    "-XX:Tier4InvocationThreshold=60000 -XX:Tier4MinInvocationThreshold=9000 "
    "-XX:Tier4CompileThreshold=90000 -XX:Tier4BackEdgeThreshold=480000"
)
# A server that a test restarts or kills, or that lives for one test file (the spare server,
# the analyst graphs, the browser's stack), is a new JVM every few tens of seconds: C2's
# optimised code rarely pays back its compiling there, so C1 compiles all. Measured (the
# Neo4j JVMs' CPU; one pytest process): the loader and CLI load fault files 150 s to 118 s,
# the initial-import file 178 s to 159 s. The session servers keep C2 (C1 alone plans their
# thousands of statements slower: 370 s against 317 s on four query-heavy files).
SHORT_LIVED_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


def managed_settings(short_lived: bool = False, **overrides: object) -> ManagedNeo4jSettings:
    """Settings for a test server on free ports, sized small, tuned for a short life (the
    environment's CAREGRAPH_NEO4J_CONFIG and _JVM_OPTIONS still win). ``short_lived``: a
    server restarted, killed or made for one file (C1 only: SHORT_LIVED_JVM_OPTIONS)."""
    env = ManagedNeo4jSettings()
    jit = SHORT_LIVED_JVM_OPTIONS if short_lived else TEST_SERVER_JVM_OPTIONS
    values: dict[str, object] = {
        "bolt_port": free_port(),
        "http_port": free_port(),
        "heap": "512m",
        "pagecache": "128m",
        "config": {**TEST_SERVER_CONFIG, **env.config},
        "jvm_options": f"{jit} {env.jvm_options}".strip(),
    }
    values.update(overrides)
    return ManagedNeo4jSettings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def managed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedNeo4j | None]:
    """The session's managed Neo4j, or None when NEO4J_URI names an external one."""
    if Neo4jSettings().external:
        yield None
        return
    server = ManagedNeo4j(tmp_path_factory.mktemp("caregraph") / "neo4j", managed_settings())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def neo4j_conn(managed_server: ManagedNeo4j | None) -> Neo4jSettings:
    """Connection settings of the session's Neo4j."""
    return managed_server.connection() if managed_server else Neo4jSettings()


@pytest.fixture(scope="session")
def driver(neo4j_conn: Neo4jSettings) -> Iterator[Driver]:
    drv = open_driver(neo4j_conn)
    try:
        yield drv
    finally:
        drv.close()


@pytest.fixture
def database(neo4j_conn: Neo4jSettings) -> str:
    return neo4j_conn.database


@pytest.fixture
def clean_graph(driver: Driver, database: str) -> Driver:
    """The session's driver, on an empty graph (schema kept)."""
    integrity.wipe(driver, database)
    return driver


@pytest.fixture(scope="session")
def spare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedNeo4j]:
    """A second managed Neo4j for the tests that stop or kill one (the session's stays up),
    started once for all of them: a start costs 15-30 s on a 2-core machine."""
    if Neo4jSettings().external:
        pytest.skip("Neo4j is external (NEO4J_URI): no managed server to stop or kill")
    server = ManagedNeo4j(
        tmp_path_factory.mktemp("spare") / "neo4j", managed_settings(short_lived=True)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def analyst_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystNeo4j]:
    """The analyst graph's managed Neo4j (read-only; a refresh opens it writable on private
    ports), on free ports: made only when an analyst graph test asks for it."""
    if Neo4jSettings().external:
        pytest.skip("Neo4j is external (NEO4J_URI): the managed analyst graph is not tested")
    server = AnalystNeo4j(
        tmp_path_factory.mktemp("analyst") / "neo4j", managed_settings(short_lived=True)
    )
    try:
        yield server
    finally:
        server.stop()


def fresh(server: ManagedNeo4j) -> ManagedNeo4j:
    """The spare server running (a test before may have left it stopped or killed) and empty."""
    server.start()  # no-op when it runs; after a kill, Neo4j recovers its store first
    conn = server.connection()
    with open_driver(conn) as drv:
        integrity.wipe(drv, conn.database)
    return server


@pytest.fixture
def private_server(spare_server: ManagedNeo4j) -> ManagedNeo4j:
    """A Neo4j this test may stop or kill without touching the session's: the spare, empty."""
    return fresh(spare_server)


def kill(server: ManagedNeo4j) -> None:
    """SIGKILL the server's JVM: no shutdown, no flush, what a power cut or the OOM killer
    does."""
    pid = server.pid()
    assert pid is not None, "Neo4j is not running"
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # our child: reap it, so no zombie lingers
        os.waitpid(pid, 0)


@pytest.fixture
def samples() -> Path:
    """../shared/samples, or a skip that says it is absent."""
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES}); a fresh clone has none")
    return SAMPLES


Figures = Callable[..., None]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """Record what a reliability test tried and survived (inputs, faults, requests, errors),
    as one JSON line per call into $CAREGRAPH_RELIABILITY_FIGURES when it is set:
    ``make reliability`` (bench/reliability.py) sets it and writes docs/reliability.md from
    the lines. Without it (``make test``) nothing is written; the assertions are the test."""
    target = os.environ.get("CAREGRAPH_RELIABILITY_FIGURES")

    def record(suite: str, **values: object) -> None:
        if not target:
            return
        line = {"suite": suite, "test": request.node.nodeid, **values}
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, sort_keys=True, default=str) + "\n")

    return record
