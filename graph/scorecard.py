"""The interoperability scorecard: how well the health system's sources meet in the graph.

Every measure is defined once, here: a sentence that says what it counts and why it matters,
beside the Cypher that counts it, so an informaticist can read and question both. The CLI,
the API, the HTML report and the Browser guide show what :func:`measure` computes from these
definitions; nothing else counts.

Each measure's Cypher returns rows of ``source`` (a source system; null: all sources
together), ``grp`` (the breakdown: a rule, a warning code, a kind; null: none), ``label`` (a
class name, or a node's labels, that says the domain), ``num``, ``den`` and ``at`` (the
instant a freshness measure looks at). Measures are grouped in four families:

- continuity: shares of events tied to what they belong to (a claim to its visit);
- identity: what identity kept apart or could not decide;
- completeness: references still waiting, records written with warnings or rejected;
- freshness: how long since a source last loaded, and the newest event it carried.

At the end of a load run, :func:`snapshot` keeps every measure's value in the graph, as
``(:LoadRun)-[:MEASURED]->(:MeasureValue)``, so that each measure has a history and each change
has a run (and that run's source) to explain it. A snapshot counts over the whole graph, so a
run keeps one only while that stays cheap beside the loading it follows (:class:`HistoryBudget`);
the measures themselves are computed whenever they are asked for. Labels and relationship
types in the query text are constants of this module; every value is a parameter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal

from neo4j import Driver, RoutingControl

from caregraph.graph.linking import RULES

Unit = Literal["share", "count", "days"]
Family = Literal["continuity", "identity", "completeness", "freshness"]
PROVENANCE = "provenance"  # the ontology's domain of source records and load runs
ALL_DOMAINS = "all"  # a total over groups of several domains

# the source systems that asserted node `n`, as a list (a node may come from several)
_SOURCES_OF_N = "COLLECT { MATCH (s:SourceRecord)-[:ASSERTED]->(n) RETURN DISTINCT s.sourceSystem }"


@dataclass(frozen=True)
class Definition:
    """One measure: what it means and why it matters, in words, and the Cypher that counts it."""

    name: str
    family: Family
    unit: Unit
    means: str
    why: str
    cypher: str
    domain: str | None = None  # fixed; None: the domain of each row's class (``label``)
    higher_is_better: bool = True
    # the rows' breakdown is a kind of node: the group is named after the row's class
    kind_group: bool = False
    # a broken-down row's denominator is its source's total (the row without a group)
    den_of_total: bool = False
    # Cypher listing the nodes behind the measure ($source, $grp, $limit): keys and labels
    records: str | None = None
    kind: str | None = None  # the class it is about: its domain when there is nothing to count

    @property
    def text(self) -> str:
        """The definition as one paragraph: what it means, then why it matters."""
        return f"{self.means} {self.why}"


@dataclass(frozen=True)
class Measure:
    """One value of one measure: for one source (None: all) and one breakdown group."""

    name: str
    family: Family
    domain: str
    source: str | None
    group: str | None
    unit: Unit
    value: float | None  # None: nothing to measure (a share of nothing)
    numerator: int | None
    denominator: int | None
    at: datetime | None  # the instant a freshness measure looks at
    definition: Definition

    @property
    def key(self) -> str:
        """Stable across runs: the measure, the source and the group."""
        return f"{self.name}|{self.source or ''}|{self.group or ''}"


@dataclass(frozen=True)
class Point:
    """A measure's value at the end of one load run."""

    run_id: str
    at: datetime
    value: float | None
    numerator: int | None
    denominator: int | None
    run_source: str | None  # the source system that run loaded
    observed: datetime | None = None  # for freshness: the instant measured then

    @property
    def state(self) -> object:
        """What a change is a change of: the instant a freshness measure looks at (its days
        grow with the clock alone), otherwise the value."""
        return self.observed if self.observed is not None else self.value


@dataclass
class Kinds:
    """The ontology's classes as the scorecard needs them: a node's kind and its domain."""

    domains: Mapping[str, str]
    depth: Mapping[str, int]  # how many classes the class is under: the deepest is the kind

    @classmethod
    def of_ontology(cls, onto: Any = None) -> Kinds:
        """From the shipped ontology, or the one given (an ontology.model.Ontology)."""
        if onto is None:
            from caregraph.ontology.model import load_ontology

            onto = load_ontology()
        domains: dict[str, str] = {}
        depth: dict[str, int] = {}
        for iri, c in onto.classes.items():
            domains[c.name] = c.domain or PROVENANCE
            depth[c.name] = len(onto.superclasses(iri))
        return cls(domains, depth)

    def kind(self, labels: str | Sequence[str] | None) -> str | None:
        """The most specific class among a node's labels."""
        if labels is None:
            return None
        if isinstance(labels, str):
            return labels
        known = [label for label in labels if label in self.depth]
        if not known:
            return None
        return max(known, key=lambda label: (self.depth[label], label))

    def domain(self, labels: str | Sequence[str] | None) -> str:
        kind = self.kind(labels)
        return self.domains.get(kind, PROVENANCE) if kind else PROVENANCE


