"""API keys and the read audit in Neo4j: what the readers of graph/security.py return."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from graph import security
from graph.anchors import Anchors
from graph.settings import Paths, Settings


def test_a_subjects_audit_records_are_counted_by_outcome(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    security.ensure_schema(clean_graph, database)
    anchors = Anchors.open(Settings(paths=Paths(home=tmp_path)))
    outcomes = {"key:a": ["ok", "ok", "refused", "ok", "partial"], "key:b": ["ok", "failed"]}
    for subject, kinds in outcomes.items():
        for i, outcome in enumerate(kinds):
            event = {"subject": subject, "role": "clinician", "requestId": f"{subject}-{i}",
                     "fields": ["patient"], "patients": [], "outcome": outcome}  # fmt: skip
            security.append_audit(clean_graph, database, event, anchors)
    assert security.count_audit(clean_graph, database, "key:a") == {
        "ok": 3, "partial": 1, "refused": 1,
    }  # fmt: skip
    assert security.count_audit(clean_graph, database, "key:b") == {"failed": 1, "ok": 1}
    assert security.count_audit(clean_graph, database, "key:nobody") == {}
