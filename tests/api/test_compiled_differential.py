"""Security parity, proved by difference: generated selections over the schema (fields,
arguments, page sizes, windows, nesting, the members of a union) from every covered root, from
patientContext (its window, budget, cursor and underCode) and below the matches of every search,
for every role, through the compiled path and the reference path, give the same answers, the
same refusals and the same patients noted for the audit.

``make test`` runs a bounded number of examples per role (CAREGRAPH_DIFFERENTIAL_EXAMPLES,
default 6); set it higher for a longer run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caregraph.api.auth import Role
from caregraph.api.connections import PATH
from caregraph.api.schema import schema
from caregraph.api.settings import ApiSettings
from caregraph.api.type_system import graphql_core
from tests.api.conftest import (
    ADA,
    CLINIC_NPI,
    JANE,
    SMITH_NPI,
    STUDY_UID,
    Gql,
    Run,
    principal,
)
from tests.api.test_compiled import plain

EVENT_KINDS = ["Event", "ClinicalEvent", "FinancialEvent", "Encounter", "remittance", "Nope"]
EXAMPLES = int(os.environ.get("CAREGRAPH_DIFFERENTIAL_EXAMPLES", "6"))
# a statement of a new shape is planned by Neo4j on its first run (seconds for a deep one on a
# busy machine): both paths get the same generous limit, so a cold plan is not a difference
COMPILED = ApiSettings(query_timeout_s=120, compiled_budget_s=120, compiled_wait_for_plan=True)
REFERENCE = ApiSettings(query_timeout_s=120, compiled_reads=False)
GRAPH = graphql_core(schema)

# each covered root with arguments that name one node, several (ambiguous) or none
ROOTS: list[tuple[str, str, list[str]]] = [
    ("patient", "identifier", [ADA, JANE, "ada", "MRN001", "crowd03", "nobody|none"]),
    ("practitioner", "npi", [SMITH_NPI, "1234567890", "12"]),
    ("organization", "npi", [CLINIC_NPI]),
    ("encounter", "identifier", ["V100", "crowd00-v1", "nothing"]),
    ("claim", "controlNumber", ["V100"]),
    ("imagingStudy", "studyInstanceUid", [STUDY_UID]),
]
FIRSTS = [None, 0, 1, 2, 3, 20, 101]  # 101: over the limit, refused
TIMES = [
    None,
    "2024-01-01T00:00:00Z",
    "2024-05-01T00:00:00Z",
    "2024-05-01T14:00:00Z",
    "2025-01-01T00:00:00Z",
]
PAGE_ARGS = ("first", "from", "to")
MAX_DEPTH = 3  # traversals below the root


def _leaves(typ: Any) -> list[str]:
    """Fields of ``typ`` without arguments whose type is a scalar or an enum."""
    return sorted(
        name
        for name, f in typ.fields.items()
        if not f.args and isinstance(get_named_type(f.type), GraphQLScalarType | GraphQLEnumType)
    )


def _nested(typ: Any) -> list[str]:
    """Fields of ``typ`` that lead to another object, with no required argument."""
    out = []
    for name, f in typ.fields.items():
        target = get_named_type(f.type)
        if not isinstance(target, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            continue
        if any(
            isinstance(a.type, GraphQLNonNull) and a.default_value is None for a in f.args.values()
        ):
            continue
        out.append(name)
    return sorted(out)


def _traversal(typ: Any, name: str) -> bool:
    definition = typ.fields[name].extensions.get("strawberry-definition")
    return PATH in (getattr(definition, "metadata", None) or {})


@st.composite
def selection(draw: st.DrawFn, typ: Any, depth: int) -> str:
    """A selection set on ``typ``."""
    if isinstance(typ, GraphQLUnionType):  # its members' fragments, or none
        members = sorted(GRAPH.get_possible_types(typ), key=str)
        chosen = draw(st.lists(st.sampled_from(members), max_size=len(members), unique=True))
        fragments = [f"... on {m.name} {draw(selection(m, depth))}" for m in chosen]
        return "{ " + " ".join(["__typename", *fragments]) + " }"
    leaves = _leaves(typ) or ["__typename"]
    parts = draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=4, unique=True))
    if depth < MAX_DEPTH:
        nested = _nested(typ)
        walks = [n for n in nested if _traversal(typ, n)]
        # a traversal below the root, mostly: the compiled path has something to read
        if walks and (depth == 0 or draw(st.booleans())):
            parts.append(draw(field(typ, draw(st.sampled_from(walks)), depth + 1)))
        others = (
            st.lists(st.sampled_from(nested), max_size=2, unique=True) if nested else st.just([])
        )
        for name in draw(others):
            parts.append(draw(field(typ, name, depth + 1)))
    if isinstance(typ, GraphQLInterfaceType) and draw(st.booleans()):
        concrete = draw(st.sampled_from(sorted(GRAPH.get_possible_types(typ), key=str)))
        parts.append(f"... on {concrete.name} {draw(selection(concrete, depth))}")
    return "{ " + " ".join(parts) + " }"


@st.composite
def field(draw: st.DrawFn, parent: Any, name: str, depth: int) -> str:
    f = parent.fields[name]
    target = get_named_type(f.type)
    args = []
    for arg in PAGE_ARGS:
        if arg not in f.args:
            continue
        value = draw(st.sampled_from(FIRSTS if arg == "first" else TIMES))
        if value is not None:
            args.append(f"{arg}: {value}" if arg == "first" else f'{arg}: "{value}"')
    if "kind" in f.args and draw(st.booleans()):  # events(kind:): a class, a superclass, none
        args.append(f'kind: "{draw(st.sampled_from(EVENT_KINDS))}"')
    if "underCode" in f.args and draw(st.booleans()):
        args.append(f'underCode: "{draw(st.sampled_from(["I20-I25", "Z00.00", "nope|x"]))}"')
    text = name + (f"({', '.join(args)})" if args else "")
    if target.name.endswith("Connection"):
        node = get_named_type(get_named_type(target.fields["edges"].type).fields["node"].type)
        inner = []
        if draw(st.booleans()):
            inner.append("totalCount")
        if draw(st.booleans()):
            inner.append("pageInfo { hasNextPage hasPreviousPage startCursor endCursor }")
        edge = ["cursor"] if draw(st.booleans()) else []
        edge.append(f"node {draw(selection(node, depth))}")
        if draw(st.booleans()):
            edge.append("rule role")
        inner.append("edges { " + " ".join(edge) + " }")
        return f"{text} {{ {' '.join(inner)} }}"
    return f"{text} {draw(selection(target, depth))}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    root, argument, values = draw(st.sampled_from(ROOTS))
    value = draw(st.sampled_from(values))
    typ = get_named_type(GRAPH.query_type.fields[root].type)
    return f'{{ {root}({argument}: "{value}") {draw(selection(typ, 0))} }}'


# each search with terms that find one, several or none (a role that may not search by a name
# is refused, the same way on both paths)
SEARCHES: list[tuple[str, str, list[str]]] = [
    ("patients", "patient", ['family: "lovelace", birthDate: "1970"', 'identifierValue: "MRN001"',
                             'family: "crowd", birthDate: "1990-01-01"', 'birthDate: "1990", '
                             'gender: "male"', 'family: "nobody", birthDate: "2001"']),
    ("practitioners", "practitioner", ['name: "smith"', 'name: "grey"', f'npi: "{SMITH_NPI}"']),
    ("organizations", "organization", ['name: "general"', 'name: "clinic"']),
    ("locations", "location", ['name: "ward"']),
]  # fmt: skip


@st.composite
def search_documents(draw: st.DrawFn) -> str:
    root, found, terms = draw(st.sampled_from(SEARCHES))
    args = draw(st.sampled_from(terms))
    first = draw(st.sampled_from([None, 1, 3, 20]))
    if first is not None:
        args += f", first: {first}"
    connection = get_named_type(GRAPH.query_type.fields[root].type)
    match = get_named_type(get_named_type(connection.fields["edges"].type).fields["node"].type)
    typ = get_named_type(match.fields[found].type)
    inner = ["totalCount"] if draw(st.booleans()) else []
    if draw(st.booleans()):
        inner.append("pageInfo { hasNextPage endCursor }")
    inner.append(f"edges {{ cursor node {{ score matchedOn {found} {draw(selection(typ, 1))} }} }}")
    return f"{{ {root}({args}) {{ {' '.join(inner)} }} }}"


# patientContext: each argument mostly one it answers (so that most examples read), else one
# that makes a difference: several patients or none, a blank identifier, a budget under the
# minimum or over the maximum, a foreign cursor (refused before any read), a code of no known
# system, a system without a code (refused after the lookup); CURSOR: a cursor of an earlier
# call, made by the test
CURSOR = "@cursor"
CONTEXT_ARGS: dict[str, tuple[list[Any], list[Any]]] = {
    "identifier": ([ADA, JANE, "ada"], ["MRN001", "nobody|none", " "]),
    "budgetTokens": ([None, 60, 120, 400, 2000], [49, 40000]),
    "after": ([None, CURSOR], ["cg1.not-a-cursor"]),
    "underCode": ([None, "I20-I25", "Z00.00"], ["nope|x", "nope|"]),
}


@st.composite
def context_documents(draw: st.DrawFn) -> str:
    args = []
    for arg, (usual, other) in CONTEXT_ARGS.items():
        value = draw(st.sampled_from(usual * 3 + other))
        if value is not None:
            args.append(f"{arg}: {value}" if isinstance(value, int) else f'{arg}: "{value}"')
    # a window, mostly one that is (a `to` after its `from`)
    start, end = draw(st.sampled_from(TIMES)), draw(st.sampled_from(TIMES))
    if start and end and end <= start and draw(st.sampled_from([True, True, True, False])):
        start, end = (end, start) if end < start else (start, None)
    args += [f'{arg}: "{value}"' for arg, value in (("from", start), ("to", end)) if value]
    typ = get_named_type(GRAPH.query_type.fields["patientContext"].type)
    leaves = _leaves(typ)
    parts = ["text", *draw(st.lists(st.sampled_from(leaves), max_size=4, unique=True))]
    if draw(st.booleans()):
        parts.append("included { kind count } omitted { kind count }")
    # the levels below the patient and below the timeline's nodes, each one level down
    if draw(st.booleans()):
        patient = get_named_type(typ.fields["patient"].type)
        parts.append(f"patient {draw(selection(patient, 1))}")
    if draw(st.booleans()):
        parts.append(draw(field(typ, "timeline", 1)))
    return f"{{ patientContext({', '.join(args)}) {{ {' '.join(dict.fromkeys(parts))} }} }}"


_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def refusals(run: Run) -> list[dict[str, Any]]:
    """A run's errors without what differs between any two requests (the request id)."""
    out = []
    for e in run.result.errors or ():
        formatted = dict(e.formatted)
        formatted["message"] = _REQUEST_ID.sub("<id>", formatted["message"])
        ext = dict(formatted.get("extensions") or {})
        ext.pop("requestId", None)
        formatted["extensions"] = ext
        out.append(formatted)
    return sorted(out, key=repr)


