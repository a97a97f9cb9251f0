"""`caregraph explain`: why the EHR's patient and the payer's member are one patient, why a
claim is linked to its visit, and the read recorded in the audit log before anything prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph import integrity
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from tests.conftest import neo4j_env


@pytest.fixture(scope="module")
def patient0(
    driver: Driver, neo4j_conn: Neo4jSettings, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Two generated patients loaded from the EHR and billing; patient 0's tokens."""
    database = neo4j_conn.database
    integrity.wipe(driver, database)
    data = tmp_path_factory.mktemp("riverside")
    manifest = generate(data, 2, seed=0, layout="files")
    identity = IdentityConfig.from_file(data / "identity.toml")
    for source in ("ehr", "billing"):
        paths = [data / p for p in manifest["sources"][source]]
        report = load(paths, driver=driver, database=database, source=source, identity=identity)
        assert report.exit_code == 0
    p0 = manifest["expected"]["patient0"]
    (claim,) = driver.execute_query(
        "MATCH (c:Claim {controlNumber: $n}) RETURN c.key AS key",
        n=p0["encounters"][0]["claim"]["controlNumber"],
        database_=database,
    ).records
    return {
        "mrn": f"{p0['mrnSystem']}|{p0['mrn']}",
        "claim": claim["key"],
        "visit": f"{p0['encounters'][0]['visitSystem']}|{p0['encounters'][0]['visitNumber']}",
    }


def cli(neo4j_conn: Neo4jSettings, home: Path, *args: str) -> tuple[int, str, str]:
    env = {
        **neo4j_env(neo4j_conn),
        "CAREGRAPH_HOME": str(home),
    }
    run = CliRunner().invoke(app, ["explain", *args], env=env)
    return run.exit_code, run.stdout, run.stderr


def audited(driver: Driver, database: str) -> list[dict[str, object]]:
    rows = driver.execute_query(
        "MATCH (a:AuditEvent {channel: 'cli', operation: 'explain'}) "
        "RETURN a.patients AS patients, a.subject AS subject ORDER BY a.at",
        database_=database,
    ).records
    return [dict(r) for r in rows]


def test_explain_says_how_a_patient_is_known_and_records_the_read(
    driver: Driver, neo4j_conn: Neo4jSettings, patient0: dict[str, str], tmp_path: Path
) -> None:
    before = len(audited(driver, neo4j_conn.database))
    code, out, _ = cli(neo4j_conn, tmp_path, patient0["mrn"])
    assert code == 0, out
    assert "Patient" in out.splitlines()[0].split()[0]
    # known by the EHR's MRN as asserted, and by the payer's member id through demographics
    assert "rule asserted" in out and "rule demographics-exact" in out
    assert "asserted by:" in out and "billing" in out and "ehr" in out
    records = audited(driver, neo4j_conn.database)
    assert len(records) == before + 1
    assert records[-1]["patients"] and str(records[-1]["subject"]).startswith("os:")


def test_explain_says_why_a_claim_is_linked_to_its_visit(
    neo4j_conn: Neo4jSettings, patient0: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = cli(neo4j_conn, tmp_path, patient0["claim"], patient0["visit"])
    assert code == 0, (out, err)
    assert "are linked" in out
    assert "rule claim-visit-number" in out
    evidence = out.split("evidence ", 1)[1].split(" from ")[0]
    assert json.loads(evidence) == {
        "matched": "Claim.controlNumber = Encounter.visitNumber",
        "scope": "same patient",
    }


def test_explain_of_an_unknown_identifier_fails_and_prints_nothing_else(
    neo4j_conn: Neo4jSettings, patient0: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = cli(neo4j_conn, tmp_path, "urn:oid:1.2.3|NOPE")
    assert code == 2 and out == ""
    assert "nothing in the graph is known as" in err
