"""Precision of ISO 8601 times, and the first instant of the period they name."""

from __future__ import annotations

import pytest

from caregraph.ontology.temporal import earliest, precision_of


@pytest.mark.parametrize(
    ("text", "precision", "first"),
    [
        ("2008", "year", "2008-01-01T00:00"),
        ("2008-03", "month", "2008-03-01T00:00"),
        ("2008-03-05", "day", "2008-03-05T00:00"),
        ("2008-03-05T10", "hour", "2008-03-05T10:00"),
        ("2008-03-05T10-05:00", "hour", "2008-03-05T10:00-05:00"),
        ("2008-03-05T10Z", "hour", "2008-03-05T10:00Z"),
        ("2008-03-05T10:30+01:00", "minute", "2008-03-05T10:30+01:00"),
        ("2008-03-05T10:30:15", None, "2008-03-05T10:30:15"),
        ("2008-03-05T10:30:15.250-05:00", None, "2008-03-05T10:30:15.250-05:00"),
    ],
)
def test_precision_and_first_instant(text: str, precision: str | None, first: str) -> None:
    assert precision_of(text) == precision
    assert earliest(text) == first
