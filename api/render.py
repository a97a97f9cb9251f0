"""The compact text of a patient's context, for an LLM, within a token budget.

Tokens are estimated as ``ceil(characters / 4)`` (:data:`ESTIMATOR`): close to what GPT- and
Claude-style tokenizers give for English prose and codes, and cheap; no tokenizer library is
tied in. Every fact written into the text is tagged with the GraphQL type and field it comes
from, and the caller's :class:`~api.access.policy.FieldPolicy` is asked about each, so the
text never shows a field the caller could not query.

The text is one header line about the patient, one line per event in time order (each with a
short handle such as ``E1`` that later lines refer to), and a closing line that says what was
left out and how to get it. Lines are added while the whole, closing line included, fits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caregraph.api.access.policy import FieldPolicy
from caregraph.api.types import values
from caregraph.graph.readers import Row, TimelineEvent
from caregraph.ontology.model import load_ontology

ESTIMATOR = "ceil(characters / 4)"
HANDLES = {
    "Encounter": "E",
    "Appointment": "A",
    "ImagingStudy": "I",
    "ServiceRequest": "O",
    "Claim": "C",
    "Remittance": "R",
    "Condition": "D",
    "Procedure": "P",
}
Fact = tuple[str, str, str]  # (GraphQL type, field, text)


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` by :data:`ESTIMATOR`."""
    return math.ceil(len(text) / 4)


@dataclass(slots=True)
class Rendered:
    text: str
    included: int  # how many of the events given are in the text


def render(
    patient: Row,
    identifiers: Sequence[str],
    events: Sequence[TimelineEvent],
    kinds: Sequence[str],
    remaining_after: Callable[[int], Counter[str]],
    window: tuple[datetime | None, datetime | None],
    budget_tokens: int,
    policy: FieldPolicy,
) -> Rendered:
    """The text, with as many events (from the first) as fit in the budget."""
    limit = budget_tokens * 4
    header = _header(patient, identifiers, window, policy)
    first_line = _line("X1", kinds[0], events[0], {}, policy) if events else ""
    if len(header) + len(first_line) + len(_closing(remaining_after(1))) + 2 > limit:
        # identifiers make the header long: without them one more event may fit
        header = _header(patient, (), window, policy)
    if len(header) + len(_closing(remaining_after(0), stuck=True)) + 1 > limit:
        header = _header(patient, (), window, policy, brief=True)
    handles: dict[str, str] = {}
    per_kind: Counter[str] = Counter()
    for event, kind in zip(events, kinds, strict=True):
        per_kind[kind] += 1
        handles[event.row.key] = f"{HANDLES.get(kind, 'V')}{per_kind[kind]}"
    # the longest run of events that fits, each line referring by handle to events shown:
    # first with every handle known, then again while a reference to an event left out
    # (rendered longer, "not in this text") pushes the run's end back
    count, size = 0, len(header)
    for event, kind in zip(events, kinds, strict=True):
        size += 1 + len(_line(handles[event.row.key], kind, event, handles, policy))
        if size + 1 + len(_closing(remaining_after(count + 1))) > limit:
            break
        count += 1
    while True:
        shown = {events[i].row.key: handles[events[i].row.key] for i in range(count)}
        lines = [
            _line(shown[e.row.key], k, e, shown, policy)
            for e, k in zip(events[:count], kinds[:count], strict=True)
        ]
        size = len(header) + sum(1 + len(x) for x in lines)
        while lines and size + 1 + len(_closing(remaining_after(len(lines)))) > limit:
            size -= 1 + len(lines.pop())
        if len(lines) == count:
            break
        count = len(lines)  # references to events now left out must be rendered again
    stuck = not lines and bool(events)
    text = "\n".join([header, *lines, _closing(remaining_after(len(lines)), stuck)])
    if len(text) > limit:  # not even the header fits: the budget wins, `truncated` says so
        text = text[: max(0, limit - 1)] + "…"
    return Rendered(text, len(lines))


