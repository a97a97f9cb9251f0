"""How precisely a time is known, as stored beside it, and what that means for windows.

A source may give a time to the year (``2008``), month, day, hour or minute (HL7 v2 DTM, FHIR
dateTime and X12 dates all allow it). The graph stores the earliest instant of that period as a
zoned DateTime in ``<property>`` (so ordering, indexes and Neo4j Browser work as for any time)
and the period's size in ``<property>Precision`` (absent when the time is known to the second).
An event known to the day 2008-03-05 falls in a window that overlaps 2008-03-05, whatever the
hour the window starts at.
"""

from __future__ import annotations

# precision name -> the Cypher duration of the period it names (earliest instant + duration =
# the end of the period); seconds and finer are "known", stored without a precision
PRECISIONS: dict[str, str] = {
    "year": "P1Y",
    "month": "P1M",
    "day": "P1D",
    "hour": "PT1H",
    "minute": "PT1M",
}
SUFFIX = "Precision"


def precision_property(prop: str) -> str:
    """The property that holds ``prop``'s precision: start -> startPrecision."""
    return f"{prop}{SUFFIX}"


def precision_of(text: str) -> str | None:
    """The precision of an ISO 8601 date or date-time text; None when known to the second."""
    date_part, _, time_part = text.partition("T")
    if not time_part:
        return {4: "year", 7: "month"}.get(len(date_part), "day")
    clock = time_part
    for sign in ("Z", "+", "-"):
        clock = clock.split(sign, 1)[0]
    parts = clock.split(":")
    return {1: "hour", 2: "minute"}.get(len(parts))


def earliest(text: str) -> str:
    """The first instant of the period an ISO text names, as text ``datetime`` reads.

    ``2008`` -> ``2008-01-01T00:00``, ``2008-03-05T10-05:00`` -> ``2008-03-05T10:00-05:00``.
    (``datetime.fromisoformat`` in Python 3.11 reads neither a year alone nor an hour without
    minutes, so the text is completed here.)
    """
    date_part, _, rest = text.partition("T")
    if len(date_part) == 4:
        date_part += "-01-01"
    elif len(date_part) == 7:
        date_part += "-01"
    if not rest:
        return f"{date_part}T00:00"
    if len(rest) == 2 or (len(rest) > 2 and rest[2] in "Z+-"):
        rest = f"{rest[:2]}:00{rest[2:]}"
    return f"{date_part}T{rest}"
