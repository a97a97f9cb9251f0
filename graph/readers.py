"""Read queries behind the API. All Cypher lives in graph/; values are always parameters."""

from __future__ import annotations

from neo4j import Driver


def server_components(driver: Driver, database: str) -> dict[str, str]:
    """Neo4j's version and edition, as the server reports them."""
    records, _, _ = driver.execute_query(
        "CALL dbms.components() YIELD name, versions, edition "
        "RETURN versions[0] AS version, edition LIMIT 1",
        database_=database,
    )
    return {"version": records[0]["version"], "edition": records[0]["edition"]}
