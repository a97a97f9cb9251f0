"""Percentiles, summaries and ratios of the benchmark's cells."""

from __future__ import annotations

import math

import pytest

from bench.stats import percentile, ratio, summarize


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == 25.0  # halfway between 20 and 30
    assert percentile(values, 95) == pytest.approx(38.5)


def test_percentile_ignores_input_order() -> None:
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 99) == 7.0


def test_percentile_refuses_nothing_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summary_in_milliseconds_and_requests_per_second() -> None:
    s = summarize([0.001, 0.002, 0.003, 0.004], errors=1, seconds=2.0)
    assert s.requests == 4
    assert s.errors == 1
    assert s.p50_ms == pytest.approx(2.5)
    assert s.mean_ms == pytest.approx(2.5)
    assert s.throughput_rps == 2.0
    assert s.as_json()["p50_ms"] == 2.5


def test_summary_of_a_cell_without_answers_has_no_latency() -> None:
    s = summarize([], errors=3, seconds=1.0)
    assert s.requests == 0 and s.throughput_rps == 0.0
    assert math.isnan(s.p50_ms)


def test_ratio_is_none_when_a_side_is_missing() -> None:
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(1.0, 0.0) is None
    assert ratio(float("nan"), 1.0) is None
