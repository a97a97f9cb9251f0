"""X12 bad input: each bad claim, envelope or file rejected with where and why, the rest read.

Every case starts from the project's own valid 837P (three claims: PCN1001 for the subscriber,
PCN1002 and PCN1003 for a dependent) or 835 and breaks one thing. A reason must name the
segment number and its loop/segment id, and never a patient's name, id, birth date or
account number.
"""

from __future__ import annotations

import random
from pathlib import Path

from caregraph.loaders.records import Item, Record, Rejected, Skipped
from caregraph.loaders.x12 import LOADER
from caregraph.ontology.vocab import CG

DATA = Path(__file__).resolve().parents[1] / "data" / "x12"
CLAIMS = (DATA / "claims.837").read_text()
PAYMENTS = (DATA / "payments.835").read_text()
# values of the test patients that a reason must never echo
PATIENT_VALUES = (
    "TESTPATIENT",
    "ALPHA",
    "TESTSUBSCRIBER",
    "BETA",
    "TESTCHILD",
    "GAMMA",
    "MEM1001",
    "MEM2002",
    "19800115",
    "20150910",
    "2024-13-45",
    "PCN100",
    "O'BRIEN",
)


class Outcome:
    """What reading one file gave: records by claim number, rejections, skips."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: list[Item] = list(LOADER.read(path, "payer-x12"))
        self.records = [i for i in self.items if isinstance(i, Record)]
        self.rejected = [i for i in self.items if isinstance(i, Rejected)]
        self.skipped = [i for i in self.items if isinstance(i, Skipped)]
        assert len(self.items) == len(self.records) + len(self.rejected) + len(self.skipped)
        for r in self.rejected:
            assert r.format == "x12" and r.ref.file == str(path)
            for value in PATIENT_VALUES:
                assert value not in r.reason, f"{value!r} echoed in: {r.reason}"

    @property
    def controls(self) -> list[str]:
        """CLM01 / CLP01 of the records read, in order."""
        out: list[str] = []
        for rec in self.records:
            for node in rec.nodes:
                if node.cls in (CG.Claim, CG.Remittance):
                    out.append(str(node.props[CG.controlNumber]))
        return out

    def message(self, n: int = 0) -> str:
        """How a report shows rejection ``n``: file, position, record id, reason."""
        r = self.rejected[n]
        return f"{r.ref.where()}: {r.reason}"


def warnings(rec: Record) -> list[tuple[str, str]]:
    return [(w.code, w.message) for w in rec.warnings]


def write(tmp_path: Path, text: str | bytes, name: str = "claims.837") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, newline="")
    return path


def drop(text: str, *segments: str) -> str:
    """The text without the segments (whole lines) that start with any of ``segments``."""
    lines = text.split("~\n")
    return "~\n".join(x for x in lines if not any(x.startswith(s) for s in segments))


def second_interchange(text: str) -> str:
    """The same interchange under another control number, to follow a broken one."""
    return text.replace("000000101", "000000201")


# -- the cases -------------------------------------------------------------------------------
def test_truncated_mid_claim_loads_the_claims_before_the_cut(tmp_path: Path) -> None:
    cut = CLAIMS.index("SV1*HC:G0008") + len("SV1*HC:G0")  # inside claim 3's service line
    out = Outcome(write(tmp_path, CLAIMS[:cut]))
    assert out.controls == ["PCN1001", "PCN1002"]
    (rejected,) = out.rejected
    assert rejected.ref.position == "claim 3 (segment 51)"
    assert rejected.ref.record_id == "0001/claim 3"
    assert "ends after segment 53 (2400/LX)" in rejected.reason
    assert "truncated" in rejected.reason
    assert str(out.path) in out.message()


def test_utf16_is_rejected_as_a_wrong_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, CLAIMS.encode("utf-16"))
    assert LOADER.detect(path, path.read_bytes()[:4096])  # known as X12, so the reason is clear
    out = Outcome(path)
    assert not out.records and len(out.rejected) == 1
    assert out.rejected[0].ref.position == "file"
    assert "UTF-16" in out.rejected[0].reason and "convert" in out.rejected[0].reason


def test_claims_without_billing_provider_are_rejected(tmp_path: Path) -> None:
    broken = drop(CLAIMS, "NM1*85", "N3*100 TEST", "N4*SPRINGFIELD*IL*627010000~\nREF*EI")
    broken = broken.replace("N4*SPRINGFIELD*IL*627010000~\nREF*EI*123456789~\n", "", 1)
    out = Outcome(write(tmp_path, broken + second_interchange(CLAIMS)))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"]  # the second interchange
    assert [r.ref.position for r in out.rejected] == [
        "claim 1 (segment 17)",
        "claim 2 (segment 40)",
        "claim 3 (segment 47)",
    ]  # SE01 still counts the dropped segments: a warning, on no record here
    assert out.rejected[0].reason == (
        "segment 17 (2300/CLM): no billing provider: loop 2010AA (NM1*85) is missing"
    )
    assert {r.code for r in out.rejected} == {"identity"}
    # claims are numbered through the file: record ids stay unique across interchanges
    assert [r.ref.record_id for r in out.records] == [
        "0001/claim 4",
        "0001/claim 5",
        "0001/claim 6",
    ]


def test_repeated_transaction_set_control_number(tmp_path: Path) -> None:
    start, end = CLAIMS.index("ST*837"), CLAIMS.index("GE*1*1")
    twice = CLAIMS[:end] + CLAIMS[start:end] + "GE*2*1" + CLAIMS[end + len("GE*1*1") :]
    out = Outcome(write(tmp_path, twice))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] * 2
    assert len({r.ref.key for r in out.records}) == 6
    assert not out.rejected  # understood: the second set's claims say so
    assert [warnings(r) for r in out.records] == [[]] * 3 + [
        [
            (
                "envelope",
                "segment 57 (ST): ST02 repeats a transaction set control number already used "
                "in the group",
            )
        ]
    ] * 3


def test_transaction_set_without_se_rejects_the_claim_it_cannot_close(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, drop(CLAIMS, "SE*")))
    assert out.controls == ["PCN1001", "PCN1002"]
    (rejected,) = out.rejected
    assert rejected.ref.position == "claim 3 (segment 51)"
    assert rejected.reason == (
        "segment 56 (GS_LOOP/GE): GE came before the SE trailer of the transaction set (SE missing)"
    )


def test_total_charge_that_is_not_a_number(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, CLAIMS.replace("CLM*PCN1002*80.00", "CLM*PCN1002*abc")))
    assert out.controls == ["PCN1001", "PCN1003"]
    (rejected,) = out.rejected
    assert rejected.ref.position == "claim 2 (segment 44)"
    assert rejected.reason == "segment 44 (2300/CLM): CLM02 is not a valid number"


def test_birth_date_that_is_not_a_date(tmp_path: Path) -> None:
    # the dependent's DMG02 is part of the dependent's identity (within the membership, by
    # name and birth date): both of the dependent's claims are rejected, the subscriber's not
    out = Outcome(write(tmp_path, CLAIMS.replace("DMG*D8*20150910", "DMG*D8*2024-13-45")))
    assert out.controls == ["PCN1001"]
    assert [(r.code, r.reason) for r in out.rejected] == [
        (
            "identity",
            "segment 43 (2010CA/DMG): DMG02 is not a valid date: it is part of the dependent's "
            "identity",
        )
    ] * 2
    out = Outcome(write(tmp_path, CLAIMS.replace("DMG*D8*20150910", "DMG*D8*20241345")))
    assert out.controls == ["PCN1001"] and len(out.rejected) == 2
    # the subscriber's is not part of a key: the patient is written without it, with a warning
    out = Outcome(write(tmp_path, CLAIMS.replace("DMG*D8*19800115", "DMG*D8*19801345")))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    patient = next(n for n in out.records[0].nodes if n.cls == CG.Patient)
    assert CG.birthDate not in patient.props
    assert warnings(out.records[0]) == [
        ("unusual-value", "segment 19 (2010BA/DMG): DMG02 is not a valid date")
    ]


def test_file_without_its_envelope(tmp_path: Path) -> None:
    bare = drop(CLAIMS, "ISA*", "GS*", "GE*", "IEA*")
    path = write(tmp_path, bare)
    assert LOADER.detect(path, path.read_bytes())
    out = Outcome(path)
    assert not out.records
    assert [r.ref.position for r in out.rejected] == ["file"]
    assert out.rejected[0].reason.startswith("no ISA interchange envelope: the file starts with")


def test_mismatched_interchange_control_numbers(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, CLAIMS.replace("IEA*1*000000101", "IEA*1*000000999")))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    for rec in out.records:  # the content is understood: written, with the envelope's finding
        assert warnings(rec) == [
            (
                "envelope",
                "segment 58 (IEA): IEA02 does not match ISA13: the trailer closes another "
                "interchange",
            )
        ]


def test_injection_like_names_load_unchanged(tmp_path: Path) -> None:
    family = "O'BRIEN\"); MATCH (n) DETACH DELETE n; //"
    given = "<script>alert('x')</script>"
    text = CLAIMS.replace("NM1*QC*1*TESTCHILD*GAMMA", f"NM1*QC*1*{family}*{given}")
    out = Outcome(write(tmp_path, text))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    patient = next(n for n in out.records[1].nodes if n.cls == CG.Patient)
    assert patient.props[CG.familyName] == family
    assert patient.props[CG.givenNames] == [given]


def test_empty_file(tmp_path: Path) -> None:
    for text in ("", "  \n\r\n\t"):
        path = write(tmp_path, text)
        assert not LOADER.detect(path, path.read_bytes())
        out = Outcome(path)
        assert [r.reason for r in out.rejected] == ["the file is empty"]


def test_acknowledgements_and_eligibility_are_skipped_not_rejected(tmp_path: Path) -> None:
    isa = CLAIMS.split("~\n", 1)[0]
    ack = (
        f"{isa}~GS*FA*TESTRECEIVER*CAREGRAPHTEST*20240416*0931*7*X*005010X231A1~"
        "ST*999*0001*005010X231A1~AK1*HC*1*005010X222A1~AK2*837*0001*005010X222A1~IK5*A~"
        "AK9*A*1*1*1~SE*6*0001~GE*1*7~IEA*1*000000101~"
    )
    out = Outcome(write(tmp_path, ack, "ack.999"))
    assert not out.records and not out.rejected
    assert [s.kind for s in out.skipped] == ["999 transaction set"]

    eligibility = (
        f"{isa}~GS*HS*CAREGRAPHTEST*TESTRECEIVER*20240416*0931*8*X*005010X279A1~"
        "ST*270*0001*005010X279A1~BHT*0022*13*E1*20240416*0931~HL*1**20*1~"
        "NM1*PR*2*CAREGRAPH TEST PAYER*****PI*60054~SE*5*0001~GE*1*8~IEA*1*000000101~"
    )
    out = Outcome(write(tmp_path, eligibility, "eligibility.270"))
    assert [s.kind for s in out.skipped] == ["270 transaction set"] and not out.rejected

    # a 997 group in the same interchange as the claims: the claims load, the 997 is skipped
    group = (
        "GS*FA*S*R*20240416*0932*9*X*005010~ST*997*0002~AK1*HC*1~AK9*A*1*1*1~SE*4*0002~GE*1*9~\n"
    )
    mixed = CLAIMS.replace("IEA*1*000000101", group + "IEA*2*000000101")
    out = Outcome(write(tmp_path, mixed))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    assert [s.kind for s in out.skipped] == ["997 transaction set"]


def test_garbage_bytes(tmp_path: Path) -> None:
    noise = random.Random(5).randbytes(2048)
    path = write(tmp_path, noise, "noise.837")
    assert not LOADER.detect(path, noise)
    out = Outcome(path)
    assert [r.reason for r in out.rejected] == [
        "not an X12 interchange: the file does not begin with ISA"
    ]

    # a run of bytes that are not text inside claim 2: only claim 2 is lost
    raw = CLAIMS.encode()
    at = raw.index(b"HI*ABK:J069")
    out = Outcome(write(tmp_path, raw[:at] + b"\xff\xfe\x00\x81garbage~\n" + raw[at:]))
    assert out.controls == ["PCN1001", "PCN1003"]
    (rejected,) = out.rejected
    assert rejected.ref.position == "claim 2 (segment 44)" and rejected.code == "syntax"
    assert rejected.reason.startswith("segment 45 (2300/unknown segment): unknown segment has no")
    assert "bytes that are not UTF-8 text" in rejected.reason
    assert "garbage" not in rejected.reason
    for rec in out.records:  # the extra segment shows in the count too
        assert [m for c, m in warnings(rec) if c == "envelope"] == [
            "segment 57 (SE): SE01 does not count the segments of the transaction set"
        ]


def test_misplaced_or_unknown_segment_inside_a_claim(tmp_path: Path) -> None:
    # an 835 segment in an 837 claim; then a segment id no guide knows (named as unknown:
    # a stray terminator inside a name would otherwise show part of the name as an id)
    out = Outcome(write(tmp_path, CLAIMS.replace("HI*ABK:E119", "BPR*I*1.00*C*CHK~\nHI*ABK:E119")))
    assert out.controls == ["PCN1002", "PCN1003"]
    assert out.rejected[0].reason.startswith(
        "segment 22 (2300/BPR): BPR has no place here in the implementation guide"
    )
    out = Outcome(write(tmp_path, CLAIMS.replace("HI*ABK:E119", "BRIEN*1~\nHI*ABK:E119")))
    assert out.controls == ["PCN1002", "PCN1003"]
    assert out.rejected[0].reason.startswith(
        "segment 22 (2300/unknown segment): unknown segment has no place here"
    )


def test_repeated_line_number_and_missing_control_number(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, CLAIMS.replace("LX*2~", "LX*1~")))
    assert out.controls == ["PCN1002", "PCN1003"]
    assert out.rejected[0].reason == (
        "segment 28 (2400/LX): LX01 repeats the number of an earlier service line"
    )
    out = Outcome(write(tmp_path, CLAIMS.replace("CLM*PCN1003*", "CLM**")))
    assert out.controls == ["PCN1001", "PCN1002"]
    assert out.rejected[0].reason == (
        "segment 51 (2300/CLM): CLM01 (patient control number) is missing"
    )


def test_wrong_segment_count_and_other_version(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, CLAIMS.replace("SE*54*0001", "SE*53*0001")))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    assert {tuple(warnings(r)) for r in out.records} == {
        (
            (
                "envelope",
                "segment 56 (SE): SE01 does not count the segments of the transaction set",
            ),
        )
    }
    old = CLAIMS.replace("*00501*", "*00401*", 1)
    out = Outcome(write(tmp_path, old))
    assert not out.records
    assert out.rejected[0].code == "unsupported"
    assert out.rejected[0].reason == (
        "segment 1 (ISA_LOOP/ISA): ISA12 version 00401 is not 00501: caregraph reads X12 "
        "005010 only; the interchange was not read"
    )


def test_835_payee_without_npi(tmp_path: Path) -> None:
    text = PAYMENTS.replace(
        "N1*PE*CAREGRAPH TEST CLINIC*XX*1234567893", "N1*PE*CLINIC*FI*123456789"
    )
    out = Outcome(write(tmp_path, text, "payments.835"))
    assert not out.rejected  # the 835 guide allows a payee known by its tax id only
    assert out.controls == ["PCN1001", "PCN1002"]
    for rec in out.records:
        assert not [x for x in rec.links if x.rel == CG.remits]  # no claim key to name
        assert [x.dst.key for x in rec.links if x.rel == CG.paidBy] == [
            "urn:caregraph:payer-id|60054"
        ]
        ((code, message),) = warnings(rec)
        assert code == "unmatched"
        assert message.startswith("segment 12 (1000B/N1): the payee has no NPI (N103 is not XX)")
        assert "123456789" not in message


def test_random_damage_never_raises_nor_echoes_a_patient(tmp_path: Path) -> None:
    """Deleted, repeated, swapped and garbled segments, cuts and stray bytes, seeded."""
    rng = random.Random(12)
    lines = CLAIMS.split("~\n")
    for n in range(60):
        segs = list(lines)
        at = rng.randrange(1, len(segs) - 1)
        damage = n % 5
        if damage == 0:
            del segs[at]
        elif damage == 1:
            segs.insert(at, segs[at])
        elif damage == 2:
            other = rng.randrange(1, len(segs) - 1)
            segs[at], segs[other] = segs[other], segs[at]
        elif damage == 3:
            chars = list(segs[at])
            for _ in range(3):
                chars[rng.randrange(len(chars))] = rng.choice("*:^|AZ09 -.\x01")
            segs[at] = "".join(chars)
        raw = "~\n".join(segs).encode()
        if damage == 4:
            cut = rng.randrange(len(raw))
            raw = raw[:cut] + rng.randbytes(4) + raw[cut + rng.randrange(40) :]
        out = Outcome(write(tmp_path, raw, f"damaged-{n}.837"))  # checks reasons for values
        assert out.items, "a damaged file says something"
        assert len(out.records) <= 3


# -- issue 14: what 005010 allows is written, with a warning when it is unusual ----------------
def renumbered(text: str, by: int) -> str:
    """The claims' transaction set with its HL01/HL02 numbered from ``1 + by``."""
    for n in (4, 3, 2, 1):  # high first: 1 -> 63 must not be renumbered again
        text = text.replace(f"HL*{n}*", f"HL*{n + by}*").replace(f"*{n}*2", f"*{n + by}*2")
    return text


