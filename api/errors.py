"""Errors the API reports to its callers on purpose; anything else is masked.

ApiError                     shown to the caller as is, with a ``code`` in its extensions
├── BadArgumentError         an argument the API cannot use (a cursor it did not give out,
│                            an unknown event kind, a window that ends before it starts)
├── AmbiguousIdentifierError a bare identifier value that names several individuals
└── LimitExceededError       a guardrail refused the query: which limit, and how to narrow

An error's message never carries patient values: an ambiguous identifier names only the
identifier systems of the candidates, so the caller can repeat the call as ``system|value``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """An error the caller should see, with a machine-readable code."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class BadArgumentError(ApiError):
    """An argument the API cannot use."""

    code = "BAD_ARGUMENT"

    def __init__(self, argument: str, why: str) -> None:
        super().__init__(f"argument {argument!r}: {why}", argument=argument)


class AmbiguousIdentifierError(ApiError):
    """A bare identifier value that matches several individuals."""

    code = "AMBIGUOUS_IDENTIFIER"

    def __init__(self, what: str, argument: str, systems: Sequence[str], count: int) -> None:
        listed = ", ".join(systems) if systems else "(no system)"
        super().__init__(
            f"{argument} matches {count} {what} records, with identifiers of the systems "
            f"{listed}; repeat the call with {argument} as 'system|value' to pick one",
            argument=argument,
            candidateSystems=list(systems),
            candidates=count,
        )


class LimitExceededError(ApiError):
    """A guardrail refused the query."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, limit: str, message: str, hint: str, **details: Any) -> None:
        super().__init__(
            f"query refused by the {limit} limit: {message}. To narrow it: {hint}",
            limit=limit,
            hint=hint,
            **details,
        )