# -- the definitions ------------------------------------------------------------------------


def _share(label: str, linked: str) -> str:
    """Cypher: per source and for all sources, how many loaded ``label`` nodes ``linked``."""
    return f"""
MATCH (n:{label}) WHERE n.stub IS NULL
WITH n, {linked} AS ok, {_SOURCES_OF_N} AS sources
UNWIND [null] + sources AS source
RETURN source, null AS grp, '{label}' AS label,
       sum(CASE WHEN ok THEN 1 ELSE 0 END) AS num, count(*) AS den, null AS at
"""


def _unlinked(label: str, linked: str) -> str:
    """Cypher: the loaded ``label`` nodes not ``linked`` (of the source $source, if given)."""
    return f"""
MATCH (n:{label}) WHERE n.stub IS NULL AND NOT ({linked})
  AND ($source IS NULL OR $source IN {_SOURCES_OF_N})
RETURN n.key AS key, labels(n) AS labels, {_SOURCES_OF_N} AS sources, null AS other
ORDER BY key LIMIT $limit
"""


def _linked_to(rel: str, label: str) -> str:
    return f"EXISTS {{ MATCH (n)-[:{rel}]->(t:{label}) WHERE t.stub IS NULL }}"


_CLAIM_LINKED = _linked_to("FOR_ENCOUNTER", "Encounter")
_STUDY_LINKED = _linked_to("FOR_ENCOUNTER", "Encounter")
_APPOINTMENT_LINKED = _linked_to("FOR_ENCOUNTER", "Encounter")
_REMITTANCE_LINKED = _linked_to("REMITS", "Claim")
_PRACTITIONER_KNOWN = _linked_to("HAS_PARTICIPANT", "Practitioner")
_ORGANIZATION_KNOWN = _linked_to("SERVICE_PROVIDER", "Organization")
_SEVERAL_SOURCES = f"size({_SOURCES_OF_N}) > 1"

# The relationship each linking rule makes: a node the rule found ambiguous is still waiting
# while it has none (another rule may have linked it since).
RULE_RELATIONSHIPS = {r.name: r.links for r in RULES}

_AGE = """CASE
  WHEN n.stubSince IS NULL THEN 'age unknown'
  WHEN duration.inDays(n.stubSince, $now).days < 1 THEN 'under 1 day'
  WHEN duration.inDays(n.stubSince, $now).days <= 7 THEN '1-7 days'
  WHEN duration.inDays(n.stubSince, $now).days <= 30 THEN '8-30 days'
  ELSE 'over 30 days' END"""

