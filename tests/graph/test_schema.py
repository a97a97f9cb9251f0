"""The ontology applied to a real Neo4j: constraints, indexes, class nodes, labels, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.cli.main import app
from caregraph.graph import candidates, keys_and_audit, schema, scorecard
from caregraph.graph.settings import Neo4jSettings
from caregraph.ontology.errors import SchemaChangeRefused
from caregraph.ontology.model import Ontology, load_ontology, shipped_files
from tests.conftest import neo4j_env

# An informaticist's change: a new class with a key, and NPI made a key of practitioners.
ADDITION = """
cg:Referral a owl:Class ;
    rdfs:subClassOf cg:ClinicalEvent ;
    rdfs:label "Referral"@en ;
    rdfs:comment "A request from one practitioner to another to take over or share care."@en ;
    cg:domain "clinical" ;
    cg:caption cg:display ;
    owl:hasKey ( cg:key ) .

cg:Practitioner owl:hasKey ( cg:npi ) .
"""
TWO_PRACTITIONERS_ONE_NPI = (
    "CREATE (:Practitioner:Person:Agent:Entity {key: 'a|1', npi: '1234567893'}), "
    "(:Practitioner:Person:Agent:Entity {key: 'b|2', npi: '1234567893'})"
)


def variant(tmp_path: Path, extra: str) -> Ontology:
    path = tmp_path / "caregraph.ttl"
    path.write_text(shipped_files()[0].read_text() + extra)
    return load_ontology([path])


def run(driver: Driver, database: str, query: str) -> list[dict[str, Any]]:
    rows, _, _ = driver.execute_query(query, database_=database)
    return [r.data() for r in rows]


def names(driver: Driver, database: str, what: str) -> set[str]:
    return {str(r["name"]) for r in run(driver, database, f"SHOW {what} YIELD name RETURN name")}


@pytest.fixture
def graph(clean_graph: Driver, database: str) -> Iterator[Driver]:
    """An empty graph; afterwards the shipped ontology is applied again, whatever the test did."""
    yield clean_graph
    run(clean_graph, database, "MATCH (n) DETACH DELETE n")
    schema.apply(clean_graph, database, load_ontology(), force=True)


def test_constraints_indexes_and_classes_exist_after_apply(graph: Driver, database: str) -> None:
    onto = load_ontology()
    report = schema.apply(graph, database, onto)
    assert report.applied
    constraints = names(graph, database, "CONSTRAINTS")
    assert {
        "cg_Entity_key_unique",
        "cg_Patient_key_unique",
        "cg_Claim_key_unique",
        "cg_Identifier_key_unique",
        "cg_LoadRun_runId_unique",
    } <= constraints
    indexes = names(graph, database, "INDEXES")
    assert {"cg_Practitioner_npi", "cg_ImagingStudy_studyInstanceUid", "cg_Encounter_start"} <= (
        indexes
    )
    rows = run(
        graph,
        database,
        "MATCH (:Class {name: 'Patient'})-[:SUBCLASS_OF]->(p:Class) RETURN p.name AS parent",
    )
    assert rows == [{"parent": "Person"}]
    assert run(
        graph, database, "MATCH (s:OntologySchema) RETURN s.version AS v, s.contentHash AS h"
    ) == [{"v": "0.1.0", "h": onto.content_hash}]
    applied = schema.applied_ontology(graph, database)
    assert (applied.version, applied.content_hash) == ("0.1.0", onto.content_hash)

    again = schema.apply(graph, database, onto)
    assert again.nothing_to_do and not again.applied
    assert "nothing to do" in again.lines()[-1]


def test_a_superclass_label_finds_subclass_instances(graph: Driver, database: str) -> None:
    run(
        graph,
        database,
        "CREATE (:Encounter {key: 'e1', start: datetime()}), (:ImagingStudy {key: 's1'}), "
        "(:Payer {key: 'p1'}), (:Encounter {key: 'e2', stub: true})",
    )
    report = schema.apply(graph, database, load_ontology())
    added = {c.cls: (c.labels, c.nodes) for c in report.labels_to_add}
    assert added["Encounter"] == (("ClinicalEvent", "Event", "Entity"), 2)
    assert added["Payer"] == (("Organization", "Agent", "Entity"), 1)
    found = run(graph, database, "MATCH (e:ClinicalEvent) RETURN e.key AS k ORDER BY k")
    assert [r["k"] for r in found] == ["e1", "e2", "s1"]
    assert run(graph, database, "MATCH (a:Agent) RETURN a.key AS k") == [{"k": "p1"}]
    # the stub is not counted against the shapes; the loaded encounter lacks its patient
    violations = {(v.cls, v.path): v.nodes for v in report.shape_violations}
    assert violations[("Encounter", "subject (incoming hasEncounter)")] == 1
    assert violations[("ImagingStudy", "patient (incoming hasImagingStudy)")] == 1


def test_dry_run_reports_an_added_class_and_key_and_changes_nothing(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    schema.apply(graph, database, load_ontology())
    run(
        graph,
        database,
        "CREATE (:Practitioner:Person:Agent:Entity {key: 'x|1', npi: '1234567893'})",
    )
    before = (names(graph, database, "CONSTRAINTS"), names(graph, database, "INDEXES"))

    report = schema.apply(graph, database, variant(tmp_path, ADDITION), dry_run=True)

    assert report.dry_run and not report.applied
    added = {c.name for c in report.schema.add_constraints}
    assert added == {"cg_Referral_key_unique", "cg_Practitioner_npi_unique"}
    assert "cg_Practitioner_npi" in report.schema.drop_indexes  # the unique one indexes it
    assert report.classes_added == ["Referral"]
    assert report.api_fields_added == ["class Referral"]
    assert report.refusals == []
    text = "\n".join(report.lines())
    assert "+ constraint cg_Referral_key_unique" in text
    assert "+ class Referral" in text and "dry run: nothing was changed" in text
    assert (names(graph, database, "CONSTRAINTS"), names(graph, database, "INDEXES")) == before
    assert run(graph, database, "MATCH (k:Class {name: 'Referral'}) RETURN count(k) AS n") == [
        {"n": 0}
    ]


def test_an_apply_keeps_the_schema_that_caregraphs_other_parts_made(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    """The API keys' and the audit's constraints and indexes, stewardship's and the
    scorecard's are named cg_ but are not the ontology's: an apply that changes the schema keeps
    them (it drops only what an ontology made and no longer asks for), and an apply with nothing
    to change drops nothing."""
    schema.apply(graph, database, load_ontology())
    for owner in (keys_and_audit, candidates, scorecard):  # each part makes its own, as in use
        owner.ensure_schema(graph, database)
    others = {"cg_ApiKey_keyId_unique", "cg_AuditHead_day_unique", "cg_MatchCandidate_key_unique"}
    assert (
        others
        <= schema.OTHER_PARTS
        <= names(graph, database, "CONSTRAINTS") | names(graph, database, "INDEXES")
    )

    again = schema.apply(graph, database, load_ontology())
    assert again.nothing_to_do

    changed = schema.apply(graph, database, variant(tmp_path, ADDITION))
    assert changed.applied
    assert changed.schema.drop_indexes == ("cg_Practitioner_npi",)  # the ontology's own, moved
    assert changed.schema.drop_constraints == ()
    have = names(graph, database, "CONSTRAINTS") | names(graph, database, "INDEXES")
    assert have >= schema.OTHER_PARTS


def test_apply_refuses_a_key_that_existing_duplicates_would_break(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    schema.apply(graph, database, load_ontology())
    run(graph, database, TWO_PRACTITIONERS_ONE_NPI)
    with pytest.raises(SchemaChangeRefused, match=r"Practitioner\.npi cannot be made unique"):
        schema.apply(graph, database, variant(tmp_path, ADDITION))
    assert "cg_Practitioner_npi_unique" not in names(graph, database, "CONSTRAINTS")
    assert "cg_Referral_key_unique" not in names(graph, database, "CONSTRAINTS")

    forced = schema.apply(graph, database, variant(tmp_path, ADDITION), force=True)
    assert forced.applied
    assert forced.skipped == ["constraint cg_Practitioner_npi_unique: existing duplicate values"]
    assert "cg_Referral_key_unique" in names(graph, database, "CONSTRAINTS")


def test_a_new_databases_impact_counts_nothing_and_one_data_node_is_counted(
    graph: Driver, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a graph of only the ontology's own nodes, the impact's probes are not run (each
    would count 0); one node of data, even of a class the change removes, and they run."""
    schema.apply(graph, database, variant(tmp_path, ADDITION))
    statements: list[str] = []
    counted = schema._read_counts

    def spy(driver: Driver, db: str, query: str, params: dict[str, Any]) -> list[int]:
        statements.append(query)
        return counted(driver, db, query, params)

    monkeypatch.setattr(schema, "_read_counts", spy)
    report = schema.apply(graph, database, load_ontology(), dry_run=True)
    assert statements == [schema._DATA_NODES]  # the count store's answer, no probe
    assert report.classes_removed == ["Referral"] and report.refusals == []
    run(graph, database, "CREATE (:Referral:ClinicalEvent:Event:Entity {key: 'r1'})")
    statements.clear()
    report = schema.apply(graph, database, load_ontology(), dry_run=True)
    assert len(statements) > 1
    assert report.refusals == ["class Referral is removed but 1 node(s) have its label; "
                               "remove or relabel them first"]  # fmt: skip


