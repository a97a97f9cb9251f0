"""What an operation selects: every field it asks for, with the types it may be asked of and
the arguments given, fragments followed. The access check reads it (is each field and each
filter readable by the caller?) and so does the audit (which fields were read).

A field of a name or an address is reported as a field of its owner (``Patient`` and
``address.city``), since whether it may be read depends on whose address it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)

from caregraph.api.access.policy import VALUE_TYPES

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


@lru_cache(maxsize=512)
def of(schema: GraphQLSchema, document: DocumentNode, operation: str | None) -> Selection:
    """The selection of ``operation`` (or the document's only one); the document is the
    parsed query, which the API keeps per query text, so a repeated query is walked once."""
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
    if selections is None:
        return
    for sel in selections.selections:
        if isinstance(sel, FragmentSpreadNode):
            name = sel.name.value
            frag = fragments.get(name)
            if frag is None or name in seen:
                continue
            typ = schema.get_type(frag.type_condition.name.value)
            if typ is not None:  # a fragment on a name or an address keeps its owner
                _walk(schema, fragments, frag.selection_set, typ, prefix, owner, out, seen | {name})
        elif isinstance(sel, InlineFragmentNode):
            typ = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            if typ is not None:
                _walk(schema, fragments, sel.selection_set, typ, prefix, owner, out, seen)
        elif isinstance(sel, FieldNode):
            _field(schema, fragments, sel, parent, prefix, owner, out, seen)


def _field(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    node: FieldNode,
    parent: GraphQLNamedType,
    prefix: str,
    owner: tuple[tuple[str, ...], str] | None,
    out: list[Selected],
    seen: frozenset[str],
) -> None:
    name = node.name.value
    path = f"{prefix}.{name}".lstrip(".")
    fields = getattr(parent, "fields", None)
    if name.startswith("__") or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        out.append(Selected(path, (parent.name,), name, (), node, ""))
        return
    if not fields or name not in fields:
        return
    target = get_named_type(fields[name].type)
    args = tuple(a.name.value for a in node.arguments or ())
    if parent.name in VALUE_TYPES and owner is not None:
        types, owner_field = owner
        out.append(Selected(path, types, f"{owner_field}.{name}", args, node, target.name))
        return
    types = _concrete(schema, parent)
    out.append(Selected(path, types, name, args, node, target.name))
    below = (types, name) if target.name in VALUE_TYPES else None
    _walk(schema, fragments, node.selection_set, target, path, below, out, seen)