DEFINITIONS: tuple[Definition, ...] = (
    # -- continuity
    Definition(
        "claims-linked-to-encounter",
        "continuity",
        "share",
        "Share of the claims in the graph that a linking rule or the source ties to a loaded "
        "encounter (FOR_ENCOUNTER).",
        "A claim without its visit cannot be read beside the care it bills for: an agent "
        "asking what a visit cost, or what was billed for a diagnosis, misses it.",
        _share("Claim", _CLAIM_LINKED),
        records=_unlinked("Claim", _CLAIM_LINKED),
        kind="Claim",
    ),
    Definition(
        "imaging-studies-linked-to-encounter",
        "continuity",
        "share",
        "Share of the imaging studies in the graph tied to a loaded encounter (by the order's "
        "accession number or the study time).",
        "A study outside its visit is an image without its reason, orders and report context.",
        _share("ImagingStudy", _STUDY_LINKED),
        records=_unlinked("ImagingStudy", _STUDY_LINKED),
        kind="ImagingStudy",
    ),
    Definition(
        "appointments-linked-to-encounter",
        "continuity",
        "share",
        "Share of the appointments in the graph tied to the loaded encounter they became "
        "(cancelled and future appointments have none, and count as not linked).",
        "Scheduling that never meets the visit cannot answer what happened at the booked "
        "time, nor show no-shows for what they are.",
        _share("Appointment", _APPOINTMENT_LINKED),
        records=_unlinked("Appointment", _APPOINTMENT_LINKED),
        kind="Appointment",
    ),
    Definition(
        "remittances-linked-to-claim",
        "continuity",
        "share",
        "Share of the remittances (835 payments) in the graph tied to the loaded claim they "
        "pay (REMITS).",
        "A payment that finds no claim leaves the claim looking unpaid and the money unexplained.",
        _share("Remittance", _REMITTANCE_LINKED),
        records=_unlinked("Remittance", _REMITTANCE_LINKED),
        kind="Remittance",
    ),
    Definition(
        "encounters-with-known-practitioner",
        "continuity",
        "share",
        "Share of the encounters in the graph with a participant practitioner whose own "
        "record is loaded (not a stub).",
        "A visit whose clinician is only a name or a number cannot be followed to the "
        "clinician's schedule, role or organization.",
        _share("Encounter", _PRACTITIONER_KNOWN),
        records=_unlinked("Encounter", _PRACTITIONER_KNOWN),
        kind="Encounter",
    ),
    Definition(
        "encounters-with-known-organization",
        "continuity",
        "share",
        "Share of the encounters in the graph whose service provider organization is loaded "
        "(not a stub).",
        "Without the organization a visit cannot be placed in the health system, its "
        "facilities or its contracts.",
        _share("Encounter", _ORGANIZATION_KNOWN),
        records=_unlinked("Encounter", _ORGANIZATION_KNOWN),
        kind="Encounter",
    ),
    Definition(
        "patients-seen-in-several-sources",
        "continuity",
        "share",
        "Share of the patients in the graph asserted by records of more than one source "
        "system (per source: of that source's patients, those another source saw too).",
        "This is the cross-system view itself: a patient known to one system only is a "
        "patient the AI sees through one window.",
        _share("Patient", _SEVERAL_SOURCES),
        records=_unlinked("Patient", _SEVERAL_SOURCES),
        kind="Patient",
    ),
    Definition(
        "patients-joined-by-rule",
        "continuity",
        "share",
        "Of the patients seen in several sources, the share joined by each identity rule: "
        "same-identifier (an identifier, after aliasing, that several sources gave), "
        "demographics-exact (family name, first given name, birth date and sex), or same-key "
        "(the sources used the same record key). A patient joined by two rules counts in both.",
        "Joins by demographics are weaker evidence than a shared identifier; a rising share "
        "of them says a feed stopped sending the identifiers the others use.",
        f"""
MATCH (n:Patient) WHERE n.stub IS NULL
WITH n, {_SOURCES_OF_N} AS sources WHERE size(sources) > 1
CALL (n) {{
  MATCH (:Identifier)-[x:IDENTIFIES]->(n)
  WITH x, COLLECT {{
    UNWIND coalesce(x.sources, []) AS k MATCH (r:SourceRecord {{key: k}})
    RETURN DISTINCT r.sourceSystem
  }} AS seen
  RETURN collect(DISTINCT CASE WHEN x.rule <> 'asserted' THEN x.rule
                               WHEN size(seen) > 1 THEN 'same-identifier' END) AS rules
}}
WITH n, sources, CASE WHEN size(rules) = 0 THEN ['same-key'] ELSE rules END AS rules
UNWIND [null] + sources AS source
WITH source, count(n) AS den, collect(rules) AS per_patient
UNWIND per_patient AS rules
UNWIND rules AS grp
RETURN source, grp, 'Patient' AS label, count(*) AS num, den, null AS at
""",
        kind="Patient",
    ),
    # -- identity
    Definition(
        "identity-conflicts-kept-apart",
        "identity",
        "count",
        "Nodes identity kept apart because a record contradicts the node it would have "
        "joined: a patient whose identifier names a patient of another birth date, an "
        "encounter, appointment, study or claim a record gives to another patient.",
        "Each is a question for the sources' owners: one of the two records is wrong, and "
        "until it is fixed the graph shows two individuals where there may be one.",
        f"""
MATCH (n:Entity) WHERE n.keptApartFrom IS NOT NULL
WITH n, {_SOURCES_OF_N} AS sources
UNWIND [null] + sources AS source
RETURN source, null AS grp, labels(n) AS label, count(*) AS num, null AS den, null AS at
""",
        higher_is_better=False,
        kind_group=True,
        records=f"""
MATCH (n:Entity) WHERE n.keptApartFrom IS NOT NULL
  AND ($source IS NULL OR $source IN {_SOURCES_OF_N})
RETURN n.key AS key, labels(n) AS labels, {_SOURCES_OF_N} AS sources,
       n.keptApartFrom AS other
ORDER BY key LIMIT $limit
""",
    ),
    Definition(
        "ambiguous-matches-left-unlinked",
        "identity",
        "count",
        "Nodes a linking rule left unlinked because more than one target qualified, and that "
        "no rule has linked since, per rule.",
        "An ambiguous match is a gap the rules saw but would not guess at; several in one "
        "rule say its evidence is too weak for this feed (two visits of one patient on one "
        "day, two practitioners of one name).",
        f"""
MATCH (n:Entity) WHERE n.ambiguousRules IS NOT NULL
UNWIND n.ambiguousRules AS rule
WITH n, rule WHERE NOT EXISTS {{ MATCH (n)-[r]->() WHERE type(r) = $rels[rule] }}
WITH n, rule, {_SOURCES_OF_N} AS sources
UNWIND [null] + sources AS source
RETURN source, rule AS grp, labels(n) AS label, count(*) AS num, null AS den, null AS at
""",
        higher_is_better=False,
        records=f"""
MATCH (n:Entity) WHERE n.ambiguousRules IS NOT NULL
  AND ($grp IS NULL OR $grp IN n.ambiguousRules)
  AND ($source IS NULL OR $source IN {_SOURCES_OF_N})
  AND any(rule IN n.ambiguousRules WHERE NOT EXISTS {{
        MATCH (n)-[r]->() WHERE type(r) = $rels[rule] }})
RETURN n.key AS key, labels(n) AS labels, {_SOURCES_OF_N} AS sources, null AS other
ORDER BY key LIMIT $limit
""",
    ),
    Definition(
        "identifiers-naming-several-nodes",
        "identity",
        "count",
        "Identifiers (system and value, after aliasing) that name more than one node, per "
        "identifier system: one name that means two things in the graph.",
        "A question that starts from such an identifier has to choose: an NPI on both a "
        "practitioner and a role is expected, a medical record number on two patients is not.",
        """
MATCH (i:Identifier)
WITH i, COLLECT { MATCH (i)-[:IDENTIFIES]->(m:Entity) RETURN m } AS named
WHERE size(named) > 1
RETURN null AS source, i.system AS grp, labels(named[0]) AS label, count(*) AS num,
       null AS den, null AS at
""",
        higher_is_better=False,
    ),
    Definition(
        "match-candidates-waiting",
        "identity",
        "count",
        "Probable matches between patients (the probabilistic stage's candidates) that no "
        "steward has decided yet (docs/identity.md).",
        "Each is a person who may be two patients in the graph: an agent sees half of their "
        "history until someone accepts or rejects the pair.",
        """
MATCH (c:MatchCandidate {status: 'open'})
RETURN null AS source, null AS grp, ['Patient'] AS label, count(c) AS num, null AS den,
       null AS at
""",
        higher_is_better=False,
    ),
    Definition(
        "identity-decisions",
        "identity",
        "count",
        "Identity decisions in force, by kind: merges (by a steward or the automatic merge, "
        "not split since), rejected pairs, and splits that undid a merge.",
        "Merges and splits change who a patient is; their count per run shows review at work, "
        "and a run of splits says the merges (or the automatic merge's threshold) were wrong.",
        """
MATCH (d:IdentityDecision) WHERE d.kind <> 'merge' OR d.undoneBy IS NULL
RETURN null AS source,
       CASE d.kind WHEN 'merge' THEN 'merged (' + d.rule + ')' WHEN 'reject' THEN 'rejected'
            ELSE 'split' END AS grp,
       ['Patient'] AS label, count(d) AS num, null AS den, null AS at
""",
    ),
    # -- completeness
    Definition(
        "unresolved-references",
        "completeness",
        "count",
        "Relationships whose other end is still a stub (a node a record referred to but whose "
        "own record has not been loaded), by the stub's kind and how long it has waited.",
        "Each is a reference an agent cannot follow; the old ones are records that will not "
        "come by themselves (a feed that was never connected, an id that was mistyped).",
        f"""
MATCH (n:Entity)-[]-(a:Entity) WHERE n.stub = true AND a.stub IS NULL
WITH n, a, {_AGE} AS age
WITH n, age, COLLECT {{ MATCH (s:SourceRecord)-[:ASSERTED]->(a) RETURN DISTINCT s.sourceSystem }}
     AS sources
UNWIND [null] + sources AS source
RETURN source, age AS grp, labels(n) AS label, count(*) AS num, null AS den, null AS at
""",
        higher_is_better=False,
        kind_group=True,
    ),
    Definition(
        "stub-nodes-waiting",
        "completeness",
        "count",
        "Stub nodes (referenced, never loaded as a record of their own), by kind.",
        "A stub carries a key and nothing else: no name, no dates, no identifiers for an "
        "agent to show.",
        """
MATCH (n:Entity) WHERE n.stub = true
WITH n, COLLECT { MATCH (n)-[]-(a:Entity)<-[:ASSERTED]-(s:SourceRecord)
                  RETURN DISTINCT s.sourceSystem } AS sources
UNWIND [null] + sources AS source
RETURN source, null AS grp, labels(n) AS label, count(*) AS num, null AS den, null AS at
""",
        higher_is_better=False,
        kind_group=True,
        records="""
MATCH (n:Entity) WHERE n.stub = true
  AND ($source IS NULL OR $source IN COLLECT {
        MATCH (n)-[]-(a:Entity)<-[:ASSERTED]-(s:SourceRecord) RETURN DISTINCT s.sourceSystem })
RETURN n.key AS key, labels(n) AS labels,
       COLLECT { MATCH (n)-[]-(a:Entity)<-[:ASSERTED]-(s:SourceRecord)
                 RETURN DISTINCT s.sourceSystem } AS sources, null AS other
ORDER BY key LIMIT $limit
""",
    ),
    Definition(
        "records-with-warnings",
        "completeness",
        "share",
        "Share of the source records in the graph written with a warning (understood but "
        "incomplete or unusual), overall and per warning code.",
        "A warned record is in the graph but less than whole: an encounter without a start "
        "never appears in a time window, a remittance without its claim pays nothing.",
        """
MATCH (s:SourceRecord)
WITH s.sourceSystem AS sys, coalesce(s.warningCodes, []) AS codes
UNWIND [null, sys] AS source
UNWIND ['*'] + codes AS code
RETURN source, CASE WHEN code = '*' THEN null ELSE code END AS grp, null AS label,
       sum(CASE WHEN code <> '*' OR size(codes) > 0 THEN 1 ELSE 0 END) AS num,
       count(*) AS den, null AS at
""",
        domain=PROVENANCE,
        higher_is_better=False,
        den_of_total=True,
    ),
    Definition(
        "records-rejected",
        "completeness",
        "share",
        "Share of the records read by each source's latest load run that were rejected "
        "(could not be understood), overall and per reason code.",
        "A rejected record is not in the graph at all; the listing of each run under "
        "$CAREGRAPH_HOME/rejects/ says which file and position, and why.",
        """
MATCH (r:LoadRun) WHERE r.endedAt IS NOT NULL
WITH r.sourceSystem AS sys, r ORDER BY r.endedAt DESC
WITH sys, head(collect(r)) AS r
WITH sys, r, coalesce(r.rejectCodes, []) AS codes, coalesce(r.rejectCodeCounts, []) AS counts
UNWIND [{grp: null, n: coalesce(r.rejected, 0)}]
       + [i IN range(0, size(codes) - 1) | {grp: codes[i], n: counts[i]}] AS row
UNWIND [null, sys] AS source
RETURN source, row.grp AS grp, null AS label, sum(row.n) AS num,
       sum(coalesce(r.read, 0)) AS den, null AS at
""",
        domain=PROVENANCE,
        higher_is_better=False,
        den_of_total=True,
    ),
    # -- freshness
    Definition(
        "days-since-last-load",
        "freshness",
        "days",
        "Days since each source system's last finished load run.",
        "A feed that stopped is the most common reason a continuity measure falls: its "
        "records stop arriving for the others to meet.",
        """
MATCH (r:LoadRun) WHERE r.endedAt IS NOT NULL
RETURN r.sourceSystem AS source, null AS grp, null AS label, null AS num, null AS den,
       max(r.endedAt) AS at
""",
        domain=PROVENANCE,
        higher_is_better=False,
    ),
    Definition(
        "days-since-newest-event",
        "freshness",
        "days",
        "Days since the newest event (visit, appointment, study, order, claim service date "
        "or payment) that each source carried, events in the future left out.",
        "A source can load every day and still carry old news: this is how far behind "
        "the care its feed describes is.",
        """
MATCH (s:SourceRecord)-[:ASSERTED]->(n:Event)
WITH s.sourceSystem AS source, coalesce(n.start, n.serviceStart, n.paymentDate) AS t
WITH source, CASE
  WHEN valueType(t) STARTS WITH 'ZONED DATETIME' THEN t
  WHEN valueType(t) STARTS WITH 'LOCAL DATETIME' THEN datetime({datetime: t, timezone: 'UTC'})
  WHEN valueType(t) STARTS WITH 'DATE' THEN datetime({date: t, timezone: 'UTC'})
  END AS t
WHERE t IS NOT NULL AND t <= $now
RETURN source, null AS grp, null AS label, null AS num, null AS den, max(t) AS at
""",
        domain=PROVENANCE,
        higher_is_better=False,
    ),
)