def transaction_set(text: str) -> str:
    return text[text.index("ST*837") : text.index("GE*1*1")]


def test_hl_numbering_that_does_not_restart_at_1_in_each_transaction_set(
    tmp_path: Path,
) -> None:
    # the second ST goes on from the first's numbering (HL*63**20*1, HL*64*63*22*0 ...):
    # HL01 is unique within each transaction set, so the hierarchy is the same
    second = renumbered(transaction_set(CLAIMS), 62).replace("0001", "0002")
    assert "HL*63**20*1~" in second and "HL*64*63*22*0~" in second and "HL*66*65*23*0" in second
    text = CLAIMS.replace("GE*1*1", second + "GE*2*1")
    out = Outcome(write(tmp_path, text))
    assert not out.rejected
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] * 2
    assert all(not r.warnings for r in out.records)
    first, again = out.records[:3], out.records[3:]
    for a, b in zip(first, again, strict=True):  # the same patients, payer and provider
        assert {n.key for n in a.nodes} == {n.key for n in b.nodes}


def test_repeated_hl_ids_and_a_parent_named_after_its_child(tmp_path: Path) -> None:
    # imsweb's pattern: the second subscriber repeats HL01 2 and names parent 3, a later ID;
    # its dependent names parent 2. Read by level and position it is unambiguous: a warning.
    text = CLAIMS.replace("HL*3*1*22*1~", "HL*2*3*22*1~").replace("HL*4*3*23*0", "HL*3*2*23*0")
    out = Outcome(write(tmp_path, text))
    assert not out.rejected
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"]
    assert not out.records[0].warnings
    for rec in out.records[1:]:
        assert warnings(rec) == [
            (
                "unusual-value",
                "segment 31 (2000B/HL): HL01 repeats the ID of the HL at segment 14 (HL01 is "
                "unique in a transaction set)",
            ),
            (
                "unusual-value",
                "segment 31 (2000B/HL): HL02 names no earlier HL (a parent must come before its "
                "children): read as below the HL at segment 8, by its position and level",
            ),
        ]
    dependent = next(n for n in out.records[1].nodes if n.cls == CG.Patient)
    clean = Outcome(write(tmp_path, CLAIMS, "clean.837"))
    assert dependent.key == next(n for n in clean.records[1].nodes if n.cls == CG.Patient).key


