"""The second batch's figures: a source's report adds up only when every file reconciles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.batch import BatchLoad, SourceRun
from caregraph.graph.settings import Neo4jSettings


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


def test_a_cancelled_load_starts_no_further_source_and_leaves_no_process(tmp_path: Path) -> None:
    nowhere = Neo4jSettings(uri="bolt://127.0.0.1:9", username="neo4j", password="x")
    feeds = [(name, [tmp_path / "none.ndjson"]) for name in ("ehr", "scheduling", "adt")]
    batch = BatchLoad(feeds, tmp_path / "identity.toml", nowhere, tmp_path / "home", tmp_path)
    batch.start()
    batch.cancel()
    assert batch.wait(120) is False  # a bound that only a hang reaches
    assert len(batch.runs) <= 1
    for run in batch.runs:  # killed, or refused for the missing file: never a whole load
        assert run.exit_code != 0 and not run.figures()["adds_up"]
    assert len(list(tmp_path.glob("load-*.log"))) <= 1
