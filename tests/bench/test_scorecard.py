"""bench/scorecard.py: one size measured against the session's Neo4j, its figures complete."""

from __future__ import annotations

from pathlib import Path

from bench.database import BenchNeo4j
from bench.scorecard import measure_size
from caregraph.graph import scorecard
from caregraph.graph.settings import Neo4jSettings


def test_one_size_reports_the_load_the_measures_and_the_snapshot(
    neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    neo = BenchNeo4j(tmp_path / "unused", external=neo4j_conn)
    try:
        figures = measure_size(neo, 3, tmp_path)
        now = scorecard.measure(neo.driver, neo.database)
    finally:
        neo.stop()
    assert figures["patients"] == 3 and figures["loadRuns"] == 6
    assert figures["measureValues"] == len(now)
    # a snapshot per load run (the bench's own one of the last run rewrites that run's)
    assert figures["snapshotNodes"] >= 6 * len(scorecard.DEFINITIONS)
    for key in ("loadSeconds", "measureSeconds", "snapshotSeconds"):
        assert isinstance(figures[key], float) and figures[key] >= 0
