"""How a token finds its nodes, written once: an identifier token (``system|value``) names
the nodes its Identifier IDENTIFIES, and a node's own key names that node (a stub is keyed by
the token that referred to it). The identity step, the API's lookups and `caregraph explain`
read through these, so all three agree on what a token means."""

from __future__ import annotations


def named_by(token: str, var: str = "n") -> str:
    """A subquery body returning as ``var`` every entity the token (a Cypher expression: a
    parameter or a variable in scope) identifies or is the key of; wrap it in ``CALL``."""
    return (
        f"MATCH (:Identifier {{key: {token}}})-[:IDENTIFIES]->(a:Entity) RETURN a AS {var} "
        f"UNION MATCH (b:Entity {{key: {token}}}) RETURN b AS {var}"
    )


def with_value(value: str, var: str = "n", identifier: str = "i") -> str:
    """A pattern: every entity ``var`` an identifier ``identifier`` of that bare value (an
    expression) identifies, whatever its system."""
    return f"({identifier}:Identifier {{value: {value}}})-[:IDENTIFIES]->({var}:Entity)"
