"""The search root fields: the terms checked and folded, the rules that stop fishing, the
search noted for the audit, and the page of matches (graph/search.py does the reading).

Rules (docs/search.md):

- a patient search needs an identifier value, or at least two demographic facts (family,
  given, birthDate, gender, postalCode); else SEARCH_TOO_BROAD, naming the terms given;
- a role that reads a birth date only as its year (analysts) may search by the year only;
  names, postal codes and identifiers it may not search by at all (the policy's
  ARGUMENT_FIELDS refuse them before anything runs);
- a directory search (practitioners, organizations, locations) needs one term;
- every search is recorded in the operation's audit record with its terms, as given, and the
  keys of what it returned (``Context.searches``; api/audit.py writes it).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Any, TypeVar

from strawberry.types import Info

from caregraph.api import compiled
from caregraph.api.access.policy import YEAR
from caregraph.api.access.refusals import ForbiddenArgumentError
from caregraph.api.connections import (
    Connection,
    Edge,
    connection,
    cursor,
    edge,
    page_size,
    wants_total,
)
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError, SearchTooBroadError
from caregraph.graph import search
from caregraph.graph.compiled import Statement
from caregraph.graph.search import Also, DirectoryTerms, Found, Match, PatientTerms
from caregraph.loaders.identity import normalise

T = TypeVar("T")

DEMOGRAPHIC = ("family", "given", "birthDate", "gender", "postalCode")
_BIRTH = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_GENDERS = {"male": "male", "m": "male", "female": "female", "f": "female",
            "other": "other", "o": "other", "unknown": "unknown", "u": "unknown"}  # fmt: skip
MAX_TERM = 200  # characters: a name or a code longer than this is no search term


def _text(argument: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise BadArgumentError(argument, "is empty; leave it out instead")
    if len(text) > MAX_TERM:
        raise BadArgumentError(argument, f"is longer than {MAX_TERM} characters")
    return text


def _folded(argument: str, value: str | None) -> str | None:
    text = _text(argument, value)
    if text is None:
        return None
    folded = normalise(text)
    if not folded:
        raise BadArgumentError(argument, "has no letters or digits")
    return folded


def birth_term(value: str | None) -> str | None:
    """YYYY, YYYY-MM or YYYY-MM-DD, checked to be a date."""
    text = _text("birthDate", value)
    if text is None:
        return None
    ok = bool(_BIRTH.match(text))
    if ok:
        parts = [int(x) for x in text.split("-")] + [1, 1]
        try:
            date(parts[0], parts[1], parts[2])
        except ValueError:
            ok = False
    if not ok:
        raise BadArgumentError("birthDate", "give YYYY, YYYY-MM or YYYY-MM-DD (e.g. 1961-08)")
    return text


def patient_terms(
    family: str | None,
    given: str | None,
    birth_date: str | None,
    gender: str | None,
    postal_code: str | None,
    identifier_value: str | None,
) -> PatientTerms:
    """The terms checked and folded; SEARCH_TOO_BROAD without an identifier value or two
    demographic facts."""
    given_facts = [
        name
        for name, value in zip(
            DEMOGRAPHIC, (family, given, birth_date, gender, postal_code), strict=True
        )
        if value is not None
    ]
    if identifier_value is None and len(given_facts) < 2:
        raise SearchTooBroadError(
            "patients",
            given_facts,
            "an identifierValue, or at least two of " + ", ".join(DEMOGRAPHIC),
        )
    sex = _text("gender", gender)
    if sex is not None:
        if sex.lower() not in _GENDERS:
            raise BadArgumentError("gender", "give male, female, other or unknown")
        sex = _GENDERS[sex.lower()]
    postal = _text("postalCode", postal_code)
    return PatientTerms(
        family=_folded("family", family),
        given=_folded("given", given),
        birth=birth_term(birth_date),
        gender=sex,
        postal=postal.replace(" ", "").upper() if postal else None,
        identifier=_text("identifierValue", identifier_value),
    )


def _words(argument: str, value: str | None) -> tuple[str, ...]:
    text = _text(argument, value)
    if text is None:
        return ()
    words = tuple(w for w in (normalise(x) for x in re.split(r"[\s,]+", text)) if w)
    if not words:
        raise BadArgumentError(argument, "has no letters or digits")
    return words


def _npi(npi: str | None) -> str | None:
    text = _text("npi", npi)
    if text is not None and not (text.isdigit() and len(text) == 10):
        raise BadArgumentError("npi", "an NPI is 10 digits")
    return text


def _note(info: Info[Context, None], field: str, terms: dict[str, Any]) -> dict[str, Any]:
    """The search's entry in the audit record, made before the terms are checked, so a
    refused search is recorded with its terms too."""
    entry: dict[str, Any] = {
        "field": field,
        "terms": {k: v for k, v in terms.items() if v is not None},
        "returned": [],
    }
    info.context.searches[str(info.path.key)] = entry
    return entry


async def _page(
    info: Info[Context, None],
    entry: dict[str, Any],
    first: int | None,
    after: str | None,
    find: Callable[[int, tuple[int, str] | None, Also], Statement[Found]],
    count: Callable[[], int],
    make: Callable[[Match], T],
    field: str,
) -> Connection[T]:
    """A page of matches in one round trip: with their count when the query selects it, and
    the levels below each match's ``field`` node (``edges { node { patient { ... } } }``)
    when the compiled path covers them (api/compiled.py :func:`search_levels`): the pages
    read are primed for the resolvers, which read anything else the reference way."""
    ctx = info.context
    size = page_size(info, first)
    position = ctx.cursors.decode(after)
    also = Also(wants_total(info), compiled.search_levels(info, field), size)
    # once per request: the search at this response path, with these arguments
    read = ("search", str(info.path.key), field, first, after, also)
    found = await compiled.run_once(ctx, read, partial(find, size + 1, position, also))
    assert found is not None  # a search is not given up: it raises
    for request, page in found.pages.items():
        ctx.loaders.pages.prime(request, page)
    matches = found.matches
    entry["returned"] = [m.row.key for m in matches[:size]]
    encode = ctx.cursors.encode
    edges: list[Edge[T]] = [
        edge(make(m), cursor(encode, m.row.sort, m.row.key)) for m in matches[:size]
    ]

    async def recount() -> int:
        return await asyncio.to_thread(count)

    return connection(
        edges,
        more=len(matches) > size,
        after=position is not None,
        total=found.total,
        recount=recount,  # total_count reads the total when the statement counted it
    )


async def patients(
    info: Info[Context, None],
    make: Callable[[Match], T],
    *,
    family: str | None,
    given: str | None,
    birth_date: str | None,
    gender: str | None,
    postal_code: str | None,
    identifier_value: str | None,
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """A page of the patients matching every term, best first."""
    ctx = info.context
    entry = _note(
        info,
        "patients",
        {"family": family, "given": given, "birthDate": birth_date, "gender": gender,
         "postalCode": postal_code, "identifierValue": identifier_value},
    )  # fmt: skip
    terms = patient_terms(family, given, birth_date, gender, postal_code, identifier_value)
    if (
        terms.birth is not None
        and len(terms.birth) > 4
        and ctx.policy.generalisation("Patient", "birthDate") == YEAR
    ):
        role = ctx.policy.role.value if ctx.policy.role else "(none)"
        raise ForbiddenArgumentError(
            role, "patients", "birthDate", "Patient.birthDate",
            "this role reads a birth date as its year only: give YYYY",
        )  # fmt: skip
    reader = ctx.reader
    return await _page(
        info, entry, first, after,
        lambda take, pos, also: search.patients(reader, terms, take, pos, also),
        lambda: search.count_patients(reader, terms),
        make, "patient",
    )  # fmt: skip


async def practitioners(
    info: Info[Context, None],
    make: Callable[[Match], T],
    *,
    name: str | None,
    npi: str | None,
    specialty: str | None,
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """A page of the practitioners matching every term, best first."""
    entry = _note(info, "practitioners", {"name": name, "npi": npi, "specialty": specialty})
    spec = _text("specialty", specialty)
    terms = DirectoryTerms(_words("name", name), _npi(npi), spec.lower() if spec else None)
    if not (terms.words or terms.npi or terms.specialty):
        raise SearchTooBroadError("practitioners", [], "a name, an npi or a specialty")
    reader = info.context.reader
    return await _page(
        info, entry, first, after,
        lambda take, pos, also: search.practitioners(reader, terms, take, pos, also),
        lambda: search.count_practitioners(reader, terms),
        make, "practitioner",
    )  # fmt: skip


async def places(
    info: Info[Context, None],
    label: str,
    make: Callable[[Match], T],
    *,
    name: str,
    npi: str | None,
    first: int | None,
    after: str | None,
) -> Connection[T]:
    """A page of the organizations or locations (``label``) whose name has every word."""
    field = "organizations" if label == "Organization" else "locations"
    entry = _note(info, field, {"name": name, "npi": npi})
    terms = DirectoryTerms(_words("name", name), _npi(npi))
    reader = info.context.reader
    return await _page(
        info, entry, first, after,
        lambda take, pos, also: search.places(reader, label, terms, take, pos, also),
        lambda: search.count_places(reader, label, terms),
        make, label.lower(),
    )  # fmt: skip
