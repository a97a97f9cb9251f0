"""ASC X12 005010 claims and remittances: 837P, 837I and 835, read with pyx12.

- :mod:`~loaders.x12.reading`: the file opened and read by pyx12, segment by segment, each
  placed in its loop by the implementation guide's map and validated.
- :mod:`~loaders.x12.interchange`: the ISA/GS/ST envelopes; each transaction set to its reader.
- :mod:`~loaders.x12.claims`: 837P/837I, one record per claim (CLM, loop 2300).
- :mod:`~loaders.x12.remittances`: 835, one record per claim payment (CLP, loop 2100).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from caregraph.loaders.records import Item
from caregraph.loaders.x12.interchange import items
from caregraph.loaders.x12.units import FORMAT

# ISA and its element separator; or, for a file that lost its envelope (a real-world bad
# input), a first GS or ST segment and a claim or remittance transaction set in it, so that it
# is reported as X12 without an envelope rather than as an unknown format.
_ISA = re.compile(rb"^ISA[^A-Za-z0-9\s]")
_BARE = re.compile(rb"^(GS|ST)([^A-Za-z0-9\s])")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class X12Loader:
    """837P, 837I and 835 (X12 005010) files."""

    format: ClassVar[str] = FORMAT

    def detect(self, path: Path, head: bytes) -> bool:
        """An ISA header first; or a bare GS/ST claim or remittance set; or either in UTF-16."""
        if head.startswith(_UTF16_BOMS) or b"\x00" in head[:64]:
            for encoding in ("utf-16", "utf-16-le", "utf-16-be"):
                try:
                    text = head[:512].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")
                except UnicodeError:
                    continue
                if text.startswith("ISA"):
                    return True
            return False
        body = head.removeprefix(codecs.BOM_UTF8).lstrip()
        if _ISA.match(body):
            return True
        bare = _BARE.match(body)
        if bare is None:
            return False
        sep = re.escape(bare.group(2))
        return re.search(rb"(^|[^A-Za-z0-9])ST" + sep + rb"83[57]" + sep, body) is not None

    def read(self, path: Path, source: str) -> Iterator[Item]:
        """Stream the file's claims and claim payments, one record at a time."""
        return items(path, source)


LOADER = X12Loader()
