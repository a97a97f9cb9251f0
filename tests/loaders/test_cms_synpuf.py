"""CMS DE-SynPUF CSV: each table on small files built here, bad rows, the graph, the samples."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from neo4j import Driver

from caregraph.loaders import registry
from caregraph.loaders.cms_synpuf import LOADER
from caregraph.loaders.records import Item, Link, Node, Record, Rejected, Skipped
from caregraph.loaders.synthea import LOADER as SYNTHEA
from caregraph.ontology.vocab import CG, local_name
from tests.loaders.conftest import Load, count, fingerprint


def numbered(name: str, n: int) -> list[str]:
    return [f"{name}_{i}" for i in range(1, n + 1)]


# the DE-SynPUF codebook's columns, in its order
BENEFICIARY = [
    "DESYNPUF_ID", "BENE_BIRTH_DT", "BENE_DEATH_DT", "BENE_SEX_IDENT_CD", "BENE_RACE_CD",
    "BENE_ESRD_IND", "SP_STATE_CODE", "BENE_COUNTY_CD", "BENE_HI_CVRAGE_TOT_MONS",
    "BENE_SMI_CVRAGE_TOT_MONS", "BENE_HMO_CVRAGE_TOT_MONS", "PLAN_CVRG_MOS_NUM", "SP_ALZHDMTA",
    "SP_CHF", "SP_CHRNKIDN", "SP_CNCR", "SP_COPD", "SP_DEPRESSN", "SP_DIABETES", "SP_ISCHMCHT",
    "SP_OSTEOPRS", "SP_RA_OA", "SP_STRKETIA", "MEDREIMB_IP", "BENRES_IP", "PPPYMT_IP",
    "MEDREIMB_OP", "BENRES_OP", "PPPYMT_OP", "MEDREIMB_CAR", "BENRES_CAR", "PPPYMT_CAR",
]  # fmt: skip
CARRIER = [
    "DESYNPUF_ID", "CLM_ID", "CLM_FROM_DT", "CLM_THRU_DT", *numbered("ICD9_DGNS_CD", 8),
    *[col for name in (
        "PRF_PHYSN_NPI", "TAX_NUM", "HCPCS_CD", "LINE_NCH_PMT_AMT", "LINE_BENE_PTB_DDCTBL_AMT",
        "LINE_BENE_PRMRY_PYR_PD_AMT", "LINE_COINSRNC_AMT", "LINE_ALOWD_CHRG_AMT",
        "LINE_PRCSG_IND_CD", "LINE_ICD9_DGNS_CD",
    ) for col in numbered(name, 13)],
]  # fmt: skip
INPATIENT = [
    "DESYNPUF_ID", "CLM_ID", "SEGMENT", "CLM_FROM_DT", "CLM_THRU_DT", "PRVDR_NUM", "CLM_PMT_AMT",
    "NCH_PRMRY_PYR_CLM_PD_AMT", "AT_PHYSN_NPI", "OP_PHYSN_NPI", "OT_PHYSN_NPI", "CLM_ADMSN_DT",
    "ADMTNG_ICD9_DGNS_CD", "CLM_PASS_THRU_PER_DIEM_AMT", "NCH_BENE_IP_DDCTBL_AMT",
    "NCH_BENE_PTA_COINSRNC_LBLTY_AM", "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM", "CLM_UTLZTN_DAY_CNT",
    "NCH_BENE_DSCHRG_DT", "CLM_DRG_CD", *numbered("ICD9_DGNS_CD", 10),
    *numbered("ICD9_PRCDR_CD", 6), *numbered("HCPCS_CD", 45),
]  # fmt: skip
OUTPATIENT = [
    "DESYNPUF_ID", "CLM_ID", "SEGMENT", "CLM_FROM_DT", "CLM_THRU_DT", "PRVDR_NUM", "CLM_PMT_AMT",
    "NCH_PRMRY_PYR_CLM_PD_AMT", "AT_PHYSN_NPI", "OP_PHYSN_NPI", "OT_PHYSN_NPI",
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM", *numbered("ICD9_DGNS_CD", 10),
    *numbered("ICD9_PRCDR_CD", 6), "NCH_BENE_PTB_DDCTBL_AMT", "NCH_BENE_PTB_COINSRNC_AMT",
    "ADMTNG_ICD9_DGNS_CD", *numbered("HCPCS_CD", 45),
]  # fmt: skip
DRUG_EVENTS = [
    "DESYNPUF_ID", "PDE_ID", "SRVC_DT", "PROD_SRVC_ID", "QTY_DSPNSD_NUM", "DAYS_SUPLY_NUM",
    "PTNT_PAY_AMT", "TOT_RX_CST_AMT",
]  # fmt: skip

ALICE, BOB = "00013D2EFD8E45D1", "00016F745862898F"
NPI_1, NPI_2 = "1234567893", "9876543210"


def row(header: list[str], **values: str) -> str:
    """A line with ``values`` in their columns and every other column empty."""
    unknown = set(values) - set(header)
    assert not unknown, unknown
    return ",".join(values.get(col, "") for col in header)


def write(path: Path, header: list[str], lines: list[str]) -> Path:
    path.write_text("\n".join([",".join(f'"{h}"' for h in header), *lines]) + "\n")
    return path


def beneficiary(pid: str, **values: str) -> str:
    cols = {"BENE_BIRTH_DT": "19230501", "BENE_SEX_IDENT_CD": "2", "SP_STATE_CODE": "10"}
    return row(BENEFICIARY, DESYNPUF_ID=pid, **{**cols, **values})


def carrier(pid: str, clm: str, **values: str) -> str:
    cols = {"CLM_FROM_DT": "20090312", "CLM_THRU_DT": "20090312", "ICD9_DGNS_CD_1": "4019",
            "ICD9_DGNS_CD_2": "V5869", "ICD9_DGNS_CD_3": "E8889", "PRF_PHYSN_NPI_1": NPI_1,
            "HCPCS_CD_1": "99213", "LINE_NCH_PMT_AMT_1": "50", "LINE_COINSRNC_AMT_1": "10",
            "LINE_ALOWD_CHRG_AMT_1": "60", "LINE_ICD9_DGNS_CD_1": "4019",
            "PRF_PHYSN_NPI_3": NPI_2, "HCPCS_CD_3": "G0008", "LINE_NCH_PMT_AMT_3": "20",
            "LINE_BENE_PTB_DDCTBL_AMT_3": "5"}  # fmt: skip
    zeros = {f"LINE_NCH_PMT_AMT_{n}": "0" for n in range(1, 14)}  # DE-SynPUF fills every line
    return row(CARRIER, DESYNPUF_ID=pid, CLM_ID=clm, **{**zeros, **cols, **values})


def inpatient(pid: str, clm: str, segment: str = "1", **values: str) -> str:
    cols = {"CLM_FROM_DT": "20100101", "CLM_THRU_DT": "20100105", "PRVDR_NUM": "2600GD",
            "CLM_PMT_AMT": "4000", "NCH_PRMRY_PYR_CLM_PD_AMT": "0", "AT_PHYSN_NPI": NPI_1,
            "OP_PHYSN_NPI": NPI_2, "CLM_ADMSN_DT": "20100101", "ADMTNG_ICD9_DGNS_CD": "78650",
            "NCH_BENE_IP_DDCTBL_AMT": "1100", "NCH_BENE_PTA_COINSRNC_LBLTY_AM": "0",
            "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": "0", "NCH_BENE_DSCHRG_DT": "20100105",
            "CLM_DRG_CD": "313", "ICD9_DGNS_CD_1": "41401", "ICD9_DGNS_CD_2": "4280",
            "ICD9_PRCDR_CD_1": "8856"}  # fmt: skip
    return row(INPATIENT, DESYNPUF_ID=pid, CLM_ID=clm, SEGMENT=segment, **{**cols, **values})


def outpatient(pid: str, clm: str, **values: str) -> str:
    cols = {"SEGMENT": "1", "CLM_FROM_DT": "20080704", "CLM_THRU_DT": "20080704",
            "PRVDR_NUM": "3900MB", "CLM_PMT_AMT": "70", "AT_PHYSN_NPI": NPI_2,
            "NCH_BENE_PTB_COINSRNC_AMT": "20", "NCH_BENE_PTB_DDCTBL_AMT": "0",
            "ICD9_DGNS_CD_1": "7295", "HCPCS_CD_1": "73610", "HCPCS_CD_2": "99283"}  # fmt: skip
    return row(OUTPATIENT, DESYNPUF_ID=pid, CLM_ID=clm, **{**cols, **values})


@pytest.fixture
def export(tmp_path: Path) -> Path:
    d = tmp_path / "synpuf"
    d.mkdir()
    write(
        d / "DE1_0_2008_Beneficiary_Summary_File_Sample_1.csv",
        BENEFICIARY,
        [beneficiary(ALICE), beneficiary(BOB, BENE_SEX_IDENT_CD="1", SP_STATE_CODE="54")],
    )
    # the same beneficiaries a year later: the same patients, one of them now deceased
    write(
        d / "DE1_0_2009_Beneficiary_Summary_File_Sample_1.csv",
        BENEFICIARY,
        [beneficiary(ALICE, BENE_DEATH_DT="20091201"), beneficiary(BOB, BENE_SEX_IDENT_CD="1")],
    )
    write(
        d / "DE1_0_2008_to_2010_Carrier_Claims_Sample_1A.csv",
        CARRIER,
        [carrier(ALICE, "887183386210156"), carrier(BOB, "887813385580082")],
    )
    write(
        d / "DE1_0_2008_to_2010_Inpatient_Claims_Sample_1.csv",
        INPATIENT,
        [inpatient(ALICE, "196661176988405"), inpatient(ALICE, "196661176988405", "2")],
    )
    write(d / "DE1_0_2008_to_2010_Outpatient_Claims_Sample_1.csv", OUTPATIENT,
          [outpatient(BOB, "542192281063886")])  # fmt: skip
    return d


def read(path: Path) -> list[Item]:
    return list(LOADER.read(path, "synpuf"))


def records(items: Iterable[Item]) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def nodes(rec: Record, cls: object) -> list[Node]:
    return [n for n in rec.nodes if n.cls == cls]


def one(rec: Record, cls: object) -> Node:
    found = nodes(rec, cls)
    assert len(found) == 1, found
    return found[0]


def links(rec: Record, rel: object) -> list[Link]:
    return [x for x in rec.links if x.rel == rel]


def coded(rec: Record, rel: object) -> list[tuple[str, str, dict[str, object]]]:
    """(holder key, Concept key, link properties) of the record's ``rel`` links."""
    return [
        (x.src.key, x.dst.key, {local_name(p): v for p, v in x.props.items()})
        for x in links(rec, rel)
    ]


