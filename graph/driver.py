"""The one place a Neo4j driver is made: from settings, for the managed or an external server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase, Driver, GraphDatabase
from neo4j.exceptions import AuthError, ServiceUnavailable

from caregraph.graph.errors import Neo4jUnavailableError
from caregraph.graph.settings import Neo4jSettings, Settings


def connection(settings: Settings) -> Neo4jSettings:
    """Where to connect: NEO4J_URI when it is set, the managed server otherwise."""
    if settings.neo4j.external:
        return settings.neo4j
    from caregraph.graph.server import (
        ManagedNeo4j,  # local: external mode never touches the server code
    )

    managed = ManagedNeo4j(settings.paths.neo4j_home, settings.managed)
    conn = managed.connection()
    return conn.model_copy(update={"database": settings.neo4j.database})


def open_driver(conn: Neo4jSettings, **timeouts: float) -> Driver:
    """A driver for the server named by ``conn``; the caller closes it. ``timeouts``:
    ``connection_timeout`` (10 s), ``acquisition_timeout`` and ``max_retry_time`` (30 s)."""
    uri, config = _driver_config(conn, **timeouts)
    return GraphDatabase.driver(uri, **config)


def open_async_driver(conn: Neo4jSettings, **timeouts: float) -> AsyncDriver:
    """:func:`open_driver`'s async twin, for a service's event loop: made and closed on that
    loop (its connections belong to it)."""
    uri, config = _driver_config(conn, **timeouts)
    return AsyncGraphDatabase.driver(uri, **config)


def _driver_config(
    conn: Neo4jSettings,
    *,
    connection_timeout: float = 10.0,
    acquisition_timeout: float = 30.0,
    max_retry_time: float = 30.0,
) -> tuple[str, dict[str, Any]]:
    if not conn.uri:
        raise Neo4jUnavailableError("no Neo4j URI: set NEO4J_URI or start `caregraph neo4j start`")
    password = conn.password.get_secret_value() if conn.password else ""
    return conn.uri, {
        "auth": (conn.username, password),
        "user_agent": "caregraph",
        "max_connection_pool_size": 64,
        "connection_acquisition_timeout": acquisition_timeout,
        "connection_timeout": connection_timeout,
        "max_transaction_retry_time": max_retry_time,
        # Neo4j's hints (an unknown label on an empty graph) are noise for a service's log.
        "notifications_min_severity": "OFF",
    }


@contextmanager
def session_driver(conn: Neo4jSettings, **timeouts: float) -> Iterator[Driver]:
    """Open a driver (``timeouts`` as :func:`open_driver` takes them), check it reaches Neo4j,
    and close it afterwards."""
    driver = open_driver(conn, **timeouts)
    try:
        try:
            driver.verify_connectivity()
        except (ServiceUnavailable, AuthError, OSError) as e:
            raise Neo4jUnavailableError(f"Neo4j at {conn.uri} is not reachable: {e}") from e
        yield driver
    finally:
        driver.close()


def ping(driver: Driver, database: str) -> None:
    """Ask Neo4j one trivial question, once, without the driver's retries; raise if it fails."""
    with driver.session(database=database) as session:
        session.run("RETURN 1").consume()


def answers(conn: Neo4jSettings) -> bool:
    """True when Neo4j at ``conn`` accepts a login and answers a query."""
    try:
        with open_driver(conn, connection_timeout=2.0, acquisition_timeout=3.0) as driver:
            ping(driver, conn.database or "neo4j")
        return True
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
        return False
