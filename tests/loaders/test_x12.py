"""X12 005010: facts from 837P, 837I and 835 files (the project's own and the shared samples)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders import keys
from caregraph.loaders.records import Item, Link, Node, Record, Rejected, Skipped
from caregraph.loaders.registry import detect
from caregraph.loaders.x12 import LOADER
from caregraph.loaders.x12.reading import Seg, segments
from caregraph.ontology.vocab import CG, local_name
from tests.loaders.conftest import Load, count, fingerprint

DATA = Path(__file__).resolve().parents[1] / "data" / "x12"
CLAIMS = DATA / "claims.837"
PAYMENTS = DATA / "payments.835"
INSTITUTIONAL = DATA / "institutional.837i"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9 = "http://hl7.org/fhir/sid/icd-9-cm"
HCPCS_CANONICAL = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # the ontology's
CARC = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC = "https://x12.org/codes/remittance-advice-remark-codes"


# -- helpers ---------------------------------------------------------------------------------
def read(path: Path) -> list[Item]:
    return list(LOADER.read(path, "payer-x12"))


def records(items: Iterable[Item]) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def nodes(rec: Record, cls: object) -> list[Node]:
    return [n for n in rec.nodes if n.cls == cls]


def one(rec: Record, cls: object) -> Node:
    found = nodes(rec, cls)
    assert len(found) == 1, f"{len(found)} nodes of {cls}"
    return found[0]


def links(rec: Record, rel: object) -> list[Link]:
    return [x for x in rec.links if x.rel == rel]


def items_of(rec: Record) -> list[Node]:
    return sorted(nodes(rec, CG.ClaimItem), key=lambda n: int(n.props[CG.sequence]))  # type: ignore[arg-type]


def providers(rec: Record, src_key: str) -> dict[str, str]:
    """role -> provider key, for the HAS_PROVIDER links from ``src_key``."""
    return {
        str(x.props[CG.role]): x.dst.key for x in links(rec, CG.hasProvider) if x.src.key == src_key
    }


def concepts_of(rec: Record, rel: object, src_key: str) -> list[tuple[str, dict[str, object]]]:
    """(Concept key, link properties) of the ``rel`` links from ``src_key``, in record order."""
    return [
        (x.dst.key, {local_name(p): v for p, v in x.props.items()})
        for x in links(rec, rel)
        if x.src.key == src_key and x.dst.cls == CG.Concept
    ]


# -- detection -------------------------------------------------------------------------------
def test_detects_isa_files_and_envelope_less_claims_only(tmp_path: Path) -> None:
    assert LOADER.detect(CLAIMS, CLAIMS.read_bytes())
    assert LOADER.detect(PAYMENTS, PAYMENTS.read_bytes())
    bare = tmp_path / "bare.txt"
    bare.write_text("ST*835*1234~BPR*I*1.00*C*CHK************20110108~SE*3*1234~")
    assert LOADER.detect(bare, bare.read_bytes())  # so that it is reported as bad X12
    hl7 = tmp_path / "adt.hl7"
    hl7.write_text("MSH|^~\\&|EPIC|HOSP|||20240101||ADT^A01|1|P|2.5\r")
    fhir = tmp_path / "bundle.json"
    fhir.write_text('{"resourceType": "Bundle", "note": "ST*837*0001~"}')
    other_st = tmp_path / "st.txt"
    other_st.write_text("ST*270*0001~BHT*0022*13~")
    for path in (hl7, fhir, other_st):
        assert not LOADER.detect(path, path.read_bytes())
    assert detect(CLAIMS) is not None and detect(CLAIMS).format == "x12"  # type: ignore[union-attr]


# -- 837P ------------------------------------------------------------------------------------
def test_837p_claim_with_billing_provider_total_and_service_lines() -> None:
    items = read(CLAIMS)
    recs = records(items)
    assert len(items) == len(recs) == 3
    rec = recs[0]
    assert rec.kind == "837P claim"
    assert rec.ref.position == "claim 1 (segment 21)"
    assert rec.ref.record_id == "0001/claim 1"  # ST02 and ordinal: no patient account number

    claim = one(rec, CG.Claim)
    assert claim.key == keys.claim_key("1234567893", "PCN1001")
    assert claim.props[CG.controlNumber] == "PCN1001"
    assert claim.props[CG.submitter] == "1234567893"
    assert claim.props[CG.totalCharge] == 150.0
    assert claim.props[CG.claimType] == "professional"
    assert claim.props[CG.serviceStart] == claim.props[CG.serviceEnd] == "2024-03-01"
    assert claim.props[CG.diagnosisCodes] == [f"{ICD10}|E11.9", f"{ICD10}|I10"]

    lines = items_of(rec)
    assert [n.props[CG.procedureCode] for n in lines] == [f"{CPT}|99213", f"{CPT}|36415"]
    assert [n.props[CG.chargeAmount] for n in lines] == [100.0, 50.0]
    assert [n.props[CG.quantity] for n in lines] == [1.0, 1.0]
    assert [n.key for n in lines] == [keys.item_key(claim.key, 1), keys.item_key(claim.key, 2)]
    assert {x.dst.key for x in links(rec, CG.hasItem)} == {n.key for n in lines}

    billing = one(rec, CG.Organization)
    assert billing.key == keys.npi("1234567893").token
    assert billing.props[CG.name] == "CAREGRAPH TEST CLINIC"
    assert billing.props[CG.city] == "SPRINGFIELD"
    assert providers(rec, claim.key) == {
        "billing": keys.npi("1234567893").token,
        "rendering": keys.npi("1245319599").token,
    }
    rendering = one(rec, CG.Practitioner)
    assert rendering.props[CG.familyName] == "TESTDOC"


def test_837p_subscriber_patient_payer_and_coverage() -> None:
    rec = records(read(CLAIMS))[0]
    claim = one(rec, CG.Claim)
    patient = one(rec, CG.Patient)
    member = "urn:caregraph:payer:60054:member"
    assert patient.key == f"{member}|MEM1001"
    assert [(i.system, i.value, i.type) for i in patient.identifiers] == [(member, "MEM1001", "MB")]
    assert patient.props[CG.familyName] == "TESTPATIENT"
    assert patient.props[CG.givenNames] == ["ALPHA", "Q"]
    assert patient.props[CG.birthDate] == "1980-01-15"
    assert patient.props[CG.gender] == "female"

    payer = one(rec, CG.Payer)
    assert payer.key == "urn:caregraph:payer-id|60054"
    assert payer.props[CG.payerId] == "60054"
    coverage = one(rec, CG.Coverage)
    assert coverage.props[CG.memberId] == "MEM1001"
    assert coverage.props[CG.relationship] == "self"
    pairs = {(x.rel, x.src.key, x.dst.key) for x in rec.links}
    assert (CG.hasClaim, patient.key, claim.key) in pairs
    assert (CG.hasCoverage, patient.key, coverage.key) in pairs
    assert (CG.hasPayer, coverage.key, payer.key) in pairs
    assert (CG.coveredBy, claim.key, coverage.key) in pairs
    assert (CG.hasPayer, claim.key, payer.key) in pairs


def test_837p_dependent_patient_and_line_level_providers() -> None:
    second, third = records(read(CLAIMS))[1:]
    patient = one(second, CG.Patient)
    assert patient.props[CG.familyName] == "TESTCHILD"
    assert patient.props[CG.birthDate] == "2015-09-10"
    # a 2000C patient has no member id of their own: known within the subscriber's membership
    assert patient.key.startswith("urn:caregraph:payer:60054:dependent|MEM2002:")
    assert "TESTCHILD" not in patient.key and "GAMMA" not in patient.key
    assert one(second, CG.Coverage).props[CG.relationship] == "child"
    assert one(third, CG.Patient).key == patient.key  # the same child in the next claim

    claim = one(second, CG.Claim)
    line = items_of(second)[0]
    assert providers(second, claim.key) == {
        "billing": keys.npi("1234567893").token,
        "referring": keys.npi("1184629479").token,
        "rendering": keys.npi("1555555550").token,  # named on the line (2420A)
    }
    assert providers(second, line.key) == {"rendering": keys.npi("1555555550").token}
    assert items_of(third)[0].props[CG.procedureCode] == f"{HCPCS}|G0008"  # HCPCS Level II


# -- 837I ------------------------------------------------------------------------------------
def test_837i_claim_statement_period_revenue_lines_and_attending() -> None:
    # declares 005010X223A3: pyx12 has the A2 map, which reads it (nearest addendum)
    (rec,) = read(INSTITUTIONAL)
    assert isinstance(rec, Record) and rec.kind == "837I claim"
    claim = one(rec, CG.Claim)
    assert claim.key == keys.claim_key("1666666668", "PCN2001")
    assert claim.props[CG.claimType] == "institutional"
    assert claim.props[CG.totalCharge] == 1250.0
    assert (claim.props[CG.serviceStart], claim.props[CG.serviceEnd]) == (
        "2024-03-08",
        "2024-03-10",
    )
    assert claim.props[CG.diagnosisCodes] == [f"{ICD10}|I21.4", f"{ICD10}|E11.9", f"{ICD10}|I10"]
    room, lab = items_of(rec)
    assert CG.procedureCode not in room.props  # a revenue code line without HCPCS
    assert (room.props[CG.chargeAmount], room.props[CG.quantity]) == (900.0, 2.0)
    assert (room.props[CG.serviceStart], room.props[CG.serviceEnd]) == ("2024-03-08", "2024-03-10")
    assert lab.props[CG.procedureCode] == f"{CPT}|80053"
    assert providers(rec, claim.key)["attending"] == keys.npi("1777777776").token


# -- codes as Concepts -----------------------------------------------------------------------
def test_837p_hi_diagnoses_are_billed_with_role_and_rank_and_lines_point_at_theirs() -> None:
    first, second, third = records(read(CLAIMS))
    claim = one(first, CG.Claim)
    # HI*ABK:E119*ABF:I10: the principal and an other diagnosis, dotted ICD-10-CM
    assert concepts_of(first, CG.billsDiagnosis, claim.key) == [
        (f"{ICD10}|E11.9", {"role": "principal", "rank": 1}),
        (f"{ICD10}|I10", {"role": "other", "rank": 2}),
    ]
    line1, line2 = items_of(first)
    # SV1*HC:99213*...***1:2 and SV1*HC:36415*...***1: the pointers, in their order
    assert concepts_of(first, CG.hasCode, line1.key) == [(f"{CPT}|99213", {})]
    assert concepts_of(first, CG.billsDiagnosis, line1.key) == [
        (f"{ICD10}|E11.9", {"rank": 1}),
        (f"{ICD10}|I10", {"rank": 2}),
    ]
    assert concepts_of(first, CG.hasCode, line2.key) == [(f"{CPT}|36415", {})]
    assert concepts_of(first, CG.billsDiagnosis, line2.key) == [(f"{ICD10}|E11.9", {"rank": 1})]
    assert concepts_of(second, CG.billsDiagnosis, one(second, CG.Claim).key) == [
        (f"{ICD10}|J06.9", {"role": "principal", "rank": 1})
    ]
    # HCPCS Level II: the token keeps its spelling, the Concept has the ontology's URI
    (g_line,) = items_of(third)
    assert g_line.props[CG.procedureCode] == f"{HCPCS}|G0008"
    assert concepts_of(third, CG.hasCode, g_line.key) == [(f"{HCPCS_CANONICAL}|G0008", {})]
    assert one(third, CG.Claim).props[CG.diagnosisCodes] == [f"{ICD10}|Z00.00"]


def test_837i_diagnoses_across_hi_segments_and_the_sv2_procedure() -> None:
    (rec,) = records(read(INSTITUTIONAL))
    claim = one(rec, CG.Claim)
    # HI*ABK:I214 then HI*ABF:E119*ABF:I10
    assert concepts_of(rec, CG.billsDiagnosis, claim.key) == [
        (f"{ICD10}|I21.4", {"role": "principal", "rank": 1}),
        (f"{ICD10}|E11.9", {"role": "other", "rank": 2}),
        (f"{ICD10}|I10", {"role": "other", "rank": 3}),
    ]
    room, lab = items_of(rec)
    assert concepts_of(rec, CG.hasCode, room.key) == []  # SV2*0120: a revenue code only
    assert concepts_of(rec, CG.hasCode, lab.key) == [(f"{CPT}|80053", {})]  # SV202 HC:80053
    assert not [x for x in links(rec, CG.billsDiagnosis) if x.src.cls == CG.ClaimItem]


def test_a_diagnosis_in_two_roles_is_two_links_and_a_bad_pointer_a_warning(
    tmp_path: Path,
) -> None:
    text = CLAIMS.read_text()
    changed = text.replace("HI*ABK:E119*ABF:I10~", "HI*ABK:E119*ABJ:E119*ABF:I10*ABF:I10~")
    changed = changed.replace("SV1*HC:36415*50.00*UN*1***1~", "SV1*HC:36415*50.00*UN*1***1:7~")
    assert changed.count("ABJ") == 1 and changed.count("1:7~") == 1
    path = tmp_path / "roles.837"
    path.write_text(changed)
    rec = records(read(path))[0]
    assert concepts_of(rec, CG.billsDiagnosis, one(rec, CG.Claim).key) == [
        (f"{ICD10}|E11.9", {"role": "principal", "rank": 1}),
        (f"{ICD10}|E11.9", {"role": "admitting", "rank": 2}),
        (f"{ICD10}|I10", {"role": "other", "rank": 3}),
    ]
    assert concepts_of(rec, CG.billsDiagnosis, items_of(rec)[1].key) == [
        (f"{ICD10}|E11.9", {"rank": 1})
    ]
    assert [w.message for w in rec.warnings if "SV107" in w.message] == [
        "segment 29 (2400/SV1): SV107-2 points to no diagnosis of the claim's HI"
    ]


def test_835_cas_reasons_are_carc_concepts_with_group_and_summed_amount() -> None:
    first, second = records(read(PAYMENTS))
    rem = one(first, CG.Remittance)
    # CAS*PR*3*20.00 and CO-45 10.00 on each of the two service lines
    assert concepts_of(first, CG.adjustedFor, rem.key) == [
        (f"{CARC}|3", {"group": "PR", "amount": 20.0}),
        (f"{CARC}|45", {"group": "CO", "amount": 20.0}),
    ]
    assert rem.props[CG.adjustments] == ["PR-3:20.00", "CO-45:10.00", "CO-45:10.00"]  # kept
    assert concepts_of(second, CG.adjustedFor, one(second, CG.Remittance).key) == [
        (f"{CARC}|45", {"group": "CO", "amount": 20.0})
    ]
    assert not links(first, CG.hasRemark)


# -- 835 -------------------------------------------------------------------------------------
def test_835_payments_with_adjustments_name_the_837_claims_they_pay() -> None:
    claims = {one(r, CG.Claim).props[CG.controlNumber]: r for r in records(read(CLAIMS))}
    items = read(PAYMENTS)  # "~" with no line breaks
    first, second = records(items)
    assert len(items) == 2
    assert first.kind == "835 claim payment"

    rem = one(first, CG.Remittance)
    assert rem.props[CG.paymentAmount] == 110.0
    assert rem.props[CG.totalCharge] == 150.0
    assert rem.props[CG.patientResponsibility] == 20.0
    assert rem.props[CG.claimStatusCode] == "1"
    assert rem.props[CG.payerControlNumber] == "PAYERICN0001"
    assert rem.props[CG.paymentDate] == "2024-04-15"
    assert rem.props[CG.adjustments] == ["PR-3:20.00", "CO-45:10.00", "CO-45:10.00"]
    assert rem.key == "urn:caregraph:remittance:60054|TRACE7001:PCN1001:PAYERICN0001"
    assert one(second, CG.Remittance).props[CG.adjustments] == ["CO-45:20.00"]

    for payment, control in ((first, "PCN1001"), (second, "PCN1002")):
        (remits,) = links(payment, CG.remits)
        claim_rec = claims[control]
        assert remits.dst.cls == CG.Claim
        assert remits.dst.key == one(claim_rec, CG.Claim).key  # the pair meets on the claim
        (paid_by,) = links(payment, CG.paidBy)
        assert paid_by.dst.key == one(claim_rec, CG.Payer).key  # and on the payer


def test_one_reason_in_two_groups_is_two_links_in_the_graph(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    text = PAYMENTS.read_text()
    assert text.count("CAS*PR*3*20.00~") == 1
    path = tmp_path / "groups.835"
    path.write_text(text.replace("CAS*PR*3*20.00~", "CAS*PR*45*20.00~"))
    assert load(path, source="payer-x12").exit_code == 0
    rows, _, _ = driver.execute_query(
        "MATCH (:Remittance {controlNumber: 'PCN1001'})-[a:ADJUSTED_FOR]->(k:Concept) "
        "RETURN a.group AS grp, k.code AS reason, a.amount AS amount ORDER BY grp",
        database_=database,
    )
    assert [(r["grp"], r["reason"], r["amount"]) for r in rows] == [
        ("CO", "45", 20.0),
        ("PR", "45", 20.0),
    ]


# -- the shared samples ----------------------------------------------------------------------
def x12(samples: Path) -> Path:
    return samples / "x12"


def test_sample_837p_claim_facts(samples: Path) -> None:
    # demo.example1.837 declares 005010X222A2, read with pyx12's A1 map
    (rec,) = read(x12(samples) / "demo.example1.837")
    assert isinstance(rec, Record)
    claim = one(rec, CG.Claim)
    assert claim.key == keys.claim_key("1912301953", "26463774")
    assert claim.props[CG.totalCharge] == 100.0
    lines = items_of(rec)
    assert [n.props[CG.procedureCode] for n in lines] == [
        f"{CPT}|{c}" for c in ("99213", "87070", "99214", "86663")
    ]
    assert [n.props[CG.chargeAmount] for n in lines] == [40.0, 15.0, 35.0, 10.0]
    assert claim.props[CG.diagnosisCodes] == [f"{ICD9}|034.0", f"{ICD9}|V73.89"]
    assert (claim.props[CG.serviceStart], claim.props[CG.serviceEnd]) == (
        "2006-10-03",
        "2006-10-10",
    )
    assert providers(rec, claim.key) == {"billing": keys.npi("1912301953").token}

    (ambulance,) = read(x12(samples) / "demo.ambulance.example5.837")
    assert isinstance(ambulance, Record)
    assert one(ambulance, CG.Claim).props[CG.totalCharge] == 766.50
    assert [n.props[CG.procedureCode] for n in items_of(ambulance)] == [
        f"{HCPCS}|{c}" for c in ("A0427", "A0425", "A0422", "A0382")
    ]


def test_sample_837i_two_claims_of_one_provider(samples: Path) -> None:
    first, second = read(x12(samples) / "two-claims-single-provider.837i")
    assert isinstance(first, Record) and isinstance(second, Record)
    assert [one(r, CG.Claim).key for r in (first, second)] == [
        keys.claim_key("1234567890", "756048Q"),
        keys.claim_key("1234567890", "756049Q"),
    ]
    assert [one(r, CG.Claim).props[CG.totalCharge] for r in (first, second)] == [89.95, 50.0]
    assert [n.props[CG.procedureCode] for n in items_of(first)] == [
        f"{CPT}|85025",
        f"{CPT}|93005",
    ]
    assert one(second, CG.Claim).props[CG.serviceStart] == "2005-04-01"
    assert one(first, CG.Patient).key != one(second, CG.Patient).key


def test_sample_835_payments_and_adjustments(samples: Path) -> None:
    first, second = read(x12(samples) / "medicare-part-a.835")
    assert isinstance(first, Record) and isinstance(second, Record)
    rem = one(first, CG.Remittance)
    assert rem.props[CG.paymentAmount] == 138018.40
    assert rem.props[CG.adjustments] == ["CO-45:73348.57"]
    assert rem.props[CG.paymentDate] == "2002-09-13"
    assert links(first, CG.remits)[0].dst.key == keys.claim_key("6543210903", "666123")
    assert one(first, CG.Payer).key == "urn:caregraph:payer-id|999"  # 1000A REF*2U

    uhc = records(read(x12(samples) / "edi-835-parser" / "united_healthcare_legacy_sample.txt"))
    rem = one(uhc[1], CG.Remittance)  # ISA16 is ">": composites split on it
    assert rem.props[CG.paymentAmount] == 261.07
    assert rem.props[CG.adjustments] == ["CO-45:255.72", "PR-2:5.13", "PR-1:110.00", "CO-45:184.32"]
    assert one(uhc[1], CG.Payer).props[CG.payerId] == "87726"


def test_sample_codes_are_concepts(samples: Path) -> None:
    # demo.example1.837: HI*BK:0340*BF:V7389, ICD-9-CM; SV1*HC:99213 ... with pointers 1, 1, 2, 2
    (rec,) = read(x12(samples) / "demo.example1.837")
    assert isinstance(rec, Record)
    claim = one(rec, CG.Claim)
    assert concepts_of(rec, CG.billsDiagnosis, claim.key) == [
        (f"{ICD9}|034.0", {"role": "principal", "rank": 1}),
        (f"{ICD9}|V73.89", {"role": "other", "rank": 2}),
    ]
    lines = items_of(rec)
    assert [concepts_of(rec, CG.hasCode, n.key) for n in lines] == [
        [(f"{CPT}|{c}", {})] for c in ("99213", "87070", "99214", "86663")
    ]
    assert [concepts_of(rec, CG.billsDiagnosis, n.key)[0][0] for n in lines] == [
        f"{ICD9}|034.0",
        f"{ICD9}|034.0",
        f"{ICD9}|V73.89",
        f"{ICD9}|V73.89",
    ]
    # institutional-claim.837i: HI*BK:3669, HI*BF:4019*BF:79431, SV2*0305*HC:85025
    (inst,) = read(x12(samples) / "institutional-claim.837i")
    assert isinstance(inst, Record)
    assert concepts_of(inst, CG.billsDiagnosis, one(inst, CG.Claim).key) == [
        (f"{ICD9}|366.9", {"role": "principal", "rank": 1}),
        (f"{ICD9}|401.9", {"role": "other", "rank": 2}),
        (f"{ICD9}|794.31", {"role": "other", "rank": 3}),
    ]
    assert [concepts_of(inst, CG.hasCode, n.key) for n in items_of(inst)] == [
        [(f"{CPT}|85025", {})],
        [(f"{CPT}|93005", {})],
    ]
    # demo.ambulance.example5.837: an ICD-9 external cause code E8888 is E888.8
    (amb,) = read(x12(samples) / "demo.ambulance.example5.837")
    assert isinstance(amb, Record)
    assert [k for k, _ in concepts_of(amb, CG.billsDiagnosis, one(amb, CG.Claim).key)] == [
        f"{ICD9}|{c}" for c in ("862.8", "E888.8", "959.2", "854.0")
    ]
    assert concepts_of(amb, CG.hasCode, items_of(amb)[0].key) == [(f"{HCPCS_CANONICAL}|A0427", {})]

    # medicare-part-a.835: CAS*CO*45*73348.57; the second payment's MOA***MA02 is a remark
    first, second = read(x12(samples) / "medicare-part-a.835")
    assert isinstance(first, Record) and isinstance(second, Record)
    assert concepts_of(first, CG.adjustedFor, one(first, CG.Remittance).key) == [
        (f"{CARC}|45", {"group": "CO", "amount": 73348.57})
    ]
    assert concepts_of(second, CG.hasRemark, one(second, CG.Remittance).key) == [
        (f"{RARC}|MA02", {})
    ]
    # pyx12/835_mult_loops.txt: OA-A7 on two lines (127.80 + 287.55) and LQ*HE*N14 thrice
    (loops,) = read(x12(samples) / "pyx12" / "835_mult_loops.txt")
    assert isinstance(loops, Record)
    rem = one(loops, CG.Remittance)
    assert concepts_of(loops, CG.adjustedFor, rem.key) == [
        (f"{CARC}|16", {"group": "CO", "amount": 500.04}),
        (f"{CARC}|A7", {"group": "OA", "amount": 415.35}),
    ]
    assert concepts_of(loops, CG.hasRemark, rem.key) == [(f"{RARC}|N14", {})]


def test_sample_835_without_envelope_is_one_rejection(samples: Path) -> None:
    path = x12(samples) / "edi-835-parser" / "blue_cross_nc_sample.txt"
    assert LOADER.detect(path, path.read_bytes())
    (item,) = read(path)
    assert isinstance(item, Rejected)
    assert item.reason.startswith("no ISA interchange envelope")
    assert item.ref.file == str(path)


def test_sample_835_with_an_impossible_check_date_is_written_without_it(samples: Path) -> None:
    # managed-care.835's BPR16 is 20002316: a D8 date's shape, but month 23, not a date. The
    # payments are understood: written without a payment date, each with a warning.
    items = read(x12(samples) / "managed-care.835")
    assert [type(i) for i in items] == [Record, Record]
    for item in items:
        assert isinstance(item, Record)
        rem = one(item, CG.Remittance)
        assert CG.paymentDate not in rem.props and rem.props[CG.paymentAmount] in (450.0, 495.0)
        assert [(w.code, w.message) for w in item.warnings] == [
            ("unusual-value", "segment 4 (HEADER/BPR): BPR16 is not a valid date")
        ]


def test_sample_folder_reconciles_and_never_echoes_patients(samples: Path) -> None:
    read_count = loaded = rejected = skipped = 0
    for path in sorted(p for p in x12(samples).rglob("*") if p.is_file()):
        for item in read(path):
            read_count += 1
            if isinstance(item, Record):
                loaded += 1
            elif isinstance(item, Rejected):
                rejected += 1
                for name in ("BUDD", "SETTLE", "TOWNSEND", "BAKI", "BACH", "Dough", "JONES"):
                    assert name not in item.reason
            if isinstance(item, Record):
                for w in item.warnings:
                    for name in ("BUDD", "SETTLE", "TOWNSEND", "BAKI", "BACH", "599944521"):
                        assert name not in w.message
            elif isinstance(item, Skipped):
                skipped += 1
                assert item.kind == "999 transaction set"  # managed-care.835.997
    # rejected: the file without an ISA, and secondary-payment.835's second payment (its
    # composites use ">" where ISA16 declares ":", so no SVC of it can be placed)
    assert (loaded, rejected, skipped) == (17, 2, 1)
    assert read_count == loaded + rejected + skipped


# -- tolerance ---------------------------------------------------------------------------------
@pytest.mark.parametrize("eol", ["~", "~\n", "~\r\n"])
def test_segment_terminators_with_or_without_line_breaks(tmp_path: Path, eol: str) -> None:
    text = CLAIMS.read_text().replace("~\n", eol)
    path = tmp_path / "claims.x12"
    path.write_text(text, newline="")
    assert [one(r, CG.Claim).props[CG.controlNumber] for r in records(read(path))] == [
        "PCN1001",
        "PCN1002",
        "PCN1003",
    ]


def test_bom_leading_blank_lines_unpadded_isa_and_other_separators(tmp_path: Path) -> None:
    text = CLAIMS.read_text()
    isa, rest = text.split("~\n", 1)
    trimmed = "*".join(part.strip() for part in isa.split("*"))  # ISA fields not padded
    other = (trimmed + "~\n" + rest).replace("*", "|")  # element separator from ISA position 3
    path = tmp_path / "claims.x12"
    path.write_text("\ufeff\n\n  " + other, encoding="utf-8")
    recs = records(read(path))
    assert len(recs) == 3
    assert one(recs[0], CG.Claim).props[CG.totalCharge] == 150.0


def test_read_streams_one_claim_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A claim comes out as soon as the next one begins, before the rest of the file is read."""
    text = CLAIMS.read_text()
    start = text.index("CLM*PCN1003")
    end = text.index("SE*")
    claim = text[start:end]
    many = tmp_path / "many.837"
    many.write_text(text[:start] + claim * 2000 + text[end:])  # 2000 claims of one patient

    from caregraph.loaders.x12 import interchange

    seen: list[int] = []

    def counted(stream: object) -> Iterator[Seg]:
        for seg in segments(stream):  # type: ignore[arg-type]
            seen.append(seg.number)
            yield seg

    monkeypatch.setattr(interchange, "segments", counted)
    stream = iter(LOADER.read(many, "payer-x12"))
    for _ in range(3):
        assert isinstance(next(stream), Record)
    assert len(seen) < 100  # three claims in: far from the file's 10,000 segments
    assert len(seen) == seen[-1]


