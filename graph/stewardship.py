"""Identity decisions: a data steward accepts a probable match (the two patients become one),
rejects it (never proposed again), or splits a merged patient back into the patients it was
made of. The same merge serves the automatic merge above a configured probability.

A decision is a node beside the candidate it closes and the patients it concerns::

    (:IdentityDecision {key, kind, rule, actor, at, reason, candidate, probability,
                        survivor, absorbed, snapshot, undoneBy})
      -[:DECIDED]->(:MatchCandidate)
      -[:CONCERNS]->(:Patient)

``kind`` is ``merge``, ``reject`` or ``split``. A merge keeps the absorbed patient whole in
its ``snapshot`` (its labels and properties, and every relationship it had, with the other
end's key and the relationship's properties: what each source asserted of it, its
identifiers, its events, its provenance), moves each relationship to the survivor (a copy
tagged ``mergedBy``, unless the survivor already had the same one) and deletes the absorbed
node; the linking rules then run again over the merged patient's records (their links carry
the decision's key as ``runId``). A split undoes exactly that: the copies and the links the
merge made are removed, the absorbed patient is created again from the snapshot with every
relationship it had, and the properties the linking rules mark (``ambiguousRules``) are put
back as they were. What a load wrote to the merged patient meanwhile stays with the
survivor (its source records say which source asserted it).

Decisions survive reloads: a merged patient's identifiers name the survivor, so a reload
joins its records to the survivor; after a split they name the restored patient again; a
decided candidate (accepted, rejected, split) is never proposed again by the probabilistic
stage (graph/candidates.py).

Values in a snapshot are JSON, temporal values tagged with their Neo4j type so that a split
writes back the same types (neo4j.time's own ISO forms). Labels and relationship types are
the only names put into Cypher text, checked as the writer checks them; every value is a
parameter.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import neo4j.time as nt
from neo4j import Driver, ManagedTransaction

from caregraph.graph import candidates, linking
from caregraph.graph.errors import GraphError
from caregraph.graph.names import labels as label_names
from caregraph.graph.names import quoted
from caregraph.graph.writer import DISTINCT_BY

LABEL = "IdentityDecision"
DECIDED = "DECIDED"
CONCERNS = "CONCERNS"
MERGE, REJECT, SPLIT = "merge", "reject", "split"
ACCEPTED, REJECTED, SPLIT_STATUS = "accepted", "rejected", "split"
STEWARD_RULE = "steward"  # a merge a person decided
AUTO_RULE = "probabilistic"  # a merge the configured threshold decided
# labels that carry a unique key: how a snapshot finds the other end of a relationship again
KEYED = ("Entity", "Identifier", "SourceRecord", candidates.LABEL, LABEL, "Concept")
LINKED_PROPERTY = "ambiguousRules"  # what the linking rules set on the nodes they look at


class DecisionError(GraphError):
    """A decision that cannot be taken as asked (its message says why; no patient data)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Decision:
    """What a decision did."""

    key: str
    kind: str
    rule: str | None
    actor: str
    reason: str
    candidate: str | None
    patients: tuple[str, ...]  # merge: survivor, absorbed; split: survivor, restored
    moved: int = 0  # relationships moved (merge) or restored (split)
    links: int = 0  # links the linking rules made after a merge, or removed by a split

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.key, "kind": self.kind, "rule": self.rule, "candidate": self.candidate,
            "patients": list(self.patients), "relationships": self.moved, "links": self.links,
        }  # fmt: skip


# -- the snapshot's values -----------------------------------------------------------------
_TEMPORAL: dict[str, Any] = {
    "date": nt.Date,
    "datetime": nt.DateTime,
    "time": nt.Time,
    "duration": nt.Duration,
}