def test_hl_whose_parent_contradicts_its_place_is_rejected(tmp_path: Path) -> None:
    # the dependent (HL 4) names the first subscriber (HL 2) as its parent, but follows the
    # second (HL 3): whose dependent it is cannot be told, so its claims are rejected
    out = Outcome(write(tmp_path, CLAIMS.replace("HL*4*3*23*0", "HL*4*2*23*0")))
    assert out.controls == ["PCN1001"]
    assert [(r.code, r.ref.position) for r in out.rejected] == [
        ("syntax", "claim 2 (segment 44)"),
        ("syntax", "claim 3 (segment 51)"),
    ]
    assert out.rejected[0].reason == (
        "segment 38 (2000C/HL): HL02 names the HL at segment 14, but the HL follows the one at "
        "segment 31: the hierarchy contradicts itself"
    )


def test_the_same_interchange_again_is_skipped_as_a_duplicate(tmp_path: Path) -> None:
    text = CLAIMS + CLAIMS + CLAIMS  # one feed resent: 3 x ISA13 000000101, same content
    out = Outcome(write(tmp_path, text))
    assert not out.rejected
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"]
    assert [(s.ref.position, s.ref.record_id, s.kind, s.reason) for s in out.skipped] == [
        (
            f"interchange (segment {n})",
            "ISA 000000101",
            "interchange",
            "duplicate of interchange 000000101 at segment 1: the same ISA13 and content again",
        )
        for n in (59, 117)
    ]
    # reading the file again gives the same records under the same ids
    assert [r.ref.key for r in Outcome(write(tmp_path, text, "again.837")).records] == [
        r.ref.key.replace("claims.837", "again.837") for r in out.records
    ]


