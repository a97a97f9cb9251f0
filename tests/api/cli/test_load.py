"""`caregraph load --initial`: what it refuses before touching any server, and an import."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph.driver import open_driver
from caregraph.graph.server import DATABASE, ManagedNeo4j
from caregraph.loaders.generator import generate


def test_initial_refuses_an_external_server(tmp_path: Path) -> None:
    data = tmp_path / "ehr"
    data.mkdir()
    env = {"NEO4J_URI": "bolt://127.0.0.1:1", "NEO4J_PASSWORD": "not-used-here"}
    result = CliRunner().invoke(app, ["load", "--initial", str(data)], env=env)
    assert result.exit_code == 2
    assert "NEO4J_URI is set" in result.output
    assert "neo4j-admin" in result.output and "without --initial" in result.output


def test_per_path_goes_with_initial(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["load", "--per-path", str(tmp_path)])
    assert result.exit_code == 2
    assert "--per-path goes with --initial" in result.output


def test_initial_imports_each_path_as_its_own_source(
    private_server: ManagedNeo4j, tmp_path: Path
) -> None:
    manifest = generate(tmp_path / "data", 3, seed=2, formats=("fhir", "hl7v2"))
    paths = [str(tmp_path / "data" / p) for ps in manifest["sources"].values() for p in ps]
    s = private_server.settings
    env = {  # the CLI's managed server is the test's: same home, ports and sizes
        "CAREGRAPH_HOME": str(private_server.home.parent),
        "CAREGRAPH_NEO4J_BOLT_PORT": str(s.bolt_port),
        "CAREGRAPH_NEO4J_HTTP_PORT": str(s.http_port),
        "CAREGRAPH_NEO4J_HEAP": s.heap,
        "CAREGRAPH_NEO4J_PAGECACHE": s.pagecache,
    }
    result = CliRunner().invoke(app, ["load", "--initial", "--per-path", *paths], env=env)
    assert result.exit_code == 0, result.output
    assert "initial import:" in result.output
    with open_driver(private_server.connection()) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (r:LoadRun) RETURN r.sourceSystem AS s ORDER BY r.startedAt",
            database_=DATABASE,
        )
        patients, _, _ = driver.execute_query(
            "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p) AS n", database_=DATABASE
        )
    assert [r["s"] for r in records] == [Path(p).stem for p in paths]  # a file: its stem
    assert patients[0]["n"] >= 3