# hypothesis' settings for every differential test: bounded, reproducible, no deadline (a
# request reads Neo4j)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_agree(gql: Gql, query: str, role: Role) -> None:
    """The compiled and the reference path give ``role`` the same refusals, the same answer
    and the same audited patients for ``query``."""
    who = principal(role)
    fast = gql(query, settings=COMPILED, principal=who)
    slow = gql(query, settings=REFERENCE, principal=who)
    assert refusals(fast) == refusals(slow), query
    assert plain(fast) == plain(slow), query
    assert fast.context.reader.patients == slow.context.reader.patients, query
    if os.environ.get("CAREGRAPH_DIFFERENTIAL_SHOW"):
        trips = (fast.context.reader.round_trips, slow.context.reader.round_trips)
        print(role.value, trips, fast.context.answered_directly, len(refusals(fast)), query)


@pytest.mark.parametrize("drawn", [documents, search_documents], ids=["roots", "searches"])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_compiled_and_reference_paths_agree(
    gql: Gql, role: Role, drawn: Callable[[], st.SearchStrategy[str]]
) -> None:
    @SETTINGS
    @given(drawn())
    def agree(query: str) -> None:
        assert_agree(gql, query, role)

    agree()


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_compiled_and_reference_paths_agree_on_patient_context(gql: Gql, role: Role) -> None:
    # a cursor of an earlier call, as a caller passes it on (cursors last as the process)
    first = gql(
        f'{{ patientContext(identifier: "{ADA}", budgetTokens: 120) {{ nextCursor }} }}',
        settings=REFERENCE,
    )
    cursor = first.data["patientContext"]["nextCursor"]
    assert cursor

    @SETTINGS
    @given(context_documents())
    def agree(document: str) -> None:
        assert_agree(gql, document.replace(CURSOR, cursor), role)

    agree()


