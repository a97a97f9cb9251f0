"""The three questions, each asked three ways: caregraph's GraphQL, the peer's GraphQL, Cypher.

This module is the one place that knows the questions' text. caregraph's queries use the field
names of api/schema.graphql; the peer's use the schema that @neo4j/graphql generates from
bench/peer/typedefs.graphql; the Cypher is what an engineer who knows the graph would write by
hand, in one query, returning the same facts (it is the limit, so it is not generated).

- (a) ``patient_lookup``: a patient by an identifier token, with demographics and identifiers.
- (b) ``patient_context``: a patient's events over one year (visits, appointments, studies,
  conditions, procedures, claims, payments), with the neighbours a summary names (who, where,
  which visit, which payer, which code); caregraph answers with ``patientContext``.
- (c) ``practitioner_traversal``: a practitioner's first 20 visits (oldest first), and for each
  visit its claims and imaging studies (at most 20 each): three levels. No amounts of money:
  the service's key has the clinician role, which may read claims but not their amounts.

The benchmark's own Cypher lives here, not in graph/: it is the yardstick, not the product.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from graphql import OperationDefinitionNode, parse
from neo4j import Driver

from caregraph.loaders.generator import ids

PAGE = 20  # visits per practitioner, claims and studies per visit, in (c)
CONTEXT_EVENTS = 267  # what patientContext reads at its default budget (2000 tokens * 4 // 30 + 1)

# -- (a) patient lookup ------------------------------------------------------------------------
PATIENT_LOOKUP_CAREGRAPH = """
query PatientLookup($identifier: String!) {
  patient(identifier: $identifier) {
    key display birthDate gender
    name { family given text }
    address { line city state postalCode }
    identifiers { system value type }
  }
}"""

PATIENT_LOOKUP_PEER = """
query PatientLookup($identifier: String!) {
  identifiers(where: { key: { eq: $identifier } }) {
    patients {
      key nameText familyName givenNames birthDate gender
      addressLine city state postalCode
      identifiers { system value identifierType }
    }
  }
}"""

PATIENT_LOOKUP_CYPHER = """
MATCH (:Identifier {key: $identifier})-[:IDENTIFIES]->(p:Patient)
RETURN p {.key, .display, .nameText, .familyName, .givenNames, .birthDate, .gender,
          .addressLine, .city, .state, .postalCode,
          identifiers: [(i:Identifier)-[:IDENTIFIES]->(p) | i {.system, .value, .identifierType}]
       } AS patient
