"""patientContext: one bounded call for everything about a patient in a window."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import strawberry
from strawberry.types import Info

from caregraph.api import lookup, paths, render
from caregraph.api.connections import (
    Connection,
    Edge,
    connection,
    cursor,
    edge,
    under_concept,
    window,
)
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError, LimitExceededError
from caregraph.api.types import registry, values
from caregraph.api.types.entity import Event
from caregraph.api.types.patient import EVENT_TYPES, Patient
from caregraph.graph.readers import Row, TimelineEvent
from caregraph.ontology.vocab import CG

MIN_BUDGET = 50
# the neighbours a line mentions: who, where, which visit, which claim, which payer
CONTEXT_RELATIONSHIPS = (
    CG.hasParticipant,
    CG.serviceProvider,
    CG.atLocation,
    CG.forEncounter,
    CG.referredBy,
    CG.performedAt,
    CG.hasPayer,
    CG.remits,
    CG.paidBy,
    CG.hasReason,  # the Concepts of a visit's reason and of a diagnosis' or procedure's code,
    CG.hasCode,  # so that the text gives their display
)


@strawberry.type(description="A number of events of one kind (ontology class).")
class KindCount:
    kind: str
    count: int


@strawberry.type(
    description="A patient's context in a window: the timeline, its text for an LLM within "
    "a token budget, and an honest account of what the text leaves out."
)
class PatientContext:
    patient: Patient
    window_start: datetime | None = strawberry.field(description="The window's `from`.")
    window_end: datetime | None = strawberry.field(description="The window's `to`.")
    text: str = strawberry.field(
        description="The timeline as compact text: a header line, one line per event (with "
        "handles such as E1 that later lines refer to), and a line on what is not shown."
    )
    budget_tokens: int
    estimated_tokens: int = strawberry.field(description="Tokens of `text`, by tokenEstimator.")
    token_estimator: str = strawberry.field(description="How tokens are estimated.")
    truncated: bool = strawberry.field(description="True when events were left out of `text`.")
    total_events: int = strawberry.field(description="Events of the patient in the window.")
    earlier_events: int = strawberry.field(
        description="Events before `after`: given by earlier calls, not repeated."
    )
    included: list[KindCount] = strawberry.field(description="Events in `text`, per kind.")
    omitted: list[KindCount] = strawberry.field(
        description="Events after those in `text`, not shown, per kind: fetch them with "
        "`after: nextCursor`."
    )
    next_cursor: str | None = strawberry.field(description="Pass as `after` to get the rest.")
    timeline: Connection[Event] = strawberry.field(
        description="The events in `text`, in the same order, as typed nodes."
    )


def _kinds(counts: Counter[str]) -> list[KindCount]:
    return [KindCount(kind=k, count=n) for k, n in sorted(counts.items()) if n]


async def patient_context(
    info: Info[Context, None],
    identifier: str,
    start: datetime | None,
    end: datetime | None,
    budget_tokens: int | None,
    after: str | None,
    under_code: str | None = None,
) -> PatientContext | None:
    """Resolve patientContext: find the patient, read the window, render within budget."""
    ctx = info.context
    settings = ctx.settings
    budget = settings.context_default_budget if budget_tokens is None else budget_tokens
    if budget < MIN_BUDGET:
        raise BadArgumentError("budgetTokens", f"must be at least {MIN_BUDGET}")
    if budget > settings.context_max_budget:
        raise LimitExceededError(
            "token budget",
            f"budgetTokens: {budget} is more than {settings.context_max_budget}",
            "ask for a smaller budget and page on with `after: nextCursor`, or narrow from/to",
            max=settings.context_max_budget,
        )
    start, end = window(start, end)
    codec = ctx.cursors
    position = codec.decode(after)
    row = await lookup.find(
        info,
        lookup.token_or_value("Patient", identifier, "identifier"),
        what="patient",
        argument="identifier",
    )
    if row is None:
        return None
    onto = paths.ontology()
    # a line is never shorter than about 30 characters: read no more events than could fit
    limit = min(settings.context_max_events, budget * 4 // 30 + 1)
    timeline, identifiers = await asyncio.gather(
        asyncio.to_thread(
            ctx.reader.timeline,
            row.key,
            paths.coded_events(CG.Patient, CG.Event),
            start=start,
            end=end,
            after=position,
            limit=limit,
            context_rels=[onto.relationship_type(r) for r in CONTEXT_RELATIONSHIPS],
            under=under_concept(under_code),
        ),
        _identifiers(info, row),
    )
    events = timeline.events
    kinds = [values.kind_of(e.row.labels) for e in events]
    in_window: Counter[str] = Counter()
    earlier: Counter[str] = Counter()
    for labels, (total, before) in timeline.counts.items():
        kind = values.kind_of(list(labels))
        in_window[kind] += total
        earlier[kind] += before
    remaining = in_window - earlier  # from the cursor on

    def remaining_after(n: int) -> Counter[str]:
        return remaining - Counter(kinds[:n])

    def cursor_after(n: int) -> str | None:
        if n == 0:
            return after
        last = events[n - 1].row
        return codec.encode(last.sort, last.key)

    rendered = render.render(
        row,
        identifiers,
        events,
        kinds,
        remaining_after,
        (start, end),
        budget,
        ctx.policy,
    )
    shown = events[: rendered.included]
    left = remaining_after(rendered.included)
    truncated = sum(left.values()) > 0
    return PatientContext(
        patient=Patient.from_record(row),
        window_start=start,
        window_end=end,
        text=rendered.text,
        budget_tokens=budget,
        estimated_tokens=render.estimate_tokens(rendered.text),
        token_estimator=render.ESTIMATOR,
        truncated=truncated,
        total_events=sum(in_window.values()),
        earlier_events=sum(earlier.values()),
        included=_kinds(Counter(kinds[: rendered.included])),
        omitted=_kinds(left),
        next_cursor=cursor_after(rendered.included) if truncated else None,
        timeline=_timeline(shown, truncated, position is not None, codec.encode),
    )


async def _identifiers(info: Info[Context, None], row: Row) -> list[str]:
    from caregraph.graph.readers import PageRequest

    page = await info.context.loaders.pages.load(
        PageRequest(row.key, paths.path("Entity.identifiers"), take=20)
    )
    return [r.public for r in page.rows]


def _timeline(
    events: list[TimelineEvent], more: bool, after: bool, encode: Callable[[int, str], str]
) -> Connection[Event]:
    make = registry.specific(EVENT_TYPES, "GenericEvent")
    edges: list[Edge[Event]] = [
        edge(make(e.row, None), cursor(encode, e.row.sort, e.row.key)) for e in events
    ]
    return connection(edges, more=more, after=after, total=len(edges))
