"""The managed Neo4j server: Neo4j 5.26 Community from Maven Central, run as a child process.

The jars are resolved by Maven (``neo4j_server/pom.xml``) into the local Maven cache; the
server's home, configuration, data and logs live under ``$CAREGRAPH_HOME/neo4j``. We launch
``org.neo4j.server.CommunityEntryPoint`` with the JVM flags that Neo4j's own start script
uses, because the Maven artifacts ship no start script.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from caregraph.graph.browser import BrowserSettings
from caregraph.graph.browser import neo4j_config as browser_config
from caregraph.graph.errors import (
    JavaMissingError,
    Neo4jServerError,
    NotEnoughMemoryError,
    PortInUseError,
    StoreLockedError,
)
from caregraph.graph.settings import ManagedNeo4jSettings, Neo4jSettings

POM = Path(__file__).with_name("neo4j_server") / "pom.xml"
ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
log = logging.getLogger(__name__)
USERNAME = "neo4j"
DATABASE = "neo4j"

# The flags of Neo4j 5's own launcher (bin/neo4j), less the ones only it needs.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dlog4j2.disable.jmx=true",
)

# What the JVM that makes the class archive (ManagedNeo4j.make_class_archive) runs before it
# stops, so that the classes these kinds of statement load are in the archive too: caregraph's
# schema statements, batched MERGE writes, subquery reads (the API's), EXPLAIN (its planner)
# and batched deletes. Neo4j's own start loads the rest.
_ARCHIVE_WORKLOAD = (
    "CREATE CONSTRAINT archive_key IF NOT EXISTS FOR (n:ArchiveNode) REQUIRE n.key IS UNIQUE",
    "CREATE INDEX archive_at IF NOT EXISTS FOR (n:ArchiveNode) ON (n.at)",
    "CREATE FULLTEXT INDEX archive_text IF NOT EXISTS FOR (n:ArchiveNode) ON EACH [n.text]",
    "CALL db.awaitIndexes(60)",
    "SHOW CONSTRAINTS YIELD name RETURN count(*) AS n",
    "SHOW INDEXES YIELD name, state RETURN name, state",
    "UNWIND range(1, 50) AS i MERGE (n:ArchiveNode {key: 'k' + i}) "
    "SET n += {at: datetime('2020-01-01T00:00:00Z') + duration({days: i}), text: 'note ' + i} "
    "WITH n, i MERGE (m:ArchiveNode {key: 'k' + (i % 7)}) MERGE (n)-[r:ARCHIVE_LINK]->(m) "
    "ON CREATE SET r.sources = ['a'] ON MATCH SET r.sources = r.sources + 'b'",
    "MATCH (n:ArchiveNode) WHERE n.key STARTS WITH 'k' AND n.at >= datetime('2020-01-10') "
    "RETURN n { .key, links: COLLECT { MATCH (n)-[:ARCHIVE_LINK]->(m) RETURN m.key }, "
    "degree: COUNT { (n)--() }, later: [(n)-->(m) WHERE m.at > n.at | m.key] } AS row "
    "ORDER BY n.at DESC LIMIT 10",
    "MATCH (n:ArchiveNode) CALL (n) { OPTIONAL MATCH (n)<-[:ARCHIVE_LINK]-(o) "
    "RETURN o ORDER BY o.at LIMIT 3 } WITH n, collect(o.key) AS keys "
    "WHERE EXISTS { (n)--() } RETURN n.key, keys, size(keys) SKIP 1 LIMIT 5",
    "CALL db.index.fulltext.queryNodes('archive_text', 'note') YIELD node, score "
    "RETURN node.key, score LIMIT 3",
    "EXPLAIN MATCH (n:ArchiveNode {key: 'k1'}) OPTIONAL MATCH (n)-[r]-(m) "
    "RETURN n, type(r), labels(m), properties(m)",
    "MATCH (n:ArchiveNode) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 20 ROWS",
    "DROP INDEX archive_text IF EXISTS",
    "DROP INDEX archive_at IF EXISTS",
    "DROP CONSTRAINT archive_key IF EXISTS",
)

_ARCHIVE_FAILED: set[Path] = set()

_PORT_IN_USE = (
    "port {port} is already in use ({ports}); stop what holds it or set "
    "CAREGRAPH_NEO4J_BOLT_PORT / CAREGRAPH_NEO4J_HTTP_PORT"
)
# Neo4j's log lines that explain a failed start, most specific first.
_FAILURES: tuple[tuple[re.Pattern[str], type[Neo4jServerError], str], ...] = (
    (
        re.compile(r"Address already in use|BindException|Port .* already in use", re.I),
        PortInUseError,
        _PORT_IN_USE,
    ),
    (
        re.compile(r"StoreLockException|Lock file has been locked|FileLockException", re.I),
        StoreLockedError,
        "the store under {home} is locked by another Neo4j process; stop it first",
    ),
    (
        re.compile(
            r"OutOfMemoryError|Could not reserve enough space|Cannot allocate memory|"
            r"Invalid maximum heap size|insufficient memory",
            re.I,
        ),
        NotEnoughMemoryError,
        "not enough memory for heap {heap} and page cache {pagecache}; lower "
        "CAREGRAPH_NEO4J_HEAP / CAREGRAPH_NEO4J_PAGECACHE",
    ),
    (
        re.compile(r"UnsupportedClassVersionError|requires Java", re.I),
        JavaMissingError,
        "Neo4j 5 needs Java 17 or 21; set CAREGRAPH_NEO4J_JAVA to such a java",
    ),
)


@dataclass(frozen=True)
class Status:
    """What `caregraph neo4j status` reports."""

    running: bool
    pid: int | None
    version: str
    bolt_uri: str
    browser_url: str
    home: Path


def pom_versions(pom: Path = POM) -> dict[str, str]:
    """The version properties of the pom (neo4j.version, apoc.version, ...)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    props = ET.parse(pom).getroot().find("m:properties", ns)  # noqa: S314 - our own file
    if props is None:
        return {}
    return {child.tag.split("}", 1)[1]: (child.text or "").strip() for child in props}


