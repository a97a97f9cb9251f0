"""A `load` fixture: run the real pipeline into the session's Neo4j, on an empty graph."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from neo4j import Driver

from loaders.identity import IdentityConfig
from loaders.pipeline import load as run_load
from loaders.report import LoadReport

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
