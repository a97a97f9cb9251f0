"""The README's GraphQL examples are valid against the schema, so the README stays true."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from api.schema import schema

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_graphql_example_in_the_readme_validates() -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has GraphQL examples"
    for block in blocks:
        for query in re.split(r"\n(?=# )", block.strip()):
            body = "\n".join(ln for ln in query.splitlines() if not ln.startswith("#"))
            errors = validate(schema._schema, parse(body))
            assert not errors, (body, [e.message for e in errors])


def test_the_readmes_cli_table_names_every_command() -> None:
    from typer.main import get_command

    from api.cli.main import app

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
