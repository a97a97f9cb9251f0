"""The compiled read path answers as the reference path does, in one statement."""

from __future__ import annotations

from typing import Any

from caregraph.api.auth import Role
from caregraph.api.settings import ApiSettings
from tests.api.conftest import SMITH_NPI, Gql, Run, principal

REFERENCE = ApiSettings(compiled_reads=False)

TRAVERSAL = """query($npi: String!, $first: Int!) {
  practitioner(npi: $npi) {
    key display
    encounters(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
      key start encounterClass
      claims(first: $first) { edges { node { controlNumber serviceStart status claimType } } }
      imagingStudies(first: $first) {
        edges { node { studyInstanceUid start modality description } }
      }
    } } }
  }
}"""


CURSORS = ("cursor", "startCursor", "endCursor", "nextCursor")


def plain(run: Run) -> Any:
    """A run's data with each cursor decoded: encrypting one draws a fresh nonce, so the same
    position is a different string in two answers."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: run.context.cursors.decode(v) if k in CURSORS and v else walk(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(run.result.data)


def both(gql: Gql, query: str, variables: dict[str, Any], role: Role) -> tuple[Run, Run]:
    who = principal(role)
    fast = gql(query, variables, principal=who)
    slow = gql(query, variables, settings=REFERENCE, principal=who)
    return fast, slow


def test_the_traversal_is_one_statement_with_the_reference_answer(gql: Gql) -> None:
    gql(TRAVERSAL, {"npi": SMITH_NPI, "first": 2})  # warms the fan-out cache
    fast, slow = both(gql, TRAVERSAL, {"npi": SMITH_NPI, "first": 2}, Role.clinician)
    assert fast.result.errors == slow.result.errors
    assert plain(fast) == plain(slow)
    assert fast.result.data["practitioner"]["encounters"]["edges"]
    assert fast.context.reader.round_trips == 1
    assert slow.context.reader.round_trips > 1
    assert fast.context.reader.patients == slow.context.reader.patients
