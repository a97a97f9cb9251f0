"""HL7 v2 (2.3 to 2.8): ADT patients and visits, SIU appointments, ORM/ORU/MDM orders,
DG1 diagnoses and PR1 procedures (see ``clinical``).

Parsed with the ``hl7`` package (python-hl7) rather than hl7apy: python-hl7 splits any 2.x
message by the separators its MSH declares, without a per-version message structure, so
real feeds with extra, repeated or out-of-order segments still parse (hl7apy's validation
would refuse them or need a profile per version), and it is several times faster. The
mapping checks what it uses itself: it rejects a message only when it cannot be read (syntax,
a version or character set caregraph does not read) or names nothing it can key (no PID-3, no
order or appointment number); a date or code it does not understand is left out with a
warning, and the rest of the message is written.

A file may hold many messages, with CR, LF or CRLF segment ends and MLLP framing; they are
read one at a time (see ``stream``). Each message becomes one Record, a Rejected (with file,
message number, line and control id, never the patient's values) or, for message types
caregraph does not model at all (SIU slot messages, ACK, MFN ...) and for deletions, a Skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from caregraph.loaders.hl7v2 import adt, documents, orders, siu
from caregraph.loaders.hl7v2.assemble import MessageBuilder
from caregraph.loaders.hl7v2.errors import MessageError
from caregraph.loaders.hl7v2.segments import Message, control_id, header, parse
from caregraph.loaders.hl7v2.stream import BOM, RawMessage, Stray, split
from caregraph.loaders.records import Item, Rejected, Skipped, SourceRef

FORMAT = "hl7v2"
Mapper = Callable[[Message, str], MessageBuilder]
MAPPERS: dict[tuple[str, str], Mapper] = {
    **{("SIU", e): siu.read for e in siu.EVENTS},
    **{(code, e): orders.read for code, events in orders.EVENTS.items() for e in events},
    **{("MDM", e): documents.read for e in documents.EVENTS},
}
# Every ADT trigger names a patient; adt.read tells visit, person and unknown events apart.
ANY_EVENT: dict[str, Mapper] = {"ADT": adt.read}
SUFFIXES = (".hl7", ".hl7v2")
# The segments the mappings read; the others are checked but not parsed.
USED = frozenset(
    {"MSH", "PID", "PV1", "MRG", "SCH", "TQ1", "AIS", "AIL", "AIP", "ORC", "OBR", "DG1", "PR1"}
)


class Hl7v2Loader:
    """Reads HL7 v2 pipe-delimited files."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        """An MSH (or FHS/BHS batch header) first, after any BOM or MLLP start byte; or .hl7."""
        start = head.removeprefix(BOM.encode("latin-1")).lstrip(b"\x0b \t\r\n")
        if start[:3] in (b"MSH", b"FHS", b"BHS") and len(start) > 3 and not start[3:4].isalnum():
            return True
        return path.suffix.lower() in SUFFIXES

    def read(self, path: Path, source: str) -> Iterator[Item]:
        """Each message of the file in order: a Record, a Rejected or a Skipped."""
        file = str(path)
        whole = SourceRef(source, file, "file")
        try:
            with path.open("rb") as fh:
                head = fh.read(4096)
        except OSError as e:
            yield Rejected(whole, FORMAT, f"the file cannot be read ({e.strerror})", "reader")
            return
        if not head.strip():
            yield Rejected(whole, FORMAT, "the file is empty: it holds no HL7 v2 message", "syntax")
            return
        if b"\x00" in head:
            yield Rejected(
                whole,
                FORMAT,
                "the file is binary or UTF-16, not HL7 v2 text: HL7 v2 files use an "
                "ASCII-compatible encoding (ASCII, UTF-8, ISO 8859) declared in MSH-18",
                "syntax",
            )
            return
        messages = strays = 0
        for raw in split(path):
            if isinstance(raw, Stray):
                strays += 1
                yield Rejected(
                    SourceRef(source, file, f"line {raw.line}"),
                    FORMAT,
                    f"{raw.count} segment(s) before the first MSH belong to no message: "
                    "each HL7 v2 message must start with an MSH segment",
                    "syntax",
                )
                continue
            messages += 1
            yield self._message(raw, source, file)
        if messages == 0 and strays == 0:
            yield Rejected(
                whole, FORMAT, "no MSH segment found: the file holds no HL7 v2 message", "syntax"
            )

    def _message(self, raw: RawMessage, source: str, file: str) -> Item:
        position = f"message {raw.index} (line {raw.line})"
        msh = raw.segments[0][1]
        try:
            head = header(msh)
        except MessageError as e:
            where = SourceRef(source, file, position, control_id(msh))
            return Rejected(where, FORMAT, str(e), e.code)
        ref = SourceRef(source, file, position, head.control_id)
        if raw.truncated:
            return Rejected(
                ref,
                FORMAT,
                f"{head.kind} is truncated: its MLLP block has no end byte (0x1C) before the "
                "next block or the end of the file",
                "syntax",
            )
        if head.code == "ADT" and head.event in adt.DELETES:
            return Skipped(ref, FORMAT, head.kind, "a deletion: caregraph does not apply deletes")
        mapper = MAPPERS.get((head.code, head.event)) or ANY_EVENT.get(head.code)
        if mapper is None:
            return Skipped(ref, FORMAT, head.kind)
        try:
            msg = parse(raw, head, USED)
        except UnicodeDecodeError:
            return Rejected(
                ref,
                FORMAT,
                f"{head.kind} is not valid {head.codec} text: declare its character set in "
                "MSH-18 (for example 8859/1) or send UTF-8",
                "syntax",
            )
        except MessageError as e:
            return Rejected(ref, FORMAT, f"{head.kind}: {e}", "syntax")
        try:
            built = mapper(msg, source)
        except MessageError as e:
            return Rejected(ref, FORMAT, f"{head.kind}: {e}", e.code)
        return built.record(ref, FORMAT, head.kind)


LOADER = Hl7v2Loader()
