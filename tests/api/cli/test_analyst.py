"""`caregraph analyst ...` at the command line: a refresh into an external analyst graph (the
spare Neo4j, named by ANALYST_NEO4J_URI) with the API's pseudonym key, and the managed
server's commands refusing when the analyst graph is external."""

from __future__ import annotations

from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph.driver import open_driver
from caregraph.graph.pseudonyms import Pseudonyms
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings

KEY = "cli-analyst-pseudonym-key-0123456789"


def _env(prefix: str, conn: Neo4jSettings) -> dict[str, str]:
    return {
        f"{prefix}URI": conn.uri or "",
        f"{prefix}USERNAME": conn.username,
        f"{prefix}PASSWORD": conn.password.get_secret_value() if conn.password else "",
        f"{prefix}DATABASE": conn.database,
    }


@pytest.fixture
def env(neo4j_conn: Neo4jSettings, private_server: ManagedNeo4j, tmp_path: Path) -> dict[str, str]:
    return {
        **_env("NEO4J_", neo4j_conn),
        **_env("ANALYST_NEO4J_", private_server.connection()),
        "CAREGRAPH_HOME": str(tmp_path / "home"),
        "CAREGRAPH_API_PSEUDONYM_KEY": KEY,
    }


def test_refresh_writes_the_de_identified_graph_to_the_analyst_uri(
    clean_graph: Driver, database: str, private_server: ManagedNeo4j, env: dict[str, str]
) -> None:
    clean_graph.execute_query(
        "CREATE (:LoadRun {runId: 'run-1', startedAt: datetime(), endedAt: datetime()}) "
        "CREATE (:Patient:Person:Agent:Entity {key: 'urn:mrn|MRN-77', nameText: 'Ada Hart', "
        "birthDate: date('1980-07-14'), postalCode: '62704'})",
        database_=database,
    )
    result = CliRunner().invoke(app, ["analyst", "refresh", "--full"], env=env)
    assert result.exit_code == 0, result.output
    assert "analyst graph refreshed (full): 1 load runs, 2 nodes" in result.output
    with open_driver(private_server.connection()) as analyst:
        rows = analyst.execute_query(
            "MATCH (p:Patient) RETURN properties(p) AS p", database_="neo4j"
        ).records
    assert [r["p"] for r in rows] == [
        {
            "key": Pseudonyms(KEY.encode())("urn:mrn|MRN-77"),  # the API's analyst pseudonym
            "birthDate": rows[0]["p"]["birthDate"],
            "birthDatePrecision": "year",
            "postalCode": "627",
        }
    ]
    assert rows[0]["p"]["birthDate"].iso_format() == "1980-01-01"


def test_the_managed_servers_commands_refuse_an_external_analyst_graph(
    env: dict[str, str],
) -> None:
    runner = CliRunner()
    for command in ("start", "stop"):
        result = runner.invoke(app, ["analyst", command], env=env)
        assert result.exit_code == 2
        assert "ANALYST_NEO4J_URI is set" in result.output
    status = runner.invoke(app, ["analyst", "status"], env=env)
    assert status.exit_code == 0 and "external analyst graph" in status.output
