"""`caregraph identity candidates` at the command line, against the session's Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.loaders.generator.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from tests.api.cli.test_terminology import env  # noqa: F401  # the fixture, shared
from tests.loaders.conftest import count


def test_candidates_prints_counts_and_writes_them(
    clean_graph: Driver,
    database: str,
    env: dict[str, str],  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    out = tmp_path / "synth"
    manifest = generate(out, 150, seed=5, formats=["fhir"], duplicates=0.15)
    identity = IdentityConfig.from_file(out / manifest["identity"])
    for source, paths in manifest["sources"].items():
        report = load([out / p for p in paths], driver=clean_graph, database=database,
                      source=source, identity=identity)  # fmt: skip
        assert report.exit_code == 0
    result = CliRunner().invoke(app, ["identity", "candidates", "--threshold", "0.95"], env=env)
    assert result.exit_code == 0, result.output
    line = json.loads(result.output.strip().splitlines()[-1])
    assert line["patients"] == count(
        clean_graph, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)"
    )
    assert line["written"] == line["proposed"] > 0
    assert (
        count(clean_graph, database, "MATCH (c:MatchCandidate) RETURN count(c)")
        == (line["written"])
    )
    # counts only: no name of any patient is printed
    names = count(clean_graph, database, "MATCH (p:Patient) RETURN count(p.familyName)")
    assert names > 0
    records, _, _ = clean_graph.execute_query(
        "MATCH (p:Patient) RETURN collect(DISTINCT p.familyName) AS names", database_=database
    )
    assert not any(n in result.output for n in records[0]["names"])

    # the steward's commands: list, accept, reject, split, each audited as the OS user
    listed = CliRunner().invoke(app, ["identity", "list", "--limit", "2"], env=env)
    assert listed.exit_code == 0, listed.output
    first, second = (json.loads(x) for x in listed.output.strip().splitlines()[-2:])
    assert first["probability"] >= second["probability"] and first["status"] == "open"
    assert set(first["evidence"]) <= {"family", "given", "middle", "birth_date", "gender",
                                      "postal"}  # fmt: skip
    patients = count(clean_graph, database, "MATCH (p:Patient) RETURN count(p)")
    accepted = CliRunner().invoke(
        app, ["identity", "accept", first["key"], "--reason", "checked at the desk"], env=env
    )
    assert accepted.exit_code == 0, accepted.output
    merge = json.loads(accepted.output.strip().splitlines()[-1])
    assert merge["kind"] == "merge" and merge["candidate"] == first["key"]
    assert count(clean_graph, database, "MATCH (p:Patient) RETURN count(p)") == patients - 1
    again = CliRunner().invoke(app, ["identity", "reject", first["key"], "--reason", "x"], env=env)
    assert again.exit_code == 1 and "ALREADY_DECIDED" in again.output
    rejected = CliRunner().invoke(
        app, ["identity", "reject", second["key"], "--reason", "twins"], env=env
    )
    assert rejected.exit_code == 0, rejected.output
    split = CliRunner().invoke(
        app, ["identity", "split", merge["patients"][0], "--reason", "wrong"], env=env
    )
    assert split.exit_code == 0, split.output
    assert json.loads(split.output.strip().splitlines()[-1])["kind"] == "split"
    assert count(clean_graph, database, "MATCH (p:Patient) RETURN count(p)") == patients
    audited = count(
        clean_graph,
        database,
        "MATCH (a:AuditEvent {channel: 'cli'}) WHERE a.operation STARTS WITH 'identity.' "
        "RETURN count(DISTINCT a.operation)",
    )
    assert audited == 4  # list, accept, reject, split