def encode(value: Any) -> Any:
    """A property value as JSON, temporal values tagged with their type."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(v) for v in value]
    for tag, kind in _TEMPORAL.items():
        if isinstance(value, kind):
            return {"$": tag, "v": value.iso_format()}
    raise DecisionError("UNSUPPORTED_VALUE", f"a property of type {type(value).__name__}")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        return _TEMPORAL[value["$"]].from_iso_format(value["v"])
    return value


def _props(props: dict[str, Any]) -> dict[str, Any]:
    return {k: encode(v) for k, v in props.items()}


def _restore(props: dict[str, Any]) -> dict[str, Any]:
    return {k: decode(v) for k, v in props.items()}


# -- reading what a decision needs ---------------------------------------------------------
@dataclass
class _Rel:
    direction: str  # out: (patient)-[r]->(other); in: (other)-[r]->(patient)
    type: str
    other: str
    other_label: str
    props: dict[str, Any]

    def same_as(self) -> tuple[Any, ...]:
        """What tells this relationship apart from another of the patient's."""
        return (
            self.direction,
            self.type,
            self.other_label,
            self.other,
            *(self.props.get(k) for k in DISTINCT_BY),
        )


@dataclass
class _Patient:
    key: str
    labels: list[str]
    props: dict[str, Any]
    rels: list[_Rel] = field(default_factory=list)


def _read_patient(tx: ManagedTransaction, key: str) -> _Patient | None:
    record = tx.run(
        "MATCH (p:Patient {key: $key}) "
        "RETURN labels(p) AS labels, properties(p) AS props, "
        "COLLECT { MATCH (p)-[r]->(o) RETURN {direction: 'out', type: type(r), other: o.key, "
        "  labels: labels(o), props: properties(r)} } AS outs, "
        "COLLECT { MATCH (o)-[r]->(p) WHERE o <> p RETURN {direction: 'in', type: type(r), "
        "  other: o.key, labels: labels(o), props: properties(r)} } AS ins",
        key=key,
    ).single()
    if record is None:
        return None
    patient = _Patient(key, list(record["labels"]), dict(record["props"]))
    for r in [*record["outs"], *record["ins"]]:
        label = next((lb for lb in KEYED if lb in r["labels"]), None)
        if label is None or r["other"] is None:
            raise DecisionError(
                "UNSUPPORTED_RELATIONSHIP",
                f"patient has a {r['type']} relationship to a node with no key "
                f"(labels {sorted(r['labels'])}): it could not be restored by a split",
            )
        patient.rels.append(_Rel(r["direction"], r["type"], r["other"], label, dict(r["props"])))
    return patient


def _neighbour_marks(tx: ManagedTransaction, keys: Sequence[str]) -> dict[str, Any]:
    """key -> (labels, the mark the linking rules set) of the patients' events (what the
    linking rules look at; the directory around them is not theirs to re-evaluate)."""
    result = tx.run(
        "MATCH (p:Patient) WHERE p.key IN $keys MATCH (p)--(e:Event) "
        f"RETURN DISTINCT e.key AS key, labels(e) AS labels, e.{LINKED_PROPERTY} AS mark",
        keys=list(keys),
    )
    return {r["key"]: {"labels": list(r["labels"]), "mark": r["mark"]} for r in result}


def _open_candidate(tx: ManagedTransaction, key: str) -> dict[str, Any]:
    """The candidate, write-locked first (so that two decisions on it run one after the
    other, the second seeing the first's status), with its patients, most records first;
    refused unless it is open."""
    locked = tx.run(
        f"MATCH (c:{candidates.LABEL} {{key: $key}}) SET c.status = c.status RETURN c.key AS k",
        key=key,
    ).single()
    if locked is None:
        raise DecisionError("NOT_FOUND", "no match candidate has this key")
    record = tx.run(
        f"MATCH (c:{candidates.LABEL} {{key: $key}}) "
        f"CALL (c) {{ MATCH (c)-[:{candidates.REL}]->(p:Patient) "
        "  WITH DISTINCT p "
        "  CALL (p) { OPTIONAL MATCH (s:SourceRecord)-[:ASSERTED]->(p) RETURN count(s) AS n } "
        "  WITH p, n ORDER BY n DESC, p.key RETURN collect(p.key) AS patients } "
        "RETURN c.status AS status, c.probability AS probability, patients",
        key=key,
    ).single()
    assert record is not None
    if record["status"] != candidates.OPEN:
        raise DecisionError("ALREADY_DECIDED", f"the candidate is {record['status']}, not open")
    return dict(record)


