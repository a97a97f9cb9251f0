"""The analysts' guide and cookbook: committed files current, the same queries in both, and
every query accepted by the real Neo4j."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import guide, scorecard
from caregraph.graph.browser import GUIDE_FILE, guide_html
from caregraph.loaders import terminology as lt
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import DOMAINS, load_ontology


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
            f"{path.name} is stale: run `.venv/bin/python -m caregraph.graph.guide` and commit it"
        )


def test_every_cookbook_query_is_in_the_guide() -> None:
    cookbook = cookbook_queries(guide.COOKBOOK_FILE.read_text(encoding="utf-8"))
    in_guide = guide_queries(guide_html())
    assert len(cookbook) == len(guide.QUERIES) == 8
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
        "Claims billing a diagnosis their visit does not document",
        "Visits for a range of codes, with the images and claims that followed",
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


# -- the cross-domain queries, on a visit whose claim bills what it does and does not document


ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def _coded(code: str) -> dict[str, object]:
    return {"coding": [{"system": ICD, "code": code}]}


def _billing_bundle(path: Path) -> Path:
    """Visit e1 (reason I21.4; condition E78.5 recorded at it) whose claim bills I21.4,
    E78.5 and E11.9, which the visit does not document; visit e2 (reason J45.909, asthma)
    whose claim bills only that; and a study for e1."""
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Hart"}]}
    visits = [
        {
            "resourceType": "Encounter", "id": eid, "status": "finished", "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"}, "period": {"start": start},
            "reasonCode": [_coded(reason)],
        }
        for eid, start, reason in (("e1", "2024-03-01T08:00:00Z", "I21.4"),
                                   ("e2", "2024-04-01T08:00:00Z", "J45.909"))
    ]  # fmt: skip
    condition = {
        "resourceType": "Condition", "id": "c1", "code": _coded("E78.5"),
        "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
    }  # fmt: skip

    def claim(cid: str, eid: str, codes: list[str]) -> dict[str, object]:
        return {
            "resourceType": "Claim", "id": cid, "status": "active", "use": "claim",
            "patient": {"reference": "Patient/p1"}, "created": "2024-05-01",
            "type": {"coding": [{"code": "professional"}]},
            "priority": {"coding": [{"code": "normal"}]},
            "provider": {"reference": "Organization/o1"},
            "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "plan"}}],
            "identifier": [{"system": "http://example.org/claims", "value": cid.upper()}],
            "diagnosis": [
                {"sequence": n, "diagnosisCodeableConcept": _coded(c)}
                for n, c in enumerate(codes, 1)
            ],
            "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "99213"}]},
                      "encounter": [{"reference": f"Encounter/{eid}"}]}],
        }  # fmt: skip

    study = {
        "resourceType": "ImagingStudy", "id": "s1", "status": "available",
        "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/e1"},
        "identifier": [{"system": "urn:dicom:uid", "value": "urn:oid:1.2.840.99.1"}],
        "started": "2024-03-01T09:00:00Z", "modality": [{"code": "XA"}],
    }  # fmt: skip
    resources = [
        patient, *visits, condition, study,
        claim("cl1", "e1", ["I21.4", "E78.5", "E11.9"]), claim("cl2", "e2", ["J45.909"]),
    ]  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in resources]}  # fmt: skip
    path.write_text(json.dumps(bundle))
    return path


def test_cross_domain_queries_find_the_undocumented_diagnosis_and_the_ischemic_visit(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    driver = clean_graph
    bundle = _billing_bundle(tmp_path / "billing.json")
    report = load([bundle], driver=driver, database=database, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    rows = driver.execute_query(guide.UNDOCUMENTED_DIAGNOSES.cypher, database_=database).records
    # E11.9 is billed on cl1 but nowhere at e1; I21.4 (reason) and E78.5 (condition) are there
    assert [(r["claim"], r["code"]) for r in rows] == [("CL1", "E11.9")]
    # the range I20-I25 needs the hierarchy: a file with the three levels above I21.4
    terms = tmp_path / "icd.csv"
    terms.write_text(
        "system,code,display,parent\n"
        f"{ICD},I20-I25,Ischemic heart diseases,\n{ICD},I21,Acute myocardial infarction,I20-I25\n"
        f"{ICD},I21.4,Non-ST elevation (NSTEMI) myocardial infarction,I21\n"
        f"{ICD},J45.909,Unspecified asthma,\n"
    )
    (release,), problems = lt.from_file(terms, "test")
    assert not problems
    lt.load(driver, database, release)
    found = driver.execute_query(
        guide.VISITS_FOR_CODES.cypher.replace("RETURN p, e, followed, x", "RETURN e, x"),
        database_=database,
    ).records
    kinds = ("Claim", "ImagingStudy")
    followed = {
        (r["e"]["start"].isoformat()[:10], next(k for k in kinds if k in r["x"].labels))
        for r in found
    }
    assert followed == {("2024-03-01", "ImagingStudy"), ("2024-03-01", "Claim")}
