"""Guardrails, on by default, each set in :class:`~api.settings.ApiSettings`:

- depth, aliases and tokens: strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter``
  rules and the parser's token limit (what ``MaxTokensLimiter`` sets), per request so that the
  limits come from the request's settings;
- page size: a `first` above ``max_page_size`` anywhere in the query;
- cost: before anything runs, the nodes the query would read are estimated by multiplying,
  down the selection tree, each traversal's page size by the graph's real fan-out (average
  relationships per node of that type, from Neo4j's count store, cached briefly);
- time: every read runs with a Neo4j transaction timeout taken from the request's deadline.

A refused query gets one error that says which limit, by how much, and how to narrow.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    parse,
    validate,
)
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter, SchemaExtension

from caregraph.api import arguments, paths, selection_sets
from caregraph.api.availability import UNAVAILABLE
from caregraph.api.connections import PATH
from caregraph.api.document_cache import DocumentCache
from caregraph.api.errors import ApiError, LimitExceededError, ServiceUnavailableError
from caregraph.api.settings import ApiSettings
from caregraph.api.type_system import graphql_core
from caregraph.graph.readers import GraphCounts, TraversalPath

CONNECTION_SUFFIX = "Connection"
SEARCHES = frozenset({"patients", "practitioners", "organizations", "locations"})  # root searches


@lru_cache(maxsize=32)
def _depth_rules(max_depth: int) -> tuple[type[ASTValidationRule], ...]:
    return tuple(QueryDepthLimiter(max_depth=max_depth).validation_rules)


@lru_cache(maxsize=32)
def _alias_rules(max_aliases: int) -> tuple[type[ASTValidationRule], ...]:
    return tuple(MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules)


@lru_cache(maxsize=256)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    """A parsed query, kept: agents repeat the same few queries with other variables."""
    return parse(query, max_tokens=max_tokens)


_VALIDATED: DocumentCache[tuple[GraphQLError, ...]] = DocumentCache(256)


def _validate(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> tuple[GraphQLError, ...]:
    """Validation of a parsed query; the same text parses to the same document (see _parse),
    so a query repeated is validated once."""
    return _VALIDATED.get(
        document, (schema, rules), lambda: tuple(validate(schema, document, rules))
    )


class Guardrails(SchemaExtension):
    """Applies the request's limits: before parsing, at validation, and on every read."""

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        settings = _settings(ec.context)
        ec.parse_options["max_tokens"] = settings.max_tokens  # as MaxTokensLimiter does
        ec.validation_rules = (
            *arguments.rules(ec.validation_rules),  # a bad value's error gets its code
            *_depth_rules(settings.max_depth),
            *_alias_rules(settings.max_aliases),
        )
        reader = getattr(ec.context, "reader", None)
        if reader is not None:
            reader.start_clock()
        yield

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            # on a syntax error strawberry parses it again and reports it the usual way
            with contextlib.suppress(GraphQLError):
                ec.graphql_document = _parse(ec.query, _settings(ec.context).max_tokens)
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        ec = self.execution_context
        if ec.pre_execution_errors is None and ec.graphql_document is not None:
            errors = list(
                _validate(graphql_core(ec.schema), ec.graphql_document, ec.validation_rules)
            )
            if not errors:
                try:
                    refusal = await self._refusal()
                except UNAVAILABLE:  # the fan-out could not be read: the masking cannot see
                    # an error raised here, so it is turned into the caller's error here
                    breaker = getattr(ec.context, "breaker", None)
                    refusal = breaker.failed() if breaker else ServiceUnavailableError(5)
                if refusal is not None:
                    errors = [
                        GraphQLError(
                            refusal.message, original_error=refusal, extensions=refusal.extensions
                        )
                    ]
            ec.pre_execution_errors = list(errors)
        yield

    async def _refusal(self) -> ApiError | None:
        ec = self.execution_context
        context = ec.context
        settings = _settings(context)
        document = ec.graphql_document
        assert document is not None
        estimator = ESTIMATES.get(
            graphql_core(ec.schema), settings, ec.variables or {}, document, ec.operation_name
        )
        if estimator.too_big:
            where, first = estimator.too_big
            return LimitExceededError(
                "page size",
                f"first: {first} at {where} is more than {settings.max_page_size}",
                f"ask for at most {settings.max_page_size} and page on with `after: endCursor`",
                max=settings.max_page_size,
                field=where,
            )
        if not estimator.traversals:
            return None
        reader = getattr(context, "reader", None)
        fanout = getattr(context, "fanout", None)
        if reader is None or fanout is None:
            return None
        counts = fanout.fresh(reader, settings.fanout_ttl_s)
        if counts is None:  # to be read again: in a thread, as it waits on Neo4j
            counts = await asyncio.to_thread(fanout.get, reader, settings.fanout_ttl_s)
        cost, heaviest = estimator.cost(counts)
        if cost <= settings.max_cost:
            return None
        where, rows = heaviest
        return LimitExceededError(
            "cost",
            f"it would read about {cost:,.0f} nodes, more than {settings.max_cost:,.0f} "
            f"(most under {where}, about {rows:,.0f}, from the graph's average fan-out)",
            "lower `first` on the nested lists (above all the one named), select fewer "
            "nested lists, or split the query and page with `after`",
            estimate=round(cost),
            max=settings.max_cost,
            field=where,
        )


