"""Identity decisions (graph/stewardship.py) on generated data in a real Neo4j: a merge and its
split give back exactly the graph there was, a rejected pair stays apart across reloads and
new candidate runs, a merge survives a reload, every decision is in `explain`."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import neo4j.time as nt
import pytest
from neo4j import Driver

from caregraph.graph import candidates as store
from caregraph.graph import integrity, scorecard, stewardship
from caregraph.graph.candidates import Candidate
from caregraph.graph.explain import explain_node
from caregraph.loaders import probabilistic
from caregraph.loaders.generator.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology
from tests.loaders.conftest import census, node_of

REVIEW = ("MatchCandidate", "IdentityDecision")  # the review's own records
IDENTIFIED_BY = "MATCH (i:Identifier)-[:IDENTIFIES]->(:Patient {key: $k}) RETURN collect(i.key)"


def one(driver: Driver, database: str, cypher: str, **params: Any) -> Any:
    records, _, _ = driver.execute_query(cypher, params, database_=database)
    return records[0][0]


def load_all(driver: Driver, database: str, out: Path, manifest: dict[str, Any]) -> None:
    identity = IdentityConfig.from_file(out / manifest["identity"])
    for source, paths in manifest["sources"].items():
        report = load(
            [out / p for p in paths],
            driver=driver,
            database=database,
            source=source,
            identity=identity,
        )
        assert report.exit_code == 0, report.as_json()["rejects"][:2]


@pytest.fixture
def riverside(clean_graph: Driver, database: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Visits, claims and payments of 60 patients, a sixth of them registered twice."""
    out = tmp_path / "synth"
    manifest = generate(out, 60, seed=11, formats=["fhir", "hl7v2", "x12"], duplicates=0.17)
    load_all(clean_graph, database, out, manifest)
    return out, manifest


def busiest(driver: Driver, database: str, n: int) -> list[str]:
    """The keys of the n patients with the most relationships (visits, claims, records)."""
    records, _, _ = driver.execute_query(
        "MATCH (p:Patient) WHERE p.stub IS NULL "
        "RETURN p.key AS key ORDER BY COUNT { (p)--() } DESC, p.key LIMIT $n",
        n=n,
        database_=database,
    )
    return [r["key"] for r in records]


def review_counts(driver: Driver, database: str) -> dict[str, float | None]:
    """The scorecard's identity review measures: candidates waiting, decisions by kind."""
    names = ("match-candidates-waiting", "identity-decisions")
    return {
        f"{m.name}|{m.group or ''}": m.value
        for m in scorecard.measure(driver, database, names=names)
        if m.source is None
    }


def propose(driver: Driver, database: str, a: str, b: str) -> str:
    """A candidate pair written as the probabilistic stage writes one."""
    x, y = sorted((a, b))
    c = Candidate(x, y, 0.97, 5.0, json.dumps({"family": {"level": "exact", "bayesFactor": 9.0}}))
    store.write_candidates(driver, database, [c], "test-run")
    return c.key


def test_a_merge_then_its_split_give_back_exactly_the_graph_there_was(
    riverside: tuple[Path, dict[str, Any]], clean_graph: Driver, database: str
) -> None:
    # two different people with many records each: the hardest merge to undo
    a, b = busiest(clean_graph, database, 2)
    key = propose(clean_graph, database, a, b)
    before = census(clean_graph, database, REVIEW)
    patients = one(clean_graph, database, "MATCH (p:Patient) RETURN count(p)")

    tokens = {
        k: set(one(clean_graph, database, IDENTIFIED_BY, k=k)) for k in (a, b)
    }  # every identifier of each
    merged = stewardship.accept(
        clean_graph, database, key, actor="key:steward-1", reason="same person per the registry"
    )
    survivor, absorbed = merged.patients
    counts = review_counts(clean_graph, database)
    assert counts["match-candidates-waiting|"] == 0
    assert counts["identity-decisions|merged (steward)"] == 1
    # each is known by what either was known by
    assert set(one(clean_graph, database, IDENTIFIED_BY, k=survivor)) == tokens[a] | tokens[b]
    assert {survivor, absorbed} == {a, b} and merged.moved > 10
    assert one(clean_graph, database, "MATCH (p:Patient) RETURN count(p)") == patients - 1
    assert not one(clean_graph, database, "MATCH (p:Entity {key: $k}) RETURN count(p)", k=absorbed)
    # every event of the two is the survivor's, and no record is on two patients
    assert integrity.check(clean_graph, database, load_ontology()).sound
    absorbed_ids = [
        r for r in explain_node(clean_graph, database, survivor).identifiers if r.rule == "steward"
    ]
    assert absorbed_ids and all(i.evidence and i.evidence["decision"] == merged.key
                                for i in absorbed_ids)  # fmt: skip
    (decision,) = explain_node(clean_graph, database, survivor).decisions
    assert decision.rule == "steward" and "key:steward-1" in decision.what
    assert "same person per the registry" in decision.what
    assert decision.evidence and decision.evidence["absorbed"] == absorbed

    (undone,) = stewardship.split(clean_graph, database, survivor, actor="key:steward-2",
                                  reason="two people after all")  # fmt: skip
    assert undone.patients == (survivor, absorbed) and undone.moved >= merged.moved
    assert census(clean_graph, database, REVIEW).differences(before) == {}
    counts = review_counts(clean_graph, database)
    assert counts["identity-decisions|split"] == 1 and not any(
        k.startswith("identity-decisions|merged") and v for k, v in counts.items()
    )  # the merge is no longer in force
    status = one(clean_graph, database, "MATCH (c:MatchCandidate {key: $k}) RETURN c.status", k=key)
    assert status == stewardship.SPLIT_STATUS
    kinds = [d.rule for d in explain_node(clean_graph, database, absorbed).decisions]
    assert kinds == ["split"]
    survivor_story = explain_node(clean_graph, database, survivor).decisions
    assert [d.rule for d in survivor_story] == ["steward", "split"]
    assert survivor_story[0].evidence and survivor_story[0].evidence["undoneBy"] == undone.key


