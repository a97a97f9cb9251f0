"""Resources checked by fhir.resources' R4B models: what is valid FHIR is the library's call.

R4B's models read R4 data (the resources caregraph maps did not change between the two). The
library's pydantic messages can quote the offending input; the problems returned here keep
the element path and the message with every quoted input value taken out.

Two departures from R4 that receiving systems commonly accept are repaired, not rejected,
when they are all the library finds (:func:`check`), each repair a warning naming its path:

- a single value where R4 has a list (``Encounter.episodeOfCare: {...}``): read as a list
  of one (``unusual-value``);
- a required element missing inside a repeating part (``Appointment.participant[0].status``,
  ``ImagingStudy.series[0].modality``): the part is loaded without it (``incomplete``). The
  part is left out only to check that nothing else is wrong; the mapping reads it as given.

A required element of the resource itself (``Encounter.status``, ``Claim.patient``) missing
still rejects it: without it the record does not say what it is.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from caregraph.loaders.records import RecordWarning

MAX_PROBLEMS = 5  # per resource; the rest are counted
MAX_REPAIRS = 4  # rounds: a wrapped value may hold another single value where a list goes
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
Loc = tuple[int | str, ...]


@cache
def _model(name: str) -> Any:
    try:
        cls = get_fhir_model_class(name)
    except ValueError:
        return None
    return cls if isinstance(cls, type) and issubclass(cls, Resource) else None


@cache
def other_version(name: str) -> str | None:
    """The FHIR version that has ``name`` as a resource type when R4 does not (R5, STU3)."""
    if not _TYPE_NAME.match(name) or _model(name) is not None:
        return None
    from fhir.resources import get_fhir_model_class as r5_model
    from fhir.resources.STU3 import get_fhir_model_class as stu3_model

    for version, lookup in (("R5", r5_model), ("STU3", stu3_model)):
        try:
            cls = lookup(name)
        except ValueError:
            continue
        if isinstance(cls, type) and any(b.__name__ == "DomainResource" for b in cls.__mro__):
            return version
    return None


def is_resource_type(name: str) -> bool:
    """True when ``name`` is a FHIR R4B resource type (not a datatype, not a typo)."""
    # the pattern first, so that the cache only ever holds plausible names
    return bool(_TYPE_NAME.match(name)) and _model(name) is not None


def problems(resource_type: str, resource: dict[str, Any]) -> list[str]:
    """What the library finds wrong with the resource, each as "element path: message"."""
    errors = _errors(resource_type, resource)
    return _problems(resource_type, errors) if isinstance(errors, list) else [errors]


@dataclass(frozen=True, slots=True)
class Checked:
    """A resource as checked: the body to map (repaired where it could be), what rejects it
    (nothing when it is valid or was repaired) and a warning per repair."""

    body: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    repairs: list[RecordWarning] = field(default_factory=list)


def check(resource_type: str, resource: dict[str, Any]) -> Checked:
    """The resource checked, and repaired when all that is wrong is a single value where a
    list goes or a required element missing inside a repeating part (see the module)."""
    errors = _errors(resource_type, resource)
    if isinstance(errors, str):
        return Checked(resource, [errors])
    if not errors:
        return Checked(resource)
    first = _problems(resource_type, errors)
    body, repairs = resource, []
    for _ in range(MAX_REPAIRS):
        wraps = [e for e in errors if _single_for_list(body, e)]
        gaps = [_part(e) for e in errors if _is_missing(e)]
        if len(wraps) + sum(1 for g in gaps if g is not None) != len(errors):
            return Checked(resource, first)  # something no repair explains
        if wraps:
            body = copy.deepcopy(body) if body is resource else body
            for err in wraps:
                loc = tuple(err["loc"])
                parent = _at(body, loc[:-1])
                parent[loc[-1]] = [parent[loc[-1]]]
                repairs.append(
                    RecordWarning(
                        "unusual-value",
                        f"{element_path(resource_type, loc)}: a single value where FHIR R4 "
                        "has a list: read as a list of one",
                    )
                )
            errors = _errors(resource_type, body)  # missing ones are found again, if any
            if isinstance(errors, str):
                return Checked(resource, first)
            if not errors:
                return Checked(body, [], repairs)
            continue
        # only required elements missing inside repeating parts: check the rest without them
        probe = copy.deepcopy(body)
        parts = {p for p in gaps if p is not None}
        for part in sorted(
            (p for p in parts if not any(q != p and p[: len(q)] == q for q in parts)),
            reverse=True,  # later items first, so that no index moves under another
        ):
            del _at(probe, part[:-1])[part[-1]]
        if _errors(resource_type, probe):
            return Checked(resource, first)
        for err in errors:
            loc = tuple(err["loc"])
            part = _part(err) or loc
            repairs.append(
                RecordWarning(
                    "incomplete",
                    f"{element_path(resource_type, loc)}: required element is missing (FHIR R4 "
                    f"requires it): {element_path(resource_type, part)} is loaded without it",
                )
            )
        return Checked(body, [], repairs)
    return Checked(resource, first)


def _errors(resource_type: str, resource: dict[str, Any]) -> list[Any] | str:
    """The library's errors (pydantic's dicts), or one message when it could not check."""
    model = _model(resource_type) if _TYPE_NAME.match(resource_type) else None
    if model is None:
        return f"{resource_type} is not a FHIR R4 resource type"
    try:
        model.model_validate(resource)
    except ValidationError as e:
        return list(e.errors())
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as e:
        # fhir.resources raises bare errors for some inputs (a contained resource of an unknown
        # type is a KeyError), and a deeply nested document can exhaust the stack
        return (
            f"fhir.resources could not read it ({type(e).__name__}); check its contained "
            "resources and the resourceType of each"
        )
    return []


def _problems(resource_type: str, errors: list[Any]) -> list[str]:
    found = [_describe(resource_type, err) for err in errors[:MAX_PROBLEMS]]
    if len(errors) > MAX_PROBLEMS:
        found.append(f"and {len(errors) - MAX_PROBLEMS} more")
    return found


def _is_missing(err: Any) -> bool:
    kind = str(err.get("type", ""))
    return kind == "missing" or kind.endswith(".missing")


def _part(err: Any) -> Loc | None:
    """The repeating part (a list item) a missing element belongs to; None at the top."""
    loc = tuple(err.get("loc", ()))
    top = 2 if loc[:1] == ("contained",) else 0  # a contained resource's own elements are top
    cut = max((i for i in range(top, len(loc)) if isinstance(loc[i], int)), default=-1)
    return loc[: cut + 1] if cut >= 0 and _is_missing(err) else None


def _single_for_list(body: dict[str, Any], err: Any) -> bool:
    """A list expected where the JSON has one object or one scalar."""
    if err.get("type") != "list_type":
        return False
    loc = tuple(err.get("loc", ()))
    if not loc or not isinstance(loc[-1], str):
        return False
    parent = _at(body, loc[:-1])
    value = parent.get(loc[-1]) if isinstance(parent, dict) else None
    return value is not None and not isinstance(value, list)


def _at(body: Any, loc: Loc) -> Any:
    """The JSON value at a pydantic ``loc`` (JSON names and list indices); None if absent."""
    for part in loc:
        if isinstance(part, int) and isinstance(body, list) and 0 <= part < len(body):
            body = body[part]
        elif isinstance(part, str) and isinstance(body, dict):
            body = body.get(part)
        else:
            return None
    return body


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
