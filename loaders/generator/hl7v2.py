"""The scheduling system's SIU feed and the ADT feed (admissions, discharges, imaging orders).

HL7 v2.5.1, many messages per file, segments ended by CR as on the wire, UTF-8 declared in
MSH-18. Messages are built with the ``hl7`` package (python-hl7), the library the loader reads
with: its containers (message, segment, field, repetition, component) render the separators
themselves. Not with hl7apy, which can build messages too but takes about 5 ms for each
(python-hl7: 0.05 ms; 100,000 patients make some 500,000 messages) and by default fills
MSH-7 from the wall clock, which determinism must avoid. Values are escaped here rather than
with python-hl7's ``escape``, which writes non-ASCII characters as ``\\X..\\`` escapes of
their code points; in a UTF-8 message they are written as UTF-8, as MSH-18 says.

- ``hl7v2/siu-<batch>.hl7`` (source "scheduling"): per booked visit an SIU^S12 a few days to
  weeks before it (start = the visit's start), some rescheduled (S12 at another time, then
  S13 to the visit's time); and some earlier bookings cancelled (S12, then S15). No PV1: the
  scheduler does not know the visit number, so appointments meet visits by patient,
  clinician and time.
- ``hl7v2/adt-<batch>.hl7`` (source "adt"): A01 (with the admitting diagnosis, DG1 type A)
  and A03 (the final diagnoses ranked as the EHR documents them, DG1 type F, and a PR1 per
  procedure performed) for inpatient stays, and an ORM^O01
  imaging order for every study, with the accession number in ORC-3 and OBR-18 and the
  visit number in PV1-19.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import hl7

from caregraph.loaders.generator import clock, ids, pools
from caregraph.loaders.generator.directory import Location, Practitioner
from caregraph.loaders.generator.scenario import Appointment, Encounter, PatientCase, Person

VERSION = "2.5.1"
ENCODING = "^~\\&"
# A component is text or its subcomponents; a field is text or its components.
Component = str | Sequence[str]
Field = str | Sequence[Component]
_ESCAPES = str.maketrans(
    {"\\": "\\E\\", "|": "\\F\\", "^": "\\S\\", "&": "\\T\\", "~": "\\R\\", "\r": "\\X0D\\"}
)
ADMISSION_TYPE = {True: ("C", "Elective"), False: ("E", "Emergency")}  # HL7 table 0007
SERVICE_SECTION = {"CT": "CT", "MR": "MR", "US": "US", "DX": "RAD"}  # HL7 table 0074


def escape(text: str) -> str:
    """HL7 escape sequences for the separator characters (HL7 v2 section 2.7)."""
    return text.translate(_ESCAPES)


def render(segments: Sequence[tuple[str, Sequence[Field]]]) -> str:
    """One message: MSH first (its fields after MSH-2), CR after every segment."""
    msg = hl7.Message("\r", [])
    for name, fields in segments:
        parts: list[Any] = [msg.create_field([name])]
        if name == "MSH":
            parts += [msg.create_field(["|"]), msg.create_field([ENCODING])]
        last = max((n for n, v in enumerate(fields) if v), default=-1)
        for value in fields[: last + 1]:  # no trailing empty fields
            parts.append(_field(msg, value))
        msg.append(msg.create_segment(parts))
    return str(msg) + "\r"


def _field(msg: Any, value: Field) -> Any:
    if isinstance(value, str):
        return msg.create_field([escape(value)])
    comps = [
        escape(c) if isinstance(c, str) else msg.create_component([escape(s) for s in c])
        for c in value
    ]
    return msg.create_field([msg.create_repetition(comps)])


class Hl7Writer:
    """Writes SIU and ADT/ORM messages, one file per batch of patients for each feed."""

    format = "hl7v2"

    def __init__(self, out: Path, batch_size: int) -> None:
        self.root = out / "hl7v2"
        self.root.mkdir(parents=True, exist_ok=True)
        self.batch_size = batch_size
        self.counts: dict[str, int] = {}
        self._batch = -1
        self._siu: IO[bytes] | None = None
        self._adt: IO[bytes] | None = None
        self._files: dict[str, list[str]] = {"scheduling": [], "adt": []}

    @property
    def sources(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self._files.items()}

    def directory(self, d: object) -> None:
        """HL7 v2 feeds carry no directory: clinicians appear inside messages."""

    def patient(self, case: PatientCase) -> None:
        batch = case.index // self.batch_size
        if batch != self._batch:
            self._close_files()
            self._batch = batch
        siu: list[tuple[datetime, str, str]] = []
        adt: list[tuple[datetime, str, str]] = []
        for e in case.encounters:
            for appt in (e.appointment, e.cancelled):
                if appt is not None:
                    siu += self._bookings(case, e, appt)
            if e.klass == "IMP":
                adt.append(_stamp(e.start, "A01", self._adt_message(case, e, "A01")))
                adt.append(_stamp(e.end, "A03", self._adt_message(case, e, "A03")))
            if e.study is not None:
                adt.append(_stamp(e.study.ordered, "O01", self._order(case, e)))
        for kind, messages in (("scheduling", siu), ("adt", adt)):
            for _, event, text in sorted(messages, key=lambda m: m[0]):
                self._file(kind).write(text.encode())
                self.counts[event] = self.counts.get(event, 0) + 1

    # -- messages ------------------------------------------------------------------------------
    def _bookings(
        self, case: PatientCase, e: Encounter, appt: Appointment
    ) -> list[tuple[datetime, str, str]]:
        out = []
        for n, booking in enumerate(appt.bookings, start=1):
            control = f"SIU{appt.ident[1:]}{n}"
            status = "Cancelled" if booking.event == "S15" else "Booked"
            minutes = int((booking.end - booking.start).total_seconds() // 60)
            start, end = clock.hl7_dtm(booking.start), clock.hl7_dtm(booking.end)
            reason = (appt.reason, appt.reason.title(), "HL70276")
            cancel = ("PATCAN", "Patient cancelled", "HL70276") if booking.event == "S15" else ""
            sch: list[Field] = [
                (appt.placer, ids.ORDER_AUTHORITY),
                (appt.ident, ids.SCHEDULE_AUTHORITY),
                "",
                "",
                "",
                cancel,
                reason,
                ("NORMAL", "Routine", "HL70277"),
                str(minutes),
                "min",
                ("", "", str(minutes), start, end),
                *[""] * 13,
                status,
            ]
            evaluation = pools.EVALUATION[e.klass][0]
            text = render(
                [
                    ("MSH", _msh(booking.at, f"SIU^{booking.event}^SIU_S12", control, "RHSCHED")),
                    ("SCH", sch),
                    ("TQ1", ["1", "", "", "", "", "", start, end]),
                    ("PID", _pid(case.mrn, case.person)),
                    ("RGS", ["1", "A"]),
                    (
                        "AIS",
                        [
                            "1",
                            "A",
                            (evaluation.cpt, evaluation.display, "C4"),
                            start,
                            "",
                            "",
                            str(minutes),
                            "min",
                        ],
                    ),
                    ("AIL", ["1", "A", _pl(e.location)]),
                    ("AIP", ["1", "A", _xcn(e.practitioner), ("AT", "Attending", "HL70443")]),
                ]
            )
            out.append(_stamp(booking.at, booking.event, text))
        return out

    def _adt_message(self, case: PatientCase, e: Encounter, event: str) -> str:
        moment = e.start if event == "A01" else e.end
        pv1 = _pv1(e, admit=True)
        if event == "A03":
            pv1[35] = "01"  # PV1-36 discharge disposition: home
            pv1[44] = clock.hl7_dtm(e.end)
        return render(
            [
                (
                    "MSH",
                    _msh(moment, f"ADT^{event}^ADT_{event}", f"ADT{e.visit[1:]}{event}", "RHADT"),
                ),
                ("EVN", [event, clock.hl7_dtm(moment)]),
                ("PID", _pid(case.mrn, case.person)),
                ("PV1", pv1),
                *_clinical(e, event),
            ]
        )

    def _order(self, case: PatientCase, e: Encounter) -> str:
        study = e.study
        assert study is not None  # only called for visits with a study
        image = study.imaging
        ordered = clock.hl7_dtm(study.ordered)
        placer = (study.placer, ids.ORDER_AUTHORITY)
        filler = (study.accession, ids.ACCESSION_ISSUER)
        service = (image.cpt, image.display, "C4")
        orc: list[Field] = [
            "NW",
            placer,
            filler,
            "",
            "SC",
            "",
            "",
            "",
            ordered,
            "",
            "",
            _xcn(e.practitioner),
        ]
        obr: list[Field] = [
            "1",
            placer,
            filler,
            service,
            "",
            ordered,
            *[""] * 9,
            _xcn(e.practitioner),
            "",
            study.accession,
            *[""] * 5,
            SERVICE_SECTION[image.modality],
            *[""] * 6,
            (e.reason.icd10, e.reason.display, "I10C"),
        ]
        return render(
            [
                (
                    "MSH",
                    _msh(study.ordered, "ORM^O01^ORM_O01", f"ORM{study.accession[1:]}", "RHEHR"),
                ),
                ("PID", _pid(case.mrn, case.person)),
                ("PV1", _pv1(e, admit=False)),
                ("ORC", orc),
                ("OBR", obr),
            ]
        )

    # -- files ---------------------------------------------------------------------------------
    def _file(self, kind: str) -> IO[bytes]:
        fh = self._siu if kind == "scheduling" else self._adt
        if fh is None:
            name = f"{'siu' if kind == 'scheduling' else 'adt'}-{self._batch:04d}.hl7"
            fh = (self.root / name).open("wb")
            self._files[kind].append(f"hl7v2/{name}")
            if kind == "scheduling":
                self._siu = fh
            else:
                self._adt = fh
        return fh

    def _close_files(self) -> None:
        for fh in (self._siu, self._adt):
            if fh is not None:
                fh.close()
        self._siu = self._adt = None

    def close(self) -> dict[str, int]:
        self._close_files()
        files = sum(len(v) for v in self._files.values())
        return {"files": files, **{k: self.counts[k] for k in sorted(self.counts)}}


def _stamp(moment: datetime, event: str, text: str) -> tuple[datetime, str, str]:
    return (moment, event, text)


def _msh(moment: datetime, kind: str, control: str, app: str) -> list[Field]:
    # MSH-3 onwards: apps, facilities, time, security, type, control id, processing id,
    # version, sequence, continuation, accept and application ack, country, character set
    code, event, structure = kind.split("^")
    return [
        app,
        "RIVERSIDE",
        "CAREGRAPH",
        "RIVERSIDE",
        clock.hl7_dtm(moment),
        "",
        (code, event, structure),
        control,
        "P",
        VERSION,
        "",
        "",
        "AL",
        "NE",
        "USA",
        "UNICODE UTF-8",
    ]


def _pid(mrn: str, person: Person) -> list[Field]:
    a = person.address
    return [
        "1",
        "",
        (mrn, "", "", ids.PATIENT_AUTHORITY, "MR"),
        "",
        (person.family, person.given, person.middle, "", "", "", "L"),
        "",
        clock.da(person.birth),
        "F" if person.gender == "female" else "M",
        "",
        "",
        (a.line, "", a.city, a.state, a.postal, "USA", "H"),
        "",
        (person.phone, "PRN", "PH"),
    ]


def _pv1(e: Encounter, *, admit: bool) -> list[Field]:
    """PV1 as a 45-field list (index n is PV1-(n+1)); admit and discharge times only in ADT."""
    pv1: list[Field] = [""] * 45
    pv1[0] = "1"
    pv1[1] = {"AMB": "O", "EMER": "E", "IMP": "I"}[e.klass]
    pv1[2] = _pl(e.location, e.room, e.bed)
    if e.klass == "IMP":
        pv1[3] = ADMISSION_TYPE[e.elective]
        pv1[9] = "MED"
        pv1[13] = "1" if e.elective else "7"  # admit source: physician referral, emergency room
    pv1[6] = _xcn(e.practitioner)
    pv1[18] = (e.visit, "", "", ids.VISIT_AUTHORITY, "VN")
    if admit:
        pv1[43] = clock.hl7_dtm(e.start)
    return pv1


def _clinical(e: Encounter, event: str) -> list[tuple[str, Sequence[Field]]]:
    """DG1 and PR1 of an admission (the admitting diagnosis, the visit's reason) or a
    discharge (the final diagnoses, ranked as the EHR documents them, and the procedures)."""
    if event == "A01":
        return [("DG1", _dg1(1, e.reason, e.start, "A"))]
    segments: list[tuple[str, Sequence[Field]]] = [
        ("DG1", _dg1(n, d, e.end, "F")) for n, d in enumerate(e.documented, start=1)
    ]
    for n, (proc, when) in enumerate(e.procedures, start=1):
        pr1: list[Field] = [""] * 5
        pr1[0] = str(n)
        pr1[2] = (proc.cpt, proc.display, "C4")  # table 0396 C4: CPT-4
        pr1[4] = clock.hl7_dtm(when)
        segments.append(("PR1", pr1))
    return segments


def _dg1(n: int, d: pools.Reason, moment: datetime, kind: str) -> list[Field]:
    """DG1-1 set id, -3 the ICD-10-CM code (table 0396 I10C), -5 when, -6 the diagnosis type
    (table 0052: A admitting, F final), -15 its priority (1 the principal diagnosis)."""
    dg1: list[Field] = [""] * 15
    dg1[0] = str(n)
    dg1[2] = (d.icd10, d.display, "I10C")
    dg1[4] = clock.hl7_dtm(moment)
    dg1[5] = kind
    dg1[14] = str(n)
    return dg1


def _pl(loc: Location, room: str = "", bed: str = "") -> Field:
    return (loc.point_of_care, room, bed, loc.org.code, "", "", "", "", loc.name)


def _xcn(doc: Practitioner) -> Field:
    # XCN.1 id, .2 family, .3 given, .4 middle, .7 degree, .9 assigning authority, .10 name
    # type, .13 identifier type: the NPI within the NPI authority
    return (
        doc.npi,
        doc.family,
        doc.given,
        doc.middle,
        "",
        "",
        "MD",
        "",
        ids.NPI_AUTHORITY,
        "L",
        "",
        "",
        "NPI",
    )
