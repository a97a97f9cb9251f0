"""Probable matches in the graph: the patient records the probabilistic identity stage reads
(loaders/probabilistic.py), and the candidate pairs it writes back.

A candidate is a node, not a relationship, so that a review can give it a status and keep
its decision (who, when, why) beside its evidence::

    (:MatchCandidate {key, probability, matchWeight, evidence, status, runId,
                      firstSeen, lastSeen})-[:CANDIDATE_FOR]->(:Patient)   (two of them)

``key`` is the two patients' keys in order joined by `` ~~ ``; ``evidence`` is JSON, per
compared field its comparison level and Bayes factor (never a value); ``status`` is ``open``
when written. A later run updates the score and evidence of the candidates still ``open`` and
removes the open ones it no longer proposes; a candidate with another status (a decision)
is never changed by a run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from neo4j import Driver

LABEL = "MatchCandidate"
REL = "CANDIDATE_FOR"
OPEN = "open"
SEPARATOR = " ~~ "
SCHEMA = (
    "CREATE CONSTRAINT cg_MatchCandidate_key_unique IF NOT EXISTS "
    "FOR (c:MatchCandidate) REQUIRE c.key IS UNIQUE",
    "CREATE INDEX cg_MatchCandidate_status IF NOT EXISTS FOR (c:MatchCandidate) ON (c.status)",
    # the decisions on candidates (graph/stewardship.py): a decision needs a candidate, so
    # the schema made before the first candidate is written serves them too
    "CREATE CONSTRAINT cg_IdentityDecision_key_unique IF NOT EXISTS "
    "FOR (d:IdentityDecision) REQUIRE d.key IS UNIQUE",
    "CREATE INDEX cg_IdentityDecision_survivor IF NOT EXISTS "
    "FOR (d:IdentityDecision) ON (d.survivor)",
)
PAGE = 20_000  # patients read per round trip


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """What the stage compares of one patient: folded names, birth date, sex, postal code."""

    key: str
    family: str | None
    given: list[str]
    birth_date: str | None
    gender: str | None
    postal_code: str | None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A scored pair of patients (keys in order) and the evidence per field (JSON text)."""

    a: str
    b: str
    probability: float
    match_weight: float
    evidence: str

    @property
    def key(self) -> str:
        return f"{self.a}{SEPARATOR}{self.b}"


def ensure_schema(driver: Driver, database: str) -> None:
    for statement in SCHEMA:
        driver.execute_query(statement, database_=database)


def patient_records(driver: Driver, database: str, page: int = PAGE) -> Iterator[PatientRecord]:
    """Every loaded patient (not a stub), a page per round trip, by key."""
    after = ""
    while True:
        records, _, _ = driver.execute_query(
            "MATCH (p:Patient) WHERE p.key > $after AND p.stub IS NULL "
            "RETURN p.key AS key, p.familyKey AS family, p.givenKeys AS given, "
            "toString(p.birthDate) AS birth, p.gender AS gender, p.postalCode AS postal "
            "ORDER BY p.key LIMIT $page",
            after=after,
            page=page,
            database_=database,
        )
        for r in records:
            yield PatientRecord(
                r["key"], r["family"], list(r["given"] or []), r["birth"], r["gender"], r["postal"]
            )
        if len(records) < page:
            return
        after = records[-1]["key"]


def write_candidates(
    driver: Driver, database: str, candidates: Sequence[Candidate], run_id: str
) -> tuple[int, int]:
    """Write the run's candidates (open ones updated, decided ones left as they are) and
    remove the open candidates of earlier runs it did not propose again: (written, removed)."""
    ensure_schema(driver, database)
    rows: list[dict[str, Any]] = [
        {
            "key": c.key, "a": c.a, "b": c.b, "p": c.probability, "w": c.match_weight,
            "evidence": c.evidence,
        }
        for c in candidates
    ]  # fmt: skip
    written = 0
    for start in range(0, len(rows), 5_000):
        summary = driver.execute_query(
            f"UNWIND $rows AS row "
            f"MATCH (a:Patient {{key: row.a}}), (b:Patient {{key: row.b}}) "
            f"MERGE (c:{LABEL} {{key: row.key}}) "
            f"ON CREATE SET c.status = $open, c.firstSeen = datetime() "
            f"WITH c, a, b, row WHERE c.status = $open "
            f"SET c.probability = row.p, c.matchWeight = row.w, c.evidence = row.evidence, "
            f"c.runId = $run, c.lastSeen = datetime() "
            f"MERGE (c)-[:{REL}]->(a) MERGE (c)-[:{REL}]->(b) "
            f"RETURN count(c) AS n",
            rows=rows[start : start + 5_000],
            open=OPEN,
            run=run_id,
            database_=database,
        )
        written += int(summary.records[0]["n"])
    removed, _, _ = driver.execute_query(
        f"MATCH (c:{LABEL} {{status: $open}}) WHERE c.runId <> $run "
        "DETACH DELETE c RETURN count(*) AS n",
        open=OPEN,
        run=run_id,
        database_=database,
    )
    return written, int(removed[0]["n"])


def decided_pairs(driver: Driver, database: str) -> set[tuple[str, str]]:
    """The pairs a decision closed (any status but open): never proposed again."""
    records, _, _ = driver.execute_query(
        f"MATCH (c:{LABEL}) WHERE c.status <> $open RETURN c.key AS key",
        open=OPEN,
        database_=database,
    )
    out = set()
    for r in records:
        a, _, b = str(r["key"]).partition(SEPARATOR)
        out.add((a, b))
    return out


RANK = "toInteger(round(c.probability * 1e12))"  # the page order, as an integer (cursors)


def list_candidates(
    driver: Driver,
    database: str,
    *,
    status: str | None = OPEN,
    limit: int = 100,
    after: tuple[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Candidates, most probable first (status None: all), a page after (rank, key): their
    key, score, evidence, status, decision and the keys of their patients, and ``rank``, the
    order's integer form of the probability."""
    records, _, _ = driver.execute_query(
        f"MATCH (c:{LABEL}) WHERE ($status IS NULL OR c.status = $status) "
        f"WITH c, {RANK} AS rank "
        "WHERE $after IS NULL OR rank < $after[0] OR (rank = $after[0] AND c.key > $after[1]) "
        "RETURN c {.key, .probability, .matchWeight, .evidence, .status, .runId, .firstSeen, "
        ".lastSeen, .decidedBy, .decidedAt, .reason, rank: rank, "
        f"patients: COLLECT {{ MATCH (c)-[:{REL}]->(p:Patient) "
        "RETURN DISTINCT p.key AS k ORDER BY k }} AS c "
        "ORDER BY c.rank DESC, c.key LIMIT $limit",
        status=status,
        after=list(after) if after else None,
        limit=limit,
        database_=database,
    )
    return [dict(r["c"]) for r in records]
