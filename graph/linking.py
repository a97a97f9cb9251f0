"""Cypher of the linking rules: which claim, image and appointment belong to which visit.

Each rule is one statement anchored on the keys of the nodes a batch just wrote, working in
both directions (a claim that arrives finds its encounter; an encounter that arrives finds
the claims waiting for it), so arrival order does not matter and the cost per record is
bounded by one patient's records, not by the size of the graph. A rule links only when
exactly one candidate qualifies; every link it makes carries the rule's name, its evidence
and the batch's load run.
"""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import ManagedTransaction


@dataclass(frozen=True)
class Rule:
    name: str
    cypher: str
    describes: str
    triggers: frozenset[str]  # labels of the written nodes that can make the rule fire


# Each statement receives $keys (node keys written by the batch) and $run (the load run),
# and returns one row per link made.
_LINK_TAIL = """
WITH DISTINCT a, b
MERGE (a)-[x:{rel}]->(b)
ON CREATE SET x.rule = $rule, x.evidence = {evidence}, x.runId = $run, x.sources = []
RETURN count(x) AS made
"""

CLAIM_VISIT_NUMBER = Rule(
    "claim-visit-number",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:Claim OR n:Encounter
CALL (n) {
  WITH n WHERE n:Claim AND n.controlNumber IS NOT NULL
  MATCH (p:Patient)-[:HAS_CLAIM]->(n)
  MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter {visitNumber: n.controlNumber})
  RETURN n AS a, e AS b
  UNION
  WITH n WHERE n:Encounter AND n.visitNumber IS NOT NULL
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_CLAIM]->(c:Claim {controlNumber: n.visitNumber})
  RETURN c AS a, n AS b
}
WITH a, b WHERE NOT (a)-[:FOR_ENCOUNTER]->(:Encounter)
"""
    + _LINK_TAIL.format(
        rel="FOR_ENCOUNTER",
        evidence='\'{"matched": "Claim.controlNumber = Encounter.visitNumber", '
        '"scope": "same patient"}\'',
    ),
    "an X12 CLM01 (patient control number) equal to the encounter's visit number",
    frozenset({"Claim", "Encounter"}),
)

SAME_PATIENT_SAME_DAY = Rule(
    "same-patient-same-day",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:Claim OR n:Encounter
CALL (n) {
  WITH n WHERE n:Claim AND n.serviceStart IS NOT NULL
  MATCH (p:Patient)-[:HAS_CLAIM]->(n)
  MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)-[:HAS_PARTICIPANT]->(pr:Practitioner)
        <-[:HAS_PROVIDER]-(n)
  WHERE date(n.serviceStart) >= date(e.start)
    AND date(n.serviceStart) <= date(coalesce(e.end, e.start))
  RETURN n AS a, e AS b
  UNION
  WITH n WHERE n:Encounter AND n.start IS NOT NULL
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)-[:HAS_PARTICIPANT]->(pr:Practitioner)
        <-[:HAS_PROVIDER]-(c:Claim)<-[:HAS_CLAIM]-(p)
  WHERE c.serviceStart IS NOT NULL
    AND date(c.serviceStart) >= date(n.start)
    AND date(c.serviceStart) <= date(coalesce(n.end, n.start))
  RETURN c AS a, n AS b
}
WITH DISTINCT a, b WHERE NOT (a)-[:FOR_ENCOUNTER]->(:Encounter)
// only when exactly one encounter qualifies for the claim
CALL (a) {
  MATCH (p:Patient)-[:HAS_CLAIM]->(a)
  MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)-[:HAS_PARTICIPANT]->(:Practitioner)<-[:HAS_PROVIDER]-(a)
  WHERE date(a.serviceStart) >= date(e.start)
    AND date(a.serviceStart) <= date(coalesce(e.end, e.start))
  RETURN count(DISTINCT e) AS candidates
}
WITH a, b WHERE candidates = 1
"""
    + _LINK_TAIL.format(
        rel="FOR_ENCOUNTER",
        evidence='\'{"matched": ["same patient", "service date within the encounter", '
        '"shared practitioner"]}\'',
    ),
    "the same patient, a service date within the encounter's period and a shared practitioner",
    frozenset({"Claim", "Encounter"}),
)

