"""The interfaces every node shares: Entity (key, kind, loaded, provenance) and Event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry.types import Info

from caregraph.api import paths
from caregraph.api.connections import PATH, page_size
from caregraph.api.context import Context
from caregraph.api.types import values
from caregraph.api.types.fields import made_of, read_stored
from caregraph.api.types.identifier import Identifier
from caregraph.api.types.link import Link, LinkData
from caregraph.api.types.source_record import SourceRecord
from caregraph.graph.readers import TIME_PROPERTIES, PageRequest, Row
from caregraph.ontology.temporal import precision_property

MAX_IDENTIFIERS = 100  # a node's own identifiers: a handful in practice, bounded all the same


@strawberry.interface(
    description="Anything the graph describes. `loaded` is false for a stub: a node that "
    "another record refers to but whose own record has not been loaded (its fields are empty)."
)
class Entity:
    key: str = strawberry.field(description="The graph's business key, system|value.")
    kind: str = strawberry.field(description="The node's most specific ontology class.")
    loaded: bool = made_of("stub", description="False while only referenced (a stub).")
    display: str | None = made_of("display", description="A readable caption.")
    _link: strawberry.Private[LinkData | None] = None
    # the stored key: where the next read starts from; `key` may be a pseudonym of it
    _handle: strawberry.Private[str] = ""

    @strawberry.field(
        description="The relationship this node was reached by from the node above it in the "
        "query, with its rule and evidence when inferred (null at a root field)."
    )
    def link(self) -> Link | None:
        return Link.from_data(self._link) if self._link else None

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Self:
        """A node row as this type: the interface's fields and every stored field."""
        return cls(**entity_fields(row, link), **read_stored(cls, row.node))

    @strawberry.field(
        description="The node's identifiers, each with the rule that tied it.",
        metadata={PATH: "Entity.identifiers"},
    )
    async def identifiers(self, info: Info[Context, None]) -> list[Identifier]:
        page = await info.context.loaders.pages.load(
            PageRequest(self._handle, paths.path("Entity.identifiers"), take=MAX_IDENTIFIERS)
        )
        return [Identifier.from_record(r) for r in page.rows]

    @strawberry.field(
        description="The source records that asserted this node (source system, file, "
        "position, record id, load run).",
        metadata={PATH: "Entity.sources"},
    )
    async def sources(
        self, info: Info[Context, None], first: int | None = None
    ) -> list[SourceRecord]:
        size = page_size(info, first)
        page = await info.context.loaders.pages.load(
            PageRequest(self._handle, paths.path("Entity.sources"), take=size)
        )
        return [SourceRecord.from_record(r) for r in page.rows]


@strawberry.interface(
    description="Something that happens at a time: a visit, a study, an appointment, a claim, "
    "a payment (ontology class Event and its subclasses)."
)
class Event(Entity):
    time: datetime | None = made_of(
        *TIME_PROPERTIES,
        description="When it happened: the start, or the service or payment date (at 00:00 UTC).",
    )
    time_precision: str | None = made_of(
        *TIME_PROPERTIES,
        *(precision_property(p) for p in TIME_PROPERTIES),
        description="How precisely `time` is known: year, month, day, hour, minute or second. "
        "A source may give only a month or a day; `time` is then the first instant of that "
        "period, and a `from`/`to` window includes the event when the period overlaps it.",
    )
    status: str | None = made_of("status")

    @classmethod
    def from_record(cls, row: Row, link: LinkData | None = None) -> Self:
        return cls(**event_fields(row, link), **read_stored(cls, row.node))


def entity_fields(row: Row, link: LinkData | None) -> dict[str, Any]:
    """The Entity fields of a node row, as keyword arguments."""
    return {
        "key": values.public_key(row),
        "kind": values.kind_of(row.labels),
        "loaded": not row.node.get("stub", False),
        "display": values.text(row.node.get("display")),
        "_link": link,
        "_handle": row.key,
    }


def event_fields(row: Row, link: LinkData | None) -> dict[str, Any]:
    """The Event fields of a node row, as keyword arguments."""
    p = row.node
    when = row.time if row.time is not None else _time(p)
    return {
        **entity_fields(row, link),
        "time": values.dt(when),
        "time_precision": values.time_precision(p) if when is not None else None,
        "status": values.text(p.get("status")),
    }


def _time(p: dict[str, Any]) -> Any:
    for prop in TIME_PROPERTIES:
        value = p.get(prop)
        if value is None:
            continue
        as_dt = values.dt(value)
        if as_dt is not None:
            return as_dt
        d = values.day(value)
        if d and len(d) == 10:
            return datetime.fromisoformat(d + "T00:00:00+00:00")
    return None
