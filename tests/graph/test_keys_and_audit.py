"""API keys and the read audit in Neo4j: what the readers of graph/keys_and_audit.py return."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import Anchors
from caregraph.graph.settings import Paths, Settings


def test_a_subjects_audit_records_are_listed_with_their_request_and_outcome(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    keys_and_audit.ensure_schema(clean_graph, database)
    anchors = Anchors.open(Settings(paths=Paths(home=tmp_path)))
    outcomes = {"key:a": ["ok", "ok", "refused", "ok", "partial"], "key:b": ["ok", "failed"]}
    for subject, kinds in outcomes.items():
        for i, outcome in enumerate(kinds):
            event = {"subject": subject, "role": "clinician", "requestId": f"{subject}-{i}",
                     "fields": ["patient"], "patients": [], "outcome": outcome}  # fmt: skip
            keys_and_audit.append_audit(clean_graph, database, event, anchors)
    found = keys_and_audit.audit_outcomes(clean_graph, database, "key:a")
    assert found == [(f"key:a-{i}", o) for i, o in enumerate(outcomes["key:a"])]
    assert keys_and_audit.audit_outcomes(clean_graph, database, "key:b") == [
        ("key:b-0", "ok"), ("key:b-1", "failed"),
    ]  # fmt: skip
    assert keys_and_audit.audit_outcomes(clean_graph, database, "key:nobody") == []
