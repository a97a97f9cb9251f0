"""A value the schema's types refuse is the caller's error, BAD_ARGUMENT, whether written in
the query or sent as a variable (a variable used to come back as INTERNAL_ERROR)."""

from __future__ import annotations

from tests.api.conftest import Gql

CONTEXT = 'patientContext(identifier: "HOSP|MRN001", from: {}) {{ text }}'


def test_a_bad_datetime_literal_and_variable_get_the_same_code(gql: Gql) -> None:
    (literal,) = gql("{ " + CONTEXT.format('"soon"') + " }").errors
    (variable,) = gql(
        "query($from: DateTime) { " + CONTEXT.format("$from") + " }", {"from": "soon"}
    ).errors
    for error in (literal, variable):
        assert error["extensions"]["code"] == "BAD_ARGUMENT", error
        assert "Value cannot represent a DateTime" in error["message"]
        assert "Internal error" not in error["message"]
    assert variable["extensions"]["variable"] == "from"
    assert variable["message"].startswith("Variable '$from' has invalid value")


def test_a_variable_of_the_wrong_type_is_a_bad_argument(gql: Gql) -> None:
    run = gql(
        'query($b: Int) { patientContext(identifier: "HOSP|MRN001", budgetTokens: $b) { text } }',
        {"b": "lots"},
    )
    (error,) = run.errors
    assert error["extensions"]["code"] == "BAD_ARGUMENT"
    assert "Int cannot represent" in error["message"]


def test_a_good_variable_still_works(gql: Gql) -> None:
    run = gql(
        "query($from: DateTime) { " + CONTEXT.format("$from") + " }",
        {"from": "2024-01-01T00:00:00Z"},
    )
    assert "JANE DOE" in run.data["patientContext"]["text"]
