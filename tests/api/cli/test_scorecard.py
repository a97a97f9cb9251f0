"""`caregraph scorecard`: the table, JSON and HTML of the measures, and `--check` as a gate.

A small Riverside Health is loaded in three runs: the EHR with one patient, billing, then the
EHR's other patients, which links the claims that were waiting. Each format must show the
measures as graph/scorecard.py counts them and the change with the run that made it; the
check must pass or fail on the thresholds file as a feed's gate would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph import scorecard
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.loaders.report import LoadReport
from tests.conftest import neo4j_env


@pytest.fixture(scope="module")
def runs(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> list[LoadReport]:
    from caregraph.graph import integrity

    database = neo4j_conn.database
    integrity.wipe(driver, database)
    data = tmp_path_factory.mktemp("riverside")
    manifest = generate(data, 3, seed=0, layout="files")
    identity = IdentityConfig.from_file(data / "identity.toml")
    bundles = sorted((data / "fhir").glob("patients-*/patient-*.json"))
    first = [b for b in bundles if b.name == "patient-000000.json"]
    out = []
    for source, paths in (
        ("ehr", [data / "fhir" / "directory.json", *first]),
        ("billing", [data / p for p in manifest["sources"]["billing"]]),
        ("ehr", [b for b in bundles if b not in first]),
    ):
        out.append(load(paths, driver=driver, database=database, source=source, identity=identity))
    return out


def cli(neo4j_conn: Neo4jSettings, home: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_HOME": str(home),
    }
    run = CliRunner().invoke(app, ["scorecard", *args], env=env)
    return run.exit_code, run.stdout, run.stderr


def test_table_shows_each_measure_and_names_the_run_that_linked_the_claims(
    runs: list[LoadReport], neo4j_conn: Neo4jSettings, driver: Driver, tmp_path: Path
) -> None:
    code, out, _ = cli(neo4j_conn, tmp_path, "--source", "billing")
    assert code == 0
    now = scorecard.measure(driver, neo4j_conn.database)
    claims = next(m for m in now if (m.name, m.source) == ("claims-linked-to-encounter", "billing"))
    line = next(
        row for row in out.splitlines() if "claims-linked-to-encounter" in row and "billing" in row
    )
    assert f"{claims.numerator}/{claims.denominator}" in line and "100.0%" in line
    assert f"in run {runs[2].run_id} (ehr)" in line  # the second EHR load fixed the gap
    for d in scorecard.DEFINITIONS:
        assert d.name in out, d.name
    assert "| scheduling" not in out  # --source keeps that source and the totals only


def test_json_is_the_card_with_definitions_and_trends(
    runs: list[LoadReport], neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    code, out, _ = cli(neo4j_conn, tmp_path, "--format", "json")
    assert code == 0
    card = json.loads(out)
    names = {m["name"] for m in card["measures"]}
    assert names == {d.name for d in scorecard.DEFINITIONS}
    claims = next(
        m
        for m in card["measures"]
        if (m["name"], m["source"]) == ("claims-linked-to-encounter", None)
    )
    assert [p["runId"] for p in claims["trend"]] == [r.run_id for r in runs]
    assert [p["runSource"] for p in claims["trend"]] == ["ehr", "billing", "ehr"]
    assert claims["trend"][0]["value"] is None  # no claims before billing's run
    assert claims["trend"][-1]["value"] == 1.0
    assert all(d["cypher"] and d["means"] and d["why"] for d in card["definitions"])


def test_html_is_one_file_with_the_chart_library_inside(
    runs: list[LoadReport], neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    report = tmp_path / "card.html"
    code, _, _ = cli(neo4j_conn, tmp_path, "--format", "html", "--out", str(report))
    assert code == 0
    text = report.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "Plotly.newPlot" in text and "<script src=" not in text  # embedded, not fetched
    assert "claims-linked-to-encounter" in text


def test_check_gates_on_the_thresholds_file(
    runs: list[LoadReport], neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    code, _, err = cli(neo4j_conn, tmp_path, "--check")
    assert code == 2 and "scorecard.toml" in err  # no thresholds: a usage error, not a pass
    (tmp_path / "scorecard.toml").write_text(
        '[minimum]\n"claims-linked-to-encounter" = 0.95\n'
        '[maximum]\n"records-rejected" = 0\n"identity-conflicts-kept-apart" = 0\n'
    )
    code, _, err = cli(neo4j_conn, tmp_path, "--check")
    assert code == 0, err
    strict = tmp_path / "strict.toml"
    strict.write_text('[minimum]\n"patients-seen-in-several-sources@ehr" = 1.0\n')
    code, _, err = cli(
        neo4j_conn, tmp_path, "--check", "--thresholds", str(strict), "--format", "json"
    )
    # patient 0's namesake is known to the EHR only
    assert code == 1
    assert "patients-seen-in-several-sources (ehr)" in err and "below its minimum 100.0%" in err
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[minimum]\n"no-such-measure" = 1\n')
    code, _, err = cli(neo4j_conn, tmp_path, "--check", "--thresholds", str(wrong))
    assert code == 2 and "names no measure" in err