BY_NAME: Mapping[str, Definition] = {d.name: d for d in DEFINITIONS}
DOMAINS = ("clinical", "scheduling", "imaging", "financial", "directory", PROVENANCE)


# -- computing -------------------------------------------------------------------------------


@dataclass
class _Row:
    domain: str
    num: int | None = None
    den: int | None = None
    at: datetime | None = None


# (cypher, **params) -> records: the API passes its request's Reader.run (within the
# request's deadline, counted); the CLI, the loader and the bench read over the driver
Run = Callable[..., Sequence[Any]]


def _runner(driver: Driver, database: str, run: Run | None) -> Run:
    if run is not None:
        return run

    def direct(cypher: str, **params: Any) -> Sequence[Any]:
        return driver.execute_query(
            cypher, params, database_=database, routing_=RoutingControl.READ
        ).records

    return direct


def measure(
    driver: Driver,
    database: str,
    *,
    now: datetime | None = None,
    kinds: Kinds | None = None,
    names: Iterable[str] | None = None,
    run: Run | None = None,
) -> list[Measure]:
    """Every measure as the graph is now, per source and for all sources: a statement per
    measure (each a count over the whole graph: one statement of all of them would plan
    for seconds and fail whole on one timeout)."""
    read = _runner(driver, database, run)
    now = now or datetime.now(UTC)
    kinds = kinds or Kinds.of_ontology()
    wanted = set(names) if names is not None else None
    out: list[Measure] = []
    for d in DEFINITIONS:
        if wanted is not None and d.name not in wanted:
            continue
        records = read(d.cypher, now=now, rels=RULE_RELATIONSHIPS)
        out.extend(_measures(d, [dict(r) for r in records], now, kinds))
    return out


