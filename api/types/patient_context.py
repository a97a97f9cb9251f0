"""patientContext: one bounded call for everything about a patient in a window.

Its reads: the patient's lookup, its timeline in the window and the identifiers of the text's
header, and whatever the document selects below ``patient`` and below the timeline's nodes.
With ``compiled_reads`` (api/compiled.py, :func:`~caregraph.api.compiled.prefetch_context`)
they are one statement; the reference path (the lookup, then the timeline and the
identifiers together, then a round trip per level below) reads what that does not cover:
everything when ``compiled_reads`` is off, when the statement's shape is not planned yet or
past its budget, when ``underCode`` is refused (after the lookup, as always), or in an
operation of several root fields or a mutation; the levels below ``patient`` or the
timeline's nodes when their selection is not covered (a directive, more than
``MAX_LEVELS`` subqueries, as for the covered roots). The text is rendered in Python
(api/render.py) either way, from the same rows."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import strawberry
from strawberry.types import Info

from caregraph.api import compiled, lookup, paths, render
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
from caregraph.graph import compiled as graph_compiled
from caregraph.graph.readers import PageRequest, Row, TimelineEvent
from caregraph.ontology.vocab import CG

MIN_BUDGET = 50
IDENTIFIERS = 20  # the patient's identifiers the text's header may name
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
    requests = lookup.token_or_value("Patient", identifier, "identifier")
    onto = paths.ontology()
    # a line is never shorter than about 30 characters: read no more events than could fit
    limit = min(settings.context_max_events, budget * 4 // 30 + 1)
    path = paths.coded_events(CG.Patient, CG.Event)
    context_rels = tuple(onto.relationship_type(r) for r in CONTEXT_RELATIONSHIPS)
    read: graph_compiled.ContextAnswer | None = None
    under: str | None = None
    refused: BadArgumentError | None = None
    try:
        under = under_concept(under_code)
    except BadArgumentError as e:
        refused = e  # given after the lookup, as always: no such patient answers null
    if refused is None:
        # the lookup, the timeline and the header's identifiers (and what the document
        # selects below them, when covered) in one statement (api/compiled.py)
        wanted = graph_compiled.TimelineRead(path, start, end, position, limit, context_rels, under)
        read = await compiled.prefetch_context(info, requests, wanted, (_identifiers_level(),))
    row = await lookup.find(info, requests, what="patient", argument="identifier")
    if row is None:
        return None
    if refused is not None:
        raise refused
    if read is not None and read.timeline is not None:
        timeline = read.timeline
        identifiers = await _identifiers(info, row)  # primed: no round trip
    else:
        timeline, identifiers = await asyncio.gather(
            asyncio.to_thread(
                ctx.reader.timeline,
                row.key,
                path,
                start=start,
                end=end,
                after=position,
                limit=limit,
                context_rels=list(context_rels),
                under=under,
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
    if read is not None and read.timeline is not None:
        compiled.prime_events(info, read, rendered.included)
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


def _identifiers_level() -> graph_compiled.Level:
    """The page of identifiers the text's header reads, as the compiled statement reads it."""
    return graph_compiled.Level(paths.path("Entity.identifiers"), IDENTIFIERS, IDENTIFIERS)


async def _identifiers(info: Info[Context, None], row: Row) -> list[str]:
    page = await info.context.loaders.pages.load(
        PageRequest(row.key, paths.path("Entity.identifiers"), take=IDENTIFIERS)
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
