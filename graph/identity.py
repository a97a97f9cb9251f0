"""What the identity step reads of the graph (loaders/identity.py decides with it): the nodes
a token names, who owns an event, which loaded patients have a match key. One round trip per
batch each, whatever the size of the graph."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import ManagedTransaction

from caregraph.graph.tokens import named_by


@dataclass(frozen=True, slots=True)
class TokenHit:
    """A node a token names (as an identifier, or as its key), with its labels."""

    key: str
    labels: tuple[str, ...]
    birth_date: Any


def lookup_tokens(tx: ManagedTransaction, tokens: Sequence[str]) -> dict[str, list[TokenHit]]:
    """token -> every node the token identifies or is the key of (one per class at most)."""
    result = tx.run(
        f"UNWIND $tokens AS t CALL (t) {{ {named_by('t')} }} "
        "RETURN t, n.key AS key, labels(n) AS labels, n.birthDate AS birthDate",
        tokens=list(tokens),
    )
    out: dict[str, list[TokenHit]] = {}
    for r in result:
        out.setdefault(r["t"], []).append(TokenHit(r["key"], tuple(r["labels"]), r["birthDate"]))
    return out


def lookup_owners(tx: ManagedTransaction, pairs: Sequence[tuple[str, str]]) -> dict[str, set[str]]:
    """event key -> keys of the patients linked to it by the given relationship type, for
    (event key, relationship type) pairs: who an encounter, a study or a claim belongs to."""
    result = tx.run(
        "UNWIND $rows AS r "
        "MATCH (e:Entity {key: r.key})<-[x]-(p:Patient) WHERE type(x) = r.type "
        "RETURN r.key AS key, collect(DISTINCT p.key) AS owners",
        rows=[{"key": k, "type": t} for k, t in pairs],
    )
    return {r["key"]: set(r["owners"]) for r in result}


def lookup_match_keys(tx: ManagedTransaction, match_keys: Sequence[str]) -> dict[str, list[str]]:
    """matchKey -> keys of the loaded (not stub) patients with those demographics."""
    result = tx.run(
        "UNWIND $mks AS mk "
        "MATCH (p:Patient {matchKey: mk}) WHERE p.stub IS NULL "
        "RETURN mk, collect(p.key) AS keys",
        mks=list(match_keys),
    )
    return {r["mk"]: list(r["keys"]) for r in result}
