"""Cypher of the linking rules: which claim, image and appointment belong to which visit.

Each rule is one statement anchored on the keys of the nodes a batch just wrote, working in
both directions (a claim that arrives finds its encounter; an encounter that arrives finds
the claims waiting for it), so arrival order does not matter and the cost per record is
bounded by one patient's records, not by the size of the graph. A rule links only when
exactly one candidate qualifies (otherwise it links nothing and counts the node as ambiguous
for the load report); every link it makes carries the rule's name, its evidence and the
batch's load run. No rule needs APOC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neo4j import ManagedTransaction


@dataclass(frozen=True)
class Rule:
    name: str
    cypher: str
    describes: str
    triggers: frozenset[str]  # labels of the written nodes that can make the rule fire
    links: str = "FOR_ENCOUNTER"  # the relationship it makes (a node without one is unlinked)


# A node left unlinked because several targets qualified keeps the rule's name, so the
# scorecard can count the ambiguous matches still waiting (graph/scorecard.py).
_MARK_AMBIGUOUS = """WITH a, $found AS found WHERE size(found) > 1
  SET a.ambiguousRules = CASE WHEN $rule IN coalesce(a.ambiguousRules, [])
    THEN a.ambiguousRules ELSE coalesce(a.ambiguousRules, []) + $rule END"""


# Each statement receives $keys (node keys written by the batch), $run (the load run) and
# $rule, and returns one row: the links made, and the nodes left unlinked because more than
# one target qualified (`ambiguous`). A rule is written as a *finder* (the nodes of the batch,
# or the nodes waiting for one that the batch wrote, as `a`) and a *candidates* query (every
# target that qualifies for `a`, as `b`): it links `a` only when exactly one `b` qualifies.
def _one_target(finder: str, candidates: str, rel: str, evidence: str) -> str:
    return f"""
{finder}
WITH DISTINCT a WHERE NOT (a)-[:{rel}]->()
CALL (a) {{
  {candidates}
  RETURN collect(DISTINCT b) AS bs
}}
WITH a, bs WHERE size(bs) >= 1
CALL (a, bs) {{
  WITH a, bs WHERE size(bs) = 1
  WITH a, bs[0] AS b
  MERGE (a)-[x:{rel}]->(b)
  ON CREATE SET x.rule = $rule, x.evidence = {evidence}, x.runId = $run, x.sources = []
  RETURN count(x) AS made
}}
CALL (a, bs) {{
  {_MARK_AMBIGUOUS.replace("$found", "bs")}
}}
RETURN sum(made) AS made, sum(CASE WHEN size(bs) > 1 THEN 1 ELSE 0 END) AS ambiguous
"""


def _clean(expr: str) -> str:
    """Cypher: a name folded for comparison (lower case, accents and punctuation removed).

    Written in plain Cypher rather than with APOC's apoc.text.clean, so the rule runs on any
    Neo4j 5 (an external server, Aura) whether APOC is installed or not.
    """
    return (
        f"reduce(acc = '', ch IN split(normalize(toLower(coalesce({expr}, '')), NFD), '') | "
        "acc + CASE WHEN ch =~ '[a-z0-9]' THEN ch ELSE '' END)"
    )


def _to_encounter(label: str, ready: str, encounter: str, waiting: str) -> str:
    """The finder of a rule that links a ``label`` node to an encounter: the batch's ``label``
    nodes that are ``ready`` (a Cypher condition on ``n``), and, for each ``encounter`` of the
    batch (a condition on ``n``), the ``label`` nodes of its patient that may be waiting for it
    (``waiting``: MATCH clauses from ``(p:Patient)-[:HAS_ENCOUNTER]->(n)`` that bind ``a``)."""
    return f"""
