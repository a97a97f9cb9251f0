"""One HL7 v2 message parsed with python-hl7, as plain text fields indexed as in the standard.

python-hl7 (the ``hl7`` package) splits the message with the separators MSH declares and
undoes escape sequences; this module only flattens its containers into ``Seg``/``Rep`` so
that a mapping reads ``pid.get(5, 2)`` (PID-5.2) without caring whether a field happened to
have components, and reads a missing field as empty instead of raising.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hl7
from hl7.util import unescape

from caregraph.loaders.hl7v2.errors import BadHeader, MessageError, MissingSegment
from caregraph.loaders.hl7v2.stream import RawMessage

VERSIONS = re.compile(r"2\.[3-8](\.\d+)?")
HL7_NULL = '""'  # "present and null": the sender erased the value

# HL7 table 0211 (MSH-18) -> Python codec. UTF-16/32 are left out on purpose: segments are
# split on CR/LF bytes before decoding, which only works for ASCII-compatible encodings.
CHARSETS = {
    "": "utf-8",  # none declared: HL7 says ASCII; UTF-8 reads ASCII and is what v2.8 prefers
    "ASCII": "ascii",
    "ISO IR6": "ascii",
    "8859/1": "latin-1",
    **{f"8859/{n}": f"iso8859-{n}" for n in (2, 3, 4, 5, 6, 7, 8, 9, 15)},
    "UNICODE": "utf-8",
    "UNICODE UTF-8": "utf-8",
    "ISO IR87": "iso2022_jp",
    "ISO IR159": "iso2022_jp_2",
    "BIG-5": "big5",
    "GB 18030-2000": "gb18030",
    "KS X 1001": "euc_kr",
}


@dataclass(frozen=True, slots=True)
class Header:
    """What MSH says about its message."""

    field_sep: str
    component_sep: str
    code: str  # MSH-9.1: ADT, SIU, ORM, ORU ...
    event: str  # MSH-9.2: A01, S12, O01 ...
    control_id: str  # MSH-10
    version: str  # MSH-12
    codec: str  # MSH-18 as a Python codec

    @property
    def kind(self) -> str:
        return f"{self.code}^{self.event}"


_LOOKS_LIKE_VERSION = re.compile(r"\d\.\d{1,2}(\.\d{1,2})?")
# HL7 table 0211 (alternate character sets): names that may be echoed in a reason
TABLE_0211 = frozenset({
    "ASCII", "8859/1", "8859/2", "8859/3", "8859/4", "8859/5", "8859/6", "8859/7", "8859/8",
    "8859/9", "8859/15", "ISO IR6", "ISO IR14", "ISO IR87", "ISO IR159", "GB 18030-2000",
    "KS X 1001", "CNS 11643-1992", "BIG-5", "UNICODE", "UNICODE UTF-8", "UNICODE UTF-16",
    "UNICODE UTF-32",
})  # fmt: skip


def control_id(msh: str) -> str | None:
    """MSH-10 read leniently, to name a message even when the rest of its header is bad."""
    if len(msh) < 4:
        return None
    fields = msh.split(msh[3])
    value = fields[9].split("^")[0].strip() if len(fields) > 9 else ""
    return value or None


def header(msh: str) -> Header:
    """Read MSH (Latin-1 text); raise BadHeader when the message cannot be read from it."""
    if len(msh) < 8:
        raise BadHeader("MSH is truncated")
    sep = msh[3]
    if sep.isalnum() or sep.isspace():
        raise BadHeader("MSH-1 (field separator) is not a delimiter character")
    fields = msh.split(sep)  # fields[0] is "MSH" and MSH-n is fields[n - 1] for n >= 2
    enc = fields[1]
    if (
        len(enc) not in (4, 5)
        or len(set(enc)) != len(enc)
        or any(c.isalnum() or c.isspace() for c in enc)
    ):
        raise BadHeader(
            "MSH-2 (encoding characters) is not four or five distinct delimiters such as ^~\\&"
        )
    comp = enc[0]

    def msh_field(n: int) -> list[str]:
        return fields[n - 1].split(comp) if len(fields) >= n else [""]

    mtype = msh_field(9)
    code = mtype[0].strip()
    event = mtype[1].strip() if len(mtype) > 1 else ""
    if not code or not event:
        raise BadHeader("MSH-9 (message type) is missing or incomplete; is the header truncated?")
    control = msh_field(10)[0].strip()
    if not control:
        raise BadHeader("MSH-10 (message control id) is empty", "identity")
    version = msh_field(12)[0].strip()
    if not version:
        raise BadHeader("MSH-12 (version) is empty", "unsupported")
    if not VERSIONS.fullmatch(version):
        # the value is named only when it is a version: a damaged header may hold anything
        named = f"version {version!r}" if _LOOKS_LIKE_VERSION.fullmatch(version) else "MSH-12"
        raise BadHeader(f"{named} is not one caregraph reads (2.3 to 2.8)", "unsupported")
    charset = msh_field(18)[0].split(enc[1])[0].strip().upper()
    codec = CHARSETS.get(charset)
    if codec is None:
        named = f"MSH-18 character set {charset!r}" if charset in TABLE_0211 else "MSH-18"
        raise BadHeader(f"{named} is not a character set caregraph reads", "unsupported")
    return Header(sep, comp, code.upper(), event.upper(), control, version, codec)


class Rep:
    """One repetition of a field: components of subcomponents, 1-based."""

    __slots__ = ("comps",)

    def __init__(self, comps: list[list[str]]) -> None:
        self.comps = comps

    def get(self, c: int = 1, s: int = 1) -> str:
        if c > len(self.comps):
            return ""
        subs = self.comps[c - 1]
        return subs[s - 1] if s <= len(subs) else ""

    def comp(self, c: int) -> list[str]:
        """Component ``c``'s subcomponents, empty ones kept in place."""
        return self.comps[c - 1] if c <= len(self.comps) else []

    def subs(self, c: int) -> list[str]:
        """Component ``c``'s non-empty subcomponents."""
        return [s for s in self.comp(c) if s]

    def __bool__(self) -> bool:
        return any(s for comp in self.comps for s in comp)