def _measures(
    d: Definition, records: list[dict[str, Any]], now: datetime, kinds: Kinds
) -> list[Measure]:
    rows: dict[tuple[str | None, str | None], _Row] = {}
    for r in records:
        group = r["grp"]
        if d.kind_group:
            kind = kinds.kind(r["label"]) or "Entity"
            group = f"{kind} {group}" if group else kind
        domain = d.domain or kinds.domain(r["label"])
        row = rows.setdefault((r["source"], group), _Row(domain))
        # rows of one group but several label sets (a stub Practitioner and a stub
        # Practitioner:Person) add up
        if r["num"] is not None:
            row.num = (row.num or 0) + int(r["num"])
        if r["den"] is not None:
            row.den = (row.den or 0) + int(r["den"])
        at = r["at"]
        if at is not None:
            at = at.to_native() if hasattr(at, "to_native") else at
            row.at = at if row.at is None else max(row.at, at)
    if d.unit == "count":
        _add_totals(rows)
    if not rows:  # every measure is shown, with nothing to measure yet
        rows[(None, None)] = _Row(d.domain or kinds.domain(d.kind))
    out = []
    for (source, group), row in sorted(rows.items(), key=lambda kv: _order(kv[0])):
        den = row.den
        if d.den_of_total and group is not None:
            total = rows.get((source, None))
            den = total.den if total else den
        out.append(
            Measure(
                name=d.name,
                family=d.family,
                domain=row.domain,
                source=source,
                group=group,
                unit=d.unit,
                value=_value(d.unit, row.num, den, row.at, now),
                numerator=row.num,
                denominator=den,
                at=row.at,
                definition=d,
            )
        )
    return out


