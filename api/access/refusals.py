"""Access control for every GraphQL operation, whatever way it came in (HTTP, MCP, tests):
nothing runs without an authenticated caller, and a query that selects a field the caller's
role may not read, or filters by one, is refused before anything runs.

Refusing the whole query (rather than answering it with the hidden fields as null) is the
choice here: the caller learns at once, by field path, what to remove, nothing is read for a
query that will not be answered in full, and a non-null field never has to be nulled.

    ApiError
    ├── UnauthenticatedError   no caller (UNAUTHENTICATED)
    ├── ForbiddenFieldError    a field the role may not read (FORBIDDEN_FIELD)
    └── ForbiddenArgumentError a filter on a field the role may not read (FORBIDDEN_ARGUMENT)

Their messages name the field and the rule, never a value.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension

from caregraph.api.access import selection
from caregraph.api.access.policy import ARGUMENT_FIELDS, NOBODY, WINDOW_ARGUMENTS, AccessPolicy
from caregraph.api.access.selection import Selected
from caregraph.api.errors import ApiError
from caregraph.api.type_system import graphql_core


class UnauthenticatedError(ApiError):
    """No caller is authenticated: nothing may be read."""

    code = "UNAUTHENTICATED"

    def __init__(self) -> None:
        super().__init__(
            "credentials required: send 'Authorization: Bearer <key or token>' "
            "(caregraph auth create-key makes a key)"
        )


class ForbiddenFieldError(ApiError):
    """A field the caller's role may not read."""

    code = "FORBIDDEN_FIELD"

    def __init__(self, role: str, where: str, field: str, why: str) -> None:
        super().__init__(
            f"query refused: role {role} may not read {field} (at {where}): {why}. "
            "Remove it from the query",
            field=field,
            path=where,
            role=role,
        )


class ForbiddenArgumentError(ApiError):
    """An argument that would filter on a field the caller's role may not read."""

    code = "FORBIDDEN_ARGUMENT"

    def __init__(self, role: str, where: str, argument: str, probes: str, why: str) -> None:
        super().__init__(
            f"query refused: role {role} may not use {argument!r} at {where}: it selects by "
            f"{probes}, which the role may not read ({why})",
            argument=argument,
            path=where,
            field=probes,
            role=role,
        )


def refusals(
    schema: GraphQLSchema, found: selection.Selection, policy: AccessPolicy
) -> list[tuple[ApiError, Selected]]:
    """Every field and argument of the selection that the policy does not allow."""
    role = policy.role.value if policy.role else "(none)"
    out: list[tuple[ApiError, Selected]] = []
    refused: list[str] = []  # paths refused: what is below them is not reported again
    for f in found.fields:
        if f.name.startswith("__") or any(f.path.startswith(p + ".") for p in refused):
            continue
        denied = [t for t in f.types if not policy.allows(t, f.name)]
        if denied:
            why = policy.why(denied[0], f.name)
            refused.append(f.path)
            out.append((ForbiddenFieldError(role, f.path, f"{'/'.join(denied)}.{f.name}", why), f))
            continue
        for arg in f.arguments:
            for probe in _probes(schema, f, arg):
                if not policy.allows(*probe):
                    why = policy.why(*probe)
                    name = f"{probe[0]}.{probe[1]}"
                    out.append((ForbiddenArgumentError(role, f.path, arg, name, why), f))
                    break
    return out


def _probes(schema: GraphQLSchema, f: Selected, arg: str) -> Iterator[tuple[str, str]]:
    """The fields an argument selects by."""
    for t in f.types:
        probe = ARGUMENT_FIELDS.get((t, f.name, arg))
        if probe:
            yield probe
    if arg in WINDOW_ARGUMENTS:  # a window selects by event time
        node = f.returns.removesuffix("Connection") if f.returns.endswith("Connection") else None
        if f.returns == "PatientContext":
            node = "Event"
        typ = schema.get_type(node) if node else None
        if typ is not None:
            for concrete in selection._concrete(schema, typ):
                yield (concrete, "time")


class Access(SchemaExtension):
    """Refuses an operation without a caller, or with a field or filter the caller's role
    may not read, before anything runs.

    It comes after the guardrails in the schema's extensions: their validation has run when
    its own ``on_validate`` starts, and strawberry acts on the errors before any extension's
    code after ``yield``. An operation without a caller is refused from the start, before
    it is parsed or its cost estimated."""

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        if getattr(ec.context, "principal", None) is None:
            error = UnauthenticatedError()
            ec.pre_execution_errors = [
                GraphQLError(error.message, original_error=error, extensions=error.extensions)
            ]
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        if not ec.pre_execution_errors and ec.graphql_document is not None:
            policy: AccessPolicy = getattr(ec.context, "policy", NOBODY)
            found = selection.of(graphql_core(ec.schema), ec.graphql_document, ec.operation_name)
            refused = refusals(graphql_core(ec.schema), found, policy)
            if refused:
                ec.pre_execution_errors = [
                    GraphQLError(
                        e.message, nodes=[f.node], original_error=e, extensions=e.extensions
                    )
                    for e, f in refused
                ]
        yield
