"""The scorecard as one self-contained HTML file: charts and the table, opened without a server.

The charts are drawn by plotly (not by hand): it writes interactive SVG charts from plain
figure descriptions, and ``to_html(include_plotlyjs=True)`` embeds its JavaScript whole, so
the file works offline, behind a hospital's proxy, or attached to an email. The library is
embedded once, with the first chart; the others use it.
"""

from __future__ import annotations

import html
from collections import defaultdict

# plotly ships no type information (no py.typed): its figures are typed Any here
import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from caregraph.graph.scorecard import Card

DOMAIN_COLOURS = {
    "clinical": "#2a7ab0",
    "scheduling": "#8e5ea2",
    "imaging": "#3cba9f",
    "financial": "#e8a33d",
    "directory": "#c45850",
    "provenance": "#777777",
    "all": "#333333",
}
DASHES = ("solid", "dash", "dot", "dashdot")


def render_html(card: Card) -> str:
    """The whole report: continuity over the load runs, rejects and warnings by reason,
    freshness per source, and every measure with its definition."""
    figures = [_continuity(card), _reasons(card), _freshness(card)]
    charts = [
        fig.to_html(
            full_html=False,
            include_plotlyjs=(i == 0),  # the library once, inline: no CDN, no server
            config={"displaylogo": False, "responsive": True},
            div_id=f"chart-{name}",
        )
        for i, (fig, name) in enumerate(
            zip(figures, ("continuity", "reasons", "freshness"), strict=True)
        )
    ]
    title = f"Interoperability scorecard, {card.taken_at:%Y-%m-%d %H:%M} UTC"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: left;
         vertical-align: top; }}
td.num {{ text-align: right; white-space: nowrap; }}
.chart {{ margin-bottom: 2em; }}
.def {{ color: #555; max-width: 50em; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>Counts, shares and times only: no patient data. Each measure's definition (and its
Cypher) is in caregraph's <code>graph/scorecard.py</code>.</p>
<div class="chart">{charts[0]}</div>
<div class="chart">{charts[1]}</div>
<div class="chart">{charts[2]}</div>
<h2>Every measure</h2>
{_table(card)}
</body>
</html>
"""


def _continuity(card: Card) -> go.Figure:
    """Each continuity share (all sources together) over the load runs, coloured by domain."""
    fig = go.Figure()
    seen: dict[str, int] = defaultdict(int)  # measures of one domain: one colour, other dashes
    for m in card.measures:
        if m.family != "continuity" or m.source is not None or m.group is not None:
            continue
        dash = DASHES[seen[m.domain] % len(DASHES)]
        seen[m.domain] += 1
        points = card.trends.get(m.key, [])
        fig.add_trace(
            go.Scatter(
                x=[f"{p.at:%m-%d %H:%M:%S} {p.run_source or ''}" for p in points],
                y=[p.value for p in points],
                mode="lines+markers",
                name=f"{m.name} ({m.domain})",
                line={"color": DOMAIN_COLOURS.get(m.domain), "dash": dash},
                hovertemplate="%{y:.1%} after run %{customdata}<extra></extra>",
                customdata=[p.run_id for p in points],
            )
        )
    fig.update_layout(
        title="Link rates per domain, at the end of the load runs that kept a snapshot "
        "(all sources)",
        yaxis={"tickformat": ".0%", "range": [0, 1.05]},
        xaxis={"title": "load run (time, source)", "type": "category"},
        height=420,
        legend={"orientation": "h", "y": -0.35},
    )
    return fig


def _reasons(card: Card) -> go.Figure:
    """Records rejected and records written with warnings, by reason code and source."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("rejected (latest run of each source)", "with warnings")
    )
    for col, name in ((1, "records-rejected"), (2, "records-with-warnings")):
        by_source: dict[str, dict[str, int]] = defaultdict(dict)
        for m in card.measures:
            if m.name == name and m.source is not None and m.group is not None:
                by_source[m.source][m.group] = m.numerator or 0
        codes = sorted({code for counts in by_source.values() for code in counts})
        for source, counts in sorted(by_source.items()):
            fig.add_trace(
                go.Bar(
                    x=codes or ["none"],
                    y=[counts.get(c, 0) for c in codes] or [0],
                    name=f"{source} ({'rejected' if col == 1 else 'warned'})",
                ),
                row=1,
                col=col,
            )
        if not by_source:
            fig.add_trace(go.Bar(x=["none"], y=[0], name="none", showlegend=False), 1, col)
    fig.update_layout(title="Rejects and warnings by reason", barmode="stack", height=380)
    fig.update_yaxes(rangemode="tozero")
    return fig


def _freshness(card: Card) -> go.Figure:
    """Per source: days since its last load and since the newest event it carried."""
    fig = go.Figure()
    for name, colour in (
        ("days-since-last-load", "#2a7ab0"),
        ("days-since-newest-event", "#e8a33d"),
    ):
        rows = sorted(
            (m for m in card.measures if m.name == name and m.source is not None),
            key=lambda m: m.source or "",
        )
        fig.add_trace(
            go.Bar(
                y=[m.source for m in rows],
                x=[m.value for m in rows],
                orientation="h",
                name=name.replace("-", " "),
                marker={"color": colour},
            )
        )
    fig.update_layout(
        title="Freshness per source (days)", barmode="group", height=240 + 40 * _sources(card)
    )
    return fig


def _sources(card: Card) -> int:
    return len({m.source for m in card.measures if m.source is not None}) or 1


def _table(card: Card) -> str:
    rows = []
    for m in card.measures:
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(text)}</td>"
                for text in (m.family, m.name, m.domain, m.source or "all", m.group or "")
            )
            + f'<td class="num">{html.escape(number(m.value, m.unit))}</td>'
            + f'<td class="num">{_of(m.numerator, m.denominator)}</td>'
            + f'<td class="def">{html.escape(m.definition.text)}</td>'
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("family", "measure", "domain", "source", "group", "value", "of", "definition")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _of(numerator: int | None, denominator: int | None) -> str:
    return "" if denominator is None else f"{numerator}/{denominator}"


def number(value: float | None, unit: str) -> str:
    """A measure's value as people read it: a percentage, days, or a count."""
    if value is None:
        return "-"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "days":
        return f"{value:.1f} d"
    return f"{value:g}"
