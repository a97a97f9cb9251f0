"""The schema against the loaded graph: every root, traversals both ways, provenance and rules."""

from __future__ import annotations

from caregraph.api.errors import AmbiguousIdentifierError
from tests.api.conftest import (
    ADA,
    CLINIC_NPI,
    JANE,
    NPI,
    RIVERA_STUDY_UID,
    SMITH_NPI,
    STUDY_UID,
    SYNTHEA,
    Gql,
)


def edges(connection: dict) -> list[dict]:
    return [e["node"] for e in connection["edges"]]


# -- roots -----------------------------------------------------------------------------------


def test_patient_by_token_with_name_identifiers_and_demographics(gql: Gql) -> None:
    p = gql(
        """query($id: String!) { patient(identifier: $id) { key kind loaded display birthDate
             gender name { family given text } address { city state }
             identifiers { system value type token rule } } }""",
        {"id": ADA},
    ).data["patient"]
    assert p["key"] == ADA and p["kind"] == "Patient" and p["loaded"] is True
    assert p["name"] == {"family": "Lovelace", "given": ["Ada"], "text": "Ada Lovelace"}
    assert (p["birthDate"], p["gender"]) == ("1970-03-04", "female")
    assert p["address"] == {"city": "Boston", "state": "MA"}
    ids = {(i["system"], i["value"]): (i["type"], i["rule"]) for i in p["identifiers"]}
    # the export is read in file-name order, and claims.csv and encounters.csv name Ada first:
    # her row fills the stub they made, matched by her Synthea id (loaders/identity.py)
    assert ids == {
        (SYNTHEA, "ada"): ("RI", "same-identifier"),
        ("http://hl7.org/fhir/sid/us-ssn", "999-11-1111"): ("SS", "same-identifier"),
    }


def test_patient_by_bare_value(gql: Gql) -> None:
    assert gql('{ patient(identifier: "ada") { key } }').data["patient"]["key"] == ADA
    assert gql('{ patient(identifier: "999-11-1111") { key } }').data["patient"]["key"] == ADA


def test_patient_by_another_sources_identifier_is_the_same_patient(gql: Gql) -> None:
    # the PACS and the payer know Jane under their own ids; identity merged them by demographics
    for token in ("LAKESIDE|RAD-7", "urn:caregraph:payer:60054:member|MEM1001", "RAD-7"):
        run = gql("query($id: String!) { patient(identifier: $id) { key } }", {"id": token})
        assert run.data["patient"]["key"] == JANE


def test_ambiguous_bare_value_names_only_the_candidates_systems(gql: Gql) -> None:
    run = gql('{ patient(identifier: "MRN001") { key name { text } } }')
    (error,) = run.errors
    assert run.result.data == {"patient": None}
    assert error["extensions"]["code"] == "AMBIGUOUS_IDENTIFIER"
    assert error["extensions"]["candidateSystems"] == ["HOSP", "LAKESIDE"]
    assert "HOSP, LAKESIDE" in error["message"] and "system|value" in error["message"]
    for secret in ("JANE", "DOE", "RIVERA", "ANA", "1980", "1990"):
        assert secret not in str(error)
    # the systems the error names are enough to ask again
    assert gql('{ patient(identifier: "HOSP|MRN001") { key } }').data["patient"]["key"] == JANE
    rivera = gql('{ patient(identifier: "LAKESIDE|MRN001") { name { family } } }').data
    assert rivera["patient"]["name"]["family"] == "RIVERA"


def test_unknown_identifiers_are_null_not_errors(gql: Gql) -> None:
    data = gql(
        """{ a: patient(identifier: "nobody") { key } b: patient(identifier: "X|nobody") { key }
             c: encounter(identifier: "none") { key } d: claim(controlNumber: "none") { key }
             e: imagingStudy(studyInstanceUid: "1.2.3") { key }
             f: practitioner(npi: "1999999992") { key } }"""
    ).data
    assert data == {"a": None, "b": None, "c": None, "d": None, "e": None, "f": None}


