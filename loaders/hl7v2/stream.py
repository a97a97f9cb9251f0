"""An HL7 v2 file as a stream of raw messages: CR, LF or CRLF segment ends, MLLP frames.

The file is read as Latin-1 text, in which every byte is one character, so segments can be
split before the message's character set (MSH-18) is known; ``text.encode("latin-1")`` gives
the original bytes back for decoding. Python's universal newlines end a segment at CR, LF or
CRLF alike, and read the file a buffer at a time: messages are yielded as they complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

BOM = "\xef\xbb\xbf"  # the UTF-8 byte order mark, as Latin-1 text
START_BLOCK, END_BLOCK = "\x0b", "\x1c"  # MLLP framing: <VT> message <FS><CR>
_MLLP = re.compile("([\x0b\x1c])")
# File and batch envelopes (FHS/BHS ... BTS/FTS) wrap messages; they carry no record.
ENVELOPE = frozenset({"FHS", "BHS", "BTS", "FTS"})


@dataclass(slots=True)
class RawMessage:
    """The segments of one message, as Latin-1 text, with the line each starts on."""

    index: int  # 1-based, in file order
    line: int  # line of its MSH
    segments: list[tuple[int, str]] = field(default_factory=list)
    truncated: bool = False  # its MLLP block was never closed


@dataclass(slots=True)
class Stray:
    """Segments found before the first MSH: they belong to no message."""

    line: int
    count: int = 0


def split(path: Path) -> Iterator[RawMessage | Stray]:
    """Yield each message of ``path`` in order (and any segments before the first MSH)."""
    current: RawMessage | None = None
    stray: Stray | None = None
    index = 0
    in_block = False
    with path.open(encoding="latin-1", newline=None) as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno == 1:
                line = line.removeprefix(BOM)
            for piece in _MLLP.split(line.rstrip("\n")):
                if piece == START_BLOCK:
                    if in_block and current is not None:
                        current.truncated = True  # a new block began before this one ended
                    in_block = True
                elif piece == END_BLOCK:
                    in_block = False
                elif not piece.strip():
                    continue
                elif piece.startswith("MSH"):
                    if stray is not None:
                        yield stray
                        stray = None
                    if current is not None:
                        yield current
                    index += 1
                    current = RawMessage(index, lineno, [(lineno, piece)])
                elif piece[:3] in ENVELOPE:
                    continue
                elif current is None:
                    stray = stray or Stray(lineno)
                    stray.count += 1
                else:
                    current.segments.append((lineno, piece))
    if in_block and current is not None:
        current.truncated = True
    if stray is not None:
        yield stray
    if current is not None:
        yield current
