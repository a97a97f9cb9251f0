"""The read audit: one append-only record per operation that reads patient data, whatever way
it came in (GraphQL over HTTP, an MCP tool, a test), written once its answer is computed and
before it is sent.

A record says who (subject, role, how authenticated), when, which patients (the keys of the
patients whose nodes the request read: the reader notes them row by row), which fields (the
field paths the operation selected), the request id, the purpose of use the caller declared
(``X-Purpose-Of-Use``), the operation's name, the channel, and the outcome (ok, partial,
failed, refused: a refused query is recorded too, as an attempt). A search (``patients``,
``practitioners`` ...) is recorded as one: ``search`` holds, per response path, the field,
its terms as the caller gave them and the keys of what it returned (api/search.py).

If the record cannot be written the answer is withheld: the caller gets an error instead of
data nobody could account for; if Neo4j went away between the read and its record, that
error is a 503 with Retry-After, as for any read Neo4j cannot answer. Records are
hash-chained per day and anchored outside Neo4j (graph/keys_and_audit.py), so ``caregraph audit
verify`` shows an edit or a deletion.

The records of a worker's concurrent requests are written together: each request hands its
record to the worker's writer (graph/keys_and_audit.py ``AuditWriter``) and waits, without holding
a thread, until the batch that holds it is committed; one transaction per batch. In the service
(and `caregraph mcp`) the batches are written from the event loop through its async driver;
a context without one (the tests' ``gql``) hands them to the writer's thread.
"""

from __future__ import annotations

import getpass
import logging
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from graphql import GraphQLError
from neo4j import Driver
from strawberry.extensions import SchemaExtension

from caregraph.api.access import selection
from caregraph.api.access.policy import for_role
from caregraph.api.access.projections import projection
from caregraph.api.auth import Role
from caregraph.api.availability import unavailable
from caregraph.api.errors import ServiceUnavailableError
from caregraph.api.type_system import graphql_core
from caregraph.graph.anchors import Anchors
from caregraph.graph.keys_and_audit import append_audit
from caregraph.graph.readers import Reader

log = logging.getLogger("caregraph.audit")

CLI_ROLE = "admin-cli"  # whoever has the Neo4j login and the state directory: all of it
CLI_TIMEOUT_S = 30.0

# root fields that read no patient data: an operation of only these is not audited
NO_PATIENT_DATA = frozenset({"service", "ontology", "__schema", "__type", "__typename"})
REFUSALS = frozenset({"FORBIDDEN_FIELD", "FORBIDDEN_ARGUMENT", "FORBIDDEN", "UNAUTHENTICATED"})


def outcome(data: Any, codes: list[str]) -> str:
    """ok, partial (data and errors), failed (errors, no data) or refused."""
    if REFUSALS.intersection(codes):
        return "refused"
    if not codes:
        return "ok"
    return "partial" if data else "failed"


def _codes(errors: list[GraphQLError] | None) -> list[str]:
    return [str((e.extensions or {}).get("code", "ERROR")) for e in errors or ()]


class Audit(SchemaExtension):
    """Writes the operation's audit record after it ran; withholds the answer if it cannot."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        ec = self.execution_context
        ctx = ec.context
        principal = getattr(ctx, "principal", None)
        if principal is None or ec.graphql_document is None:
            return  # nobody to record, or not even a query (a syntax error): nothing was read
        found = selection.of(graphql_core(ec.schema), ec.graphql_document, ec.operation_name)
        if found.roots <= NO_PATIENT_DATA:
            return
        result = ec.result
        errors = getattr(result, "errors", None)
        data = getattr(result, "data", None)
        codes = _codes(errors)
        if "SERVICE_UNAVAILABLE" in codes:
            # Neo4j did not answer, so no record can be written either: no data goes out
            log.warning("request %s: not audited, Neo4j is unavailable", ctx.request_id)
            if result is not None:
                result.data = None
            return
        reader = ctx.__dict__.get("reader")  # only a request that read has a reader
        event = {
            "subject": principal.subject,
            "role": principal.role.value,
            "method": principal.method,
            "requestId": ctx.request_id,
            "purpose": getattr(ctx, "purpose", None),
            "channel": getattr(ctx, "channel", None),
            "operation": found.operation or ec.operation_name,
            "operationType": found.kind,
            "fields": found.paths(),
            "patients": sorted(reader.patients) if reader is not None else [],
            "outcome": outcome(data, codes),
            "errorCodes": sorted(set(codes)),
        }
        searches = getattr(ctx, "searches", None)
        if searches:  # a search: its terms as given and what it returned, by response path
            event["search"] = searches
        try:
            await ctx.audit.append(event, ctx.async_driver)
        except Exception as e:  # any failure to record: the answer must not go out
            gone = None
            if unavailable(e):  # Neo4j went away after the read: what any read would get
                log.warning("request %s: not audited, Neo4j did not answer: %s", ctx.request_id, e)
                gone = ctx.breaker.failed()
            else:
                log.exception("request %s: the audit record could not be written", ctx.request_id)
            if result is not None:
                _withhold(result, ctx.request_id, gone)
            return
        log.info(
            "read audited: %s, %d patients, %d fields",
            event["outcome"],
            len(event["patients"]),
            len(event["fields"]),
        )


def _withhold(result: Any, request_id: str, gone: ServiceUnavailableError | None) -> None:
    """No data; the errors the operation had, and the audit's (``gone``: Neo4j did not
    answer, which the Availability extension turns into a 503 with Retry-After)."""
    result.data = None
    error = (
        GraphQLError(gone.message, original_error=gone, extensions=gone.extensions)
        if gone is not None
        else GraphQLError(
            "The read could not be recorded in the audit log, so its answer is withheld. "
            f"Try again; quote request id {request_id} if it persists.",
            extensions={"code": "AUDIT_FAILED", "requestId": request_id},
        )
    )
    result.errors = [*(result.errors or ()), error]


def record_cli_read(
    driver: Driver,
    database: str,
    anchors: Anchors,
    operation: str,
    shown: Sequence[str],
    fields: Sequence[str],
    purpose: str | None = None,
) -> str:
    """Record a read at the command line before it prints: who is the OS user, the patients
    are those the nodes ``shown`` (keys) belong to. Raises when it cannot be recorded."""
    reader = Reader(driver, database, CLI_TIMEOUT_S, projection(for_role(Role.admin)))
    reader.start_clock()
    patients = set(reader.note_patients(list(dict.fromkeys(shown)))) if shown else set()
    return append_audit(
        driver,
        database,
        {
            "subject": cli_subject(),
            "role": CLI_ROLE,
            "method": "os-user",
            "requestId": uuid.uuid4().hex,
            "purpose": purpose.upper() if purpose else None,
            "channel": "cli",
            "operation": operation,
            "operationType": "command",
            "fields": list(fields),
            "patients": sorted(patients),
            "outcome": "ok",
            "errorCodes": [],
        },
        anchors,
    )


def cli_subject() -> str:
    """Who runs a command: the OS user, as the audit and identity decisions name them."""
    return f"os:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}"
