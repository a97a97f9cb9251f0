"""Graph values as GraphQL values: Neo4j temporal types, lists, numbers; the node's kind."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from neo4j.time import Date, DateTime

from caregraph.api import paths
from caregraph.graph.readers import TIME_PROPERTIES, Row
from caregraph.ontology.model import Ontology
from caregraph.ontology.temporal import precision_property


def dt(value: Any) -> datetime | None:
    """A Neo4j DateTime (or ISO text: how reads return zoned date-times, graph/projection.py
    ``as_text``) as a Python datetime."""
    if isinstance(value, DateTime):
        native: datetime = value.to_native()
        return native
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
        if value.endswith("]") and "[" in value:  # Neo4j's text of a named zone: offset[zone]
            return dt(value[: value.index("[")])
    return None


def zoned(value: str) -> bool:
    """Whether text is a zoned date-time as Neo4j writes one (not a date kept as text)."""
    if len(value) <= 10 or value[10] != "T":
        return False
    moment = dt(value)
    return moment is not None and moment.tzinfo is not None


def time_precision(p: dict[str, Any]) -> str | None:
    """How precisely a node's event time is known: year, month, day, hour, minute or second."""
    for prop in TIME_PROPERTIES:
        value = p.get(prop)
        if value is None:
            continue
        if isinstance(value, DateTime | datetime) or (isinstance(value, str) and zoned(value)):
            stored = p.get(precision_property(prop))
            return str(stored) if stored else "second"
        if isinstance(value, Date | date):
            return "day"
        if isinstance(value, str):  # a partial date kept as text
            return {4: "year", 7: "month"}.get(len(value), "day")
    return None


def as_known(moment: datetime, precision: str | None) -> str:
    """A moment written only as precisely as it is known (ISO 8601 cut to its precision)."""
    if precision == "year":
        return f"{moment.year:04d}"
    if precision == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if precision == "day":
        return moment.date().isoformat()
    if precision == "hour":
        return moment.isoformat(timespec="hours")
    return moment.isoformat(timespec="minutes")


def day(value: Any) -> str | None:
    """A date as FHIR writes it: YYYY-MM-DD, or a partial YYYY / YYYY-MM kept as given."""
    if isinstance(value, Date):
        return str(value.iso_format())
    if isinstance(value, DateTime):
        return str(value.date().iso_format())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value[:10] if zoned(value) else value  # its date where it was written
    return None


def text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def boolean(value: Any) -> bool | None:
    """A boolean property; anything else (a string, a number) is not one."""
    return value if isinstance(value, bool) else None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def integer(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def evidence(value: Any) -> Any:
    """A rule's evidence (JSON text in the graph) as a JSON value."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return {"text": value}
    return value


def public_key(row: Row) -> str:
    """A node's key as the caller may see it (a pseudonym for some roles): what the reader
    said may be shown, never the stored key by default."""
    if not row.public:
        raise ValueError("a row that did not come through the reader has no public key")
    return row.public


def kind_of(labels: list[str]) -> str:
    """The most specific ontology class among a node's labels."""
    return _kind_of(paths.ontology(), tuple(labels))


@lru_cache(maxsize=1024)
def _kind_of(onto: Ontology, labels: tuple[str, ...]) -> str:
    known = {c.name: c.iri for c in onto.classes.values()}
    here = [known[label] for label in labels if label in known]
    for iri in here:
        subs = onto.subclasses(iri) - {iri}
        if not any(other in subs for other in here):
            return onto.classes[iri].name
    return labels[0] if labels else "Entity"