def test_other_content_under_a_used_interchange_control_number_is_a_conflict(
    tmp_path: Path,
) -> None:
    changed = CLAIMS.replace("CLM*PCN1002*80.00", "CLM*PCN1002*90.00")
    out = Outcome(write(tmp_path, CLAIMS + changed))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"]  # the first one
    assert not out.skipped
    (rejected,) = out.rejected
    assert (rejected.code, rejected.ref.position) == ("conflict", "interchange (segment 59)")
    assert rejected.reason == (
        "segment 59 (ISA_LOOP/ISA): ISA13 repeats the control number of the interchange at "
        "segment 1 with other content; the interchange was not read"
    )


def test_envelope_counts_of_group_and_interchange_and_a_repeated_group_number(
    tmp_path: Path,
) -> None:
    group = CLAIMS[CLAIMS.index("GS*HC") : CLAIMS.index("IEA*")]
    text = CLAIMS.replace("IEA*1*", group.replace("GE*1*1", "GE*3*1") + "IEA*3*")
    out = Outcome(write(tmp_path, text))
    assert not out.rejected
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] * 2
    assert warnings(out.records[0]) == [
        ("envelope", "segment 114 (IEA): IEA01 does not count the functional groups of the "
         "interchange"),
    ]  # fmt: skip
    assert warnings(out.records[3]) == [
        ("envelope", "segment 58 (GS): GS06 repeats a group control number already used in "
         "the interchange"),
        ("envelope", "segment 113 (GE): GE01 does not count the transaction sets of the group"),
        ("envelope", "segment 114 (IEA): IEA01 does not count the functional groups of the "
         "interchange"),
    ]  # fmt: skip


