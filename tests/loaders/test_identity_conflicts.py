"""Identity never joins two classes, and never gives one event to two patients (issue 14).

Each case is checked the way a user would: the nodes and relationships in Neo4j after the
load, the conflicts the report names (never a value), and graph/integrity.py's counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver, ManagedTransaction, Result

from caregraph.graph import integrity
from caregraph.loaders import registry
from caregraph.loaders.identity import IdentityConfig, Resolution, Resolver
from caregraph.loaders.records import Record
from caregraph.ontology.model import load_ontology
from caregraph.ontology.vocab import CG
from tests.loaders.conftest import Load, count
from tests.loaders.test_dicom import part10

NPI = "http://hl7.org/fhir/sid/us-npi"
X12 = Path(__file__).resolve().parents[1] / "data" / "x12" / "claims.837"


def write(path: Path, *resources: dict[str, object]) -> Path:
    entries = [{"resource": r} for r in resources]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


PRACTITIONER = {
    "resourceType": "Practitioner", "id": "pr1",
    "identifier": [{"system": NPI, "value": "1234567893"}],
    "name": [{"family": "Somerville", "given": ["Mary"]}],
}  # fmt: skip
ROLE = {
    "resourceType": "PractitionerRole", "id": "role1",
    # the role carries its practitioner's NPI, as real directories do
    "identifier": [{"system": NPI, "value": "1234567893"}],
    "practitioner": {"reference": "Practitioner/pr1"},
    "organization": {"reference": "Organization/org1"},
}  # fmt: skip
ORGANIZATION = {
    "resourceType": "Organization", "id": "org1", "name": "Engine Clinic",
    "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.4", "value": "55-555"}],
}  # fmt: skip
LOCATION = {
    "resourceType": "Location", "id": "loc1", "name": "Engine Clinic, 2nd floor",
    # the same identifier as the organization that manages it
    "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.4", "value": "55-555"}],
    "managingOrganization": {"reference": "Organization/org1"},
}  # fmt: skip


def sound(driver: Driver, database: str) -> integrity.IntegrityReport:
    found = integrity.check(driver, database, load_ontology())
    assert found.sound, found
    return found


@pytest.mark.parametrize("order", ["role first", "practitioner first", "one bundle"])
def test_a_role_with_its_practitioners_npi_stays_a_role(
    load: Load, driver: Driver, database: str, tmp_path: Path, order: str
) -> None:
    if order == "one bundle":
        report = load(
            write(tmp_path / "dir.json", PRACTITIONER, ROLE, ORGANIZATION), source="directory"
        )
        assert report.exit_code == 0, report.as_json()["rejects"]
    else:
        first, second = (ROLE, PRACTITIONER) if order == "role first" else (PRACTITIONER, ROLE)
        for i, res in enumerate((first, second, ORGANIZATION)):
            report = load(write(tmp_path / f"{i}.json", res), source="directory")
            assert report.exit_code == 0, report.as_json()["rejects"]
    assert count(driver, database, "MATCH (n:Practitioner) RETURN count(n)") == 1
    assert count(driver, database, "MATCH (n:PractitionerRole) RETURN count(n)") == 1
    assert count(driver, database, "MATCH (n:Practitioner:PractitionerRole) RETURN count(n)") == 0
    assert count(
        driver, database,
        "MATCH (r:PractitionerRole)-[:ROLE_OF]->(p:Practitioner {familyName: 'Somerville'}) "
        "WHERE r <> p RETURN count(*)",
    ) == 1  # fmt: skip
    # the NPI still finds the practitioner, and names the role too
    assert count(
        driver, database,
        "MATCH (:Identifier {key: $k})-[:IDENTIFIES]->(n) RETURN count(DISTINCT n)",
        k=f"{NPI}|1234567893",
    ) == 2  # fmt: skip
    sound(driver, database)


def test_a_location_sharing_its_organizations_identifier_stays_a_location(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    report = load(write(tmp_path / "places.json", ORGANIZATION, LOCATION))
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert count(driver, database, "MATCH (n:Organization) RETURN count(n)") == 1
    assert count(driver, database, "MATCH (n:Location) RETURN count(n)") == 1
    assert count(driver, database, "MATCH (n:Location:Organization) RETURN count(n)") == 0
    sound(driver, database)


def test_two_dicom_files_of_one_study_for_two_patients_are_kept_apart(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    same = {
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.77",
        "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.77.1",
        "SOPInstanceUID": "1.2.826.0.1.3680043.8.498.77.1.1",
    }
    part10(tmp_path / "a.dcm", **same)
    part10(
        tmp_path / "b.dcm", **same, PatientID="MRN-99", PatientName="Other^Person",
        PatientBirthDate="19500101", PatientSex="M", Modality="MR",
    )  # fmt: skip
    report = load(tmp_path, source="pacs")
    assert len(report.conflicts) == 1
    assert "ImagingStudy conflict" in report.conflicts[0]
    for secret in ("MRN-99", "Other", "19500101"):  # the record id (SOP UID) is named
        assert secret not in report.conflicts[0]
    # the study first loaded keeps its patient and modality; the other file is its own study
    rows, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_IMAGING_STUDY]->(s:ImagingStudy) "
        "RETURN p.familyName AS patient, s.modality AS modality ORDER BY patient",
        database_=database,
    )
    assert [(r["patient"], r["modality"]) for r in rows] == [("Other", ["MR"]), ("Rivera", ["CT"])]
    sound(driver, database)


# one batch: the second claim meets the first in the batch; a claim per batch: it meets the
# first in the graph, whose owner the identity step read with the batch's tokens
@pytest.mark.parametrize("batch_size", [500, 1], ids=["one batch", "a claim per batch"])
def test_an_837_with_one_claim_number_for_two_patients_keeps_them_apart(
    load: Load, driver: Driver, database: str, tmp_path: Path, batch_size: int
) -> None:
    # the dependant's claim reuses the subscriber's CLM01, with another charge
    text = X12.read_text().replace("CLM*PCN1002*80.00", "CLM*PCN1001*80.00")
    path = tmp_path / "claims.837"
    path.write_text(text)
    report = load(path, source="billing", batch_size=batch_size)
    assert [c.split(":")[0] for c in report.conflicts] == ["Claim conflict"]
    assert "PCN1001" not in report.conflicts[0]
    assert count(
        driver, database,
        "MATCH (c:Claim) WHERE c.controlNumber = 'PCN1001' "
        "MATCH (p:Patient)-[:HAS_CLAIM]->(c) RETURN count(DISTINCT p)",
    ) == 2  # fmt: skip
    # each claim has its own patient and its own amount, never the other's
    rows, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim {controlNumber: 'PCN1001'}) "
        "RETURN p.familyName AS patient, c.totalCharge AS charge ORDER BY patient",
        database_=database,
    )
    assert [(r["patient"], r["charge"]) for r in rows] == [
        ("TESTCHILD", 80.0), ("TESTPATIENT", 150.0),
    ]  # fmt: skip
    sound(driver, database)
    # and a reload changes nothing
    again = load(path, source="billing", batch_size=batch_size)
    assert again.total("unchanged") == again.total("written")
    assert (
        count(driver, database, "MATCH (c:Claim {controlNumber: 'PCN1001'}) RETURN count(c)") == 2
    )


def test_the_identity_step_reads_the_graph_once_per_batch(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    load(X12, source="billing")  # the claims, their patients, payer and providers
    # the dependant's claim comes again with the subscriber's claim number
    path = tmp_path / "claims.837"
    path.write_text(X12.read_text().replace("CLM*PCN1002*80.00", "CLM*PCN1001*80.00"))
    loader = registry.detect(path)
    assert loader is not None
    records = [r for r in loader.read(path, "billing") if isinstance(r, Record)]
    theirs = [r for r in records if any(n.props.get(CG.totalCharge) == 80.0 for n in r.nodes)]
    assert len(theirs) == 1

    statements: list[str] = []

    class Counted:
        """The transaction, with the statements run through it counted."""

        def __init__(self, tx: ManagedTransaction) -> None:
            self.tx = tx

        def run(self, query: str, **params: Any) -> Result:
            statements.append(query)
            return self.tx.run(query, **params)

    def resolve(tx: ManagedTransaction) -> Resolution:
        resolver = Resolver(IdentityConfig(), load_ontology())
        return resolver.resolve(Counted(tx), theirs)  # type: ignore[arg-type]  # counts runs

    with driver.session(database=database) as session:
        resolution = session.execute_read(resolve)
    assert len(statements) == 1
    # the claim's owner in the graph came with that one answer: the claim is kept apart
    assert [c.kind for c in resolution.conflicts] == ["Claim conflict"]
