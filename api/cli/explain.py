"""`caregraph explain A [B]`: why two source records are one individual, or why two are linked."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from graph.driver import connection, session_driver
from graph.errors import GraphError
from graph.explain import Because, explain_link, explain_node, find_node
from graph.settings import Settings


def explain(
    first: Annotated[
        str, typer.Argument(help="An identifier token system|value, a key or a value.")
    ],
    second: Annotated[
        str | None, typer.Argument(help="A second one: why are they one, or linked?")
    ] = None,
) -> None:
    """Explain a node (its identifiers, records and rules) or the tie between two."""
    settings = Settings()
    conn = connection(settings)
    try:
        with session_driver(conn) as driver:
            a = _one(find_node(driver, conn.database, first), first)
            if second is None:
                node = explain_node(driver, conn.database, a)
                typer.echo(f"{':'.join(node.labels)} {node.key} ({node.display or ''})")
                typer.echo("known by:")
                for because in node.identifiers:
                    _print(because)
                typer.echo("asserted by:")
                for rec in node.records:
                    typer.echo(
                        f"  {rec.get('sourceSystem')} {rec.get('file')} {rec.get('position')} "
                        f"(run {rec.get('runId')})"
                    )
                if node.inferred:
                    typer.echo("links made by rules:")
                    for because in node.inferred:
                        _print(because)
                return
            b = _one(find_node(driver, conn.database, second), second)
            if a == b:
                node = explain_node(driver, conn.database, a)
                typer.echo(f"{first} and {second} are one {node.labels[0]} ({a}), because:")
                for because in node.identifiers:
                    _print(because)
                return
            ties = explain_link(driver, conn.database, a, b)
            if not ties:
                typer.echo(f"{first} and {second} are different and not directly linked")
                raise typer.Exit(1)
            typer.echo(f"{a} and {b} are linked:")
            for because in ties:
                _print(because)
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


def _one(keys: list[str], token: str) -> str:
    if not keys:
        typer.echo(f"error: nothing in the graph is known as {token}", err=True)
        raise typer.Exit(2)
    if len(keys) > 1:
        typer.echo(f"error: {token} names {len(keys)} nodes; give system|value", err=True)
        raise typer.Exit(2)
    return keys[0]


def _print(because: Because) -> None:
    evidence = f" evidence {json.dumps(because.evidence)}" if because.evidence else ""
    sources = f" from {', '.join(because.sources)}" if because.sources else ""
    typer.echo(f"  {because.what}: rule {because.rule}{evidence}{sources}")
