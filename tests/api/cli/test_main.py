"""The entry point every `caregraph` command goes through."""

from __future__ import annotations

import json
import subprocess
import sys

# what only some commands need, and each takes seconds to import on a small machine: the
# service (FastAPI, uvicorn, the GraphQL schema, the MCP SDK), the demo's loaders, Splink
HEAVY = (
    "uvicorn",
    "fastapi",
    "mcp",
    "caregraph.api.app",
    "caregraph.api.schema",
    "caregraph.api.mcp",
    "caregraph.loaders.demo",
    "caregraph.loaders.probabilistic",
    "splink",
    "duckdb",
)


def test_starting_a_command_imports_only_what_every_command_needs() -> None:
    code = (
        "import json, sys\n"
        "import caregraph.api.cli.main\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []


def test_the_commands_that_import_late_still_build_their_help() -> None:
    for command in ("serve", "demo", "mcp", "identity candidates"):
        done = subprocess.run(
            [sys.executable, "-m", "caregraph.api.cli.main", *command.split(), "--help"],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert "Usage:" in done.stdout
