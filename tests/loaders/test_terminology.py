"""Terminologies as data (loaders/terminology.py): the shipped ICD-10-CM release, a user's
file, and both loaded into the session's Neo4j beside the codes records carry.

The CI tests load one chapter of ICD-10-CM (circulatory diseases, I00-I99); the whole release
(about 98,000 concepts) is loaded by the long variant, with CAREGRAPH_TERMINOLOGY=full.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import terminology as gt
from caregraph.loaders import terminology as lt
from caregraph.loaders.concepts import ICD10CM, SNOMED
from tests.conftest import Figures
from tests.loaders.conftest import Load, count

FULL = os.environ.get("CAREGRAPH_TERMINOLOGY") == "full"
LOCAL = "http://example.org/fhir/CodeSystem/local-problems"


def icd(code: str) -> str:
    return f"{ICD10CM}|{code}"


@pytest.fixture(scope="module")
def release() -> lt.Release:
    return lt.icd10cm()


def chapter(release: lt.Release, number: str) -> lt.Release:
    """The release cut down to one chapter and everything under it."""
    parents = {e.key: e.parents for e in release.entries}

    def under(key: str) -> bool:
        while key:
            if key == icd(number):
                return True
            key = next(iter(parents.get(key, ())), "")
        return False

    kept = [e for e in release.entries if under(e.key)]
    return lt.Release(release.uri, release.name, release.version, release.release, kept)


# -- the shipped release -------------------------------------------------------------------------


def test_icd10cm_is_the_cms_hierarchy_with_its_version(release: lt.Release) -> None:
    assert release.uri == ICD10CM and release.name == "ICD-10-CM"
    assert re.fullmatch(r"20\d\d", release.version)  # the tabular list's fiscal year
    assert release.release.startswith("simple_icd_10_cm ") and "tabular" in release.release
    by_key = {e.key: e for e in release.entries}
    assert len(by_key) == len(release.entries) > 90_000  # each code once
    nstemi = by_key[icd("I21.4")]
    assert (nstemi.code, nstemi.parents) == ("I21.4", (icd("I21"),))
    assert nstemi.display is not None and "NSTEMI" in nstemi.display
    assert by_key[icd("I21")].parents == (icd("I20-I25"),)
    assert by_key[icd("I20-I25")].display == "Ischemic heart diseases (I20-I25)"
    assert by_key[icd("I20-I25")].parents == (icd("9"),)
    assert by_key[icd("9")].parents == ()  # a chapter is a top concept
    roots = [e.code for e in release.entries if not e.parents]
    assert len(roots) == 22 and all(code.isdigit() for code in roots)
    # a block holding one category of its own name is one concept, under its chapter
    assert by_key[icd("B10")].parents == (icd("1"),)
    assert by_key[icd("B10.0")].parents == (icd("B10"),)
    assert all(e.key not in e.parents for e in release.entries)
    assert {p for e in release.entries for p in e.parents} <= set(by_key)


# -- a user's file ------------------------------------------------------------------------------


def terminology_file(path: Path, rows: list[str]) -> Path:
    path.write_text("system,code,display,parent\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_file_gives_each_system_its_concepts_and_parents(tmp_path: Path) -> None:
    path = terminology_file(
        tmp_path / "codes.csv",
        [
            f"{LOCAL},P1,Heart problem,",  # line 2: a top concept
            f"{LOCAL},P1.1,Heart attack,P1",  # line 3
            f"{LOCAL},P1.1,,P2",  # line 4: a second parent, display given before
            f"{LOCAL},P2,Vessel problem,",  # line 5
            "SNOMED-CT,22298006,,",  # line 6: a known system by its name; a code only
            f"{LOCAL},,Nameless,P1",  # line 7: no code
            "MYSYSTEM,X1,Secret Name,",  # line 8: neither a URI nor a known system
            f"{LOCAL},P1.1,Secret Name,P1",  # line 9: another display for P1.1
            f"{LOCAL},P3",  # line 10: two fields
        ],
    )
    releases, problems = lt.from_file(path, "2025-01")
    by_uri = {r.uri: r for r in releases}
    assert sorted(by_uri) == [LOCAL, SNOMED]
    local = {e.code: e for e in by_uri[LOCAL].entries}
    assert local["P1.1"].display == "Heart attack"
    assert local["P1.1"].parents == (f"{LOCAL}|P1", f"{LOCAL}|P2")
    assert local["P1"].parents == ()
    assert by_uri[LOCAL].version == "2025-01" and by_uri[LOCAL].release == "file codes.csv"
    (snomed,) = by_uri[SNOMED].entries
    assert (snomed.key, snomed.display) == (f"{SNOMED}|22298006", None)
    assert by_uri[SNOMED].name == "SNOMED CT"
    assert [(p.line, p.reason) for p in problems] == [
        (7, "no system or no code"),
        (8, "the system is neither a URI nor a code system the ontology knows"),
        (9, "another display for a code given before: kept the first"),
        (10, "line has 2 fields, the header has 4"),
    ]
    assert not any("Secret" in p.reason or "MYSYSTEM" in p.reason for p in problems)


def test_a_file_without_the_header_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code;display\nP1;Heart\n")
    with pytest.raises(lt.TerminologyFileError, match="system,code,display,parent"):
        lt.from_file(path)


# -- in the graph ----------------------------------------------------------------------------------


def condition_bundle(path: Path) -> Path:
    """A patient with two ICD-10-CM coded conditions: NSTEMI (sent undotted, under the OID)
    and a code the release does not have."""

    def cond(cid: str, code: str) -> dict[str, object]:
        return {
            "resourceType": "Condition",
            "id": cid,
            "code": {"coding": [{"system": "urn:oid:2.16.840.1.113883.6.90", "code": code}]},
            "subject": {"reference": "Patient/p1"},
        }

    entries = [
        {"resource": {"resourceType": "Patient", "id": "p1"}},
        {"resource": cond("c1", "I214")},
        {"resource": cond("c2", "I21.X9")},
    ]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


def test_records_codes_meet_the_loaded_hierarchy(
    load: Load, driver: Driver, database: str, release: lt.Release, tmp_path: Path
) -> None:
    report = load(condition_bundle(tmp_path / "problems.json"), source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    circulatory = chapter(release, "9")
    loaded = lt.load(driver, database, circulatory, batch_size=500)
    assert loaded.concepts == len(circulatory.entries) > 1000
    # the record's I21.4 was already a Concept: the release gave it its display, not a twin
    assert loaded.changes.concepts_created == loaded.concepts - 1
    assert loaded.changes.displays_set == 1
    assert loaded.changes.broader_created == loaded.broader == loaded.concepts - 1
    (r,) = driver.execute_query(
        "MATCH (:Patient)-[:HAS_CONDITION]->(:Condition)-[:HAS_CODE]->(k:Concept {key: $k}) "
        "MATCH path = (k)-[:BROADER*]->(top:Concept) WHERE NOT (top)-[:BROADER]->() "
        "RETURN k.display AS display, [n IN nodes(path) | n.code] AS up",
        k=icd("I21.4"),
        database_=database,
    ).records
    assert r["up"] == ["I21.4", "I21", "I20-I25", "9"]
    assert "NSTEMI" in r["display"]
    # a code the release does not have stays a Concept of the record, without display
    (absent,) = driver.execute_query(
        "MATCH (k:Concept {key: $k}) RETURN k.display AS display, "
        "COUNT { (k)-[:BROADER]->() } AS parents, COUNT { (k)<-[:HAS_CODE]-() } AS coded",
        k=icd("I21.X9"),
        database_=database,
    ).records
    assert dict(absent) == {"display": None, "parents": 0, "coded": 1}
    # what conditions of the patient fall under I20-I25: the NSTEMI, not the unknown code
    under = gt.descendants(driver, database, ICD10CM, "I20-I25")
    assert {c.code for c in under} >= {"I20-I25", "I21", "I21.4", "I25.10"}
    assert "I10" not in {c.code for c in under} and "I21.X9" not in {c.code for c in under}
    # the CodeSystem node says which release is loaded
    (system,) = gt.releases(driver, database)
    assert (system.uri, system.version, system.concept_count) == (
        ICD10CM, release.version, len(circulatory.entries),
    )  # fmt: skip

    before = fingerprint(driver, database)
    again = lt.load(driver, database, circulatory, batch_size=500)
    assert not again.changes.changed
    assert fingerprint(driver, database) == before  # loadedAt included: nothing moved


def test_a_file_loads_reloads_unchanged_and_a_new_version_changes_only_what_changed(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    driver = clean_graph
    rows = [f"{LOCAL},P1,Heart problem,", f"{LOCAL},P1.1,Heart attack,P1",
            f"{LOCAL},P1.1,,P2", f"{LOCAL},P2,Vessel problem,"]  # fmt: skip
    first, _ = lt.from_file(terminology_file(tmp_path / "v1.csv", rows), "1")
    made = lt.load(driver, database, first[0])
    assert (made.changes.concepts_created, made.changes.broader_created) == (3, 2)
    assert lt.load(driver, database, first[0]).changes.changed is False
    # version 2: P1.1 renamed and no longer under P2; P4's parent P9 is not in the file
    rows2 = [f"{LOCAL},P1,Heart problem,", f"{LOCAL},P1.1,Myocardial infarction,P1",
             f"{LOCAL},P2,Vessel problem,", f"{LOCAL},P4,Valve problem,P9"]  # fmt: skip
    second, _ = lt.from_file(terminology_file(tmp_path / "v2.csv", rows2), "2")
    changed = lt.load(driver, database, second[0]).changes
    assert (
        changed.concepts_created, changed.displays_set, changed.broader_created,
        changed.broader_removed, changed.parents_created,
    ) == (1, 1, 1, 1, 1)  # fmt: skip
    found = {
        r["code"]: (r["display"], r["parents"])
        for r in driver.execute_query(
            "MATCH (c:Concept {system: $s}) "
            "RETURN c.code AS code, c.display AS display, "
            "[(c)-[:BROADER]->(p) | p.code] AS parents",
            s=LOCAL,
            database_=database,
        ).records
    }
    assert found == {
        "P1": ("Heart problem", []), "P1.1": ("Myocardial infarction", ["P1"]),
        "P2": ("Vessel problem", []), "P4": ("Valve problem", ["P9"]), "P9": (None, []),
    }  # fmt: skip
    assert [(r.version, r.concept_count) for r in gt.releases(driver, database)] == [("2", 4)]


@pytest.mark.skipif(not FULL, reason="the whole release: CAREGRAPH_TERMINOLOGY=full")
def test_the_whole_icd10cm_release_loads_and_reloads_unchanged(
    clean_graph: Driver, database: str, release: lt.Release, figures: Figures
) -> None:
    driver = clean_graph
    first = lt.load(driver, database, release)
    assert first.changes.concepts_created == first.concepts == len(release.entries)
    assert first.changes.broader_created == first.broader
    assert (
        count(driver, database, "MATCH (c:Concept {system: $s}) RETURN count(c)", s=ICD10CM)
        == first.concepts
    )
    assert count(driver, database, "MATCH (:Concept)-[b:BROADER]->() RETURN count(b)") == (
        first.broader
    )
    under = gt.descendants(driver, database, ICD10CM, "I20-I25")
    assert "I21.4" in {c.code for c in under}
    again = lt.load(driver, database, release)
    assert not again.changes.changed
    figures(
        "terminology-icd10cm",
        concepts=first.concepts,
        broader=first.broader,
        first_load_s=round(first.seconds, 1),
        rerun_s=round(again.seconds, 1),
        under_I20_I25=len(under),
    )
    print(f"ICD-10-CM {release.version}: {first.concepts} concepts, {first.broader} BROADER; "
          f"load {first.seconds:.1f} s, rerun {again.seconds:.1f} s")  # fmt: skip


def fingerprint(driver: Driver, database: str) -> tuple[object, ...]:
    (r,) = driver.execute_query(
        "MATCH (n) WHERE n:Concept OR n:CodeSystem WITH n ORDER BY n.key "
        "RETURN count(n) AS n, apoc.util.md5(collect(apoc.convert.toJson(properties(n)))) AS p, "
        "COUNT { ()-[:BROADER]->() } AS broader",
        database_=database,
    ).records
    return (r["n"], r["p"], r["broader"])
