"""Traversals built from the ontology, events over a superclass included (no Neo4j needed)."""

from __future__ import annotations

from caregraph.api import paths
from caregraph.graph.readers import Step
from caregraph.ontology.vocab import CG


def test_a_field_traversal_spells_the_ontologys_types() -> None:
    p = paths.path("Encounter.claims")
    assert p.start == "Encounter" and p.order == "time"
    assert p.chains == ((Step("FOR_ENCOUNTER", False, "Claim"),),)
    assert paths.path("Claim.items").order == "sequence"
    providers = paths.path("Claim.providers")
    assert {c[0].label for c in providers.chains} == {"Practitioner", "Organization"}


def test_events_of_a_superclass_come_from_the_ontology() -> None:
    financial = paths.events(CG.Patient, CG.FinancialEvent)
    assert set(financial.chains) == {
        (Step("HAS_CLAIM", True, "Claim"),),
        # a payment is not the patient's directly: it is found through the claim it pays
        (Step("HAS_CLAIM", True, "Claim"), Step("REMITS", False, "Remittance")),
    }
    assert financial.distinct  # a payment of two of the patient's claims is one event
    clinical = paths.events(CG.Patient, CG.ClinicalEvent)
    assert {c[-1].label for c in clinical.chains} == {
        "Encounter", "ImagingStudy", "ServiceRequest", "Condition", "Procedure",
    }  # fmt: skip
    for_doctor = paths.events(CG.Practitioner, CG.Event)
    assert (Step("HAS_PARTICIPANT", False, "Encounter"),) in for_doctor.chains
    assert (Step("REFERRED_BY", False, "ImagingStudy"),) in for_doctor.chains


def test_every_declared_traversal_builds() -> None:
    for name in paths.NAMES:
        built = paths.path(name)
        assert built.chains and all(built.chains), name


def test_events_never_pass_through_the_shared_terminology() -> None:
    # a patient's conditions and procedures are its events; an encounter's are the ones in it
    patient = paths.events(CG.Patient, CG.ClinicalEvent)
    assert (Step("HAS_CONDITION", True, "Condition"),) in patient.chains
    assert (Step("HAS_PROCEDURE", True, "Procedure"),) in patient.chains
    encounter = paths.events(CG.Encounter, CG.ClinicalEvent)
    assert (Step("HAS_DIAGNOSIS", True, "Condition"),) in encounter.chains
    # but a code is one Concept for every patient's records: no way of events goes through it
    for start in (CG.Patient, CG.Encounter, CG.Condition, CG.Procedure):
        for chain in paths.events(start, CG.Event).chains:
            assert all(step.label != "Concept" for step in chain), (start, chain)
