"""Codes as Concepts: one key per code of a code system, whatever spelling the source used."""

from __future__ import annotations

import pytest

from caregraph.loaders.concepts import (
    ICD10CM,
    SNOMED,
    Coded,
    canonical_system,
    coded,
    icd10cm_code,
    known_system,
    links,
    split_key,
)
from caregraph.loaders.records import Ref
from caregraph.ontology.vocab import CG


@pytest.mark.parametrize(
    ("system", "code", "key"),
    [
        # the canonical URI as FHIR writes it
        (ICD10CM, "I21.4", f"{ICD10CM}|I21.4"),
        # the OID, an HL7 v2 table 0396 mnemonic, an X12 qualifier: the same system
        ("urn:oid:2.16.840.1.113883.6.90", "I21.4", f"{ICD10CM}|I21.4"),
        ("I10", "I21.4", f"{ICD10CM}|I21.4"),
        ("ABK", "I214", f"{ICD10CM}|I21.4"),
        # X12 HI and HL7 v2 send ICD-10-CM codes without the dot; some in lower case
        (ICD10CM, "I214", f"{ICD10CM}|I21.4"),
        (ICD10CM, " i21.4 ", f"{ICD10CM}|I21.4"),
        (ICD10CM, "S72001A", f"{ICD10CM}|S72.001A"),
        # blocks, chapters and three-character categories are written as they are
        (ICD10CM, "I20-I25", f"{ICD10CM}|I20-I25"),
        (ICD10CM, "9", f"{ICD10CM}|9"),
        (ICD10CM, "I21", f"{ICD10CM}|I21"),
        # Synthea's name for SNOMED CT, in any case
        ("SNOMED-CT", "53741008", f"{SNOMED}|53741008"),
        ("snomed-ct", "53741008", f"{SNOMED}|53741008"),
        # a system the ontology does not know keeps its spelling; its codes are not touched
        ("http://example.org/local", "ab.c", "http://example.org/local|ab.c"),
    ],
)
def test_a_code_is_keyed_under_its_canonical_system(system: str, code: str, key: str) -> None:
    found = coded(system, code)
    assert found is not None and found.key == key
    assert found.ref == Ref(CG.Concept, key)


def test_without_a_system_or_a_code_there_is_no_concept() -> None:
    assert coded("", "I21.4") is None
    assert coded(ICD10CM, " ") is None


def test_systems_the_ontology_knows() -> None:
    assert known_system("http://loinc.org") and known_system("LN") and known_system("CPT")
    assert not known_system("http://example.org/local")
    assert canonical_system("urn:oid:2.16.840.1.113883.6.96") == SNOMED
    assert icd10cm_code("e119") == "E11.9"


def test_a_key_splits_back_and_links_are_made_once() -> None:
    assert split_key(f"{ICD10CM}|I21.4") == Coded(ICD10CM, "I21.4")
    holder = Ref(CG.Condition, "c1")
    a, b = coded(ICD10CM, "I214"), coded("I10", "I21.4")
    assert a is not None and b is not None and a == b
    made = links(CG.hasCode, holder, [a, b])
    assert [(x.rel, x.src, x.dst) for x in made] == [(CG.hasCode, holder, a.ref)]
