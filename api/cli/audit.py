"""`caregraph audit`: the read audit log, newest first (who read which patients, when, why)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from graph import security
from graph.driver import connection, session_driver
from graph.errors import GraphError
from graph.settings import Settings


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise typer.BadParameter(
            "give a date or date-time, e.g. 2024-05-01 or 2024-05-01T08:00Z"
        ) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit(
    subject: Annotated[
        str | None, typer.Option("--subject", help="Only this caller (key:<id> or issuer#sub).")
    ] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", help="Only reads of this patient (its key).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only from this date or date-time on (UTC).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the read audit log, newest first."""
    settings = Settings()
    try:
        conn = connection(settings)
        with session_driver(conn) as driver:
            events = security.query_audit(
                driver,
                conn.database,
                subject=subject,
                patient=patient,
                since=_since(since),
                limit=limit,
            )
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for event in events:
        if as_json:
            typer.echo(json.dumps({k: _plain(v) for k, v in sorted(event.items())}))
            continue
        patients = ",".join(event.get("patients") or []) or "-"
        typer.echo(
            f"{_plain(event.get('at'))}  {event.get('subject')}  {event.get('role')}  "
            f"{event.get('outcome')}  purpose={event.get('purpose') or '-'}  "
            f"{event.get('channel')}:{event.get('operation') or '(anonymous)'}  "
            f"request={event.get('requestId')}  patients={patients}  "
            f"fields={len(event.get('fields') or [])}"
        )


def _plain(value: Any) -> Any:
    iso = getattr(value, "iso_format", None)
    return iso() if callable(iso) else value
