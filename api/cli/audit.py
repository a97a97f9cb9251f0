"""`caregraph audit`: the read audit log, newest first (who read which patients, when, why);
`caregraph audit verify`: whether the log is as caregraph wrote it (graph/chain.py)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

from caregraph.api.audit import record_cli_read
from caregraph.api.cli import options
from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import AnchorError, Anchors
from caregraph.graph.chain import DayReport
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.settings import Settings

app = typer.Typer(help="The read audit log (admin).")


@app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
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
    """Show the read audit log, newest first (it names patients: the showing is audited too)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    try:
        conn = connection(settings)
        anchors = Anchors.open(settings)
        with session_driver(conn) as driver:
            events = keys_and_audit.query_audit(
                driver,
                conn.database,
                subject=subject,
                patient=patient,
                since=options.since(since),
                limit=limit,
            )
            shown = sorted({p for e in events for p in e.get("patients") or []})
            with options.recorded_or_stop():
                record_cli_read(driver, conn.database, anchors, "auditLog", shown, ["auditLog"])
    except (GraphError, AnchorError) as e:
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


@app.command("verify")
def verify(
    day: Annotated[
        str | None, typer.Option("--day", help="Only this UTC day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Recompute the audit's hash chains and check them against the anchor file: prints
    intact per day or where a chain breaks; exit code 0 intact, 1 broken, 2 not checked."""
    if day is not None:
        try:
            date.fromisoformat(day)
        except ValueError as e:
            raise typer.BadParameter("a UTC day such as 2024-05-01", param_hint="--day") from e
    settings = Settings()
    try:
        conn = connection(settings)
        anchors = Anchors.open(settings, make_key=False)
        with session_driver(conn) as driver:
            found = keys_and_audit.verify_audit(driver, conn.database, anchors, day)
    except (GraphError, AnchorError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    for report in found.days:
        _show(report)
    for line in found.unreadable:
        typer.echo(f"anchor file  broken\n  line {line.number} is not an anchor line (edited)")
    if not found.days and not found.unreadable:
        typer.echo(f"no audit records{f' on {day}' if day else ''}: nothing to verify")
    if found.unchained:
        typer.echo(f"({found.unchained} records from before the chain are not covered)")
    if not found.intact:
        raise typer.Exit(1)


def _show(report: DayReport) -> None:
    if not report.intact:
        typer.echo(f"{report.day}  broken  ({report.records} records)")
        for problem in report.problems:
            typer.echo(f"  {problem}")
        return
    tail = ""
    if report.anchored is not None and report.records > report.anchored:
        tail = f", {report.records - report.anchored} after the newest anchor"
    typer.echo(
        f"{report.day}  intact  {report.records} records, last hash "
        f"{(report.last or '')[:16]}, anchored at {report.anchored}{tail}"
    )
