"""Answering a covered document without graphql-core's execution.

The compiled read path (api/compiled.py) reads a covered document's whole tree in one statement
and primes the request's DataLoaders, but graphql-core still executed the answer a field at a
time: for every field of every node, an info object, strawberry's argument conversion, an
awaitable check, a path, a completion step. For a traversal of three levels (one practitioner,
20 visits, their claims and studies: about 300 fields) that was half of a worker's CPU, more
than the read (bench/analysis.md, the profile of 2026-12-05).

:class:`Direct` is a schema extension that answers such a document itself, before graphql-core
would execute it, by the rules graphql-core follows (the GraphQL specification's
ExecuteSelectionSet, CompleteValue and CollectFields), with the same resolvers and the same
typed objects: a stored field is the attribute the type's mapper set, a field with a resolver
calls it with the same arguments (graphql-core's own argument coercion) and a strawberry
``Info`` over a real ``GraphQLResolveInfo``, and each value is serialized by its GraphQL type.
What it leaves out is the machinery a general executor needs and these documents do not:
below the root field every read was primed, so every resolver finishes without waiting, and
a field's resolver is called directly, not through a task, a gather and strawberry's wrappers.

It answers only when it can answer exactly as graphql-core would; anything else raises
:class:`Miss` and graphql-core executes the document from the start, as before:

- a query whose one root field is a lookup the compiled path covers (api/compiled.py
  ``ROOTS``, ``patientContext``) or a search (api/search.py), with no directive anywhere
  (``@skip``/``@include`` are left to graphql-core), no field extension and only scalar
  arguments (strawberry converts those as given);
- and then, as it goes: a root whose one statement was not read (Neo4j still planning it, a
  budget given up); below the root, a resolver that asks for a read that was not primed (the
  document is covered only in part: while the answer is made, the request's loaders refuse
  such a read rather than queue it, api/dataloaders.py); an error of any kind (a refused
  argument, a null in a non-null field ...: graphql-core reports it, with its path, as the
  reference does); a value its type does not accept.

The root's resolver (the lookup and the one statement) runs once: a second run of the document
by graphql-core finds the lookup in its DataLoader and the statement's answer kept in the
request's context (api/compiled.py). A document that keeps missing is left to graphql-core
(:data:`GIVE_UP`) but for one request in :data:`RETRY_EVERY`, which tries it again.

Why not graphql-core's own executor with a cheaper resolver per field: its per-field cost is in
the executor itself (measured: 14% of a worker's CPU for the traversal), not only in strawberry's
wrappers (11%); and why not a library: the GraphQL executors for Python are graphql-core and
its ports, with the same design.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLAbstractType,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.execute import default_type_resolver
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path, is_awaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.extensions import SchemaExtension

from caregraph.api import compiled, selection_sets
from caregraph.api.context import Context
from caregraph.api.type_system import graphql_core

log = logging.getLogger("caregraph.api")

# the lookups and patientContext (api/compiled.py), the searches (api/search.py): each reads
# its tree in one statement of its own
ROOTS = (
    compiled.ROOTS
    | {compiled.CONTEXT}
    | {"patients", "practitioners", "organizations", "locations"}
)
MAX_DOCUMENTS = 512  # documents whose plan is kept (most recently used)
GIVE_UP = 3  # misses more than answers by this many: the document is left to graphql-core,
RETRY_EVERY = 64  # but for one request in this many (a miss may have been the caller's error)
_DEFINITION = "strawberry-definition"  # graphql-core field extension: strawberry's field
_Info = GraphQLResolveInfo[Context]


class Miss(Exception):
    """This request is not answered here: graphql-core executes it."""


class NotRead(Miss):
    """The compiled path did not read this request's tree (it does not cover the document, or
    Neo4j is still planning its statement): not counted against the document."""


class Unsupported(Miss):
    """The document has a shape this module does not answer, whatever its variables."""


@dataclass(slots=True)
class _Field:
    """A field of a selection on one runtime type, merged by response key as graphql-core
    merges them."""

    key: str
    nodes: tuple[FieldNode, ...]
    definition: GraphQLField | None  # None: __typename
    attr: str = ""  # a stored field: the attribute its value is in
    strawberry: Any = None  # a field with a resolver: strawberry's field
    # (GraphQL name, Python name) of each argument the resolver takes
    arguments: tuple[tuple[str, str], ...] = ()
    self_arg: bool = False
    source_kwargs: tuple[str, ...] = ()  # parameters given the parent value (root=, parent=)
    info_kwarg: str | None = None


@dataclass(slots=True)
class _Document:
    """One query text's operation, its fragments and the fields collected so far."""

    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root: _Field | None = None
    collected: dict[tuple[int, str], tuple[_Field, ...]] = field(default_factory=dict)
    answered: int = 0
    missed: int = 0
    left: int = 0  # requests left to graphql-core since it was given up


