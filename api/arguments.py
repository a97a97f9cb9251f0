"""Values the schema's types refuse, alike whether written in the query or sent as variables.

graphql-core reports a bad literal (``from: "soon"``) at validation, without a code, and a bad
variable (``from: $from`` with ``{"from": "soon"}``) at execution, as an error wrapping the
scalar's own error, which the masking took for a fault of the service (INTERNAL_ERROR). Both
are the caller's to fix: both get code BAD_ARGUMENT and the scalar's message.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphql import ASTValidationRule, GraphQLError, ValuesOfCorrectTypeRule

from caregraph.api.errors import BadValueError

_VARIABLE = "Variable '$"


class ValuesOfCorrectType(ValuesOfCorrectTypeRule):
    """graphql-core's rule, its errors with the code BAD_ARGUMENT."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            GraphQLError(
                error.message,
                error.nodes,
                error.source,
                error.positions,
                error.path,
                extensions={**(error.extensions or {}), "code": BadValueError.code},
            )
        )


def rules(given: Sequence[type[ASTValidationRule]]) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules with graphql-core's value rule replaced by the one above."""
    return tuple(ValuesOfCorrectType if r is ValuesOfCorrectTypeRule else r for r in given)


def variable_error(error: GraphQLError) -> BadValueError | None:
    """The caller's error a variable's coercion error stands for, or None."""
    if isinstance(error.original_error, GraphQLError) and error.message.startswith(_VARIABLE):
        name = error.message[len(_VARIABLE) :].partition("'")[0]
        return BadValueError(error.message, variable=name)
    return None
