"""Root arguments to nodes: FHIR tokens (`system|value`), bare values, NPIs, UIDs, control
numbers. A value that names several individuals is an error that names only their identifier
systems, so the caller can ask again with `system|value`, or, when those do not tell them
apart (a conflict copy kept apart by identity), says so and points at `caregraph explain`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from strawberry.types import Info

from caregraph.api import compiled
from caregraph.api.context import Context
from caregraph.api.errors import AmbiguousIdentifierError, BadArgumentError
from caregraph.graph.readers import LookupRequest, Row
from caregraph.loaders import keys

# loaders/identity.py keys the copy of a record kept apart as a conflict `<token>~<record>`
_CONFLICT_COPY = "~"


def token_or_value(label: str, identifier: str, argument: str) -> list[LookupRequest]:
    """A FHIR token names one identifier (or key); a bare value any identifier with it."""
    text = identifier.strip()
    if not text:
        raise BadArgumentError(argument, "give system|value or a bare value")
    system, sep, value = text.partition("|")
    if sep and system:
        return [LookupRequest(label, "token", text)]
    return [LookupRequest(label, "value", value if sep else text)]


def by_npi(label: str, npi: str) -> list[LookupRequest]:
    text = npi.strip()
    if not text.isdigit() or len(text) != 10:
        raise BadArgumentError("npi", "an NPI is 10 digits")
    return [
        LookupRequest(label, "token", f"{keys.NPI_SYSTEM}|{text}"),
        LookupRequest(label, f"{label}.npi", text),
    ]


def by_study_uid(uid: str) -> list[LookupRequest]:
    bare = uid.strip().removeprefix("urn:oid:")
    if not bare:
        raise BadArgumentError("studyInstanceUid", "give the UID, e.g. 1.2.840.113619.2.55.3")
    return [
        LookupRequest("ImagingStudy", "token", keys.uid_key(bare)),
        LookupRequest("ImagingStudy", "ImagingStudy.studyInstanceUid", bare),
    ]


def by_control_number(control: str) -> list[LookupRequest]:
    text = control.strip()
    if not text:
        raise BadArgumentError("controlNumber", "give the claim control number")
    system, sep, _ = text.partition("|")
    if sep and system:
        return [LookupRequest("Claim", "token", text)]
    return [LookupRequest("Claim", "Claim.controlNumber", text)]


def claim_systems(rows: Sequence[Row]) -> list[str]:
    """The control-number systems of candidate claims: who submitted each."""
    return sorted({keys.claim_system(str(r.node.get("submitter", "?"))) for r in rows})


def identifier_systems(rows: Sequence[Row]) -> list[str]:
    return sorted({s for r in rows for s in r.systems})


async def find(
    info: Info[Context, None],
    requests: Sequence[LookupRequest],
    *,
    what: str,
    argument: str,
    systems: Callable[[Sequence[Row]], list[str]] = identifier_systems,
) -> Row | None:
    """The one node the requests name, None if none, an error if several."""
    # a document the planner covers is read whole here, in one statement, and its reads
    # wait in the DataLoaders (api/compiled.py); any other reads level by level
    await compiled.prefetch(info, requests)
    loader = info.context.loaders.lookups
    found = await asyncio.gather(*(loader.load(r) for r in requests))
    rows: dict[str, Row] = {}
    for group in found:
        for row in group:
            rows.setdefault(row.key, row)
    if len(rows) > 1:
        candidates = list(rows.values())
        kept_apart = sum(1 for r in candidates if _CONFLICT_COPY in r.key)
        raise AmbiguousIdentifierError(
            what, argument, systems(candidates), len(candidates), kept_apart
        )
    return next(iter(rows.values()), None)
