"""The probabilistic identity stage (loaders/probabilistic.py) on generated data with known
duplicates: it finds them, leaves a namesake alone, writes its evidence, keeps decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.graph import candidates as store
from caregraph.loaders import probabilistic
from caregraph.loaders.generator.generator import generate
from caregraph.loaders.generator.ids import mrn
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from tests.loaders.conftest import node_of

PATIENTS = 400
RATE = 0.1


def pair(driver: Driver, database: str, a: str, b: str) -> tuple[str, str]:
    """The keys of the patients of two MRNs, in order."""
    x, y = sorted((node_of(driver, database, a), node_of(driver, database, b)))
    return x, y


@pytest.fixture
def duplicated(clean_graph: Driver, database: str, tmp_path: Path) -> dict[str, object]:
    """The EHR of PATIENTS patients, a tenth of them registered twice; its manifest."""
    out = tmp_path / "synth"
    manifest = generate(out, PATIENTS, seed=3, formats=["fhir"], duplicates=RATE)
    identity = IdentityConfig.from_file(out / manifest["identity"])
    for source, paths in manifest["sources"].items():
        report = load(
            [out / p for p in paths],
            driver=clean_graph,
            database=database,
            source=source,
            identity=identity,
        )
        assert report.exit_code == 0, report.as_json()["rejects"][:2]
    return manifest


def test_candidates_find_the_known_duplicates_and_not_a_namesake(
    duplicated: dict[str, object], clean_graph: Driver, database: str
) -> None:
    expected = duplicated["expected"]
    assert isinstance(expected, dict)
    pairs = {
        f"{d['variant']}:{d['mrn']}": pair(clean_graph, database, d["mrn"], d["duplicateMrn"])
        for d in expected["duplicates"]
    }
    assert len(pairs) >= 30, "enough duplicates to measure"
    # the deterministic rules join a duplicate whose demographics are the same (a new MRN is
    # no known identifier: demographics-exact), and none with a typo or a transposition
    joined = {k for k, (a, b) in pairs.items() if a == b}
    assert joined == {k for k in pairs if k.startswith("missing:")}
    truth = {both for k, both in pairs.items() if k not in joined}
    assert len(truth) >= 20

    result = probabilistic.run(clean_graph, database)
    proposed = {(c["key"].split(store.SEPARATOR)[0], c["key"].split(store.SEPARATOR)[1])
                for c in store.list_candidates(clean_graph, database, limit=1000)}  # fmt: skip
    assert result.written == len(proposed) == result.proposed
    found = truth & proposed
    recall = len(found) / len(truth)
    precision = len(found) / len(proposed)
    assert recall >= 0.8, (recall, precision)
    assert precision >= 0.8, (recall, precision)
    # patients 0 and 200 have namesakes: same name and sex, another birth date and home
    for namesake in expected["namesakes"]:
        original = mrn(int(namesake["of"]))
        assert pair(clean_graph, database, original, str(namesake["mrn"])) not in proposed

    # each candidate says why, per field, without a value
    top = store.list_candidates(clean_graph, database, limit=1)[0]
    evidence = json.loads(top["evidence"])
    assert set(evidence) == set(probabilistic.FIELDS)
    assert all({"level", "bayesFactor"} == set(v) for v in evidence.values())
    assert top["probability"] >= 0.9


def test_a_rerun_keeps_a_decided_pair_closed(
    duplicated: dict[str, object], clean_graph: Driver, database: str
) -> None:
    probabilistic.run(clean_graph, database)
    first = store.list_candidates(clean_graph, database, limit=1000)
    rejected = first[0]["key"]
    clean_graph.execute_query(
        "MATCH (c:MatchCandidate {key: $key}) SET c.status = 'rejected'",
        key=rejected,
        database_=database,
    )
    again = probabilistic.run(clean_graph, database)
    keys = {c["key"] for c in store.list_candidates(clean_graph, database, limit=1000)}
    assert rejected not in keys
    assert again.removed == 0 and keys == {c["key"] for c in first} - {rejected}
    records, _, _ = clean_graph.execute_query(
        "MATCH (c:MatchCandidate {key: $key}) RETURN c.status AS status",
        key=rejected,
        database_=database,
    )
    assert records[0]["status"] == "rejected"