"""

# -- (b) a patient's year ----------------------------------------------------------------------
PATIENT_CONTEXT_CAREGRAPH = """
query PatientContext($identifier: String!, $from: DateTime!, $to: DateTime!) {
  patientContext(identifier: $identifier, from: $from, to: $to) {
    text totalEvents truncated
  }
}"""

# A payment is an event of the year when it was paid in the year, whatever its claim's service
# date (as caregraph and the Cypher count it), so the peer asks for payments apart from the
# claims served in the year: `paidClaims` are the patient's claims with a payment in the year,
# each with only those payments (the claim is the payment's neighbour, not an event itself).
# A condition's time is its onset, else the date it was recorded (as caregraph reads it).
# What (b) reads, recorded with the results (report.build): runs before these two constants
# read no conditions or procedures, and their peer took payments by the claim's service date.
CONTEXT_KINDS = (
    "visits", "appointments", "studies", "conditions", "procedures", "claims", "payments",
)  # fmt: skip
PEER_CONTEXT_PAYMENTS_BY = "paymentDate"
PATIENT_CONTEXT_PEER = """
query PatientContext($identifier: String!, $from: DateTime!, $to: DateTime!,
                     $fromDate: Date!, $toDate: Date!) {
  identifiers(where: { key: { eq: $identifier } }) {
    patients {
      key nameText birthDate gender
      identifiers { system value }
      encounters(where: { start: { gte: $from, lt: $to } }, sort: [{ start: ASC }]) {
        key start end status encounterClass reasonCode
        practitioners { nameText } organization { name } locations { name }
      }
      appointments(where: { start: { gte: $from, lt: $to } }, sort: [{ start: ASC }]) {
        key start status serviceType
        practitioners { nameText } locations { name } encounter { key }
      }
      imagingStudies(where: { start: { gte: $from, lt: $to } }, sort: [{ start: ASC }]) {
        key start modality description
        encounter { key } referrer { nameText } performedAt { name }
      }
      conditions(where: { OR: [{ onset: { gte: $from, lt: $to } },
                               { onset: { eq: null }, recordedDate: { gte: $from, lt: $to } }] }) {
        key onset recordedDate clinicalStatus verificationStatus display code { display }
      }
      procedures(where: { start: { gte: $from, lt: $to } }, sort: [{ start: ASC }]) {
        key start status display code { display } reason { display }
      }
      claims(where: { serviceStart: { gte: $fromDate, lt: $toDate } },
             sort: [{ serviceStart: ASC }]) {
        key controlNumber serviceStart totalCharge status
        encounter { key } payer { name }
      }
      paidClaims: claims(where: { remittances: { some: {
                           paymentDate: { gte: $fromDate, lt: $toDate } } } }) {
        key controlNumber
        remittances(where: { paymentDate: { gte: $fromDate, lt: $toDate } },
                    sort: [{ paymentDate: ASC }]) {
          key paymentDate paymentAmount claimStatusCode payer { name }
        }
      }
    }
  }
}"""

PATIENT_CONTEXT_CYPHER = """
MATCH (:Identifier {key: $identifier})-[:IDENTIFIES]->(p:Patient)
CALL (p) {
  CALL (p) {
    MATCH (p)-[:HAS_ENCOUNTER|HAS_APPOINTMENT|HAS_IMAGING_STUDY|HAS_CONDITION|HAS_PROCEDURE|
               HAS_CLAIM|HAS_SERVICE_REQUEST]->(e)
    RETURN e
    UNION
    MATCH (p)-[:HAS_CLAIM]->(:Claim)<-[:REMITS]-(e:Remittance)
    RETURN e
  }
  WITH e, CASE WHEN e.start IS NOT NULL THEN e.start
               WHEN e.paymentDate IS NOT NULL THEN datetime({date: e.paymentDate})
               WHEN e.serviceStart IS NOT NULL THEN datetime({date: e.serviceStart})
               WHEN e.onset IS NOT NULL THEN e.onset
               WHEN e.recordedDate IS NOT NULL THEN e.recordedDate END AS t
  WHERE t >= $from AND t < $to
  WITH e, t ORDER BY t, e.key LIMIT $limit
  CALL (e) {
    OPTIONAL MATCH (e)-[x:HAS_PARTICIPANT|SERVICE_PROVIDER|AT_LOCATION|FOR_ENCOUNTER|REFERRED_BY|
                         PERFORMED_AT|HAS_PAYER|REMITS|PAID_BY|HAS_REASON|HAS_CODE]-(m)
    RETURN collect(m {.key, .display, type: type(x), role: x.role, rule: x.rule}) AS near
  }
  RETURN collect(e {.*, labels: labels(e), time: t, near: near}) AS events
}
RETURN p {.key, .display, .birthDate, .gender,
          identifiers: [(i:Identifier)-[:IDENTIFIES]->(p) | i.key]} AS patient,
       events
