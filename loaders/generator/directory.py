"""Riverside Health's directory: hospitals, clinics, their locations, clinicians and payers.

It scales with the number of patients (one clinician per 50 patients, at least 5; a clinic
per 2,500 patients, at least 2; a hospital per 25,000, at least 1) and is small enough to
hold whole: 2,000 clinicians for 100,000 patients. Clinician ``j`` is the same person
whatever the size of the data set, so that sizes can be compared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from caregraph.loaders.generator import ids, pools

PATIENTS_PER_PRACTITIONER = 50
PATIENTS_PER_CLINIC = 2_500
PATIENTS_PER_HOSPITAL = 25_000
_NPI_STRIDE = 7_654_321  # coprime with 10**8: index -> NPI digits is one-to-one
_ORG_NPI_BASE = 50_000_000  # organizations draw from another half of the range than people
_NPI_OFFSET = 31_415_926  # so that clinician 0 is not 100000000x
CLINIC_KINDS = ("Family Medicine", "Primary Care", "Internal Medicine", "Specialty Center")
PRIMARY_CARE = ("207Q00000X", "207R00000X")
PEDIATRICS = "208000000X"
HOSPITALIST = ("208M00000X", "207RC0000X")
EMERGENCY = "207P00000X"


@dataclass(frozen=True, slots=True)
class Address:
    line: str
    city: str
    state: str
    postal: str


@dataclass(frozen=True, slots=True)
class Organization:
    """A hospital or clinic: a billing provider with a type 2 NPI."""

    index: int
    npi: str
    name: str
    code: str  # the facility code HL7 PL.4 and DICOM station names use
    tin: str
    address: Address
    phone: str
    hospital: bool


@dataclass(frozen=True, slots=True)
class Location:
    """A place of care: an emergency department, a ward, radiology, a clinic suite."""

    ident: str  # value in ids.LOCATION_SYSTEM
    name: str
    org: Organization
    point_of_care: str  # HL7 PL.1
    kind: str  # ED, WARD, RAD, CLINIC


@dataclass(frozen=True, slots=True)
class Practitioner:
    """A clinician with a type 1 NPI, working at one organization and location."""

    index: int
    npi: str
    family: str
    given: str
    middle: str
    gender: str
    specialty: pools.Specialty
    org: Organization
    location: Location


@dataclass(frozen=True, slots=True)
class Payer:
    """A health plan with its payer id (the id clearinghouses route claims by)."""

    payer_id: str
    name: str
    member_prefix: str
    filing: str  # X12 SBR09 claim filing indicator
    group: str  # SBR03 group number ("" for individual plans)
    tin: str
    address: Address
    phone: str


PAYERS = (
    Payer(
        "71412",
        "Prairie Mutual Health",
        "PMH",
        "CI",
        "GRP4410",
        "364471120",
        Address("200 W Adams St", "Chicago", "IL", "60606"),
        "8005550141",
    ),
    Payer(
        "38217",
        "Lakeshore BlueCare",
        "LBC",
        "BL",
        "LB00917",
        "362218390",
        Address("300 E Randolph St", "Chicago", "IL", "60601"),
        "8005550142",
    ),
    Payer(
        "64530",
        "Great Lakes HMO",
        "GLH",
        "HM",
        "HMO2201",
        "381920554",
        Address("1 Tower Ln", "Oakbrook Terrace", "IL", "60181"),
        "8005550143",
    ),
    Payer(
        "52631",
        "Heartland Medicare Advantage",
        "HMA",
        "16",
        "",
        "431187265",
        Address("9 Plaza Dr", "Westmont", "IL", "60559"),
        "8005550144",
    ),
    Payer(
        "77027",
        "Illinois Medicaid Managed Care",
        "MCD",
        "MC",
        "",
        "376000511",
        Address("401 S Clinton St", "Chicago", "IL", "60607"),
        "8005550145",
    ),
)
COMMERCIAL = PAYERS[:3]
MEDICARE = PAYERS[3]
MEDICAID = PAYERS[4]


@dataclass
class Directory:
    """Every organization, location, clinician and payer, with the lists visits draw from."""

    seed: int
    organizations: list[Organization] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    practitioners: list[Practitioner] = field(default_factory=list)
    payers: tuple[Payer, ...] = PAYERS
    hospitals: list[Organization] = field(default_factory=list)
    ed: dict[int, Location] = field(default_factory=dict)  # by organization index
    ward: dict[int, Location] = field(default_factory=dict)
    radiology: dict[int, Location] = field(default_factory=dict)
    emergency_doctors: dict[int, list[Practitioner]] = field(default_factory=dict)
    attending_doctors: dict[int, list[Practitioner]] = field(default_factory=dict)
    primary_care: list[Practitioner] = field(default_factory=list)
    pediatricians: list[Practitioner] = field(default_factory=list)
    specialists: list[Practitioner] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int, patients: int) -> Directory:
        """The directory for a data set of ``patients`` patients."""
        d = cls(seed)
        n_hospitals = max(1, -(-patients // PATIENTS_PER_HOSPITAL))
        n_clinics = max(2, patients // PATIENTS_PER_CLINIC)
        n_practitioners = max(5, patients // PATIENTS_PER_PRACTITIONER)
        for h in range(n_hospitals):
            d._organization(len(d.organizations), hospital=True, nth=h)
        for c in range(n_clinics):
            d._organization(len(d.organizations), hospital=False, nth=c)
        clinics = [o for o in d.organizations if not o.hospital]
        n_hospital_staff = max(2 * n_hospitals, n_practitioners // 4)
        for j in range(n_practitioners):
            rng = random.Random(f"{seed}:practitioner:{j}")  # noqa: S311  # not a secret
            if j < n_hospital_staff:
                org = d.hospitals[j % n_hospitals]
                specialty = pools.HOSPITAL_SPECIALTIES[(j // n_hospitals) % 4]
                if specialty.taxonomy == EMERGENCY:
                    location = d.ed[org.index]
                elif specialty.taxonomy in HOSPITALIST:
                    location = d.ward[org.index]
                else:
                    location = d.radiology[org.index]
            else:
                c = j - n_hospital_staff
                org = clinics[c % n_clinics]
                rounds = c // n_clinics
                specialty = pools.CLINIC_SPECIALTIES[rounds % len(pools.CLINIC_SPECIALTIES)]
                location = next(x for x in d.locations if x.org is org)
            d._practitioner(j, rng, specialty, org, location)
        return d

    def _organization(self, index: int, *, hospital: bool, nth: int) -> None:
        rng = random.Random(f"{self.seed}:organization:{index}")  # noqa: S311  # not a secret
        town, postal = pools.CITIES[nth % len(pools.CITIES)]
        if hospital:
            name = (
                "Riverside Health Medical Center"
                if nth == 0
                else f"Riverside Health {town} Hospital"
            )
            code = f"RHMC{nth + 1}"
        else:
            kind = CLINIC_KINDS[(nth // len(pools.CITIES)) % len(CLINIC_KINDS)]
            round_ = nth // (len(pools.CITIES) * len(CLINIC_KINDS))
            name = f"Riverside Health {town} {kind}" + (f" {round_ + 1}" if round_ else "")
            code = f"RHC{nth + 1:03d}"
        org = Organization(
            index=index,
            npi=_npi(self.seed, _ORG_NPI_BASE + index),
            name=name,
            code=code,
            tin=f"36{rng.randrange(10**7):07d}",
            address=Address(
                f"{rng.randint(100, 9900)} {rng.choice(pools.STREETS)}", town, pools.STATE, postal
            ),
            phone=f"708555{rng.randrange(10**4):04d}",
            hospital=hospital,
        )
        self.organizations.append(org)
        if hospital:
            self.hospitals.append(org)
            self.ed[index] = self._location(org, "ED", "Emergency Department", "ED")
            self.ward[index] = self._location(org, "3W", "3 West Medical Unit", "WARD")
            self.radiology[index] = self._location(org, "RAD", "Radiology", "RAD")
        else:
            self._location(org, "CLINIC", f"{name} suite", "CLINIC")

    def _location(self, org: Organization, poc: str, name: str, kind: str) -> Location:
        loc = Location(f"{org.code}-{poc}", name, org, poc, kind)
        self.locations.append(loc)
        return loc

    def _practitioner(
        self,
        j: int,
        rng: random.Random,
        specialty: pools.Specialty,
        org: Organization,
        location: Location,
    ) -> None:
        gender = rng.choice(("female", "male"))
        given_pool = pools.FEMALE_GIVEN if gender == "female" else pools.MALE_GIVEN
        doc = Practitioner(
            index=j,
            npi=_npi(self.seed, j),
            family=rng.choice(pools.FAMILY_NAMES),
            given=rng.choice(given_pool),
            middle=rng.choice(given_pool)[0],  # clinicians sign with a middle initial
            gender=gender,
            specialty=specialty,
            org=org,
            location=location,
        )
        self.practitioners.append(doc)
        tax = specialty.taxonomy
        if tax == EMERGENCY:
            self.emergency_doctors.setdefault(org.index, []).append(doc)
        elif tax in HOSPITALIST:
            self.attending_doctors.setdefault(org.index, []).append(doc)
        elif tax in PRIMARY_CARE:
            self.primary_care.append(doc)
        elif tax == PEDIATRICS:
            self.pediatricians.append(doc)
        elif not org.hospital:
            self.specialists.append(doc)


def _npi(seed: int, j: int) -> str:
    digits = (j * _NPI_STRIDE + seed * 1_000_003 + _NPI_OFFSET) % 10**8
    return ids.npi(f"1{digits:08d}")