def _decide(
    tx: ManagedTransaction,
    *,
    key: str,
    kind: str,
    rule: str | None,
    actor: str,
    reason: str,
    candidate: str | None,
    probability: float | None,
    patients: Sequence[str],
    status: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """The decision node, with the patients it concerns and the candidate it closes (which
    takes ``status`` and the decision's who, when and why)."""
    tx.run(
        f"CREATE (d:{LABEL} {{key: $key}}) "
        "SET d += $props, d.at = datetime() "
        "WITH d "
        f"OPTIONAL MATCH (c:{candidates.LABEL} {{key: $candidate}}) "
        "FOREACH (_ IN CASE WHEN c IS NULL THEN [] ELSE [1] END | "
        f"  CREATE (d)-[:{DECIDED}]->(c) "
        "  SET c.status = $status, c.decidedBy = d.actor, c.decidedAt = d.at, "
        "      c.reason = d.reason) "
        "WITH d "
        "MATCH (p:Patient) WHERE p.key IN $patients "
        f"CREATE (d)-[:{CONCERNS}]->(p)",
        key=key,
        candidate=candidate or "",
        status=status,
        patients=list(patients),
        props={
            "kind": kind,
            "rule": rule,
            "actor": actor,
            "reason": reason,
            "candidate": candidate,
            "probability": probability,
            **(extra or {}),
        },
    )


def _create_rels(
    tx: ManagedTransaction, patient: str, rels: Sequence[_Rel], tag: dict[str, Any]
) -> int:
    """Create the relationships on the patient, grouped by type, direction and other end."""
    made = 0
    groups: dict[tuple[str, str, str], list[_Rel]] = defaultdict(list)
    for r in rels:
        groups[(r.type, r.direction, r.other_label)].append(r)
    for (rel_type, direction, other_label), group in groups.items():
        pattern = (
            f"(p)-[x:{quoted(rel_type)}]->(o)"
            if direction == "out"
            else f"(o)-[x:{quoted(rel_type)}]->(p)"
        )
        record = tx.run(
            "MATCH (p:Patient {key: $patient}) "
            "UNWIND $rows AS row "
            f"MATCH (o:{quoted(other_label)} {{key: row.other}}) "
            f"CREATE {pattern} SET x = row.props, x += $tag "
            "RETURN count(x) AS n",
            patient=patient,
            tag=tag,
            rows=[{"other": r.other, "props": _restore(r.props)} for r in group],
        ).single()
        made += int(record["n"]) if record else 0
    return made


def _relink(tx: ManagedTransaction, patient: str, run: str, enabled: frozenset[str] | None) -> int:
    """The linking rules over the patient's records (a merge may let a claim find its visit)."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, seen in _neighbour_marks(tx, [patient]).items():
        for label in seen["labels"]:
            by_label[label].append(key)
    return sum(linking.apply_rules(tx, dict(by_label), run, enabled).made.values())


# -- the decisions ---------------------------------------------------------------------------
def accept(
    driver: Driver,
    database: str,
    candidate: str,
    *,
    actor: str,
    reason: str,
    rule: str = STEWARD_RULE,
    enabled_rules: frozenset[str] | None = None,
) -> Decision:
    """Merge the candidate's two patients into the one with more source records (the first
    key on a tie), in one transaction."""
    with driver.session(database=database) as session:
        return session.execute_write(
            _accept, candidate, actor=actor, reason=reason, rule=rule, enabled=enabled_rules
        )


def _accept(
    tx: ManagedTransaction,
    candidate: str,
    *,
    actor: str,
    reason: str,
    rule: str,
    enabled: frozenset[str] | None,
) -> Decision:
    found = _open_candidate(tx, candidate)
    if len(found["patients"]) != 2:
        raise DecisionError(
            "STALE_CANDIDATE",
            "the candidate no longer names two patients (a decision made them one); "
            "run `caregraph identity candidates` again",
        )
    survivor_key, absorbed_key = found["patients"]
    absorbed = _read_patient(tx, absorbed_key)
    survivor = _read_patient(tx, survivor_key)
    assert absorbed is not None and survivor is not None
    decision = uuid.uuid4().hex
    have = {r.same_as() for r in survivor.rels}
    moving = [
        r
        for r in absorbed.rels
        # one between the two, or from the absorbed to itself, would become a loop: it is
        # only in the snapshot, and a split puts it back
        # (an entity's: an Identifier node's key is often the very token that keys a patient)
        if not (r.other_label == "Entity" and r.other in (survivor_key, absorbed_key))
        and r.same_as() not in have
    ]
    marks = _neighbour_marks(tx, [survivor_key, absorbed_key])
    snapshot = {
        "labels": absorbed.labels,
        "props": _props(absorbed.props),
        "relationships": [
            {
                "direction": r.direction,
                "type": r.type,
                "other": r.other,
                "label": r.other_label,
                "props": _props(r.props),
            }
            for r in absorbed.rels
        ],
        "marks": {k: encode(v["mark"]) for k, v in marks.items()},
    }
    # an identifier the survivor gets by the merge is its by this decision: `explain` says so
    because = {"decision": decision, "candidate": candidate, "probability": found["probability"]}
    moving = [
        _Rel(r.direction, r.type, r.other, r.other_label,
             {**r.props, "rule": rule,
              "evidence": json.dumps({**because, "ruleBefore": r.props.get("rule")})})
        if r.type == "IDENTIFIES" else r
        for r in moving
    ]  # fmt: skip
    moved = _create_rels(tx, survivor_key, moving, {"mergedBy": decision})
    tx.run("MATCH (b:Patient {key: $key}) DETACH DELETE b", key=absorbed_key)
    links = _relink(tx, survivor_key, decision, enabled)
    _decide(
        tx,
        key=decision,
        kind=MERGE,
        rule=rule,
        actor=actor,
        reason=reason,
        candidate=candidate,
        probability=found["probability"],
        patients=[survivor_key],
        status=ACCEPTED,
        extra={
            "survivor": survivor_key,
            "absorbed": absorbed_key,
            "snapshot": json.dumps(snapshot, sort_keys=True),
        },
    )
    return Decision(
        decision, MERGE, rule, actor, reason, candidate, (survivor_key, absorbed_key), moved, links
    )


def reject(driver: Driver, database: str, candidate: str, *, actor: str, reason: str) -> Decision:
    """Close the candidate: its two patients stay apart and the pair is never proposed again."""
    with driver.session(database=database) as session:
        return session.execute_write(_reject, candidate, actor, reason)


def _reject(tx: ManagedTransaction, candidate: str, actor: str, reason: str) -> Decision:
    found = _open_candidate(tx, candidate)
    decision = uuid.uuid4().hex
    _decide(
        tx,
        key=decision,
        kind=REJECT,
        rule=None,
        actor=actor,
        reason=reason,
        candidate=candidate,
        probability=found["probability"],
        patients=found["patients"],
        status=REJECTED,
    )
    return Decision(decision, REJECT, None, actor, reason, candidate, tuple(found["patients"]))


def split(
    driver: Driver, database: str, patient: str, *, actor: str, reason: str
) -> list[Decision]:
    """Undo every merge into the patient, newest first, each in its own transaction: the
    patients it absorbed are back as they were. A patient no decision merged cannot be split
    here (its records were joined at load by a deterministic rule: see docs/identity.md)."""
    done: list[Decision] = []
    with driver.session(database=database) as session:
        merges = session.execute_read(_merges_into, patient)
        if not merges:
            exists = session.execute_read(
                lambda tx: tx.run("MATCH (p:Patient {key: $k}) RETURN 1", k=patient).single()
            )
            if exists is None:
                raise DecisionError("NOT_FOUND", "no patient has this key")
            raise DecisionError(
                "NOT_MERGED",
                "no identity decision merged another patient into this one; a patient joined "
                "at load by a deterministic rule is not split here",
            )
        for merge in merges:
            done.append(session.execute_write(_split, merge, actor, reason))
    return done


def _merges_into(tx: ManagedTransaction, patient: str) -> list[str]:
    result = tx.run(
        f"MATCH (d:{LABEL} {{survivor: $key, kind: $merge}}) WHERE d.undoneBy IS NULL "
        "RETURN d.key AS key ORDER BY d.at DESC, d.key DESC",
        key=patient,
        merge=MERGE,
    )
    return [r["key"] for r in result]


def _split(tx: ManagedTransaction, merge: str, actor: str, reason: str) -> Decision:
    record = tx.run(
        f"MATCH (d:{LABEL} {{key: $key}}) SET d.undoneBy = coalesce(d.undoneBy, '') "
        "RETURN d.survivor AS survivor, d.absorbed AS absorbed, d.snapshot AS snapshot, "
        "d.candidate AS candidate, d.undoneBy AS undone",
        key=merge,
    ).single()
    assert record is not None
    if record["undone"]:
        raise DecisionError("ALREADY_DECIDED", "this merge was split already")
    survivor, absorbed = record["survivor"], record["absorbed"]
    if tx.run("MATCH (b:Entity {key: $k}) RETURN 1", k=absorbed).single() is not None:
        raise DecisionError(
            "KEY_TAKEN", "a node with the merged patient's key exists again; not split"
        )
    snapshot = json.loads(record["snapshot"])
    # the links first: they are found through the merged patient's records, some of which
    # are its only through the copies removed next
    unlinked = tx.run(
        "MATCH (a:Patient {key: $a})--(e:Event) WITH DISTINCT e "
        "MATCH (e)-[x]-() WHERE x.runId = $d WITH DISTINCT x DELETE x RETURN count(*) AS n",
        a=survivor,
        d=merge,
    ).single()
    tx.run(
        "MATCH (a:Patient {key: $a})-[x]-() WHERE x.mergedBy = $d WITH DISTINCT x DELETE x",
        a=survivor,
        d=merge,
    )
    tx.run(
        f"CREATE (b:{label_names(snapshot['labels'])}) SET b = $props",
        props=_restore(snapshot["props"]),
    )
    rels = [
        _Rel(r["direction"], r["type"], r["other"], r["label"], r["props"])
        for r in snapshot["relationships"]
    ]
    restored = _create_rels(tx, absorbed, rels, {})
    tx.run(
        f"UNWIND $rows AS row MATCH (e:Entity {{key: row.key}}) SET e.{LINKED_PROPERTY} = row.mark",
        rows=[{"key": k, "mark": decode(v)} for k, v in snapshot["marks"].items()],
    )
    decision = uuid.uuid4().hex
    tx.run(f"MATCH (d:{LABEL} {{key: $key}}) SET d.undoneBy = $by", key=merge, by=decision)
    _decide(
        tx,
        key=decision,
        kind=SPLIT,
        rule=None,
        actor=actor,
        reason=reason,
        candidate=record["candidate"],
        probability=None,
        patients=[survivor, absorbed],
        status=SPLIT_STATUS,
        extra={"survivor": survivor, "absorbed": absorbed, "undoes": merge},
    )
    links = int(unlinked["n"]) if unlinked else 0
    return Decision(
        decision, SPLIT, None, actor, reason, record["candidate"], (survivor, absorbed),
        restored, links,
    )  # fmt: skip


# -- reading decisions -----------------------------------------------------------------------
DECISION_FIELDS = (
    ".key, .kind, .rule, .actor, .at, .reason, .candidate, .probability, .survivor, .absorbed, "
    ".undoes, .undoneBy"
)


def decisions(driver: Driver, database: str, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The decisions of these keys, in the order given (no snapshot: keys and words)."""
    records, _, _ = driver.execute_query(
        f"UNWIND $keys AS k MATCH (d:{LABEL} {{key: k}}) RETURN d {{{DECISION_FIELDS}}} AS d",
        keys=list(keys),
        database_=database,
    )
    found = {r["d"]["key"]: dict(r["d"]) for r in records}
    return [found[k] for k in keys if k in found]
