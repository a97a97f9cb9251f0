"""What the caller sees of errors: expected ones as they are, limit breaches as refusals that
say how to narrow, Neo4j out of reach as SERVICE_UNAVAILABLE (with when to try again), a
variable the API cannot use as BAD_ARGUMENT (as the same value written in the query is), a
query that does not parse or validate as BAD_REQUEST, and anything unexpected masked, with the
request id to quote.

The unexpected error itself (which may hold internals or patient values) goes only to the
service log, under the same request id.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from caregraph.api.arguments import variable_error
from caregraph.api.availability import unavailable
from caregraph.api.errors import ApiError, LimitExceededError, ServiceUnavailableError
from caregraph.graph.readers import ReadTimeoutError

log = logging.getLogger("caregraph.api")

QUERY_MISTAKE = ApiError.code  # a query that does not parse, or asks what the schema lacks

_DEPTH = re.compile(r"exceeds maximum operation depth of (\d+)")
_ALIASES = re.compile(r"(\d+) aliases found\. Allowed: (\d+)")
_TOKENS = re.compile(r"Document contains more than (\d+) tokens")


def _refusal(error: GraphQLError, context: Any) -> ApiError | None:
    """The refusal a limiter's own error, or a driver's error, stands for, or None."""
    original = error.original_error
    if unavailable(original):
        breaker = getattr(context, "breaker", None)  # this worker stops asking for a while
        return breaker.failed() if breaker is not None else ServiceUnavailableError(5)
    if (bad := variable_error(error)) is not None:
        return bad
    if isinstance(original, ReadTimeoutError):
        return LimitExceededError(
            "timeout",
            f"reading the graph took longer than {original.limit_s:g} s",
            "add or shorten a from/to window, lower `first`, or select fewer nested lists",
            seconds=original.limit_s,
        )
    if original is not None:
        return None
    if m := _DEPTH.search(error.message):
        return LimitExceededError(
            "depth",
            f"the query nests deeper than {m.group(1)} levels",
            "ask for fewer levels of traversal at once (each connection is 3: field, edges, "
            "node) and follow up from the nodes you got",
            max=int(m.group(1)),
        )
    if m := _ALIASES.search(error.message):
        return LimitExceededError(
            "aliases",
            f"it has {m.group(1)} aliases, more than {m.group(2)}",
            "split it into several queries",
            max=int(m.group(2)),
        )
    if m := _TOKENS.search(error.message):
        return LimitExceededError(
            "tokens",
            f"the query text has more than {m.group(1)} tokens",
            "send a shorter query: fewer fields, or several queries",
            max=int(m.group(1)),
        )
    return None


def log_errors(errors: list[GraphQLError], request_id: str | None) -> None:
    """Unexpected errors, whole, to the service log under the request id; the rest quietly."""
    for error in errors:
        where = ".".join(str(p) for p in error.path or ()) or "(operation)"
        if unavailable(error.original_error):
            log.warning(
                "request %s: Neo4j did not answer at %s: %s", request_id, where, error.message
            )
        elif MaskUnexpected._unexpected(error):
            log.error(
                "request %s: unexpected error at %s",
                request_id,
                where,
                exc_info=error.original_error,
            )
        else:
            log.debug("request %s: %s at %s", request_id, error.message, where)


class MaskUnexpected(MaskErrors):
    """Masks unexpected errors and gives every error the request id."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=self._unexpected,
            error_message="Internal error: the request could not be completed.",
        )

    @staticmethod
    def _unexpected(error: GraphQLError) -> bool:
        original = error.original_error
        # Parse and validation errors carry no original error: they are about the query
        # text; an ApiError was raised on purpose. Anything else is a fault of the service.
        return (
            original is not None
            and not isinstance(original, ApiError)
            and variable_error(error) is None
        )

    def _request_id(self) -> str | None:
        rid = getattr(self.execution_context.context, "request_id", None)
        return rid if isinstance(rid, str) else None

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        rid = self._request_id()
        message = f"{self.error_message} Quote request id {rid} when reporting it."
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions={"code": "INTERNAL_ERROR", "requestId": rid},
        )

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        rid = self._request_id()
        out: list[GraphQLError] = []
        for error in errors:
            refusal = _refusal(error, self.execution_context.context)
            if refusal is not None:
                error = GraphQLError(
                    refusal.message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    original_error=refusal,
                    extensions=refusal.extensions,
                )
            elif self.should_mask_error(error):
                out.append(self.anonymise_error(error))
                continue
            # a copy: a cached validation error is shared by every request that repeats a query;
            # graphql-core gives a query that does not parse or validate no code, and a client
            # acts on the code: it is the caller's to fix, as a bad request
            extensions: dict[str, Any] = {
                "code": QUERY_MISTAKE,
                **(error.extensions or {}),
                "requestId": rid,
            }
            out.append(
                GraphQLError(
                    error.message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    original_error=error.original_error,
                    extensions=extensions,
                )
            )
        return out
