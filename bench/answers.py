"""How the soak counts an answer: ok, an explicit refusal (come back later), or an error.

ok is a 200 with data and no errors. A refusal is what admission control and the Neo4j
breaker answer when the service will not take the request now: 503 with the code OVERLOADED
or SERVICE_UNAVAILABLE and a Retry-After, or 429 with RATE_LIMITED. Everything else is an
error: another status, an error body (a 200 whose errors a user would see), no data, or no
answer at all (the caller counts timeouts and lost connections). Labels carry status codes
and GraphQL error codes only, never a message, so no patient value can reach the figures.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

# the explicit overload refusals: HTTP status, and the codes that mean "not now, come back"
REFUSALS: dict[int, frozenset[str]] = {
    503: frozenset({"OVERLOADED", "SERVICE_UNAVAILABLE"}),
    429: frozenset({"RATE_LIMITED"}),
}
TIMEOUT = "timeout"  # the labels of requests that got no answer: the caller gave up, or
CONNECTION = "connection"  # the connection failed
NO_ANSWER = frozenset({TIMEOUT, CONNECTION})
ERROR_ANSWER = "errors "  # the label of a 200 whose body has errors: "errors LIMIT_EXCEEDED"


@dataclass(frozen=True)
class Verdict:
    """What one answer was: ok, refused (``label`` is its code) or error (``label`` its kind)."""

    kind: str
    label: str = ""
    retry_after_s: float = 0.0


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (RFC 9110: a number of seconds or an HTTP date), None if absent
    or not understood."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    return None


def _code(error: Any) -> str:
    if isinstance(error, dict):
        return str((error.get("extensions") or {}).get("code", "ERROR"))
    return "ERROR"


def classify(status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
    """One HTTP answer to a GraphQL request, as the soak counts it."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return Verdict("error", f"HTTP {status}, not a JSON body")
    errors = parsed.get("errors") or []
    codes = sorted({_code(e) for e in errors})
    if status in REFUSALS and codes and set(codes) <= REFUSALS[status]:
        retry = _retry_after(headers)
        if retry is not None or status == 429:  # a 503 must say when to come back
            return Verdict("refused", codes[0], retry or 0.0)
        return Verdict("error", f"HTTP {status} {codes[0]} without Retry-After")
    if status != 200:
        return Verdict("error", f"HTTP {status} {'+'.join(codes)}".rstrip())
    if errors:
        return Verdict("error", f"{ERROR_ANSWER}{'+'.join(codes)}")
    if parsed.get("data") is None:
        return Verdict("error", "no data")
    return Verdict("ok")


@dataclass
class Tally:
    """What the clients of one phase got back."""

    requests: Counter[str] = field(default_factory=Counter)  # by question
    ok: Counter[str] = field(default_factory=Counter)  # by question
    refused: Counter[str] = field(default_factory=Counter)  # by code
    errors: Counter[str] = field(default_factory=Counter)  # by kind
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # ok answers, by question
    # by question: errors that came as a GraphQL answer (200, errors), which the audit records
    error_answers: Counter[str] = field(default_factory=Counter)
    error_samples: list[dict[str, str]] = field(default_factory=list)  # the first few
    # request ids (the caller's own X-Request-Id): of the ok answers with their question, and
    # of the requests that got no answer at all (a timeout, a lost connection)
    answered: dict[str, str] = field(default_factory=dict)
    unanswered: set[str] = field(default_factory=set)

    def add(self, question: str, verdict: Verdict, ms: float, request_id: str) -> None:
        self.requests[question] += 1
        if verdict.kind == "ok":
            self.ok[question] += 1
            self.latencies_ms.setdefault(question, []).append(ms)
            self.answered[request_id] = question
        elif verdict.kind == "refused":
            self.refused[verdict.label] += 1
        else:
            self.errors[verdict.label] += 1
            if verdict.label in NO_ANSWER:
                self.unanswered.add(request_id)
            if verdict.label.startswith(ERROR_ANSWER):
                self.error_answers[question] += 1
            if len(self.error_samples) < 10:  # codes and request ids only: no patient values
                self.error_samples.append(
                    {"question": question, "error": verdict.label, "requestId": request_id}
                )

    def counts(self) -> dict[str, Any]:
        return {
            "requests": self.requests.total(),
            "ok": self.ok.total(),
            "refusals": dict(sorted(self.refused.items())),
            "errors": dict(sorted(self.errors.items())),
        }
