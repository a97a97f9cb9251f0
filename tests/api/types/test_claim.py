"""What a claim bills, as codes (api/types/claim.py, claim_item.py, remittance.py): the X12
837's HI diagnoses with role and rank, its lines' procedure codes, the 835's adjustment reasons
with group and amount; a patient's claims filtered by a billed diagnosis; money kept from
clinicians as everywhere."""

from __future__ import annotations

from caregraph.api.auth import Role
from tests.api.conftest import JANE, Gql, principal

CLAIMS = """query($id: String!, $under: String) { patient(identifier: $id) {
  claims(underCode: $under) { totalCount edges { node {
    controlNumber
    diagnoses { system code role rank }
    items { edges { node { sequence code { system code } diagnoses { code } } } }
    remittances { edges { node { adjustmentReasons { code group amount } } } }
  } } }
} }"""
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def test_a_claim_bills_its_hi_diagnosis_and_its_lines_codes(gql: Gql) -> None:
    claims = gql(CLAIMS, {"id": JANE}).data["patient"]["claims"]
    (claim,) = [e["node"] for e in claims["edges"] if e["node"]["controlNumber"] == "V100"]
    # HI*ABK:R079: the principal diagnosis, ICD-10-CM with its dot
    assert claim["diagnoses"] == [
        {"system": ICD10CM, "code": "R07.9", "role": "principal", "rank": 1}
    ]
    lines = sorted((e["node"] for e in claim["items"]["edges"]), key=lambda n: n["sequence"])
    assert [[c["code"] for c in n["code"]] for n in lines] == [["99213"], ["71046"]]
    assert all(n["diagnoses"] == [{"code": "R07.9"}] for n in lines)  # SV107 points at HI 1
    ((remittance,),) = [[e["node"] for e in claim["remittances"]["edges"]]]
    # CAS*PR*3*20.00 and CAS*CO*45*10.00 on each of two lines: CO-45 summed
    reasons = {(r["group"], r["code"]): r["amount"] for r in remittance["adjustmentReasons"]}
    assert reasons == {("PR", "3"): 20.0, ("CO", "45"): 20.0}


def test_claims_under_a_billed_diagnosis(gql: Gql) -> None:
    found = gql(CLAIMS, {"id": JANE, "under": "R07.9"}).data["patient"]["claims"]
    assert [e["node"]["controlNumber"] for e in found["edges"]] == ["V100"]
    none = gql(CLAIMS, {"id": JANE, "under": "I21.4"}).data["patient"]["claims"]
    assert none["totalCount"] == 0


def test_clinicians_read_billed_diagnoses_but_not_adjustment_amounts(gql: Gql) -> None:
    run = gql(CLAIMS, {"id": JANE}, principal=principal(Role.clinician))
    assert "Remittance.adjustmentReasons" in str(run.errors)
    diagnoses = gql(
        """query($id: String!) { patient(identifier: $id) {
             claims { edges { node { diagnoses { code role } } } } } }""",
        {"id": JANE},
        principal=principal(Role.clinician),
    ).data
    billed = [d for e in diagnoses["patient"]["claims"]["edges"] for d in e["node"]["diagnoses"]]
    assert {"code": "R07.9", "role": "principal"} in billed