UNWIND $keys AS k
MATCH (n:Entity {{key: k}}) WHERE n:{label} OR n:Encounter
CALL (n) {{
  WITH n WHERE n:{label} AND {ready}
  RETURN n AS a
  UNION
  WITH n WHERE n:Encounter AND {encounter}
  {waiting}
  RETURN a
}}"""


CLAIM_VISIT_NUMBER = Rule(
    "claim-visit-number",
    _one_target(
        _to_encounter(
            "Claim",
            "n.controlNumber IS NOT NULL",
            "n.visitNumber IS NOT NULL",
            """MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_CLAIM]->(a:Claim {controlNumber: n.visitNumber})""",
        ),
        """MATCH (p:Patient)-[:HAS_CLAIM]->(a)
  MATCH (p)-[:HAS_ENCOUNTER]->(b:Encounter {visitNumber: a.controlNumber})""",
        "FOR_ENCOUNTER",
        '\'{"matched": "Claim.controlNumber = Encounter.visitNumber", "scope": "same patient"}\'',
    ),
    "an X12 CLM01 (patient control number) equal to the encounter's visit number",
    frozenset({"Claim", "Encounter"}),
)

SAME_PATIENT_SAME_DAY = Rule(
    "same-patient-same-day",
    _one_target(
        _to_encounter(
            "Claim",
            "n.serviceStart IS NOT NULL",
            "n.start IS NOT NULL",
            """MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)-[:HAS_PARTICIPANT]->(pr:Practitioner)
        <-[:HAS_PROVIDER]-(a:Claim)<-[:HAS_CLAIM]-(p)
  WHERE a.serviceStart IS NOT NULL""",
        ),
        """MATCH (p:Patient)-[:HAS_CLAIM]->(a)
  MATCH (p)-[:HAS_ENCOUNTER]->(b:Encounter)-[:HAS_PARTICIPANT]->(:Practitioner)
        <-[:HAS_PROVIDER]-(a)
  WHERE b.start IS NOT NULL AND date(a.serviceStart) >= date(b.start)
    AND date(a.serviceStart) <= date(coalesce(b.end, b.start))""",
        "FOR_ENCOUNTER",
        '\'{"matched": ["same patient", "service date within the encounter", '
        '"shared practitioner"]}\'',
    ),
    "the same patient, a service date within the encounter's period and a shared practitioner",
    frozenset({"Claim", "Encounter"}),
)

# An order is the study's only when exactly one order of the same patient has its accession
# number (and a compatible issuer); the study then belongs to that order's visit.
IMAGING_ACCESSION_ORDER = Rule(
    "accession-order",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:ImagingStudy OR n:ServiceRequest
CALL (n) {
  WITH n WHERE n:ImagingStudy AND n.accessionNumber IS NOT NULL
  RETURN n AS a
  UNION
  WITH n WHERE n:ServiceRequest AND n.accessionNumber IS NOT NULL
  MATCH (p:Patient)-[:HAS_SERVICE_REQUEST]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy {accessionNumber: n.accessionNumber})
  RETURN s AS a
}
WITH DISTINCT a
CALL (a) {
  MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(a)
  MATCH (p)-[:HAS_SERVICE_REQUEST]->(o:ServiceRequest {accessionNumber: a.accessionNumber})
  WHERE a.accessionIssuer IS NULL OR o.accessionIssuer IS NULL
     OR a.accessionIssuer = o.accessionIssuer
  RETURN collect(DISTINCT o) AS os
}
WITH a, os WHERE size(os) >= 1
CALL (a, os) {
  WITH a, os WHERE size(os) = 1
  WITH a, os[0] AS o
  MERGE (a)-[y:BASED_ON]->(o)
  ON CREATE SET y.rule = $rule, y.runId = $run, y.sources = [],
    y.evidence = '{"matched": "accession number and issuer of the order", "scope": "same patient"}'
  WITH a, o WHERE NOT (a)-[:FOR_ENCOUNTER]->(:Encounter)
  MATCH (o)-[:FOR_ENCOUNTER]->(e:Encounter)
  WITH a, collect(DISTINCT e) AS es WHERE size(es) = 1
  WITH a, es[0] AS b
  MERGE (a)-[x:FOR_ENCOUNTER]->(b)
  ON CREATE SET x.rule = $rule, x.runId = $run, x.sources = [],
    x.evidence = '{"matched": "accession number of an order of the encounter"}'
  RETURN count(x) AS made
}
CALL (a, os) {
  """
    + _MARK_AMBIGUOUS.replace("$found", "os")
    + """
}
RETURN sum(made) AS made, sum(CASE WHEN size(os) > 1 THEN 1 ELSE 0 END) AS ambiguous
""",
    "the accession number of an order that belongs to the encounter",
    frozenset({"ImagingStudy", "ServiceRequest"}),
    "BASED_ON",
)

IMAGING_DURING_ENCOUNTER = Rule(
    "same-patient-during-encounter",
    _one_target(
        _to_encounter(
            "ImagingStudy",
            "n.start IS NOT NULL",
            "n.start IS NOT NULL",
            """MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(a:ImagingStudy) WHERE a.start IS NOT NULL""",
        ),
        """MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(a)
  MATCH (p)-[:HAS_ENCOUNTER]->(b:Encounter)
  WHERE b.start <= a.start AND a.start <= coalesce(b.end, b.start + duration({hours: 24}))""",
        "FOR_ENCOUNTER",
        '\'{"matched": ["same patient", "study time within the encounter"]}\'',
    ),
    "the same patient and a study time within the encounter's period (timezones respected)",
    frozenset({"ImagingStudy", "Encounter"}),
)

APPOINTMENT_DURING_ENCOUNTER = Rule(
    "same-patient-practitioner-time",
    _one_target(
        _to_encounter(
            "Appointment",
            "n.start IS NOT NULL",
            "n.start IS NOT NULL",
            """MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_APPOINTMENT]->(a:Appointment) WHERE a.start IS NOT NULL""",
        ),
        """MATCH (p:Patient)-[:HAS_APPOINTMENT]->(a)
  MATCH (p)-[:HAS_ENCOUNTER]->(b:Encounter)-[:HAS_PARTICIPANT]->(:Practitioner)
        <-[:HAS_PARTICIPANT]-(a)
  WHERE b.start <= a.start AND a.start <= coalesce(b.end, b.start + duration({hours: 24}))""",
        "FOR_ENCOUNTER",
        '\'{"matched": ["same patient", "shared practitioner", '
        '"appointment start within the encounter"]}\'',
    ),
    "the same patient, a shared practitioner and an appointment start within the encounter",
    frozenset({"Appointment", "Encounter"}),
)

