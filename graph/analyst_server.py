"""The managed analyst graph: a second Neo4j 5.26 Community server, read-only for its users.

Community Edition has one user with every right and no ``ALTER DATABASE ... SET ACCESS`` (that
is Enterprise), but it honours ``server.databases.read_only`` in neo4j.conf: the analyst
server runs with its database listed there, so whoever logs in (analysts in Neo4j Browser)
can read and never write. A refresh cannot write through it either, so it takes the server
down, starts the same store writable on free loopback ports that nobody else is told of (the
analysts' Bolt and Browser ports stay closed meanwhile), writes, and starts it read-only again
on its own ports. An analyst's session is cut by a refresh; a query after it sees the new data.

Against an external deployment (``ANALYST_NEO4J_URI``), the analyst graph is that server: a
refresh writes to it with the credentials given, and keeping analysts' logins read-only there
is that deployment's business (Enterprise roles, or the same setting).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from caregraph.graph.browser import BrowserSettings
from caregraph.graph.server import ManagedNeo4j, Status
from caregraph.graph.settings import ManagedNeo4jSettings, Neo4jSettings, Settings


class AnalystNeo4j:
    """The analyst graph's server under ``home``: read-only, or writable for a refresh."""

    def __init__(
        self, home: Path, settings: ManagedNeo4jSettings, browser: BrowserSettings | None = None
    ) -> None:
        self.home = home.resolve()
        self.settings = settings
        self.browser = browser
        self.server = ManagedNeo4j(self.home, settings, browser=browser, read_only=True)

    @property
    def password_file(self) -> Path:
        return self.server.password_file

    def password(self) -> str:
        return self.server.password()

    def connection(self) -> Neo4jSettings:
        """Settings that reach the read-only server (what analysts use)."""
        return self.server.connection()

    def start(self) -> Status:
        """Start it read-only (or find it running); return once Bolt accepts a login."""
        return self.server.start()

    def stop(self) -> bool:
        return self.server.stop()

    def status(self) -> Status:
        return self.server.status()

    @contextmanager
    def writable(self) -> Iterator[Neo4jSettings]:
        """The store writable on private loopback ports for the block; read-only again after
        (also when the block fails: analysts are not left without their graph)."""
        self.server.stop()
        private = self.settings.model_copy(
            update={"listen_address": "127.0.0.1", "bolt_port": _free(), "http_port": _free()}
        )
        writer = ManagedNeo4j(self.home, private, browser=self.browser, read_only=False)
        try:
            writer.start()
            yield writer.connection()
        finally:
            writer.stop()
            self.server.start()


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def managed(settings: Settings) -> AnalystNeo4j:
    """The managed analyst server of these settings (its own home, ports and password)."""
    return AnalystNeo4j(settings.paths.analyst_home, settings.analyst_managed)


@contextmanager
def writable_target(settings: Settings) -> Iterator[Neo4jSettings]:
    """Where a refresh writes: the external analyst graph as it is (its read-only users are
    that deployment's business), or the managed one opened writable for the block."""
    if settings.analyst.external:
        yield settings.analyst
        return
    with managed(settings).writable() as conn:
        yield conn
