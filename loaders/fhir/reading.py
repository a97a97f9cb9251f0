"""FHIR files as a stream of resources: a single resource, a Bundle, or Bulk Data NDJSON.

- A JSON file holds one resource or one Bundle (collection, transaction, batch, searchset
  and the other types alike): its entries are read in order, "entry N" from 1. A Bundle is
  one JSON document whose urn:uuid references need every entry's fullUrl, so it is parsed
  whole; its entries are still mapped and handed on one at a time.
- NDJSON (``.ndjson``, or lines that each hold one object) is read line by line, never whole:
  "line N", and a broken line is rejected alone.

FHIR JSON is UTF-8: a file in another encoding is rejected as a whole, saying so.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loaders.fhir.mapping import FORMAT, record
from loaders.fhir.references import BundleIndex
from loaders.fhir.validation import problems
from loaders.fhir.values import obj, string
from loaders.records import Item, Rejected, Skipped, SourceRef

NDJSON_SUFFIXES = (".ndjson", ".jsonl")
WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SNIFF_BYTES = 65536


def items(path: Path, source: str) -> Iterator[Item]:
    """Every resource of the file as a Record, Rejected or Skipped."""
    file = str(path)
    whole = SourceRef(source, file, "file")
    try:
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
            if not head.strip():
                yield Rejected(whole, FORMAT, "the file is empty: it holds no FHIR resource")
                return
            if head.startswith(WIDE_BOMS) or b"\x00" in head[:1024]:
                yield Rejected(
                    whole,
                    FORMAT,
                    "the file is UTF-16 or UTF-32 (or holds NUL bytes): FHIR JSON and NDJSON "
                    "must be UTF-8; re-encode the file as UTF-8",
                )
                return
            fh.seek(0)
            if path.suffix.lower() in NDJSON_SUFFIXES or _looks_ndjson(head):
                yield from _ndjson(fh, source, file)
            else:
                yield from _json(fh.read(), source, file)
    except OSError as e:
        yield Rejected(whole, FORMAT, f"the file cannot be read ({e.strerror})")


def _looks_ndjson(head: bytes) -> bool:
    """One whole object on the first line and another object on the next."""
    lines = [ln.strip() for ln in head.removeprefix(codecs.BOM_UTF8).split(b"\n") if ln.strip()]
    return (
        len(lines) >= 2
        and lines[0].startswith(b"{")
        and lines[0].endswith(b"}")
        and lines[1].startswith(b"{")
    )


def _json(data: bytes, source: str, file: str) -> Iterator[Item]:
    whole = SourceRef(source, file, "file")
    parsed = _parse(data, "the file")
    if isinstance(parsed, str):
        yield Rejected(whole, FORMAT, parsed)
        return
    if isinstance(parsed, list):
        yield Rejected(
            whole,
            FORMAT,
            "the file is a JSON array: a FHIR JSON file holds one resource or a Bundle (put "
            "the resources in a Bundle, or write them as NDJSON, one per line)",
        )
        return
    if not isinstance(parsed, dict):
        yield Rejected(whole, FORMAT, "the file holds a JSON value that is not an object")
        return
    if parsed.get("resourceType") == "Bundle":
        yield from _bundle(parsed, source, file, "")
    else:
        yield record(parsed, whole)


def _ndjson(fh: Any, source: str, file: str) -> Iterator[Item]:
    for lineno, raw in enumerate(fh, start=1):
        line = raw.removeprefix(codecs.BOM_UTF8) if lineno == 1 else raw
        if not line.strip():
            continue  # a blank line (the last newline) holds no resource
        where = SourceRef(source, file, f"line {lineno}")
        parsed = _parse(line, "the line")
        if isinstance(parsed, str):
            yield Rejected(where, FORMAT, parsed)
        elif isinstance(parsed, dict) and parsed.get("resourceType") == "Bundle":
            yield from _bundle(parsed, source, file, f"line {lineno}, ")
        else:
            yield record(parsed, where)


def _parse(data: bytes, what: str) -> Any:
    """The JSON value, or a message saying why there is none (positions only)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return (
            f"{what} is not UTF-8 (invalid byte at offset {e.start}): FHIR JSON must be UTF-8; "
            "it may be Latin-1 or Windows-1252, re-encode it as UTF-8"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = f"line {e.lineno} column {e.colno}" if what == "the file" else f"column {e.colno}"
        return f"{what} is not valid JSON ({e.msg}: {at}); it may be truncated"
    except RecursionError:
        return f"{what} nests JSON too deeply to be a FHIR resource"


def _bundle(bundle: dict[str, Any], source: str, file: str, prefix: str) -> Iterator[Item]:
    """The entries of a Bundle, each its own record."""
    where = SourceRef(source, file, prefix.rstrip(", ") or "file", _bundle_id(bundle))
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        yield Rejected(where, FORMAT, "Bundle.entry is not a list of entries")
        return
    # the Bundle's own elements, by the library; each entry is checked on its own below so
    # that one bad entry rejects only itself
    found = problems("Bundle", {k: v for k, v in bundle.items() if k != "entry"})
    if found:
        yield Rejected(where, FORMAT, f"not a valid FHIR R4 Bundle: {'; '.join(found)}")
        return
    index = BundleIndex.of(entries)
    for n, entry in enumerate(entries, start=1):
        at = SourceRef(source, file, f"{prefix}entry {n}")
        if not isinstance(entry, dict):
            yield Rejected(at, FORMAT, f"Bundle.entry[{n - 1}] is not a JSON object")
            continue
        resource = entry.get("resource")
        if resource is None:
            method = string(obj(entry.get("request")).get("method"))
            if method == "DELETE":
                yield Skipped(at, FORMAT, "DELETE request")
            else:
                yield Rejected(
                    at, FORMAT, f"Bundle.entry[{n - 1}] has no resource: nothing to load"
                )
            continue
        yield record(resource, at, string(entry.get("fullUrl")) or None, index)


def _bundle_id(bundle: dict[str, Any]) -> str | None:
    rid = string(bundle.get("id"))
    return f"Bundle/{rid}" if rid else None