def warnings(rec: Record) -> list[str]:
    return [f"{w.code}: {w.message}" for w in rec.warnings]


def test_detects_each_table_by_its_header_not_its_name(export: Path, tmp_path: Path) -> None:
    for path in export.iterdir():
        renamed = tmp_path / f"x{path.name[-6:]}"
        renamed.write_bytes(path.read_bytes())
        found = registry.detect(renamed)
        assert found is not None and found.format == "cms-synpuf", path.name
        assert not SYNTHEA.detect(renamed, renamed.read_bytes())
    other = write(tmp_path / "DE1_0_2008_Beneficiary_Summary_File_Sample_2.csv", ["A", "B"], [])
    assert registry.detect(other) is None


def test_beneficiary_is_a_patient_with_medicare_coverage(export: Path) -> None:
    alice, bob = records(read(export / "DE1_0_2008_Beneficiary_Summary_File_Sample_1.csv"))
    patient = one(alice, CG.Patient)
    assert patient.key == f"urn:caregraph:cms-synpuf:beneficiary|{ALICE}"
    assert [(i.system, i.type) for i in patient.identifiers] == [
        ("urn:caregraph:cms-synpuf:beneficiary", "MB")
    ]
    assert patient.props[CG.birthDate] == "1923-05-01"
    assert patient.props[CG.gender] == "female"
    assert patient.props[CG.state] == "FL"  # SSA state code 10
    assert CG.deceased not in patient.props  # a year without a death says nothing more
    assert alice.ref.record_id == f"beneficiary/{ALICE}" and alice.ref.position == "line 2"
    coverage = one(alice, CG.Coverage)
    assert coverage.props[CG.memberId] == ALICE
    assert one(alice, CG.Payer).props[CG.name] == "Medicare"
    assert [(x.src.key, x.dst.key) for x in links(alice, CG.hasCoverage)] == [
        (patient.key, coverage.key)
    ]
    assert alice.warnings == []
    # SSA 54 is DE-SynPUF's "others": no state, and nothing unusual about it
    assert CG.state not in one(bob, CG.Patient).props and bob.warnings == []
    assert one(bob, CG.Patient).props[CG.gender] == "male"

    later = records(read(export / "DE1_0_2009_Beneficiary_Summary_File_Sample_1.csv"))
    assert one(later[0], CG.Patient).key == patient.key
    assert one(later[0], CG.Patient).props[CG.deceased] is True