def test_removing_a_class_with_instances_is_refused(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    schema.apply(graph, database, variant(tmp_path, ADDITION))
    run(graph, database, "CREATE (:Referral:ClinicalEvent:Event:Entity {key: 'r1'})")
    with pytest.raises(SchemaChangeRefused, match="class Referral is removed but 1 node"):
        schema.apply(graph, database, load_ontology())
    report = schema.apply(graph, database, load_ontology(), force=True)
    assert report.applied and report.classes_removed == ["Referral"]
    assert report.api_fields_removed == ["class Referral"]
    assert run(graph, database, "MATCH (n:Referral) RETURN count(n) AS n") == [{"n": 0}]
    assert "cg_Referral_key_unique" not in names(graph, database, "CONSTRAINTS")


def test_cli_apply_dry_run_reports_and_changes_nothing(
    graph: Driver, database: str, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    schema.apply(graph, database, load_ontology())
    path = tmp_path / "caregraph.ttl"
    path.write_text(shipped_files()[0].read_text() + ADDITION)
    env = {**neo4j_env(neo4j_conn), "NEO4J_DATABASE": database}
    before = names(graph, database, "CONSTRAINTS")
    result = CliRunner().invoke(app, ["ontology", "apply", "--dry-run", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "+ constraint cg_Referral_key_unique (Referral.key unique)" in result.output
    assert "API + class Referral" in result.output
    assert "dry run: nothing was changed" in result.output
    assert names(graph, database, "CONSTRAINTS") == before

    run(graph, database, TWO_PRACTITIONERS_ONE_NPI)
    refused = CliRunner().invoke(app, ["ontology", "apply", str(path)], env=env)
    assert refused.exit_code == 1
    assert "Practitioner.npi cannot be made unique: 1 value(s)" in refused.output
    assert "--force" in refused.output


def test_a_moved_class_loses_the_superclass_labels_it_no_longer_has(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    schema.apply(graph, database, load_ontology())
    run(graph, database, "CREATE (:Payer:Organization:Agent:Entity {key: 'p1'})")
    path = tmp_path / "caregraph.ttl"
    path.write_text(
        shipped_files()[0]
        .read_text()
        .replace(
            "cg:Payer a owl:Class ;\n    rdfs:subClassOf cg:Organization ;",
            "cg:Payer a owl:Class ;\n    rdfs:subClassOf cg:Agent ;",
        )
    )
    report = schema.apply(graph, database, load_ontology([path]))
    assert [(c.cls, c.labels, c.nodes) for c in report.labels_to_remove] == [
        ("Payer", ("Organization",), 1)
    ]
    [row] = run(graph, database, "MATCH (n:Payer) RETURN labels(n) AS l")
    assert sorted(row["l"]) == ["Agent", "Entity", "Payer"]
    assert run(
        graph, database, "MATCH (:Class {name: 'Payer'})-[:SUBCLASS_OF]->(p) RETURN p.name AS p"
    ) == [{"p": "Agent"}]


def test_a_shapes_only_change_is_a_change_with_its_impact(
    graph: Driver, database: str, tmp_path: Path
) -> None:
    onto = load_ontology()
    assert schema.apply(graph, database, onto).applied
    run(graph, database, "CREATE (:Encounter:ClinicalEvent:Event:Entity {key: 'e1'})")
    assert schema.apply(graph, database, onto, dry_run=True).nothing_to_do
    # an informaticist makes an encounter's start required again
    from caregraph.ontology.record_validation import shapes_path

    stricter = tmp_path / "shapes.ttl"
    stricter.write_text(
        shapes_path().read_text()
        + "\ncgsh:StrictStart a sh:NodeShape ; sh:targetClass cg:Encounter ;\n"
        "    sh:property [ sh:path cg:start ; sh:minCount 1 ] .\n"
    )
    report = schema.apply(graph, database, onto, dry_run=True, shapes_path=stricter)
    assert not report.nothing_to_do
    text = "\n".join(report.lines())
    assert "shapes changed" in text
    assert "1 Encounter node(s) violate StrictStart on start (Violation)" in text
    assert "nothing to do" not in text
    # applied, the new shapes are what the graph records; applying them again is nothing to do
    assert schema.apply(graph, database, onto, shapes_path=stricter).applied
    assert schema.apply(graph, database, onto, dry_run=True, shapes_path=stricter).nothing_to_do
