"""The README's GraphQL examples are valid against the schema, so the README stays true."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate
from neo4j import Driver

from caregraph.api.auth import Role
from caregraph.api.schema import schema
from caregraph.api.type_system import graphql_core
from caregraph.loaders.demo import load_demo
from tests.api.conftest import make_gql, principal

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> list[str]:
    """The README's GraphQL examples, each without its comment line."""
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has GraphQL examples"
    return [
        "\n".join(ln for ln in query.splitlines() if not ln.startswith("#"))
        for block in blocks
        for query in re.split(r"\n(?=# )", block.strip())
    ]


def test_every_graphql_example_in_the_readme_validates() -> None:
    for body in readme_examples():
        errors = validate(graphql_core(schema), parse(body))
        assert not errors, (body, [e.message for e in errors])


def test_every_readme_example_answers_on_the_demo_data_with_the_demos_key(
    clean_graph: Driver, database: str, tmp_path: Path
) -> None:
    """What a new user does after `make demo`: paste an example into GraphiQL with the printed
    key (a clinician's), and get an answer that is not empty."""
    load_demo(clean_graph, database, tmp_path / "demo")
    gql = make_gql(clean_graph, database)
    for body in readme_examples():
        data = gql(body, principal=principal(Role.clinician)).data  # fails on any error
        assert next(iter(data.values())), (body, data)


def test_the_readmes_cli_table_names_every_command() -> None:
    from typer.main import get_command

    from caregraph.api.cli.main import app

    text = README.read_text()
    table = text[text.index("## The CLI at a glance") :].split("\n## ", 1)[0]
    # the command cell of each row: `caregraph neo4j start\|stop\|...` or `caregraph load PATH...`
    cells = [c.replace("\\|", "|") for c in re.findall(r"^\| `caregraph ([^`]+)`", table, re.M)]
    shown: set[tuple[str, str]] = set()
    for cell in cells:
        command, _, rest = cell.partition(" ")
        subcommands = rest.split(" ")[0].split("|")  # "start|stop|status|env", or an argument
        shown |= {(command, "")} | {(command, sub) for sub in subcommands}
    for name, cmd in get_command(app).commands.items():  # type: ignore[attr-defined]
        for sub in getattr(cmd, "commands", None) or [""]:
            assert (name, sub) in shown, f"caregraph {name} {sub} is not in the README's CLI table"
