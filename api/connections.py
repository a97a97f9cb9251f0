"""Relay connections over graph traversals: `first`/`after`, edges with their link, pageInfo,
and `totalCount` counted only when the query selects it.

Every traversal goes through the request's ``pages`` DataLoader, so all the connections of one
GraphQL level are read in one round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from api import paths
from api.context import Context
from api.errors import BadArgumentError, LimitExceededError
from api.types import values
from api.types.link import LinkData, link_sources
from graph.readers import PageRequest, Path, Row

if TYPE_CHECKING:
    from api.types.source_record import SourceRecord

T = TypeVar("T")
Make = Callable[[Row, "LinkData | None"], T]
PATH = "path"  # field metadata: the traversal behind a field, for the cost estimate


@strawberry.type(description="Where a page is in its list (Relay PageInfo).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(
    description="One related node and the relationship that links it: its role, and when a "
    "rule inferred it, the rule and its evidence."
)
class Edge(Generic[T]):
    node: T
    cursor: str
    relationship: str | None = strawberry.field(description="The relationship type followed.")
    role: str | None = strawberry.field(description="The role on the relationship, if any.")
    rule: str | None = strawberry.field(description="The rule that inferred it; null if asserted.")
    evidence: JSON | None = strawberry.field(description="What the rule matched (JSON).")
    inferred: bool = strawberry.field(description="True when a rule made the link.")
    _link: strawberry.Private[LinkData | None] = None

    @strawberry.field(description="The source records that asserted the relationship.")
    async def sources(
        self, info: Info[Context, None]
    ) -> list[Annotated[SourceRecord, strawberry.lazy("api.types.source_record")]]:
        return await link_sources(info, self._link) if self._link else []


@strawberry.type(description="A page of related nodes (Relay connection).")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _total: strawberry.Private[int | None] = None
    _recount: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(
        description="How many there are in all (in the window, if one is given); counted "
        "only when selected."
    )
    async def total_count(self) -> int:
        if self._total is not None:
            return self._total
        return await self._recount() if self._recount else len(self.edges)


def page_size(info: Info[Context, None], first: int | None) -> int:
    """`first`, or the default; refused above the limit."""
    settings = info.context.settings
    if first is None:
        return settings.default_page_size
    if first < 0:
        raise BadArgumentError("first", "must be 0 or more")
    if first > settings.max_page_size:
        raise LimitExceededError(
            "page size",
            f"first: {first} is more than {settings.max_page_size}",
            f"ask for at most {settings.max_page_size} and page on with `after: endCursor`",
            max=settings.max_page_size,
        )
    return first


def window(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A from/to window; both must carry a UTC offset, and `to` must be after `from`."""
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise BadArgumentError(name, "give a date-time with an offset, e.g. ...T00:00:00Z")
    if start is not None and end is not None and end <= start:
        raise BadArgumentError("to", "must be later than `from`")
    return start, end


def wants_total(info: Info[Context, None]) -> bool:
    """Whether the query selects totalCount on this connection."""
    return any(_selects(s, "totalCount") for f in info.selected_fields for s in f.selections)


def _selects(sel: Selection, name: str) -> bool:
    if isinstance(sel, SelectedField):
        return sel.name == name
    if isinstance(sel, FragmentSpread | InlineFragment):
        return any(_selects(s, name) for s in sel.selections)
    return False


async def connect(
    info: Info[Context, None],
    key: str,
    path: Path | str,
    make: Make[T],
    *,
    first: int | None,
    after: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Connection[T]:
    """A page of ``path`` from the node ``key``, as a connection of ``make(row)`` nodes."""
    size = page_size(info, first)
    start, end = window(start, end)
    position = info.context.cursors.decode(after)
    traversal = paths.path(path) if isinstance(path, str) else path
    loader = info.context.loaders.pages
    request = PageRequest(
        key=key,
        path=traversal,
        take=size + 1,
        start=start,
        end=end,
        after=position,
        count=wants_total(info),
    )
    page = await loader.load(request)

    async def recount() -> int:
        counted = await loader.load(
            PageRequest(key=key, path=traversal, take=1, start=start, end=end, count=True)
        )
        return counted.total or 0

    rows = page.rows[:size]
    edges = [_edge(row, make, info.context.cursors.encode) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(page.rows) > size,
            has_previous_page=position is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _total=page.total,
        _recount=recount,
    )


def _edge(row: Row, make: Make[T], encode: Callable[[int, str], str]) -> Edge[T]:
    link = LinkData.of(row)
    return Edge(
        node=make(row, link),
        cursor=encode(row.sort, row.key),
        relationship=link.type if link else None,
        role=link.role if link else None,
        rule=link.rule if link else None,
        evidence=values.evidence(link.evidence) if link else None,
        inferred=bool(link and link.rule),
        _link=link,
    )


async def one(info: Info[Context, None], key: str, path: str, make: Make[T]) -> T | None:
    """The node at the end of a to-one traversal (the first by the path's order), or None."""
    page = await info.context.loaders.pages.load(
        PageRequest(key=key, path=paths.path(path), take=1)
    )
    if not page.rows:
        return None
    row = page.rows[0]
    return make(row, LinkData.of(row))