def test_practitioner_by_npi_across_sources(gql: Gql) -> None:
    doc = gql(
        """query($npi: String!) { practitioner(npi: $npi) { key npi name { family given text }
             encounters { edges { role node { visitNumber } } }
             claims { edges { role node { controlNumber } } }
             imagingStudies { edges { node { studyInstanceUid } } } } }""",
        {"npi": SMITH_NPI},
    ).data["practitioner"]
    assert doc["key"] == f"{NPI}|{SMITH_NPI}" and doc["npi"] == SMITH_NPI
    assert doc["name"]["family"] == "SMITH"
    # the ADT feed names him attending; the 837 rendering; the PACS referrer
    assert [(e["role"], e["node"]["visitNumber"]) for e in doc["encounters"]["edges"]] == [
        ("attending", "V100")
    ]
    assert [(e["role"], e["node"]["controlNumber"]) for e in doc["claims"]["edges"]] == [
        ("rendering", "V100")
    ]
    assert edges(doc["imagingStudies"]) == [{"studyInstanceUid": STUDY_UID}]


def test_practitioner_npi_is_checked_before_reading(gql: Gql) -> None:
    (error,) = gql('{ practitioner(npi: "12ab") { key } }').errors
    assert error["extensions"] == {
        "code": "BAD_ARGUMENT", "argument": "npi", "requestId": error["extensions"]["requestId"]
    }  # fmt: skip


def test_organization_by_npi_and_its_claims(gql: Gql) -> None:
    org = gql(
        """query($npi: String!) { organization(npi: $npi) { name npi claims { totalCount
             edges { role node { controlNumber totalCharge } } } } }""",
        {"npi": CLINIC_NPI},
    ).data["organization"]
    assert org["name"] == "TEST CLINIC" and org["npi"] == CLINIC_NPI
    assert org["claims"]["totalCount"] == 1
    (edge,) = org["claims"]["edges"]
    assert edge["role"] == "billing"
    assert edge["node"] == {"controlNumber": "V100", "totalCharge": 150.0}


def test_encounter_by_visit_number_with_everything_around_it(gql: Gql) -> None:
    enc = gql(
        """{ encounter(identifier: "MAINHOSP|V100") { key start status encounterClass
             patient { key }
             practitioners { edges { role node { npi name { family } } } }
             location { name } locations { totalCount }
             claims { edges { rule node { controlNumber } } }
             imagingStudies { edges { rule node { studyInstanceUid } } }
             appointments { edges { rule node { status start } } } } }"""
    ).data["encounter"]
    assert enc["start"] == "2024-05-01T08:30:00-05:00" and enc["status"] == "in-progress"
    assert enc["patient"] == {"key": JANE}
    roles = {e["role"]: e["node"]["name"]["family"] for e in enc["practitioners"]["edges"]}
    assert roles == {"attending": "SMITH", "referring": "JONES"}
    assert enc["location"]["name"].startswith("MAINHOSP") and enc["locations"]["totalCount"] == 1
    assert [(e["rule"], e["node"]["controlNumber"]) for e in enc["claims"]["edges"]] == [
        ("claim-visit-number", "V100")
    ]
    assert [(e["rule"], e["node"]["studyInstanceUid"]) for e in enc["imagingStudies"]["edges"]] == [
        ("same-patient-during-encounter", STUDY_UID)
    ]
    (appt,) = enc["appointments"]["edges"]
    assert appt["rule"] == "same-patient-practitioner-time"
    assert appt["node"] == {"status": "booked", "start": "2024-05-01T09:00:00-05:00"}


def test_encounter_by_bare_source_id(gql: Gql) -> None:
    enc = gql('{ encounter(identifier: "ada-v3") { description patient { key } } }').data
    assert enc["encounter"] == {"description": "Chest pain", "patient": {"key": ADA}}


