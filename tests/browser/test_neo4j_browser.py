"""Neo4j Browser, as an analyst meets it: connect, and caregraph's style and guide are there;
click the patient-journey query and the graph shows the patient, the visit and the claim."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from caregraph.graph.browser import style_grass
from caregraph.graph.guide import DOMAINS, JOURNEY, QUERIES, TITLE
from tests.browser.conftest import Stack, screenshot
from tests.browser.data import PATIENT_NAME

pytestmark = pytest.mark.browser


def grass_rule(selector: str) -> dict[str, str]:
    """The properties of one rule of the committed GraSS."""
    match = re.search(re.escape(selector) + r" \{\n(.*?)\n\}", style_grass(), re.S)
    assert match, f"no {selector} rule in the GraSS"
    pairs = (line.strip().rstrip(";").split(":", 1) for line in match.group(1).splitlines())
    return {k.strip(): v.strip() for k, v in (p for p in pairs if len(p) == 2)}


@pytest.fixture(scope="module")
def connected(chromium: Browser, stack: Stack) -> Iterator[Page]:
    """Neo4j Browser, logged in with the managed server's credentials."""
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(stack.browser_url)
    bolt = stack.conn.uri or ""
    page.get_by_test_id("boltaddress").fill(bolt.removeprefix("bolt://"))
    page.get_by_test_id("username").fill(stack.conn.username)
    page.get_by_test_id("password").fill(stack.conn.password.get_secret_value())  # type: ignore[union-attr]
    page.get_by_test_id("connect").click()
    try:
        yield page
    finally:
        page.close()


def test_connecting_applies_the_style_and_opens_the_guide(connected: Page, stack: Stack) -> None:
    commands = connected.get_by_test_id("frameCommand")
    # Browser ran the server's post-connect commands by itself, once the connection is made:
    # on a busy 2-core machine that took longer than expect's 5 s default (a CI run failed here)
    expect(commands.filter(has_text=f":play {stack.api_url}/browser/guide.html")).to_have_count(
        1, timeout=30_000
    )
    expect(
        commands.filter(has_text=f":style {stack.api_url}/browser/caregraph.grass")
    ).to_have_count(1)
    expect(connected.get_by_role("heading", name=TITLE)).to_be_visible(timeout=20_000)
    # the :style frame shows the style in force: caregraph's rules, not Browser's defaults
    expect(connected.get_by_text("node.Patient {")).to_be_visible()
    screenshot(connected, "neo4j-browser-on-connect")


def guide_frame(page: Page) -> Locator:
    """The frame of the guide Browser played on connect (its slides change, its command not)."""
    command = page.get_by_test_id("frameCommand").filter(has_text="/browser/guide.html")
    return page.locator("[data-testid=frame]").filter(has=command)


def test_the_guide_pictures_the_model(connected: Page) -> None:
    guide = guide_frame(connected)
    guide.get_by_test_id("nextSlide").click()
    pictures = -(-len(DOMAINS) // 2)  # two domains to a slide
    expect(guide.get_by_role("heading", name=f"The model (1/{pictures})")).to_be_visible()
    for cls in ("Patient", "Practitioner", "Encounter"):
        expect(guide.locator(f'svg g.class[data-class="{cls}"]')).to_be_visible()
    expect(guide.get_by_text("HAS_ENCOUNTER \u2192 Encounter")).to_be_visible()
    screenshot(connected, "neo4j-browser-guide-model")


def test_clicking_the_journey_query_shows_patient_encounter_and_claim(connected: Page) -> None:
    guide = guide_frame(connected)
    query = guide.locator("pre#patient-journey")
    for _ in range(len(QUERIES) + len(DOMAINS)):  # from whichever slide the guide is on
        if query.is_visible():
            break
        guide.get_by_test_id("nextSlide").click()
    query.click()  # a runnable block goes into the editor
    expect(connected.get_by_test_id("activeEditor")).to_contain_text("MATCH journey =")
    connected.get_by_test_id("editor-Run").click()

    result = connected.locator("[data-testid=frame]").filter(
        has=connected.get_by_test_id("frameCommand").filter(has_text=JOURNEY.cypher.split("\n")[0])
    )
    overview = result.locator("[data-testid^=property-details-overview-node-label-]")
    expect(overview.first).to_be_visible(timeout=20_000)
    labels = " ".join(overview.all_inner_texts())
    for label in ("Patient (1)", "Encounter (2)", "Claim (1)", "ImagingStudy (1)"):
        assert label in labels, labels

    # the style is applied in the drawing: the patient's caption is its display name, in
    # the GraSS's colour and size for Patient (Browser's default is another colour, 50px)
    patient = result.locator("g.node").filter(has_text=PATIENT_NAME)
    expect(patient).to_have_count(1)
    ring = patient.locator("circle.b-outline")
    rule = grass_rule("node.Patient")
    assert ring.get_attribute("fill") == rule["color"]
    assert float(ring.get_attribute("r") or 0) * 2 == float(rule["diameter"].removesuffix("px"))
    claim = result.locator("g.node").filter(has_text="claim c1a1m000")
    expect(claim.locator("circle.b-outline")).to_have_attribute(
        "fill", grass_rule("node.Claim")["color"]
    )
    screenshot(connected, "neo4j-browser-patient-journey")
