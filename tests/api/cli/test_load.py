"""`caregraph load --initial`: what it refuses before touching any server."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from caregraph.api.cli.main import app


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