"""

# -- (c) practitioner -> visits -> claims and studies ----------------------------------------
PRACTITIONER_TRAVERSAL_CAREGRAPH = """
query PractitionerWork($npi: String!, $first: Int!) {
  practitioner(npi: $npi) {
    key display
    encounters(first: $first) { edges { node {
      key start encounterClass
      claims(first: $first) {
        edges { node { controlNumber serviceStart status claimType } }
      }
      imagingStudies(first: $first) {
        edges { node { studyInstanceUid start modality description } }
      }
    } } }
  }
}"""

PRACTITIONER_TRAVERSAL_PEER = """
query PractitionerWork($npi: String!, $first: Int!) {
  practitioners(where: { npi: { eq: $npi } }) {
    key nameText
    encounters(sort: [{ start: ASC }], limit: $first) {
      key start encounterClass
      claims(sort: [{ serviceStart: ASC }], limit: $first) {
        controlNumber serviceStart status claimType
      }
      imagingStudies(sort: [{ start: ASC }], limit: $first) {
        studyInstanceUid start modality description
      }
    }
  }
}"""

PRACTITIONER_TRAVERSAL_CYPHER = """
MATCH (pr:Practitioner {npi: $npi})
CALL (pr) {
  MATCH (pr)<-[:HAS_PARTICIPANT]-(e:Encounter)
  WITH DISTINCT e ORDER BY e.start, e.key LIMIT $first
  CALL (e) {
    OPTIONAL MATCH (e)<-[:FOR_ENCOUNTER]-(c:Claim)
    WITH c ORDER BY c.serviceStart, c.key LIMIT $first
    RETURN collect(c {.controlNumber, .serviceStart, .status, .claimType}) AS claims
  }
  CALL (e) {
    OPTIONAL MATCH (e)<-[:FOR_ENCOUNTER]-(s:ImagingStudy)
    WITH s ORDER BY s.start, s.key LIMIT $first
    RETURN collect(s {.studyInstanceUid, .start, .modality, .description}) AS studies
  }
  RETURN collect(e {.key, .start, .encounterClass, claims: claims, studies: studies}) AS encounters
}
RETURN pr {.key, .display} AS practitioner, encounters
"""


# -- samples -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sample:
    """The arguments the questions cycle through, the same for every system."""

    patients: tuple[str, ...]  # MRN tokens, system|value
    npis: tuple[str, ...]  # practitioners with at least one visit
    window: tuple[datetime, datetime]  # (b)'s year
    visits: tuple[str, ...] = ()  # visit number tokens, system|value (the README's encounter)


def sample(driver: Driver, database: str, as_of: date, n: int = 100, seed: int = 0) -> Sample:
    """Up to ``n`` patients and practitioners spread over the graph, in a seeded order."""
    records, _, _ = driver.execute_query(
        "MATCH (i:Identifier {system: $mrn})-[:IDENTIFIES]->(p:Patient) WHERE p.stub IS NULL "
        "RETURN DISTINCT i.key AS token ORDER BY token",
        mrn=ids.MRN_SYSTEM,
        database_=database,
    )
    patients = _spread([r["token"] for r in records], n, seed)
    records, _, _ = driver.execute_query(
        "MATCH (pr:Practitioner)<-[:HAS_PARTICIPANT]-(:Encounter) WHERE pr.npi IS NOT NULL "
        "RETURN DISTINCT pr.npi AS npi ORDER BY npi",
        database_=database,
    )
    npis = _spread([r["npi"] for r in records], n, seed)
    if not patients or not npis:
        raise RuntimeError("the graph has no patients or practitioners with visits to ask about")
    records, _, _ = driver.execute_query(
        "MATCH (i:Identifier {system: $visit})-[:IDENTIFIES]->(:Encounter) "
        "RETURN DISTINCT i.key AS token ORDER BY token",
        visit=ids.VISIT_SYSTEM,
        database_=database,
    )
    visits = _spread([r["token"] for r in records], n, seed)
    end = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    return Sample(patients, npis, (end - timedelta(days=365), end), visits)


def _spread(values: list[str], n: int, seed: int) -> tuple[str, ...]:
    """Every k-th value, so the sample spans the whole range, then shuffled with the seed."""
    step = max(1, len(values) // n)
    picked = values[::step][:n]
    random.Random(seed).shuffle(picked)  # noqa: S311 - an order for a benchmark, not a secret
    return tuple(picked)


# -- the questions -----------------------------------------------------------------------------
Variables = Callable[[int], dict[str, Any]]


@dataclass(frozen=True)
class Asked:
    """One question bound to a sample: its text and i-th arguments for each system."""

    name: str
    title: str
    caregraph: tuple[str, Variables]
    peer: tuple[str, Variables]
    cypher: tuple[str, Variables]
    # how many items an answer holds, to check that the three systems agree
    count_caregraph: Callable[[Any], int]
    count_peer: Callable[[Any], int]
    count_cypher: Callable[[Any], int]


def questions(s: Sample) -> list[Asked]:
    """(a), (b) and (c) bound to the sample."""
    start, end = s.window

    def patient(i: int) -> str:
        return s.patients[i % len(s.patients)]

    def npi(i: int) -> str:
        return s.npis[i % len(s.npis)]

    def iso(t: datetime) -> str:
        return t.isoformat().replace("+00:00", "Z")

    return [
        Asked(
            name="patient_lookup",
            title="(a) patient lookup",
            caregraph=(PATIENT_LOOKUP_CAREGRAPH, lambda i: {"identifier": patient(i)}),
            peer=(PATIENT_LOOKUP_PEER, lambda i: {"identifier": patient(i)}),
            cypher=(PATIENT_LOOKUP_CYPHER, lambda i: {"identifier": patient(i)}),
            count_caregraph=lambda d: len(d["patient"]["identifiers"]) if d["patient"] else 0,
            count_peer=lambda d: sum(
                len(p["identifiers"]) for i in d["identifiers"] for p in i["patients"]
            ),
            count_cypher=lambda rs: sum(len(r["patient"]["identifiers"]) for r in rs),
        ),
        Asked(
            name="patient_context",
            title="(b) patientContext over a year",
            caregraph=(
                PATIENT_CONTEXT_CAREGRAPH,
                lambda i: {"identifier": patient(i), "from": iso(start), "to": iso(end)},
            ),
            peer=(
                PATIENT_CONTEXT_PEER,
                lambda i: {
                    "identifier": patient(i),
                    "from": iso(start),
                    "to": iso(end),
                    "fromDate": start.date().isoformat(),
                    "toDate": end.date().isoformat(),
                },
            ),
            cypher=(
                PATIENT_CONTEXT_CYPHER,
                lambda i: {
                    "identifier": patient(i),
                    "from": start,
                    "to": end,
                    "limit": CONTEXT_EVENTS,
                },
            ),
            count_caregraph=lambda d: int(d["patientContext"]["totalEvents"]),
            count_peer=_peer_context_events,
            count_cypher=lambda rs: sum(len(r["events"]) for r in rs),
        ),
        Asked(
            name="practitioner_traversal",
            title="(c) practitioner → visits → claims and studies",
            caregraph=(
                PRACTITIONER_TRAVERSAL_CAREGRAPH,
                lambda i: {"npi": npi(i), "first": PAGE},
            ),
            peer=(PRACTITIONER_TRAVERSAL_PEER, lambda i: {"npi": npi(i), "first": PAGE}),
            cypher=(PRACTITIONER_TRAVERSAL_CYPHER, lambda i: {"npi": npi(i), "first": PAGE}),
            count_caregraph=_caregraph_traversal_items,
            count_peer=_peer_traversal_items,
            count_cypher=lambda rs: sum(
                1 + len(e["claims"]) + len(e["studies"]) for r in rs for e in r["encounters"]
            ),
        ),
    ]


def _peer_context_events(d: Any) -> int:
    total = 0
    for ident in d["identifiers"]:
        for p in ident["patients"]:
            total += len(p["encounters"]) + len(p["appointments"]) + len(p["imagingStudies"])
            total += len(p["conditions"]) + len(p["procedures"])
            total += len(p["claims"]) + sum(len(c["remittances"]) for c in p["paidClaims"])
    return total


def _caregraph_traversal_items(d: Any) -> int:
    pr = d["practitioner"]
    if not pr:
        return 0
    return sum(
        1 + len(e["node"]["claims"]["edges"]) + len(e["node"]["imagingStudies"]["edges"])
        for e in pr["encounters"]["edges"]
    )


def _peer_traversal_items(d: Any) -> int:
    return sum(
        1 + len(e["claims"]) + len(e["imagingStudies"])
        for pr in d["practitioners"]
        for e in pr["encounters"]
    )


# -- the README's examples ---------------------------------------------------------------------
README = Path(__file__).resolve().parents[1] / "README.md"
# the arguments of the README's examples that name a patient, a visit, a clinician or a time
_ARGUMENT = re.compile(r'\b(identifier|npi|from|to)(\s*:\s*)"[^"]*"')
_IDENTIFIES = {"patient": "patients", "patientContext": "patients", "encounter": "visits"}


def readme_examples(readme: Path = README) -> list[str]:
    """The README's GraphQL examples, one query each, without their comment lines."""
    blocks = re.findall(r"```graphql\n(.*?)```", readme.read_text(), re.S)
    examples = [
        "\n".join(ln for ln in query.splitlines() if not ln.startswith("#")).strip()
        for block in blocks
        for query in re.split(r"\n(?=# )", block.strip())
    ]
    return [e for e in examples if e]