def test_imaging_study_by_bare_uid_or_urn(gql: Gql) -> None:
    q = """query($uid: String!) { imagingStudy(studyInstanceUid: $uid) { studyInstanceUid
             start modality description accessionNumber referringPhysicianName
             patient { key } encounter { visitNumber } referrer { npi } } }"""
    study = gql(q, {"uid": STUDY_UID}).data["imagingStudy"]
    assert study == {
        "studyInstanceUid": STUDY_UID,
        "start": "2024-05-01T10:00:00-05:00",
        "modality": ["CT"],
        "description": "CT CHEST",
        "accessionNumber": "ACC-1",
        "referringPhysicianName": "SMITH^JOHN",
        "patient": {"key": JANE},
        "encounter": {"visitNumber": "V100"},
        "referrer": {"npi": SMITH_NPI},
    }
    again = gql(q, {"uid": f"urn:oid:{STUDY_UID}"}).data["imagingStudy"]
    assert again["studyInstanceUid"] == STUDY_UID
    other = gql(q, {"uid": RIVERA_STUDY_UID}).data["imagingStudy"]
    assert other["patient"] == {"key": "LAKESIDE|MRN001"} and other["encounter"] is None


def test_claim_by_control_number_with_items_payments_providers_payer(gql: Gql) -> None:
    claim = gql(
        """{ claim(controlNumber: "V100") { controlNumber totalCharge serviceStart
             patient { key } encounter { visitNumber }
             items { edges { node { sequence procedureCode chargeAmount } } }
             remittances { edges { node { paymentAmount patientResponsibility adjustments
                                          payer { name } claim { controlNumber } } } }
             providers { edges { role node { __typename
                 ... on Practitioner { npi } ... on Organization { npi name } } } }
             payer { name } } }"""
    ).data["claim"]
    assert claim["totalCharge"] == 150.0 and claim["patient"] == {"key": JANE}
    assert claim["encounter"] == {"visitNumber": "V100"}
    assert [(i["sequence"], i["chargeAmount"]) for i in edges(claim["items"])] == [
        (1, 100.0),
        (2, 50.0),
    ]
    (paid,) = edges(claim["remittances"])
    assert paid["paymentAmount"] == 110.0 and paid["patientResponsibility"] == 20.0
    assert paid["payer"] == {"name": "TEST PAYER"} and paid["claim"] == {"controlNumber": "V100"}
    providers = {e["role"]: e["node"] for e in claim["providers"]["edges"]}
    assert providers["rendering"] == {"__typename": "Practitioner", "npi": SMITH_NPI}
    assert providers["billing"]["__typename"] == "Organization"
    assert providers["billing"]["npi"] == CLINIC_NPI
    assert claim["payer"] == {"name": "TEST PAYER"}


def test_service_root_still_reports_the_server(gql: Gql) -> None:
    service = gql("{ service { version neo4jVersion neo4jEdition } }").data["service"]
    assert service["neo4jVersion"].startswith("5.") and service["neo4jEdition"] == "community"


# -- traversals in both directions -----------------------------------------------------------


def test_patient_to_claims_and_back(gql: Gql) -> None:
    p = gql(
        """{ patient(identifier: "ada") { claims { edges { node { controlNumber
             patient { key } encounter { description patient { key } } } } } } }"""
    ).data["patient"]
    claims = edges(p["claims"])
    assert [c["controlNumber"] for c in claims] == ["ada-c1", "ada-c2", "ada-c3"]
    assert {c["patient"]["key"] for c in claims} == {ADA}
    assert [c["encounter"]["description"] for c in claims] == ["Checkup", "Flu", "Chest pain"]


def test_practitioner_encounters_and_encounter_practitioners(gql: Gql) -> None:
    house = f"{SYNTHEA}|house"
    enc = gql(
        """{ encounter(identifier: "ada-v1") { practitioners { edges { node { key
             encounters(first: 3) { totalCount edges { node { key } } } } } } } }"""
    ).data["encounter"]
    (doc,) = edges(enc["practitioners"])
    assert doc["key"] == house
    assert doc["encounters"]["totalCount"] == 23  # Ada's three visits and the crowd's twenty
    first = [e["node"]["key"] for e in doc["encounters"]["edges"]]
    assert first == [f"{SYNTHEA}|ada-v1", f"{SYNTHEA}|crowd00-v1", f"{SYNTHEA}|crowd01-v1"]