class Plans:
    """The documents seen, by (query text, operation name): collected once, read by every
    request of the same text (a parsed document is immutable)."""

    def __init__(self, schema: GraphQLSchema, info_class: type, name_converter: Any) -> None:
        self.schema = schema
        self.info_class = info_class
        self.names = name_converter
        self._documents: dict[tuple[str, str | None], _Document | None] = {}

    def document(self, text: str, name: str | None, document: DocumentNode) -> _Document | None:
        key = (text, name)
        if key in self._documents:
            found = self._documents.pop(key)
            self._documents[key] = found  # most recently used last
            return found
        try:
            made: _Document | None = self._make(document, name)
        except Unsupported:
            made = None
        self._documents[key] = made
        while len(self._documents) > MAX_DOCUMENTS:
            del self._documents[next(iter(self._documents))]
        return made

    def refuse(self, text: str, name: str | None) -> None:
        """The document (found unsupported below its root) is left to graphql-core for good."""
        self._documents[(text, name)] = None

    def _make(self, document: DocumentNode, name: str | None) -> _Document:
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        chosen = [o for o in operations if name is None or (o.name and o.name.value == name)]
        if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY:
            raise Unsupported("not one query")
        operation = chosen[0]
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        if selection_sets.has_directives(operation.selection_set) or any(
            f.directives or selection_sets.has_directives(f.selection_set)
            for f in fragments.values()
        ):
            raise Unsupported("a directive")
        doc = _Document(operation, fragments)
        query = self.schema.query_type
        assert query is not None
        roots = self._collect(doc, None, query)
        if len(roots) != 1 or roots[0].nodes[0].name.value not in ROOTS:
            raise Unsupported("not one covered root")
        doc.root = roots[0]
        return doc

    def fields(
        self, doc: _Document, nodes: tuple[FieldNode, ...], runtime: GraphQLObjectType
    ) -> tuple[_Field, ...]:
        """The fields ``nodes`` select on an object of type ``runtime``."""
        key = (id(nodes), runtime.name)
        found = doc.collected.get(key)
        if found is None:
            found = doc.collected[key] = self._collect(doc, nodes, runtime)
        return found

    def _collect(
        self, doc: _Document, nodes: tuple[FieldNode, ...] | None, runtime: GraphQLObjectType
    ) -> tuple[_Field, ...]:
        # CollectFields (GraphQL spec 6.3.2), as graphql-core's collect_fields does it: fields by
        # response key in the order first seen, a fragment spread once per collection, a
        # fragment when its type condition is the runtime type or an abstract type it is in
        if nodes is None:
            sets: list[SelectionSetNode | None] = [doc.operation.selection_set]
        else:
            sets = [node.selection_set for node in nodes]
        grouped = selection_sets.by_key(
            selection_sets.fields(
                sets, doc.fragments, applies=lambda condition: self._applies(condition, runtime)
            )
        )
        out = []
        for key, group in grouped.items():
            name = group[0].name.value
            if name == "__typename":
                out.append(_Field(key, tuple(group), None))
                continue
            definition = runtime.fields.get(name)
            if definition is None:
                continue  # graphql-core skips it too (validation refuses it before)
            out.append(self._field(key, tuple(group), definition))
        return tuple(out)

    def _applies(self, condition: str, runtime: GraphQLObjectType) -> bool:
        typ = self.schema.get_type(condition)
        if typ is runtime:
            return True
        return is_abstract_type(typ) and self.schema.is_sub_type(typ, runtime)

    def _field(self, key: str, nodes: tuple[FieldNode, ...], definition: GraphQLField) -> _Field:
        made = definition.extensions.get(_DEFINITION)
        if made is None or made.extensions:
            raise Unsupported("a field strawberry does not resolve plainly")
        resolver = made.base_resolver
        if resolver is None:
            if definition.args:
                raise Unsupported("arguments without a resolver")
            return _Field(key, nodes, definition, attr=made.python_name)
        arguments = []
        for argument in made.arguments:
            graphql_name = self.names.from_argument(argument)
            arg_type = definition.args[graphql_name].type
            if isinstance(arg_type, GraphQLNonNull):
                arg_type = arg_type.of_type
            if not isinstance(arg_type, GraphQLScalarType):
                raise Unsupported("an argument strawberry converts")  # input, enum, list
            arguments.append((graphql_name, argument.python_name))
        return _Field(
            key,
            nodes,
            definition,
            strawberry=made,
            arguments=tuple(arguments),
            self_arg=resolver.self_parameter is not None,
            source_kwargs=tuple(
                p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p
            ),
            info_kwarg=resolver.info_parameter.name if resolver.info_parameter else None,
        )