def _header(
    patient: Row,
    identifiers: Sequence[str],
    window: tuple[datetime | None, datetime | None],
    policy: FieldPolicy,
    brief: bool = False,
) -> str:
    p = patient.node
    facts: list[Fact] = []
    name = (
        values.text(p.get("nameText"))
        or " ".join(
            [*values.texts(p.get("givenNames")), values.text(p.get("familyName")) or ""]
        ).strip()
    )
    if name:
        facts.append(("Patient", "name", name))
    if p.get("birthDate") is not None:
        facts.append(("Patient", "birthDate", f"born {values.day(p.get('birthDate'))}"))
    if p.get("gender"):
        facts.append(("Patient", "gender", str(p["gender"])))
    if p.get("deceased") is True:
        facts.append(("Patient", "deceased", "deceased"))
    if identifiers:
        facts.append(("Patient", "identifiers", "ids " + ", ".join(identifiers)))
    start, end = window
    span = f"{_when(start) if start else 'the beginning'} to {_when(end) if end else 'now'}"
    shown = [text for t, f, text in facts if policy.allows(t, f)]
    if brief:  # a budget this small keeps room for what was left out rather than the window
        return "Patient: " + (shown[0] if shown else "?") + "."
    return "Patient: " + ("; ".join(shown) or "(no fields readable)") + f". Events from {span}:"


def _closing(left: Counter[str], stuck: bool = False) -> str:
    if not sum(left.values()):
        return "All events in the window are shown."
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(left.items()))
    if stuck:
        return f"Not shown: {counts}; no event fits the budget: raise budgetTokens."
    # the cursor itself is long and means nothing to a model: the response carries it
    return f"Not shown (over the token budget): {counts}; the response's nextCursor fetches them."


def _when(value: Any, precision: str | None = None) -> str:
    """A time as precisely as it is known: 2008, 2008-03, 2008-03-05 or 2008-03-05T10:30."""
    moment = values.dt(value)
    if moment is None:
        return "undated"
    return values.as_known(moment, precision)


def _line(
    handle: str, kind: str, event: TimelineEvent, handles: dict[str, str], policy: FieldPolicy
) -> str:
    p = event.row.node
    head: list[Fact] = [
        (kind, "time", _when(event.row.time, values.time_precision(p))),
        (kind, "kind", kind),
    ]
    codes = _codes(kind, event.neighbours)
    coded = {f for _, f, _ in codes}
    own = [
        text
        for t, f, text in [*head, *_own(kind, p, coded), *codes]
        if text and policy.allows(t, f)
    ]
    groups: dict[str, list[str]] = {}
    for t, f, text in _near(kind, event.neighbours, handles):
        if policy.allows(t, f):
            label, _, item = text.partition(": ")
            groups.setdefault(label, []).append(item)
    near = [
        f"{label}: {', '.join(items)}" if items[0] else label for label, items in groups.items()
    ]
    return f"[{handle}] " + "; ".join([" ".join(own), *near])


def _own(kind: str, p: dict[str, Any], coded: set[str]) -> list[Fact]:
    """The event's own fields worth a line, each tagged with its GraphQL field; a code token
    is left out when the line shows the code's Concept (``coded``: the fields shown)."""
    out: list[Fact] = []

    def add(field: str, text: str | None) -> None:
        if text:
            out.append((kind, field, text))

    if kind == "Encounter":
        add("encounterClass", _code("", p.get("encounterClass"), bare=True))
        add("description", _quoted(p.get("description")))
        if "reasons" not in coded:
            add("reasonCode", _code("reason", p.get("reasonCode")))
    elif kind == "Appointment":
        add("description", _quoted(p.get("description")))
        add("serviceType", _code("service", p.get("serviceType")))
        add("cancelReason", _labelled("cancelled:", p.get("cancelReason")))
    elif kind == "ImagingStudy":
        add("modality", ",".join(values.texts(p.get("modality"))))
        add("description", _quoted(p.get("description")))
    elif kind == "ServiceRequest":
        add("procedureCode", _code("procedure", p.get("procedureCode")))
        add("accessionNumber", _labelled("accession", p.get("accessionNumber")))
    elif kind == "Claim":
        add("controlNumber", _labelled("control", p.get("controlNumber")))
        add("totalCharge", _money("charge", p.get("totalCharge")))
    elif kind == "Remittance":
        add("paymentAmount", _money("paid", p.get("paymentAmount")))
        add("patientResponsibility", _money("patient owes", p.get("patientResponsibility")))
    elif kind == "Condition":
        add("clinicalStatus", values.text(p.get("clinicalStatus")))
        if "code" not in coded:
            add("display", _quoted(p.get("display")))
    elif kind == "Procedure":
        if "code" not in coded:
            add("display", _quoted(p.get("display")))
    else:
        add("display", _quoted(p.get("display")))
    add("status", values.text(p.get("status")))
    return out


