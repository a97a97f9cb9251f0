"""The demo set that `make demo` loads: six source systems, five domains, one graph."""

from __future__ import annotations

import json
from pathlib import Path

from neo4j import Driver

from graph import guide
from loaders.demo import load_demo
from tests.loaders.conftest import count


def test_the_demo_loads_cleanly_and_joins_its_sources(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    reports = load_demo(clean_graph, database, tmp_path / "demo")
    assert {r.source for r in reports} == {"ehr", "scheduling", "adt", "pacs", "billing", "payer"}
    for report in reports:
        assert report.total("rejected") == 0, (report.source, report.as_json()["rejects"][:2])
        assert all(f.reconciles for f in report.files)

    def n(cypher: str) -> int:
        return count(clean_graph, database, cypher)

    # all five domains are there
    for label in ("Patient", "Practitioner", "Encounter", "ImagingStudy", "Appointment", "Claim",
                  "Remittance"):  # fmt: skip
        assert n(f"MATCH (x:{label}) WHERE x.stub IS NULL RETURN count(x)") > 0, label
    # 12 patients, plus the namesake the EHR knows of (no stubs left for patients)
    assert n("MATCH (p:Patient) RETURN count(p)") == n(
        "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)"
    )
    # every claim found its visit, and the payer's payments found their claims
    assert n("MATCH (c:Claim) WHERE NOT (c)-[:FOR_ENCOUNTER]->() RETURN count(c)") == 0
    assert n("MATCH (r:Remittance)-[:REMITS]->(c:Claim) WHERE c.stub IS NULL RETURN count(r)") == (
        n("MATCH (r:Remittance) RETURN count(r)")
    )
    # every study is on a patient of the EHR and on one of their visits
    assert (
        n("MATCH (s:ImagingStudy) WHERE NOT (s)-[:FOR_ENCOUNTER]->(:Encounter) RETURN count(s)")
        == 0
    )
    # the claims' patients were recognised by demographics, with the rule recorded
    assert n("MATCH ()-[x:IDENTIFIES {rule: 'demographics-exact'}]->(:Patient) RETURN count(x)") > 0
    # billed but not documented (the Browser guide's cross-domain query), against the
    # generator's truth for its patient 0: each claim bills the visit's reason, which the EHR
    # documents, and secondary diagnoses that no source documents at the visit
    p0 = json.loads((tmp_path / "demo" / "manifest.json").read_text())["expected"]["patient0"]
    truth = {
        (e["claim"]["controlNumber"], code)
        for e in p0["encounters"]
        if "claim" in e
        for code in e["claim"]["diagnosisCodes"]
        if code != e["reason"]
    }
    claims = {e["claim"]["controlNumber"] for e in p0["encounters"] if "claim" in e}
    assert claims and truth, "patient 0 has claims, and one bills what its visit does not say"
    rows = clean_graph.execute_query(guide.UNDOCUMENTED_DIAGNOSES.cypher, database_=database)
    found = {(r["claim"], r["code"]) for r in rows.records if r["claim"] in claims}
    assert found == truth
