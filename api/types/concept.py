"""Coded meanings: a record's codes as `{system code display}`, and a Concept with its place in
its code system's hierarchy (docs/terminology.md).

A Concept is terminology, not patient data: any authenticated caller may look one up and walk
its hierarchy. What leads from a record to its codes is a field of the record's type, and the
role's policy decides that field as any other.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import strawberry
from strawberry.types import Info

from caregraph.api import paths
from caregraph.api.connections import page_size
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError
from caregraph.api.types import values
from caregraph.graph import terminology
from caregraph.graph.readers import PageRequest, Row
from caregraph.loaders.concepts import coded

MAX_CODES = 50  # codings of one record: a handful in practice, bounded all the same


@strawberry.type(description="A code of a code system, with its text when a loaded terminology "
                 "gives one (null for a code no loaded terminology has).")  # fmt: skip
class Coding:
    system: str = strawberry.field(description="The code system's canonical URI.")
    code: str
    display: str | None
    role: str | None = strawberry.field(
        default=None,
        description="Its role on the record, if the source gave one (a claim's diagnosis: "
        "principal, admitting, other ...).",
    )
    rank: int | None = strawberry.field(
        default=None, description="Its order on the record, if the source gave one (1 first)."
    )
    group: str | None = strawberry.field(
        default=None, description="An adjustment reason's group (CO, PR, OA, PI)."
    )
    amount: float | None = strawberry.field(
        default=None, description="An adjustment reason's amount (billing and admins)."
    )

    @classmethod
    def from_record(cls, row: Row) -> Coding:
        p, rel = row.node, row.rel or {}
        return cls(
            system=values.text(p.get("system")) or row.key.partition("|")[0],
            code=values.text(p.get("code")) or row.key.partition("|")[2],
            display=values.text(p.get("display")),
            role=values.text(rel.get("role")),
            rank=rel["rank"] if isinstance(rel.get("rank"), int) else None,
            group=values.text(rel.get("group")),
            amount=values.number(rel.get("amount")),
        )

    @classmethod
    def from_concept(cls, c: terminology.ConceptRow) -> Coding:
        return cls(system=c.system, code=c.code, display=c.display)


async def codings(info: Info[Context, None], handle: str, path_name: str) -> list[Coding]:
    """The Concepts a node points at over ``path_name`` (HAS_CODE, HAS_REASON ...): by the
    rank the source gave them, then by code."""
    page = await info.context.loaders.pages.load(
        PageRequest(handle, paths.path(path_name), take=MAX_CODES)
    )
    found = [Coding.from_record(r) for r in page.rows]
    return sorted(found, key=lambda c: (c.rank is None, c.rank or 0, c.system, c.code))


@strawberry.type(description="Concepts under a concept, by code, a page at a time.")
class ConceptPage:
    nodes: list[Coding]
    total_count: int = strawberry.field(description="How many concepts are under it in all.")
    end_cursor: str | None = strawberry.field(
        description="The last code of this page: `after` for the next; null on the last page."
    )


@strawberry.type(
    description="A coded meaning in the graph (ontology class Concept): a code of a code "
    "system, its text, and where it sits in the code system's hierarchy (BROADER)."
)
class Concept:
    key: str = strawberry.field(description="system|code, the system as its canonical URI.")
    system: str
    code: str
    display: str | None

    @strawberry.field(description="Every concept above it, nearest first (I21.4: I21, I20-I25, 9).")
    async def ancestors(self, info: Info[Context, None]) -> list[Coding]:
        ctx = info.context
        found = await asyncio.to_thread(
            terminology.ancestors, ctx.driver, ctx.database, self.key, ctx.settings.query_timeout_s
        )
        return [Coding.from_concept(c) for c in found]

    @strawberry.field(description="The concepts under it at any depth, by code.")
    async def descendants(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the page before.")
        ] = None,
    ) -> ConceptPage:
        ctx = info.context
        take = page_size(info, first)
        rows, total = await asyncio.to_thread(
            terminology.descendants_page,
            ctx.driver,
            ctx.database,
            self.key,
            take + 1,
            after,
            ctx.settings.query_timeout_s,
        )
        more = len(rows) > take
        rows = rows[:take]
        return ConceptPage(
            nodes=[Coding.from_concept(c) for c in rows],
            total_count=total,
            end_cursor=rows[-1].code if more and rows else None,
        )


async def find_concept(info: Info[Context, None], system: str, code: str) -> Concept | None:
    """The concept a system (URI, name or OID the ontology knows) and code name, or None."""
    wanted = coded(system, code)
    if wanted is None:
        raise BadArgumentError("code", "give a code system and a code")
    ctx = info.context
    found = await asyncio.to_thread(
        terminology.concept, ctx.driver, ctx.database, wanted.key, ctx.settings.query_timeout_s
    )
    if found is None:
        return None
    return Concept(key=wanted.key, system=found.system, code=found.code, display=found.display)
