"""`caregraph identity candidates` at the command line, against the session's Neo4j."""

from __future__ import annotations

import json
from pathlib import Path

from neo4j import Driver
from typer.testing import CliRunner

from api.cli.main import app
from loaders.identity import IdentityConfig
from loaders.pipeline import load
from loaders.synth.generator import generate
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
