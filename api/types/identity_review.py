"""Identity review: the probable matches the probabilistic stage proposes, and the decisions
a data steward (or the configured automatic merge) takes on them (graph/stewardship.py)."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from caregraph.api import lookup
from caregraph.api.context import Context
from caregraph.api.types import values
from caregraph.api.types.patient import Patient
from caregraph.graph.readers import LookupRequest


@strawberry.enum(description="Where a candidate stands: waiting, or the decision that closed it.")
class MatchStatus(enum.Enum):
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SPLIT = "split"


@strawberry.type(description="How one compared field of a pair fell: never a value.")
class MatchEvidence:
    field: str = strawberry.field(description="family, given, middle, birth_date, gender, postal")
    level: str = strawberry.field(description="The comparison level the pair fell in.")
    bayes_factor: float | None = strawberry.field(
        description="How much the level multiplies the odds of a match (below 1: against)."
    )


@strawberry.type(
    description="A decision on identity: a merge (two patients made one), a reject (kept "
    "apart, never proposed again) or a split (a merge undone), with who, when and why."
)
class IdentityDecision:
    key: str
    kind: str = strawberry.field(description="merge, reject or split")
    rule: str | None = strawberry.field(
        description="steward (a person decided) or probabilistic (the automatic merge)."
    )
    actor: str = strawberry.field(description="Who decided: the API caller or the OS user.")
    at: datetime
    reason: str
    candidate: str | None
    probability: float | None
    survivor: str | None = strawberry.field(description="The patient that remains (merge).")
    absorbed: str | None = strawberry.field(
        description="The patient merged into the survivor, or restored by a split."
    )
    undoes: str | None = strawberry.field(description="The merge a split undid.")
    undone_by: str | None = strawberry.field(description="The split that undid this merge.")

    @classmethod
    def from_record(cls, d: dict[str, Any]) -> IdentityDecision:
        return cls(
            key=d["key"],
            kind=d["kind"],
            rule=d.get("rule"),
            actor=d["actor"],
            at=values.dt(d["at"]) or datetime.min,
            reason=d["reason"],
            candidate=d.get("candidate"),
            probability=d.get("probability"),
            survivor=d.get("survivor"),
            absorbed=d.get("absorbed"),
            undoes=d.get("undoes"),
            undone_by=d.get("undoneBy"),
        )


@strawberry.type(
    description="A probable match: two patients the deterministic rules left apart that the "
    "probabilistic stage scores as one person, with its evidence per field."
)
class MatchCandidate:
    key: str = strawberry.field(description="The two patients' keys in order, joined by ' ~~ '.")
    probability: float
    match_weight: float
    status: str = strawberry.field(description="open, accepted, rejected or split")
    evidence: list[MatchEvidence]
    first_seen: datetime | None
    last_seen: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    _patients: strawberry.Private[list[str]]

    @classmethod
    def from_record(cls, c: dict[str, Any]) -> MatchCandidate:
        evidence = json.loads(c.get("evidence") or "{}")
        return cls(
            key=c["key"],
            probability=float(c.get("probability") or 0.0),
            match_weight=float(c.get("matchWeight") or 0.0),
            status=c["status"],
            evidence=[
                MatchEvidence(field=k, level=str(v.get("level")), bayes_factor=v.get("bayesFactor"))
                for k, v in sorted(evidence.items())
            ],
            first_seen=values.dt(c.get("firstSeen")),
            last_seen=values.dt(c.get("lastSeen")),
            decided_by=c.get("decidedBy"),
            decided_at=values.dt(c.get("decidedAt")),
            reason=c.get("reason"),
            _patients=list(c.get("patients") or []),
        )

    @strawberry.field(description="The two patients (one once a merge made them one).")
    async def patients(self, info: Info[Context, None]) -> list[Patient]:
        out = []
        for key in self._patients:
            row = await lookup.find(
                info, [LookupRequest("Patient", "token", key)], what="patient", argument="key"
            )
            if row is not None:
                out.append(Patient.from_record(row))
        return out
