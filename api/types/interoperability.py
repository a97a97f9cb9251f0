"""The interoperability scorecard in GraphQL: the measures of graph/scorecard.py, each with
its definition, its history over the load runs and, under the caller's role, the records
behind it.

The measures are counts, shares and times (no patient data): admins and analysts read them
(api/access/policy.py). The records behind a measure are patient data: their keys are pseudonyms for
analysts, as everywhere, and the read is audited with the patients they belong to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError
from caregraph.graph import scorecard
from caregraph.graph.readers import NoPseudonymKeyError

MAX_TREND = 100
MAX_RECORDS = 100


@strawberry.type(description="A measure's value at the end of one load run.")
class MeasurePoint:
    run_id: str
    at: datetime
    value: float | None
    numerator: int | None
    denominator: int | None
    run_source: str | None = strawberry.field(description="The source system that run loaded.")
    observed_at: datetime | None = strawberry.field(
        description="For freshness: the instant measured then (the last load, the newest event)."
    )

    @classmethod
    def from_point(cls, p: scorecard.Point) -> MeasurePoint:
        return cls(
            run_id=p.run_id,
            at=p.at,
            value=p.value,
            numerator=p.numerator,
            denominator=p.denominator,
            run_source=p.run_source,
            observed_at=p.observed,
        )


@strawberry.type(description="A node behind a measure: an unlinked claim, a conflict ...")
class MeasureRecord:
    key: str = strawberry.field(description="Its key (a pseudonym for analysts).")
    kind: str | None
    sources: list[str] = strawberry.field(description="The source systems that asserted it.")
    other: str | None = strawberry.field(
        description="For a conflict: the node it contradicts (a pseudonym for analysts)."
    )


@dataclass
class _Trends:
    """One round trip for the trends of every measure a request selects."""

    loader: DataLoader[tuple[str, int], list[scorecard.Point]]


@strawberry.type(description="One value of one interoperability measure.")
class Measure:
    name: str
    family: str = strawberry.field(description="continuity, identity, completeness or freshness.")
    domain: str = strawberry.field(
        description="The ontology's domain of what it counts (clinical, scheduling, imaging, "
        "financial, directory; provenance for records and runs; all for a total)."
    )
    source: str | None = strawberry.field(description="A source system; null: all sources.")
    group: str | None = strawberry.field(
        description="The breakdown: a rule, a warning or reject code, a kind; null: none."
    )
    unit: str = strawberry.field(description="share (0-1), count or days.")
    value: float | None
    numerator: int | None
    denominator: int | None
    observed_at: datetime | None = strawberry.field(
        description="For freshness: the instant measured (the last load, the newest event)."
    )
    definition: str = strawberry.field(description="What it means and why it matters.")
    cypher: str = strawberry.field(description="The Cypher that counts it.")
    key: strawberry.Private[str]
    trends: strawberry.Private[_Trends]

    @strawberry.field(
        description="Its values at the end of the last `last` load runs that kept a snapshot "
        "of the scorecard (a run defers one that would cost much beside its loading)."
    )
    async def trend(self, last: int = 10) -> list[MeasurePoint]:
        if not 1 <= last <= MAX_TREND:
            raise BadArgumentError("last", f"give 1 to {MAX_TREND}")
        points = await self.trends.loader.load((self.key, last))
        return [MeasurePoint.from_point(p) for p in points]

    @strawberry.field(
        description="The records behind the measure (for example the claims not linked), "
        "first by key; patient data, read under the caller's role and audited."
    )
    async def records(self, info: Info[Context, None], first: int = 20) -> list[MeasureRecord]:
        if not 1 <= first <= MAX_RECORDS:
            raise BadArgumentError("first", f"give 1 to {MAX_RECORDS}")
        ctx = info.context
        behind = await asyncio.to_thread(
            scorecard.records_behind,
            ctx.driver,
            ctx.database,
            self.name,
            source=self.source,
            group=self.group,
            limit=first,
            run=ctx.reader.run,
        )
        keys = [b.key for b in behind] + [b.other for b in behind if b.other]
        if keys:
            await asyncio.to_thread(ctx.reader.note_patients, keys)
        shown = None
        if ctx.policy.pseudonymised("MeasureRecord"):
            shown = ctx.reader.pseudonym
            if shown is None:
                raise NoPseudonymKeyError()

        def public(key: str | None) -> str | None:
            return key if key is None or shown is None else shown(key)

        return [
            MeasureRecord(
                key=public(b.key) or "", kind=b.kind, sources=b.sources, other=public(b.other)
            )
            for b in behind
        ]

    @classmethod
    def from_measure(cls, m: scorecard.Measure, trends: _Trends) -> Measure:
        return cls(
            name=m.name,
            family=m.family,
            domain=m.domain,
            source=m.source,
            group=m.group,
            unit=m.unit,
            value=m.value,
            numerator=m.numerator,
            denominator=m.denominator,
            observed_at=m.at,
            definition=m.definition.text,
            cypher=m.definition.cypher.strip(),
            key=m.key,
            trends=trends,
        )


@strawberry.type(
    description="Is the graph seeing across the health system's sources, and is it getting "
    "better? Counts only; admins and analysts."
)
class Interoperability:
    @strawberry.field(description="The measures as the graph is now, filtered as asked.")
    async def measures(
        self,
        info: Info[Context, None],
        name: str | None = None,
        source: Annotated[
            str | None, strawberry.argument(description="A source system (and the totals).")
        ] = None,
        domain: str | None = None,
        family: str | None = None,
    ) -> list[Measure]:
        ctx = info.context
        if name is not None and name not in scorecard.BY_NAME:
            raise BadArgumentError("name", "names no measure; see the scorecard's definitions")
        found = await asyncio.to_thread(
            scorecard.measure,
            ctx.driver,
            ctx.database,
            names=[name] if name else None,
            run=ctx.reader.run,
        )
        found = [
            m
            for m in found
            if (source is None or m.source in (source, None))
            and (domain is None or m.domain == domain)
            and (family is None or m.family == family)
        ]

        async def load(wanted: Sequence[tuple[str, int]]) -> list[list[scorecard.Point]]:
            most = max(last for _, last in wanted)
            points = await asyncio.to_thread(
                scorecard.trends,
                ctx.driver,
                ctx.database,
                sorted({key for key, _ in wanted}),
                last=most,
                run=ctx.reader.run,
            )
            return [points.get(key, [])[-last:] for key, last in wanted]

        trends = _Trends(DataLoader(load_fn=load))
        return [Measure.from_measure(m, trends) for m in found]