def test_carrier_claim_lines_providers_and_medicare_payment(export: Path) -> None:
    rec = records(read(export / "DE1_0_2008_to_2010_Carrier_Claims_Sample_1A.csv"))[0]
    assert rec.warnings == [] and rec.ref.record_id == "carrier/887183386210156"
    claim = one(rec, CG.Claim)
    assert claim.key == "urn:caregraph:cms-synpuf:claim|887183386210156"
    assert claim.props[CG.controlNumber] == "887183386210156"
    assert claim.props[CG.claimType] == "professional"
    assert (claim.props[CG.serviceStart], claim.props[CG.serviceEnd]) == ("2009-03-12",) * 2
    icd9 = "http://hl7.org/fhir/sid/icd-9-cm"
    assert claim.props[CG.diagnosisCodes] == [f"{icd9}|401.9", f"{icd9}|V58.69", f"{icd9}|E888.9"]
    assert [(x.src.key, x.dst.key) for x in links(rec, CG.hasClaim)] == [
        (f"urn:caregraph:cms-synpuf:beneficiary|{ALICE}", claim.key)
    ]
    # lines 1 and 3 only: the others are empty (zeros)
    items = {n.props[CG.sequence]: n for n in nodes(rec, CG.ClaimItem)}
    assert sorted(items) == [1, 3]
    assert items[1].props[CG.procedureCode] == "http://www.ama-assn.org/go/cpt|99213"
    assert items[3].props[CG.procedureCode] == (
        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|G0008"
    )
    assert items[1].props[CG.diagnosisCodes] == [f"{icd9}|401.9"]
    assert coded(rec, CG.billsDiagnosis) == [
        (claim.key, f"{icd9}|401.9", {"role": "principal", "rank": 1}),
        (claim.key, f"{icd9}|V58.69", {"role": "other", "rank": 2}),
        (claim.key, f"{icd9}|E888.9", {"role": "other", "rank": 3}),
        (items[1].key, f"{icd9}|401.9", {"rank": 1}),  # LINE_ICD9_DGNS_CD_1
    ]
    assert coded(rec, CG.hasCode) == [
        (items[1].key, "http://www.ama-assn.org/go/cpt|99213", {}),
        (items[3].key, "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets|G0008", {}),
    ]
    rendering = {(x.src.key, x.dst.key, x.props[CG.role]) for x in links(rec, CG.hasProvider)}
    npi = "http://hl7.org/fhir/sid/us-npi"
    assert rendering == {
        (claim.key, f"{npi}|{NPI_1}", "rendering"), (items[1].key, f"{npi}|{NPI_1}", "rendering"),
        (claim.key, f"{npi}|{NPI_2}", "rendering"), (items[3].key, f"{npi}|{NPI_2}", "rendering"),
    }  # fmt: skip
    assert {n.props[CG.npi] for n in nodes(rec, CG.Practitioner)} == {NPI_1, NPI_2}
    paid = one(rec, CG.Remittance)
    assert paid.props[CG.paymentAmount] == 70.0
    assert paid.props[CG.patientResponsibility] == 15.0
    assert sorted(paid.props[CG.adjustments]) == ["PR-1:5.00", "PR-2:10.00"]  # type: ignore[arg-type]
    assert [x.dst.key for x in links(rec, CG.remits)] == [claim.key]
    assert [x.dst.key for x in links(rec, CG.paidBy)] == ["urn:caregraph:cms-synpuf:payer|medicare"]