def test_a_file_cut_between_claims_says_it_is_truncated(tmp_path: Path) -> None:
    text = CLAIMS.read_text()
    path = tmp_path / "claims.x12"
    path.write_text(text[: text.index("SBR*P**GRP1002")])  # after the HL that ends claim 1
    first, cut = read(path)
    assert isinstance(first, Record)
    assert isinstance(cut, Rejected)
    assert cut.ref.position == "transaction set (segment 3)"
    assert "truncated" in cut.reason and "1 claim(s) before it were read" in cut.reason


# -- through the pipeline into Neo4j ---------------------------------------------------------
def test_remittance_remits_the_claim_it_pays_in_the_graph(
    load: Load, driver: Driver, database: str
) -> None:
    # the 835 first: its claims are stubs until the 837 arrives, then the same nodes
    report = load(PAYMENTS, CLAIMS, INSTITUTIONAL, source="payer-x12")
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert all(f.reconciles for f in report.files)
    assert (report.total("read"), report.total("written")) == (6, 6)

    records_, _, _ = driver.execute_query(
        "MATCH (r:Remittance)-[:REMITS]->(c:Claim {controlNumber: $control}) "
        "MATCH (r)-[:PAID_BY]->(payer:Payer)<-[:HAS_PAYER]-(c) "
        "MATCH (c)-[:HAS_ITEM]->(i:ClaimItem) "
        "MATCH (p:Patient)-[:HAS_CLAIM]->(c) "
        "MATCH (c)-[:HAS_PROVIDER {role: 'billing'}]->(b:Organization) "
        "RETURN r.paymentAmount AS paid, r.adjustments AS adjustments, c.stub AS stub, "
        "c.totalCharge AS total, count(DISTINCT i) AS lines, payer.payerId AS payer, "
        "p.familyName AS family, b.npi AS npi",
        control="PCN1001",
        database_=database,
    )
    assert len(records_) == 1
    row = records_[0]
    assert row["paid"] == 110.0 and row["total"] == 150.0 and row["lines"] == 2
    assert row["adjustments"] == ["PR-3:20.00", "CO-45:10.00", "CO-45:10.00"]
    assert row["stub"] is None  # the 837 filled the claim the 835 named first
    assert (row["payer"], row["family"], row["npi"]) == ("60054", "TESTPATIENT", "1234567893")
    assert count(driver, database, "MATCH (c:Claim) RETURN count(c)") == 4
    assert count(driver, database, "MATCH (:Remittance)-[:REMITS]->(c:Claim) RETURN count(c)") == 2
    assert count(driver, database, "MATCH (p:Payer) RETURN count(p)") == 1

    again = load(PAYMENTS, CLAIMS, INSTITUTIONAL, source="payer-x12")  # idempotent reload
    assert again.total("unchanged") == 6 and again.nodes_created == 0


