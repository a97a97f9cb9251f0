"""A cardiology patient written as one FHIR bundle, with the circulatory chapter of the
ICD-10-CM release loaded beside it: what the diagnosis, procedure and concept tests read.

Who is in it: patient CL-1, admitted 2024-03-01 (visit V-77, reason I21.4 sent undotted under
the ICD-10-CM OID) with an NSTEMI (condition c1, the visit's admission diagnosis, rank 1), a
percutaneous coronary intervention the next day (procedure pr1, SNOMED CT, rank 2, for the
NSTEMI); and an older hypertension (condition c2, I10, onset 2019, no visit), and a condition
coded with a code the release does not have (c3, I21.X9).
"""

from __future__ import annotations

import json

import pytest
from neo4j import Driver

from caregraph.graph import schema as graph_schema
from caregraph.graph.settings import Neo4jSettings
from caregraph.loaders import terminology as lt
from caregraph.loaders.concepts import ICD10CM
from caregraph.loaders.pipeline import load
from caregraph.ontology.model import load_ontology
from tests.api.conftest import Gql, make_gql, wipe

MRN = "http://example.org/mrn|CL-1"
ICD_OID = "urn:oid:2.16.840.1.113883.6.90"
SNOMED = "http://snomed.info/sct"


def _condition(cid: str, code: str, onset: str, encounter: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": ICD_OID, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": onset,
    }
    if encounter:
        body["encounter"] = {"reference": "Encounter/e1"}
    return body


def bundle() -> dict[str, object]:
    resources = [
        {
            "resourceType": "Patient",
            "id": "p1",
            "identifier": [{"system": "http://example.org/mrn", "value": "CL-1"}],
            "name": [{"family": "Hart", "given": ["Clara"]}],
            "birthDate": "1950-02-03",
        },
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "IMP"},
            "identifier": [{"system": "http://example.org/visit", "value": "V-77"}],
            "subject": {"reference": "Patient/p1"},
            "period": {"start": "2024-03-01T08:00:00Z", "end": "2024-03-04T12:00:00Z"},
            "reasonCode": [{"coding": [{"system": ICD_OID, "code": "I214"}]}],
            "diagnosis": [
                {
                    "condition": {"reference": "Condition/c1"},
                    "use": {"coding": [{"code": "AD"}]},
                    "rank": 1,
                },
                {"condition": {"reference": "Procedure/pr1"}, "rank": 2},
            ],
        },
        _condition("c1", "I21.4", "2024-03-01T07:30:00Z", encounter=True),
        _condition("c2", "I10", "2019-06-01", encounter=False),
        _condition("c3", "I21.X9", "2024-03-01T09:00:00Z", encounter=True),
        {
            "resourceType": "Procedure",
            "id": "pr1",
            "status": "completed",
            "code": {
                "coding": [
                    {
                        "system": SNOMED,
                        "code": "415070008",
                        "display": "Percutaneous coronary intervention",
                    }
                ]
            },
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "performedDateTime": "2024-03-02T10:00:00Z",
            "reasonCode": [{"coding": [{"system": ICD_OID, "code": "I21.4"}]}],
        },
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def circulatory() -> lt.Release:
    """ICD-10-CM's chapter 9 (I00-I99) and everything under it, from the shipped release."""
    release = lt.icd10cm()
    parents = {e.key: e.parents for e in release.entries}
    top = f"{ICD10CM}|9"

    def under(key: str) -> bool:
        while key:
            if key == top:
                return True
            key = next(iter(parents.get(key, ())), "")
        return False

    kept = [e for e in release.entries if under(e.key)]
    return lt.Release(release.uri, release.name, release.version, release.release, kept)


@pytest.fixture(scope="package")
def chapter9() -> lt.Release:
    return circulatory()


@pytest.fixture(scope="module")
def cardiology(
    driver: Driver,
    neo4j_conn: Neo4jSettings,
    tmp_path_factory: pytest.TempPathFactory,
    chapter9: lt.Release,
) -> Gql:
    """GraphQL against a graph of only the bundle above and ICD-10-CM chapter 9."""
    database = neo4j_conn.database
    folder = tmp_path_factory.mktemp("cardiology")
    wipe(driver, database)
    graph_schema.apply(driver, database, load_ontology(), force=True)
    path = folder / "cardiology.json"
    path.write_text(json.dumps(bundle()))
    report = load([path], driver=driver, database=database, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    lt.load(driver, database, chapter9, batch_size=2000)
    return make_gql(driver, database)