IMAGING_ACCESSION_ORDER = Rule(
    "accession-order",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:ImagingStudy OR n:ServiceRequest
CALL (n) {
  WITH n WHERE n:ImagingStudy AND n.accessionNumber IS NOT NULL
  MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(n)
  MATCH (p)-[:HAS_SERVICE_REQUEST]->(o:ServiceRequest {accessionNumber: n.accessionNumber})
  WHERE n.accessionIssuer IS NULL OR o.accessionIssuer IS NULL
     OR n.accessionIssuer = o.accessionIssuer
  RETURN n AS s, o
  UNION
  WITH n WHERE n:ServiceRequest AND n.accessionNumber IS NOT NULL
  MATCH (p:Patient)-[:HAS_SERVICE_REQUEST]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy {accessionNumber: n.accessionNumber})
  WHERE s.accessionIssuer IS NULL OR n.accessionIssuer IS NULL
     OR s.accessionIssuer = n.accessionIssuer
  RETURN s, n AS o
}
MERGE (s)-[y:BASED_ON]->(o)
ON CREATE SET y.rule = $rule, y.runId = $run, y.sources = [],
  y.evidence = '{"matched": "accession number and issuer of the order", "scope": "same patient"}'
WITH s, o
MATCH (o)-[:FOR_ENCOUNTER]->(e:Encounter)
WITH s AS a, e AS b WHERE NOT (s)-[:FOR_ENCOUNTER]->(:Encounter)
"""
    + _LINK_TAIL.format(
        rel="FOR_ENCOUNTER",
        evidence='\'{"matched": "accession number of an order of the encounter"}\'',
    ),
    "the accession number of an order that belongs to the encounter",
    frozenset({"ImagingStudy", "ServiceRequest"}),
)

IMAGING_DURING_ENCOUNTER = Rule(
    "same-patient-during-encounter",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:ImagingStudy OR n:Encounter
CALL (n) {
  WITH n WHERE n:ImagingStudy AND n.start IS NOT NULL
  MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(n)
  RETURN n AS a, p
  UNION
  WITH n WHERE n:Encounter AND n.start IS NOT NULL
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy) WHERE s.start IS NOT NULL
  RETURN s AS a, p
}
WITH DISTINCT a, p WHERE NOT (a)-[:FOR_ENCOUNTER]->(:Encounter)
MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)
WHERE e.start <= a.start AND a.start <= coalesce(e.end, e.start + duration({hours: 24}))
WITH a, collect(e) AS es WHERE size(es) = 1
WITH a, es[0] AS b
"""
    + _LINK_TAIL.format(
        rel="FOR_ENCOUNTER",
        evidence='\'{"matched": ["same patient", "study time within the encounter"]}\'',
    ),
    "the same patient and a study time within the encounter's period (timezones respected)",
    frozenset({"ImagingStudy", "Encounter"}),
)

APPOINTMENT_DURING_ENCOUNTER = Rule(
    "same-patient-practitioner-time",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:Appointment OR n:Encounter
CALL (n) {
  WITH n WHERE n:Appointment AND n.start IS NOT NULL
  MATCH (p:Patient)-[:HAS_APPOINTMENT]->(n)
  RETURN n AS a, p
  UNION
  WITH n WHERE n:Encounter AND n.start IS NOT NULL
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_APPOINTMENT]->(ap:Appointment) WHERE ap.start IS NOT NULL
  RETURN ap AS a, p
}
WITH DISTINCT a, p WHERE NOT (a)-[:FOR_ENCOUNTER]->(:Encounter)
MATCH (p)-[:HAS_ENCOUNTER]->(e:Encounter)-[:HAS_PARTICIPANT]->(:Practitioner)
      <-[:HAS_PARTICIPANT]-(a)