def test_claims_and_payments_meet_on_concepts_in_the_graph(
    load: Load, driver: Driver, database: str
) -> None:
    report = load(CLAIMS, INSTITUTIONAL, PAYMENTS, source="payer-x12")
    assert report.exit_code == 0, report.as_json()["rejects"]
    before = fingerprint(driver, database)
    rows, _, _ = driver.execute_query(
        "MATCH (c:Claim)-[b:BILLS_DIAGNOSIS]->(k:Concept) "
        "RETURN c.controlNumber AS claim, b.role AS role, b.rank AS rank, k.system AS system, "
        "k.code AS code, b.sources IS NOT NULL AS sourced ORDER BY claim, rank",
        database_=database,
    )
    assert [(r["claim"], r["role"], r["rank"], r["code"]) for r in rows] == [
        ("PCN1001", "principal", 1, "E11.9"),
        ("PCN1001", "other", 2, "I10"),
        ("PCN1002", "principal", 1, "J06.9"),
        ("PCN1003", "principal", 1, "Z00.00"),
        ("PCN2001", "principal", 1, "I21.4"),
        ("PCN2001", "other", 2, "E11.9"),
        ("PCN2001", "other", 3, "I10"),
    ]
    assert {r["system"] for r in rows} == {ICD10} and all(r["sourced"] for r in rows)
    # one Concept per code, whichever claim bills it: E11.9 is billed by two claims
    e119 = "MATCH (k:Concept {key: $key})<-[:BILLS_DIAGNOSIS]-(c:Claim) RETURN count(c)"
    assert count(driver, database, e119, key=f"{ICD10}|E11.9") == 2
    assert count(driver, database, "MATCH (k:Concept) WHERE k:Entity RETURN count(k)") == 0
    rows, _, _ = driver.execute_query(
        "MATCH (c:Claim)-[:HAS_ITEM]->(i:ClaimItem)-[:HAS_CODE]->(k:Concept) "
        "RETURN c.controlNumber AS claim, i.sequence AS line, k.key AS code "
        "ORDER BY claim, line",
        database_=database,
    )
    assert [(r["claim"], r["line"], r["code"]) for r in rows] == [
        ("PCN1001", 1, f"{CPT}|99213"),
        ("PCN1001", 2, f"{CPT}|36415"),
        ("PCN1002", 1, f"{CPT}|99212"),
        ("PCN1003", 1, f"{HCPCS_CANONICAL}|G0008"),
        ("PCN2001", 2, f"{CPT}|80053"),
    ]
    rows, _, _ = driver.execute_query(
        "MATCH (r:Remittance)-[:REMITS]->(c:Claim) "
        "MATCH (r)-[a:ADJUSTED_FOR]->(k:Concept {system: $carc}) "
        "RETURN c.controlNumber AS claim, a.group AS grp, k.code AS reason, a.amount AS amount "
        "ORDER BY claim, grp",
        carc=CARC,
        database_=database,
    )
    assert [(r["claim"], r["grp"], r["reason"], r["amount"]) for r in rows] == [
        ("PCN1001", "CO", "45", 20.0),
        ("PCN1001", "PR", "3", 20.0),
        ("PCN1002", "CO", "45", 20.0),
    ]
    again = load(CLAIMS, INSTITUTIONAL, PAYMENTS, source="payer-x12")
    assert again.total("unchanged") == 6 and again.nodes_created == 0
    assert fingerprint(driver, database) == before


