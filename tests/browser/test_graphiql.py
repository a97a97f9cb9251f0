"""GraphiQL at /graphql in a real browser: it opens on the examples, a key goes in the
Authorization header, and running an example shows the answer from the graph."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from caregraph.api.auth import KeyStore, Role
from caregraph.api.graphiql import EXAMPLES
from tests.browser.conftest import Stack, screenshot
from tests.browser.data import PATIENT, PATIENT_NAME

pytestmark = pytest.mark.browser

SYNTHEA = "https://github.com/synthetichealth/synthea"


@pytest.fixture
def graphiql(chromium: Browser, stack: Stack) -> Iterator[Page]:
    page = chromium.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{stack.api_url}/graphql")
    expect(page.locator(".graphiql-container")).to_be_visible(timeout=20_000)
    try:
        yield page
    finally:
        page.close()


def set_editor(page: Page, selector: str, text: str) -> None:
    """Replace an editor's text as a user's paste would (GraphiQL's editors are CodeMirror)."""
    page.locator(selector).evaluate("(el, text) => el.CodeMirror.setValue(text)", text)


def test_graphiql_opens_with_the_examples(graphiql: Page) -> None:
    tabs = graphiql.locator(".graphiql-tab")
    titles = ["PatientContext", "EncounterContext", "PractitionerSchedule", "Service"]
    # a tab's text is its operation's name, then its close button's label
    expect(tabs).to_have_text([re.compile(f"^{t}") for t in titles])
    # the headers editor is open, with the Authorization header to fill in
    expect(graphiql.locator(".graphiql-editor-tool")).to_contain_text('"Authorization"')


def test_an_example_runs_with_a_key(graphiql: Page, stack: Stack) -> None:
    key = KeyStore(stack.driver, stack.conn.database).create(Role.clinician, "browser-test")
    title = "PatientContext"
    variables = {
        "patient": f"{SYNTHEA}|{PATIENT}",
        "from": "2024-01-01T00:00:00Z",
        "to": "2024-12-31T23:59:59Z",
    }
    graphiql.locator(".graphiql-tab", has_text=title).click()
    graphiql.locator(".graphiql-editor-tools").get_by_text("Headers").click()
    set_editor(
        graphiql,
        ".graphiql-editor-tool .CodeMirror >> visible=true",
        json.dumps({"Authorization": f"Bearer {key}"}),
    )
    graphiql.locator(".graphiql-editor-tools").get_by_text("Variables").click()
    set_editor(graphiql, ".graphiql-editor-tool .CodeMirror >> visible=true", json.dumps(variables))

    with graphiql.expect_response(
        lambda r: r.request.method == "POST" and title in (r.request.post_data or "")
    ) as answered:
        graphiql.locator(".graphiql-execute-button").click()
    sent = answered.value
    assert sent.request.headers.get("authorization") == f"Bearer {key}"
    body = sent.json()
    assert "errors" not in body, body
    data = body["data"]["patientContext"]
    assert data["patient"]["display"] == PATIENT_NAME
    assert data["totalEvents"] >= 4  # two visits, a claim, an image
    kinds = {k["kind"] for k in data["included"]}
    assert {"Encounter", "Claim", "ImagingStudy"} <= kinds, kinds
    assert "2024-05-01" in data["text"] and "2024-06-12" in data["text"], data["text"]
    # and GraphiQL shows it
    expect(graphiql.locator(".graphiql-response")).to_contain_text(PATIENT_NAME, timeout=10_000)
    screenshot(graphiql, f"graphiql-{title}")
    assert [e.title for e in EXAMPLES][:3] == [
        "Patient context", "Encounter context", "Practitioner schedule",
    ]  # fmt: skip
