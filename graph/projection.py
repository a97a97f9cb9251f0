"""What of the graph one caller may read, as Cypher that the readers put into every query.

A :class:`Projection` says, per label, which properties a read returns as stored, which it
returns generalised (a date as its year), and that every other property is not returned at
all; which traversals may not be followed from which labels; by what a node of a label may
be looked up; and how to find the patient a node belongs to (for the read audit). The API
builds one per role from its policy table (``api/access/policy.py``). Because the projection is part
of the query text, a hidden property never leaves Neo4j, and ordering and filtering happen on
what the caller may see.

A node's public key can be a pseudonym: the labels whose keys are shown are named here, and
the reader applies the caller's pseudonym function to the key of every other row. The key itself
is the handle the next read of the same request starts from, so it is read, kept private
(it is never put into a response: cursors hold it encrypted), and only its pseudonym is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from caregraph.graph.names import quoted

ALWAYS = ("key", "stub")  # the handle of a node and whether it is only referenced
IDENTIFIER_LOOKUP = "identifier"  # a lookup by identifier token or bare value


@dataclass(frozen=True, slots=True)
class Hop:
    """One relationship of the way from a node to its patient."""

    rel: str
    out: bool
    label: str

    def pattern(self, node_var: str = "") -> str:
        rel = f"[:{quoted(self.rel)}]"
        node = f"({node_var}:{quoted(self.label)})"
        return f"-{rel}->{node}" if self.out else f"<-{rel}-{node}"


@dataclass(frozen=True, slots=True)
class LabelView:
    """What a caller may read of the nodes of one label."""

    label: str
    keep: tuple[str, ...]  # returned as stored (with ALWAYS)
    year: tuple[str, ...] = ()  # dates returned as their year only, "YYYY"
    lookups: tuple[str, ...] = ()  # IDENTIFIER_LOOKUP and/or property names to look up by


@dataclass(frozen=True)
class Projection:
    """One caller's view of the graph (``views=None``: every property of every node)."""

    views: tuple[LabelView, ...] | None = None
    # labels without a view: these properties only (None: all of them)
    fallback: tuple[str, ...] | None = None
    owners: tuple[tuple[str, tuple[Hop, ...]], ...] = ()  # label -> way to its Patient
    closed: frozenset[tuple[str, str, bool]] = frozenset()  # (from label, rel type, out)
    # labels whose keys are shown as they are; any other node's key is shown as a pseudonym
    # (None: every key is shown)
    shown_keys: frozenset[str] | None = None
    # label -> its superclasses' labels, for every class of the ontology, nearest first: a
    # Payer is an Organization too, so a read of Organizations includes the Payer view, tested
    # first (deeper first), and the ways to the patient a node read under a path's target
    # labels may take (see node and patients)
    lineage: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # properties whose zoned date-times a read returns as ISO 8601 text (the ontology's
    # xsd:dateTime ones): the driver turns a zoned DateTime into a neo4j.time value in pure
    # Python (a fifth of the service's CPU for a practitioner's visits, claims and studies),
    # while the API reads the text with datetime.fromisoformat, in C, to the same instant and
    # offset (api/types/values.py)
    as_text: frozenset[str] = frozenset()
    _by_label: dict[str, LabelView] = field(default_factory=dict, init=False, compare=False)
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        for view in self.views or ():
            self._by_label[view.label] = view
        for label, ancestors in self.lineage:
            self._ancestors[label] = frozenset(ancestors)

    def pseudonymises(self, labels: Iterable[str]) -> bool:
        """Whether the key of a node with these labels is shown as a pseudonym."""
        return self.shown_keys is not None and not self.shown_keys.intersection(labels)

    # -- checks ---------------------------------------------------------------------------
    def may_look_up(self, label: str, by: str) -> bool:
        """Whether a node of ``label`` may be found by ``by`` (IDENTIFIER_LOOKUP or a
        property): a lookup is a filter, and a filter on a hidden field would probe it."""
        if self.views is None:
            return True
        view = self._by_label.get(label)
        return view is not None and by in view.lookups

    def may_match_year(self, label: str, prop: str) -> bool:
        """Whether nodes of ``label`` may be filtered by the year of the date ``prop``: a
        caller who reads the date, or its year (a search by birth year)."""
        if self.views is None:
            return True
        view = self._by_label.get(label)
        return view is not None and (prop in view.lookups or prop in view.year)

    def may_sort(self, labels: Iterable[str], prop: str) -> bool:
        """Whether ``prop`` is readable on every one of ``labels`` (to order by it)."""
        if self.views is None:
            return True
        for label in labels:
            view = self._by_label.get(label)
            keep = view.keep if view else (self.fallback or ())
            if prop not in keep and prop not in ALWAYS:
                return False
        return True

    def closed_from(self, rel: str, out: bool) -> list[str]:
        """The labels from which a step over ``rel`` in this direction may not be taken."""
        return sorted(label for label, r, o in self.closed if r == rel and o == out)

    # -- query text -----------------------------------------------------------------------
    def node(self, var: str, labels: Iterable[str] | None = None) -> str:
        """A map of the readable properties of the node ``var``. ``labels``, when given, are
        the labels the node may have (the read's target labels): only their views are
        written into the query."""
        v = quoted(var)
        if self.views is None and self.fallback is None:
            return self._everything(v)
        wanted = set(labels) if labels is not None else None
        views = [
            view
            for view in self.views or ()
            if wanted is None or view.label in wanted or wanted & self._lineage_of(view.label)
        ]
        views.sort(key=lambda view: (-len(self._lineage_of(view.label)), view.label))
        otherwise = (
            self._everything(v)
            if self.fallback is None
            else _map(v, self.fallback, (), self.as_text)
        )
        if not views:
            return otherwise
        cases = " ".join(
            f"WHEN {v}:{quoted(view.label)} THEN {_map(v, view.keep, view.year, self.as_text)}"
            for view in views
        )
        return f"CASE {cases} ELSE {otherwise} END"

    def _everything(self, v: str) -> str:
        """Every property of ``v``, its zoned date-times as text (a property it does not
        have reads as null)."""
        if not self.as_text:
            return f"properties({v})"
        texts = ", ".join(_as_text(v, p) for p in sorted(self.as_text))
        return f"{v} {{.*, {texts}}}"

    def patients(self, var: str, labels: Iterable[str] | None = None) -> str:
        """A list of the keys of the patients the node ``var`` belongs to. ``labels``, when
        given, are the labels the node may have (the read's target labels): only the ways
        from labels such a node can carry are written into the query (a node has the labels
        of one class and its superclasses), so a read of locations costs no case of the
        eleven kinds of patient data to plan; the answer is the same."""
        v = quoted(var)
        cases = []
        wanted = None if labels is None else set(labels)
        for label, hops in self.owners:
            if wanted is not None and not self._may_carry(wanted, label):
                continue
            if not hops:
                cases.append(f"WHEN {v}:{quoted(label)} THEN [{v}.key]")
                continue
            way = "".join(h.pattern("o" if i == len(hops) - 1 else "") for i, h in enumerate(hops))
            cases.append(f"WHEN {v}:{quoted(label)} THEN [({v}){way} | o.key]")
        if not cases:
            return "[]"
        return "CASE " + " ".join(cases) + " ELSE [] END"

    def _lineage_of(self, label: str) -> frozenset[str]:
        return self._ancestors.get(label, frozenset())

    def _may_carry(self, targets: set[str], label: str) -> bool:
        """Whether a node read under one of ``targets`` may carry ``label``: the label is a
        target, a subclass of one or a superclass of one; any target the lineage does not
        know could carry it."""
        if label in targets:
            return True
        if any(t not in self._ancestors for t in targets):
            return True
        return bool(targets & self._lineage_of(label)) or any(
            label in self._ancestors[t] for t in targets
        )


def _map(var: str, keep: Iterable[str], year: Iterable[str], as_text: frozenset[str]) -> str:
    parts = [
        f".{quoted(p)}" if p not in as_text else _as_text(var, p)
        for p in dict.fromkeys([*ALWAYS, *keep])
    ]
    for p in year:
        q = f"{var}.{quoted(p)}"
        # a partial date (YYYY, YYYY-MM) is kept as text by the loaders: its first four
        # characters are the year too
        parts.append(
            f"{quoted(p)}: CASE WHEN {q} IS :: DATE THEN toString({q}.year) "
            f"ELSE left(toString({q}), 4) END"
        )
    return f"{var} {{{', '.join(parts)}}}"


def _as_text(var: str, prop: str) -> str:
    """The map entry of ``var``'s ``prop``: ISO 8601 text when it is a zoned date-time, else
    as it is (a date, a partial date kept as text, a local date-time: cheap to read)."""
    q = f"{var}.{quoted(prop)}"
    return f"{quoted(prop)}: CASE WHEN {q} IS :: ZONED DATETIME THEN toString({q}) ELSE {q} END"


OPEN = Projection()