def test_sample_folder_loads_through_the_pipeline(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(x12(samples), source="x12-samples")
    assert all(f.reconciles for f in report.files)
    totals = report.as_json()["totals"]
    assert (totals["written"], totals["rejected"], totals["skipped"]) == (17, 2, 1)
    records_, _, _ = driver.execute_query(
        "MATCH (c:Claim {key: $key})-[:HAS_ITEM]->(i:ClaimItem) "
        "MATCH (c)-[:HAS_PROVIDER {role: 'billing'}]->(b) "
        "RETURN c.totalCharge AS total, b.npi AS npi, count(i) AS lines",
        key=keys.claim_key("1912301953", "26463774"),
        database_=database,
    )
    assert [(r["total"], r["npi"], r["lines"]) for r in records_] == [(100.0, "1912301953", 4)]
    records_, _, _ = driver.execute_query(
        "MATCH (c:Claim {key: $key})-[b:BILLS_DIAGNOSIS]->(k:Concept) "
        "RETURN b.role AS role, b.rank AS rank, k.key AS code ORDER BY rank",
        key=keys.claim_key("1912301953", "26463774"),
        database_=database,
    )
    assert [(r["role"], r["rank"], r["code"]) for r in records_] == [
        ("principal", 1, f"{ICD9}|034.0"),
        ("other", 2, f"{ICD9}|V73.89"),
    ]
    records_, _, _ = driver.execute_query(
        "MATCH (:Remittance {controlNumber: '666123'})-[a:ADJUSTED_FOR]->(k:Concept) "
        "RETURN a.group AS grp, k.key AS reason, a.amount AS amount",
        database_=database,
    )
    assert [(r["grp"], r["reason"], r["amount"]) for r in records_] == [
        ("CO", f"{CARC}|45", 73348.57)
    ]
    before = fingerprint(driver, database)
    load(x12(samples), source="x12-samples")
    assert fingerprint(driver, database) == before
    # no sample 835 pays a sample 837 claim: every claim a remittance names is a stub
    assert (
        count(
            driver,
            database,
            "MATCH (:Remittance)-[:REMITS]->(c:Claim) WHERE c.stub IS NULL RETURN count(c)",
        )
        == 0
    )


# -- the messier samples (x12-more) ------------------------------------------------------------
def x12_more(samples: Path) -> Path:
    return samples / "x12-more"


@pytest.mark.samples
def test_more_samples_reject_only_other_versions(samples: Path) -> None:
    """Every x12-more transaction 005010 allows is written; the 4010 files are unsupported."""
    outcome: dict[str, tuple[int, list[str], int]] = {}
    for path in sorted(p for p in x12_more(samples).rglob("*") if p.is_file()):
        items = read(path)
        rejected = [i for i in items if isinstance(i, Rejected)]
        for r in rejected:
            assert r.code == "unsupported" and "005010 only" in r.reason
        outcome[path.name] = (
            len(records(items)),
            [r.code for r in rejected],
            sum(isinstance(i, Skipped) for i in items),
        )
    assert outcome == {
        "4010-lfh-coordination-of-benefits.837": (0, ["unsupported"], 0),
        "4010-lfh-institutional.837": (0, ["unsupported"], 0),
        "4010-pyx12-835_simple.txt": (0, ["unsupported"], 0),
        "4010-pyx12-mult_isa.txt": (0, ["unsupported"] * 2, 0),
        "affect-835-nevada_medicaid.txt": (3, [], 0),
        "badx12-X221-dollars-and-data-sent-together.edi": (2, [], 0),
        "badx12-X221-multiple-claims-single-check.edi": (9, [], 0),
        "badx12-X222-COB-payer-a-to-payer-b.edi": (1, [], 0),
        "imsweb-x12_complex.txt": (6, [], 0),
        "imsweb-x12_multiple_gs.txt": (6, [], 0),
        "imsweb-x12_multiple_isa.txt": (4, [], 0),
        "imsweb-x12_valid_different_separators.txt": (2, [], 0),
        "imsweb-x223-test.txt": (1, [], 0),
        "lfh-demo.cob.example3.B.837": (1, [], 0),
    }


@pytest.mark.samples
def test_more_samples_warnings_say_what_and_where(samples: Path) -> None:
    nevada = records(read(x12_more(samples) / "affect-835-nevada_medicaid.txt"))
    assert {w.message for r in nevada for w in r.warnings} == {
        "segment 67 (IEA): IEA02 does not match ISA13: the trailer closes another interchange"
    }
    complex_ = records(read(x12_more(samples) / "imsweb-x12_complex.txt"))
    codes = [sorted({w.code for w in r.warnings}) for r in complex_]
    assert codes == ([["envelope"]] + [["envelope", "unusual-value"]] * 2) * 2
    # the claims under the repeated HL 2 (whose parent is named as 3, a later ID) keep the
    # billing provider above them, the one their position and level say
    billing = [providers(r, one(r, CG.Claim).key)["billing"] for r in complex_]
    assert len(set(billing)) == 1
    unmatched = records(read(x12_more(samples) / "badx12-X221-multiple-claims-single-check.edi"))
    assert all([w.code for w in r.warnings] == ["unmatched"] for r in unmatched)
    assert all(not links(r, CG.remits) and links(r, CG.paidBy) for r in unmatched)


@pytest.mark.samples
def test_more_samples_load_through_the_pipeline_and_reload_unchanged(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    report = load(x12_more(samples), source="x12-more")
    assert all(f.reconciles for f in report.files)
    totals = report.as_json()["totals"]
    assert (totals["written"], totals["rejected"], totals["skipped"]) == (35, 5, 0)
    assert set(report.reject_counts()) == {"unsupported"}
    assert {"envelope", "unmatched", "unusual-value"} <= set(report.warning_counts())
    before = fingerprint(driver, database)
    again = load(x12_more(samples), source="x12-more")
    assert again.total("unchanged") == 35 and again.nodes_created == 0
    assert fingerprint(driver, database) == before


def test_a_resent_interchange_and_an_unmatched_payment_through_the_pipeline(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    resent = tmp_path / "resent.837"
    resent.write_text(CLAIMS.read_text() * 3, newline="")
    payments = tmp_path / "payments.835"
    payments.write_text(
        PAYMENTS.read_text().replace(
            "N1*PE*CAREGRAPH TEST CLINIC*XX*1234567893", "N1*PE*CLINIC*FI*123456789"
        )
    )
    report = load(resent, payments, source="payer-x12")
    assert all(f.reconciles for f in report.files)
    assert (report.total("read"), report.total("written"), report.total("skipped")) == (7, 5, 2)
    assert [s.reason for s in report.skips] == [
        "duplicate of interchange 000000101 at segment 1: the same ISA13 and content again"
    ] * 2
    assert report.warning_counts()["unmatched"] == 2
    # the payments are there, with their payer, and linked to their claims by CLP01 = CLM01
    # and the same payer, since the payee's NPI cannot name the claim
    assert count(driver, database, "MATCH (:Remittance)-[:PAID_BY]->(:Payer) RETURN count(*)") == 2
    assert count(
        driver, database,
        "MATCH (r:Remittance)-[x:REMITS {rule: 'remittance-control-number'}]->(c:Claim) "
        "WHERE r.controlNumber = c.controlNumber RETURN count(*)",
    ) == 2  # fmt: skip
    assert report.links == {"remittance-control-number": 2}
    assert count(driver, database, "MATCH (c:Claim) RETURN count(c)") == 3
    again = load(resent, payments, source="payer-x12")
    assert again.total("unchanged") == 5 and again.nodes_created == 0


def test_an_unmatched_payment_is_linked_when_its_claim_arrives_later(
    load: Load, driver: Driver, database: str, tmp_path: Path
) -> None:
    payments = tmp_path / "payments.835"
    payments.write_text(
        PAYMENTS.read_text().replace(
            "N1*PE*CAREGRAPH TEST CLINIC*XX*1234567893", "N1*PE*CLINIC*FI*123456789"
        )
    )
    first = load(payments, source="payer")
    assert first.warning_counts()["unmatched"] == 2 and first.links == {}
    assert count(driver, database, "MATCH (:Remittance)-[:REMITS]->() RETURN count(*)") == 0
    later = load(CLAIMS, source="billing")
    assert later.links.get("remittance-control-number") == 2
    assert count(driver, database, "MATCH (:Remittance)-[:REMITS]->(:Claim) RETURN count(*)") == 2
