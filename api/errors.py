"""Errors the API reports to its callers on purpose; anything else is masked.

ApiError                     shown to the caller as is, with a ``code`` in its extensions
├── BadArgumentError         an argument the API cannot use (a cursor it did not give out,
│                            an unknown event kind, a window that ends before it starts)
├── BadValueError            a value its GraphQL type does not accept (code BAD_ARGUMENT)
├── UnauthenticatedError     no caller (UNAUTHENTICATED; api/access/refusals.py)
├── ForbiddenFieldError      a field the role may not read (FORBIDDEN_FIELD; api/access/refusals.py)
├── ForbiddenArgumentError   a filter on a field the role may not read (FORBIDDEN_ARGUMENT;
│                            api/access/refusals.py)
├── AmbiguousIdentifierError an identifier that names several individuals
├── SearchTooBroadError      a patient search with fewer than two demographic facts and no
│                            identifier value (SEARCH_TOO_BROAD), or a directory search
│                            with no term at all
├── LimitExceededError       a guardrail refused the query: which limit, and how to narrow
├── ServiceUnavailableError  Neo4j does not answer now: try again after ``retryAfter`` s
├── OverloadedError          this worker has as much work in flight and queued as it takes
│   └── RateLimitedError     the caller is over its configured request rate
└── DecisionRefusedError     an identity decision that cannot be taken as asked: decided
                             already, stale, a patient no decision merged (``reason``)

Not ApiErrors: ``AuthError`` and its kinds (api/auth.py) become the 401 of api/app.py before
any GraphQL runs; ``TooLargeError`` and ``BadJsonError`` (api/bodies.py) the 413 and 400 of
a body that is refused before parsing.

A query that does not parse, or that asks for what the schema does not have (an unknown
field, a missing argument), gets BAD_REQUEST with graphql-core's own message (api/error_masking.py).

An error's message never carries patient values: an ambiguous identifier names only what
tells the candidates apart (their identifier systems, their source systems), or why nothing
does.
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
    """An identifier that matches several individuals: what tells them apart, or why nothing
    does (the candidates' values are never shown)."""

    code = "AMBIGUOUS_IDENTIFIER"

    def __init__(
        self, what: str, argument: str, systems: Sequence[str], count: int, kept_apart: int = 0
    ) -> None:
        if len(set(systems)) > 1:  # the systems tell them apart: name them
            message = (
                f"{argument} matches {count} {what} records, with identifiers of the systems "
                f"{', '.join(systems)}; repeat the call with {argument} as 'system|value' "
                "to pick one"
            )
        else:  # nothing the caller can add to the identifier picks one
            why = (
                f"{kept_apart} of them kept apart as an identity conflict (the same "
                "identifier with a different birth date)"
                if kept_apart
                else f"all with identifiers of the system {systems[0]}"
                if systems
                else "none with a system that tells them apart"
            )
            message = (
                f"{argument} matches {count} {what} records that it cannot tell apart: {why}; "
                f"see `caregraph explain {argument}` for the source records of each"
                + (" and resolve the conflict at its source" if kept_apart else "")
            )
        super().__init__(
            message,
            argument=argument,
            candidateSystems=list(systems),
            candidates=count,
            keptApart=kept_apart,
            distinguishable=len(set(systems)) > 1,
        )


class SearchTooBroadError(ApiError):
    """A search that names too little to find one person: it would list the graph."""

    code = "SEARCH_TOO_BROAD"

    def __init__(self, field: str, given: Sequence[str], needs: str) -> None:
        super().__init__(
            f"{field}: a search needs {needs}; it was given "
            f"{', '.join(given) if given else 'none'}",
            field=field,
            given=list(given),
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


class ServiceUnavailableError(ApiError):
    """Neo4j does not answer now (down, restarting, unreachable, or every connection busy)."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, retry_after_s: int) -> None:
        retry_after_s = max(1, retry_after_s)
        super().__init__(
            f"the graph database is not available now; try again in {retry_after_s} s",
            retryAfter=retry_after_s,
        )
        self.retry_after_s = retry_after_s


class BadValueError(ApiError):
    """A value of the query's text or variables that its GraphQL type does not accept (a
    DateTime that is no date): the same code as a bad argument, the type's own message."""

    code = "BAD_ARGUMENT"


class OverloadedError(ApiError):
    """The worker is as busy as it is allowed to be (HTTP 503): refused at once, not queued
    into a timeout."""

    code = "OVERLOADED"

    def __init__(self, retry_after_s: int, why: str) -> None:
        retry_after_s = max(1, retry_after_s)
        super().__init__(
            f"the service is at its limit of requests in flight and queued ({why}); "
            f"try again in {retry_after_s} s (settings CAREGRAPH_API_MAX_IN_FLIGHT, "
            "CAREGRAPH_API_MAX_QUEUED, CAREGRAPH_API_MAX_QUEUE_WAIT_S)",
            retryAfter=retry_after_s,
        )
        self.retry_after_s = retry_after_s


class RateLimitedError(OverloadedError):
    """The caller is over its rate (HTTP 429)."""

    code = "RATE_LIMITED"

    def __init__(self, retry_after_s: int, rate: str) -> None:
        retry_after_s = max(1, retry_after_s)
        ApiError.__init__(
            self,
            f"this caller is over its rate of {rate} (setting CAREGRAPH_API_RATE_LIMIT); "
            f"try again in {retry_after_s} s",
            retryAfter=retry_after_s,
            rate=rate,
        )
        self.retry_after_s = retry_after_s


class DecisionRefusedError(ApiError):
    """An identity decision that cannot be taken (graph/stewardship.py says why, by code)."""

    code = "DECISION_REFUSED"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