def test_inpatient_claim_bills_the_stay_it_asserts(export: Path) -> None:
    first, second = records(read(export / "DE1_0_2008_to_2010_Inpatient_Claims_Sample_1.csv"))
    claim = one(first, CG.Claim)
    assert claim.key == "urn:caregraph:cms-synpuf:claim|196661176988405:1"
    assert one(second, CG.Claim).key == "urn:caregraph:cms-synpuf:claim|196661176988405:2"
    assert claim.props[CG.claimType] == "institutional"
    icd9 = "http://hl7.org/fhir/sid/icd-9-cm"
    # principal first, the admitting diagnosis after the others
    assert claim.props[CG.diagnosisCodes] == [f"{icd9}|414.01", f"{icd9}|428.0", f"{icd9}|786.50"]
    assert coded(first, CG.billsDiagnosis) == [
        (claim.key, f"{icd9}|414.01", {"role": "principal", "rank": 1}),
        (claim.key, f"{icd9}|428.0", {"role": "other", "rank": 2}),
        (claim.key, f"{icd9}|786.50", {"role": "admitting", "rank": 3}),
    ]
    stay = one(first, CG.Encounter)
    assert (
        stay.key
        == one(second, CG.Encounter).key
        == ("urn:caregraph:cms-synpuf:encounter|196661176988405")
    )
    assert stay.props[CG.encounterClass] == "IMP"
    assert (stay.props[CG.start], stay.props[CG.end]) == ("2010-01-01", "2010-01-05")
    assert stay.props[CG.reasonCode] == f"{icd9}|786.50"
    assert [x.dst.key for x in links(first, CG.forEncounter)] == [stay.key]
    assert [x.src.key for x in links(first, CG.hasEncounter)] == [
        f"urn:caregraph:cms-synpuf:beneficiary|{ALICE}"
    ]
    ccn = "https://bluebutton.cms.gov/resources/variables/prvdr_num|2600GD"
    assert one(first, CG.Organization).key == ccn
    roles = {(x.dst.key.rsplit("|", 1)[-1], x.props[CG.role]) for x in links(first, CG.hasProvider)}
    assert roles == {(NPI_1, "attending"), (NPI_2, "operating"), ("2600GD", "billing")}
    assert [x.dst.key for x in links(first, CG.serviceProvider)] == [ccn]
    assert [x.props[CG.role] for x in links(first, CG.hasParticipant)] == ["attending"]
    paid = one(first, CG.Remittance)
    assert (paid.props[CG.paymentAmount], paid.props[CG.patientResponsibility]) == (4000.0, 1100.0)
    assert nodes(first, CG.ClaimItem) == []  # no HCPCS lines: the shapes warn, not the loader
    assert first.warnings == []


