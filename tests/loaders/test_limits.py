"""Bounds on one record (issue 15): over a limit, the record is rejected whole with code
`limit`, naming the limit and its setting; the rest of the file loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders.limits import LoadLimits
from caregraph.loaders.pipeline import load
from tests.loaders.conftest import count

MSH = "MSH|^~\\&|ADT|HOSP|CG|CG|20240301090000||ADT^A04|{id}|P|2.5"
PV1 = "PV1|1|O|CLINIC^1^1||||||||||||||||V{id}|||||||||||||||||||||||||20240301090000"


def message(control: str, mrns: int) -> str:
    ids = "~".join(f"M{i}^^^HOSP^MR" for i in range(mrns))
    pid = f"PID|1||{ids}||DOE^JANE||19700506|F"
    return "\r".join([MSH.format(id=control), pid, PV1.format(id=control)]) + "\r"


def test_ten_thousand_identifier_repetitions_are_rejected_by_name(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    path = tmp_path / "feed.hl7"
    path.write_text(message("C1", 10_000) + message("C2", 2))
    report = load([path], driver=clean_graph, database=database, source="adt")
    (reject,) = report.rejects
    assert reject.code == "limit" and reject.ref.record_id == "C1"
    assert "identifiers of individual 1: 10000, more than the limit of 50" in reject.reason
    assert "CAREGRAPH_LOAD_MAX_IDENTIFIERS" in reject.reason
    assert "M9999" not in reject.reason
    # the other message loads; no patient gathers the junk identifiers
    assert report.total("written") == 1
    assert count(
        clean_graph, database,
        "MATCH (p:Patient) RETURN max(COUNT { (p)<-[:IDENTIFIES]-() })",
    ) == 2  # fmt: skip
    # a health system that needs more says so, and a message over the default loads (one of
    # 60 identifiers: writing 10,000 identifiers of one patient takes half a minute)
    over = tmp_path / "over.hl7"
    over.write_text(message("C3", 60))
    assert load([over], driver=clean_graph, database=database, source="adt").exit_code == 1
    again = load(
        [over], driver=clean_graph, database=database, source="adt",
        limits=LoadLimits(max_identifiers=100),
    )  # fmt: skip
    assert again.exit_code == 0 and again.total("written") == 1


def test_a_megabyte_value_is_a_clear_rejection_of_its_record(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    huge = {"resourceType": "Patient", "id": "p1", "name": [{"family": "X" * 1_000_000}],
            "identifier": [{"system": "urn:mrn", "value": "1"}]}  # fmt: skip
    fine = {"resourceType": "Patient", "id": "p2", "name": [{"family": "Doe"}],
            "identifier": [{"system": "urn:mrn", "value": "2"}]}  # fmt: skip
    path = tmp_path / "patients.ndjson"
    path.write_text(json.dumps(huge) + "\n" + json.dumps(fine) + "\n")
    report = load([path], driver=clean_graph, database=database, source="ehr")
    (reject,) = report.rejects
    assert reject.code == "limit" and reject.ref.position == "line 1"
    assert "characters of familyName of individual 1: 1000000" in reject.reason
    assert "CAREGRAPH_LOAD_MAX_TEXT" in reject.reason
    assert "truncated" not in reject.reason
    assert (
        count(clean_graph, database, "MATCH (p:Patient {familyName: 'Doe'}) RETURN count(p)") == 1
    )


def test_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREGRAPH_LOAD_MAX_VALUES", "7")
    assert LoadLimits().max_values == 7
    assert LoadLimits().setting("max_values") == "CAREGRAPH_LOAD_MAX_VALUES"
