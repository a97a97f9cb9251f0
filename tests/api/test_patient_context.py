"""patientContext: one ordered timeline, a text within the token budget, honest omissions."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest

from tests.api.conftest import ADA, JANE, Gql

CONTEXT = """query($id: String!, $from: DateTime, $to: DateTime, $budget: Int, $after: String) {
  patientContext(identifier: $id, from: $from, to: $to, budgetTokens: $budget, after: $after) {
    patient { key } text budgetTokens estimatedTokens tokenEstimator truncated totalEvents
    earlierEvents nextCursor included { kind count } omitted { kind count }
    timeline { edges { node { __typename kind time key } } } } }"""


def context(gql: Gql, **variables: object) -> dict:
    run = gql(CONTEXT, {"id": ADA, **variables})
    data: dict = run.data["patientContext"]
    return data


def counts(kinds: list[dict]) -> dict[str, int]:
    return {k["kind"]: k["count"] for k in kinds}


def test_one_ordered_timeline_of_every_kind(gql: Gql) -> None:
    ctx = context(gql, id=JANE)
    assert ctx["patient"] == {"key": JANE}
    assert ctx["truncated"] is False and ctx["nextCursor"] is None and ctx["omitted"] == []
    # the claim (dated, so at 00:00 UTC), the visit, the appointment, the CT, the payment:
    # each once, by time
    timeline = [(e["node"]["kind"], e["node"]["time"]) for e in ctx["timeline"]["edges"]]
    assert timeline == [
        ("Claim", "2024-05-01T00:00:00+00:00"),
        ("Encounter", "2024-05-01T08:30:00-05:00"),
        ("Appointment", "2024-05-01T09:00:00-05:00"),
        ("ImagingStudy", "2024-05-01T10:00:00-05:00"),
        ("Remittance", "2024-05-15T00:00:00+00:00"),
    ]
    assert ctx["totalEvents"] == 5 and sum(counts(ctx["included"]).values()) == 5


def test_text_names_the_links_and_the_rules_behind_them(gql: Gql) -> None:
    text = context(gql, id=JANE)["text"]
    lines = text.splitlines()
    assert lines[0].startswith("Patient: JANE DOE; born 1980-01-02; female; ids HOSP|MRN001")
    assert lines[1].startswith("[C1] 2024-05-01 Claim control V100 charge 150.00")
    assert lines[2].startswith("[E1] 2024-05-01T08:30-05:00 Encounter IMP in-progress")
    assert "practitioners: JOHN SMITH (attending), ANN JONES (referring)" in lines[2]
    appointment = next(x for x in lines if x.startswith("[A1]"))
    assert "for E1 (linked by rule same-patient-practitioner-time)" in appointment
    study = next(x for x in lines if x.startswith("[I1]"))
    assert '"CT CHEST"' in study and "referrer: JOHN SMITH" in study
    claim = next(x for x in lines if x.startswith("[C1]"))
    assert "charge 150.00" in claim and "linked by rule claim-visit-number" in claim
    payment = next(x for x in lines if x.startswith("[R1]"))
    assert payment.startswith("[R1] 2024-05-15 Remittance paid 110.00") and "for C1" in payment
    assert lines[-1] == "All events in the window are shown."


def test_window(gql: Gql) -> None:
    ctx = context(gql, **{"from": "2024-03-01T00:00:00Z", "to": "2024-06-01T00:00:00Z"})
    assert ctx["totalEvents"] == 6
    assert counts(ctx["included"]) == {
        "Claim": 2, "Encounter": 2, "ImagingStudy": 1, "Remittance": 1
    }  # fmt: skip
    assert "Events from 2024-03-01T00:00+00:00 to 2024-06-01T00:00+00:00" in ctx["text"]
    assert "Checkup" not in ctx["text"] and "Follow-up" not in ctx["text"]


@pytest.mark.parametrize("budget", [60, 90, 120, 200, 400, 2000])
def test_text_fits_the_budget(gql: Gql, budget: int) -> None:
    ctx = context(gql, budget=budget)
    assert ctx["tokenEstimator"] == "ceil(characters / 4)"
    assert ctx["estimatedTokens"] == math.ceil(len(ctx["text"]) / 4) <= budget
    assert ctx["budgetTokens"] == budget
    shown = sum(counts(ctx["included"]).values())
    left = sum(counts(ctx["omitted"]).values())
    assert shown + left == ctx["totalEvents"] == 10
    assert ctx["truncated"] is (left > 0)
    assert len(ctx["timeline"]["edges"]) == shown


def test_what_is_left_out_is_counted_and_fetched_with_the_cursor(gql: Gql) -> None:
    first = context(gql, budget=150)
    assert first["truncated"] is True and first["nextCursor"]
    left = counts(first["omitted"])
    assert "Not shown (over the token budget)" in first["text"]
    for kind, n in left.items():
        assert f"{n} {kind}" in first["text"]
    seen = [e["node"]["key"] for e in first["timeline"]["edges"]]
    cursor, pages = first["nextCursor"], 1
    while cursor:
        page = context(gql, budget=150, after=cursor)
        pages += 1
        assert page["earlierEvents"] == len(seen)
        assert page["totalEvents"] == 10
        seen += [e["node"]["key"] for e in page["timeline"]["edges"]]
        cursor = page["nextCursor"]
        if page["truncated"]:
            assert cursor
        else:
            assert page["text"].endswith("All events in the window are shown.")
    assert len(seen) == len(set(seen)) == 10 and pages > 2
    whole = context(gql, budget=4000)
    assert [e["node"]["key"] for e in whole["timeline"]["edges"]] == seen


def test_a_budget_too_small_for_one_event_says_so(gql: Gql) -> None:
    ctx = context(gql, budget=50)
    assert ctx["truncated"] is True and ctx["included"] == []
    header, closing = ctx["text"].split("\n")
    assert header.startswith("Patient: Ada Lovelace")
    assert closing == (
        "Not shown: 3 Claim, 4 Encounter, 1 ImagingStudy, 2 Remittance; no event fits the "
        "budget: raise budgetTokens."
    )
    assert ctx["estimatedTokens"] <= 50


def test_a_budget_below_the_minimum_is_refused(gql: Gql) -> None:
    (error,) = gql(CONTEXT, {"id": ADA, "budget": 10}).errors
    assert error["extensions"]["code"] == "BAD_ARGUMENT" and "at least 50" in error["message"]


def test_unknown_patient_is_null(gql: Gql) -> None:
    assert gql(CONTEXT, {"id": "nobody"}).data == {"patientContext": None}


class HidePolicy:
    """A policy that hides some fields, narrowing the caller's role (the roles themselves are
    tested in test_roles.py; hiding Patient.identifiers would refuse the lookup by identifier
    itself, since filtering by a field is reading it)."""

    hidden: ClassVar[set[tuple[str, str]]] = {
        ("Patient", "birthDate"),
        ("Practitioner", "name"),
        ("Claim", "totalCharge"),
    }

    def allows(self, type_name: str, field_name: str) -> bool:
        return (type_name, field_name) not in self.hidden


def test_text_shows_only_fields_the_policy_allows(gql: Gql) -> None:
    shown = gql(CONTEXT, {"id": ADA}).data["patientContext"]["text"]
    assert "1970-03-04" in shown and "Gregory House" in shown and "charge 120.50" in shown
    hidden = gql(CONTEXT, {"id": ADA}, narrow=HidePolicy()).data["patientContext"]["text"]
    for value in ("1970-03-04", "Gregory House", "Meredith Grey", "charge 120.50"):
        assert value not in hidden
    assert "Ada Lovelace" in hidden and "General Hospital" in hidden  # allowed fields stay


def test_round_trips(gql: Gql) -> None:
    run = gql(CONTEXT, {"id": JANE, "budget": 2000})
    assert run.data["patientContext"]["totalEvents"] == 5
    # the patient; then its timeline and its identifiers, side by side (+ cached fan-out)
    assert run.context.reader.round_trips <= 4
