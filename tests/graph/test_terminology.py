"""graph/terminology.py in Neo4j: concepts and BROADER written by difference, the CodeSystem
release node, and the descendants reader the API's code filters will use."""

from __future__ import annotations

from neo4j import Driver

from caregraph.graph import terminology as gt

SYS = "http://example.org/fhir/CodeSystem/local"


def entry(code: str, display: str | None, *parents: str) -> gt.ConceptEntry:
    return gt.ConceptEntry(
        f"{SYS}|{code}", SYS, code, display, tuple(f"{SYS}|{p}" for p in parents)
    )


# a small polyhierarchy: a heart attack is a heart problem and a vessel problem
HIERARCHY = [
    entry("ROOT", "Problems"),
    entry("HEART", "Heart problem", "ROOT"),
    entry("VESSEL", "Vessel problem", "ROOT"),
    entry("MI", "Heart attack", "HEART", "VESSEL"),
    entry("MI.1", "Heart attack, first", "MI"),
    entry("STROKE", "Stroke", "VESSEL"),
]


def codes(rows: list[gt.ConceptRow]) -> list[str]:
    return [r.code for r in rows]


def test_descendants_follow_broader_to_every_level_once(clean_graph: Driver, database: str) -> None:
    gt.ensure_schema(clean_graph, database)
    made = gt.write_concepts(clean_graph, database, HIERARCHY, batch_size=2)
    assert (made.concepts_created, made.broader_created) == (6, 6)
    assert codes(gt.descendants(clean_graph, database, SYS, "HEART")) == ["HEART", "MI", "MI.1"]
    vessel = gt.descendants(clean_graph, database, SYS, "VESSEL")
    assert codes(vessel) == ["MI", "MI.1", "STROKE", "VESSEL"]  # MI once, though two paths
    assert vessel[0] == gt.ConceptRow(SYS, "MI", "Heart attack")
    assert len(gt.descendants(clean_graph, database, SYS, "ROOT")) == 6
    assert gt.descendants(clean_graph, database, SYS, "NOPE") == []
    assert gt.descendants(clean_graph, database, "http://other.example", "HEART") == []


def test_writes_are_by_difference(clean_graph: Driver, database: str) -> None:
    gt.ensure_schema(clean_graph, database)
    gt.write_concepts(clean_graph, database, HIERARCHY)
    assert not gt.write_concepts(clean_graph, database, HIERARCHY).changed
    # a concept a record made (no display) is given one; a display-less entry keeps it
    moved = [
        *HIERARCHY[:3],
        entry("MI", "Myocardial infarction", "HEART"),  # renamed, no longer under VESSEL
        entry("MI.1", None, "MI"),  # the release gives no display: the old one stays
        HIERARCHY[5],
    ]
    changed = gt.write_concepts(clean_graph, database, moved)
    assert (changed.concepts_created, changed.displays_set, changed.broader_removed) == (0, 1, 1)
    (mi,) = gt.descendants(clean_graph, database, SYS, "MI.1")
    assert mi.display == "Heart attack, first"
    assert codes(gt.descendants(clean_graph, database, SYS, "VESSEL")) == ["STROKE", "VESSEL"]


def test_the_release_node_moves_only_on_change(clean_graph: Driver, database: str) -> None:
    gt.ensure_schema(clean_graph, database)
    release = gt.CodeSystemRelease(SYS, "Local problems", "1", "file local.csv", 6)
    assert gt.record_release(clean_graph, database, release, changed=True)

    def loaded_at() -> object:
        (r,) = clean_graph.execute_query(
            "MATCH (s:CodeSystem {key: $k}) RETURN s.loadedAt AS t", k=SYS, database_=database
        ).records
        return r["t"]

    first = loaded_at()
    assert not gt.record_release(clean_graph, database, release, changed=False)
    assert loaded_at() == first
    newer = gt.CodeSystemRelease(SYS, "Local problems", "2", "file local.csv", 7)
    assert gt.record_release(clean_graph, database, newer, changed=True)
    assert loaded_at() != first
    assert gt.releases(clean_graph, database) == [newer]
