"""A DICOM dataset's headers as caregraph nodes: study, series, patient, institution.

Accession numbers are study properties only, never keys or identifiers: they are unique
within their issuer at best, and many archives reuse them, so merging on them would join
unrelated studies. DICOM names the referring physician only by name; the name is kept on the
study (linking a name to a practitioner is the identity step's job, not the loader's).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from caregraph.loaders import keys
from caregraph.loaders.dicom.errors import BadAttribute, BadCharset, MissingAttribute
from caregraph.loaders.hl7v2.datatypes import issuer
from caregraph.loaders.hl7v2.datatypes import name_props as xpn_props
from caregraph.loaders.records import Identifier, Link, Node, Props, Ref, token
from caregraph.ontology.vocab import CG

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")
_DA = re.compile(r"\d{8}")
_TM = re.compile(r"(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?")
_OFFSET = re.compile(r"[+-]\d{4}")
GENDERS = {"M": "male", "F": "female", "O": "other"}
# pydicom reports undecodable text as a warning and substitutes; caregraph rejects instead.
# (A misspelt but recognisable character set, which pydicom corrects, is not an error.)
_CHARSET_WARNINGS = ("failed to decode", "unknown encoding", "unknown escape sequence")


@contextmanager
def quiet() -> Iterator[list[warnings.WarningMessage]]:
    """Collect pydicom's warnings instead of showing them, and mute its logger meanwhile.

    pydicom logs what it warns about quoting the value ("Invalid value for VR DA: '...'"):
    patient data in the application's logs. What matters reaches the load report instead,
    as a Rejected that names the attribute only.
    """
    pydicom_log = logging.getLogger("pydicom")
    muted = pydicom_log.disabled
    pydicom_log.disabled = True
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            yield seen
    finally:
        pydicom_log.disabled = muted


@contextmanager
def strict_text() -> Iterator[None]:
    """Like ``quiet``; raise BadCharset when pydicom had to guess or replace characters."""
    with quiet() as seen:
        yield
    if any(any(w in str(x.message).lower() for w in _CHARSET_WARNINGS) for x in seen):
        raise BadCharset


def value_of(ds: Dataset, keyword: str) -> Any:
    """An attribute's value, or None; a value pydicom cannot convert is a BadAttribute."""
    try:
        return ds.get(keyword)
    except Exception as e:  # pydicom raises many kinds (ValueError, TypeError, ...) on bad bytes
        raise BadAttribute(keyword, "readable as its value representation") from e


def text(ds: Dataset, keyword: str) -> str:
    """An attribute as stripped text ('' when absent); the first value of a multi-valued one."""
    value = value_of(ds, keyword)
    if value is None:
        return ""
    if isinstance(value, MultiValue | list):
        value = value[0] if value else ""
    return str(value).strip()


def texts(ds: Dataset, keyword: str) -> list[str]:
    value = value_of(ds, keyword)
    if value is None:
        return []
    items = value if isinstance(value, MultiValue | list) else [value]
    return [str(v).strip() for v in items if str(v).strip()]


def uid(ds: Dataset, keyword: str, *, required: bool) -> str | None:
    value = text(ds, keyword)
    if not value:
        if required:
            raise MissingAttribute(keyword, "; the file may be truncated")
        return None
    if len(value) > 64 or not _UID.fullmatch(value):
        raise BadAttribute(keyword, "a UID (digits and dots, at most 64 characters)")
    return value


def integer(ds: Dataset, keyword: str) -> int | None:
    value = text(ds, keyword)
    if not value:
        return None
    try:
        number = float(value)
    except ValueError as e:
        raise BadAttribute(keyword, "an integer string (IS)") from e
    if not number.is_integer():
        raise BadAttribute(keyword, "an integer string (IS)")
    return int(number)


