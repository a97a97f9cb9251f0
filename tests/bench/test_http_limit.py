"""The limit over HTTP (bench/http_limit.py): the bench's own Cypher behind a bare endpoint
answers with the very records the driver gives for the same parameters.

The last test starts the endpoint under uvicorn (two workers, as the bench on two cores) on
the tests' Neo4j with a small generated graph loaded the bench's way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from neo4j import Driver
from neo4j.time import Date, DateTime

from bench import data, http_limit, ingest, latency, queries
from caregraph.graph import integrity
from caregraph.graph.settings import Neo4jSettings

PATIENTS = 20


def test_every_question_has_a_route_with_the_raw_contenders_cypher() -> None:
    sample = queries.Sample(
        ("urn:mrn|1",), ("1234567893",), (datetime(2024, 1, 1, tzinfo=UTC),) * 2
    )
    for asked in queries.questions(sample):
        route = http_limit.ROUTES[f"/{asked.name}"]
        assert route.cypher == asked.cypher[0]
        dated = {k for k, v in asked.cypher[1](0).items() if isinstance(v, datetime)}
        assert dated == route.datetimes


def test_parameters_cross_json_as_the_same_values() -> None:
    route = http_limit.ROUTES["/patient_context"]
    params = {
        "identifier": "urn:mrn|1",
        "from": datetime(2024, 6, 30, tzinfo=UTC),
        "to": datetime(2025, 6, 30, tzinfo=UTC),
        "limit": 267,
    }
    sent = orjson.loads(orjson.dumps(http_limit.encode_params(params)))
    assert http_limit.decode_params(route, sent) == params


def test_the_driver_s_temporal_values_are_written_as_iso_text() -> None:
    body = http_limit.to_json(
        [{"d": Date(2024, 2, 29), "t": DateTime(2024, 2, 29, 13, 5, 0, tzinfo=UTC), "n": 1}]
    )
    assert orjson.loads(body) == [
        {"d": "2024-02-29", "t": "2024-02-29T13:05:00.000000000+00:00", "n": 1}
    ]


@pytest.mark.timeout(600)
def test_the_endpoint_answers_what_the_driver_answers(
    neo4j_conn: Neo4jSettings, driver: Driver, database: str, tmp_path: Path
) -> None:
    integrity.wipe(driver, database)
    dataset = data.ensure(tmp_path / "data", PATIENTS, seed=0)
    ingest.load_caregraph(dataset, neo4j_conn, tmp_path / "work")
    server = http_limit.HttpLimitServer(tmp_path / "logs", workers=2)
    server.start(neo4j_conn)
    try:
        sample = queries.sample(driver, database, dataset.as_of, n=10)
        endpoints = latency.Endpoints({}, None, neo4j_conn, server.url)
        for asked in queries.questions(sample):
            a = latency.agreement(endpoints, asked, 10)
            assert a.errors == {}, a.errors
            assert a.counts["http_limit"] == a.counts["cypher"] > 0, a.counts
            assert a.http_limit_equals_cypher is True, asked.name
    finally:
        server.stop()
        integrity.wipe(driver, database)
