"""The one Neo4j a benchmark run measures against: managed under bench/data, or NEO4J_URI.

A managed server is sized for the machine (heap and page cache) and emptied between loads by
stopping it and removing the database's store files, which is much faster than deleting
millions of nodes and leaves both loads an identical, cold, empty database. An external
server (NEO4J_URI) is emptied with batched DETACH DELETE instead, and its schema dropped.
"""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import Driver

from caregraph.graph import schema
from caregraph.graph.driver import open_driver
from caregraph.graph.server import ManagedNeo4j
from caregraph.graph.settings import ManagedNeo4jSettings, Neo4jSettings
from caregraph.ontology.model import load_ontology


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class BenchNeo4j:
    """The benchmark's Neo4j: start, empty, connect, stop."""

    home: Path
    heap: str = "3g"
    pagecache: str = "4g"
    external: Neo4jSettings | None = None
    server: ManagedNeo4j | None = field(default=None, init=False)
    _driver: Driver | None = field(default=None, init=False)

    def start(self) -> None:
        """Start the managed server on free ports (no-op for an external one)."""
        if self.external is not None:
            return
        settings = ManagedNeo4jSettings(
            bolt_port=free_port(),
            http_port=free_port(),
            heap=self.heap,
            pagecache=self.pagecache,
            start_timeout=300.0,
        )
        self.server = ManagedNeo4j(self.home, settings)
        if self.server.pid() is not None:  # left over from an interrupted run: start afresh
            self.server.stop()
        self.server.start()

    def server_pid(self) -> int | None:
        """The managed server's process (its CPU is measured), None for an external one."""
        return self.server.pid() if self.server is not None else None

    def connection(self) -> Neo4jSettings:
        """Where the service, the peer and the bench's own driver connect."""
        if self.external is not None:
            return self.external
        assert self.server is not None, "start() first"
        return self.server.connection()

    @property
    def database(self) -> str:
        return self.connection().database

    @property
    def driver(self) -> Driver:
        """The bench's own driver (made once, closed by stop())."""
        if self._driver is None:
            self._driver = open_driver(self.connection())
        return self._driver

    def version(self) -> str:
        """Neo4j's version and edition as the server reports them."""
        records, _, _ = self.driver.execute_query(
            "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS v, edition",
            database_=self.database,
        )
        return f"{records[0]['v']} {records[0]['edition']}"

    def empty(self) -> None:
        """An empty database with the ontology's schema applied, as a deployment starts."""
        self._close_driver()
        if self.server is not None:
            self.server.stop()
            for sub in ("databases", "transactions"):
                shutil.rmtree(self.server.data_dir / sub / self.database, ignore_errors=True)
            self.server.start()
        else:
            with self.driver.session(database=self.database) as session:
                session.run(
                    "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
                ).consume()
        schema.apply(self.driver, self.database, load_ontology(), force=True)

    def delete_data(self) -> None:
        """Delete every node in place (no restart): for small graphs, such as the warm-up's."""
        with self.driver.session(database=self.database) as session:
            session.run(
                "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
            ).consume()
        schema.apply(self.driver, self.database, load_ontology(), force=True)  # as empty()

    def close_driver(self) -> None:
        """Close the bench's driver (the next use of ``driver`` opens another)."""
        self._close_driver()

    def _close_driver(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def stop(self) -> None:
        """Close the driver and stop the managed server (an external one is left running)."""
        self._close_driver()
        if self.server is not None:
            self.server.stop()
