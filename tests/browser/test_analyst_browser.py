"""The analyst graph in Neo4j Browser, as an analyst meets it: log in, click the guide's
patient-journey query, and the journey is drawn (patient, visits, claim) with no name in it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from caregraph.graph.analyst import refresh
from caregraph.graph.analyst_server import AnalystNeo4j
from caregraph.graph.browser import BrowserSettings
from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.driver import open_driver
from caregraph.graph.guide import DOMAINS, JOURNEY, QUERIES
from caregraph.graph.pseudonyms import Pseudonyms
from caregraph.ontology.deidentification import load_profile
from caregraph.ontology.model import load_ontology
from tests.browser.conftest import Stack, screenshot
from tests.browser.data import PATIENT_NAME
from tests.conftest import managed_settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def analyst(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AnalystNeo4j]:
    """The stack's graph refreshed into an analyst graph whose Browser uses the stack's API."""
    port = urlparse(stack.api_url).port
    assert port is not None
    server = AnalystNeo4j(
        tmp_path_factory.mktemp("analyst-browser") / "neo4j",
        managed_settings(short_lived=True),
        browser=BrowserSettings(port=port),
    )
    try:
        # the refresh creates the store writable, then starts it read-only (a fresh store
        # started read-only first has no database to open)
        deid = Deidentifier(load_profile(load_ontology()), Pseudonyms(b"analyst-browser-test-key"))
        with server.writable() as conn, open_driver(conn) as target:
            refresh(stack.driver, stack.conn.database, target, conn.database, deid, full=True)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def connected(chromium: Browser, analyst: AnalystNeo4j) -> Iterator[Page]:
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(analyst.status().browser_url)
    conn = analyst.connection()
    page.get_by_test_id("boltaddress").fill((conn.uri or "").removeprefix("bolt://"))
    page.get_by_test_id("username").fill(conn.username)
    page.get_by_test_id("password").fill(analyst.password())
    page.get_by_test_id("connect").click()
    try:
        yield page
    finally:
        page.close()


def test_the_journey_runs_in_the_analyst_graph_without_the_patients_name(
    connected: Page,
) -> None:
    command = connected.get_by_test_id("frameCommand").filter(has_text="/browser/guide.html")
    guide = connected.locator("[data-testid=frame]").filter(has=command)
    query = guide.locator("pre#patient-journey")
    expect(guide).to_be_visible(timeout=20_000)
    for _ in range(len(QUERIES) + len(DOMAINS)):
        if query.is_visible():
            break
        guide.get_by_test_id("nextSlide").click()
    query.click()  # a runnable block goes into the editor: Run only once it is there
    expect(connected.get_by_test_id("activeEditor")).to_contain_text("MATCH journey =")
    connected.get_by_test_id("editor-Run").click()
    result = connected.locator("[data-testid=frame]").filter(
        has=connected.get_by_test_id("frameCommand").filter(has_text=JOURNEY.cypher.split("\n")[0])
    )
    overview = result.locator("[data-testid^=property-details-overview-node-label-]")
    expect(overview.first).to_be_visible(timeout=20_000)
    labels = " ".join(overview.all_inner_texts())
    for label in ("Patient (1)", "Encounter (2)", "Claim (1)"):
        assert label in labels, labels
    # the same shape as in the main graph, and nowhere the patient's name
    expect(result.locator("g.node")).not_to_have_count(0)
    for part in PATIENT_NAME.split():
        assert part not in result.inner_text()
        assert part not in connected.content()
    screenshot(connected, "neo4j-browser-analyst-graph-journey")
