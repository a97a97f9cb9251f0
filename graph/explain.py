"""Why the graph says what it says: the identifiers, source records and rules behind a node
or a link. Read by `caregraph explain` and by the API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from neo4j import Driver

from caregraph.graph import tokens
from caregraph.graph.stewardship import DECISION_FIELDS


@dataclass
class Because:
    """One reason: a rule, its evidence and the source records that asserted it."""

    what: str
    rule: str | None
    evidence: dict[str, Any] | None
    sources: list[str] = field(default_factory=list)
    other: str | None = None  # the key of the node at the other end of a link


@dataclass
class NodeExplanation:
    key: str
    labels: list[str]
    display: str | None
    identifiers: list[Because]
    records: list[dict[str, Any]]
    inferred: list[Because]
    decisions: list[Because] = field(default_factory=list)  # identity decisions (stewardship)


def find_node(driver: Driver, database: str, token: str) -> list[str]:
    """Keys of the nodes a token names: an identifier token, a key, or a bare identifier value."""
    records, _, _ = driver.execute_query(
        f"CALL () {{ {tokens.named_by('$t')} UNION MATCH {tokens.with_value('$t')} RETURN n }} "
        "RETURN DISTINCT n.key AS k",
        t=token,
        database_=database,
    )
    return [r["k"] for r in records]


def explain_node(driver: Driver, database: str, key: str) -> NodeExplanation:
    """A node's identifiers (with the rule that tied each), asserting records, inferred links."""
    records, _, _ = driver.execute_query(
        """
        MATCH (n:Entity {key: $key})
        CALL (n) {
          OPTIONAL MATCH (i:Identifier)-[x:IDENTIFIES]->(n)
          RETURN collect({token: i.key, rule: x.rule, evidence: x.evidence,
                          sources: x.sources}) AS ids
        }
        CALL (n) {
          OPTIONAL MATCH (s:SourceRecord)-[:ASSERTED]->(n)
          RETURN collect(s {.sourceSystem, .file, .position, .recordId, .runId, .kind}) AS recs
        }
        CALL (n) {
          OPTIONAL MATCH (n)-[r]-(m:Entity) WHERE r.rule IS NOT NULL
          RETURN collect({type: type(r), out: startNode(r) = n, other: m.key,
                          rule: r.rule, evidence: r.evidence, sources: r.sources}) AS links
        }
        CALL (n) {
          OPTIONAL MATCH (d:IdentityDecision)-[:CONCERNS]->(n)
          WITH d ORDER BY d.at, d.key
          RETURN collect(d {"""
        + DECISION_FIELDS
        + """}) AS decisions
        }
        RETURN labels(n) AS labels, n.display AS display, ids, recs, links, decisions
        """,
        key=key,
        database_=database,
    )
    row = records[0]
    ids = [
        Because(i["token"], i["rule"], _json(i["evidence"]), list(i["sources"] or []))
        for i in row["ids"]
        if i["token"]
    ]
    links = [
        Because(
            f"{'->' if x['out'] else '<-'}[{x['type']}] {x['other']}",
            x["rule"],
            _json(x["evidence"]),
            list(x["sources"] or []),
            x["other"],
        )
        for x in row["links"]
        if x["type"]
    ]
    recs = [dict(r) for r in row["recs"] if r]
    labels = [label for label in row["labels"] if label != "Entity"]
    decisions = [_decision(d) for d in row["decisions"] if d]
    return NodeExplanation(key, labels, row["display"], ids, recs, links, decisions)


def _decision(d: dict[str, Any]) -> Because:
    """An identity decision as a reason: what, by whom, when and why; its keys as evidence."""
    at = d["at"].iso_format() if hasattr(d["at"], "iso_format") else str(d["at"])
    evidence = {
        k: d[k]
        for k in ("key", "candidate", "probability", "survivor", "absorbed", "undoes", "undoneBy")
        if d.get(k) is not None
    }
    return Because(
        f"{d['kind']} decided by {d['actor']} at {at}: {d['reason']}",
        d["rule"] or d["kind"],
        evidence,
    )


def explain_link(driver: Driver, database: str, a: str, b: str) -> list[Because]:
    """The relationships between two nodes, with the rule and evidence of each."""
    records, _, _ = driver.execute_query(
        "MATCH (x:Entity {key: $a})-[r]-(y:Entity {key: $b}) "
        "RETURN type(r) AS type, startNode(r) = x AS out, r.rule AS rule, "
        "r.evidence AS evidence, r.sources AS sources",
        a=a,
        b=b,
        database_=database,
    )
    return [
        Because(
            f"{'->' if r['out'] else '<-'}[{r['type']}]",
            r["rule"] or "asserted by the source",
            _json(r["evidence"]),
            list(r["sources"] or []),
        )
        for r in records
    ]


def _json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
