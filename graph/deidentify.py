"""A de-identification profile applied to one node's or relationship's properties.

The profile (``ontology/deidentification.toml``) says what to do with each property; this
module does it to values as the driver returns them. A property the profile does not classify
is removed and counted by class and name (never by value) in :attr:`Deidentifier.unclassified`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from neo4j.time import Date, DateTime

from caregraph.ontology.deidentification import (
    BIRTH_YEAR,
    KEEP,
    PSEUDONYMISE,
    REMOVE,
    YEAR,
    ZIP3,
    Profile,
)
from caregraph.ontology.temporal import precision_property

_ZIP = re.compile(r"^(\d{3})\d{2}(-?\d{4})?$")
_YEAR_TEXT = re.compile(r"^(\d{4})")
_GONE = object()  # a value the action removes


@dataclass
class Deidentifier:
    """One profile, one pseudonym key and one day (for ages) applied to property maps."""

    profile: Profile
    pseudonym: Callable[[str], str]
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    # (class, property) -> how many values were removed because the profile does not say
    unclassified: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def oldest_year(self) -> int:
        """The birth year that stands for everyone older than the profile's oldest age."""
        return self.today.year - self.profile.oldest_age - 1

    def node(self, labels: Iterable[str], props: Mapping[str, Any]) -> dict[str, Any]:
        """A node's properties as the analyst graph holds them."""
        labels = list(labels)
        out: dict[str, Any] = {}
        years: list[str] = []
        for prop, value in props.items():
            action = self.profile.node_action(labels, prop)
            if action is None:
                kind = (self.profile.ordered(labels) or sorted(labels) or ["(no label)"])[0]
                self.unclassified[(kind, prop)] += 1
                continue
            new = self.apply(action, value)
            if new is not _GONE:
                out[prop] = new
                if action in (YEAR, BIRTH_YEAR) and _temporal(new):
                    years.append(prop)
        for prop in years:  # the graph's own way of saying "known to the year"
            out[precision_property(prop)] = "year"
        return out

    def relationship(self, rel_type: str, props: Mapping[str, Any]) -> dict[str, Any]:
        """A relationship's properties as the analyst graph holds them."""
        out: dict[str, Any] = {}
        for prop, value in props.items():
            action = self.profile.relationship_action(prop)
            if action is None:
                self.unclassified[(rel_type, prop)] += 1
                continue
            new = self.apply(action, value)
            if new is not _GONE:
                out[prop] = new
        return out

    def apply(self, action: str, value: Any) -> Any:
        """One action on one value; ``_GONE`` when nothing of it may be copied."""
        if value is None or action == REMOVE:
            return _GONE
        if action == KEEP:
            return value
        if action == PSEUDONYMISE:
            if isinstance(value, list):
                return [self.pseudonym(str(v)) for v in value]
            return self.pseudonym(str(value))
        if action == ZIP3:
            return self._zip3(value)
        if action in (YEAR, BIRTH_YEAR):
            if isinstance(value, bool):  # `deceased` may be a plain yes/no
                return value
            year = _year(value)
            if year is None:
                return _GONE
            if action == BIRTH_YEAR and year < self.oldest_year:
                year = self.oldest_year
            return _first_of_year(value, year)
        raise ValueError(f"unknown de-identification action {action!r}")

    def _zip3(self, value: Any) -> Any:
        match = _ZIP.match(str(value).strip())
        if match is None:  # not a US ZIP code: nothing of it can be shown safely
            return _GONE
        three = match.group(1)
        return "000" if three in self.profile.restricted_zip3 else three


def _temporal(value: Any) -> bool:
    return isinstance(value, (Date, DateTime, dt.date, dt.datetime))


def _year(value: Any) -> int | None:
    if isinstance(value, (Date, DateTime, dt.date, dt.datetime)):
        return int(value.year)
    match = _YEAR_TEXT.match(str(value))
    return int(match.group(1)) if match else None


def _first_of_year(value: Any, year: int) -> Any:
    """The first instant of ``year`` in the type (and time zone) of ``value``."""
    if isinstance(value, DateTime):
        zone = value.tzinfo
        if zone is not None and hasattr(zone, "localize"):  # a pytz zone: its offset on that day
            return zone.localize(DateTime(year, 1, 1))
        return DateTime(year, 1, 1, tzinfo=zone)
    if isinstance(value, Date):
        return Date(year, 1, 1)
    if isinstance(value, dt.datetime):
        return dt.datetime(year, 1, 1, tzinfo=value.tzinfo)
    if isinstance(value, dt.date):
        return dt.date(year, 1, 1)
    return str(year)  # a date kept as text: its year, as text