@pytest.mark.parametrize(
    "below",
    [
        'appointments(from: "2024-01-01T00:00:00Z", to: "2024-01-01T00:00:00Z")'
        " { edges { node { cancelReason } } }",
        'events(kind: "Nope") { edges { node { key } } }',
    ],
    ids=["window", "kind"],
)
@pytest.mark.parametrize("direct", [True, False], ids=["direct", "graphql-core"])
def test_an_argument_refused_below_every_match_is_reported_for_the_first(
    gql: Gql, direct: bool, below: str
) -> None:
    # MRN001 names two patients: each match's connection refuses the same argument. The null
    # climbs to `patients`, and one error is reported; it was the first match's or the
    # second's depending on which read came back first (the 100-example run found it)
    query = (
        '{ patients(identifierValue: "MRN001") { edges { cursor node { score patient {'
        f" birthDate {below}"
        " claims { totalCount edges { node { claimType coverage { display } } } } } } } } }"
    )
    field = below.split("(")[0]
    who = principal(Role.clinician)
    for settings_ in (COMPILED, REFERENCE):
        for _ in range(3):
            run = gql(
                query,
                settings=settings_.model_copy(update={"direct_answers": direct}),
                principal=who,
            )
            assert run.result.data is None
            assert [(e["path"], e["extensions"]["code"]) for e in refusals(run)] == [
                (["patients", "edges", 0, "node", "patient", field], "BAD_ARGUMENT")
            ], settings_