EMPTY = Rep([])


class Seg:
    """One segment's fields, numbered as in the standard (MSH-1 is the field separator).

    Fields are flattened from python-hl7's containers when first read: most fields of most
    segments are never looked at.
    """

    __slots__ = ("_fields", "_raw", "id", "line")

    def __init__(self, raw: Any, line: int) -> None:
        self._raw = raw
        self._fields: dict[int, list[Rep]] = {}
        self.id = str(raw[0][0])
        self.line = line

    def _field(self, f: int) -> list[Rep]:
        found = self._fields.get(f)
        if found is None:
            found = _field(self._raw, f, is_msh=self.id == "MSH")
            self._fields[f] = found
        return found

    def reps(self, f: int) -> list[Rep]:
        return [r for r in self._field(f) if r]

    def rep(self, f: int) -> Rep:
        found = self.reps(f)
        return found[0] if found else EMPTY

    def get(self, f: int, c: int = 1, s: int = 1) -> str:
        return self.rep(f).get(c, s)


class Message:
    """A message's header and segments, in order."""

    def __init__(self, head: Header, segs: Sequence[Seg]) -> None:
        self.header = head
        self.segs = list(segs)

    @property
    def kind(self) -> str:
        return self.header.kind

    def all(self, sid: str) -> list[Seg]:
        return [s for s in self.segs if s.id == sid]

    def first(self, sid: str) -> Seg | None:
        return next((s for s in self.segs if s.id == sid), None)

    def need(self, sid: str) -> Seg:
        seg = self.first(sid)
        if seg is None:
            raise MissingSegment(self.kind, sid)
        return seg


def parse(raw: RawMessage, head: Header, used: frozenset[str]) -> Message:
    """Decode a raw message and parse the segments in ``used`` (every segment is checked).

    Segments no mapping reads (OBX, NTE, NK1, IN1 ...) are decoded and checked for a segment
    id but not parsed: in a result message they are most of the text. Raise MessageError or
    UnicodeDecodeError.
    """
    seg_id = re.compile(rf"[A-Z][A-Z0-9]{{2}}({re.escape(head.field_sep)}|$)")
    texts: list[str] = []
    lines: list[int] = []
    for line, text in raw.segments:
        decoded = text.encode("latin-1").decode(head.codec).rstrip()
        if not seg_id.match(decoded):
            raise MessageError(f"line {line} is not an HL7 segment (it has no segment id)")
        if decoded[:3] in used or not texts:  # MSH first: it declares the separators
            texts.append(decoded)
            lines.append(line)
    try:
        parsed = hl7.parse("\r".join(texts))
    except (hl7.ParseException, ValueError, IndexError) as e:
        raise MessageError("the message does not parse as HL7 v2") from e
    return Message(head, [Seg(s, line) for s, line in zip(parsed, lines, strict=True)])


def _field(segment: Any, f: int, *, is_msh: bool) -> list[Rep]:
    if f >= len(segment):
        return []
    if is_msh and f in (1, 2):  # the separators themselves: never unescaped
        return [Rep([[str(segment[f][0])]])]
    return [_rep(r, segment) for r in segment[f]]


def _rep(rep: Any, segment: Any) -> Rep:
    if isinstance(rep, str):
        return Rep([[_text(rep, segment)]])
    return Rep(
        [
            [_text(comp, segment)]
            if isinstance(comp, str)
            else [_text(str(s), segment) for s in comp]
            for comp in rep
        ]
    )


def _text(value: str, segment: Any) -> str:
    text = str(unescape(segment, value)).strip()
    return "" if text == HL7_NULL else text
