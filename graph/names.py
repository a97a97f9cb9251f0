"""Names put into Cypher text: labels, relationship types and property names.

They come from the ontology, which refuses any that is not a plain identifier; they are
checked again here, the one place that does it, and backquoted all the same. Every value is a
parameter, never text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def quoted(name: str) -> str:
    """A label, type or property name, checked and backquoted for query text."""
    if not _NAME.match(name):
        raise ValueError(f"not a valid label, type or property name: {name!r}")
    return f"`{name}`"


def labels(names: Iterable[str]) -> str:
    """Labels for a node pattern or a SET: `A`:`B`."""
    return ":".join(quoted(n) for n in names)
