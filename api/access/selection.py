"""What an operation selects: every field it asks for, with the types it may be asked of and
the arguments given, fragments followed. The access check reads it (is each field and each
filter readable by the caller?) and so does the audit (which fields were read).

A field of a name or an address is reported as a field of its owner (``Patient`` and
``address.city``), since whether it may be read depends on whose address it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)

from caregraph.api import selection_sets
from caregraph.api.access.policy import VALUE_TYPES
from caregraph.api.document_cache import DocumentCache

MAX_PATHS = 500  # fields noted per operation in the audit: a bound on one record's size


@dataclass(frozen=True, slots=True)
class Selected:
    """One field the operation selects."""

    path: str  # field names from the root, dot-separated (aliases are not names)
    types: tuple[str, ...]  # the object types it may be a field of (an interface: all)
    name: str  # the field's name, qualified by its owner's field for names and addresses
    arguments: tuple[str, ...]  # the arguments given
    node: FieldNode
    returns: str  # the named type it returns


@dataclass(frozen=True, slots=True)
class Selection:
    """An operation's fields, in document order."""

    operation: str | None  # the operation's name
    kind: str  # query, mutation, subscription
    fields: tuple[Selected, ...]

    @property
    def roots(self) -> set[str]:
        return {f.name for f in self.fields if "." not in f.path}

    def paths(self) -> list[str]:
        """The distinct field paths, sorted, at most MAX_PATHS."""
        return sorted({f.path for f in self.fields if not f.name.startswith("__")})[:MAX_PATHS]


_SELECTIONS: DocumentCache[Selection] = DocumentCache(512)


def of(schema: GraphQLSchema, document: DocumentNode, operation: str | None) -> Selection:
    """The selection of ``operation`` (or the document's only one); the document is the
    parsed query, which the API keeps per query text, so a repeated query is walked once."""
    return _SELECTIONS.get(document, (schema, operation), lambda: _of(schema, document, operation))


def _of(schema: GraphQLSchema, document: DocumentNode, operation: str | None) -> Selection:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next((o for o in ops if operation is None or (o.name and o.name.value == operation)), None)
    if op is None:
        return Selection(operation, "query", ())
    root = schema.get_root_type(op.operation)
    out: list[Selected] = []
    if root is not None:
        _walk(schema, fragments, op.selection_set, root, "", None, out, frozenset())
    return Selection(op.name.value if op.name else None, op.operation.value, tuple(out))


def _concrete(schema: GraphQLSchema, typ: GraphQLNamedType) -> tuple[str, ...]:
    if isinstance(typ, GraphQLInterfaceType | GraphQLUnionType):
        return tuple(sorted(t.name for t in schema.get_possible_types(typ)))
    return (typ.name,)


def _walk(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    selections: SelectionSetNode | None,
    parent: GraphQLNamedType,
    prefix: str,
    owner: tuple[tuple[str, ...], str] | None,
    out: list[Selected],
    seen: frozenset[str],
) -> None:
    # every fragment, whatever its type: what may be asked of any type (a fragment on a name
    # or an address keeps its owner)
    for found in selection_sets.fields([selections], fragments, within=seen):
        typ = selection_sets.owner_type(schema, found, parent)
        if typ is None:
            continue
        node, name = found.node, found.name
        path = f"{prefix}.{name}".lstrip(".")
        if name.startswith("__") or not isinstance(typ, GraphQLObjectType | GraphQLInterfaceType):
            out.append(Selected(path, (typ.name,), name, (), node, ""))
            continue
        if name not in typ.fields:
            continue
        target = get_named_type(typ.fields[name].type)
        args = tuple(a.name.value for a in node.arguments or ())
        if typ.name in VALUE_TYPES and owner is not None:
            types, owner_field = owner
            out.append(Selected(path, types, f"{owner_field}.{name}", args, node, target.name))
            continue
        types = _concrete(schema, typ)
        out.append(Selected(path, types, name, args, node, target.name))
        below = (types, name) if target.name in VALUE_TYPES else None
        _walk(schema, fragments, node.selection_set, target, path, below, out, found.within)
