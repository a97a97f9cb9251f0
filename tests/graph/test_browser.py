"""Browser settings of the managed server: the post-connect command and the allow-list, as
neo4j.conf lines that Neo4j accepts and hands to Browser."""

from __future__ import annotations

import pytest
from neo4j import Driver

from caregraph.graph.browser import BrowserSettings, neo4j_config, post_connect_command
from caregraph.graph.server import ManagedNeo4j


def test_post_connect_applies_the_style_then_plays_the_guide() -> None:
    settings = BrowserSettings(host="127.0.0.1", port=8123)
    assert post_connect_command(settings) == (
        "style http://127.0.0.1:8123/browser/caregraph.grass; "
        "play http://127.0.0.1:8123/browser/guide.html"
    )


def test_allow_list_names_the_api_host() -> None:
    conf = neo4j_config(BrowserSettings(host="caregraph.internal", port=443))
    hosts = conf["browser.remote_content_hostname_whitelist"].split(",")
    assert hosts[0] == "caregraph.internal"
    assert "caregraph.internal:443" in conf["browser.post_connect_cmd"]


def test_an_api_listening_everywhere_is_reached_on_loopback() -> None:
    settings = BrowserSettings(host="0.0.0.0", port=8000)  # noqa: S104 - what the user set
    assert settings.guide_url == "http://127.0.0.1:8000/browser/guide.html"


def test_api_settings_come_from_the_api_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREGRAPH_API_PORT", "9011")
    assert BrowserSettings().style_url == "http://127.0.0.1:9011/browser/caregraph.grass"


def test_running_server_hands_the_settings_to_browser(
    managed_server: ManagedNeo4j | None, driver: Driver, database: str
) -> None:
    if managed_server is None:
        pytest.skip("NEO4J_URI names an external server; its Browser settings are its own")
    conf = (managed_server.conf_dir / "neo4j.conf").read_text()
    expected = neo4j_config(managed_server.browser)
    for key, value in expected.items():
        assert f"{key}={value}\n" in conf
    # what Browser reads on connect (Neo4j refused unknown settings at start, so it started)
    records, _, _ = driver.execute_query(
        "CALL dbms.clientConfig() YIELD name, value "
        "WHERE name STARTS WITH 'browser.' RETURN name, value",
        database_=database,
    )
    seen = {r["name"]: r["value"] for r in records}
    assert seen["browser.post_connect_cmd"] == expected["browser.post_connect_cmd"]
    assert (
        seen["browser.remote_content_hostname_whitelist"]
        == expected["browser.remote_content_hostname_whitelist"]
    )
