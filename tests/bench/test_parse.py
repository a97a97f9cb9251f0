"""bench.parse: every source's read rate, and both X12 readers reading the same records."""

from __future__ import annotations

from pathlib import Path

from bench.parse import measure


def test_every_source_is_measured_and_both_x12_readers_read_the_same_records(
    tmp_path: Path,
) -> None:
    result = measure(patients=4, rounds=1, out=tmp_path)
    sources = result["sources"]
    assert {"ehr", "adt", "pacs", "scheduling"} <= set(sources)
    assert all(s["records"] > 0 and s["records_per_s"] > 0 for s in sources.values())
    for feed in ("billing", "payer"):
        fast, full = sources[f"{feed} (fast reader)"], sources[f"{feed} (pyx12 reader)"]
        assert fast["records"] == full["records"] > 0