def test_a_missing_trailer_is_still_a_truncation(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, drop(CLAIMS, "GE*", "IEA*")))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"]
    (rejected,) = out.rejected
    assert rejected.code == "syntax" and "truncated" in rejected.reason


def test_a_4010_guide_in_a_5010_interchange_is_unsupported(tmp_path: Path) -> None:
    text = CLAIMS.replace("005010X222A1", "004010X098A1")
    out = Outcome(write(tmp_path, text))
    assert not out.records and not out.skipped
    (rejected,) = out.rejected
    assert (rejected.code, rejected.ref.position) == ("unsupported", "transaction set (segment 3)")
    assert rejected.reason == (
        "segment 3 (GS_LOOP/ST): the 837 guide 004010X098A1 is not a 005010 guide: caregraph "
        "reads X12 005010 only"
    )


def test_a_gender_outside_the_code_table_is_unknown_with_a_warning(tmp_path: Path) -> None:
    out = Outcome(write(tmp_path, CLAIMS.replace("DMG*D8*19800115*F", "DMG*D8*19800115*X")))
    assert out.controls == ["PCN1001", "PCN1002", "PCN1003"] and not out.rejected
    patient = next(n for n in out.records[0].nodes if n.cls == CG.Patient)
    assert patient.props[CG.gender] == "unknown"
    assert warnings(out.records[0]) == [
        (
            "unusual-value",
            "segment 19 (2010BA/DMG): DMG03 is not a gender code (M, F or U): read as unknown",
        )
    ]


def test_every_rejection_has_a_code(tmp_path: Path) -> None:
    cases = {
        "no-isa": drop(CLAIMS, "ISA*"),
        "cut": CLAIMS[: CLAIMS.index("SV1*HC:G0008")],
        "contradiction": CLAIMS.replace("HL*4*3*23*0", "HL*4*2*23*0"),
        "no-clm01": CLAIMS.replace("CLM*PCN1003*", "CLM**"),
        "charge": CLAIMS.replace("CLM*PCN1002*80.00", "CLM*PCN1002*abc"),
    }
    codes = {
        name: [r.code for r in Outcome(write(tmp_path, text, f"{name}.837")).rejected]
        for name, text in cases.items()
    }
    assert codes == {
        "no-isa": ["syntax"],
        "cut": ["syntax"],
        "contradiction": ["syntax", "syntax"],
        "no-clm01": ["identity"],
        "charge": ["invalid"],
    }
