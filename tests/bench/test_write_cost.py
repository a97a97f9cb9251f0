"""The write cost's comparison across sizes (bench/report.py ``compare_write_cost``, which
``make bench`` and ``python -m bench.write_cost`` both use)."""

from __future__ import annotations

from bench.report import TARGETS, compare_write_cost


def test_each_source_is_its_largest_size_over_its_smallest() -> None:
    ms = {
        "ehr": {"10000": 0.9, "1000": 1.2, "2000": 5.0},  # 2000: neither smallest nor largest
        "pacs": {"10000": 1.5, "1000": 1.0, "2000": 5.0},
        "payer": {"10000": None, "1000": 1.1},
        "adt": {"1000": 0.0},
    }
    got = compare_write_cost(ms)
    assert {s: c["ratio_largest_to_smallest"] for s, c in got.items()} == {
        "ehr": 0.75,
        "pacs": 1.5,
        "payer": None,
        "adt": None,
    }
    assert got["ehr"]["sizes_compared"] == [1000, 10000]
    assert TARGETS["write_cost_scale"] < 1.5
    assert {s: c["meets_target"] for s, c in got.items()} == {
        "ehr": True,
        "pacs": False,
        "payer": None,
        "adt": None,
    }