def test_organization_and_location_directions(gql: Gql) -> None:
    data = gql(
        """{ encounter(identifier: "ada-v2") { organization { name
               encounters { edges { node { key } } } practitioners { edges { node { key } } } } }
           v100: encounter(identifier: "V100") { location { name encounters { totalCount }
               appointments { totalCount } } } }"""
    ).data
    org = data["encounter"]["organization"]
    assert org["name"] == "Clinic B"
    assert {e["key"] for e in edges(org["encounters"])} == {
        f"{SYNTHEA}|ada-v2",
        f"{SYNTHEA}|alan-v1",
    }
    assert edges(org["practitioners"]) == [{"key": f"{SYNTHEA}|grey"}]
    loc = data["v100"]["location"]
    assert loc["encounters"]["totalCount"] == 1 and loc["appointments"]["totalCount"] == 0


def test_imaging_series_and_back(gql: Gql) -> None:
    study = gql(
        """{ patient(identifier: "ada") { imagingStudies { edges { node { modality
             series { edges { node { seriesInstanceUid bodySite study { patient { key } } } } }
             encounter { description } } } } } }"""
    ).data["patient"]["imagingStudies"]
    (s,) = edges(study)
    assert s["modality"] == ["DX"] and s["encounter"] == {"description": "Chest pain"}
    (series,) = edges(s["series"])
    assert series["seriesInstanceUid"] == "1.2.840.99.5.1"
    assert series["bodySite"] == "http://snomed.info/sct|51185008"
    assert series["study"]["patient"]["key"] == ADA


def test_coverage_payer_and_back(gql: Gql) -> None:
    p = gql(
        """{ patient(identifier: "ada") { coverages { edges { node { memberId start
             payer { name coverages { totalCount } claims(first: 1) { totalCount } }
             patient { key } } } } } }"""
    ).data["patient"]
    (cov,) = edges(p["coverages"])
    assert cov["memberId"] == "M-ADA" and cov["patient"] == {"key": ADA}
    assert cov["payer"]["name"] == "Medicaid"
    assert cov["payer"]["coverages"]["totalCount"] == 1
    assert cov["payer"]["claims"]["totalCount"] == 24  # every Synthea claim but none of X12


def test_appointment_with_practitioner_location_and_visit(gql: Gql) -> None:
    p = gql(
        """{ patient(identifier: "HOSP|MRN001") { appointments { edges { node { status start
             minutesDuration practitioners { edges { role node { name { family } } } }
             locations { edges { node { name } } }
             encounter { visitNumber link { relationship rule inferred } } } } } } }"""
    ).data["patient"]
    (appt,) = edges(p["appointments"])
    assert appt["status"] == "booked" and appt["minutesDuration"] == 30
    (doc,) = appt["practitioners"]["edges"]
    assert doc["role"] == "Gastroenterologist" and doc["node"]["name"]["family"] == "JONES"
    assert "ENDO" in edges(appt["locations"])[0]["name"]
    assert appt["encounter"]["visitNumber"] == "V100"
    assert appt["encounter"]["link"] == {
        "relationship": "FOR_ENCOUNTER",
        "rule": "same-patient-practitioner-time",
        "inferred": True,
    }


# -- provenance and rules --------------------------------------------------------------------


def test_node_sources_name_system_file_position_record_and_run(gql: Gql) -> None:
    claim = gql(
        """{ claim(controlNumber: "V100") { sources { sourceSystem file position recordId
             format kind loadRun { runId startedAt endedAt sourceSystem ontologyVersion } } } }"""
    ).data["claim"]
    (src,) = claim["sources"]
    assert src["sourceSystem"] == "billing" and src["file"].endswith("claims.837")
    assert src["format"] == "x12" and src["position"]
    assert src["loadRun"]["runId"] and src["loadRun"]["sourceSystem"] == "billing"
    assert src["loadRun"]["startedAt"] <= src["loadRun"]["endedAt"]
    assert src["loadRun"]["ontologyVersion"] == "0.1.0"


