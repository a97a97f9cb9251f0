"""The scorecard's HTML report, opened in headless Chromium from a file with the network cut.

A small Riverside Health is loaded in three runs (the EHR's first patient, billing, then the
EHR's other patients), so the report has a history to draw; the page must draw its three
charts from the plotly it embeds, request nothing from anywhere, and list every measure.
"""

from __future__ import annotations

from pathlib import Path

from neo4j import Driver
from playwright.sync_api import Browser, Route

from caregraph.api.scorecard_html import render_html
from caregraph.graph import scorecard
from caregraph.loaders.generator import generate
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from tests.browser.conftest import screenshot


def test_report_opens_offline_with_its_charts_and_every_measure(
    clean_graph: Driver, database: str, chromium: Browser, tmp_path: Path
) -> None:
    data = tmp_path / "riverside"
    manifest = generate(data, 3, seed=0, layout="files")
    identity = IdentityConfig.from_file(data / "identity.toml")
    bundles = sorted((data / "fhir").glob("patients-*/patient-*.json"))
    first = [b for b in bundles if b.name == "patient-000000.json"]
    runs = [
        ("ehr", [data / "fhir" / "directory.json", *first]),
        ("billing", [data / p for p in manifest["sources"]["billing"]]),
        ("ehr", [b for b in bundles if b not in first]),
    ]
    for source, paths in runs:
        load(paths, driver=clean_graph, database=database, source=source, identity=identity)
    card = scorecard.card(clean_graph, database)
    report = tmp_path / "scorecard.html"
    report.write_text(render_html(card), encoding="utf-8")

    requested: list[str] = []

    def only_the_file(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            route.abort()

    page = chromium.new_page(viewport={"width": 1300, "height": 1900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.route("**/*", only_the_file)
        page.goto(report.as_uri())
        page.wait_for_selector("#chart-freshness .main-svg", timeout=30_000)
        for chart in ("continuity", "reasons", "freshness"):
            assert page.locator(f"#chart-{chart} .main-svg").count() >= 1, chart
        # the continuity chart has a line per share, with a point per load run
        legend = page.locator("#chart-continuity .legendtext").all_text_contents()
        assert "claims-linked-to-encounter (financial)" in legend
        claims = page.evaluate(
            "() => document.getElementById('chart-continuity').data"
            ".find(t => t.name.startsWith('claims-linked')).y"
        )
        # no claims before billing's run, then the gap, then the fix
        assert claims[0] is None and 0 < claims[1] < 1.0 and claims[-1] == 1.0
        text = page.locator("table").inner_text()
        for d in scorecard.DEFINITIONS:
            assert d.name in text, d.name
        screenshot(page, "scorecard-report")
    finally:
        page.close()
    assert errors == []
    assert [u for u in requested if not u.startswith("file://")] == []
