"""A `load` fixture: run the real pipeline into the session's Neo4j, on an empty graph."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from caregraph.loaders.generator.ids import MRN_SYSTEM
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load as run_load
from caregraph.loaders.report import LoadReport

Load = Callable[..., LoadReport]


@pytest.fixture
def load(clean_graph: Driver, database: str, tmp_path: Path) -> Load:
    """load(*paths, source=None, identity=None, batch_size=500) -> LoadReport."""

    def _load(
        *paths: Path | str,
        source: str | None = None,
        identity: IdentityConfig | None = None,
        batch_size: int = 500,
    ) -> LoadReport:
        return run_load(
            [Path(p) for p in paths],
            driver=clean_graph,
            database=database,
            source=source,
            identity=identity,
            batch_size=batch_size,
            rejects_path=tmp_path / "rejects.jsonl",
        )

    return _load


def count(driver: Driver, database: str, cypher: str, **params: object) -> int:
    """The single number a Cypher query returns."""
    records, _, _ = driver.execute_query(cypher, params, database_=database)
    return int(records[0][0])


# A load run's own record (its :LoadRun and the scorecard's :MeasureValue snapshot of the graph
# it left) is history, added by every run; the domain graph is everything else.
def domain(var: str) -> str:
    """A Cypher condition: the node bound to `var` is of the domain graph."""
    return f"NOT {var}:LoadRun AND NOT {var}:MeasureValue"


def domain_nodes(driver: Driver, database: str) -> int:
    """How many nodes the domain graph has."""
    return count(driver, database, f"MATCH (n) WHERE {domain('n')} RETURN count(n)")


def fingerprint(driver: Driver, database: str) -> tuple[object, ...]:
    """Counts and a digest of every property of the domain graph (load runs aside)."""
    (nodes,), _, _ = driver.execute_query(
        f"MATCH (n) WHERE {domain('n')} WITH n ORDER BY n.key "
        "RETURN count(n) AS n, apoc.util.md5(collect(apoc.convert.toJson(properties(n)))) AS p",
        database_=database,
    )
    (rels,), _, _ = driver.execute_query(
        f"MATCH (a)-[r]->(b) WHERE {domain('a')} AND {domain('b')} "
        "WITH a, r, b ORDER BY a.key, type(r), b.key, r.role, r.group "
        "RETURN count(r) AS n, apoc.util.md5(collect(apoc.convert.toJson(properties(r)))) AS p",
        database_=database,
    )
    return (nodes["n"], nodes["p"], rels["n"], rels["p"])


# -- what a user compares: the graph's census --------------------------------------------------


@dataclass(frozen=True)
class Census:
    """Every node (labels and properties) and every relationship (type, the keys of its ends,
    its properties) of the graph, but the load runs and their scorecard snapshots: a load that
    was killed and run again has one run more than a clean load, and its records name the run
    that wrote them."""

    labels: Counter[str]
    types: Counter[str]
    nodes: Counter[str]
    relationships: Counter[str]

    def differences(self, other: Census) -> dict[str, list[str]]:
        """What one has that the other has not, both ways, a few of each."""
        out = {}
        for name in ("labels", "types", "nodes", "relationships"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out[name] = [
                    *(f"only here: {x}" for x in list((mine - theirs).elements())[:5]),
                    *(f"only there: {x}" for x in list((theirs - mine).elements())[:5]),
                ]
        return out


RUN_SPECIFIC = frozenset({"runId"})  # the load run that wrote a record or made a link


def _props(props: dict[str, Any]) -> str:
    return json.dumps(
        {k: str(v) for k, v in props.items() if k not in RUN_SPECIFIC}, sort_keys=True
    )


def census(driver: Driver, database: str, leave_out: tuple[str, ...] = ()) -> Census:
    """The census of the domain graph, less the nodes of the labels ``leave_out`` and their
    relationships (the identity review's own records, say)."""
    left = "".join(f" AND NOT {{v}}:{label}" for label in leave_out)
    nodes, _, _ = driver.execute_query(
        f"MATCH (n) WHERE {domain('n')}{left.format(v='n')} "
        "RETURN labels(n) AS labels, properties(n) AS props",
        database_=database,
    )
    rels, _, _ = driver.execute_query(
        f"MATCH (a)-[r]->(b) WHERE {domain('a')} AND NOT b:MeasureValue"
        f"{left.format(v='a')}{left.format(v='b')} "
        "RETURN type(r) AS type, a.key AS a, CASE WHEN b:LoadRun THEN 'a load run' "
        "ELSE b.key END AS b, properties(r) AS props",
        database_=database,
    )
    return Census(
        labels=Counter(":".join(sorted(r["labels"])) for r in nodes),
        types=Counter(r["type"] for r in rels),
        nodes=Counter(f"{':'.join(sorted(r['labels']))} {_props(r['props'])}" for r in nodes),
        relationships=Counter(
            f"{r['type']} {r['a']} -> {r['b']} {_props(r['props'])}" for r in rels
        ),
    )


def node_of(driver: Driver, database: str, mrn: str) -> str:
    """The key of the patient a generated MRN identifies."""
    records, _, _ = driver.execute_query(
        "MATCH (:Identifier {key: $token})-[:IDENTIFIES]->(p:Patient) RETURN p.key AS key",
        token=f"{MRN_SYSTEM}|{mrn}",
        database_=database,
    )
    (record,) = records
    return str(record["key"])
