"""One synthetic patient's story across Riverside Health's systems, from a seeded generator.

``patient_case(index, seed, directory)`` draws everything about patient ``index`` from its
own ``random.Random``: demographics and coverage, one to five visits over two years, and for
each visit what every system records of it (the EHR's encounter, the scheduler's booking,
the ADT feed's admission, the imaging order and study, the claim and its payment). The
writers turn one case into each format; nothing about other patients is needed, so cases
are made, written and dropped one at a time.

Patient 0 is the scenario of the identity issue: one inpatient visit that every source
records (EHR, scheduling, ADT with an imaging order, PACS, an 837 claim and its 835
payment), and a namesake (every 200th patient has one) with the same name, sex and another
birth date, known to the EHR only.

With a duplicate rate above 0 (``caregraph synth --duplicates``, off by default), that share
of the patients is registered a second time in the EHR under another MRN, with one variant
that real registrations show: a typo in the family name (``typo``), two digits of the birth
date swapped (``transposition``), or the middle name, postal code and phone left out
(``missing``). The truth is in the manifest, for the probabilistic identity stage.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from caregraph.loaders.generator import clock, ids, pools
from caregraph.loaders.generator.directory import (
    COMMERCIAL,
    MEDICAID,
    MEDICARE,
    Address,
    Directory,
    Location,
    Organization,
    Payer,
    Practitioner,
)

NAMESAKE_EVERY = 200
UNDOCUMENTED_EVERY = 5  # about one claim in five with secondary diagnoses bills one undocumented
_ENCOUNTER_COUNTS = ((1, 2, 3, 4, 5), (30, 25, 20, 15, 10))
_IMAGING_CHANCE = {"AMB": 0.2, "EMER": 0.5, "IMP": 0.6}  # about 30% of visits overall
_IMAGING_BY_CLASS = {
    "AMB": ("71046", "72148", "76700", "70553", "73610"),
    "EMER": ("71046", "73610", "70450", "74177", "71275"),
    "IMP": ("71046", "74177", "71275", "93306", "70553"),
}
CLAIM_CHANCE = 0.9
PAYMENT_CHANCE = 0.8
DENIAL_CHANCE = 0.07
RESCHEDULE_CHANCE = 0.12
CANCELLED_CHANCE = 0.08
ELECTIVE_ADMISSION_CHANCE = 0.5


@dataclass(frozen=True, slots=True)
class Person:
    family: str
    given: str
    middle: str
    gender: str  # FHIR administrative gender: male or female
    birth: date
    address: Address
    phone: str


@dataclass(frozen=True, slots=True)
class Coverage:
    payer: Payer
    member_id: str


@dataclass(frozen=True, slots=True)
class Booking:
    """One scheduling message: S12 booked, S13 rescheduled, S15 cancelled."""

    event: str
    at: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Appointment:
    ident: str  # SCH-2 filler appointment id, within ids.SCHEDULE_AUTHORITY
    placer: str  # SCH-1 placer appointment id, within ids.ORDER_AUTHORITY
    reason: str  # HL7 table 0276 appointment reason
    bookings: tuple[Booking, ...]

    @property
    def start(self) -> datetime:
        return self.bookings[-1].start

    @property
    def end(self) -> datetime:
        return self.bookings[-1].end

    @property
    def status(self) -> str:
        return "cancelled" if self.bookings[-1].event == "S15" else "booked"


@dataclass(frozen=True, slots=True)
class Series:
    uid: str
    number: int
    description: str
    sop_uid: str
    start: datetime


@dataclass(frozen=True, slots=True)
class Study:
    uid: str
    accession: str  # within ids.ACCESSION_ISSUER; also the order's filler number
    placer: str  # the EHR's order number
    imaging: pools.Imaging
    ordered: datetime
    start: datetime
    series: tuple[Series, ...]


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    procedure: pools.Procedure
    day: date

    @property
    def charge(self) -> int:
        return self.procedure.cents


@dataclass(frozen=True, slots=True)
class Adjustment:
    group: str  # CO contractual, PR patient responsibility
    reason: str  # CARC: 45 over fee schedule, 1 deductible, 2 coinsurance, 3 copay, 50 ...
    cents: int


@dataclass(frozen=True, slots=True)
class LinePayment:
    line: Line
    paid: int
    adjustments: tuple[Adjustment, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    control: str  # CLM01: the visit number
    place: str  # place of service
    diagnoses: tuple[pools.Reason, ...]  # principal first
    lines: tuple[Line, ...]

    @property
    def total(self) -> int:
        return sum(line.charge for line in self.lines)


@dataclass(frozen=True, slots=True)
class Payment:
    status: str  # CLP02: 1 processed as primary, 4 denied
    paid: int
    patient_share: int
    claim_adjustments: tuple[Adjustment, ...]
    lines: tuple[LinePayment, ...]
    payer_control: str  # CLP07
    date: date  # the payer's weekly payment run


@dataclass(frozen=True, slots=True)
class Encounter:
    k: int  # its number within the patient
    visit: str  # visit number within ids.VISIT_SYSTEM
    klass: str  # v3 ActCode: AMB, EMER, IMP
    start: datetime
    end: datetime
    practitioner: Practitioner
    organization: Organization
    location: Location
    room: str  # inpatient room and bed (HL7 PL.2, PL.3); empty elsewhere
    bed: str
    reason: pools.Reason
    elective: bool
    appointment: Appointment | None
    cancelled: Appointment | None  # an earlier booking of the patient's that was cancelled
    study: Study | None
    claim: Claim | None
    payment: Payment | None
    # what the EHR documents at the visit: its reason first, then the claim's other
    # diagnoses, less the one a deliberately mismatched claim bills without documentation
    documented: tuple[pools.Reason, ...] = ()

    @property
    def undocumented(self) -> tuple[pools.Reason, ...]:
        """Diagnoses the claim bills that no source documents at the visit."""
        billed = self.claim.diagnoses if self.claim is not None else ()
        return tuple(d for d in billed if d not in self.documented)

    @property
    def procedures(self) -> tuple[tuple[pools.Procedure, datetime], ...]:
        """What the EHR (and, for a stay, the ADT feed) records as performed, with when: the
        imaging and ancillary services the claim bills. The evaluation and discharge codes are
        billing's name for the visit itself, not procedures."""
        done: list[tuple[pools.Procedure, datetime]] = []
        if self.study is not None:
            image = self.study.imaging
            done.append((pools.Procedure(image.cpt, image.display, image.cents), self.study.start))
        if self.claim is not None:
            visit_codes = {p.cpt for p in pools.EVALUATION[self.klass]} | {pools.DISCHARGE.cpt}
            imaging = {p.cpt for p, _ in done}
            done += [
                (line.procedure, self.start)
                for line in self.claim.lines
                if line.procedure.cpt not in visit_codes | imaging
            ]
        return tuple(done)