def _settings(context: Any) -> ApiSettings:
    settings = getattr(context, "settings", None)
    return settings if isinstance(settings, ApiSettings) else ApiSettings()


# -- the cost estimate -----------------------------------------------------------------------


# the arguments an estimate reads: page sizes, patientContext's budget, an `events` kind
ESTIMATED_FROM = frozenset({"first", "budgetTokens", "kind"})


@dataclass
class Traversal:
    """A field that reads the graph, as found in the query, with what its rows feed."""

    where: str  # dotted path of response names
    path: TraversalPath
    size: int  # page size asked for (1 for a to-one field)
    children: list[Traversal] = field(default_factory=list)


class Estimator:
    """Walks a query's selections, noting every traversal and every `first`."""

    def __init__(self, schema: GraphQLSchema, settings: ApiSettings, variables: Mapping[str, Any]):
        self.schema = schema
        self.settings = settings
        self.variables = variables
        self.traversals: list[Traversal] = []
        self.too_big: tuple[str, int] | None = None
        self.fixed = 0.0  # reads that do not depend on fan-out (roots, patientContext)
        self.read: set[str] = set()  # the variables the estimate depends on
        self._fragments: dict[str, FragmentDefinitionNode] = {}

    def collect(self, document: Any, operation_name: str | None) -> None:
        self._fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for op in document.definitions:
            if not isinstance(op, OperationDefinitionNode):
                continue
            if operation_name and (op.name is None or op.name.value != operation_name):
                continue
            root = self.schema.get_root_type(op.operation)
            if root is not None:
                self._walk(op.selection_set, root, "", self.traversals, frozenset())
        # kept (api/limits.py Estimates) with the values it read only: a page size, a budget,
        # a kind, not the request's other variables (an identifier, a name searched for)
        self.variables = {name: self.variables.get(name) for name in self.read}

    def _walk(
        self,
        selections: SelectionSetNode | None,
        parent: GraphQLObjectType | GraphQLInterfaceType | Any,
        prefix: str,
        into: list[Traversal],
        seen: frozenset[str],
    ) -> None:
        # every fragment, whatever its type: the cost of what any node may be asked
        for found in selection_sets.fields([selections], self._fragments, within=seen):
            typ = selection_sets.owner_type(self.schema, found, parent)
            self._field(found.node, typ, prefix, into, found.within)

    def _field(
        self,
        node: FieldNode,
        parent: Any,
        prefix: str,
        into: list[Traversal],
        seen: frozenset[str],
    ) -> None:
        fields = getattr(parent, "fields", None)
        name = node.name.value
        if not fields or name not in fields:
            return
        fdef = fields[name]
        where = f"{prefix}.{(node.alias or node.name).value}".lstrip(".")
        args = self._args(node)
        first = args.get("first")
        if isinstance(first, int) and first > self.settings.max_page_size and not self.too_big:
            self.too_big = (where, first)
        target = get_named_type(fdef.type)
        definition = fdef.extensions.get("strawberry-definition")
        meta = getattr(definition, "metadata", None) or {}
        traversal_name = meta.get(PATH)
        if parent is self.schema.query_type:
            self.fixed += self._root_cost(name, args)
        if traversal_name is None:
            self._walk(node.selection_set, target, where, into, seen)
            return
        path = self._path(traversal_name, parent.name, args)
        if path is None:
            self._walk(node.selection_set, target, where, into, seen)
            return
        many = target.name.endswith(CONNECTION_SUFFIX) or isinstance(
            getattr(fdef.type, "of_type", fdef.type), GraphQLList
        )
        size = 1
        if many:
            size = first if isinstance(first, int) else self.settings.default_page_size
        step = Traversal(where, path, size)
        into.append(step)
        self._walk(node.selection_set, target, where, step.children, seen)

    def _path(self, name: str, parent: str, args: Mapping[str, Any]) -> TraversalPath | None:
        if name == "events":
            try:
                start = paths.ontology().class_named(parent).iri
                kind = paths.event_kind(str(args.get("kind") or "Event"))
            except (KeyError, ApiError):
                return None  # the resolver reports a bad kind
            return paths.events(start, kind)
        return paths.path(name) if name in paths.NAMES else None

    def _root_cost(self, name: str, args: Mapping[str, Any]) -> float:
        if name in SEARCHES:  # a page of matches, each read with what the search checks
            first = args.get("first")
            return float(first if isinstance(first, int) else self.settings.default_page_size)
        if name == "patientContext":
            budget = args.get("budgetTokens") or self.settings.context_default_budget
            budget = budget if isinstance(budget, int) else self.settings.context_default_budget
            return float(min(self.settings.context_max_events, budget * 4 // 30 + 1))
        return 1.0

    def _args(self, node: FieldNode) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for arg in node.arguments or ():
            if arg.name.value not in ESTIMATED_FROM:
                continue
            value = arg.value
            if isinstance(value, VariableNode):
                self.read.add(value.name.value)
                out[arg.name.value] = self.variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                out[arg.name.value] = int(value.value)
            elif isinstance(value, StringValueNode):
                out[arg.name.value] = value.value
        return out

    def cost(self, counts: GraphCounts) -> tuple[float, tuple[str, float]]:
        """Estimated nodes read, and the traversal reading the most."""
        heaviest: list[tuple[str, float]] = [("the query", 0.0)]

        def walk(steps: list[Traversal], parents: float) -> float:
            total = 0.0
            for t in steps:
                rows = parents * min(float(t.size), fanout(counts, t.path))
                if rows > heaviest[0][1]:
                    heaviest[0] = (t.where, rows)
                # a traversal costs the nodes it reads, and one lookup at least
                total += rows + 1.0 + walk(t.children, rows)
            return total

        return self.fixed + walk(self.traversals, 1.0), heaviest[0]


class Estimates:
    """Estimators already made, by document, operation, the settings they read and the values
    of the variables they read (a lookup's identifier is not one of them: the estimate of a
    question asked of many patients is made once). The walk of a document is the same for
    every request that sends it; only the fan-out it is multiplied by changes (read per
    request, from the counts cached by api/fanout.py)."""

    def __init__(self, size: int = 512) -> None:
        self._reads: DocumentCache[tuple[str, ...]] = DocumentCache(size)
        self._made: DocumentCache[Estimator] = DocumentCache(size)

    def get(
        self,
        schema: GraphQLSchema,
        settings: ApiSettings,
        variables: Mapping[str, Any],
        document: DocumentNode,
        operation: str | None,
    ) -> Estimator:
        limits = (
            settings.max_page_size,
            settings.default_page_size,
            settings.context_default_budget,
            settings.context_max_events,
        )
        reads = self._reads.find(document, (schema, operation))
        if reads is not None:
            given = tuple(repr(variables.get(name)) for name in reads)
            found = self._made.find(document, (schema, operation, limits, given))
            if found is not None:
                return found
        made = Estimator(schema, settings, variables)
        made.collect(document, operation)
        reads = tuple(sorted(made.read))  # the same for every request that sends the document
        given = tuple(repr(variables.get(name)) for name in reads)
        self._reads.put(document, (schema, operation), reads)
        return self._made.put(document, (schema, operation, limits, given), made)


ESTIMATES = Estimates()


def fanout(counts: GraphCounts, path: TraversalPath) -> float:
    """Average number of nodes a path reaches from one start node."""
    total = 0.0
    for chain in path.chains:
        label, f = path.start, 1.0
        for step in chain:
            f *= counts.fanout(label, step)
            label = step.label
        total += f
    return total
