"""A picture of the ontology for the analysts' guide: one card per class, grouped by domain.

Each card is a class coloured as Browser colours its nodes (the GraSS domain palette), with
its superclasses under the name and, one per line, the relationship types it starts and the
classes they lead to. Relationships are written in the cards rather than drawn as arrows:
some thirty of them between twenty classes would cross into a tangle, and a card reads like
the ``(:Patient)-[:HAS_ENCOUNTER]->(:Encounter)`` patterns the analyst types.

Pure Python and deterministic (no layout engine), so regenerating gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from rdflib import URIRef

from caregraph.ontology.grass import COLOURS, DEFAULT
from caregraph.ontology.model import DOMAINS, OntClass, Ontology

DOMAINS_PER_ROW = 2
CARDS_PER_DOMAIN = 2
CARD_WIDTH = 236
GAP = 12
DOMAIN_GAP = 28
LINE = 14
HEADER = 22
DOMAIN_TITLE = 24
MARGIN = 10
WRAP = 36  # characters of 10px sans-serif that fit a card's width


@dataclass(frozen=True)
class Card:
    cls: OntClass
    subtitle: str
    lines: tuple[str, ...]

    @property
    def height(self) -> int:
        return HEADER + (LINE if self.subtitle else 0) + LINE * len(self.lines) + 8


def _shown(onto: Ontology) -> list[OntClass]:
    """Classes an analyst meets as nodes: leaves, and classes relationships name; no root."""
    referenced = {
        c
        for p in onto.object_properties.values()
        for c in (*p.domain, *p.range)
        if c in onto.classes
    }
    shown = []
    for c in onto.classes.values():
        has_subclasses = len(onto.subclasses(c.iri)) > 1
        is_root = not c.parents and has_subclasses
        if not is_root and (not has_subclasses or c.iri in referenced):
            shown.append(c)
    return shown


def _target(onto: Ontology, iri: URIRef) -> str:
    c = onto.classes[iri]
    return "any node" if not c.parents and len(onto.subclasses(iri)) > 1 else c.name


def _card(onto: Ontology, c: OntClass) -> Card:
    ancestors = [onto.classes[a] for a in onto.superclasses(c.iri)[1:]]
    subtitle = ", ".join(a.name for a in ancestors if a.parents)  # the root is on every node
    lines: list[str] = []
    for p in sorted(onto.object_properties.values(), key=lambda p: p.graph_name or ""):
        if c.iri not in p.domain or p.graph_name is None:
            continue
        targets = " | ".join(sorted(_target(onto, r) for r in p.range))
        text = f"{p.graph_name} \u2192 {targets}"
        if len(text) <= WRAP:
            lines.append(text)
        else:  # the targets go on their own line, indented
            lines += [f"{p.graph_name} \u2192", f"    {targets}"]
    return Card(c, f"is a {subtitle}" if subtitle else "", tuple(lines))


def _draw_card(card: Card, x: int, y: int) -> list[str]:
    fill, border, text = COLOURS.get(card.cls.domain or "", DEFAULT)
    out = [
        f'<g class="class" data-class="{escape(card.cls.name)}">',
        f"<title>{escape(card.cls.comment or card.cls.label)}</title>",
        f'<rect x="{x}" y="{y}" width="{CARD_WIDTH}" height="{card.height}" rx="6" '
        f'fill="#FFFFFF" stroke="{border}" stroke-width="1.5"/>',
        f'<path d="M{x},{y + HEADER} v-{HEADER - 6} a6,6 0 0 1 6,-6 h{CARD_WIDTH - 12} '
        f'a6,6 0 0 1 6,6 v{HEADER - 6} z" fill="{fill}" stroke="{border}" stroke-width="1.5"/>',
        f'<text x="{x + 8}" y="{y + 15}" font-size="12" font-weight="bold" '
        f'fill="{text}">{escape(card.cls.name)}</text>',
    ]
    row = y + HEADER
    if card.subtitle:
        row += LINE
        out.append(
            f'<text x="{x + 8}" y="{row - 3}" font-size="10" font-style="italic" '
            f'fill="#6B6F7A">{escape(card.subtitle)}</text>'
        )
    for line in card.lines:
        row += LINE
        out.append(
            f'<text x="{x + 8}" y="{row - 3}" font-size="10" fill="#2A2C34" '
            f'xml:space="preserve">{escape(line)}</text>'
        )
    out.append("</g>")
    return out


def ontology_svg(onto: Ontology, domains: tuple[str, ...] | None = None) -> str:
    """The picture (of the given domains, or all) as SVG that also works inline in HTML."""
    by_domain: dict[str, list[Card]] = {d: [] for d in DOMAINS}
    for c in sorted(_shown(onto), key=lambda c: c.name):
        by_domain.setdefault(c.domain or "other", []).append(_card(onto, c))
    groups = [(d, cards) for d, cards in by_domain.items() if cards]
    if domains is not None:
        groups = [(d, cards) for d, cards in groups if d in domains]

    # Domains side by side, DOMAINS_PER_ROW to a row; within a domain the cards fill
    # CARDS_PER_DOMAIN columns, each card going to the shorter one, so that a row stays
    # low enough to fit a Browser guide slide without scrolling.
    block = CARDS_PER_DOMAIN * CARD_WIDTH + (CARDS_PER_DOMAIN - 1) * GAP
    body: list[str] = []
    top = MARGIN
    for start in range(0, len(groups), DOMAINS_PER_ROW):
        bottom = top
        for col, (domain, cards) in enumerate(groups[start : start + DOMAINS_PER_ROW]):
            x = MARGIN + col * (block + DOMAIN_GAP)
            border = COLOURS.get(domain, DEFAULT)[1]
            body.append(
                f'<text x="{x}" y="{top + 16}" font-size="13" font-weight="bold" '
                f'fill="{border}">{escape(domain)}</text>'
            )
            heights = [top + DOMAIN_TITLE] * CARDS_PER_DOMAIN
            for card in cards:
                sub = heights.index(min(heights))
                body += _draw_card(card, x + sub * (CARD_WIDTH + GAP), heights[sub])
                heights[sub] += card.height + GAP
            bottom = max(bottom, *heights)
        top = bottom + GAP
    row = min(DOMAINS_PER_ROW, len(groups))
    width = 2 * MARGIN + row * block + (row - 1) * DOMAIN_GAP
    height = top
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" font-family="Helvetica, Arial, sans-serif" '
            'role="img">',
            f"<title>caregraph ontology {escape(onto.version)}: "
            f"{escape(', '.join(d for d, _ in groups))} classes "
            "and the relationships each starts</title>",
            *body,
            "</svg>",
        ]
    )
