"""The linking rules: plain Cypher that any Neo4j 5 runs, APOC or not (issue 14)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import linking
from caregraph.loaders.pipeline import load


@pytest.mark.parametrize("rule", linking.RULES, ids=lambda r: r.name)
def test_no_rule_calls_a_plugin_procedure_or_function(rule: linking.Rule) -> None:
    # an external Neo4j (Aura, a cluster) may have no APOC: a rule that called it would make
    # every batch with a visit in it fail
    assert not re.search(r"\bapoc\.", rule.cypher, re.I), rule.name
    assert not re.search(r"\bgds\.", rule.cypher, re.I), rule.name


@pytest.mark.parametrize(
    ("name", "folded"),
    [("Émile-Zola", "emilezola"), ("O'NEIL", "oneil"), ("  van der Berg ", "vanderberg"),
     ("Müller2", "muller2"), (None, "")],
)  # fmt: skip
def test_names_fold_in_plain_cypher(
    clean_graph: Driver, database: str, name: str | None, folded: str
) -> None:
    records, _, _ = clean_graph.execute_query(
        f"RETURN {linking._clean('$name')} AS folded", name=name, database_=database
    )
    assert records[0]["folded"] == folded


def test_a_proposed_appointment_without_a_start_is_written_with_a_warning(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    # FHIR R4 Appointment.start is 0..1: a proposed appointment may have none (app-3); the
    # linking rules that need a start leave it alone instead of failing the batch
    appointment = {
        "resourceType": "Appointment", "id": "a1", "status": "proposed",
        "participant": [{"actor": {"reference": "Patient/p1"}, "status": "needs-action"}],
    }  # fmt: skip
    patient = {
        "resourceType": "Patient", "id": "p1",
        "identifier": [{"system": "urn:mrn", "value": "P1"}],
    }  # fmt: skip
    path = tmp_path / "proposed.json"
    entries = [{"resource": patient}, {"resource": appointment}]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    report = load([path], driver=clean_graph, database=database, source="scheduling")
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert [w.warning.code for w in report.warnings] == ["incomplete"]
    assert "Appointment: start is absent" in report.warnings[0].warning.message
    records, _, _ = clean_graph.execute_query(
        "MATCH (:Patient)-[:HAS_APPOINTMENT]->(a:Appointment {status: 'proposed'}) "
        "RETURN a.start AS start",
        database_=database,
    )
    assert [r["start"] for r in records] == [None]
