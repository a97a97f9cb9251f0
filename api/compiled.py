"""The compiled read path: a root lookup and every traversal below it in one statement.

The reference path resolves field by field, one batched round trip per GraphQL level
(api/dataloaders.py). For the documents this planner covers, :func:`prefetch` reads the
whole tree in one statement (graph/compiled.py) before the root resolver looks its node up,
and primes the request's DataLoaders with what it read, keyed by the very
:class:`PageRequest` each resolver is about to make: the resolvers then map the rows as they
always do (the role's projection and pseudonyms were applied in Neo4j, by the same query
text), and every cursor, ``hasNextPage`` and ``totalCount`` comes out of the same code. A
resolver whose request was not primed reads it the reference way: a document the planner
covers only in part costs a round trip per uncovered level, never a different answer.

Covered (read in the one statement):

- an operation (a query) with exactly one root field, and that root one of :data:`ROOTS`
  (a lookup by identifier, NPI, UID or control number), when the lookup names one node;
- below it, on object types and on the Entity/Event interfaces: every connection field
  whose traversal is named in api/paths.py (``first``/``after``/``from``/``to``/
  ``underCode``, ``totalCount`` when selected) and ``events(kind:)`` (the traversal the
  ontology gives for the kind), to-one fields, ``identifiers``, ``sources``
  and codings (``reasons``, ``code`` ...), nested to any depth, through fragments and
  inline fragments that apply to the type; below an interface (``diagnoses``), fragments on
  the concrete types that implement it (``... on Condition { code { ... } }``), and below a
  union (``Claim.providers``) fragments on its members (``... on Practitioner``), read below
  every node and used below the nodes that carry the type's label;
- ``patientContext`` (:func:`prefetch_context`, called by its resolver) alone in its
  operation: the patient's lookup, its timeline (the reader's own subqueries,
  graph/readers.py ``timeline_calls``) and the identifiers of the text's header in one
  statement, with the levels selected below ``patient`` and below
  ``timeline { edges { node } }`` planned as above; the pages below the timeline's events
  are made and primed only for the events the text shows (the audit notes no more than the
  reference path does). The text is rendered in Python (api/render.py) from the same rows
  either way.
- the searches (``patients``, ``practitioners``, ``organizations``, ``locations``): the page
  of matches, its ``totalCount`` and the levels below each match's node
  (:func:`search_levels`, planned as below a root's node) in the search's own statement
  (graph/search.py).

Not covered (the reference path reads them):

- several root fields in one operation (the reference batches their lookups in one trip),
  ``auditLog``, mutations ...; ``ontology`` reads no database, ``concept`` reads its
  hierarchy in one statement of its own (api/types/concept.py);
- a ``patientContext`` whose ``underCode`` is refused (the reference refuses it after the
  lookup, or answers null when there is no such patient); below ``patientContext``, a
  selection under ``patient`` or the timeline's nodes with a directive, or that would make
  the statement hold more than :data:`MAX_LEVELS` subqueries: the lookup, timeline and
  identifiers are still one statement, and those levels are read level by level;
- anything under ``@skip``/``@include`` (the whole document falls back; under
  ``patientContext``, the levels below it);
- a document whose statement would hold more than :data:`MAX_LEVELS` subqueries: it costs
  more to plan than it saves;
- below an interface or a union, a fragment on another interface or union (its resolvers
  read it); ``Edge.sources`` (the records of a relationship, by the keys the relationship
  holds: a read of its own per level);
- a field whose arguments the reference refuses (``first`` over the limit, a bad window,
  cursor or code): it is left to its resolver, which refuses it the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLUnionType,
    OperationType,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import get_argument_values
from strawberry.types import Info

from caregraph.api import paths, selection_sets
from caregraph.api.connections import (
    PATH,
    page_size,
    under_concept,
    variable_values,
    window,
)
from caregraph.api.context import Context
from caregraph.api.errors import ApiError
from caregraph.graph import compiled
from caregraph.graph.readers import LookupRequest
from caregraph.ontology.vocab import CG

# root fields answered by a lookup (api/lookup.py) whose subtree the planner reads
ROOTS = frozenset({"patient", "practitioner", "organization", "encounter", "imagingStudy", "claim"})
MAX_IDENTIFIERS = 100  # api/types/entity.py: a node's own identifiers
MAX_CODES = 50  # api/types/concept.py: codings of one record
# subqueries in one statement at most (a page, and its count when selected, are one each).
# Seconds of planning starve the requests around it on a small host. Since a level writes only
# what it needs (graph/projection.py, graph/readers.py), the encounter_context tool's query of
# every field of a visit (15 subqueries, 11.8 KB of Cypher) plans and runs the first time in
# about 2 s on a two-core host, as long as its three level statements take on the reference
# path; after that, 23 ms a request against 33 ms
MAX_LEVELS = 16
_CONNECTION = "Connection"
_EVENTS = "events"  # the ontology-driven traversal, made from its `kind` argument
_EVENTS_FROM = {"Patient": CG.Patient}  # the types with an `events` field: their class
CONTEXT = "patientContext"  # read in one statement too (prefetch_context)
_PATIENT = "patient"
_TIMELINE = "timeline"

T = TypeVar("T")
Fragments = selection_sets.Fragments
ObjectOrInterface = GraphQLObjectType | GraphQLInterfaceType


class _Uncovered(Exception):
    """The document has a shape the planner does not cover as a whole."""


async def prefetch(info: Info[Context, None], requests: Sequence[LookupRequest]) -> None:
    """Read the root field's whole subtree in one statement and prime the request's
    DataLoaders with it, when the document is covered; otherwise do nothing."""
    ctx = info.context
    if not ctx.settings.compiled_reads:
        return
    plan = build(info, requests)
    if plan is None or plan in ctx.compiled_reads:
        return  # not covered, or read and primed already (api/direct.py gave up on it)
    answer = await run_once(
        ctx,
        plan,
        partial(
            compiled.read,
            ctx.reader,
            plan,
            ctx.settings.compiled_budget_s,
            wait=ctx.settings.compiled_wait_for_plan,
        ),
    )
    if answer is None:
        return
    for request, rows in zip(requests, answer.found, strict=True):
        ctx.loaders.lookups.prime(request, rows)
    for wanted, page in answer.pages.items():
        ctx.loaders.pages.prime(wanted, page)


async def run_once(
    ctx: Context, key: Hashable, statement: Callable[[], compiled.Statement[T]]
) -> T | None:
    """The answer of the statement ``statement()`` makes (which may refuse the plan), once
    per request and ``key``: a document that graphql-core executes after api/direct.py gave
    up on it finds the answer here (None: the statement was given up, the reference path
    reads it), not a second statement. Run on the event loop through the service's async
    driver (or `caregraph mcp`'s), without a thread hop; in a thread through the driver when
    the context has none (one made outside them, as the tests' ``gql`` makes)."""
    if key in ctx.compiled_reads:
        known: T | None = ctx.compiled_reads[key]
        return known
    try:
        made = statement()
        reader = ctx.reader
        if reader.async_driver is not None:
            answer: T | None = await made.arun(reader)
        else:
            answer = await asyncio.to_thread(made.run, reader)
    except compiled.NotCompilableError:
        answer = None
    ctx.compiled_reads[key] = answer
    return answer


def build(info: Info[Context, None], requests: Sequence[LookupRequest]) -> compiled.Plan | None:
    """The plan of the root field ``info`` resolves, or None when it is not covered (or has
    nothing below its lookup, which the reference reads in one trip anyway)."""
    raw = info._raw_info
    if raw.operation.operation is not OperationType.QUERY or raw.field_name not in ROOTS:
        return None
    if not requests or not _one_root(raw.operation.selection_set, raw.fragments):
        return None
    target = get_named_type(raw.return_type)
    if not isinstance(target, GraphQLObjectType):
        return None
    planner = _Planner(info, raw.fragments)
    try:
        below = planner.below([n.selection_set for n in raw.field_nodes], target)
    except _Uncovered:
        return None
    if not below or _count(below) > MAX_LEVELS:
        return None
    return compiled.Plan(tuple(requests), tuple(below))


async def prefetch_context(
    info: Info[Context, None],
    requests: Sequence[LookupRequest],
    timeline: compiled.TimelineRead,
    also: Sequence[compiled.Level] = (),
) -> compiled.ContextAnswer | None:
    """patientContext's lookup, its timeline (as ``timeline`` asks for it), the pages its
    resolver reads below the patient (``also``: the identifiers of the text's header) and,
    when the document is covered, the levels selected below ``patient`` and below the
    timeline's nodes, in one statement; the lookups and the pages below the patient primed.
    None when it is not read this way (the caller reads the reference way). The pages below
    the timeline's events are primed by :func:`prime_events`, once the caller knows which
    events it shows."""
    ctx = info.context
    if not ctx.settings.compiled_reads:
        return None
    levels = context_levels(info)
    if levels is None:
        return None
    patient, events = levels
    plan = compiled.Plan(tuple(requests), (*also, *patient))
    read = replace(timeline, below=events)
    known = (plan, read) in ctx.compiled_reads  # tried already (api/direct.py gave up on it)
    answer: compiled.ContextAnswer | None = await run_once(
        ctx,
        (plan, read),
        partial(
            compiled.context,
            ctx.reader,
            plan,
            read,
            ctx.settings.compiled_budget_s,
            wait=ctx.settings.compiled_wait_for_plan,
        ),
    )
    if answer is None or known:
        return answer
    for request, rows in zip(requests, answer.answer.found, strict=True):
        ctx.loaders.lookups.prime(request, rows)
    for wanted, page in answer.answer.pages.items():
        ctx.loaders.pages.prime(wanted, page)
    return answer


def prime_events(info: Info[Context, None], answer: compiled.ContextAnswer, shown: int) -> None:
    """Prime the request's DataLoaders with the pages read below the first ``shown`` events
    of the timeline (those the answer's ``timeline`` holds): only theirs are made, so the
    audit notes the patients of what the caller is given, as the reference path does."""
    for wanted, page in answer.below_events(shown).items():
        info.context.loaders.pages.prime(wanted, page)


def context_levels(
    info: Info[Context, None],
) -> tuple[tuple[compiled.Level, ...], tuple[compiled.Level, ...]] | None:
    """The levels selected below ``patient`` and below ``timeline { edges { node } }`` of the
    patientContext field ``info`` resolves; None when it is not read in one statement at all
    (another operation than a query, several root fields). A selection the planner does not
    cover (a directive, or too many subqueries) leaves its levels to the resolvers."""
    raw = info._raw_info
    if raw.operation.operation is not OperationType.QUERY or raw.field_name != CONTEXT:
        return None
    if not _one_root(raw.operation.selection_set, raw.fragments):
        return None
    typ = get_named_type(raw.return_type)
    if not isinstance(typ, GraphQLObjectType):
        return None
    planner = _Planner(info, raw.fragments)
    patient: list[compiled.Level] = []
    events: list[compiled.Level] = []
    try:
        selected = planner.fields([n.selection_set for n in raw.field_nodes], typ)
    except _Uncovered:
        return (), ()
    for nodes in selected.values():
        name = nodes[0].name.value
        fdef = typ.fields.get(name)
        if fdef is None or name not in (_PATIENT, _TIMELINE):
            continue
        target = get_named_type(fdef.type)
        try:
            if name == _PATIENT and isinstance(target, GraphQLObjectType):
                patient.extend(planner.below([n.selection_set for n in nodes], target))
            elif name == _TIMELINE:
                events.extend(planner.node_levels(nodes, target))
        except _Uncovered:
            continue  # its resolvers read it
    # the identifiers of the header are one more subquery; the timeline's are the reader's
    if 1 + _count(patient) + _count(events) > MAX_LEVELS:
        events = []
    if 1 + _count(patient) > MAX_LEVELS:
        patient = []
    return tuple(patient), tuple(events)


def search_levels(info: Info[Context, None], field: str) -> tuple[compiled.Level, ...]:
    """The levels a search reads in its own statement below each match's ``field`` node
    (``patients { edges { node { patient { identifiers ... } } } }``), planned as below a
    root's node (graph/search.py reads them); none when not covered (the resolvers read
    them the reference way)."""
    if not info.context.settings.compiled_reads:
        return ()
    raw = info._raw_info
    conn = get_named_type(raw.return_type)
    if not isinstance(conn, GraphQLObjectType):
        return ()
    planner = _Planner(info, raw.fragments)
    edges_type = get_named_type(conn.fields["edges"].type)
    match_type = get_named_type(edges_type.fields["node"].type)
    node_type = get_named_type(match_type.fields[field].type)
    if not isinstance(node_type, GraphQLObjectType):
        return ()
    below: list[compiled.Level] = []
    try:
        for edge_nodes in planner._named(list(raw.field_nodes), conn, "edges"):
            for match_nodes in planner._named(edge_nodes, edges_type, "node"):
                for found in planner._named(match_nodes, match_type, field):
                    below.extend(planner.below([n.selection_set for n in found], node_type))
    except _Uncovered:
        return ()
    return tuple(below) if _count(below) <= MAX_LEVELS else ()


def _count(levels: Sequence[compiled.Level]) -> int:
    return sum(1 + level.count + _count(level.below) for level in levels)


def _one_root(selections: SelectionSetNode, fragments: Fragments) -> bool:
    """Whether the operation selects exactly one root field (fragments included)."""
    found = selection_sets.fields([selections], fragments)
    return len({f.key for f in found if f.name != "__typename"}) == 1


class _Planner:
    def __init__(self, info: Info[Context, None], fragments: Fragments) -> None:
        self.info = info
        self.fragments = fragments
        self.variables = variable_values(info)

    def fields(
        self, sets: Sequence[SelectionSetNode | None], typ: ObjectOrInterface
    ) -> dict[str, list[FieldNode]]:
        """The fields the selection sets select on ``typ``, by response key, merged as
        graphql-core merges them."""
        names = {typ.name, *(i.name for i in getattr(typ, "interfaces", ()))}
        found = selection_sets.fields(
            sets, self.fragments, applies=names.__contains__, on_directive=_directive
        )
        return selection_sets.by_key(found)

    def below(
        self, sets: Sequence[SelectionSetNode | None], typ: ObjectOrInterface
    ) -> list[compiled.Level]:
        """The levels read below a node of ``typ`` for these selections."""
        return self.levels(self.fields(sets, typ), typ)

    def levels(
        self, selected: dict[str, list[FieldNode]], typ: ObjectOrInterface
    ) -> list[compiled.Level]:
        """The levels read below a node of ``typ`` for the fields selected on it (by
        response key)."""
        levels: list[compiled.Level] = []
        for nodes in selected.values():
            fdef = typ.fields.get(nodes[0].name.value)
            if fdef is None:
                continue
            definition = fdef.extensions.get("strawberry-definition")
            meta = getattr(definition, "metadata", None) or {}
            name = meta.get(PATH)
            if name == _EVENTS:
                level = self.events(nodes, fdef, typ)
            elif name is None or name not in paths.NAMES:
                continue  # no traversal (or not one compiled): its resolver reads nothing
            elif isinstance(typ, GraphQLInterfaceType) and not name.startswith("Entity."):
                continue
            else:
                level = self.level(nodes, fdef, name)
            if level is not None:
                levels.append(level)
        return levels

    def level(self, nodes: list[FieldNode], fdef: Any, name: str) -> compiled.Level | None:
        """The level a traversal field reads, as its resolver would ask for it; None when
        the resolver would refuse its arguments (it refuses them itself)."""
        args = get_argument_values(fdef, nodes[0], self.variables)
        target = get_named_type(fdef.type)
        path = paths.path(name)
        try:
            if target.name.endswith(_CONNECTION):
                return self.connection(nodes, target, path, args)
            if name == "Entity.identifiers":
                return compiled.Level(path, MAX_IDENTIFIERS, MAX_IDENTIFIERS)
            if name == "Entity.sources":
                size = page_size(self.info, args.get("first"))
                return compiled.Level(path, size, size)
            if target.name == "Coding":
                return compiled.Level(path, MAX_CODES, MAX_CODES)
            if _is_list(fdef.type) or not isinstance(target, GraphQLObjectType):
                return None
            below = self.below([n.selection_set for n in nodes], target)
            return compiled.Level(path, 1, 1, below=tuple(below))
        except ApiError:
            return None

    def events(
        self, nodes: list[FieldNode], fdef: Any, typ: ObjectOrInterface
    ) -> compiled.Level | None:
        """``events(kind:)``: the page of the traversal its resolver builds from the ontology
        for the kind asked (api/types/patient.py); None when it would refuse the kind or the
        page's arguments (it refuses them itself)."""
        start = _EVENTS_FROM.get(typ.name)
        if start is None:
            return None
        args = get_argument_values(fdef, nodes[0], self.variables)
        try:
            path = paths.events(start, paths.event_kind(args.get("kind", "Event")))
            return self.connection(nodes, get_named_type(fdef.type), path, args)
        except ApiError:
            return None

    def connection(
        self, nodes: list[FieldNode], target: Any, path: Any, args: dict[str, Any]
    ) -> compiled.Level:
        size = page_size(self.info, args.get("first"))
        start, end = window(args.get("from"), args.get("to"))
        under = under_concept(args.get("underCode"))
        after = self.info.context.cursors.decode(args.get("after"))
        sets = [n.selection_set for n in nodes]
        count = selection_sets.selects(sets, "totalCount", self.fragments)
        below = self.node_levels(nodes, target)
        return compiled.Level(
            path,
            size + 1,
            size,
            count=count,
            start=start,
            end=end,
            after=after,
            under=under,
            below=tuple(below),
        )

    def node_levels(self, nodes: list[FieldNode], target: Any) -> list[compiled.Level]:
        """The levels read below each node of the connection ``target`` that ``nodes``
        select (``edges { node { ... } }``)."""
        below: list[compiled.Level] = []
        edges_type = get_named_type(target.fields["edges"].type)
        node_type = get_named_type(edges_type.fields["node"].type)
        if isinstance(node_type, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            for edge_nodes in self._named(nodes, target, "edges"):
                for node_nodes in self._named(edge_nodes, edges_type, "node"):
                    sets = [n.selection_set for n in node_nodes]
                    if not isinstance(node_type, GraphQLUnionType):  # a union has no fields
                        below.extend(self.below(sets, node_type))
                    if not isinstance(node_type, GraphQLObjectType):
                        below.extend(self.fragments_on(sets, node_type))
        return below

    def fragments_on(
        self,
        sets: Sequence[SelectionSetNode | None],
        abstract: GraphQLInterfaceType | GraphQLUnionType,
    ) -> list[compiled.Level]:
        """The levels of the fragments on concrete types below an interface or a union
        (``Claim.providers``: ``... on Practitioner { organizations { ... } }``): each read
        below every node, and used below those of its type (a GraphQL type is named after the
        ontology class whose label its nodes carry)."""
        by_type: dict[str, list[selection_sets.Found]] = {}
        for found in selection_sets.fields(sets, self.fragments, on_directive=_directive):
            # the first fragment on the way that is not on ``abstract`` itself decides
            outer = next((c for c in found.conditions if c != abstract.name), None)
            if outer is not None:
                by_type.setdefault(outer, []).append(found)
        levels: list[compiled.Level] = []
        for name, group in sorted(by_type.items()):
            typ = self.info._raw_info.schema.get_type(name)
            if not isinstance(typ, GraphQLObjectType):
                continue  # a fragment on an interface or a union: its resolvers read it
            if isinstance(abstract, GraphQLUnionType):
                if typ not in abstract.types:
                    continue
            elif abstract not in typ.interfaces:
                continue
            # and the fragments inside it, those that apply to its type
            names = {typ.name, *(i.name for i in typ.interfaces)}
            selected = selection_sets.by_key(
                f for f in group if set(f.conditions[f.conditions.index(name) + 1 :]) <= names
            )
            levels.extend(replace(lv, on=name) for lv in self.levels(selected, typ))
        return levels

    def _named(
        self, nodes: list[FieldNode], typ: ObjectOrInterface, field: str
    ) -> list[list[FieldNode]]:
        """The groups (by response key) of ``field`` selected under ``nodes``."""
        found = self.fields([n.selection_set for n in nodes], typ)
        return [group for group in found.values() if group[0].name.value == field]


def _directive() -> None:
    raise _Uncovered("a directive")


def _is_list(typ: Any) -> bool:
    inner = typ.of_type if isinstance(typ, GraphQLNonNull) else typ
    return isinstance(inner, GraphQLList)
