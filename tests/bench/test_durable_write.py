"""``python -m bench.durable_write``'s measure against the session's Neo4j, and its headroom
arithmetic."""

from __future__ import annotations

import os
from pathlib import Path

from neo4j import Driver

from bench import durable_write
from bench.report import TARGETS
from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import Anchors
from caregraph.graph.settings import Neo4jSettings


def test_each_statement_is_timed_and_the_audit_records_are_really_appended(
    clean_graph: Driver, database: str, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    keys_and_audit.ensure_schema(clean_graph, database)
    anchors = Anchors(tmp_path / "audit-anchors", os.urandom(32))
    got = durable_write.measure(neo4j_conn, None, anchors, n=4, rounds=2)
    assert set(got) == set(durable_write.STATEMENTS)
    assert all(cost["wall_ms"] is not None and cost["wall_ms"] > 0 for cost in got.values())
    assert all(cost["neo4j_cpu_ms"] is None for cost in got.values())  # no server process given
    # the warm-up round and the two timed ones: 3 x 4 audit records, one chain, anchored
    outcomes = keys_and_audit.audit_outcomes(clean_graph, database, durable_write.SUBJECT)
    assert len(outcomes) == 12
    assert keys_and_audit.verify_audit(clean_graph, database, anchors).intact
    left, _, _ = clean_graph.execute_query(
        "MATCH (x:BenchScratch) RETURN count(x) AS n", database_=database
    )
    assert left[0]["n"] == 0  # the written nodes are deleted again


def test_fsync_is_timed_and_leaves_no_file(tmp_path: Path) -> None:
    assert durable_write.fsync_ms(tmp_path, 3) > 0
    assert list(tmp_path.iterdir()) == []


def test_headroom_is_the_target_less_the_limit_and_one_write() -> None:
    latest = {
        "queries": {
            "patient_lookup": {"http_limit_p50_ms": 3.0, "p50_ms": 9.0},
            "no_limit_measured": {"http_limit_p50_ms": None, "p50_ms": 5.0},
        }
    }
    got = durable_write.headroom(latest, write_ms=1.25)
    assert list(got) == ["patient_lookup"]
    lookup = got["patient_lookup"]
    assert lookup["target_p50_ms"] == round(TARGETS["p50_to_http_limit"] * 3.0, 3)
    assert lookup["limit_plus_write_ms"] == 4.25
    assert lookup["left_for_the_rest_ms"] == round(lookup["target_p50_ms"] - 4.25, 3)
    assert lookup["caregraph_rest_ms"] == 4.75