DICOM_REFERRER = Rule(
    "referrer-name-unique",
    _one_target(
        """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:ImagingStudy OR n:Practitioner OR n:Encounter
CALL (n) {
  WITH n WHERE n:ImagingStudy AND n.referringPhysicianName IS NOT NULL
  RETURN n AS a
  UNION
  WITH n WHERE n:Encounter
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy) WHERE s.referringPhysicianName IS NOT NULL
  RETURN s AS a
}""",
        f"""WITH a, split(a.referringPhysicianName, '^') AS pn
  WITH a, {_clean("pn[0]")} AS family,
       CASE WHEN size(pn) > 1 THEN {_clean("pn[1]")} ELSE '' END AS given
  CALL (a) {{
    MATCH (a)<-[:HAS_IMAGING_STUDY]-(:Patient)-[:HAS_ENCOUNTER]->(:Encounter)
          -[:HAS_PARTICIPANT]->(pr:Practitioner)
    RETURN pr
    UNION
    MATCH (a)-[:PERFORMED_AT]->(:Organization)<-[:ROLE_AT]-(:PractitionerRole)
          -[:ROLE_OF]->(pr:Practitioner)
    RETURN pr
  }}
  WITH pr AS b, family, given
  WHERE {_clean("b.familyName")} = family
    AND (given = '' OR {_clean("head(b.givenNames)")} = given)""",
        "REFERRED_BY",
        '\'{"matched": "ReferringPhysicianName = the only practitioner of that '
        "name connected to the patient or the institution\"}'",
    ),
    "a DICOM ReferringPhysicianName equal to exactly one practitioner connected to the same "
    "patient or organization",
    frozenset({"ImagingStudy", "Practitioner", "Encounter"}),
    "REFERRED_BY",
)

# An 835 payment whose payee has no NPI names its claim only by CLP01 (= CLM01) and its payer:
# it is written unmatched, and linked here when exactly one claim of that payer has the number.
REMITTANCE_CONTROL_NUMBER = Rule(
    "remittance-control-number",
    _one_target(
        """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:Remittance OR n:Claim
CALL (n) {
  WITH n WHERE n:Remittance AND n.controlNumber IS NOT NULL
  RETURN n AS a
  UNION
  WITH n WHERE n:Claim AND n.controlNumber IS NOT NULL
  MATCH (r:Remittance {controlNumber: n.controlNumber})
  WHERE NOT (r)-[:REMITS]->()
  RETURN r AS a
}""",
        """MATCH (a)-[:PAID_BY]->(payer:Payer)
  MATCH (b:Claim {controlNumber: a.controlNumber})-[:HAS_PAYER]->(payer)""",
        "REMITS",
        '\'{"matched": "Remittance.controlNumber = Claim.controlNumber", "scope": "same payer"}\'',
    ),
    "an 835 CLP01 equal to the claim's CLM01, paid by the claim's payer (for payments whose "
    "payee names no NPI)",
    frozenset({"Remittance", "Claim"}),
    "REMITS",
)

RULES: tuple[Rule, ...] = (
    CLAIM_VISIT_NUMBER,
    SAME_PATIENT_SAME_DAY,
    IMAGING_ACCESSION_ORDER,
    IMAGING_DURING_ENCOUNTER,
    APPOINTMENT_DURING_ENCOUNTER,
    DICOM_REFERRER,
    REMITTANCE_CONTROL_NUMBER,
)


@dataclass(slots=True)
class Linked:
    """What the rules did for one batch: links made, and nodes left unlinked because several
    targets qualified, per rule."""

    made: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, int] = field(default_factory=dict)


def apply_rules(
    tx: ManagedTransaction,
    keys_by_label: dict[str, list[str]],
    run_id: str,
    enabled: frozenset[str] | None = None,
) -> Linked:
    """Run the linking rules for the nodes a batch wrote.

    A rule runs only when the batch wrote a node of a label that can make it fire, and only
    for those nodes.
    """
    out = Linked()
    for rule in RULES:
        if enabled is not None and rule.name not in enabled:
            continue
        keys = sorted({k for label in rule.triggers for k in keys_by_label.get(label, [])})
        if not keys:
            continue
        record = tx.run(rule.cypher, keys=keys, run=run_id, rule=rule.name).single()
        made = int(record["made"] or 0) if record else 0
        ambiguous = int(record["ambiguous"] or 0) if record else 0
        if made:
            out.made[rule.name] = made
        if ambiguous:
            out.ambiguous[rule.name] = ambiguous
    return out
