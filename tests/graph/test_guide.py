"""The analysts' guide and cookbook: committed files current, the same queries in both, and
every query accepted by the real Neo4j."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from neo4j import Driver

from graph import guide, scorecard
from graph.browser import GUIDE_FILE, guide_html
from ontology.model import DOMAINS, load_ontology


def _normalise(cypher: str) -> str:
    return "\n".join(line.rstrip() for line in cypher.strip().splitlines())


def cookbook_queries(text: str) -> list[str]:
    return [_normalise(q) for q in re.findall(r"```cypher\n(.*?)```", text, re.S)]


def guide_queries(text: str) -> list[str]:
    blocks = re.findall(
        r'<pre mode="cypher" class="[^"]*runnable[^"]*"[^>]*>(.*?)</pre>', text, re.S
    )
    return [_normalise(html.unescape(b)) for b in blocks]


def test_committed_files_are_what_the_generator_writes() -> None:
    onto = load_ontology()
    expected = {
        GUIDE_FILE: guide.guide(onto),
        guide.PICTURE_FILE: guide.ontology_svg(onto) + "\n",
        guide.COOKBOOK_FILE: guide.cookbook(),
    }
    for path, text in expected.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run `.venv/bin/python -m graph.guide` and commit it"
        )


def test_every_cookbook_query_is_in_the_guide() -> None:
    cookbook = cookbook_queries(guide.COOKBOOK_FILE.read_text(encoding="utf-8"))
    in_guide = guide_queries(guide_html())
    assert len(cookbook) == len(guide.QUERIES) == 6
    for query in cookbook:
        assert query in in_guide, f"not in the guide:\n{query}"


def test_cookbook_says_what_each_query_answers() -> None:
    text = guide.COOKBOOK_FILE.read_text(encoding="utf-8")
    sections = text.split("\n## ")[1:]
    assert [s.splitlines()[0] for s in sections] == [q.title for q in guide.QUERIES]
    assert all("**Answers:**" in s for s in sections)


def test_guide_has_the_browser_guide_shape() -> None:
    text = guide_html()
    assert text.startswith('<article class="guide">')
    # the title, a picture per two domains, the queries, the scorecard's introduction and its
    # four families
    pictures = -(-len(DOMAINS) // 2)
    assert text.count("<slide ") == 1 + pictures + len(guide.QUERIES) + 5
    assert "<script" not in text.lower()  # Browser strips scripts from remote guides
    for title in (
        "A patient's journey across the five domains",
        "Encounters with their claims and images",
        "A practitioner's schedule against the encounters that followed",
        "Claims without a matching encounter",
        "Patients merged across sources, with the rule behind each merge",
        "Data by source system and load run",
    ):
        assert f"<h3>{html.escape(title)}</h3>" in text


def test_merge_query_shows_only_patients_merged_by_a_rule() -> None:
    assert "rule <> 'asserted'" in guide.MERGES.cypher


@pytest.mark.parametrize("query", guide.QUERIES, ids=lambda q: q.slug)
def test_query_parses_in_neo4j(query: guide.GuideQuery, driver: Driver, database: str) -> None:
    # EXPLAIN plans without running: a syntax or semantic error fails here
    _, summary, _ = driver.execute_query("EXPLAIN " + query.cypher, database_=database)
    assert summary.plan is not None


def test_picture_has_every_class_that_relationships_name(tmp_path: Path) -> None:
    onto = load_ontology()
    svg = guide.ontology_svg(onto)
    shown = set(re.findall(r'data-class="(\w+)"', svg))
    for prop in onto.object_properties.values():
        for cls in (*prop.domain, *prop.range):
            name = onto.classes[cls].name
            assert name in shown or name == "Entity", name
        if prop.domain:
            assert f"{prop.graph_name} \u2192" in svg, prop.graph_name
    assert "Person" not in shown and "Event" not in shown  # superclasses are in the subtitles


def test_guide_has_every_scorecard_measure_as_the_query_the_scorecard_runs() -> None:
    in_guide = guide_queries(guide_html())
    for d in scorecard.DEFINITIONS:
        assert _normalise(d.cypher) in in_guide, d.name
        if d.records:
            assert _normalise(d.records) in in_guide, d.name
    assert _normalise(guide.SCORECARD_TREND) in in_guide


def test_scorecard_trend_query_parses_in_neo4j(driver: Driver, database: str) -> None:
    _, summary, _ = driver.execute_query("EXPLAIN " + guide.SCORECARD_TREND, database_=database)
    assert summary.plan is not None
