"""Diagnoses and procedures in the API (api/types/condition.py, procedure.py): a patient's
conditions and procedures in windows, a visit's diagnoses with role and rank, each code with
the text the loaded ICD-10-CM gives it, under each role's policy; and patientContext's text
giving those texts."""

from __future__ import annotations

from caregraph.api.auth import Role
from tests.api.conftest import Gql, principal
from tests.api.types.conftest import MRN

CONDITIONS = """
query($id: String!, $from: DateTime, $to: DateTime) {
  patient(identifier: $id) {
    conditions(from: $from, to: $to) {
      totalCount
      edges { node { key clinicalStatus onset code { system code display }
                     encounter { visitNumber } } }
    }
  }
}"""


def test_a_patients_conditions_carry_their_codes_with_the_releases_text(
    cardiology: Gql,
) -> None:
    data = cardiology(CONDITIONS, {"id": MRN}).data
    conditions = data["patient"]["conditions"]
    assert conditions["totalCount"] == 3
    nodes = [e["node"] for e in conditions["edges"]]
    # oldest onset first: the hypertension of 2019, then the NSTEMI, then the unknown code
    codes = [[(c["code"], c["display"]) for c in n["code"]] for n in nodes]
    assert codes[0] == [("I10", "Essential (primary) hypertension")]
    ((code, display),) = codes[1]
    assert code == "I21.4" and display is not None and "NSTEMI" in display
    assert codes[2] == [("I21.X9", None)]  # a code the release does not have: no text
    assert {c["system"] for n in nodes for c in n["code"]} == {"http://hl7.org/fhir/sid/icd-10-cm"}
    assert [n["encounter"] and n["encounter"]["visitNumber"] for n in nodes] == [
        None, "V-77", "V-77",
    ]  # fmt: skip
    assert nodes[1]["clinicalStatus"] == "active"