def test_inferred_link_carries_rule_evidence_on_edge_and_link(gql: Gql) -> None:
    data = gql(
        """query($uid: String!, $npi: String!) { imagingStudy(studyInstanceUid: $uid) {
             referrer { link { relationship rule evidence inferred sources { sourceSystem } } } }
           practitioner(npi: $npi) { imagingStudies { edges { relationship rule evidence
             inferred node { studyInstanceUid } } } } }""",
        {"uid": STUDY_UID, "npi": SMITH_NPI},
    ).data
    link = data["imagingStudy"]["referrer"]["link"]
    assert link["relationship"] == "REFERRED_BY" and link["rule"] == "referrer-name-unique"
    assert link["inferred"] is True and "ReferringPhysicianName" in link["evidence"]["matched"]
    assert link["sources"] == []  # a rule made it: no source record asserted it
    (edge,) = data["practitioner"]["imagingStudies"]["edges"]
    assert (edge["relationship"], edge["rule"], edge["inferred"]) == (
        "REFERRED_BY",
        "referrer-name-unique",
        True,
    )
    assert edge["evidence"] == link["evidence"]


def test_asserted_link_has_no_rule_and_names_its_record(gql: Gql) -> None:
    p = gql(
        """{ patient(identifier: "ada") { encounters(first: 1) { edges { relationship rule
             evidence inferred sources { sourceSystem position recordId } } } } }"""
    ).data["patient"]
    (edge,) = p["encounters"]["edges"]
    assert edge["relationship"] == "HAS_ENCOUNTER"
    assert (edge["rule"], edge["evidence"], edge["inferred"]) == (None, None, False)
    assert edge["sources"] == [
        {"sourceSystem": "ehr", "position": "line 2", "recordId": "encounters/ada-v1"}
    ]


def test_identifier_rule_and_evidence_for_a_merge(gql: Gql) -> None:
    ids = gql(
        """{ patient(identifier: "HOSP|MRN001") { identifiers { token rule evidence
             sources { sourceSystem } } } }"""
    ).data["patient"]["identifiers"]
    by_token = {i["token"]: i for i in ids}
    rad = by_token["LAKESIDE|RAD-7"]
    assert rad["rule"] == "demographics-exact"
    assert rad["evidence"] == {"matched": ["familyName", "givenNames[0]", "birthDate", "gender"]}
    assert rad["sources"] == [{"sourceSystem": "pacs"}]
    assert by_token[JANE]["rule"] == "asserted"


def test_a_stub_is_shown_as_not_loaded(gql: Gql) -> None:
    claim = gql(
        """{ claim(controlNumber: "ada-c3") { providers { edges { role node {
             ... on Practitioner { key loaded name { text } sources { sourceSystem } } } } } } }"""
    ).data["claim"]
    by_role = {e["role"]: e["node"] for e in claim["providers"]["edges"]}
    ghost = by_role["referring"]
    assert ghost == {"key": f"{SYNTHEA}|ghost", "loaded": False, "name": None, "sources": []}
    assert by_role["rendering"]["loaded"] is True


def test_an_ambiguity_nothing_tells_apart_says_why_without_values() -> None:
    # two patients kept apart as an identity conflict share one identifier: its system cannot
    # pick one, so the error must not send the caller back to `system|value` (issue 15)
    error = AmbiguousIdentifierError("patient", "identifier", ["HOSP"], 2, kept_apart=1)
    assert "cannot tell apart" in error.message and "identity conflict" in error.message
    assert "caregraph explain" in error.message and "system|value" not in error.message
    assert error.extensions["distinguishable"] is False and error.extensions["keptApart"] == 1
    none = AmbiguousIdentifierError("claim", "controlNumber", [], 3)
    assert "cannot tell apart" in none.message and "system|value" not in none.message
    assert none.extensions["candidateSystems"] == []
