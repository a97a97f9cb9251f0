"""The writer: provenance of a shared identifier stays bounded, and a reload changes nothing."""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver

from caregraph.graph import terminology
from caregraph.graph import writer as gw
from caregraph.graph.writer import MAX_SOURCES
from caregraph.loaders.generator import generate
from caregraph.loaders.pipeline import load
from tests.loaders.conftest import count, fingerprint

# the billing NPI: every claim of the generated billing feed asserts it
SHARED = """
MATCH (i:Identifier)-[x:IDENTIFIES]->(o:Organization)
WITH o, x ORDER BY size(x.sources) DESC LIMIT 1
RETURN o.key AS org, size(x.sources) AS listed,
       COUNT { (:SourceRecord)-[:ASSERTED]->(o) } AS asserted
"""


def test_a_shared_identifiers_sources_stop_growing_and_provenance_stays_whole(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    generate(tmp_path / "data", 40, seed=4, formats=("x12",))
    claims = sorted((tmp_path / "data" / "x12").glob("*.837"))

    def run() -> None:
        report = load(claims, driver=clean_graph, database=database, source="billing")
        assert report.exit_code == 0

    run()
    row = clean_graph.execute_query(SHARED, database_=database).records[0]
    # more claims asserted the organization than its identifier lists, and it lists the cap
    assert row["asserted"] > MAX_SOURCES
    assert row["listed"] == MAX_SOURCES
    longest = "MATCH ()-[x]->() WHERE x.sources IS NOT NULL RETURN max(size(x.sources))"
    assert count(clean_graph, database, longest) == MAX_SOURCES

    before = fingerprint(clean_graph, database)
    run()
    assert fingerprint(clean_graph, database) == before


def test_the_writers_schema_is_the_part_of_the_planned_schema_it_merges_on() -> None:
    """What a load creates before it writes is what `caregraph ontology apply` creates too
    (the committed script), statement for statement: one schema, not two that drift."""
    planned = (Path(__file__).parents[2] / "ontology/generated/schema.cypher").read_text()
    own = [s for s in gw.WRITE_SCHEMA if s not in terminology.SCHEMA]
    assert len(own) == len(gw.WRITER_KEYS) + len(gw.WRITER_INDEXES)
    assert all(f"{s};" in planned.splitlines() for s in own), own
