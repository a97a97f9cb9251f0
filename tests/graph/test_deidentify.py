"""The profile's actions on values, as the driver returns them (no Neo4j needed)."""

from __future__ import annotations

import datetime as dt

from neo4j.time import Date, DateTime

from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.pseudonyms import Pseudonyms
from caregraph.ontology.deidentification import load_profile
from caregraph.ontology.model import load_ontology

PATIENT = ["Entity", "Patient", "Agent", "Person"]
SECRET = b"deidentify-test-key-0123456789"


def deid() -> Deidentifier:
    return Deidentifier(
        load_profile(load_ontology()), Pseudonyms(SECRET), today=dt.date(2026, 6, 1)
    )


def test_a_patient_keeps_no_name_address_or_exact_date() -> None:
    d = deid()
    out = d.node(
        PATIENT,
        {
            "key": "http://hospital/mrn|MRN-1",
            "nameText": "Ada Hart", "familyName": "Hart", "givenNames": ["Ada"],
            "addressLine": ["1 Main St"], "city": "Springfield", "phone": "555-0100",
            "postalCode": "62704", "state": "IL", "gender": "female",
            "birthDate": Date(1980, 7, 14), "matchKey": "abc", "display": "Hart, Ada",
        },
    )  # fmt: skip
    assert out == {
        "key": Pseudonyms(SECRET)("http://hospital/mrn|MRN-1"),
        "postalCode": "627",
        "state": "IL",
        "gender": "female",
        "birthDate": Date(1980, 1, 1),
        "birthDatePrecision": "year",
    }
    assert d.unclassified == {}


def test_restricted_zip_areas_and_ages_over_89() -> None:
    d = deid()
    out = d.node(PATIENT, {"postalCode": "03601-1234", "birthDate": Date(1920, 3, 3)})
    assert out["postalCode"] == "000"  # 036: 20,000 people or fewer
    assert out["birthDate"] == Date(2026 - 90, 1, 1)  # "90 or older", one year for all
    young = d.node(PATIENT, {"birthDate": Date(2026 - 89, 12, 31), "postalCode": "K1A 0B1"})
    assert young["birthDate"] == Date(2026 - 89, 1, 1)
    assert "postalCode" not in young  # not a US ZIP code: nothing of it is safe to show


def test_event_times_keep_their_type_and_zone_and_say_year() -> None:
    d = deid()
    zone = dt.timezone(dt.timedelta(hours=-5))
    out = d.node(
        ["Entity", "Encounter", "ClinicalEvent", "Event"],
        {"start": DateTime(2024, 3, 5, 10, 30, tzinfo=zone), "startPrecision": "minute",
         "visitNumber": "V123", "description": "chest pain after a fall", "status": "finished"},
    )  # fmt: skip
    assert out["start"] == DateTime(2024, 1, 1, tzinfo=zone)
    assert out["startPrecision"] == "year"
    assert out["visitNumber"] == Pseudonyms(SECRET)("V123")
    assert "description" not in out and out["status"] == "finished"


def test_the_directory_is_kept_and_an_unknown_property_is_left_out_and_named() -> None:
    d = deid()
    npi = {"key": "http://hl7.org/fhir/sid/us-npi|1234567893", "nameText": "Dr. Lee"}
    assert d.node(["Entity", "Practitioner", "Agent", "Person"], npi) == npi
    out = d.node(["Entity", "Encounter", "ClinicalEvent", "Event"], {"newNote": "free text"})
    assert out == {}
    assert d.unclassified == {("Encounter", "newNote"): 1}
    rel = d.relationship("FOR_ENCOUNTER", {"sources": ["s1"], "evidence": "{}", "rule": "r"})
    assert rel == {"sources": [Pseudonyms(SECRET)("s1")], "rule": "r"}