def _now(value: Any) -> Any:
    """The value of an awaitable that needs no waiting (a primed page, a resolver whose reads
    were primed); :class:`Miss` when it would wait (it is closed: graphql-core runs it again)."""
    step = value.__await__()
    try:
        waiting_on = step.send(None)
    except StopIteration as done:
        return done.value
    # asyncio marks a future a task is to wait on, and refuses a second wait while the mark
    # is set ("await wasn't used with future"): graphql-core's run waits on it next
    if getattr(waiting_on, "_asyncio_future_blocking", False):
        waiting_on._asyncio_future_blocking = False
    close = getattr(step, "close", None)
    if close is not None:
        close()
    raise Miss("a read below the root was not primed")


async def _gather(values: Iterable[Any]) -> list[Any]:
    return [await v if is_awaitable(v) else v for v in values]


_HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=lambda values: None)


class _Run:
    """One request's answer."""

    def __init__(
        self,
        plans: Plans,
        doc: _Document,
        variables: VariableValues,
        context: Any,
        root_value: Any,
    ) -> None:
        self.plans = plans
        self.schema = plans.schema
        self.doc = doc
        self.variables = variables
        self.context = context
        self.root_value = root_value
        self._args: dict[int, dict[str, Any]] = {}

    async def answer(self) -> dict[str, Any]:
        query = self.schema.query_type
        root = self.doc.root
        assert query is not None and root is not None and root.definition is not None
        path = Path(None, root.key, query.name)
        raw = self._raw(root, query, path)
        value = self._call(root, self.root_value, raw)
        if is_awaitable(value):
            value = await value  # the lookup and its one statement: a real wait
        if not any(read is not None for read in self.context.compiled_reads.values()):
            raise NotRead("the root's resolver read nothing in one statement")
        loaders = self.context.loaders
        loaders.only_primed(True)  # a read below that was not primed: a miss, nothing queued
        try:
            return {root.key: self._complete(root, root.definition.type, value, path, raw)}
        finally:
            loaders.only_primed(False)

    def _raw(self, f: _Field, parent: GraphQLNamedType, path: Path) -> _Info:
        """graphql-core's info for the field ``f`` at ``path``, as its executor makes it."""
        return GraphQLResolveInfo(
            f.nodes[0].name.value,
            list(f.nodes),
            f.definition.type,  # type: ignore[union-attr]
            parent,  # type: ignore[arg-type]
            path,
            self.schema,
            self.doc.fragments,
            self.root_value,
            self.doc.operation,
            self.variables,
            self.context,
            is_awaitable,
            None,
            _HELPERS,
        )

    def _call(self, f: _Field, source: Any, raw: _Info) -> Any:
        """The field's resolver, called as strawberry calls it (its arguments by Python name,
        ``self``, ``info``, ``root``/``parent`` where the resolver asks for them)."""
        assert f.definition is not None
        node = f.nodes[0]
        values = self._args.get(id(node))
        if values is None:
            values = self._args[id(node)] = get_argument_values(f.definition, node, self.variables)
        info = self.plans.info_class(_raw_info=raw, _field=f.strawberry)
        kwargs = {python: values[name] for name, python in f.arguments if name in values}
        for name in f.source_kwargs:
            kwargs[name] = source
        if f.info_kwarg:
            kwargs[f.info_kwarg] = info
        return f.strawberry.get_result(source, info, [source] if f.self_arg else [], kwargs)

    def _object(
        self, typ: GraphQLObjectType, source: Any, nodes: tuple[FieldNode, ...], path: Path
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in self.plans.fields(self.doc, nodes, typ):
            if f.definition is None:
                out[f.key] = typ.name
                continue
            at = Path(path, f.key, typ.name)
            if f.strawberry is None:
                value = getattr(source, f.attr)  # strawberry's default resolver
                out[f.key] = self._complete(f, f.definition.type, value, at, None, typ)
                continue
            raw = self._raw(f, typ, at)
            value = self._call(f, source, raw)
            if is_awaitable(value):
                value = _now(value)
            out[f.key] = self._complete(f, f.definition.type, value, at, raw, typ)
        return out

    def _complete(
        self,
        f: _Field,
        typ: Any,
        value: Any,
        path: Path,
        raw: _Info | None,
        parent: GraphQLNamedType | None = None,
    ) -> Any:
        # CompleteValue (GraphQL spec 6.4.3), with graphql-core's serialization of leaves
        if isinstance(typ, GraphQLNonNull):
            if value is None:
                raise Miss("null in a non-null field")  # graphql-core reports it
            typ = typ.of_type
        if value is None:
            return None
        if isinstance(typ, GraphQLList):
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                raise Miss("not a list")
            item = typ.of_type
            return [
                self._complete(f, item, v, path.add_key(i, None), raw, parent)
                for i, v in enumerate(value)
            ]
        if is_leaf_type(typ):
            serialized = typ.serialize(value)
            if serialized is Undefined or serialized is None:
                raise Miss("a value its type does not serialize")
            return serialized
        if is_abstract_type(typ) or typ.is_type_of is not None:
            raw = raw or self._raw(f, parent or typ, path)
        if is_abstract_type(typ):
            typ = self._runtime(typ, value, raw)  # type: ignore[arg-type]
        if typ.is_type_of is not None and not typ.is_type_of(value, raw):
            raise Miss("not of its type")
        return self._object(typ, value, f.nodes, path)

    def _runtime(self, abstract: GraphQLAbstractType, value: Any, raw: _Info) -> GraphQLObjectType:
        resolve = abstract.resolve_type or default_type_resolver
        found = resolve(value, raw, abstract)
        if is_awaitable(found):
            found = _now(found)
        typ = self.schema.get_type(found) if isinstance(found, str) else None
        if not isinstance(typ, GraphQLObjectType) or not self.schema.is_sub_type(abstract, typ):
            raise Miss("no runtime type")
        return typ


class Direct(SchemaExtension):
    """Answers a covered query before graphql-core executes it (see the module)."""

    _plans: Plans | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context
        if (
            isinstance(ctx, Context)
            and ctx.settings.compiled_reads
            and ctx.settings.direct_answers
            and ec.query is not None
            and ec.graphql_document is not None
            and ec.result is None
        ):
            result = await self._answer(ctx)
            if result is not None:
                ec.result = result
                ctx.answered_directly = True
        yield

    async def _answer(self, ctx: Context) -> ExecutionResult | None:
        ec = self.execution_context
        plans = Direct._plans
        if plans is None or plans.schema is not graphql_core(ec.schema):
            plans = Direct._plans = Plans(
                graphql_core(ec.schema),
                ec.schema.config.info_class,
                ec.schema.config.name_converter,
            )
        doc = plans.document(ec.query or "", ec.operation_name, ec.graphql_document)  # type: ignore[arg-type]
        if doc is None:
            return None
        if doc.missed - doc.answered >= GIVE_UP:
            doc.left += 1
            if doc.left % RETRY_EVERY:
                return None
        variables = get_variable_values(
            plans.schema, doc.operation.variable_definitions or (), ec.variables or {}
        )
        if not isinstance(variables, VariableValues):
            return None  # graphql-core reports the bad variables
        try:
            data = await _Run(plans, doc, variables, ctx, ec.root_value).answer()
        except Unsupported:
            plans.refuse(ec.query or "", ec.operation_name)
            return None
        except NotRead:
            return None
        except Exception as error:
            doc.missed += 1
            log.debug("direct answer missed (%s): graphql-core executes it", type(error).__name__)
            return None
        doc.answered += 1
        return ExecutionResult(data=data, errors=None)
