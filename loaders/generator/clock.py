"""Time in the synthetic health system: a fixed 'as of' day and US Central offsets.

The data set is dated against a fixed day, never the wall clock, so that the same seed
always writes the same bytes. Riverside is in Illinois: local times carry the US Central
offset of their day (-05:00 in daylight saving time, -06:00 otherwise). The rule is computed
here rather than read from the host's time zone database so that the output does not depend
on which tzdata a machine has.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

AS_OF = date(2025, 6, 30)
WINDOW_DAYS = 730  # encounters fall in the two years before AS_OF ...
QUIET_DAYS = 60  # ... but not in its last weeks, so that their claims can be paid by AS_OF
CST = timezone(timedelta(hours=-6))
CDT = timezone(timedelta(hours=-5))


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def central(local: datetime) -> datetime:
    """A naive local time in Riverside with its offset (US rule since 2007)."""
    year = local.year
    dst_start = datetime.combine(_nth_sunday(year, 3, 2), datetime.min.time()).replace(hour=2)
    dst_end = datetime.combine(_nth_sunday(year, 11, 1), datetime.min.time()).replace(hour=2)
    zone = CDT if dst_start <= local < dst_end else CST
    return local.replace(tzinfo=zone)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local time on ``day``, with its offset."""
    return central(datetime(day.year, day.month, day.day, hour, minute))


def shift(moment: datetime, **delta: float) -> datetime:
    """``moment`` moved by a wall-clock duration, with the offset of the new local time."""
    return central(moment.replace(tzinfo=None) + timedelta(**delta))


def next_friday(day: date) -> date:
    """Payers pay in weekly runs: the first Friday on or after ``day``."""
    return day + timedelta(days=(4 - day.weekday()) % 7)


def iso(moment: datetime) -> str:
    """ISO 8601 with the offset, to the second (FHIR dateTime, caregraph records)."""
    return moment.isoformat(timespec="seconds")


def hl7_dtm(moment: datetime) -> str:
    """HL7 v2 DTM with the offset: YYYYMMDDHHMMSS+ZZZZ."""
    return moment.strftime("%Y%m%d%H%M%S%z")


def da(day: date) -> str:
    """YYYYMMDD: DICOM DA, HL7 DT, X12 D8."""
    return day.strftime("%Y%m%d")