_NEAR_FIELDS = {
    "HAS_PARTICIPANT": "practitioners",
    "SERVICE_PROVIDER": "organization",
    "AT_LOCATION": "locations",
    "FOR_ENCOUNTER": "encounter",
    "REFERRED_BY": "referrer",
    "PERFORMED_AT": "performedAt",
    "HAS_PAYER": "payer",
    "REMITS": "claim",
    "PAID_BY": "payer",
}


# the coded fields of a line: relationship to a Concept -> (GraphQL field, word before it)
_CODE_FIELDS = {"HAS_CODE": ("code", ""), "HAS_REASON": ("reasons", "reason")}


def _codes(kind: str, near: Sequence[Row]) -> list[Fact]:
    """The event's codes as their Concepts give them: code system, code and, when a loaded
    terminology has it, its text (``reason ICD-10-CM I21.4 NSTEMI myocardial infarction``)."""
    out: list[Fact] = []
    for row in sorted(near, key=lambda r: (r.rel_type or "", r.key)):
        if not row.out or row.rel_type not in _CODE_FIELDS or "Concept" not in row.labels:
            continue
        field, word = _CODE_FIELDS[row.rel_type]
        system, _, code = row.key.partition("|")
        display = values.text(row.node.get("display"))
        text = " ".join(t for t in (word, _system_name(system), code, display) if t)
        out.append((kind, field, text))
    return out


def _system_name(system: str) -> str:
    """A code system's short name for the text: its label in the ontology, else the URI."""
    known = load_ontology().code_system(system)
    return known.label if known is not None else system


def _near(kind: str, near: Sequence[Row], handles: dict[str, str]) -> list[Fact]:
    """Facts about the event's neighbours, tagged with the field that reaches each."""
    out: list[Fact] = []
    for row in sorted(near, key=lambda r: (r.rel_type or "", r.key)):
        if not row.out or row.rel_type not in _NEAR_FIELDS:
            continue
        field = _NEAR_FIELDS[row.rel_type]
        other = values.kind_of(row.labels)
        if row.rel_type in ("FOR_ENCOUNTER", "REMITS"):
            ref = handles.get(row.key) or f"an {other.lower()} not in this text"
            rule = (row.rel or {}).get("rule")
            text = f"for {ref}" + (f" (linked by rule {rule})" if rule else "")
            out.append((kind, field, text))
            continue
        name = _name_of(row)
        if not name:
            continue
        role = (row.rel or {}).get("role")
        # the neighbour's name is a field of the neighbour's own type: the policy sees both
        out.append((other, "name", f"{field}: {name}" + (f" ({role})" if role else "")))
    return out


def _name_of(row: Row) -> str | None:
    p = row.node
    text = values.text(p.get("nameText")) or values.text(p.get("name"))
    if text:
        return text
    given = values.texts(p.get("givenNames"))
    family = values.text(p.get("familyName"))
    joined = " ".join([*given, family or ""]).strip()
    return joined or values.text(p.get("display"))


def _quoted(value: Any) -> str | None:
    text = values.text(value)
    return f'"{text}"' if text else None


def _labelled(label: str, value: Any) -> str | None:
    text = values.text(value)
    return f"{label} {text}" if text else None


def _code(label: str, value: Any, bare: bool = False) -> str | None:
    text = values.text(value)
    if not text:
        return None
    system, _, code = text.rpartition("|")
    if bare:  # a code whose system every reader knows (encounter class): the code alone
        return code
    short = {"http://snomed.info/sct": "SNOMED", "http://loinc.org": "LOINC"}.get(system, system)
    return f"{label} {short + ' ' if short else ''}{code}"


def _money(label: str, value: Any) -> str | None:
    amount = values.number(value)
    return f"{label} {amount:.2f}" if amount is not None else None
