"""`caregraph scorecard`: is the graph seeing across the health system's sources, and is it
getting better? The measures of graph/scorecard.py as a terminal table, JSON for pipelines,
or a self-contained HTML report; ``--check`` gates a feed on the minimums of a thresholds file.

The scorecard holds counts, shares and times only (no patient data), so showing it is not a
read of patient data and is not audited; the records behind a measure are (the API's
drill-down is, under the caller's role).
"""

from __future__ import annotations

import io
import json
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from caregraph.api.cli import options
from caregraph.api.scorecard_html import number, render_html
from caregraph.graph import scorecard
from caregraph.graph.driver import connection, session_driver
from caregraph.graph.errors import GraphError
from caregraph.graph.scorecard import Card, Measure, Point
from caregraph.graph.settings import Settings

THRESHOLDS_FILE = "scorecard.toml"  # under CAREGRAPH_HOME when --thresholds is not given


class Format(StrEnum):
    text = "text"
    json = "json"
    html = "html"


@dataclass(frozen=True)
class Breach:
    """A measure outside its threshold."""

    measure: Measure
    bound: str  # "minimum" or "maximum"
    limit: float

    def message(self) -> str:
        where = self.measure.source or "all sources"
        return (
            f"{self.measure.name} ({where}) is {_value(self.measure)}, "
            f"{'below its minimum' if self.bound == 'minimum' else 'above its maximum'} "
            f"{number(self.limit, self.measure.unit)}"
        )


@dataclass(frozen=True)
class Thresholds:
    """Minimums (and maximums, for what should stay low) per measure, from a TOML file:

    ```toml
    [minimum]
    "claims-linked-to-encounter" = 0.95          # every source, and all sources together
    "claims-linked-to-encounter@billing" = 0.99  # one source
    [maximum]
    "records-rejected" = 0.01
    "days-since-last-load" = 2
    ```

    A threshold applies to a measure's headline value (its row without a breakdown group);
    a measure with nothing to measure (a share of nothing) passes.
    """

    minimum: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> Thresholds:
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ValueError(f"{path}: cannot read the thresholds ({e})") from e
        unknown = sorted(set(data) - {"minimum", "maximum"})
        if unknown:
            raise ValueError(
                f"{path}: unknown table(s) {', '.join(unknown)}; use [minimum], [maximum]"
            )
        out: dict[str, dict[str, float]] = {"minimum": {}, "maximum": {}}
        for bound, table in data.items():
            for key, limit in table.items():
                name = key.partition("@")[0]
                if name not in scorecard.BY_NAME:
                    raise ValueError(f"{path}: [{bound}] names no measure: {key!r}")
                if not isinstance(limit, int | float) or isinstance(limit, bool):
                    raise ValueError(f"{path}: [{bound}] {key!r} is not a number")
                out[bound][key] = float(limit)
        return cls(out["minimum"], out["maximum"])

    def breaches(self, measures: list[Measure]) -> list[Breach]:
        found = []
        for m in measures:
            if m.group is not None or m.value is None:
                continue
            for bound, table in (("minimum", self.minimum), ("maximum", self.maximum)):
                limit = table.get(f"{m.name}@{m.source}") if m.source else None
                if limit is None:
                    limit = table.get(m.name)
                if limit is None:
                    continue
                if (bound == "minimum" and m.value < limit) or (
                    bound == "maximum" and m.value > limit
                ):
                    found.append(Breach(m, bound, limit))
        return found


def scorecard_command(
    source: Annotated[
        str | None, typer.Option("--source", help="Only this source system (and the totals).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="History from this date or date-time on.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text, json or html.")] = Format.text,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
    last: Annotated[
        int, typer.Option("--last", min=1, max=500, help="Load runs of history per measure.")
    ] = 20,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 when a measure is outside its threshold."),
    ] = False,
    thresholds: Annotated[
        Path | None,
        typer.Option(
            "--thresholds",
            help=f"Thresholds file (TOML; default $CAREGRAPH_HOME/{THRESHOLDS_FILE}).",
        ),
    ] = None,
) -> None:
    """The interoperability scorecard: continuity, identity, completeness and freshness,
    per source system and domain, with each measure's history over the load runs."""
    settings = Settings()
    limits: Thresholds | None = None
    if check:
        path = thresholds or settings.paths.home / THRESHOLDS_FILE
        if not path.exists():
            typer.echo(f"error: --check needs a thresholds file; {path} does not exist", err=True)
            raise typer.Exit(2)
        try:
            limits = Thresholds.from_file(path)
        except ValueError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from e
    try:
        conn = connection(settings)
        with session_driver(conn) as driver:
            found = scorecard.card(
                driver, conn.database, source=source, since=options.since(since), last=last
            )
    except GraphError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    if fmt is Format.json:
        text = json.dumps(found.as_json(), indent=2) + "\n"
    elif fmt is Format.html:
        text = render_html(found)
    else:
        text = render_text(found)
    if out is not None:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)
    if limits is not None:
        breaches = limits.breaches(found.measures)
        for b in breaches:
            typer.echo(f"outside its threshold: {b.message()}", err=True)
        if breaches:
            raise typer.Exit(1)
        typer.echo("every measure is within its thresholds", err=True)


def render_text(found: Card) -> str:
    """A terminal table: one row per measure value, with its last change and the run that
    made it."""
    table = Table(
        title=f"caregraph interoperability scorecard, {found.taken_at:%Y-%m-%d %H:%M} UTC"
    )
    for column in ("family", "measure", "domain", "source", "group", "value", "of", "last change"):
        table.add_column(column, justify="right" if column in ("value", "of") else "left")
    for m in found.measures:
        table.add_row(
            m.family,
            m.name,
            m.domain,
            m.source or "all",
            m.group or "",
            _value(m),
            "" if m.denominator is None else f"{m.numerator}/{m.denominator}",
            _last_change(found.trends.get(m.key, []), m),
        )
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def _last_change(points: list[Point], m: Measure) -> str:
    changes = scorecard.changes({m.key: points})
    if not changes:
        return ""
    c = changes[-1]
    return (
        f"{number(c.before.value, m.unit)} -> {number(c.after.value, m.unit)} "
        f"in run {c.after.run_id} ({c.after.run_source or '?'})"
    )


def _value(m: Measure) -> str:
    return number(m.value, m.unit)
