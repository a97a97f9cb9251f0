"""The second batch's figures: a source's report adds up only when every file reconciles."""

from __future__ import annotations

from typing import Any

from bench.batch import SourceRun


def report(read: int, written: int, skipped: int = 0, rejected: int = 0) -> dict[str, Any]:
    file = {"read": read, "written": written, "skipped": skipped, "rejected": rejected,
            "not_attempted": 0}  # fmt: skip
    totals = {"read": read, "written": written, "skipped": skipped, "rejected": rejected}
    return {"totals": totals, "files": [file], "fatal": None, "seconds": 1.5}


def test_a_source_adds_up_when_read_is_written_skipped_and_rejected() -> None:
    figures = SourceRun("ehr", 1, 3.0, report(10, 7, skipped=1, rejected=2)).figures()
    assert figures["adds_up"] and figures["read"] == 10 and figures["exit_code"] == 1
    assert not SourceRun("ehr", 0, 3.0, report(10, 7)).figures()["adds_up"]


def test_a_source_without_a_report_or_with_a_fatal_error_does_not_add_up() -> None:
    assert not SourceRun("ehr", 2, 3.0, None).figures()["adds_up"]
    fatal = {**report(10, 10), "fatal": "Neo4j went away"}
    assert not SourceRun("ehr", 2, 3.0, fatal).figures()["adds_up"]
