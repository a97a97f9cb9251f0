"""`caregraph auth create-key | list | revoke`: API keys (stored hashed in Neo4j)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import typer

from caregraph.api.auth import KeyStore, Role
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings

app = typer.Typer(help="Manage API keys.")
T = TypeVar("T")


def _store_do(action: Callable[[KeyStore], T]) -> T:
    settings = Settings()
    conn = connection(settings)
    try:
        with session_driver(conn) as driver:
            return action(KeyStore(driver, conn.database))
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e


@app.command("create-key")
def create_key(
    role: Annotated[
        Role, typer.Option("--role", help="clinician, billing, analyst, steward or admin.")
    ],
    name: Annotated[str, typer.Option("--name", help="Who or what the key is for.")] = "key",
) -> None:
    """Create a key and print it (shown once; only its hash is kept)."""
    key = _store_do(lambda s: s.create(role, name))
    typer.echo(key)


@app.command("list")
def list_keys() -> None:
    """List keys without their secrets."""
    for k in _store_do(lambda s: s.list()):
        state = f"revoked {k['revokedAt']}" if k.get("revokedAt") else "active"
        typer.echo(
            f"{k['keyId']}  {k['role']:<10} {k['name']:<20} created {k['createdAt']}  {state}"
        )


@app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id (cg_<id>_...).")]) -> None:
    """Revoke a key: it stops working at once."""
    key_id = key_id.removeprefix("cg_").split("_", 1)[0]
    if not _store_do(lambda s: s.revoke(key_id)):
        typer.echo(f"error: no key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