def root_fields(query: str) -> list[str]:
    """The root fields a query selects, in order."""
    names: list[str] = []
    for definition in parse(query).definitions:
        if isinstance(definition, OperationDefinitionNode):
            names += [
                f.name.value for f in definition.selection_set.selections if hasattr(f, "name")
            ]
    return names


def readme_bound(example: str, s: Sample) -> Callable[[int], str]:
    """The example's i-th text: the demo's patient, visit, clinician and dates it names
    replaced by the sample's i-th (as literals, the way a user pastes an example), so that
    the README's questions are asked of many patients, not one."""
    roots = root_fields(example)
    identifies = _IDENTIFIES.get(roots[0], "") if roots else ""
    start, end = s.window
    iso = {"from": start, "to": end}

    def text(i: int) -> str:
        def value(found: re.Match[str]) -> str:
            name = found.group(1)
            pool: tuple[str, ...] = ()
            if name == "identifier":
                pool = getattr(s, identifies, ()) if identifies else ()
            elif name == "npi":
                pool = s.npis
            else:
                pool = (iso[name].isoformat().replace("+00:00", "Z"),)
            if not pool:  # nothing to vary it with: the README's own value
                return found.group(0)
            return f"{name}{found.group(2)}{json.dumps(pool[i % len(pool)])}"

        return _ARGUMENT.sub(value, example)

    return text