def test_outpatient_claim_has_its_hcpcs_lines_and_no_encounter(export: Path) -> None:
    (rec,) = records(read(export / "DE1_0_2008_to_2010_Outpatient_Claims_Sample_1.csv"))
    assert one(rec, CG.Claim).key == "urn:caregraph:cms-synpuf:claim|542192281063886:1"
    assert [n.props[CG.procedureCode] for n in nodes(rec, CG.ClaimItem)] == [
        "http://www.ama-assn.org/go/cpt|73610", "http://www.ama-assn.org/go/cpt|99283"
    ]  # fmt: skip
    assert nodes(rec, CG.Encounter) == []
    assert one(rec, CG.Remittance).props[CG.adjustments] == ["PR-2:20.00"]
    assert rec.warnings == []


SECRETS = ("oops", "4O19", "HELLO", "20100230", "Zoë", ALICE)


def test_bad_rows_rejected_for_syntax_or_identity_only(tmp_path: Path) -> None:
    path = write(tmp_path / "carrier.csv", CARRIER, [
        carrier(ALICE, "1"),  # line 2: good
        carrier("", "2"),  # line 3: no beneficiary
        carrier(ALICE, ""),  # line 4: no claim id
        carrier(ALICE, "4") + ",extra",  # line 5: a field too many
        carrier(ALICE, "5", CLM_FROM_DT="20100230", LINE_NCH_PMT_AMT_1="oops",
                ICD9_DGNS_CD_2="4O19", HCPCS_CD_3="HELLO"),  # line 6: written, with warnings
    ])  # fmt: skip
    with path.open("ab") as fh:
        fh.write(carrier(ALICE, "6", ICD9_DGNS_CD_4="Zoë").encode("latin-1") + b"\n")  # line 7
    items = read(path)
    rejected = {r.ref.position: r for r in items if isinstance(r, Rejected)}
    assert {p: (r.code, r.reason) for p, r in rejected.items()} == {
        "line 3": ("identity", "carrier: required column DESYNPUF_ID is empty"),
        "line 4": ("identity", "carrier: required column CLM_ID is empty"),
        "line 5": ("syntax", "carrier: line has 143 fields, the header has 142"),
        "line 7": ("syntax", "carrier: line is not valid UTF-8"),
    }
    written = {r.ref.position: r for r in records(items)}
    assert sorted(written) == ["line 2", "line 6"]
    odd = written["line 6"]
    assert warnings(odd) == [
        "unusual-value: carrier: column CLM_FROM_DT is not a date (YYYYMMDD): left out",
        "unusual-value: carrier: column ICD9_DGNS_CD_2 is not an ICD-9-CM diagnosis code: left out",
        "unusual-value: carrier: column LINE_NCH_PMT_AMT_1 is not an amount: left out",
        "unusual-value: carrier: column HCPCS_CD_3 is not a HCPCS code: left out",
    ]
    claim = one(odd, CG.Claim)
    assert CG.serviceStart not in claim.props and claim.props[CG.serviceEnd] == "2009-03-12"
    assert len(claim.props[CG.diagnosisCodes]) == 2  # type: ignore[arg-type]
    # line 3 keeps its provider and amounts without its code; line 1's payment is left out
    items_ = {n.props[CG.sequence]: n for n in nodes(odd, CG.ClaimItem)}
    assert CG.procedureCode not in items_[3].props
    assert one(odd, CG.Remittance).props[CG.paymentAmount] == 20.0
    for item in items:  # never a patient value in a reason or a warning
        texts = [item.reason] if isinstance(item, Rejected) else []
        texts += warnings(item) if isinstance(item, Record) else []
        for text in texts:
            assert all(secret not in text for secret in SECRETS), text