def _add_totals(rows: dict[tuple[str | None, str | None], _Row]) -> None:
    """A count broken down by group also has its total per source, and one for all sources
    even when it is zero: "no conflicts" is a result, not a missing row."""
    by_source: dict[str | None, list[_Row]] = {}
    for (source, group), row in rows.items():
        if group is not None:
            by_source.setdefault(source, []).append(row)
    by_source.setdefault(None, [])
    for source, parts in by_source.items():
        if (source, None) in rows:
            continue
        domains = {p.domain for p in parts}
        rows[(source, None)] = _Row(
            domains.pop() if len(domains) == 1 else ALL_DOMAINS,
            num=sum(p.num or 0 for p in parts),
        )


def _order(key: tuple[str | None, str | None]) -> tuple[str, str]:
    return (key[0] or "", key[1] or "")


def _value(
    unit: Unit, num: int | None, den: int | None, at: datetime | None, now: datetime
) -> float | None:
    if unit == "share":
        return (num or 0) / den if den else None
    if unit == "count":
        return float(num or 0)
    if at is None:
        return None
    return round((now - at).total_seconds() / 86400, 3)


# -- history ---------------------------------------------------------------------------------

SCHEMA = (
    "CREATE INDEX cg_MeasureValue_key IF NOT EXISTS FOR (n:MeasureValue) ON (n.key)",
    "CREATE INDEX cg_MeasureValue_runId IF NOT EXISTS FOR (n:MeasureValue) ON (n.runId)",
)


