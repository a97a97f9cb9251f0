"""The managed Neo4j: start, status, env, stop, restart with data kept, a taken port."""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph.driver import open_driver
from caregraph.graph.errors import Neo4jServerError, PortInUseError
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import ManagedNeo4jSettings, Neo4jSettings
from tests.conftest import TEST_SERVER_CONFIG, managed_settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("NEO4J_URI")), reason="NEO4J_URI is set: the managed server is not used"
)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for `caregraph neo4j ...` on a state directory of its own."""
    home = tmp_path_factory.mktemp("cli-home")
    settings = managed_settings(short_lived=True)
    env = {
        "CAREGRAPH_HOME": str(home),
        "CAREGRAPH_NEO4J_BOLT_PORT": str(settings.bolt_port),
        "CAREGRAPH_NEO4J_HTTP_PORT": str(settings.http_port),
        "CAREGRAPH_NEO4J_HEAP": "512m",
        "CAREGRAPH_NEO4J_PAGECACHE": "64m",
        "CAREGRAPH_NEO4J_JVM_OPTIONS": settings.jvm_options,
        "CAREGRAPH_NEO4J_CONFIG": '{"server.memory.query_cache.per_db_cache_num_entries": "777"}',
    }
    yield env
    CliRunner().invoke(app, ["neo4j", "stop"], env=env)


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_start_status_env_stop_and_restart_keeps_data(cli_env: dict[str, str]) -> None:
    code, out = run(cli_env, "neo4j", "status")
    assert code == 3 and "not running" in out

    code, out = run(cli_env, "neo4j", "start")
    assert code == 0, out
    bolt = f"bolt://127.0.0.1:{cli_env['CAREGRAPH_NEO4J_BOLT_PORT']}"
    assert bolt in out
    assert f"http://127.0.0.1:{cli_env['CAREGRAPH_NEO4J_HTTP_PORT']}/browser/" in out

    code, again = run(cli_env, "neo4j", "start")  # idempotent: finds it running
    assert code == 0 and "running (pid" in again

    code, out = run(cli_env, "neo4j", "status")
    assert code == 0 and "running (pid" in out and "5.26." in out

    # its temporary files (the browser's web server unpacks into a directory per start) are
    # in its home, not the system's, where every killed server would leave one behind
    tmp = Path(cli_env["CAREGRAPH_HOME"]) / "neo4j" / "tmp"
    assert [p for p in tmp.iterdir() if p.name.startswith("jetty-")], list(tmp.iterdir())

    password_file = Path(cli_env["CAREGRAPH_HOME"]) / "neo4j" / "password"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert password_file.read_text().strip() not in {"neo4j", ""}

    # eval "$(caregraph neo4j env)" then a query through the official driver
    code, exports = run(cli_env, "neo4j", "env")
    assert code == 0 and f"export NEO4J_URI={bolt}" in exports
    script = (
        f'eval "$({sys.executable} -m caregraph.api.cli.main neo4j env)"; '
        f'{sys.executable} -c "import os, neo4j; '
        "d = neo4j.GraphDatabase.driver(os.environ['NEO4J_URI'], "
        "auth=(os.environ['NEO4J_USERNAME'], os.environ['NEO4J_PASSWORD'])); "
        "print(d.execute_query('CREATE (n:Probe {name: \\'kept\\'}) RETURN n.name AS x', "
        "database_=os.environ['NEO4J_DATABASE']).records[0]['x'])\""
    )
    done = subprocess.run(
        ["bash", "-c", script],
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "kept", done.stderr

    code, out = run(cli_env, "neo4j", "stop")
    assert code == 0 and "stopped" in out
    code, out = run(cli_env, "neo4j", "status")
    assert code == 3

    code, out = run(cli_env, "neo4j", "start")
    assert code == 0, out
    server = ManagedNeo4j(
        Path(cli_env["CAREGRAPH_HOME"]) / "neo4j",
        ManagedNeo4jSettings(
            bolt_port=int(cli_env["CAREGRAPH_NEO4J_BOLT_PORT"]),
            http_port=int(cli_env["CAREGRAPH_NEO4J_HTTP_PORT"]),
        ),
    )
    with open_driver(server.connection()) as drv:
        records, _, _ = drv.execute_query("MATCH (n:Probe) RETURN n.name AS x", database_="neo4j")
        assert [r["x"] for r in records] == ["kept"]
        # the operator's extra neo4j.conf setting (CAREGRAPH_NEO4J_CONFIG) is in force
        settings, _, _ = drv.execute_query(
            "SHOW SETTINGS YIELD name, value "
            "WHERE name = 'server.memory.query_cache.per_db_cache_num_entries' RETURN value",
            database_="neo4j",
        )
    assert [r["value"] for r in settings] == ["777"]


def test_default_credentials_are_refused(neo4j_conn: Neo4jSettings) -> None:
    default = Neo4jSettings(uri=neo4j_conn.uri, password=SecretStr("neo4j"))
    with (
        open_driver(default) as drv,
        pytest.raises(Exception, match=r"(?i)unauthorized|authentication"),
    ):
        drv.verify_connectivity()


def test_taken_bolt_port_fails_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = ManagedNeo4j(tmp_path / "neo4j", managed_settings(bolt_port=port))
        with pytest.raises(PortInUseError, match=f"port {port} is already in use"):
            server.start()
    assert server.pid() is None


def test_browser_is_served(managed_server: ManagedNeo4j) -> None:
    import httpx

    port = managed_server.settings.http_port
    response = httpx.get(f"http://127.0.0.1:{port}/browser/", timeout=10)
    assert response.status_code == 200
    assert "<title>Neo4j Browser</title>" in response.text


def test_the_settings_jvm_options_come_after_java_and_the_class_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = "-XX:+UseG1GC -Dcaregraph.note='two words'"
    server = ManagedNeo4j(tmp_path / "neo4j", managed_settings(jvm_options=options))
    archive = tmp_path / "cache" / "classes.jsa"
    archive.parent.mkdir()
    archive.write_bytes(b"made")
    monkeypatch.setattr(server, "class_archive", lambda: archive)
    java, *rest = server.java_command()
    assert Path(java).name == "java"
    assert rest == [
        f"-XX:SharedArchiveFile={archive}",
        "-XX:+UseG1GC",
        "-Dcaregraph.note=two words",
    ]
    archive.unlink()  # none made (yet): the JVM loads from the jars
    assert server.java_command()[1:] == ["-XX:+UseG1GC", "-Dcaregraph.note=two words"]
    off = ManagedNeo4j(tmp_path / "off", managed_settings(class_archive=False))
    assert off.class_archive() is None
    assert off.make_class_archive() is None


def test_the_server_maps_neo4js_classes_from_the_class_archive(
    managed_server: ManagedNeo4j | None,
) -> None:
    """The session's server was started with the archive the session made first, and its JVM
    mapped it: a JVM whose classpath or Java does not match the archive's ignores it silently
    (as one did when each home put APOC on its classpath by its own path)."""
    if managed_server is None:
        pytest.skip("Neo4j is external (NEO4J_URI)")
    archive = managed_server.class_archive()
    assert archive is not None and archive.exists()
    pid = managed_server.pid()
    assert f"-XX:SharedArchiveFile={archive}" in Path(f"/proc/{pid}/cmdline").read_text()
    assert str(archive) in Path(f"/proc/{pid}/maps").read_text()
    said = managed_server.console_log.read_text(errors="replace")
    assert "Unable to use shared archive" not in said


def test_an_archive_the_jvm_could_not_use_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = ManagedNeo4j(tmp_path / "neo4j", managed_settings())
    archive = tmp_path / "classes.jsa"
    monkeypatch.setattr(server, "class_archive", lambda: archive)
    server.logs_dir.mkdir(parents=True)
    before = "[0.1s][warning][cds,dynamic] Unable to use shared archive. The top archive " \
        f"failed to load: {archive}\n"  # fmt: skip
    server.console_log.write_text(before + "Starting...\n")
    archive.write_bytes(b"made")
    server._drop_unusable_archive(len(before))  # an earlier start's line: kept
    assert archive.exists()
    server._drop_unusable_archive(0)
    assert not archive.exists()


def test_a_new_home_reuses_the_resolved_jars_without_maven(
    managed_server: ManagedNeo4j, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = managed_server.classpath()
    monkeypatch.setattr("caregraph.graph.server.shutil.which", lambda _name: None)
    assert ManagedNeo4j(tmp_path / "neo4j", managed_settings()).classpath() == resolved
    # a list whose jars are gone (Maven's cache cleaned since) is resolved again: here with no
    # Maven to run, which the error says
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    digest = hashlib.sha256(managed_server.pom.read_bytes()).hexdigest()
    stale = tmp_path / "cache" / "caregraph" / f"neo4j-classpath-{digest[:32]}.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text(str(tmp_path / "gone.jar"))
    with pytest.raises(Neo4jServerError, match=r"Maven \(mvn\) is not installed"):
        ManagedNeo4j(tmp_path / "other", managed_settings()).classpath()
    assert not stale.exists()


def test_the_settings_neo4j_config_is_written_last_so_it_wins(tmp_path: Path) -> None:
    extra = {
        "server.memory.query_cache.per_db_cache_num_entries": "5000",
        "db.tx_log.rotation.retention_policy": "2 days",
    }
    server = ManagedNeo4j(tmp_path / "neo4j", managed_settings(config=extra))
    server.configure()
    lines = (server.conf_dir / "neo4j.conf").read_text().splitlines()
    assert "server.memory.query_cache.per_db_cache_num_entries=5000" in lines
    # caregraph's own value of a setting it also names is replaced, not repeated
    retention = [x for x in lines if x.startswith("db.tx_log.rotation.retention_policy=")]
    assert retention == ["db.tx_log.rotation.retention_policy=2 days"]


def test_the_test_servers_run_with_their_settings(managed_server: ManagedNeo4j) -> None:
    """What tests/conftest.py tunes a test server with is in force (Neo4j reads a deprecated
    setting's name without error and without effect)."""
    with open_driver(managed_server.connection()) as drv:
        records, _, _ = drv.execute_query(
            "SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN name, value",
            names=list(TEST_SERVER_CONFIG),
            database_="neo4j",
        )
    assert {r["name"]: r["value"] for r in records} == TEST_SERVER_CONFIG