def test_beneficiary_values_outside_their_tables_are_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "bene.csv", BENEFICIARY, [
        beneficiary(ALICE, BENE_SEX_IDENT_CD="7", SP_STATE_CODE="99", BENE_BIRTH_DT="19991399",
                    BENE_DEATH_DT="2010"),
        beneficiary(BOB, BENE_SEX_IDENT_CD="", BENE_BIRTH_DT=""),
        row(BENEFICIARY, BENE_BIRTH_DT="19230501"),  # no DESYNPUF_ID
    ])  # fmt: skip
    odd, empty, rejected = read(path)
    assert isinstance(odd, Record) and isinstance(empty, Record)
    assert warnings(odd) == [
        "unusual-value: beneficiary: column BENE_SEX_IDENT_CD is not 1 or 2: read as unknown",
        "unusual-value: beneficiary: column SP_STATE_CODE is not an SSA state code: left out",
        "unusual-value: beneficiary: column BENE_DEATH_DT is not a date (YYYYMMDD): left out",
        "unusual-value: beneficiary: column BENE_BIRTH_DT is not a date (YYYYMMDD): left out",
    ]
    patient = one(odd, CG.Patient)
    assert patient.props[CG.gender] == "unknown"
    assert patient.props[CG.deceased] is True  # a death without a readable date is a death
    assert CG.state not in patient.props and CG.birthDate not in patient.props
    assert warnings(empty) == [
        "incomplete: beneficiary: column BENE_BIRTH_DT is empty",
        "incomplete: beneficiary: column BENE_SEX_IDENT_CD is empty",
    ]
    assert CG.gender not in one(empty, CG.Patient).props
    assert isinstance(rejected, Rejected) and rejected.code == "identity"
    assert rejected.ref.record_id is None
    for text in [*warnings(odd), *warnings(empty), rejected.reason]:
        assert all(s not in text for s in (ALICE, BOB, "19991399", "99", "2010", "19230501"))


def test_drug_events_are_skipped_with_their_reason(tmp_path: Path) -> None:
    line = row(DRUG_EVENTS, DESYNPUF_ID=ALICE, PDE_ID="899", PROD_SRVC_ID="00093")
    path = write(tmp_path / "pde.csv", DRUG_EVENTS, [line])
    (item,) = read(path)
    assert isinstance(item, Skipped) and item.reason == "caregraph does not model drugs"


