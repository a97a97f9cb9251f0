"""The schema an ontology asks for, and its difference from what Neo4j has (no Neo4j needed)."""

from __future__ import annotations

from caregraph.ontology.model import load_ontology
from caregraph.ontology.schema_plan import (
    ConstraintSpec,
    ExistingConstraint,
    ExistingIndex,
    IndexSpec,
    diff_schema,
    plan,
)


def test_plan_has_key_constraints_and_lookup_indexes() -> None:
    want = plan(load_ontology())
    constraints = {c.name for c in want.constraints}
    assert {
        "cg_Entity_key_unique",
        "cg_Patient_key_unique",
        "cg_Practitioner_key_unique",
        "cg_Organization_key_unique",
        "cg_Encounter_key_unique",
        "cg_ImagingStudy_key_unique",
        "cg_Claim_key_unique",
        "cg_Identifier_key_unique",
        "cg_SourceRecord_key_unique",
        "cg_LoadRun_runId_unique",
        "cg_Class_iri_unique",
        "cg_Condition_key_unique",
        "cg_Procedure_key_unique",
        "cg_Concept_key_unique",
        "cg_CodeSystem_key_unique",
    } <= constraints
    assert {(i.name, i.label, i.prop) for i in want.indexes} == {
        ("cg_Patient_matchKey", "Patient", "matchKey"),
        ("cg_Practitioner_npi", "Practitioner", "npi"),
        ("cg_Organization_npi", "Organization", "npi"),
        ("cg_ImagingStudy_studyInstanceUid", "ImagingStudy", "studyInstanceUid"),
        ("cg_ImagingStudy_accessionNumber", "ImagingStudy", "accessionNumber"),
        ("cg_Claim_controlNumber", "Claim", "controlNumber"),
        ("cg_Remittance_controlNumber", "Remittance", "controlNumber"),
        ("cg_Encounter_start", "Encounter", "start"),
        ("cg_Encounter_visitNumber", "Encounter", "visitNumber"),
        ("cg_Appointment_start", "Appointment", "start"),
        ("cg_Identifier_value", "Identifier", "value"),
        # the searches' anchors (graph/search.py)
        ("cg_Patient_familyKey", "Patient", "familyKey"),
        ("cg_Patient_birthDate", "Patient", "birthDate"),
        ("cg_Patient_postalCode", "Patient", "postalCode"),
        ("cg_Practitioner_familyKey", "Practitioner", "familyKey"),
        ("cg_Organization_nameKey", "Organization", "nameKey"),
        ("cg_Location_nameKey", "Location", "nameKey"),
    }
    assert want.superclass_labels["Patient"] == ("Person", "Agent", "Entity")
    assert "Identifier" not in want.superclass_labels
    patient = next(c for c in want.classes if c.name == "Patient")
    assert patient.domain == "directory" and patient.parents == (
        "https://w3id.org/caregraph/ontology#Person",
    )
    assert {"class Patient", "relationship HAS_ENCOUNTER", "property birthDate"} <= want.api_fields


def test_diff_adds_what_is_missing_and_drops_only_its_own() -> None:
    want = plan(load_ontology())
    have_c = [
        ExistingConstraint(c.name, "UNIQUENESS", (c.label,), (c.prop,)) for c in want.constraints
    ]
    have_c.append(ExistingConstraint("cg_Old_key_unique", "UNIQUENESS", ("Old",), ("key",)))
    have_c.append(ExistingConstraint("someone_elses", "UNIQUENESS", ("Thing",), ("id",)))
    have_i = [
        ExistingIndex(i.name, "RANGE", (i.label,), (i.prop,), None)
        for i in want.indexes
        if i.name != "cg_Encounter_start"
    ]
    have_i.append(
        ExistingIndex("cg_Old_key_unique", "RANGE", ("Old",), ("key",), "cg_Old_key_unique")
    )
    have_i.append(ExistingIndex("cg_Stale_prop", "RANGE", ("Stale",), ("prop",), None))
    have_i.append(ExistingIndex("index_1234", "LOOKUP", (), (), None))
    d = diff_schema(want, have_c, have_i)
    assert d.add_constraints == ()
    assert d.drop_constraints == ("cg_Old_key_unique",)
    assert d.add_indexes == (IndexSpec("cg_Encounter_start", "Encounter", "start"),)
    assert d.drop_indexes == ("cg_Stale_prop",)


def test_an_equivalent_constraint_under_another_name_satisfies() -> None:
    want = plan(load_ontology())
    have = [
        ExistingConstraint(
            "theirs" if c.label == "Patient" else c.name, "UNIQUENESS", (c.label,), (c.prop,)
        )
        for c in want.constraints
    ]
    d = diff_schema(want, have, [])
    assert ConstraintSpec("cg_Patient_key_unique", "Patient", "key") not in d.add_constraints
    assert "theirs" not in d.drop_constraints
