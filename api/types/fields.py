"""The fields of the node types, each declared once, in one line of its type's class.

A stored field (:func:`stored`) names the graph property it is read from (by default its own
GraphQL name) and how the value is read; the type's ``from_record`` reads every stored field
(:func:`read_stored`), and the role projections (api/access/projections.py) read which
properties each field is made of from the same declaration (field metadata
:data:`PROPERTIES`), so a property no field shows never leaves Neo4j. :func:`made_of` says it
for a field read some other way (an interface's fields, a name's text), and :func:`composite`
for a field whose value is a type of its own made of the node's properties (a name, an
address).

A traversal field names its traversal in api/paths.py, the type it reaches and its
description.

A traversal field was a method of 10 to 20 lines that named its traversal twice (in the field's
metadata, which the cost estimate, the role projections and the compiled read path read, and in
the resolver's call), the type it reaches three times, and repeated the arguments of its kind;
42 connections, 31 to-one fields and 10 codings were written that way. Here each kind of field
is written once (:func:`connection`, :func:`to_one`, :func:`codings`), and a type's field is
``encounters = connection("Patient.encounters", "Encounter", "Visits, oldest first.",
window=True, codes=True)``. The schema these make is the one the methods made, to the letter
(api/schema.graphql, which tests/api/test_sdl.py holds the schema to).

Traversal fields that do more than follow one traversal (``Patient.events``, whose traversal
depends on its ``kind`` argument) stay methods of their type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from caregraph.api import connections
from caregraph.api.connections import PATH, Connection
from caregraph.api.context import Context
from caregraph.api.types import registry, values
from caregraph.api.types.args import After, First, From, To, UnderCode

__all__ = [
    "PROPERTIES",
    "codings",
    "composite",
    "connection",
    "is_composite",
    "made_of",
    "properties_of",
    "read_stored",
    "stored",
    "to_one",
]

# field metadata: the graph properties a field is made of, as {subfield: properties}: the
# field itself under OWN, a composite's subfields as ".family" (Patient's "name.family"); a
# property OWN is the field's own GraphQL name, known once the class is made
PROPERTIES = "properties"
OWN = ""
_READ = "read"  # field metadata: how a stored field's value is read from the node's properties


@dataclass(frozen=True, slots=True)
class _Read:
    convert: Callable[[Any], Any]
    # the property it converts (OWN: the field's GraphQL name); None: all of the node's, which
    # a composite's type reads
    prop: str | None = OWN


def stored(
    convert: Callable[[Any], Any] = values.text,
    description: str | None = None,
    *,
    prop: str = OWN,
) -> Any:
    """A field whose value is one property of the node, ``prop`` (by default the field's
    GraphQL name), read through ``convert`` (text by default)."""
    return strawberry.field(
        description=description,
        metadata={PROPERTIES: {OWN: (prop,)}, _READ: _Read(convert, prop)},
    )


def made_of(*props: str, description: str | None = None) -> Any:
    """A field made of these properties but read some other way (by its type's own reader):
    declared for the role projections."""
    return strawberry.field(description=description, metadata={PROPERTIES: {OWN: props}})


def composite(kind: Any, description: str | None = None) -> Any:
    """A field whose value is ``kind`` (a name, an address) made of the node's properties by
    ``kind.from_props``; its subfields' properties are those ``kind`` declares."""
    subfields = {
        f".{_graphql_name(f)}": f.metadata[PROPERTIES][OWN]
        for f in kind.__strawberry_definition__.fields
        if PROPERTIES in f.metadata
    }
    return strawberry.field(
        description=description,
        metadata={PROPERTIES: subfields, _READ: _Read(kind.from_props, None)},
    )


def properties_of(field: Any, name: str) -> dict[str, tuple[str, ...]]:
    """What the field ``name`` (its GraphQL name) is made of, from its metadata: field path ->
    properties; empty for a field made of none (a traversal, ``key``, ``kind``)."""
    declared: Mapping[str, tuple[str, ...]] = (getattr(field, "metadata", None) or {}).get(
        PROPERTIES, {}
    )
    return {name + sub: tuple(p or name for p in props) for sub, props in declared.items()}


def is_composite(field: Any) -> bool:
    """Whether ``field`` (a strawberry field) holds a part of its node (a name, an address),
    whose type is then no node type of its own."""
    read = (getattr(field, "metadata", None) or {}).get(_READ)
    return isinstance(read, _Read) and read.prop is None


def _graphql_name(field: Any) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


@cache
def _readers(cls: type) -> tuple[tuple[str, str | None, Callable[[Any], Any]], ...]:
    return tuple(
        (f.python_name, _graphql_name(f) if read.prop == OWN else read.prop, read.convert)
        for f in cls.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if isinstance(read := f.metadata.get(_READ), _Read)
    )


def read_stored(cls: type, props: Mapping[str, Any]) -> dict[str, Any]:
    """Every stored and composite field of ``cls``, read from a node's properties, as keyword
    arguments of its constructor."""
    return {
        name: convert(props if prop is None else props.get(prop))
        for name, prop, convert in _readers(cls)
    }


def _lazy(node: str) -> Any:
    """The type named ``node``, from its module (api/types/<snake_case name>.py), resolved when
    the schema is built: the types reach one another, so none imports another's module."""
    module = re.sub(r"(?<!^)(?=[A-Z])", "_", node).lower()
    return Annotated[node, strawberry.lazy(f"caregraph.api.types.{module}")]


def _mapper(node: object, make: registry.Mapper | None) -> registry.Mapper:
    if make is not None:
        return make
    assert isinstance(node, str), "a field over an interface or a union says how to map its nodes"
    return registry.mapper(node)  # looked up when asked: the type registers itself at import


def connection(
    path: str,
    node: object,
    description: str,
    *,
    window: bool = False,
    codes: bool = False,
    make: registry.Mapper | None = None,
) -> Any:
    """A connection over the traversal ``path`` (api/paths.py) to nodes of the type ``node``
    (its name, or for an interface or a union the type itself, with ``make`` choosing each
    node's type): arguments ``first`` and ``after``; with ``window``, ``from`` and ``to``;
    with ``codes``, ``underCode`` too."""
    if codes and not window:
        raise ValueError(f"{path}: underCode is offered with a window")

    if codes:
        # not a coroutine function: connections.connect checks the arguments when called
        def resolve(
            self: Any,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            from_: From = None,
            to: To = None,
            under_code: UnderCode = None,
        ) -> Any:
            return connections.connect(
                info, self._handle, path, _mapper(node, make),
                first=first, after=after, start=from_, end=to, under=under_code,
            )  # fmt: skip

    elif window:

        def resolve(  # type: ignore[misc]  # one of three signatures, by the arguments
            self: Any,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            from_: From = None,
            to: To = None,
        ) -> Any:
            return connections.connect(
                info, self._handle, path, _mapper(node, make),
                first=first, after=after, start=from_, end=to,
            )  # fmt: skip

    else:

        def resolve(  # type: ignore[misc]
            self: Any, info: Info[Context, None], first: First = None, after: After = None
        ) -> Any:
            return connections.connect(
                info, self._handle, path, _mapper(node, make), first=first, after=after
            )

    reached = _lazy(node) if isinstance(node, str) else node
    resolve.__annotations__["return"] = Connection[reached]  # type: ignore[valid-type]
    return strawberry.field(resolver=resolve, description=description, metadata={PATH: path})


def to_one(path: str, node: str, description: str) -> Any:
    """The node at the end of the to-one traversal ``path``, of the type ``node``, or null."""

    async def resolve(self: Any, info: Info[Context, None]) -> Any:
        return await connections.one(info, self._handle, path, registry.mapper(node))

    resolve.__annotations__["return"] = _lazy(node) | None
    return strawberry.field(resolver=resolve, description=description, metadata={PATH: path})


def codings(path: str, description: str) -> Any:
    """The codings a node points at over ``path`` (its code, reasons, diagnoses ...)."""
    # here, not at the top: the Concept type declares its own fields with this module's helpers
    from caregraph.api.types import concept

    async def resolve(self: Any, info: Info[Context, None]) -> Any:
        return await concept.codings(info, self._handle, path)

    resolve.__annotations__["return"] = list[concept.Coding]
    return strawberry.field(resolver=resolve, description=description, metadata={PATH: path})