def test_loads_into_the_graph_and_reloads_unchanged(
    load: Load, driver: Driver, database: str, export: Path
) -> None:
    report = load(export, source="synpuf")
    assert report.exit_code == 0, report.as_json()["rejects"]
    assert all(f.reconciles for f in report.files)
    assert (report.total("read"), report.total("written")) == (9, 9)
    # the inpatient claims have no HCPCS lines: the shapes' warning, nothing else
    assert report.warning_counts() == {"incomplete": 2}

    # two yearly files, one patient each; Alice died in the second year
    assert count(driver, database, "MATCH (p:Patient) RETURN count(p)") == 2
    assert count(driver, database, "MATCH (p:Patient {deceased: true}) RETURN count(p)") == 1
    claims, _, _ = driver.execute_query(
        "MATCH (p:Patient)-[:HAS_CLAIM]->(c:Claim) WHERE p.stub IS NULL "
        "RETURN p.key AS p, count(c) AS n ORDER BY p",
        database_=database,
    )
    assert [(r["p"].rsplit("|", 1)[-1], r["n"]) for r in claims] == [(ALICE, 3), (BOB, 2)]
    # providers by NPI: one node per NPI across all three claim tables
    assert count(driver, database, "MATCH (p:Practitioner) RETURN count(p)") == 2
    assert count(
        driver, database,
        "MATCH (:Claim)-[:HAS_PROVIDER]->(p:Practitioner {npi: $npi}) RETURN count(*)", npi=NPI_2,
    ) == 5  # fmt: skip  # both carrier claims, both inpatient segments, the outpatient claim
    # the stay both segments bill, with its patient, institution and attending
    assert count(
        driver, database,
        "MATCH (p:Patient)-[:HAS_ENCOUNTER]->(e:Encounter {encounterClass: 'IMP'})"
        "<-[:FOR_ENCOUNTER]-(c:Claim) MATCH (e)-[:SERVICE_PROVIDER]->(:Organization) "
        "MATCH (e)-[:HAS_PARTICIPANT {role: 'attending'}]->(:Practitioner {npi: $npi}) "
        "RETURN count(DISTINCT c)",
        npi=NPI_1,
    ) == 2  # fmt: skip
    assert count(
        driver, database,
        "MATCH (:Remittance)-[:REMITS]->(c:Claim)-[:HAS_PAYER]->(:Payer {name: 'Medicare'}) "
        "MATCH (c)-[:COVERED_BY]->(:Coverage)<-[:HAS_COVERAGE]-(:Patient) RETURN count(c)",
    ) == 5  # fmt: skip

    # the admitting diagnosis 786.50 of both segments of the stay: one Concept
    assert count(
        driver, database,
        "MATCH (c:Claim)-[:BILLS_DIAGNOSIS {role: 'admitting'}]->(k:Concept {key: $key}) "
        "RETURN count(DISTINCT c) * 10 + count(DISTINCT k)",
        key="http://hl7.org/fhir/sid/icd-9-cm|786.50",
    ) == 21  # fmt: skip

    before = fingerprint(driver, database)
    again = load(export, source="synpuf")
    assert fingerprint(driver, database) == before
    assert again.total("unchanged") == 9
    assert again.nodes_created == 0 and again.relationships_created == 0


@pytest.mark.samples
def test_sample_files_load_without_rejection(
    load: Load, driver: Driver, database: str, samples: Path
) -> None:
    folder = samples / "cms-synpuf"
    report = load(folder, source="cms-synpuf")
    assert all(f.reconciles for f in report.files)
    assert {Path(f.path).name: (f.format, f.read, f.written) for f in report.files} == {
        "DE1_0_2008_Beneficiary_Summary_File_Sample_0.csv": ("cms-synpuf", 2, 2),
        "DE1_0_2008_to_2010_Carrier_Claims_Sample_0A.csv": ("cms-synpuf", 1, 1),
        "DE1_0_2008_to_2010_Inpatient_Claims_Sample_0.csv": ("cms-synpuf", 2, 2),
        "DE1_0_2008_to_2010_Outpatient_Claims_Sample_0.csv": ("cms-synpuf", 2, 2),
    }
    assert report.total("rejected") == 0 and report.exit_code == 0
    # every claim is its beneficiary's; no stub patient is left
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub IS NULL RETURN count(p)") == 2
    assert count(driver, database, "MATCH (p:Patient) WHERE p.stub RETURN count(p)") == 0
    assert count(driver, database, "MATCH (:Patient)-[:HAS_CLAIM]->(c) RETURN count(c)") == 5
    again = load(folder, source="cms-synpuf")
    assert again.total("unchanged") == 7 and again.nodes_created == 0
