"""`caregraph identity candidates`: the probabilistic identity stage, run after loads."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from neo4j.exceptions import DriverError, Neo4jError

from graph.driver import connection, session_driver
from graph.errors import GraphError
from graph.settings import Settings
from loaders import probabilistic

app = typer.Typer(help="Probable matches between patients the deterministic rules left apart.")


@app.command()
def candidates(
    threshold: Annotated[
        float,
        typer.Option(
            "--threshold",
            min=0.5,
            max=1.0,
            help="Propose pairs whose match probability is at least this.",
        ),
    ] = probabilistic.ProbabilisticConfig.threshold,
) -> None:
    """Train a Fellegi-Sunter model (Splink) on the graph's patients and write the pairs above
    the threshold as (:MatchCandidate) nodes with their evidence per field; pairs a decision
    closed are not proposed again. Prints one JSON line of counts and time (no patient data).
    Exit 0: done; 2: Neo4j unreachable or failed."""
    settings = Settings()
    conn = connection(settings)
    config = probabilistic.ProbabilisticConfig(threshold=threshold)
    try:
        with session_driver(conn) as driver:
            result = probabilistic.run(driver, conn.database, config)
    except (GraphError, DriverError, Neo4jError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(json.dumps(result.as_json()))
