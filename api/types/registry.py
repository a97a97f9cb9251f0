"""Which GraphQL type a node becomes when a field returns an interface or a union: the type
named after its most specific ontology class, else the field's fallback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caregraph.api.types import values
from caregraph.api.types.link import LinkData
from caregraph.graph.readers import Row

Mapper = Callable[[Row, LinkData | None], Any]
_MAPPERS: dict[str, Mapper] = {}


def register(name: str, mapper: Mapper) -> None:
    """Make ``mapper`` the one for nodes whose most specific class is ``name``."""
    _MAPPERS[name] = mapper


def mapper(name: str) -> Mapper:
    """The mapper of a type, by name."""
    return _MAPPERS[name]


def specific(allowed: tuple[str, ...], fallback: str) -> Mapper:
    """A mapper choosing, per row, the registered type of its most specific class among
    ``allowed`` (or a superclass of it that is allowed), else ``fallback``."""

    def make(row: Row, link: LinkData | None) -> Any:
        kind = values.kind_of(row.labels)
        if kind in allowed and kind in _MAPPERS:
            return _MAPPERS[kind](row, link)
        for label in row.labels:
            if label in allowed and label in _MAPPERS:
                return _MAPPERS[label](row, link)
        return _MAPPERS[fallback](row, link)

    return make
