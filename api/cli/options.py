"""What several commands share: their options, and the audit record of what they show."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import typer


def since(text: str | None) -> datetime | None:
    """A ``--since`` value: a date or an ISO date-time, UTC unless it says otherwise."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(
            "give a date or date-time, e.g. 2024-05-01 or 2024-05-01T08:00Z"
        ) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def recorded_or_stop(after: str = "") -> Iterator[None]:
    """Around the audit record of a read at the command line (api/audit.py
    ``record_cli_read``), made before anything is printed: when it cannot be made, say so and
    exit 2, having shown nothing. ``after``: what the message adds (what to do, what was
    done)."""
    try:
        yield
    except Exception as e:  # any failure to record: nothing is shown
        typer.echo(
            "error: the read could not be recorded in the audit log, so nothing is shown "
            f"({type(e).__name__}){after}",
            err=True,
        )
        raise typer.Exit(2) from e
