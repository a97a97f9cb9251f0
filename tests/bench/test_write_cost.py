"""The write cost's comparison across sizes (bench/write_cost.py)."""

from __future__ import annotations

from bench.write_cost import ratios


def test_each_source_is_its_largest_size_over_its_smallest() -> None:
    by_size = {
        "10000": {"ehr": 0.9, "pacs": 1.5, "payer": None},
        "1000": {"ehr": 1.2, "pacs": 1.0, "payer": 1.1, "adt": 0.0},
        "2000": {"ehr": 5.0, "pacs": 5.0},  # neither the smallest nor the largest
    }
    assert ratios(by_size) == {"ehr": 0.75, "pacs": 1.5, "payer": None, "adt": None}