WHERE e.start <= a.start AND a.start <= coalesce(e.end, e.start + duration({hours: 24}))
WITH a, collect(DISTINCT e) AS es WHERE size(es) = 1
WITH a, es[0] AS b
"""
    + _LINK_TAIL.format(
        rel="FOR_ENCOUNTER",
        evidence='\'{"matched": ["same patient", "shared practitioner", '
        '"appointment start within the encounter"]}\'',
    ),
    "the same patient, a shared practitioner and an appointment start within the encounter",
    frozenset({"Appointment", "Encounter"}),
)

DICOM_REFERRER = Rule(
    "referrer-name-unique",
    """
UNWIND $keys AS k
MATCH (n:Entity {key: k}) WHERE n:ImagingStudy OR n:Practitioner OR n:Encounter
CALL (n) {
  WITH n WHERE n:ImagingStudy AND n.referringPhysicianName IS NOT NULL
  RETURN n AS s
  UNION
  WITH n WHERE n:Encounter
  MATCH (p:Patient)-[:HAS_ENCOUNTER]->(n)
  MATCH (p)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy) WHERE s.referringPhysicianName IS NOT NULL
  RETURN s
}
WITH DISTINCT s WHERE NOT (s)-[:REFERRED_BY]->(:Practitioner)
WITH s, split(s.referringPhysicianName, '^') AS pn
WITH s, apoc.text.clean(pn[0]) AS family,
     CASE WHEN size(pn) > 1 THEN apoc.text.clean(pn[1]) ELSE null END AS given
CALL (s) {
  MATCH (s)<-[:HAS_IMAGING_STUDY]-(:Patient)-[:HAS_ENCOUNTER]->(:Encounter)
        -[:HAS_PARTICIPANT]->(pr:Practitioner)
  RETURN pr
  UNION
  MATCH (s)-[:PERFORMED_AT]->(:Organization)<-[:ROLE_AT]-(:PractitionerRole)
        -[:ROLE_OF]->(pr:Practitioner)
  RETURN pr
}
WITH s, family, given, pr
WHERE apoc.text.clean(coalesce(pr.familyName, '')) = family
  AND (given IS NULL OR given = '' OR
       apoc.text.clean(coalesce(head(pr.givenNames), '')) = given)
WITH s, collect(DISTINCT pr) AS prs WHERE size(prs) = 1
WITH s AS a, prs[0] AS b
"""
    + _LINK_TAIL.format(
        rel="REFERRED_BY",
        evidence='\'{"matched": "ReferringPhysicianName = the only practitioner of that '
        "name connected to the patient or the institution\"}'",
    ),
    "a DICOM ReferringPhysicianName equal to exactly one practitioner connected to the same "
    "patient or organization",
    frozenset({"ImagingStudy", "Practitioner", "Encounter"}),
)

RULES: tuple[Rule, ...] = (
    CLAIM_VISIT_NUMBER,
    SAME_PATIENT_SAME_DAY,
    IMAGING_ACCESSION_ORDER,
    IMAGING_DURING_ENCOUNTER,
    APPOINTMENT_DURING_ENCOUNTER,
    DICOM_REFERRER,
)


def apply_rules(
    tx: ManagedTransaction,
    keys_by_label: dict[str, list[str]],
    run_id: str,
    enabled: frozenset[str] | None = None,
) -> dict[str, int]:
    """Run the linking rules for the nodes a batch wrote; links made per rule.

    A rule runs only when the batch wrote a node of a label that can make it fire, and only
    for those nodes.
    """
    made: dict[str, int] = {}
    for rule in RULES:
        if enabled is not None and rule.name not in enabled:
            continue
        keys = sorted({k for label in rule.triggers for k in keys_by_label.get(label, [])})
        if not keys:
            continue
        record = tx.run(rule.cypher, keys=keys, run=run_id, rule=rule.name).single()
        count = int(record["made"]) if record else 0
        if count:
            made[rule.name] = count
    return made