def _documented(
    visit: str, claim: Claim | None, reason: pools.Reason, scenario: bool
) -> tuple[pools.Reason, ...]:
    """The visit's documented diagnoses. Every UNDOCUMENTED_EVERY-th claim with secondary
    diagnoses (and patient 0's, when it has any) bills its last one without the EHR recording
    it: the deliberate mismatches the billed-not-documented query must find. Chosen by a hash of
    the visit number rather than the case's random generator, so every other value the
    generator draws for a seed stays what it was before diagnoses were documented."""
    secondary = claim.diagnoses[1:] if claim is not None else ()
    if secondary and (scenario or zlib.crc32(visit.encode()) % UNDOCUMENTED_EVERY == 0):
        secondary = secondary[:-1]
    return (reason, *secondary)


@dataclass(frozen=True, slots=True)
class Namesake:
    mrn: str
    person: Person


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The same person registered again: another MRN, one variant of the demographics."""

    mrn: str
    person: Person
    variant: str  # typo | transposition | missing


DUPLICATE_VARIANTS = ("typo", "transposition", "missing")


@dataclass(frozen=True, slots=True)
class PatientCase:
    index: int
    mrn: str
    person: Person
    coverage: Coverage
    pcp: Practitioner
    encounters: tuple[Encounter, ...]
    namesake: Namesake | None
    duplicate: Duplicate | None = None

    @property
    def age(self) -> int:
        return _age(self.person.birth)


def rng_for(seed: int, index: int) -> random.Random:
    """Patient ``index``'s generator. The seed takes the high bits, the index the low ones,
    so that two seeds never share patients (``seed + index`` would shift one data set onto
    the other)."""
    return random.Random((seed << 32) + index)  # noqa: S311  # synthetic data, not secrets


def patient_case(
    index: int, seed: int, directory: Directory, duplicate_rate: float = 0.0
) -> PatientCase:
    """Everything about patient ``index``: deterministic in (index, seed, directory size)
    and, for its duplicate, the duplicate rate."""
    rng = rng_for(seed, index)
    scenario = index == 0
    person = _person(rng, adult=scenario)
    age = _age(person.birth)
    payer = _payer(rng, age)
    coverage = Coverage(payer, ids.member_id(payer.member_prefix, index))
    pcp = _pcp(rng, directory, age)
    hospital = rng.choice(directory.hospitals)
    count = 1 if scenario else rng.choices(*_ENCOUNTER_COUNTS)[0]
    days = _visit_days(rng, count)
    encounters = tuple(
        _encounter(rng, index, k, day, seed, directory, pcp, hospital, age, payer, scenario)
        for k, day in enumerate(days)
    )
    namesake = None
    if index % NAMESAKE_EVERY == 0:
        namesake = Namesake(ids.namesake_mrn(index), _namesake(rng, person))
    duplicate = _duplicate(seed, index, person, duplicate_rate) if index else None
    return PatientCase(
        index, ids.mrn(index), person, coverage, pcp, encounters, namesake, duplicate
    )


def _duplicate(seed: int, index: int, person: Person, rate: float) -> Duplicate | None:
    """A second registration of ``person`` (with its own generator, so that the rest of the
    case is the same whatever the rate)."""
    rng = random.Random(f"duplicate:{seed}:{index}")  # noqa: S311  # synthetic data
    if rate <= 0 or rng.random() >= rate:
        return None
    variant = rng.choice(DUPLICATE_VARIANTS)
    if variant == "typo":
        at = rng.randrange(1, len(person.family))
        letters = [c for c in "aeiourlnst" if c != person.family[at].lower()]
        family = person.family[:at] + rng.choice(letters) + person.family[at + 1 :]
        changed = replace(person, family=family)
    elif variant == "transposition":
        changed = replace(person, birth=_transposed(rng, person.birth))
    else:
        blank = replace(person.address, postal="")
        changed = replace(person, middle="", address=blank, phone="")
    return Duplicate(ids.duplicate_mrn(index), changed, variant)


def _transposed(rng: random.Random, birth: date) -> date:
    """The birth date with two adjacent digits swapped (day, or month and day), still a
    date and not the same one; else the day and month swapped; else (a date such as 11-11
    that no swap changes) the day one off."""
    text = birth.strftime("%Y%m%d")
    for at in rng.sample(range(4, 7), 3):  # digits of MMDD: 45, 56, 67
        swapped = text[:at] + text[at + 1] + text[at] + text[at + 2 :]
        try:
            found = datetime.strptime(swapped, "%Y%m%d").date()
        except ValueError:
            continue
        if found != birth:
            return found
    try:
        swapped_fields = birth.replace(month=birth.day, day=birth.month)
    except ValueError:
        swapped_fields = birth
    if swapped_fields != birth:
        return swapped_fields
    return birth.replace(day=birth.day % 28 + 1)  # 11-11: one digit off instead


# -- people ------------------------------------------------------------------------------------
def _person(rng: random.Random, *, adult: bool = False) -> Person:
    gender = rng.choice(("female", "male"))
    pool = pools.FEMALE_GIVEN if gender == "female" else pools.MALE_GIVEN
    given = rng.choice(pool)
    middle = rng.choice([g for g in pool[:40] if g != given]) if rng.random() < 0.7 else ""
    age_band = rng.choices(((0, 17), (18, 64), (65, 95)), (0 if adult else 18, 62, 20))[0]
    birth = clock.AS_OF - timedelta(days=rng.randint(age_band[0] * 365 + 1, age_band[1] * 365))
    return Person(
        family=rng.choice(pools.FAMILY_NAMES),
        given=given,
        middle=middle,
        gender=gender,
        birth=birth,
        address=_address(rng),
        phone=f"708555{rng.randrange(10**4):04d}",
    )


def _namesake(rng: random.Random, person: Person) -> Person:
    """Same name and sex, another birth date and home: a different person."""
    birth = person.birth + timedelta(days=rng.choice((-1, 1)) * rng.randint(400, 9000))
    birth = min(birth, clock.AS_OF - timedelta(days=30))
    if birth == person.birth:
        birth -= timedelta(days=400)
    return Person(
        person.family,
        person.given,
        person.middle,
        person.gender,
        birth,
        _address(rng),
        f"708555{rng.randrange(10**4):04d}",
    )


def _address(rng: random.Random) -> Address:
    city, postal = rng.choice(pools.CITIES)
    return Address(
        f"{rng.randint(100, 9900)} {rng.choice(pools.STREETS)}", city, pools.STATE, postal
    )


def _age(birth: date) -> int:
    years = clock.AS_OF.year - birth.year
    return years - ((clock.AS_OF.month, clock.AS_OF.day) < (birth.month, birth.day))


def _payer(rng: random.Random, age: int) -> Payer:
    if age >= 65:
        return MEDICARE if rng.random() < 0.85 else rng.choice(COMMERCIAL)
    return MEDICAID if rng.random() < 0.2 else rng.choice(COMMERCIAL)


def _pcp(rng: random.Random, directory: Directory, age: int) -> Practitioner:
    pool = directory.pediatricians if age < 18 and directory.pediatricians else []
    pool = pool or directory.primary_care or directory.specialists
    if not pool:  # a tiny directory: any clinic clinician
        pool = [p for p in directory.practitioners if not p.org.hospital]
    return rng.choice(pool)


# -- visits ------------------------------------------------------------------------------------
def _visit_days(rng: random.Random, count: int) -> list[date]:
    """``count`` days in the window, at least two weeks apart (a stay never overlaps the next)."""
    first = clock.AS_OF - timedelta(days=clock.WINDOW_DAYS)
    span = clock.WINDOW_DAYS - clock.QUIET_DAYS
    slot = span // count
    return [first + timedelta(days=n * slot + rng.randint(0, slot - 14)) for n in range(count)]


def _klass(rng: random.Random, age: int, scenario: bool) -> str:
    if scenario:
        return "IMP"
    if age < 18:
        weights = (85, 15, 0)
    elif age < 65:
        weights = (72, 15, 13)
    else:
        weights = (60, 17, 23)
    return rng.choices(("AMB", "EMER", "IMP"), weights)[0]


def _encounter(
    rng: random.Random,
    index: int,
    k: int,
    day: date,
    seed: int,
    directory: Directory,
    pcp: Practitioner,
    hospital: Organization,
    age: int,
    payer: Payer,
    scenario: bool,
) -> Encounter:
    klass = _klass(rng, age, scenario)
    imaging = scenario or rng.random() < _IMAGING_CHANCE[klass]
    room = bed = ""
    elective = False
    if klass == "AMB":
        doc = (
            pcp
            if rng.random() < 0.7 or not directory.specialists
            else rng.choice(directory.specialists)
        )
        location = doc.location
        start = clock.at(day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))
        end = clock.shift(start, minutes=rng.randint(45, 90) if imaging else rng.randint(15, 45))
        reason = rng.choice(pools.REASONS_AMB)
    elif klass == "EMER":
        doc = rng.choice(directory.emergency_doctors[hospital.index])
        location = directory.ed[hospital.index]
        start = clock.at(day, rng.randint(0, 23), rng.randint(0, 59))
        end = clock.shift(start, minutes=rng.randint(120, 480))
        reason = rng.choice(pools.REASONS_EMER)
    else:
        doc = rng.choice(directory.attending_doctors[hospital.index])
        location = directory.ward[hospital.index]
        elective = scenario or rng.random() < ELECTIVE_ADMISSION_CHANCE
        hour = rng.randint(6, 10) if elective else rng.randint(0, 23)
        start = clock.at(day, hour, rng.choice((0, 10, 20, 30, 40, 50)))
        end = clock.at(
            day + timedelta(days=rng.randint(1, 5)), rng.randint(9, 15), rng.randint(0, 59)
        )
        reason = rng.choice(pools.REASONS_IMP)
        room, bed = f"{rng.randint(301, 330)}", rng.choice("AB")
    org = doc.org
    visit = ids.visit_number(index, k)
    booked = klass == "AMB" or (klass == "IMP" and elective)
    appointment = _appointment(rng, index, k, start, klass, scenario) if booked else None
    cancelled = None
    if booked and not scenario and rng.random() < CANCELLED_CHANCE:
        cancelled = _cancelled(rng, index, k, start)
    study = _study(rng, seed, index, k, klass, start, end) if imaging else None
    claim = payment = None
    if scenario or rng.random() < CLAIM_CHANCE:
        claim = _claim(rng, visit, klass, start, end, reason, study)
        if scenario or rng.random() < PAYMENT_CHANCE:
            payment = _payment(rng, claim, payer, index, k, end, scenario)
    return Encounter(
        k,
        visit,
        klass,
        start,
        end,
        doc,
        org,
        location,
        room,
        bed,
        reason,
        elective,
        appointment,
        cancelled,
        study,
        claim,
        payment,
        _documented(visit, claim, reason, scenario),
    )


def _appointment(
    rng: random.Random, index: int, k: int, start: datetime, klass: str, scenario: bool
) -> Appointment:
    minutes = 60 if klass == "IMP" else rng.choice((15, 20, 30, 40))
    lead = rng.randint(5, 45)
    booked_at = clock.at(
        start.date() - timedelta(days=lead), rng.randint(8, 17), rng.randint(0, 59)
    )
    end = clock.shift(start, minutes=minutes)
    bookings: list[Booking]
    if not scenario and rng.random() < RESCHEDULE_CHANCE:
        # first booked later, then moved to the visit's time
        first = clock.shift(start, days=rng.randint(2, 6), minutes=rng.choice((-60, 0, 60)))
        moved_at = clock.shift(booked_at, days=rng.randint(1, lead - 1))
        bookings = [
            Booking("S12", booked_at, first, clock.shift(first, minutes=minutes)),
            Booking("S13", moved_at, start, end),
        ]
    else:
        bookings = [Booking("S12", booked_at, start, end)]
    reason = "ROUTINE" if klass == "IMP" else rng.choice(("ROUTINE", "FOLLOWUP", "CHECKUP"))
    return Appointment(ids.appointment(index, k), f"R{index:08d}{k:02d}", reason, tuple(bookings))


def _cancelled(rng: random.Random, index: int, k: int, visit_start: datetime) -> Appointment:
    """A booking a few days before the visit that the patient cancelled: it is no visit's."""
    day = visit_start.date() - timedelta(days=rng.randint(3, 6))
    start = clock.at(day, rng.randint(8, 16), rng.choice((0, 15, 30, 45)))
    end = clock.shift(start, minutes=20)
    booked_at = clock.shift(start, days=-rng.randint(5, 20), hours=-rng.randint(0, 5))
    cancelled_at = clock.shift(start, days=-rng.randint(1, 2), hours=rng.randint(0, 3))
    return Appointment(
        ids.appointment(index, k, cancelled=True),
        f"R{index:08d}{k:02d}X",
        "FOLLOWUP",
        (Booking("S12", booked_at, start, end), Booking("S15", cancelled_at, start, end)),
    )


