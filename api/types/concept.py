"""Coded meanings: a record's codes as `{system code display}`, and a Concept with its place in
its code system's hierarchy (docs/terminology.md).

A Concept is terminology, not patient data: any authenticated caller may look one up and walk
its hierarchy. What leads from a record to its codes is a field of the record's type, and the
role's policy decides that field as any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Annotated

import strawberry
from graphql import (
    GraphQLObjectType,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from strawberry.types import Info

from caregraph.api import paths, selection_sets
from caregraph.api.connections import page_size, variable_values
from caregraph.api.context import Context
from caregraph.api.errors import ApiError, BadArgumentError
from caregraph.api.types import values
from caregraph.api.types.fields import made_of
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


def _rows(found: list[terminology.ConceptRow]) -> list[Coding]:
    return [Coding.from_concept(c) for c in found]


@strawberry.type(
    description="A coded meaning in the graph (ontology class Concept): a code of a code "
    "system, its text, and where it sits in the code system's hierarchy (BROADER)."
)
class Concept:
    key: str = strawberry.field(description="system|code, the system as its canonical URI.")
    system: str = made_of("system")
    code: str = made_of("code")
    display: str | None = made_of("display")
    # what the `concept` lookup read with it, in the same statement (see find_concept)
    read: strawberry.Private[terminology.ConceptRead | None] = None

    @strawberry.field(description="Every concept above it, nearest first (I21.4: I21, I20-I25, 9).")
    async def ancestors(self, info: Info[Context, None]) -> list[Coding]:
        if self.read is not None and self.read.ancestors is not None:
            return _rows(self.read.ancestors)
        found = await _read(info, self.key, ancestors=True)
        return _rows(found.ancestors or []) if found else []

    @strawberry.field(description="The concepts under it at any depth, by code.")
    async def descendants(
        self,
        info: Info[Context, None],
        first: Annotated[int | None, strawberry.argument(description="Page size.")] = None,
        after: Annotated[
            str | None, strawberry.argument(description="`endCursor` of the page before.")
        ] = None,
    ) -> ConceptPage:
        take = page_size(info, first)
        wanted = (take + 1, after)
        page = self.read.descendants.get(wanted) if self.read is not None else None
        if page is None:
            found = await _read(info, self.key, pages=[wanted])
            page = found.descendants[wanted] if found else terminology.DescendantsPage([], 0)
        more = len(page.rows) > take
        rows = page.rows[:take]
        return ConceptPage(
            nodes=_rows(rows),
            total_count=page.total,
            end_cursor=rows[-1].code if more and rows else None,
        )


async def _read(
    info: Info[Context, None],
    key: str,
    *,
    ancestors: bool = False,
    pages: Sequence[tuple[int, str | None]] = (),
) -> terminology.ConceptRead | None:
    """One round trip of the request's reader (counted, within the request's time)."""
    reader = info.context.reader
    return await asyncio.to_thread(
        partial(terminology.read_concept, reader, key, ancestors=ancestors, pages=pages)
    )


def _asked(info: Info[Context, None]) -> tuple[bool, list[tuple[int, str | None]]]:
    """Whether the lookup's selection holds ``ancestors``, and the (take, after) of each
    ``descendants`` in it, read from graphql-core's syntax tree (fragments included), so that
    the lookup reads them in its own statement. A page size the resolver will refuse is left
    out: the resolver refuses it as it always does."""
    raw = info._raw_info
    target = get_named_type(raw.return_type)
    assert isinstance(target, GraphQLObjectType)
    under = target.fields["descendants"]
    variables = variable_values(info)
    ancestors = False
    pages: dict[tuple[int, str | None], None] = {}
    for node in raw.field_nodes:
        sets = [node.selection_set]
        ancestors = ancestors or selection_sets.selects(sets, "ancestors", raw.fragments)
        for sel in selection_sets.named(sets, "descendants", raw.fragments):
            args = get_argument_values(under, sel, variables)
            try:
                take = page_size(info, args.get("first"))
            except ApiError:
                continue
            pages[(take + 1, args.get("after"))] = None
    return ancestors, list(pages)


async def find_concept(info: Info[Context, None], system: str, code: str) -> Concept | None:
    """The concept a system (URI, name or OID the ontology knows) and code name, or None: with
    its ancestors and the pages of its descendants the query selects, in one statement."""
    wanted = coded(system, code)
    if wanted is None:
        raise BadArgumentError("code", "give a code system and a code")
    ancestors, pages = _asked(info)
    found = await _read(info, wanted.key, ancestors=ancestors, pages=pages)
    if found is None:
        return None
    c = found.concept
    return Concept(key=wanted.key, system=c.system, code=c.code, display=c.display, read=found)
