"""The graph's integrity rules, counted: what identity and linking must never produce.

- no node carries two classes the ontology does not relate (a PractitionerRole is never also
  a Practitioner; a Location never also an Organization);
- no relationship joins a node to itself;
- no encounter, appointment, imaging study, claim, condition or procedure belongs to more than
  one patient;
- no claim or study is linked to more than one encounter by a linking rule.

``check`` counts each; a count above zero is a defect of caregraph, not of the input (the
tests and ``make fidelity`` assert every count is zero). The labels and relationship types
come from the ontology and are backquoted; nothing else enters the query text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

from neo4j import Driver
from rdflib import URIRef

from caregraph.graph.names import quoted
from caregraph.ontology.model import Ontology
from caregraph.ontology.vocab import CG

# (event class, the Patient's relationship to it): one patient each
ONE_PATIENT = (
    (CG.Encounter, CG.hasEncounter),
    (CG.Appointment, CG.hasAppointment),
    (CG.ImagingStudy, CG.hasImagingStudy),
    (CG.Claim, CG.hasClaim),
    (CG.Condition, CG.hasCondition),
    (CG.Procedure, CG.hasProcedure),
)
# (class, relationship to an encounter): one encounter each
ONE_ENCOUNTER = (
    (CG.Claim, CG.forEncounter),
    (CG.ImagingStudy, CG.forEncounter),
    (CG.Appointment, CG.forEncounter),
)


@dataclass(slots=True)
class IntegrityReport:
    """What ``check`` found: zero everywhere in a sound graph."""

    unrelated_classes: dict[str, int] = field(default_factory=dict)  # "A+B" -> nodes
    self_loops: dict[str, int] = field(default_factory=dict)  # relationship type -> count
    several_patients: dict[str, int] = field(default_factory=dict)  # label -> nodes
    several_encounters: dict[str, int] = field(default_factory=dict)  # label -> nodes

    @property
    def sound(self) -> bool:
        return not any(
            (self.unrelated_classes, self.self_loops, self.several_patients,
             self.several_encounters)
        )  # fmt: skip

    def as_counts(self) -> dict[str, int]:
        """One number per rule, for tables."""
        return {
            "nodes of unrelated classes": sum(self.unrelated_classes.values()),
            "self-loops": sum(self.self_loops.values()),
            "events of several patients": sum(self.several_patients.values()),
            "linked to several encounters": sum(self.several_encounters.values()),
        }


def unrelated(onto: Ontology, labels: list[str]) -> list[tuple[str, str]]:
    """Pairs of the ontology's classes among ``labels`` that neither subsumes."""
    by_name = {c.name: iri for iri, c in onto.classes.items()}
    classes = [by_name[label] for label in labels if label in by_name]
    out = []
    for a, b in combinations(classes, 2):
        if b not in onto.superclasses(a) and a not in onto.superclasses(b):
            out.append(tuple(sorted((onto.classes[a].name, onto.classes[b].name))))
    return out  # type: ignore[return-value]  # pairs of two names, sorted


def check(driver: Driver, database: str, onto: Ontology) -> IntegrityReport:
    """Count every breach of the rules above in the graph as it is now."""
    out = IntegrityReport()
    records, _, _ = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS labels, count(*) AS n", database_=database
    )
    for rec in records:
        for a, b in unrelated(onto, rec["labels"]):
            name = f"{a}+{b}"
            out.unrelated_classes[name] = out.unrelated_classes.get(name, 0) + rec["n"]
    records, _, _ = driver.execute_query(
        "MATCH (n)-[r]->(n) RETURN type(r) AS type, count(*) AS n", database_=database
    )
    out.self_loops = {rec["type"]: rec["n"] for rec in records}
    out.several_patients = _several(driver, database, onto, ONE_PATIENT, CG.Patient, True)
    out.several_encounters = _several(driver, database, onto, ONE_ENCOUNTER, CG.Encounter, False)
    return out


def _several(
    driver: Driver,
    database: str,
    onto: Ontology,
    pairs: tuple[tuple[URIRef, URIRef], ...],
    other: URIRef,
    incoming: bool,
) -> dict[str, int]:
    found: dict[str, int] = {}
    for cls, rel in pairs:
        label = quoted(onto.classes[cls].name)
        rtype = quoted(onto.relationship_type(rel))
        olabel = quoted(onto.classes[other].name)
        pattern = f"(n)<-[:{rtype}]-(o:{olabel})" if incoming else f"(n)-[:{rtype}]->(o:{olabel})"
        query = (
            f"MATCH (n:{label}) WITH n, COUNT {{ MATCH {pattern} RETURN DISTINCT o }} AS k "
            "WHERE k > 1 RETURN count(n) AS n"
        )
        records, _, _ = driver.execute_query(query, database_=database)
        if records[0]["n"]:
            found[onto.classes[cls].name] = records[0]["n"]
    return found


def wipe(driver: Driver, database: str) -> None:
    """Delete every node and relationship (schema kept). For test and fidelity graphs only."""
    with driver.session(database=database) as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()