def _study(
    rng: random.Random, seed: int, index: int, k: int, klass: str, start: datetime, end: datetime
) -> Study:
    cpt = rng.choice(_IMAGING_BY_CLASS[klass])
    imaging = next(x for x in pools.IMAGING if x.cpt == cpt)
    if klass == "AMB":
        offset = rng.randint(10, 25)
    elif klass == "EMER":
        offset = rng.randint(30, 90)
    else:
        stay = int((end - start).total_seconds() // 60)
        offset = rng.randint(120, max(121, stay - 120))
    study_start = clock.shift(start, minutes=offset)
    ordered = clock.shift(study_start, minutes=-rng.randint(20, 90))
    series = tuple(
        Series(
            ids.dicom_uid(seed, "series", index, k, n),
            n,
            description,
            ids.dicom_uid(seed, "instance", index, k, n),
            clock.shift(study_start, minutes=2 * (n - 1)),
        )
        for n, description in enumerate(imaging.series, start=1)
    )
    return Study(
        ids.dicom_uid(seed, "study", index, k),
        ids.accession(index, k),
        ids.placer_order(index, k),
        imaging,
        ordered,
        study_start,
        series,
    )


# -- billing -----------------------------------------------------------------------------------
def _claim(
    rng: random.Random,
    visit: str,
    klass: str,
    start: datetime,
    end: datetime,
    reason: pools.Reason,
    study: Study | None,
) -> Claim:
    procedures: list[tuple[pools.Procedure, date]] = [
        (rng.choice(pools.EVALUATION[klass]), start.date())
    ]
    if klass == "IMP":
        procedures.append((pools.DISCHARGE, end.date()))
    if study is not None:
        image = study.imaging
        procedures.append(
            (pools.Procedure(image.cpt, image.display, image.cents), study.start.date())
        )
    if len(procedures) < 3 and rng.random() < 0.4:
        procedures.append((rng.choice(pools.ANCILLARY), start.date()))
    others = [r for r in pools.SECONDARY if r.icd10 != reason.icd10]
    diagnoses = (reason, *rng.sample(others, rng.randint(0, 2)))
    lines = tuple(Line(n, p, day) for n, (p, day) in enumerate(procedures, start=1))
    return Claim(visit, pools.PLACE_OF_SERVICE[klass], diagnoses, lines)


def _payment(
    rng: random.Random,
    claim: Claim,
    payer: Payer,
    index: int,
    k: int,
    end: datetime,
    scenario: bool,
) -> Payment:
    paid_on = clock.next_friday(end.date() + timedelta(days=rng.randint(14, 40)))
    control = ids.payer_claim_number(payer.payer_id, index, k)
    if not scenario and rng.random() < DENIAL_CHANCE:
        # denied whole: no payment, the charge is the provider's write-off
        return Payment("4", 0, 0, (Adjustment("CO", "50", claim.total),), (), control, paid_on)
    rate = rng.uniform(0.45, 0.8)  # the payer's fee schedule as a share of the chargemaster
    coinsurance = payer is MEDICARE or rng.random() < 0.3
    deductible_left = rng.choice((0, 0, 0, 5_000, 25_000))
    copay = rng.choice((2_000, 3_000, 4_000)) if payer.filing in ("CI", "BL", "HM") else 0
    lines: list[LinePayment] = []
    for n, line in enumerate(claim.lines):
        allowed = round(line.charge * rate)
        patient: list[Adjustment] = []
        left = allowed
        if n == 0 and copay:
            share = min(copay, left)
            patient.append(Adjustment("PR", "3", share))
            left -= share
        if deductible_left and left:
            share = min(deductible_left, left)
            deductible_left -= share
            patient.append(Adjustment("PR", "1", share))
            left -= share
        if coinsurance and left:
            share = round(left * 0.2)
            patient.append(Adjustment("PR", "2", share))
            left -= share
        adjustments = (Adjustment("CO", "45", line.charge - allowed), *patient)
        lines.append(LinePayment(line, left, tuple(a for a in adjustments if a.cents)))
    paid = sum(x.paid for x in lines)
    share = sum(a.cents for x in lines for a in x.adjustments if a.group == "PR")
    return Payment("1", paid, share, (), tuple(lines), control, paid_on)
