"""Fixtures for the pages tested in a real browser: Debian's Chromium driven by Playwright.

The stack is a managed Neo4j of its own whose Browser settings point at an API
served by uvicorn on a free port, with a tiny Synthea export loaded. (The session's Neo4j was
configured before the API's port was known, and Browser reads its settings from neo4j.conf.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import Driver
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from caregraph.api import graphiql
from caregraph.api.app import create_app
from caregraph.graph.browser import BrowserSettings
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders.pipeline import load
from tests.browser.data import write_export
from tests.conftest import free_port, managed_settings, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

# Assertions retry until this; Playwright's 5 s default is short for a page that waits on a JVM
# while the other worker's JVMs load both cores. A passing run is as fast as before.
expect.set_options(timeout=15_000)


@dataclass(frozen=True)
class Stack:
    """What the browser tests talk to."""

    neo4j: ManagedNeo4j
    conn: Neo4jSettings
    driver: Driver
    api_url: str

    @property
    def browser_url(self) -> str:
        return self.neo4j.browser_url


def _require_installed() -> None:
    # Fail, not skip: the README's test command installs both (make install).
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's Chromium is missing ({CHROMIUM}): run `make install`", pytrace=False)
    if graphiql.missing():
        pytest.fail(
            f"GraphiQL's files are missing ({graphiql.ASSET_DIR}): run `make install`",
            pytrace=False,
        )


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Neo4j configured for an API on a free port, the API serving there, data loaded."""
    _require_installed()
    port = free_port()
    home = tmp_path_factory.mktemp("browser") / "neo4j"
    neo4j = ManagedNeo4j(
        home, managed_settings(short_lived=True), browser=BrowserSettings(port=port)
    )
    neo4j.start()
    conn = neo4j.connection()
    driver = open_driver(conn)
    try:
        with serving(create_app(conn), port) as url:
            export = write_export(tmp_path_factory.mktemp("synthea"))
            report = load([export], driver=driver, database=conn.database, source="synthea")
            assert not report.rejects, [r.reason for r in report.rejects]
            yield Stack(neo4j, conn, driver, url)
    finally:
        driver.close()
        neo4j.stop()


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    _require_installed()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under test-artifacts/browser/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