def da(ds: Dataset, keyword: str) -> str | None:
    """A DA (YYYYMMDD) as an ISO date."""
    value = text(ds, keyword)
    if not value:
        return None
    if not _DA.fullmatch(value):
        raise BadAttribute(keyword, "a DICOM date (YYYYMMDD)")
    try:
        datetime(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as e:
        raise BadAttribute(keyword, "a DICOM date (YYYYMMDD)") from e
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def study_start(ds: Dataset) -> str | None:
    """StudyDate + StudyTime, with TimezoneOffsetFromUTC when the object gives one."""
    day = da(ds, "StudyDate")
    raw_time = text(ds, "StudyTime").replace(":", "")  # ACR-NEMA wrote HH:MM:SS
    if not day or not raw_time:
        return day
    m = _TM.fullmatch(raw_time)
    if m is None or int(m[1]) > 23 or int(m[2] or 0) > 59 or int(m[3] or 0) > 60:
        raise BadAttribute("StudyTime", "a DICOM time (HHMMSS.FFFFFF)")
    seconds = min(int(m[3] or 0), 59)  # a leap second has no ISO 8601 datetime in Python
    zone = ""
    offset = text(ds, "TimezoneOffsetFromUTC")
    if offset:
        if not _OFFSET.fullmatch(offset) or int(offset[1:3]) > 14 or int(offset[3:]) > 59:
            raise BadAttribute("TimezoneOffsetFromUTC", "an offset (+HHMM or -HHMM)")
        zone = f"{offset[:3]}:{offset[3:]}"
    return f"{day}T{m[1]}:{m[2] or '00'}:{seconds:02d}{m[4] or ''}{zone}"


def _issuer_of(ds: Dataset, sequence: str, namespace_keyword: str | None = None) -> str | None:
    """An issuer (HL7 HD rule, so DICOM and HL7 v2 spell one issuer alike) from a sequence."""
    items = value_of(ds, sequence)
    if items:
        item = items[0]
        found = issuer(
            text(item, "LocalNamespaceEntityID"),
            text(item, "UniversalEntityID"),
            text(item, "UniversalEntityIDType"),
        )
        if found:
            return found
    if namespace_keyword is None:
        return None
    return text(ds, namespace_keyword) or None


def name_props(pn: Any) -> Props:
    """A PN (Patient's Name): DICOM's person name is HL7 v2's XPN, family^given^middle."""
    if not isinstance(pn, PersonName) or not str(pn).strip():
        return {}
    return xpn_props(pn.family_name.strip(), [pn.given_name.strip(), pn.middle_name.strip()])


def study(ds: Dataset) -> Node:
    """The study: key urn:dicom:uid|StudyInstanceUID; accession a property only."""
    study_uid = uid(ds, "StudyInstanceUID", required=True)
    assert study_uid is not None  # required=True raises instead
    props: Props = {CG.studyInstanceUid: study_uid}
    _put(props, CG.start, study_start(ds))
    _put(props, CG.description, text(ds, "StudyDescription"))
    accession = text(ds, "AccessionNumber")
    _put(props, CG.accessionNumber, accession)
    if accession:
        _put(props, CG.accessionIssuer, _issuer_of(ds, "IssuerOfAccessionNumberSequence"))
    _put(props, CG.modality, texts(ds, "ModalitiesInStudy") or texts(ds, "Modality"))
    _put(props, CG.numberOfSeries, integer(ds, "NumberOfStudyRelatedSeries"))
    _put(props, CG.numberOfInstances, integer(ds, "NumberOfStudyRelatedInstances"))
    referrer = value_of(ds, "ReferringPhysicianName")
    if referrer is not None and str(referrer).strip():
        # the alphabetic group as DICOM spells it (FAMILY^GIVEN...): lossless for matching
        _put(props, CG.referringPhysicianName, str(referrer).split("=")[0].rstrip("^ "))
    ident = Identifier(keys.DICOM_UID_SYSTEM, study_uid)
    return Node(CG.ImagingStudy, keys.uid_key(study_uid), props, (ident,))


def series(ds: Dataset, *, required: bool) -> Node | None:
    series_uid = uid(ds, "SeriesInstanceUID", required=required)
    if series_uid is None:
        return None
    props: Props = {CG.seriesInstanceUid: series_uid}
    _put(props, CG.modality, texts(ds, "Modality"))
    _put(props, CG.seriesNumber, integer(ds, "SeriesNumber"))
    _put(props, CG.bodySite, text(ds, "BodyPartExamined"))
    _put(props, CG.description, text(ds, "SeriesDescription"))
    _put(props, CG.numberOfInstances, integer(ds, "NumberOfSeriesRelatedInstances"))
    ident = Identifier(keys.DICOM_UID_SYSTEM, series_uid)
    return Node(CG.ImagingSeries, keys.uid_key(series_uid), props, (ident,))


def patient(ds: Dataset, source: str) -> Node | None:
    """PatientID within IssuerOfPatientID (or this source's own ids); None when absent."""
    pid = text(ds, "PatientID")
    if not pid:
        return None
    system = _issuer_of(ds, "IssuerOfPatientIDQualifiersSequence", "IssuerOfPatientID")
    qualifiers = value_of(ds, "IssuerOfPatientIDQualifiersSequence")
    id_type = text(qualifiers[0], "IdentifierTypeCode") if qualifiers else ""
    ident = Identifier(system or keys.local_system(source, "PatientID"), pid, id_type or None)
    props = name_props(value_of(ds, "PatientName"))
    _put(props, CG.birthDate, da(ds, "PatientBirthDate"))
    sex = text(ds, "PatientSex").upper()
    if sex:
        if sex not in GENDERS:
            raise BadAttribute("PatientSex", "a DICOM sex code (M, F, O)")
        props[CG.gender] = GENDERS[sex]
    return Node(CG.Patient, ident.token, props, (ident,))


def institution(ds: Dataset, source: str) -> Node | None:
    name = text(ds, "InstitutionName")
    if not name:
        return None
    key = token(keys.local_system(source, "institution"), name)
    return Node(CG.Organization, key, {CG.name: name})


def links(
    study_ref: Ref, pat: Node | None, org: Node | None, series_nodes: list[Node]
) -> list[Link]:
    """Patient HAS_IMAGING_STUDY, study HAS_SERIES each series, study PERFORMED_AT institution."""
    out: list[Link] = []
    if pat is not None:
        out.append(Link(CG.hasImagingStudy, pat.ref, study_ref))
    out.extend(Link(CG.hasSeries, study_ref, s.ref) for s in series_nodes)
    if org is not None:
        out.append(Link(CG.performedAt, study_ref, org.ref))
    return out


def _put(props: Props, term: Any, value: str | int | list[str] | None) -> None:
    if value is not None and value != "" and value != []:
        props[term] = value