def ensure_schema(driver: Driver, database: str) -> None:
    for statement in SCHEMA:
        driver.execute_query(statement, database_=database)


def snapshot(
    driver: Driver,
    database: str,
    run_id: str,
    *,
    now: datetime | None = None,
    kinds: Kinds | None = None,
) -> list[Measure]:
    """Keep every measure's value as it is at the end of load run ``run_id``, and on the run
    what computing them took (``scorecardSeconds``: what :func:`history_state` reads)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    found = measure(driver, database, now=now, kinds=kinds)
    seconds = time.perf_counter() - started
    ensure_schema(driver, database)
    rows = [
        {
            "key": m.key,
            "name": m.name,
            "domain": m.domain,
            "source": m.source,
            "grp": m.group,
            "value": m.value,
            "numerator": m.numerator,
            "denominator": m.denominator,
            "observedAt": m.at,
        }
        for m in found
    ]
    driver.execute_query(
        "MATCH (run:LoadRun {runId: $run}) SET run.scorecardSeconds = $seconds "
        "WITH run UNWIND $rows AS m "
        "MERGE (v:MeasureValue {runId: $run, key: m.key}) "
        "SET v += m, v.at = $at, v.display = m.name "
        "MERGE (run)-[:MEASURED]->(v)",
        run=run_id,
        at=now,
        seconds=round(seconds, 3),
        rows=rows,
        database_=database,
    )
    return found


# -- when a load run keeps a snapshot ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryState:
    """What decides whether a run keeps a snapshot: the last snapshot's cost (None: no run
    says what its snapshot cost) and the seconds of loading that ended since it."""

    last_seconds: float | None
    loading_seconds: float


@dataclass(frozen=True, slots=True)
class HistoryBudget:
    """When a load run keeps a snapshot of the scorecard, its point in each measure's history.

    A snapshot counts every measure over the whole graph, so its cost grows with the graph and
    not with the run: 0.35 s at 1,000 generated patients, 6.5 s at 30,000 and 22-25 s at
    100,000 (docs/benchmarks.md, docs/scale.md), against a second or so of loading for a
    daily feed of a few patients' records (0.12 s at 30,000 patients). Paid at the end
    of every run, it would cost such a feed several times its own load, and more as the graph
    grows. So a run keeps one when the last snapshot took at most ``free_seconds``, or at most
    ``share`` of the loading that ended since it (this run's included); otherwise it defers
    it, and a later run, once enough loading has run to pay for it, keeps one that covers
    both. The history is then coarser on a large graph; the scorecard itself is not stale,
    since the CLI, the API and the report compute the measures when asked.
    """

    share: float = 0.1
    free_seconds: float = 5.0

    def due(self, state: HistoryState) -> bool:
        if state.last_seconds is None:
            return True
        return state.last_seconds <= max(self.free_seconds, self.share * state.loading_seconds)


EVERY_RUN = HistoryBudget(share=1.0, free_seconds=math.inf)

# The last run that kept a snapshot and said what it cost, and the loading (start to end of
# each run) that ended after that run did.
_HISTORY_STATE = """
OPTIONAL MATCH (last:LoadRun) WHERE last.scorecardSeconds IS NOT NULL
WITH last ORDER BY last.endedAt DESC LIMIT 1
OPTIONAL MATCH (r:LoadRun)
WHERE r.startedAt IS NOT NULL AND r.endedAt IS NOT NULL
  AND (last IS NULL OR r.endedAt > last.endedAt)
RETURN last.scorecardSeconds AS last,
       sum(duration.inSeconds(r.startedAt, r.endedAt).milliseconds) AS loading
"""


def history_state(driver: Driver, database: str) -> HistoryState:
    """The last snapshot's cost and the loading since it, as the load runs record them."""
    records, _, _ = driver.execute_query(
        _HISTORY_STATE, database_=database, routing_=RoutingControl.READ
    )
    last = records[0]["last"]
    return HistoryState(
        float(last) if last is not None else None, int(records[0]["loading"] or 0) / 1000
    )


def trends(
    driver: Driver,
    database: str,
    keys: Sequence[str],
    *,
    last: int = 10,
    since: datetime | None = None,
    run: Run | None = None,
) -> dict[str, list[Point]]:
    """For each measure key, its values at the end of the last ``last`` load runs (since
    ``since``), oldest first, each with the run and the source that run loaded."""
    records = _runner(driver, database, run)(
        """
UNWIND $keys AS k
CALL (k) {
  MATCH (v:MeasureValue {key: k}) WHERE $since IS NULL OR v.at >= $since
  WITH v ORDER BY v.at DESC LIMIT $last
  OPTIONAL MATCH (run:LoadRun {runId: v.runId})
  RETURN collect({runId: v.runId, at: v.at, value: v.value, numerator: v.numerator,
                  denominator: v.denominator, source: run.sourceSystem,
                  observed: v.observedAt}) AS points
}
RETURN k, points
""",
        keys=list(keys),
        last=last,
        since=since,
    )
    out: dict[str, list[Point]] = {}
    for r in records:
        points = [
            Point(
                run_id=p["runId"],
                at=p["at"].to_native(),
                value=p["value"],
                numerator=p["numerator"],
                denominator=p["denominator"],
                run_source=p["source"],
                observed=p["observed"].to_native() if p["observed"] is not None else None,
            )
            for p in r["points"]
        ]
        out[r["k"]] = sorted(points, key=lambda p: p.at)
    return out


@dataclass(frozen=True)
class Change:
    """A measure's move between two consecutive snapshots, and the run that made it."""

    key: str
    before: Point
    after: Point


def changes(points: Mapping[str, Sequence[Point]]) -> list[Change]:
    """Every change of value between consecutive snapshots of each measure."""
    out = []
    for key, series in points.items():
        for a, b in pairwise(series):
            if a.state != b.state:
                out.append(Change(key, a, b))
    return out


# -- drill-down ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Behind:
    """One node behind a measure: its key, its kind, the sources that asserted it, and the
    node it conflicts with (for conflicts)."""

    key: str
    kind: str | None
    sources: list[str] = field(default_factory=list)
    other: str | None = None


def records_behind(
    driver: Driver,
    database: str,
    name: str,
    *,
    source: str | None = None,
    group: str | None = None,
    limit: int = 100,
    kinds: Kinds | None = None,
    run: Run | None = None,
) -> list[Behind]:
    """The nodes behind a measure (the unlinked claims, the conflicts ...), by key."""
    d = BY_NAME.get(name)
    if d is None:
        raise KeyError(f"no measure is named {name!r}")
    if d.records is None:
        return []
    kinds = kinds or Kinds.of_ontology()
    records = _runner(driver, database, run)(
        d.records, source=source, grp=group, limit=limit, rels=RULE_RELATIONSHIPS
    )
    out = [
        Behind(r["key"], kinds.kind(r["labels"]), list(r["sources"]), r["other"]) for r in records
    ]
    if d.kind_group and group is not None:
        out = [b for b in out if b.kind == group]
    return out


# -- the whole card --------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """The measures as they are now, each with its history: what every view shows."""

    taken_at: datetime
    measures: list[Measure]
    trends: Mapping[str, list[Point]]

    def as_json(self) -> dict[str, Any]:
        """Plain JSON: counts, shares and times only (no patient data)."""
        return {
            "takenAt": self.taken_at.isoformat(),
            "measures": [
                {
                    "name": m.name,
                    "family": m.family,
                    "domain": m.domain,
                    "source": m.source,
                    "group": m.group,
                    "unit": m.unit,
                    "value": m.value,
                    "numerator": m.numerator,
                    "denominator": m.denominator,
                    "observedAt": m.at.isoformat() if m.at else None,
                    "higherIsBetter": m.definition.higher_is_better,
                    "definition": m.definition.text,
                    "trend": [
                        {
                            "runId": p.run_id,
                            "at": p.at.isoformat(),
                            "value": p.value,
                            "numerator": p.numerator,
                            "denominator": p.denominator,
                            "runSource": p.run_source,
                            "observedAt": p.observed.isoformat() if p.observed else None,
                        }
                        for p in self.trends.get(m.key, [])
                    ],
                }
                for m in self.measures
            ],
            "definitions": [
                {
                    "name": d.name,
                    "family": d.family,
                    "unit": d.unit,
                    "means": d.means,
                    "why": d.why,
                    "cypher": d.cypher.strip(),
                }
                for d in DEFINITIONS
            ],
        }


def card(
    driver: Driver,
    database: str,
    *,
    source: str | None = None,
    since: datetime | None = None,
    last: int = 20,
    now: datetime | None = None,
) -> Card:
    """The scorecard now (of one source and all sources together, or of every source), with
    each measure's last ``last`` snapshots since ``since``."""
    now = now or datetime.now(UTC)
    found = measure(driver, database, now=now)
    if source is not None:
        found = [m for m in found if m.source in (source, None)]
    history = trends(driver, database, [m.key for m in found], last=last, since=since)
    return Card(now, found, history)
