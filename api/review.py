"""The data steward's identity review over the API: the candidates, and the decisions on
them (graph/stewardship.py). Stewards and admins only (api/access/policy.py); every decision names
the caller as its actor, and the patients it concerns are noted for the read audit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from strawberry.types import Info

from caregraph.api.access.policy import REVIEW_ROLES, STEWARDS_ONLY
from caregraph.api.access.refusals import ForbiddenFieldError
from caregraph.api.connections import Connection, Edge, connection, cursor, edge, page_size
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError, DecisionRefusedError
from caregraph.api.types.identity_review import IdentityDecision, MatchCandidate
from caregraph.graph import candidates as candidates_store
from caregraph.graph import stewardship
from caregraph.graph.candidates import SEPARATOR

MAX_REASON = 2_000  # characters: a reason is a note, not a document


def _actor(info: Info[Context, None], field: str) -> str:
    principal = info.context.principal
    if principal is None or principal.role not in REVIEW_ROLES:
        role = principal.role.value if principal else "(none)"
        raise ForbiddenFieldError(role, field, f"Mutation.{field}", STEWARDS_ONLY)
    return principal.subject


def _reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise BadArgumentError("reason", "say why: it is recorded with the decision")
    if len(text) > MAX_REASON:
        raise BadArgumentError("reason", f"at most {MAX_REASON} characters")
    return text


async def candidates(
    info: Info[Context, None], status: str | None, first: int | None, after: str | None
) -> Connection[MatchCandidate]:
    ctx = info.context
    size = page_size(info, first)
    position = ctx.cursors.decode(after)
    rows = await asyncio.to_thread(
        candidates_store.list_candidates,
        ctx.driver,
        ctx.database,
        status=status,
        limit=size + 1,
        after=position,
    )
    await asyncio.to_thread(ctx.reader.note_patients, [k for r in rows for k in r["patients"]])
    edges: list[Edge[MatchCandidate]] = [
        edge(MatchCandidate.from_record(r), cursor(ctx.cursors.encode, int(r["rank"]), r["key"]))
        for r in rows[:size]
    ]
    return connection(edges, more=len(rows) > size, after=position is not None)


async def decide(
    info: Info[Context, None],
    field: str,
    run: Callable[[str], list[stewardship.Decision]],
    concerns: list[str],
) -> list[IdentityDecision]:
    """Take a decision as the caller; what it did, as the graph recorded it. The patients it
    ``concerns`` are noted for the audit before (a merge deletes one) and after (a split
    restores one)."""
    actor = _actor(info, field)
    ctx = info.context
    await asyncio.to_thread(ctx.reader.note_patients, concerns)
    try:
        done = await asyncio.to_thread(run, actor)
    except stewardship.DecisionError as e:
        raise DecisionRefusedError(e.code, str(e)) from e
    await asyncio.to_thread(ctx.reader.note_patients, [k for d in done for k in d.patients])
    rows = await asyncio.to_thread(
        stewardship.decisions, ctx.driver, ctx.database, [d.key for d in done]
    )
    return [IdentityDecision.from_record(r) for r in rows]


async def accept(info: Info[Context, None], candidate: str, reason: str) -> IdentityDecision:
    ctx, why = info.context, _reason(reason)
    done = await decide(
        info,
        "acceptMatch",
        lambda actor: [
            stewardship.accept(ctx.driver, ctx.database, candidate, actor=actor, reason=why)
        ],
        candidate.split(SEPARATOR),
    )
    return done[0]


async def reject(info: Info[Context, None], candidate: str, reason: str) -> IdentityDecision:
    ctx, why = info.context, _reason(reason)
    done = await decide(
        info,
        "rejectMatch",
        lambda actor: [
            stewardship.reject(ctx.driver, ctx.database, candidate, actor=actor, reason=why)
        ],
        candidate.split(SEPARATOR),
    )
    return done[0]


async def split(info: Info[Context, None], patient: str, reason: str) -> list[IdentityDecision]:
    ctx, why = info.context, _reason(reason)
    return await decide(
        info,
        "splitPatient",
        lambda actor: stewardship.split(ctx.driver, ctx.database, patient, actor=actor, reason=why),
        [patient],
    )