def test_a_window_selects_conditions_by_onset(cardiology: Gql) -> None:
    window = {"id": MRN, "from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}
    data = cardiology(CONDITIONS, window).data
    found = [e["node"]["code"][0]["code"] for e in data["patient"]["conditions"]["edges"]]
    assert found == ["I21.4", "I21.X9"]


def test_a_visits_diagnoses_have_their_role_and_rank_and_its_reason_its_text(
    cardiology: Gql,
) -> None:
    data = cardiology(
        """query($id: String!) { patient(identifier: $id) { encounters { edges { node {
             reasonCode reasons { code display }
             diagnoses { edges { node { kind link { relationship role rank }
                                        ... on Procedure { code { system code display } } } } }
             procedures { edges { node { start reasons { code }
                                         code { code display } } } } } } } } }""",
        {"id": MRN},
    ).data
    (visit,) = [e["node"] for e in data["patient"]["encounters"]["edges"]]
    # the token keeps the source's spelling of the system; the Concept is the canonical one
    assert visit["reasonCode"] == "urn:oid:2.16.840.1.113883.6.90|I214"
    ((reason,),) = [visit["reasons"]]
    assert reason["code"] == "I21.4" and "NSTEMI" in reason["display"]
    diagnoses = [e["node"] for e in visit["diagnoses"]["edges"]]
    assert sorted((d["kind"], d["link"]["role"], d["link"]["rank"]) for d in diagnoses) == [
        ("Condition", "AD", 1), ("Procedure", None, 2),
    ]  # fmt: skip
    (procedure,) = [d for d in diagnoses if d["kind"] == "Procedure"]
    # SNOMED CT is not shipped: the code keeps the source's text only on the node, not here
    assert procedure["code"] == [
        {"system": "http://snomed.info/sct", "code": "415070008", "display": None}
    ]
    (done,) = [e["node"] for e in visit["procedures"]["edges"]]
    assert done["start"].startswith("2024-03-02T10:00") and done["reasons"] == [{"code": "I21.4"}]


def test_billing_reads_diagnoses_but_not_a_visits_reasons(cardiology: Gql) -> None:
    billing = cardiology(CONDITIONS, {"id": MRN}, principal=principal(Role.billing))
    assert billing.data["patient"]["conditions"]["totalCount"] == 3
    reasons = cardiology(
        """query($id: String!) { patient(identifier: $id) { encounters { edges { node {
             reasons { code } } } } } }""",
        {"id": MRN},
        principal=principal(Role.billing),
    )
    assert "clinical detail is hidden from billing" in str(reasons.errors)


def test_patient_context_text_gives_each_codes_text(cardiology: Gql) -> None:
    data = cardiology(
        """query($id: String!) { patientContext(identifier: $id, budgetTokens: 2000) {
             text totalEvents } }""",
        {"id": MRN},
    ).data
    text = data["patientContext"]["text"]
    lines = text.splitlines()
    (visit,) = [line for line in lines if line.startswith("[E1]")]
    assert "reason ICD-10-CM I21.4 Non-ST elevation (NSTEMI) myocardial infarction" in visit
    assert "2.16.840" not in visit  # the Concept replaces the token, not both
    (hypertension,) = [line for line in lines if "I10" in line]
    assert hypertension.startswith("[D1] 2019-06-01 Condition")
    assert "ICD-10-CM I10 Essential (primary) hypertension" in hypertension
    (pci,) = [line for line in lines if line.startswith("[P1]")]
    assert "SNOMED CT 415070008" in pci and "for E1" in pci
    assert data["patientContext"]["totalEvents"] == 5  # a visit, three conditions, a procedure


UNDER = """query($id: String!, $under: String) { patient(identifier: $id) {
  encounters(underCode: $under) { totalCount edges { node { visitNumber } } }
  conditions(underCode: $under) { totalCount edges { node { code { code } } } }
  procedures(underCode: $under) { totalCount }
} }"""


def test_under_code_selects_by_a_range_and_its_descendants(cardiology: Gql) -> None:
    ischemic = cardiology(UNDER, {"id": MRN, "under": "I20-I25"}).data["patient"]
    # the visit's reason I21.4 is under I20-I25; of the conditions, the NSTEMI (I21.X9 is in
    # no loaded release, so it is under nothing); the PCI by its reason? no: by its code only
    assert [e["node"]["visitNumber"] for e in ischemic["encounters"]["edges"]] == ["V-77"]
    assert [e["node"]["code"][0]["code"] for e in ischemic["conditions"]["edges"]] == ["I21.4"]
    assert ischemic["conditions"]["totalCount"] == 1
    hypertensive = cardiology(UNDER, {"id": MRN, "under": "icd10cm|I10-I1A"}).data["patient"]
    assert hypertensive["encounters"]["totalCount"] == 0
    assert [e["node"]["code"][0]["code"] for e in hypertensive["conditions"]["edges"]] == ["I10"]
    # the same code system by its OID and the code undotted: the same concept
    exact = cardiology(UNDER, {"id": MRN, "under": "urn:oid:2.16.840.1.113883.6.90|I214"})
    assert exact.data["patient"]["conditions"]["totalCount"] == 1
    assert cardiology(UNDER, {"id": MRN, "under": "C50"}).data["patient"]["conditions"] == {
        "totalCount": 0, "edges": [],
    }  # fmt: skip
    everything = cardiology(UNDER, {"id": MRN, "under": None}).data["patient"]
    assert everything["conditions"]["totalCount"] == 3


def test_billing_may_not_filter_visits_by_the_reasons_it_may_not_read(cardiology: Gql) -> None:
    run = cardiology(
        """query($id: String!) { patient(identifier: $id) {
             encounters(underCode: "I20-I25") { totalCount } } }""",
        {"id": MRN},
        principal=principal(Role.billing),
    )
    assert "clinical detail is hidden from billing" in str(run.errors)


def test_patient_context_under_a_range_keeps_its_visits_and_what_followed(
    cardiology: Gql,
) -> None:
    query = """query($id: String!, $under: String) {
      patientContext(identifier: $id, underCode: $under) {
        totalEvents included { kind count } text } }"""
    ischemic = cardiology(query, {"id": MRN, "under": "I20-I25"}).data["patientContext"]
    # the visit (reason I21.4), and what was recorded and done at it: the NSTEMI, the
    # condition whose code no release has (recorded at that visit), the PCI; not the
    # hypertension of 2019, which is under I10-I1A and of no visit
    assert {k["kind"]: k["count"] for k in ischemic["included"]} == {
        "Encounter": 1, "Condition": 2, "Procedure": 1,
    }  # fmt: skip
    assert ischemic["totalEvents"] == 4 and "I10" not in ischemic["text"]
    everything = cardiology(query, {"id": MRN, "under": None}).data["patientContext"]
    assert everything["totalEvents"] == 5
