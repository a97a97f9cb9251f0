"""What the identity step reads of the graph (loaders/identity.py decides with it): the nodes
a token names, who owns each of them, which loaded patients have a match key. One round trip
per batch, whatever the size of the graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from caregraph.graph.names import quoted
from caregraph.graph.tokens import named_by


@dataclass(frozen=True, slots=True)
class TokenHit:
    """A node a token names (as an identifier, or as its key), with its labels."""

    key: str
    labels: tuple[str, ...]
    birth_date: Any


@dataclass(frozen=True, slots=True)
class Known:
    """What the graph holds about one batch's records."""

    # token -> every node the token identifies or is the key of (one per class at most)
    tokens: dict[str, list[TokenHit]] = field(default_factory=dict)
    # matchKey -> keys of the loaded (not stub) patients with those demographics
    match_keys: dict[str, list[str]] = field(default_factory=dict)
    # (node key, relationship type) -> keys of the patients linked to that node by that type:
    # who an encounter, a study or a claim belongs to
    owners: dict[tuple[str, str], set[str]] = field(default_factory=dict)


def lookup(
    tx: ManagedTransaction,
    tokens: Sequence[str],
    match_keys: Sequence[str],
    owner_types: Iterable[str],
) -> Known:
    """The nodes the tokens name, with their owners by the ``owner_types`` relationships, and
    the loaded patients of the match keys, in one statement.

    Owners are read for every node a token names, not only for the events the identity step
    ends up giving to a patient: which events those are depends on this answer, and an event
    already in the graph is always a node one of the batch's tokens names (its key or one of
    its identifiers), so reading them here saves the batch a second round trip. The types are
    written into the pattern so that a node with many relationships (a payer every claim
    points at) is expanded by those types only."""
    types = "|".join(quoted(t) for t in sorted(set(owner_types)))
    owners = f"[(n)<-[x:{types}]-(p:Patient) | [type(x), p.key]]" if types else "[]"
    record = tx.run(
        f"CALL () {{ UNWIND $tokens AS t CALL (t) {{ {named_by('t')} }} "
        f"RETURN collect([t, n.key, labels(n), n.birthDate, {owners}]) AS hits }} "
        "CALL () { UNWIND $mks AS mk "
        "MATCH (p:Patient {matchKey: mk}) WHERE p.stub IS NULL "
        "RETURN collect([mk, p.key]) AS matched } "
        "RETURN hits, matched",
        tokens=list(tokens),
        mks=list(match_keys),
    ).single(strict=True)
    hits: dict[str, list[TokenHit]] = {}
    owned_by: dict[tuple[str, str], set[str]] = {}
    for t, key, labels, birth, owned in record["hits"]:
        hits.setdefault(t, []).append(TokenHit(key, tuple(labels), birth))
        for rel_type, patient in owned:
            owned_by.setdefault((key, rel_type), set()).add(patient)
    by_mk: dict[str, list[str]] = {}
    for mk, key in record["matched"]:
        by_mk.setdefault(mk, []).append(key)
    return Known(hits, by_mk, owned_by)
