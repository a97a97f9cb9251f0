"""What `caregraph neo4j` and `caregraph analyst` share: starting, stopping and describing a
managed Neo4j, and refusing to when the server is an external one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import typer

from caregraph.graph.errors import GraphError
from caregraph.graph.server import Status


class Server(Protocol):
    """A Neo4j caregraph runs: the main one (graph/server.py) or the analyst graph's."""

    @property
    def password_file(self) -> Path: ...

    def start(self) -> Status: ...

    def stop(self) -> bool: ...


def refuse_external(external: bool, variable: str, uri: str | None, what: str) -> None:
    """Exit 2 when ``variable`` names an external server: caregraph never starts its own."""
    if external:
        typer.echo(f"{variable} is set ({uri}): {what} and never starts its own.", err=True)
        raise typer.Exit(2)


def start(server: Server, name: str = "", running: str = "running") -> None:
    """Start ``server`` (or find it running) and print its URLs and where its password is.
    ``name``: what the server is, when it is not the main one ("analyst graph")."""
    try:
        status = server.start()
    except GraphError as e:
        typer.echo(f"error: {name or 'Neo4j'} did not start: {e}", err=True)
        raise typer.Exit(1) from e
    prefix = f"{name}: " if name else ""
    typer.echo(f"{prefix}Neo4j {status.version} {running} (pid {status.pid})")
    typer.echo(f"  Bolt:    {status.bolt_uri}")
    typer.echo(f"  Browser: {status.browser_url}")
    typer.echo(f"  User:    neo4j   password in {server.password_file}")


def stop(server: Server, name: str = "") -> None:
    """Stop ``server`` cleanly, waiting until it has exited."""
    noun = name or "Neo4j"
    typer.echo(f"{noun} stopped" if server.stop() else f"{noun} was not running")


def show(st: Status, name: str = "", running: str = "running") -> None:
    """Print whether the server runs, with its URLs; exit 3 when it does not."""
    state = f"{running} (pid {st.pid})" if st.running else "not running"
    prefix = f"{name}, " if name else ""
    typer.echo(f"{prefix}Neo4j {st.version}: {state}")
    typer.echo(f"  Bolt:    {st.bolt_uri}")
    typer.echo(f"  Browser: {st.browser_url}")
    typer.echo(f"  Home:    {st.home}")
    if not st.running:
        raise typer.Exit(3)
