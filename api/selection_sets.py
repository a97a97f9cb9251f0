"""The one walk of a GraphQL document's selection sets that every reader of a document shares.

The access check and the audit (api/access/selection.py), the cost estimate (api/limits.py),
the compiled read planner (api/compiled.py), the direct answers (api/direct.py) and the
resolvers that look ahead at their own selection (api/connections.py ``wants_total``,
api/types/concept.py) each read a selection set's fields through its inline fragments and
fragment spreads. They differ only in which fragments they follow (every one, or those whose
type condition applies to a type), so :func:`fields` takes that as ``applies`` and reports
with each field the type conditions it was found under.

What it follows is graphql-core's ``collect_fields`` (the specification's CollectFields): the
fields in document order, a named fragment collected once per walk. Two additions for the
walks that run on a document before (or without) validation, the audit's and the cost
estimate's: a fragment already on the way down (``within``, passed from one level to the next)
is not followed again, so a cycle of fragments ends; and a spread of a fragment the document
does not define is passed over.

Why not graphql-core's ``collect_fields`` itself: it is marked for internal use (its
signature changed with every minor release), it needs the runtime object type, so it cannot
say what a document may select on any type (the access check's question), and it applies
``@skip``/``@include``, which the compiled planner and the direct answers refuse instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)

Fragments = Mapping[str, FragmentDefinitionNode]


class Found(NamedTuple):
    """A field node, with the fragments it was found in."""

    node: FieldNode
    conditions: tuple[str, ...]  # the type conditions on the way to it, outermost first
    within: frozenset[str]  # the named fragments on the way to it (and the caller's)

    @property
    def key(self) -> str:
        """The response key: the alias, else the name."""
        return (self.node.alias or self.node.name).value

    @property
    def name(self) -> str:
        return self.node.name.value


def fields(
    sets: Iterable[SelectionSetNode | None],
    fragments: Fragments,
    *,
    applies: Callable[[str], bool] | None = None,
    within: frozenset[str] = frozenset(),
    on_directive: Callable[[], None] | None = None,
) -> Iterator[Found]:
    """The fields the selection sets select, one level deep (not the fields' own selections),
    in document order, through inline fragments and fragment spreads.

    ``applies``: whether a fragment with that type condition is followed (all when None; a
    fragment without one always is). ``within``: the named fragments the caller is inside,
    not followed again. ``on_directive``: called for each selection or fragment definition
    met that carries a directive (those who cannot answer one raise from it)."""
    visited: set[str] = set()

    def walk(
        selections: SelectionSetNode | None, conditions: tuple[str, ...], inside: frozenset[str]
    ) -> Iterator[Found]:
        for sel in selections.selections if selections else ():
            if on_directive is not None and sel.directives:
                on_directive()
            if isinstance(sel, FieldNode):
                yield Found(sel, conditions, inside)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                if cond is None:
                    yield from walk(sel.selection_set, conditions, inside)
                elif applies is None or applies(cond.name.value):
                    yield from walk(sel.selection_set, (*conditions, cond.name.value), inside)
            elif isinstance(sel, FragmentSpreadNode):
                name = sel.name.value
                if name in visited or name in inside:
                    continue
                visited.add(name)
                fragment = fragments.get(name)
                if fragment is None:
                    continue
                if on_directive is not None and fragment.directives:
                    on_directive()
                cond_name = fragment.type_condition.name.value
                if applies is None or applies(cond_name):
                    yield from walk(
                        fragment.selection_set, (*conditions, cond_name), inside | {name}
                    )

    for selections in sets:
        yield from walk(selections, (), within)


def by_key(found: Iterable[Found]) -> dict[str, list[FieldNode]]:
    """Field nodes grouped by response key, in the order first seen (as graphql-core merges
    them)."""
    out: dict[str, list[FieldNode]] = {}
    for f in found:
        out.setdefault(f.key, []).append(f.node)
    return out


def named(
    sets: Iterable[SelectionSetNode | None], name: str, fragments: Fragments
) -> Iterator[FieldNode]:
    """Every field ``name`` the selection sets select (one level deep, every fragment)."""
    return (f.node for f in fields(sets, fragments) if f.name == name)


def selects(sets: Iterable[SelectionSetNode | None], name: str, fragments: Fragments) -> bool:
    """Whether the selection sets select a field ``name`` (one level deep, every fragment)."""
    return next(named(sets, name, fragments), None) is not None


def owner_type(
    schema: GraphQLSchema, found: Found, parent: GraphQLNamedType | None
) -> GraphQLNamedType | None:
    """The type a field was selected on: its innermost fragment's type condition, else
    ``parent``; None when a condition on the way names no type of the schema."""
    typ = parent
    for condition in found.conditions:
        typ = schema.get_type(condition)
        if typ is None:
            return None
    return typ


def has_directives(selections: SelectionSetNode | None) -> bool:
    """Whether a directive is used anywhere in the selection set, to any depth (not in the
    fragments it spreads: those are definitions of their own)."""
    for sel in selections.selections if selections else ():
        if sel.directives or has_directives(getattr(sel, "selection_set", None)):
            return True
    return False
