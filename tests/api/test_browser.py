"""The guide and style that Neo4j Browser fetches, served cross-origin by the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from caregraph.api.app import create_app
from caregraph.graph.browser import guide_html, style_grass
from caregraph.graph.settings import Neo4jSettings

BROWSER_ORIGIN = "http://127.0.0.1:7474"


@pytest.fixture
def client(neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn)) as c:
        yield c


def test_guide_is_served_to_browser_origin(client: TestClient) -> None:
    response = client.get("/browser/guide.html", headers={"Origin": BROWSER_ORIGIN})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["access-control-allow-origin"] in ("*", BROWSER_ORIGIN)
    assert response.text == guide_html()


def test_style_is_the_generated_grass(client: TestClient) -> None:
    response = client.get("/browser/caregraph.grass", headers={"Origin": BROWSER_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", BROWSER_ORIGIN)
    assert response.text == style_grass()
    assert "node.Patient {" in response.text


@pytest.mark.parametrize("path", ["/browser/guide.html", "/browser/caregraph.grass"])
def test_preflight_allows_the_headers_browser_sends(client: TestClient, path: str) -> None:
    # Browser asks for guides with pragma and cache-control headers: a preflighted request
    response = client.options(
        path,
        headers={
            "Origin": BROWSER_ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "pragma,cache-control",
        },
    )
    assert response.status_code in (200, 204)
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "pragma" in allowed and "cache-control" in allowed
    assert "GET" in response.headers["access-control-allow-methods"]
