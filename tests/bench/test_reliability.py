"""The reliability report: what the tests record reaches docs/reliability.md, with every limit
in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import reliability
from caregraph.api.settings import ApiSettings
from caregraph.loaders.limits import LoadLimits

MACHINE = {
    "cpu": "AMD EPYC",
    "cores": 2,
    "memory_gb": 23.5,
    "os": "Debian 12",
    "python": "3.11.7",
    "load_average_at_start": [0.5, 0.4, 0.3],
}


def test_figures_recorded_by_a_test_reach_the_report(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lines = tmp_path / "figures.jsonl"
    monkeypatch.setenv("CAREGRAPH_RELIABILITY_FIGURES", str(lines))
    record = request.getfixturevalue("figures")
    record("parser-fuzz", file="adt.hl7", inputs=1000, rejected=412)
    record("parser-fuzz", file="claims.837", inputs=1000, rejected=97)
    record("faults", fault="neo4j-killed-mid-load", rerun_equals_clean=True)

    figures = reliability.read_figures(lines)
    assert [f["file"] for f in figures["parser-fuzz"]] == ["adt.hl7", "claims.837"]
    assert figures["faults"][0]["test"].endswith("test_figures_recorded_by_a_test_reach_the_report")

    doc = reliability.render(
        {
            "machine": MACHINE,
            "finished": "2026-12-03T08:00:00+00:00",
            "tests": {
                "suites": ["tests/loaders/test_fuzz.py"],
                **{"tests": 40, "failures": 0, "errors": 0, "skipped": 1, "seconds": 99.0},
            },
            "figures": figures,
        }
    )
    assert "### parser-fuzz" in doc and "### faults" in doc
    assert "| adt.hl7 | 1000 | 412 |" in doc
    # a table per kind of fault, its name above it
    assert "neo4j-killed-mid-load:\n\n| rerun_equals_clean |\n|---|\n| True |" in doc
    assert "Long variants of `tests/loaders/test_fuzz.py`: 40 tests in 99.0 s: 0 failed" in doc


def test_without_the_variable_a_test_records_nothing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAREGRAPH_RELIABILITY_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    request.getfixturevalue("figures")("soak", requests=10)
    assert list(tmp_path.iterdir()) == []


def test_every_limit_in_force_is_listed_with_its_setting_and_default() -> None:
    table = reliability.limits_table()
    assert "| `CAREGRAPH_API_MAX_IN_FLIGHT` | `4` |" in table
    assert "| `CAREGRAPH_LOAD_MAX_IDENTIFIERS` | `50` |" in table
    for name in ApiSettings.model_fields:
        if name not in ("host", "port", "cursor_key", "pseudonym_key"):
            assert f"`CAREGRAPH_API_{name.upper()}`" in table
    for name in LoadLimits.model_fields:
        assert f"`CAREGRAPH_LOAD_{name.upper()}`" in table


def test_overload_figures_become_one_row_per_mode_and_client_count() -> None:
    cell = {
        "answered": {"count": 900, "p50_ms": 30.1, "p99_ms": 250.0, "max_ms": 400.2},
        "answered_per_s": 30.0,
        "refused": {"count": 4000, "p50_ms": 2.0, "p99_ms": 9.5, "max_ms": 20.0},
        "errors": {"count": 0},
        "error_kinds": {},
    }
    doc = "\n".join(
        reliability._overload(
            {"patients": 1000, "duration_s": 30, "modes": {"admission": {"32": cell, "128": cell}}}
        )
    )
    assert "| admission | 32 | 900 | 30.0 | 30.1 / 250.0 / 400.2 | 4000 | 9.5 / 20.0 | 0  |" in doc
    assert "| admission | 128 |" in doc
