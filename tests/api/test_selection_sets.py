"""The one walk of a document's selection sets (api/selection_sets.py): what each of its
readers (the access check, the cost estimate, the compiled planner, the direct answers) relies
on. No database: the walk reads only the syntax tree and the schema."""

from __future__ import annotations

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from caregraph.api import selection_sets
from caregraph.api.schema import schema
from caregraph.api.type_system import graphql_core


def _parts(text: str) -> tuple[SelectionSetNode, dict[str, FragmentDefinitionNode]]:
    document: DocumentNode = parse(text)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return operation.selection_set, fragments


def _below_root(text: str) -> tuple[SelectionSetNode | None, dict[str, FragmentDefinitionNode]]:
    top, fragments = _parts(text)
    root = next(selection_sets.fields([top], fragments))
    return root.node.selection_set, fragments


def test_fields_in_document_order_through_fragments_with_their_conditions() -> None:
    below, fragments = _below_root(
        """
        { claim(controlNumber: "1") { claimType ...Who ... on Claim { status } } }
        fragment Who on Claim { providers { __typename } ... { serviceStart } }
        """
    )
    found = list(selection_sets.fields([below], fragments))
    assert [(f.key, f.conditions) for f in found] == [
        ("claimType", ()),
        ("providers", ("Claim",)),
        ("serviceStart", ("Claim",)),  # an inline fragment without a type keeps it
        ("status", ("Claim",)),
    ]
    assert found[1].within == frozenset({"Who"})


def test_a_fragment_spread_twice_is_collected_once_and_aliases_are_keys() -> None:
    below, fragments = _below_root(
        """
        { patient(identifier: "x") { ...G  born: birthDate ...G gender } }
        fragment G on Patient { gender }
        """
    )
    grouped = selection_sets.by_key(selection_sets.fields([below], fragments))
    assert list(grouped) == ["gender", "born"]
    assert len(grouped["gender"]) == 2  # the fragment's (once) and the field's own


def test_only_fragments_that_apply_are_followed() -> None:
    below, fragments = _below_root(
        """
        { claim(controlNumber: "1") { providers {
            __typename ... on Practitioner { npi } ...Org } } }
        fragment Org on Organization { display }
        """
    )
    providers = next(selection_sets.fields([below], fragments))
    sets = [providers.node.selection_set]
    on_practitioner = selection_sets.fields(sets, fragments, applies={"Practitioner"}.__contains__)
    assert [f.key for f in on_practitioner] == ["__typename", "npi"]
    every = selection_sets.fields(sets, fragments)
    assert [f.key for f in every] == ["__typename", "npi", "display"]


def test_a_cycle_of_fragments_ends_for_the_walks_before_validation() -> None:
    # the audit and the cost estimate walk a document validation may refuse: a fragment that
    # spreads itself below one of its fields is followed once on the way down, then no more
    top, fragments = _parts(
        """
        { patient(identifier: "x") { ...P } }
        fragment P on Patient { gender patient: practitioners { edges { node { ...P } } } }
        """
    )
    root = next(selection_sets.fields([top], fragments))
    level = list(selection_sets.fields([root.node.selection_set], fragments, within=root.within))
    assert [f.key for f in level] == ["gender", "patient"]
    again = list(
        selection_sets.fields([level[1].node.selection_set], fragments, within=level[1].within)
    )
    edges = list(
        selection_sets.fields([again[0].node.selection_set], fragments, within=again[0].within)
    )
    assert [f.key for f in edges] == ["node"]
    assert (
        list(
            selection_sets.fields([edges[0].node.selection_set], fragments, within=edges[0].within)
        )
        == []
    )


def test_a_directive_is_reported_to_the_walk_that_cannot_answer_it() -> None:
    below, fragments = _below_root(
        """
        { patient(identifier: "x") { gender ...F } }
        fragment F on Patient @include(if: true) { birthDate }
        """
    )

    class Refused(Exception):
        pass

    def refuse() -> None:
        raise Refused

    with pytest.raises(Refused):
        list(selection_sets.fields([below], fragments, on_directive=refuse))
    assert [f.key for f in selection_sets.fields([below], fragments)] == ["gender", "birthDate"]
    top, _ = _parts('{ patient(identifier: "x") { gender @skip(if: true) } }')
    assert selection_sets.has_directives(top)
    assert not selection_sets.has_directives(_parts('{ patient(identifier: "x") { gender } }')[0])


def test_the_owner_of_a_field_is_its_innermost_fragments_type() -> None:
    core = graphql_core(schema)
    below, fragments = _below_root(
        """
        { claim(controlNumber: "1") { providers {
            __typename ... on Practitioner { npi } ... on Nowhere { display } } } }
        """
    )
    providers = next(selection_sets.fields([below], fragments))
    union = core.get_type("Provider")
    owners = {
        f.key: selection_sets.owner_type(core, f, union)
        for f in selection_sets.fields([providers.node.selection_set], fragments)
    }
    assert owners["__typename"] is union
    assert owners["npi"] is core.get_type("Practitioner")
    assert owners["display"] is None  # a type the schema does not have: nothing to check
    assert selection_sets.selects([providers.node.selection_set], "npi", fragments)
    assert not selection_sets.selects([providers.node.selection_set], "gender", fragments)
