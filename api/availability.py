"""Whether Neo4j answers, as one worker sees it: a small circuit breaker.

A request that finds Neo4j unavailable opens the breaker; for ``open_s`` seconds every
request is refused at once (HTTP 503, ``Retry-After``, code ``SERVICE_UNAVAILABLE``) instead
of waiting on a database that is down. Then one request is let through as a probe: if it
reaches Neo4j the breaker closes, if not it opens again. The state lives in the process, so
each worker finds out on its own (one failed request each).

Admission is idempotent per request id: the middleware admits a request, and the GraphQL
operation it carries (same id) is not refused as a second probe.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from neo4j.exceptions import ConnectionPoolError, ServiceUnavailable, SessionExpired
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from caregraph.api.errors import ServiceUnavailableError
from caregraph.graph.errors import Neo4jUnavailableError

# what the driver raises when it cannot reach Neo4j or get a connection in time
UNAVAILABLE: tuple[type[BaseException], ...] = (
    ServiceUnavailable,  # includes a commit whose outcome is unknown (IncompleteCommit)
    SessionExpired,
    ConnectionPoolError,  # no connection within the acquisition timeout
    Neo4jUnavailableError,
)


def unavailable(error: BaseException | None) -> bool:
    """Whether ``error`` (or an error it was raised from) says Neo4j cannot be reached."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UNAVAILABLE):
            return True
        seen.add(id(error))
        original = getattr(error, "original_error", None)  # a GraphQLError's cause
        error = original or error.__cause__ or error.__context__
    return False


class Breaker:
    """Closed, open (refuse at once) for ``open_s`` after a failure, then one probe."""

    def __init__(self, open_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.open_s = open_s
        self.clock = clock
        self._lock = threading.Lock()
        self._open_until: float | None = None  # None: closed
        self._probe: str | None = None  # the request id let through to probe
        self._probe_until = 0.0  # a probe that never reports is replaced after this

    @property
    def closed(self) -> bool:
        return self._open_until is None

    def retry_after(self) -> int:
        """Whole seconds until a request may be let through again (at least 1)."""
        with self._lock:
            until = self._open_until if self._open_until is not None else self.clock()
            return max(1, math.ceil(until - self.clock()))

    def admit(self, request_id: str) -> None:
        """Let the request through, or raise :class:`ServiceUnavailableError` at once."""
        with self._lock:
            if self._open_until is None or self._probe == request_id:
                return
            now = self.clock()
            if now < self._open_until or (self._probe is not None and now < self._probe_until):
                wait = max(self._open_until, self._probe_until) - now
                raise ServiceUnavailableError(max(1, math.ceil(wait)))
            self._probe, self._probe_until = request_id, now + self.open_s

    def succeeded(self) -> None:
        """Neo4j answered: close."""
        with self._lock:
            self._open_until, self._probe = None, None

    def failed(self) -> ServiceUnavailableError:
        """Neo4j did not answer: open for ``open_s``; the error to give the caller."""
        with self._lock:
            self._open_until, self._probe = self.clock() + self.open_s, None
        return ServiceUnavailableError(max(1, math.ceil(self.open_s)))


class Availability(SchemaExtension):
    """Refuses an operation at once while the breaker is open (before validation, whose cost
    estimate reads the graph); closes it when the operation read the graph; and over HTTP
    makes a SERVICE_UNAVAILABLE answer a 503 with Retry-After."""

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        breaker = getattr(ec.context, "breaker", None)
        if breaker is not None and ec.pre_execution_errors is None:
            try:
                breaker.admit(str(getattr(ec.context, "request_id", "")))
            except ServiceUnavailableError as e:
                ec.pre_execution_errors = [
                    GraphQLError(e.message, original_error=e, extensions=e.extensions)
                ]
        yield

    def on_operation(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        context = ec.context
        errors = getattr(ec.result, "errors", None) or ()
        retry = [
            (e.extensions or {}).get("retryAfter")
            for e in errors
            if (e.extensions or {}).get("code") == ServiceUnavailableError.code
        ]
        if not retry:
            reader = getattr(context, "__dict__", {}).get("reader")  # only a request that read
            breaker = getattr(context, "breaker", None)
            if breaker is not None and reader is not None and reader.round_trips:
                breaker.succeeded()
            return
        response = getattr(context, "response", None)  # strawberry's, over HTTP only
        if isinstance(response, Response):
            response.status_code = 503
            response.headers["Retry-After"] = str(max(int(r or 1) for r in retry))
