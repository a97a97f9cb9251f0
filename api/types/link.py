"""How a node was reached: the relationship, its role, and the rule that made it if inferred."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from caregraph.api.context import Context
from caregraph.api.types import values
from caregraph.graph.readers import RecordsRequest, Row

if TYPE_CHECKING:
    from caregraph.api.types.source_record import SourceRecord


@dataclass(frozen=True, slots=True)
class LinkData:
    """A relationship as read from the graph."""

    type: str
    role: str | None = None
    rank: int | None = None
    rule: str | None = None
    evidence: str | None = None
    sources: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def of(cls, row: Row) -> LinkData | None:
        if row.rel is None or row.rel_type is None:
            return None
        rel = row.rel
        return cls(
            type=row.rel_type,
            role=values.text(rel.get("role")),
            rank=rel["rank"] if isinstance(rel.get("rank"), int) else None,
            rule=values.text(rel.get("rule")),
            evidence=values.text(rel.get("evidence")),
            sources=tuple(values.texts(rel.get("sources"))),
        )


async def link_sources(info: Info[Context, None], link: LinkData) -> list[SourceRecord]:
    """The SourceRecords that asserted a relationship, batched with the rest of the level."""
    from caregraph.api.types.source_record import SourceRecord

    if not link.sources:
        return []
    page = await info.context.loaders.pages.load(RecordsRequest(tuple(sorted(link.sources))))
    return [SourceRecord.from_record(r) for r in page.rows]


@strawberry.type(
    description="A relationship of the graph: its type, role, and, when a linking or identity "
    "rule inferred it rather than a source asserting it, the rule and its evidence."
)
class Link:
    relationship: str = strawberry.field(description="The relationship type, e.g. FOR_ENCOUNTER.")
    role: str | None = strawberry.field(description="The role on it (attending, rendering...).")
    rank: int | None = strawberry.field(
        description="Its rank among its kind (a visit's diagnoses: 1 is the first)."
    )
    rule: str | None = strawberry.field(description="The rule that inferred it; null if asserted.")
    evidence: JSON | None = strawberry.field(description="What the rule matched (JSON).")
    inferred: bool = strawberry.field(description="True when a rule made it, not a source.")
    _data: strawberry.Private[LinkData]

    @classmethod
    def from_data(cls, data: LinkData) -> Link:
        return cls(
            relationship=data.type,
            role=data.role,
            rank=data.rank,
            rule=data.rule,
            evidence=values.evidence(data.evidence),
            inferred=data.rule is not None,
            _data=data,
        )

    @strawberry.field(description="The source records that asserted the relationship.")
    async def sources(
        self, info: Info[Context, None]
    ) -> list[Annotated[SourceRecord, strawberry.lazy("caregraph.api.types.source_record")]]:
        return await link_sources(info, self._data)
