"""`caregraph terminology load | list` at the command line, against the session's Neo4j.

The CI test has the command load one chapter of the shipped ICD-10-CM release (the command's
source is swapped for that cut); with CAREGRAPH_TERMINOLOGY=full the long variant loads the
whole release, twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders import terminology as lt
from tests.conftest import neo4j_env
from tests.loaders.conftest import count
from tests.loaders.test_terminology import chapter

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
FULL = os.environ.get("CAREGRAPH_TERMINOLOGY") == "full"


@pytest.fixture
def env(neo4j_conn: Neo4jSettings, tmp_path: Path) -> dict[str, str]:
    return {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_HOME": str(tmp_path / "home"),
    }


def load_twice(driver: Driver, database: str, env: dict[str, str]) -> tuple[str, str, int]:
    runner = CliRunner()
    first = runner.invoke(app, ["terminology", "load", "icd10cm"], env=env)
    assert first.exit_code == 0, first.output
    concepts = count(driver, database, "MATCH (c:Concept {system: $s}) RETURN count(c)", s=ICD10CM)
    again = runner.invoke(app, ["terminology", "load", "icd10cm"], env=env)
    assert again.exit_code == 0, again.output
    return first.output, again.output, concepts


def test_icd10cm_loads_and_a_rerun_changes_nothing(
    clean_graph: Driver, database: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    circulatory = chapter(lt.icd10cm(), "9")
    monkeypatch.setitem(lt.BUILTIN, "icd10cm", lambda: circulatory)
    first, again, concepts = load_twice(clean_graph, database, env)
    assert concepts == len(circulatory.entries) > 1000
    assert f"ICD-10-CM {circulatory.version} ({ICD10CM}): {concepts} concepts" in first
    assert f"{concepts} concepts created" in first and "; changed;" in first
    assert "0 concepts created, 0 displays set, 0 BROADER created, 0 removed" in again
    assert "; unchanged;" in again
    listed = CliRunner().invoke(app, ["terminology", "list"], env=env)
    assert listed.exit_code == 0
    assert f"ICD-10-CM {circulatory.version}: {concepts} concepts" in listed.output


@pytest.mark.skipif(not FULL, reason="the whole release: CAREGRAPH_TERMINOLOGY=full")
def test_the_whole_icd10cm_release_loads_and_a_rerun_changes_nothing(
    clean_graph: Driver, database: str, env: dict[str, str]
) -> None:
    first, again, concepts = load_twice(clean_graph, database, env)
    assert concepts > 90_000 and f"{concepts} concepts created" in first
    assert "; unchanged;" in again
    print(first.strip())
    print(again.strip())


def test_a_file_of_ones_own_with_lines_left_out(
    clean_graph: Driver, database: str, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "snomed-extract.csv"
    path.write_text(
        "system,code,display,parent\n"
        "SNOMED-CT,22298006,Myocardial infarction,\n"
        "SNOMED-CT,401314000,Acute non-ST segment elevation myocardial infarction,22298006\n"
        "SNOMED-CT,,Secret,\n"
    )
    runner = CliRunner()
    result = runner.invoke(
        app, ["terminology", "load", "--file", str(path), "--version", "2025-03"], env=env
    )
    assert result.exit_code == 1, result.output  # loaded, with a line left out
    assert "SNOMED CT 2025-03 (http://snomed.info/sct): 2 concepts, 1 BROADER links" in (
        result.output
    )
    assert f"left out: {path}, line 4: no system or no code" in result.output
    assert "Secret" not in result.output
    assert count(
        clean_graph, database,
        "MATCH (:Concept {code: '401314000'})-[:BROADER]->(:Concept {code: '22298006'}) "
        "RETURN count(*)",
    ) == 1  # fmt: skip


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["terminology", "load"], "give a code system name or --file"),
        (["terminology", "load", "snomedct"], "ships no release of 'snomedct'"),
        (["terminology", "load", "icd10cm", "--version", "1"], "--version is for --file"),
        (["terminology", "load", "--file", "/nonexistent/codes.csv"], "no such file"),
    ],
)
def test_usage_errors_exit_2_saying_what_to_do(
    args: list[str], says: str, env: dict[str, str]
) -> None:
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2 and says in result.output
