"""Resources checked by fhir.resources' R4B models: what is valid FHIR is the library's call.

R4B's models read R4 data (the resources caregraph maps did not change between the two). The
library's pydantic messages can quote the offending input; the problems returned here keep
the element path and the message with every quoted input value taken out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

MAX_PROBLEMS = 5  # per resource; the rest are counted
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


@cache
def _model(name: str) -> Any:
    try:
        cls = get_fhir_model_class(name)
    except ValueError:
        return None
    return cls if isinstance(cls, type) and issubclass(cls, Resource) else None


def is_resource_type(name: str) -> bool:
    """True when ``name`` is a FHIR R4B resource type (not a datatype, not a typo)."""
    # the pattern first, so that the cache only ever holds plausible names
    return bool(_TYPE_NAME.match(name)) and _model(name) is not None


def problems(resource_type: str, resource: dict[str, Any]) -> list[str]:
    """What the library finds wrong with the resource, each as "element path: message"."""
    model = _model(resource_type) if _TYPE_NAME.match(resource_type) else None
    if model is None:
        return [f"{resource_type} is not a FHIR R4 resource type"]
    try:
        model.model_validate(resource)
    except ValidationError as e:
        errors = e.errors()
        found = [_describe(resource_type, err) for err in errors[:MAX_PROBLEMS]]
        if len(errors) > MAX_PROBLEMS:
            found.append(f"and {len(errors) - MAX_PROBLEMS} more")
        return found
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as e:
        # fhir.resources raises bare errors for some inputs (a contained resource of an unknown
        # type is a KeyError), and a deeply nested document can exhaust the stack
        return [
            f"fhir.resources could not read it ({type(e).__name__}); check its contained "
            "resources and the resourceType of each"
        ]
    return []


def element_path(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """A pydantic ``loc`` as a FHIR element path: ``Patient.name[0].given[1]``."""
    out = resource_type
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(resource_type: str, err: Any) -> str:
    path = element_path(resource_type, tuple(err.get("loc", ())))
    kind = str(err.get("type", ""))
    if kind == "missing" or kind.endswith(".missing"):
        return f"{path}: required element is missing"
    if kind == "extra_forbidden":
        return f"{path}: not an element of this resource in FHIR R4"
    msg = str(err.get("msg", "")).removeprefix("Value error, ")
    for value in sorted(set(_strings(err.get("input"))), key=len, reverse=True):
        msg = msg.replace(value, "…")
    return f"{path}: {msg}"


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every scalar in an input, as text, so that none of them is quoted back."""
    if depth > 4:
        return
    if isinstance(value, dict):
        for v in list(value.values())[:50]:
            yield from _strings(v, depth + 1)
    elif isinstance(value, list):
        for v in value[:50]:
            yield from _strings(v, depth + 1)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= 2:
            yield text
