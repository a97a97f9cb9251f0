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
    # the feeds loaded after the count can add rows (a group of theirs), never take one away
    assert 0 < figures["measureValues"] <= len(now)
    # a snapshot per load run (the bench's own one of the last run rewrites that run's)
    assert figures["snapshotNodes"] >= 6 * len(scorecard.DEFINITIONS)
    for key in ("loadSeconds", "measureSeconds", "snapshotSeconds"):
        assert isinstance(figures[key], float) and figures[key] >= 0
    # two daily feeds on top, timed: a snapshot of a graph this small is within the budget,
    # so both keep one, and each says what its snapshot took
    for key in ("feed", "feedEveryRun"):
        feed = figures[key]
        assert isinstance(feed, dict) and feed["records"] > 0 and feed["snapshot"] == "kept"
        assert isinstance(feed["seconds"], float) and feed["seconds"] > 0
        # timed from the call to its return: the snapshot is in it, not in the load's seconds
        assert feed["loadSeconds"] + feed["snapshotSeconds"] <= feed["seconds"]
