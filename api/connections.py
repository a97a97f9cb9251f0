"""Relay connections over graph traversals: `first`/`after`, edges with their link, pageInfo,
and `totalCount` counted only when the query selects it.

Every traversal goes through the request's ``pages`` DataLoader, so all the connections of one
GraphQL level are read in one round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Generic, TypeVar

import strawberry
from graphql.execution.values import VariableValues
from strawberry.scalars import JSON
from strawberry.types import Info

from caregraph.api import paths, selection_sets
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError, LimitExceededError
from caregraph.api.types import values
from caregraph.api.types.link import LinkData, link_sources
from caregraph.graph.readers import PageRequest, Row, TraversalPath
from caregraph.loaders.concepts import ICD10CM, coded

if TYPE_CHECKING:
    from caregraph.api.types.source_record import SourceRecord

T = TypeVar("T")
Make = Callable[[Row, "LinkData | None"], T]
PATH = "path"  # field metadata: the traversal behind a field, for the cost estimate


# A cursor is made only when a query selects it: it is encrypted (api/cursors.py), and
# encrypting one for every edge and page of a three-level traversal was 4% of its CPU.
Cursor = Callable[[], str]


@strawberry.type(description="Where a page is in its list (Relay PageInfo).")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    _start: strawberry.Private[Cursor | None] = None
    _end: strawberry.Private[Cursor | None] = None

    @strawberry.field(description="The cursor of the page's first edge.")
    def start_cursor(self) -> str | None:
        return self._start() if self._start else None

    @strawberry.field(
        description="The cursor of the page's last edge: `after` it is the next page."
    )
    def end_cursor(self) -> str | None:
        return self._end() if self._end else None


@strawberry.type(
    description="One related node and the relationship that links it: its role, and when a "
    "rule inferred it, the rule and its evidence."
)
class Edge(Generic[T]):
    node: T
    relationship: str | None = strawberry.field(description="The relationship type followed.")
    role: str | None = strawberry.field(description="The role on the relationship, if any.")
    rank: int | None = strawberry.field(
        description="Its rank among its kind, if the source gave one (a visit's diagnoses)."
    )
    rule: str | None = strawberry.field(description="The rule that inferred it; null if asserted.")
    evidence: JSON | None = strawberry.field(description="What the rule matched (JSON).")
    inferred: bool = strawberry.field(description="True when a rule made the link.")
    _link: strawberry.Private[LinkData | None] = None
    _cursor: strawberry.Private[Cursor | None] = None

    @strawberry.field(description="Where this edge is: `after` it is the rest of the list.")
    def cursor(self) -> str:
        return self._cursor() if self._cursor else ""

    @strawberry.field(description="The source records that asserted the relationship.")
    async def sources(
        self, info: Info[Context, None]
    ) -> list[Annotated[SourceRecord, strawberry.lazy("caregraph.api.types.source_record")]]:
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


def edge(node: T, cursor: Cursor, link: LinkData | None = None) -> Edge[T]:
    """An edge to ``node``, through ``link`` when a relationship was followed."""
    return Edge(
        node=node,
        relationship=link.type if link else None,
        role=link.role if link else None,
        rank=link.rank if link else None,
        rule=link.rule if link else None,
        evidence=values.evidence(link.evidence) if link else None,
        inferred=bool(link and link.rule),
        _link=link,
        _cursor=cursor,
    )


def connection(
    edges: list[Edge[T]],
    *,
    more: bool,
    after: bool,
    total: int | None = None,
    recount: Callable[[], Awaitable[int]] | None = None,
) -> Connection[T]:
    """A page of ``edges``; ``more`` when the list goes on, ``after`` when it started later."""
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more,
            has_previous_page=after,
            _start=edges[0]._cursor if edges else None,
            _end=edges[-1]._cursor if edges else None,
        ),
        _total=total,
        _recount=recount,
    )


def cursor(encode: Callable[[int, str], str], sort: int, key: str) -> Cursor:
    """The cursor at (sort, key), made when first asked for; the same string after that
    (each encryption has its own nonce, and an edge's cursor is its page's end cursor)."""
    made: list[str] = []

    def make() -> str:
        if not made:
            made.append(encode(sort, key))
        return made[0]

    return make


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
    """Whether the query selects totalCount on this connection.

    Read from graphql-core's syntax tree, one level deep: strawberry's ``selected_fields``
    converts the field's whole subtree on every call, which for the connections inside a
    list was 13% of a three-level traversal's CPU."""
    raw = info._raw_info
    sets = [node.selection_set for node in raw.field_nodes]
    return selection_sets.selects(sets, "totalCount", raw.fragments)


def variable_values(info: Info[Context, None]) -> VariableValues:
    """The operation's variables as graphql-core's ``get_argument_values`` takes them:
    graphql-core 3.3 types them as VariableValues, strawberry hands over a plain dict."""
    variables = info._raw_info.variable_values
    if isinstance(variables, VariableValues):
        return variables
    return VariableValues({}, dict(variables or {}))


def connect(
    info: Info[Context, None],
    key: str,
    path: TraversalPath | str,
    make: Make[T],
    *,
    first: int | None,
    after: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
    under: str | None = None,
) -> Awaitable[Connection[T]]:
    """A page of ``path`` from the node ``key``, as a connection of ``make(row)`` nodes;
    ``under``: only nodes coded under that concept (an `underCode` argument).

    The arguments are checked when the resolver is called, and the page is read when the
    answer is awaited. A refused argument is then raised while graphql-core completes the
    list the field is in, item by item, so the error it reports is the first item's. Raised
    inside the read's coroutine, it was reported for whichever item's task failed first,
    which varied with the order the reads came back in (each item is a task of its own)."""
    size = page_size(info, first)
    start, end = window(start, end)
    concept = under_concept(under)  # checked in this order: the first refused is reported
    request = PageRequest(
        key=key,
        path=paths.path(path) if isinstance(path, str) else path,
        take=size + 1,
        start=start,
        end=end,
        after=info.context.cursors.decode(after),
        count=wants_total(info),
        under=concept,
    )
    return _connected(info, request, size, make)


async def _connected(
    info: Info[Context, None], request: PageRequest, size: int, make: Make[T]
) -> Connection[T]:
    loader = info.context.loaders.pages
    page = await loader.load(request)

    async def recount() -> int:
        counted = await loader.load(replace(request, take=1, after=None, count=True))
        return counted.total or 0

    encode = info.context.cursors.encode
    edges = []
    for row in page.rows[:size]:
        link = LinkData.of(row)
        edges.append(edge(make(row, link), cursor(encode, row.sort, row.key), link))
    return connection(
        edges, more=len(page.rows) > size, after=request.after is not None, total=page.total,
        recount=recount,
    )  # fmt: skip


def under_concept(under: str | None) -> str | None:
    """The Concept key an `underCode` names: ``system|code`` (the system by any spelling the
    ontology knows), or a bare code of ICD-10-CM, the hierarchy caregraph ships."""
    if under is None:
        return None
    system, _, code = under.rpartition("|")
    found = coded(system or ICD10CM, code)
    if found is None:
        raise BadArgumentError("underCode", "give a code, or system|code")
    return found.key


async def one(info: Info[Context, None], key: str, path: str, make: Make[T]) -> T | None:
    """The node at the end of a to-one traversal (the first by the path's order), or None."""
    page = await info.context.loaders.pages.load(
        PageRequest(key=key, path=paths.path(path), take=1)
    )
    if not page.rows:
        return None
    row = page.rows[0]
    return make(row, LinkData.of(row))
