"""Why a DICOM object is rejected. Every text names attributes (keyword and tag), never values.

DicomError             an object that cannot be mapped (the loader turns it into a Rejected)
├── MissingAttribute   a Type 1 attribute the mapping needs is absent or empty
├── BadAttribute       an attribute's value does not fit its VR (a date, a number, a UID)
└── BadCharset         text that is not valid in the declared Specific Character Set
"""

from __future__ import annotations

from pydicom.datadict import dictionary_keyword, tag_for_keyword
from pydicom.tag import Tag


def attribute(keyword_or_tag: str | int) -> str:
    """``StudyDate (0008,0020)``: how an attribute is named in messages."""
    if isinstance(keyword_or_tag, str):
        tag = tag_for_keyword(keyword_or_tag)
        keyword = keyword_or_tag
    else:
        tag = keyword_or_tag
        try:
            keyword = dictionary_keyword(tag)
        except KeyError:
            keyword = "attribute"
    t = Tag(tag) if tag is not None else None
    return f"{keyword} ({t.group:04X},{t.element:04X})" if t is not None else keyword


class DicomError(Exception):
    """An object that cannot be mapped; ``str()`` is safe to show (no patient values)."""


class MissingAttribute(DicomError):
    def __init__(self, keyword: str, hint: str = "") -> None:
        super().__init__(f"{attribute(keyword)} is missing or empty{hint}")


class BadAttribute(DicomError):
    def __init__(self, keyword_or_tag: str | int, expected: str) -> None:
        super().__init__(f"{attribute(keyword_or_tag)} is not {expected}")


class BadCharset(DicomError):
    def __init__(self) -> None:
        super().__init__(
            "text cannot be decoded with the declared Specific Character Set (0008,0005): "
            "the character set is unknown or the bytes do not fit it"
        )
