"""The demo set that `make demo` loads: six source systems, five domains, one graph."""

from __future__ import annotations

import json
from pathlib import Path

from neo4j import Driver

from caregraph.graph import guide
from caregraph.loaders.demo import load_demo
from caregraph.loaders.generator.directory import Directory
from caregraph.loaders.generator.ids import CONDITION_SYSTEM, PROCEDURE_SYSTEM
from caregraph.loaders.generator.scenario import patient_case
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
    # generator's truth for every visit: the EHR (FHIR Conditions) and the ADT feed (DG1)
    # document each visit's diagnoses, and about one claim in five bills a secondary diagnosis
    # that neither documents (patient 0's claim is one of them)
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text())
    directory = Directory.build(manifest["seed"], manifest["patients"])
    cases = [patient_case(i, manifest["seed"], directory) for i in range(manifest["patients"])]
    truth = {
        (e.claim.control, d.icd10) for c in cases for e in c.encounters for d in e.undocumented
    }
    p0 = manifest["expected"]["patient0"]
    assert p0["encounters"][0]["claim"]["undocumentedDiagnoses"], "patient 0's claim bills one"
    assert len(truth) < sum(len(e.claim.diagnoses) for c in cases for e in c.encounters
                            if e.claim) / 3, "mismatches are the exception"  # fmt: skip
    rows = clean_graph.execute_query(guide.UNDOCUMENTED_DIAGNOSES.cypher, database_=database)
    assert len(rows.records) < 100, "the guide's LIMIT did not cut the answer"
    found = {(r["claim"], r["code"]) for r in rows.records}
    assert found == truth
    # what the EHR documents: one Condition per documented diagnosis and one Procedure per
    # service performed, each at its visit
    expected = manifest["expected"]["individuals"]
    for label, system, total in (
        ("Condition", CONDITION_SYSTEM, expected["conditions"]),
        ("Procedure", PROCEDURE_SYSTEM, expected["procedures"]),
    ):
        # by the EHR's identifier, whatever key the node has (a Condition that its visit
        # names before it comes is keyed by that reference: loaders/identity.py)
        at_visits = n(
            f"MATCH (x:{label})-[:FOR_ENCOUNTER]->(:Encounter) WHERE EXISTS "
            f"{{ (i:Identifier)-[:IDENTIFIES]->(x) WHERE i.key STARTS WITH '{system}|' }} "
            "RETURN count(x)"
        )
        assert at_visits == total > 0, label
