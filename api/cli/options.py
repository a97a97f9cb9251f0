"""What several commands' options share."""

from __future__ import annotations

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
