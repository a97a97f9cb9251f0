"""An event of a class that has no type of its own in the API (one the ontology added later)."""

from __future__ import annotations

from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event, event_fields
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

INTERNAL = frozenset({"key", "stub", "matchKey"})  # never shown: how the graph is kept


@strawberry.type(
    description="An event of an ontology class the API has no type for yet: its kind, time "
    "and properties as the graph holds them."
)
class GenericEvent(Event):
    properties: JSON = strawberry.field(description="Its datatype properties, by name.")

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> GenericEvent:
        props: dict[str, Any] = {
            # a property the node does not have can read as null (graph/projection.py)
            k: _plain(v)
            for k, v in sorted(row.node.items())
            if k not in INTERNAL and v is not None
        }
        return cls(**event_fields(row, link), properties=cast(JSON, props))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and values.zoned(value):  # read as text: written as before
        return _plain(values.dt(value))
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    moment = values.dt(value)
    if moment is not None:
        return moment.isoformat()
    return values.day(value) or str(value)


registry.register("GenericEvent", GenericEvent.from_record)