class ManagedNeo4j:
    """One Neo4j server whose files live under ``home``."""

    def __init__(
        self,
        home: Path,
        settings: ManagedNeo4jSettings,
        pom: Path = POM,
        browser: BrowserSettings | None = None,
        read_only: bool = False,
    ) -> None:
        self.home = home.resolve()
        self.settings = settings
        # the default database refuses every write (Neo4j's server.databases.read_only, which
        # Community Edition honours; its ALTER DATABASE ... SET ACCESS is Enterprise only)
        self.read_only = read_only
        self.browser = browser or BrowserSettings()
        self.pom = pom
        self.conf_dir = self.home / "conf"
        self.data_dir = self.home / "data"
        self.logs_dir = self.home / "logs"
        self.plugins_dir = self.home / "plugins"
        self.run_dir = self.home / "run"
        self.tmp_dir = self.home / "tmp"  # the JVM's java.io.tmpdir
        self.pid_file = self.run_dir / "neo4j.pid"
        self.password_file = self.home / "password"
        self.console_log = self.logs_dir / "console.log"
        # set only on the throwaway server that make_class_archive starts: where its JVM
        # writes the archive when it exits
        self._archive_to: Path | None = None
        self._java_found: tuple[str, str] | None = None  # (path, `java -version`'s output)

    # -- addresses -----------------------------------------------------------------------
    @property
    def version(self) -> str:
        return pom_versions(self.pom).get("neo4j.version", "unknown")

    @property
    def bolt_uri(self) -> str:
        return f"bolt://{self.settings.listen_address}:{self.settings.bolt_port}"

    @property
    def browser_url(self) -> str:
        return f"http://{self.settings.listen_address}:{self.settings.http_port}/browser/"

    def connection(self) -> Neo4jSettings:
        """Settings that reach this server with the driver."""
        return Neo4jSettings(
            uri=self.bolt_uri,
            username=USERNAME,
            password=SecretStr(self.password()),
            database=DATABASE,
        )

    # -- fetching --------------------------------------------------------------------------
    def classpath(self) -> list[Path]:
        """The server's jars, resolved by Maven into its local cache once per pom version and
        machine user: the list is kept beside caregraph's other caches, not in the server's
        home, because a Maven run costs a JVM start (seconds of CPU) and every home (the
        server, the analyst graph, each test's) needs the same list."""
        digest = hashlib.sha256(self.pom.read_bytes()).hexdigest()
        cp_file = _cache_dir() / f"neo4j-classpath-{digest[:32]}.txt"
        if not cp_file.exists():
            mvn = shutil.which("mvn")
            if mvn is None:
                raise Neo4jServerError(
                    "Maven (mvn) is not installed; caregraph fetches Neo4j with it"
                )
            cp_file.parent.mkdir(parents=True, exist_ok=True)
            # written under a name of its own, then renamed: another process may resolve too
            partial = cp_file.with_name(f"{cp_file.name}.{os.getpid()}.partial")
            proc = subprocess.run(
                [
                    mvn, "-B", "-q", "-f", str(self.pom), "dependency:build-classpath",
                    f"-Dmdep.outputFile={partial}", "-Dmdep.includeScope=runtime",
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if proc.returncode != 0 or not partial.exists():
                partial.unlink(missing_ok=True)
                tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
                raise Neo4jServerError("Maven could not fetch Neo4j: " + " | ".join(tail))
            partial.replace(cp_file)
        jars = [Path(p) for p in cp_file.read_text().strip().split(os.pathsep) if p]
        missing = [j for j in jars if not j.exists()]
        if missing:  # the Maven cache was cleaned since: resolve again
            cp_file.unlink(missing_ok=True)
            return self.classpath()
        return jars

    def java_command(self) -> list[str]:
        """Java, checked to be 17 or 21, the class archive when there is one, and the JVM
        options the settings add (last, so they win)."""
        archive = self.class_archive()
        shared = [f"-XX:SharedArchiveFile={archive}"] if archive and archive.exists() else []
        return [self._java(), *shared, *shlex.split(self.settings.jvm_options)]

    def class_archive(self) -> Path | None:
        """Where the JVMs of this server map Neo4j's classes from, or None when the setting
        is off: a HotSpot class-data-sharing archive (JEP 350), one per Java and classpath,
        beside the classpath in caregraph's cache. A JVM start loads and verifies some 18,000
        of Neo4j's classes from its jars; mapped from the archive, a start's CPU went from
        21 s to 11-13 s and its wall time from 11 s to 6-7 s (this 2-core machine, quiet).
        Every server start pays that, and the tests start dozens. A Java or classpath that no
        longer matches the archive makes the JVM ignore it and load from the jars."""
        if not self.settings.class_archive:
            return None
        java, version = self._java_and_version()
        jars = "\n".join(str(j) for j in self.classpath())
        key = hashlib.sha256(f"{java}\n{version}\n{jars}".encode()).hexdigest()[:32]
        return _cache_dir() / f"neo4j-classes-{key}.jsa"

    def make_class_archive(self) -> Path | None:
        """The class archive, made first if this machine user has none: a throwaway server in
        a temporary home runs _ARCHIVE_WORKLOAD under -XX:ArchiveClassesAtExit and stops; the
        archive it writes at exit is renamed into place only after a clean exit, so a
        half-written one is never mapped. Once per Java and Neo4j version (about 30 s here).
        Concurrent makers wait on a lock and take the first one's archive. A failure is logged
        and leaves the servers to start without one: the archive only saves time."""
        archive = self.class_archive()
        if archive is None or archive.exists() or archive in _ARCHIVE_FAILED:
            return archive if archive and archive.exists() else None
        archive.parent.mkdir(parents=True, exist_ok=True)
        with archive.with_suffix(".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if archive.exists():
                return archive
            partial = archive.with_name(f"{archive.name}.{os.getpid()}.partial")
            try:
                self._train_class_archive(partial)
                if partial.exists() and partial.stat().st_size > 0:
                    partial.replace(archive)
            except (Neo4jServerError, OSError) as e:
                log.warning("no class archive for Neo4j (servers start without one): %s", e)
                _ARCHIVE_FAILED.add(archive)  # not tried again by this process's next start
            finally:
                partial.unlink(missing_ok=True)
        return archive if archive.exists() else None

    def _train_class_archive(self, partial: Path) -> None:
        from neo4j.exceptions import Neo4jError  # local: the driver is only needed here

        from caregraph.graph.driver import open_driver  # local: it is only needed here

        with tempfile.TemporaryDirectory(prefix="caregraph-classes-") as tmp:
            ports = {"bolt_port": _free_port(), "http_port": _free_port(), "class_archive": False}
            trainer = ManagedNeo4j(
                Path(tmp) / "neo4j", self.settings.model_copy(update=ports), pom=self.pom
            )
            trainer._archive_to = partial
            try:
                trainer.start()
                with (
                    open_driver(trainer.connection()) as driver,
                    driver.session(database=DATABASE) as session,
                ):
                    for statement in _ARCHIVE_WORKLOAD:  # auto-commit: CALL IN TRANSACTIONS
                        session.run(statement).consume()
            except Neo4jError as e:
                raise Neo4jServerError(f"the class archive's workload failed: {e}") from e
            finally:
                pid = trainer.pid()
                if pid is None or not trainer._terminate(pid):
                    partial.unlink(missing_ok=True)  # never ran, or killed: no whole archive

    def _java(self) -> str:
        return self._java_and_version()[0]

    def _java_and_version(self) -> tuple[str, str]:
        if self._java_found is None:
            self._java_found = self._find_java()
        return self._java_found

    def _find_java(self) -> tuple[str, str]:
        java = shutil.which(self.settings.java)
        if java is None:
            raise JavaMissingError(
                f"Java is missing: no '{self.settings.java}' on PATH; install Java 17 "
                "(Debian: openjdk-17-jre-headless) or set CAREGRAPH_NEO4J_JAVA"
            )
        out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
        match = re.search(r'version "(\d+)', out.stderr + out.stdout)
        if match is None or int(match.group(1)) not in (17, 21):
            found = match.group(1) if match else "unknown"
            raise JavaMissingError(
                f"Neo4j 5 needs Java 17 or 21, found Java {found} at {java}; "
                "set CAREGRAPH_NEO4J_JAVA to a Java 17"
            )
        return java, out.stderr + out.stdout

    # -- configuration ---------------------------------------------------------------------
    def password(self) -> str:
        """The neo4j user's password, generated once and kept readable only by its owner."""
        if not self.password_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(_new_password())
        return self.password_file.read_text().strip()

    def _config(self) -> dict[str, str]:
        s = self.settings
        addr = s.listen_address
        return {
            "server.default_listen_address": addr,
            "server.default_advertised_address": addr,
            "server.bolt.listen_address": f"{addr}:{s.bolt_port}",
            "server.bolt.advertised_address": f"{addr}:{s.bolt_port}",
            "server.http.listen_address": f"{addr}:{s.http_port}",
            "server.http.advertised_address": f"{addr}:{s.http_port}",
            "server.http.enabled": "true",
            "server.https.enabled": "false",
            "server.directories.data": str(self.data_dir),
            "server.directories.logs": str(self.logs_dir),
            "server.directories.plugins": str(self.plugins_dir),
            "server.directories.run": str(self.run_dir),
            "server.directories.import": str(self.home / "import"),
            "server.memory.heap.initial_size": s.heap,
            "server.memory.heap.max_size": s.heap,
            "server.memory.pagecache.size": s.pagecache,
            "dbms.memory.transaction.total.max": "0",
            "dbms.security.auth_enabled": "true",
            "dbms.usage_report.enabled": "false",
            "dbms.security.procedures.unrestricted": "apoc.*",
            "db.tx_log.rotation.retention_policy": "1 days",
            # A stop waits 5 s for Bolt's worker threads and 5 s for its connections after the
            # databases have closed their transactions and checkpointed: nothing is left for
            # those waits to protect, and a stop or restart should not take 10 s.
            "internal.server.bolt.thread_pool_shutdown_wait_time": "0s",
            "internal.server.bolt.connection_shutdown_wait_time": "0s",
            **({"server.databases.read_only": DATABASE} if self.read_only else {}),
            **self._browser_config(),
            **s.config,
        }

    def _browser_config(self) -> dict[str, str]:
        """Settings that make Neo4j Browser open with caregraph's style and guide."""
        return browser_config(self.browser)

    def configure(self) -> list[Path]:
        """Write neo4j.conf and the plugins folder; return the classpath to start with."""
        for d in (self.conf_dir, self.data_dir, self.logs_dir, self.plugins_dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        (self.home / "import").mkdir(exist_ok=True)
        jars = self.classpath()
        plugins = [j for j in jars if "/org/neo4j/procedure/apoc" in j.as_posix()]
        for stale in self.plugins_dir.glob("*.jar"):
            stale.unlink()
        for jar in plugins:
            # Neo4j loads procedures only from the plugins folder, and their extensions only
            # from the classpath: the jar goes in both, as bin/neo4j does. On the classpath by
            # its path in Maven's cache, which every home shares: the class archive names the
            # classpath it was made with, and a JVM whose classpath differs does not map it.
            (self.plugins_dir / jar.name).symlink_to(jar)
        conf = "\n".join(f"{k}={v}" for k, v in self._config().items()) + "\n"
        (self.conf_dir / "neo4j.conf").write_text(conf)
        return [j for j in jars if j not in plugins] + plugins

    def _set_initial_password(self, java: list[str], classpath: str) -> None:
        if (self.data_dir / "databases" / "system").exists():
            return  # the password was set on the first start and lives in the system database
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.conf_dir)}
        proc = subprocess.run(
            [*java, "-cp", classpath, ADMIN_TOOL, "dbms", "set-initial-password", self.password()],
            capture_output=True, text=True, env=env, cwd=self.home, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise Neo4jServerError(
                "could not set the initial password: " + (proc.stderr or proc.stdout)[-300:]
            )

    # -- process ---------------------------------------------------------------------------
    def pid(self) -> int | None:
        """The pid of this home's running server, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return None
        if ENTRY_POINT in cmdline and str(self.home) in cmdline:
            return pid
        return None

    def status(self) -> Status:
        pid = self.pid()
        return Status(
            running=pid is not None and self._bolt_open(),
            pid=pid,
            version=self.version,
            bolt_uri=self.bolt_uri,
            browser_url=self.browser_url,
            home=self.home,
        )

    def _bolt_open(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(
                (self.settings.listen_address, self.settings.bolt_port), timeout=1
            ),
        ):
            return True
        return False

    def start(self) -> Status:
        """Start the server unless it runs already; return once Bolt accepts a login."""
        if self.pid() is not None:
            self._wait_ready(self.pid())
            return self.status()
        self.make_class_archive()
        java = self.java_command()
        self._check_ports_free()
        classpath = os.pathsep.join(str(p) for p in self.configure())
        from caregraph.graph.bulk_import import settle  # local: it builds on this module

        said = settle(self)  # an initial import cut short: its store swap finished or undone
        if said:
            log.warning("%s", said)
        self._set_initial_password(java, classpath)
        log_offset = self._log_size()
        console_offset = self.console_log.stat().st_size if self.console_log.exists() else 0
        heap = self.settings.heap
        dump = [f"-XX:ArchiveClassesAtExit={self._archive_to}"] if self._archive_to else []
        # the JVM's temporary files (the browser's web server unpacks into a directory per
        # start, which a killed server leaves behind) in the server's home, not the system's
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = f"-Djava.io.tmpdir={self.tmp_dir}"
        args = [
            java[0], f"-Xms{heap}", f"-Xmx{heap}", *JVM_FLAGS, tmp, *java[1:], *dump,
            "-cp", classpath,
            ENTRY_POINT,
            f"--home-dir={self.home}", f"--config-dir={self.conf_dir}",
        ]  # fmt: skip
        with self.console_log.open("ab") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.home, start_new_session=True,
            )  # fmt: skip
        self.pid_file.write_text(str(proc.pid))
        try:
            self._wait_ready(proc.pid, proc=proc, log_offset=log_offset)
        except Neo4jServerError:
            self._terminate(proc.pid)
            self.pid_file.unlink(missing_ok=True)
            raise
        self._drop_unusable_archive(console_offset)
        return self.status()

    def _drop_unusable_archive(self, console_offset: int) -> None:
        """Remove the class archive when the JVM just started said it could not use it (its
        jars were fetched again since, or Java was updated in place): the next start makes a
        new one instead of every start loading from the jars."""
        archive = self.class_archive()
        if archive is None or not archive.exists() or not self.console_log.exists():
            return
        with self.console_log.open("rb") as fh:
            fh.seek(console_offset)
            said = fh.read()
        if b"Unable to use shared archive" in said and str(archive).encode() in said:
            log.warning("the class archive %s no longer matches Java or the jars: removed", archive)
            archive.unlink(missing_ok=True)

    def _check_ports_free(self) -> None:
        """Raise PortInUseError at once when another process listens on Bolt's or HTTP's port,
        instead of learning it from Neo4j's log after a JVM start (seconds on a small host).
        A port taken between this check and Neo4j's bind is still caught from the log."""
        s = self.settings
        for port in (s.bolt_port, s.http_port):
            with socket.socket() as probe:
                # as the JVM binds: SO_REUSEADDR, so a port only in TIME_WAIT counts as free
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((s.listen_address, port))
                except OSError as e:
                    message = _PORT_IN_USE.format(
                        port=port, ports=f"Bolt {s.bolt_port}, HTTP {s.http_port}"
                    )
                    raise PortInUseError(message) from e

    def _log_size(self) -> int:
        log = self.logs_dir / "neo4j.log"
        return log.stat().st_size if log.exists() else 0

    def _wait_ready(
        self, pid: int | None, proc: subprocess.Popen[bytes] | None = None, log_offset: int = 0
    ) -> None:
        from caregraph.graph.driver import (
            answers,  # local: the driver is only needed once a server runs
        )

        deadline = time.monotonic() + self.settings.start_timeout
        conn = self.connection()
        while time.monotonic() < deadline:
            exited = proc.poll() is not None if proc else (pid is None or not _alive(pid))
            if exited or self._failed_in_log(log_offset):
                raise self._failure(log_offset)
            if self._bolt_open() and answers(conn):
                return
            time.sleep(0.5)
        raise Neo4jServerError(
            f"Neo4j did not answer on {self.bolt_uri} within {self.settings.start_timeout:.0f}s",
            log=str(self.logs_dir / "neo4j.log"),
        )

    def _failed_in_log(self, log_offset: int) -> bool:
        """True once Neo4j has logged that it failed to start (it may linger before exiting)."""
        log = self.logs_dir / "neo4j.log"
        if not log.exists() or log.stat().st_size <= log_offset:
            return False
        with log.open("rb") as fh:
            fh.seek(log_offset)
            return b"ERROR Failed to start Neo4j" in fh.read()

    def _failure(self, log_offset: int) -> Neo4jServerError:
        text = ""
        log = self.logs_dir / "neo4j.log"
        if log.exists():
            with log.open("rb") as fh:
                fh.seek(log_offset)
                text = fh.read().decode(errors="replace")
        if self.console_log.exists():
            text += self.console_log.read_text(errors="replace")[-20000:]
        s = self.settings
        bind = re.search(r"bind to the socket /?[\w.\-]*:(\d+)", text)
        for pattern, kind, message in _FAILURES:
            if pattern.search(text):
                return kind(
                    message.format(
                        port=bind.group(1) if bind else "of Bolt or HTTP",
                        ports=f"Bolt {s.bolt_port}, HTTP {s.http_port}",
                        home=self.home,
                        heap=s.heap,
                        pagecache=s.pagecache,
                    ),
                    log=str(log),
                )
        errors = [ln for ln in text.splitlines() if " ERROR " in ln]
        reason = errors[-1].split(" ERROR ", 1)[1] if errors else "Neo4j exited during start"
        return Neo4jServerError(reason, log=str(log))

    def stop(self, timeout: float = 60.0) -> bool:
        """Stop the server with SIGTERM and wait for it; False if it was not running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._terminate(pid, timeout)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _terminate(self, pid: int, timeout: float = 60.0) -> bool:
        """SIGTERM, then SIGKILL after ``timeout``; True when the clean shutdown finished."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if not _alive(pid):
            return True
        with contextlib.suppress(ProcessLookupError):  # a clean shutdown did not finish in time
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)
        return False


def _cache_dir() -> Path:
    """caregraph's cache of things fetched or resolved once per machine user (XDG's)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "caregraph"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _new_password() -> str:
    """A random password that neo4j-admin will not mistake for an option (no leading '-')."""
    while True:
        password = secrets.token_urlsafe(24)
        if not password.startswith("-"):
            return password


def _alive(pid: int) -> bool:
    # Reap our own child if it has exited, so it does not linger as a zombie.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
