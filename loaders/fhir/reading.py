"""FHIR files as a stream of resources: a single resource, a Bundle, or Bulk Data NDJSON.

- A JSON file holds one resource or one Bundle (collection, transaction, batch, searchset
  and the other types alike): its entries are read in order, "entry N" from 1. A Bundle is
  one JSON document whose urn:uuid references need every entry's fullUrl, so it is parsed
  whole; its entries are still mapped and handed on one at a time.
- NDJSON (``.ndjson``, or lines that each hold one object) is read line by line, never whole:
  "line N", and a broken line is rejected alone.

FHIR JSON is UTF-8: a file in another encoding is rejected as a whole, saying so.

Bundle entries that carry no resource are Skipped, each saying why, by method and entry
index (never the request's URL, which may hold an id or an identifier):

- a transaction or batch ``DELETE`` (conditional ``Patient?identifier=...`` too):
  **caregraph does not retract on DELETE**. The graph is built from what sources asserted,
  with provenance; a deletion in one source system removes nothing from it. What a DELETE
  names stays in the graph as an earlier load wrote it;
- a ``GET`` or ``HEAD`` (a read), and a request or response with no resource (a history's
  deleted version, a batch-response's status);
- an operation call (``ValueSet/$lookup``), whose Parameters are no clinical record.

An entry with none of resource, request and response breaks R4's bdl-5 and is rejected. An
entry whose elements are a resource's (``resourceType`` and all, without the ``resource``
wrapper) is read as that resource, with a warning.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from caregraph.loaders.fhir.mapping import FORMAT, record
from caregraph.loaders.fhir.references import BundleIndex
from caregraph.loaders.fhir.validation import problems
from caregraph.loaders.fhir.values import obj, string
from caregraph.loaders.records import Item, Record, Rejected, Skipped, SourceRef

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
                yield Rejected(
                    whole, FORMAT, "the file is empty: it holds no FHIR resource", "syntax"
                )
                return
            if head.startswith(WIDE_BOMS) or b"\x00" in head[:1024]:
                yield Rejected(
                    whole,
                    FORMAT,
                    "the file is UTF-16 or UTF-32 (or holds NUL bytes): FHIR JSON and NDJSON "
                    "must be UTF-8; re-encode the file as UTF-8",
                    "syntax",
                )
                return
            fh.seek(0)
            if path.suffix.lower() in NDJSON_SUFFIXES or _looks_ndjson(head):
                yield from _ndjson(fh, source, file)
            else:
                yield from _json(fh.read(), source, file)
    except OSError as e:
        yield Rejected(whole, FORMAT, f"the file cannot be read ({e.strerror})", "reader")


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
        yield Rejected(whole, FORMAT, parsed, "syntax")
        return
    if isinstance(parsed, list):
        yield Rejected(
            whole,
            FORMAT,
            "the file is a JSON array: a FHIR JSON file holds one resource or a Bundle (put "
            "the resources in a Bundle, or write them as NDJSON, one per line)",
            "syntax",
        )
        return
    if not isinstance(parsed, dict):
        yield Rejected(whole, FORMAT, "the file holds a JSON value that is not an object", "syntax")
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
            yield Rejected(where, FORMAT, parsed, "syntax")
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
        yield Rejected(where, FORMAT, "Bundle.entry is not a list of entries", "invalid")
        return
    # the Bundle's own elements, by the library; each entry is checked on its own below so
    # that one bad entry rejects only itself
    found = problems("Bundle", {k: v for k, v in bundle.items() if k != "entry"})
    if found:
        yield Rejected(where, FORMAT, f"not a valid FHIR R4 Bundle: {'; '.join(found)}", "invalid")
        return
    entries = [_unwrapped(e) for e in entries]
    index = BundleIndex.of(entries)
    for n, entry in enumerate(entries, start=1):
        yield _entry(entry, n - 1, SourceRef(source, file, f"{prefix}entry {n}"), index)


def _entry(entry: Any, i: int, at: SourceRef, index: BundleIndex) -> Item:
    """One Bundle entry (``Bundle.entry[i]``) as the item it is."""
    if not isinstance(entry, dict):
        return Rejected(at, FORMAT, f"Bundle.entry[{i}] is not a JSON object", "invalid")
    request = obj(entry.get("request"))
    resource = entry.get("resource")
    operation = _OPERATION.search(string(request.get("url")).partition("?")[0])
    if resource is not None and operation:
        kind = string(obj(resource).get("resourceType")) or "operation"
        return Skipped(
            at, FORMAT, kind, f"Bundle.entry[{i}] calls the operation {operation[1]}: "
            "an operation's input is not a record to load",
        )  # fmt: skip
    if resource is not None:
        item = record(resource, at, string(entry.get("fullUrl")) or None, index)
        if UNWRAPPED in entry and isinstance(item, Record):
            item.warn(
                "unusual-value",
                f"Bundle.entry[{i}] holds the resource's elements itself, without the "
                "resource element: read as that resource",
            )
        return item
    method = string(request.get("method"))
    if method in _METHODS:
        conditional = "conditional " if "?" in string(request.get("url")) else ""
        return Skipped(
            at, FORMAT, f"{method} request",
            f"Bundle.entry[{i}] is a {conditional}{method} request with no resource: "
            + _METHODS[method],
        )  # fmt: skip
    if request:
        return Rejected(
            at, FORMAT,
            f"Bundle.entry[{i}].request.method is missing or not an HTTP method FHIR R4 has "
            f"({', '.join(_METHODS)})",
            "invalid",
        )  # fmt: skip
    if isinstance(entry.get("response"), dict):
        return Skipped(
            at, FORMAT, "response",
            f"Bundle.entry[{i}] is a response with no resource: nothing to load",
        )  # fmt: skip
    return Rejected(
        at, FORMAT,
        f"Bundle.entry[{i}] has no resource, request or response (FHIR R4 bdl-5): nothing "
        "to load",
        "invalid",
    )  # fmt: skip


# Why an entry with a request but no resource carries nothing to load, by method.
_METHODS = {
    "GET": "a read, nothing to load",
    "HEAD": "a read, nothing to load",
    "DELETE": "caregraph does not retract on DELETE, so what it names stays as loaded",
    "POST": "nothing to load",
    "PUT": "nothing to load",
    "PATCH": "nothing to load",
}
_OPERATION = re.compile(r"(?:^|/)(\$[A-Za-z][A-Za-z0-9\-]{0,63})$")
UNWRAPPED = "caregraph:unwrapped"  # marks an entry read from a resource's own elements
# an entry's own elements, besides its resource (its id and extensions are read as the
# resource's when the entry holds a resourceType)
_ENTRY_ELEMENTS = ("link", "fullUrl", "search", "request", "response")


def _unwrapped(entry: Any) -> Any:
    """An entry that is a resource's elements without the ``resource`` wrapper, as an entry
    holding that resource (marked, to warn); any other entry as it is."""
    if not isinstance(entry, dict) or "resource" in entry or "resourceType" not in entry:
        return entry
    resource = {k: v for k, v in entry.items() if k not in _ENTRY_ELEMENTS}
    outer = {k: v for k, v in entry.items() if k in _ENTRY_ELEMENTS}
    return {**outer, "resource": resource, UNWRAPPED: True}


def _bundle_id(bundle: dict[str, Any]) -> str | None:
    rid = string(bundle.get("id"))
    return f"Bundle/{rid}" if rid else None