def test_a_decided_candidate_cannot_be_decided_again_and_a_patient_never_merged_not_split(
    riverside: tuple[Path, dict[str, Any]], clean_graph: Driver, database: str
) -> None:
    a, b, c = busiest(clean_graph, database, 3)
    key = propose(clean_graph, database, a, b)
    stewardship.reject(clean_graph, database, key, actor="key:s", reason="different people")
    with pytest.raises(stewardship.DecisionError) as refused:
        stewardship.accept(clean_graph, database, key, actor="key:s", reason="changed my mind")
    assert refused.value.code == "ALREADY_DECIDED"
    with pytest.raises(stewardship.DecisionError) as refused:
        stewardship.split(clean_graph, database, c, actor="key:s", reason="?")
    assert refused.value.code == "NOT_MERGED"
    with pytest.raises(stewardship.DecisionError) as refused:
        stewardship.accept(clean_graph, database, "no ~~ such", actor="key:s", reason="?")
    assert refused.value.code == "NOT_FOUND"


def test_decisions_survive_reloads_and_new_candidate_runs(
    riverside: tuple[Path, dict[str, Any]], clean_graph: Driver, database: str
) -> None:
    out, manifest = riverside
    duplicates = manifest["expected"]["duplicates"]
    probabilistic.run(clean_graph, database)
    proposed = {c["key"] for c in store.list_candidates(clean_graph, database, limit=1000)}
    pairs = []
    for d in duplicates:
        x, y = sorted((node_of(clean_graph, database, d["mrn"]),
                       node_of(clean_graph, database, d["duplicateMrn"])))  # fmt: skip
        if f"{x}{store.SEPARATOR}{y}" in proposed:
            pairs.append((d, f"{x}{store.SEPARATOR}{y}"))
    assert len(pairs) >= 3, "enough duplicates proposed to decide on"
    (kept, accepted), (apart, rejected) = pairs[0], pairs[1]
    stewardship.accept(clean_graph, database, accepted, actor="key:s", reason="one person")
    stewardship.reject(clean_graph, database, rejected, actor="key:s", reason="twins")

    before = census(clean_graph, database, REVIEW)
    load_all(clean_graph, database, out, manifest)  # the same files again
    probabilistic.run(clean_graph, database)  # and a new candidate run

    # the reload changed nothing, the merged duplicate is still one patient with its original
    assert census(clean_graph, database, REVIEW).differences(before) == {}
    assert node_of(clean_graph, database, kept["mrn"]) == node_of(
        clean_graph, database, kept["duplicateMrn"]
    )
    # the rejected pair is still two patients, and not proposed again
    assert node_of(clean_graph, database, apart["mrn"]) != node_of(
        clean_graph, database, apart["duplicateMrn"]
    )
    statuses = {
        c["key"]: c["status"]
        for c in store.list_candidates(clean_graph, database, status=None, limit=1000)
    }
    assert statuses[rejected] == "rejected" and statuses[accepted] == "accepted"


def test_pairs_above_the_configured_probability_are_merged_by_the_stage_alone(
    riverside: tuple[Path, dict[str, Any]], clean_graph: Driver, database: str
) -> None:
    patients = one(clean_graph, database, "MATCH (p:Patient) RETURN count(p)")
    off = probabilistic.run(clean_graph, database)  # the default: propose, merge nothing
    assert off.merged == 0 and off.written > 0
    assert one(clean_graph, database, "MATCH (p:Patient) RETURN count(p)") == patients
    on = probabilistic.run(
        clean_graph, database, probabilistic.ProbabilisticConfig(auto_merge=0.99)
    )
    high = [c for c in store.list_candidates(clean_graph, database, limit=1000)
            if c["probability"] >= 0.99]  # fmt: skip
    assert on.merged > 0 and not high, "every pair above 0.99 was merged"
    assert one(clean_graph, database, "MATCH (p:Patient) RETURN count(p)") == patients - on.merged
    rules = one(
        clean_graph,
        database,
        "MATCH (d:IdentityDecision {kind: 'merge'}) RETURN collect(DISTINCT d.rule)",
    )
    assert rules == ["probabilistic"]
    assert integrity.check(clean_graph, database, load_ontology()).sound


@pytest.mark.parametrize(
    "value",
    [
        nt.Date(1961, 8, 21),
        nt.DateTime(2024, 5, 1, 9, 30, 0, tzinfo=UTC),
        nt.Time(9, 30, 0),
        nt.Duration(days=3, seconds=5),
        ["a", "b"],
        3.5,
        None,
    ],
)
def test_a_snapshot_keeps_each_value_and_its_type(value: Any) -> None:
    back = stewardship.decode(json.loads(json.dumps(stewardship.encode(value))))
    assert back == value and type(back) is type(value)
