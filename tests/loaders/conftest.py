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
