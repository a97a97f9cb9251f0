"""The Neo4j Browser style generated from the ontology, committed and kept up to date."""

from __future__ import annotations

import re

from caregraph.api.cli.ontology import GENERATED, generated_files
from caregraph.ontology.grass import COLOURS, grass
from caregraph.ontology.model import load_ontology


def rules(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for selector, body in re.findall(r"([\w.]+) \{\n(.*?)\n\}", text, re.DOTALL):
        out[selector] = dict(re.findall(r"  ([\w-]+): (.*?);", body))
    return out


def test_the_committed_files_are_what_the_ontology_generates() -> None:
    for path, text in generated_files(load_ontology()).items():
        assert path.read_text() == text, f"{path} is stale: run `caregraph ontology generate`"
    assert {p.name for p in GENERATED.iterdir()} >= {"caregraph.grass", "schema.cypher"}


def test_a_colour_per_domain_and_a_caption_per_class() -> None:
    style = rules(grass(load_ontology()))
    assert style["node.Patient"]["color"] == COLOURS["directory"][0]
    assert style["node.Patient"]["caption"] == '"{display}"'
    assert style["node.Encounter"]["color"] == COLOURS["clinical"][0]
    assert style["node.ImagingStudy"]["color"] == COLOURS["imaging"][0]
    assert style["node.Appointment"]["color"] == COLOURS["scheduling"][0]
    assert style["node.Claim"]["color"] == COLOURS["financial"][0]
    assert style["node.Identifier"]["caption"] == '"{value}"'
    assert style["relationship.HAS_ENCOUNTER"]["caption"] == '"<type>"'
    assert (
        len(
            {
                style[s]["color"]
                for s in style
                if s.startswith("node.")
                and s[5:]
                in {"Patient", "Encounter", "ImagingStudy", "Appointment", "Claim", "SourceRecord"}
            }
        )
        == 6
    )


def test_specific_classes_come_after_their_superclasses() -> None:
    # Browser applies matching rules in order, the later winning: an Encounter is also an Entity
    order = list(rules(grass(load_ontology())))
    assert (
        order.index("node.Entity")
        < order.index("node.Event")
        < order.index("node.ClinicalEvent")
        < order.index("node.Encounter")
    )
