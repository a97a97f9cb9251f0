"""An identifier of an individual, with the rule that tied it to the node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from caregraph.api.context import Context
from caregraph.api.types import values
from caregraph.api.types.fields import made_of, read_stored, stored
from caregraph.api.types.link import LinkData, link_sources
from caregraph.graph.readers import Row

if TYPE_CHECKING:
    from caregraph.api.types.source_record import SourceRecord


@strawberry.type(
    description="A business identifier (FHIR Identifier): system and value; `rule` says why "
    "the graph holds it for this individual (asserted by a source, same-identifier, "
    "demographics-exact ...)."
)
class Identifier:
    system: str | None = stored()
    value: str = made_of("value")  # never null: as text, whatever the source gave
    type: str | None = stored(
        description="v2-0203 code: MR, NPI, SS, VN, RI ...", prop="identifierType"
    )
    token: str = strawberry.field(description="system|value, as root fields accept it.")
    rule: str | None
    evidence: JSON | None
    _link: strawberry.Private[LinkData | None]

    @classmethod
    def from_record(cls, row: Row) -> Identifier:
        p = row.node
        link = LinkData.of(row)
        return cls(
            **read_stored(cls, p),
            value=str(p.get("value", "")),
            token=values.public_key(row),
            rule=link.rule if link else None,
            evidence=values.evidence(link.evidence) if link else None,
            _link=link,
        )

    @strawberry.field(description="The source records that asserted the identifier.")
    async def sources(
        self, info: Info[Context, None]
    ) -> list[Annotated[SourceRecord, strawberry.lazy("caregraph.api.types.source_record")]]:
        return await link_sources(info, self._link) if self._link else []
