"""Why two identifiers name one individual, or how two individuals are linked."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from caregraph.graph.explain import Because


@strawberry.type(description="One reason: what ties them, the rule that made it, its evidence.")
class Reason:
    what: str = strawberry.field(
        description="An identifier token (same individual) or a relationship, e.g. "
        "->[FOR_ENCOUNTER]."
    )
    rule: str | None = strawberry.field(description="The identity or linking rule.")
    evidence: JSON | None = strawberry.field(description="What the rule matched (field names).")
    sources: list[str] = strawberry.field(description="Keys of the source records behind it.")

    @classmethod
    def from_because(cls, b: Because) -> Reason:
        evidence = cast(JSON, b.evidence)  # a JSON object, as the graph holds it
        return cls(what=b.what, rule=b.rule, evidence=evidence, sources=list(b.sources))


@strawberry.type(
    description="The tie between two identifiers or keys: the same individual (with the "
    "identifiers and rules that make it one), directly linked (the relationships, each with "
    "its rule and evidence), or neither."
)
class Explanation:
    a: str = strawberry.field(description="The key of the node `a` names.")
    b: str = strawberry.field(description="The key of the node `b` names.")
    kind_a: str
    kind_b: str
    same: bool = strawberry.field(description="True when a and b name one individual.")
    linked: bool = strawberry.field(description="True when a relationship joins them.")
    reasons: list[Reason]
