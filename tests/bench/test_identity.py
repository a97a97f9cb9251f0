"""bench/identity.py's arithmetic: precision and recall over pairs of registrations."""

from __future__ import annotations

from bench.identity import scores


def test_precision_and_recall_count_pairs() -> None:
    truth = {("1", "8"), ("2", "9"), ("3", "7")}
    joined = {("1", "8"), ("2", "9"), ("4", "5")}
    assert scores(truth, joined) == {"pairs": 3, "true": 2, "precision": 0.6667, "recall": 0.6667}
    # nothing joined: no precision to speak of, recall 0
    assert scores(truth, set()) == {"pairs": 0, "true": 0, "precision": None, "recall": 0.0}
