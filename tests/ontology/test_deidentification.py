"""The de-identification profile: it classifies every property the ontology declares."""

from __future__ import annotations

from pathlib import Path

import pytest

from caregraph.ontology.deidentification import PROFILE_FILE, ProfileError, load_profile
from caregraph.ontology.model import load_ontology


def test_every_datatype_property_of_every_class_is_classified() -> None:
    onto = load_ontology()
    profile = load_profile(onto)
    missing = []
    for cls in onto.classes.values():
        labels = onto.labels_for(cls.iri)
        ancestors = set(onto.superclasses(cls.iri))
        for prop in onto.datatype_properties.values():
            applies = not prop.domain or bool(ancestors & set(prop.domain))
            if applies and profile.node_action(labels, prop.name) is None:
                missing.append(f"{cls.name}.{prop.name}")
    assert missing == [], f"classify these in {PROFILE_FILE.name}: {missing}"


def test_the_default_is_safe_harbor_without_the_audit_or_api_keys() -> None:
    profile = load_profile(load_ontology())
    assert profile.name == "hipaa-safe-harbor" and profile.oldest_age == 89
    assert {"AuditEvent", "AuditHead", "ApiKey"} <= profile.skip
    assert "036" in profile.restricted_zip3
    patient = ["Entity", "Patient", "Agent", "Person"]
    assert profile.node_action(patient, "nameText") == "remove"
    assert profile.node_action(patient, "key") == "pseudonymise"
    practitioner = ["Entity", "Practitioner", "Agent", "Person"]
    assert profile.node_action(practitioner, "nameText") == "keep"


def test_an_unknown_action_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "profile.toml"
    bad.write_text('[nodes.Patient]\nnameText = "blur"\n')
    with pytest.raises(ProfileError, match=r"Patient\.nameText = 'blur'"):
        load_profile(load_ontology(), bad)
