"""Read queries behind the API. All Cypher lives in graph/; values are always parameters.

The API asks for three kinds of reads, each batched so that one GraphQL level costs one round
trip:

- ``lookups``: nodes named by a root argument (identifier token, bare value, NPI, UID, ...);
- ``pages``: for many start nodes at once, a page of related nodes along a :class:`TraversalPath`
  (optionally with the total), ordered by time (or a property) then key, after a keyset
  cursor; and SourceRecords by key (the provenance of a relationship);
- ``timeline``: one patient's events in a window with the neighbours a summary needs.

Every read runs in a read transaction with a Neo4j transaction timeout (what is left of the
request's deadline, at most ``timeout_s``); a read past its time raises
:class:`ReadTimeoutError`. :class:`Reader` counts its round trips, so tests can prove there
is no N+1.

Labels and relationship types go into query text (Cypher cannot parameterise them where
indexes help); they come from the ontology and are checked against a plain-identifier pattern
and backquoted, as the writer does. Every value is a parameter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from neo4j import AsyncDriver, Driver, Query, RoutingControl
from neo4j.exceptions import ClientError

from caregraph.graph import tokens
from caregraph.graph.errors import GraphError
from caregraph.graph.names import quoted
from caregraph.graph.projection import IDENTIFIER_LOOKUP, OPEN, Projection
from caregraph.graph.terminology import BROADER, CONCEPT, MAX_DEPTH
from caregraph.ontology.schema_plan import SCHEMA_LABEL, SCHEMA_NAME
from caregraph.ontology.temporal import PRECISIONS, precision_property

LAST = 9_223_372_036_854_775_807  # sorts events without a time after all others

# The properties that say when an event happened, in order of preference: an encounter's or
# study's start, a payment's date (a remittance also names the service dates it pays), a
# claim's service date, a condition's onset, else when it was recorded.
TIME_PROPERTIES = ("start", "paymentDate", "serviceStart", "onset", "recordedDate")


class ReadTimeoutError(GraphError):
    """A read did not finish within the request's time limit."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        super().__init__(f"the read did not finish within {limit_s:g} s")


class ForbiddenReadError(GraphError):
    """A read the caller's projection does not allow (the API refuses it before it gets here:
    this is the second line of defence)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"not readable by this caller: {what}")


class NoPseudonymKeyError(GraphError):
    """A key must be shown as a pseudonym, but no pseudonym function was given."""

    def __init__(self) -> None:
        super().__init__("keys must be pseudonymised for this caller, and no pseudonym key is set")


# -- what to read ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One relationship to follow: its type, its direction from the current node, the label
    of the node it reaches."""

    rel: str
    out: bool
    label: str

    def pattern(self, rel_var: str = "", node_var: str = "") -> str:
        rel = f"[{rel_var}:{quoted(self.rel)}]"
        node = f"({node_var}:{quoted(self.label)})"
        return f"-{rel}->{node}" if self.out else f"<-{rel}-{node}"


@dataclass(frozen=True, slots=True)
class TraversalPath:
    """How to go from a node to related nodes: alternative chains of steps, each ending at
    the related node, and the order of the results (``time``, ``key`` or a property name)."""

    start: str
    chains: tuple[tuple[Step, ...], ...]
    order: str = "time"
    distinct: bool = False  # one result per node even when several chains reach it
    with_run: bool = False  # SourceRecords: bring their LoadRun along
    # how a node reached carries its codes: chains from it to a Concept (a visit: its reason,
    # and its diagnoses' codes), for a page of nodes coded under a concept (``under``)
    coded: tuple[tuple[Step, ...], ...] = ()
    # every page asked of a request's DataLoader is hashed by its path, several times a page
    # (a traversal of three levels: hundreds of times a request, 5% of a worker's CPU): the
    # hash of these nested tuples is taken once
    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash(self._fields()))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by its fields: a string's hash differs from one process to the next
        return (type(self), self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (self.start, self.chains, self.order, self.distinct, self.with_run, self.coded)

    def match(self, projection: Projection = OPEN) -> str:
        """A CALL body yielding (r, b) for every chain from ``a`` that the projection lets
        the caller follow from ``a``."""
        parts = []
        for chain in self.chains:
            text = "(a)"
            for i, step in enumerate(chain):
                last = i == len(chain) - 1
                text += step.pattern("r" if last else "", "b" if last else "")
            closed = projection.closed_from(chain[0].rel, chain[0].out)
            guard = f" WHERE NOT a:{'|'.join(quoted(x) for x in closed)}" if closed else ""
            parts.append(f"MATCH {text}{guard} RETURN r, b")
        return " UNION ALL ".join(parts)

    def under(self) -> str:
        """A condition on ``b``: no ``row.under``, or one of its codes is the concept keyed
        ``row.under`` or under it by BROADER (a range such as I20-I25 holds its codes)."""
        if not self.coded:
            return "row.under IS NULL"
        ways = []
        for chain in self.coded:
            text = "(b)" + "".join(step.pattern() for step in chain)
            ways.append(
                f"EXISTS {{ MATCH {text}-[:{BROADER}*0..{MAX_DEPTH}]->"
                f"(:{CONCEPT} {{key: row.under}}) }}"
            )
        return f"(row.under IS NULL OR {' OR '.join(ways)})"

    def targets(self) -> set[str]:
        """The labels the path may reach."""
        return {chain[-1].label for chain in self.chains}

    def sort_expr(self, projection: Projection = OPEN) -> str:
        if self.order == "time":
            return f"coalesce(t.epochMillis, {LAST})"
        if self.order == "key" or not projection.may_sort(self.targets(), self.order):
            return "0"  # by key alone: never by a property the caller may not read
        return f"coalesce(toInteger(b.{quoted(self.order)}), {LAST})"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page of ``path`` from the node ``key``: in a window, after a cursor, how many."""

    key: str
    path: TraversalPath
    take: int  # one more than the page size, to know whether there is a next page
    start: datetime | None = None
    end: datetime | None = None
    after: tuple[int, str] | None = None  # (sort value, key) of the last row already seen
    count: bool = False
    under: str | None = None  # only nodes coded under this Concept key (TraversalPath.coded)


@dataclass(frozen=True, slots=True)
class RecordsRequest:
    """SourceRecords by key (with their LoadRun): the provenance of a relationship."""

    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LookupRequest:
    """Nodes with ``label`` named by a token (an identifier's or a node's key), by a bare
    identifier value, or by a property value."""

    label: str
    by: str  # "token" | "value" | a property name
    value: str


@dataclass(slots=True)
class Row:
    """One related node (or one node found), with the relationship that reached it."""

    key: str
    labels: list[str]
    node: dict[str, Any]
    rel: dict[str, Any] | None = None
    rel_type: str | None = None
    sort: int = 0
    time: Any = None
    run: dict[str, Any] | None = None
    out: bool | None = None  # for a neighbour: True when the relationship points at it
    systems: list[str] = field(default_factory=list)  # identifier systems that matched
    public: str = ""  # the key as the caller sees it: the key, or its pseudonym
    patients: list[str] = field(default_factory=list)  # keys of the patients it belongs to


@dataclass(slots=True)
class Page:
    rows: list[Row]
    total: int | None = None


@dataclass(slots=True)
class GraphCounts:
    """Node counts per label and relationship counts per (label, type, direction)."""

    nodes: dict[str, int]
    out: dict[tuple[str, str], int]  # (start label, type) -> count
    into: dict[tuple[str, str], int]  # (end label, type) -> count

    def fanout(self, label: str, step: Step) -> float:
        """Average number of ``step`` relationships of a node labelled ``label``."""
        n = self.nodes.get(label, 0)
        if not n:
            return 0.0
        rels = (self.out if step.out else self.into).get((label, step.rel), 0)
        return rels / n


@dataclass(slots=True)
class TimelineEvent:
    row: Row
    neighbours: list[Row]


@dataclass(slots=True)
class Timeline:
    events: list[TimelineEvent]
    counts: dict[tuple[str, ...], tuple[int, int]]  # labels -> (in window, before the cursor)


# -- the reader ------------------------------------------------------------------------------


def _time_expr(var: str) -> str:
    """A node's event time as a zoned DateTime (dates at midnight), or null: the first of
    TIME_PROPERTIES that holds a zoned DateTime or a Date. One list comprehension rather than
    a CASE of ten branches: the same value, and a third of the text for Neo4j to plan in every
    level of every read (its time to plan a statement grows with the text)."""
    values = ", ".join(f"{var}.{quoted(p)}" for p in TIME_PROPERTIES)
    return (
        f"head([tv IN [{values}] WHERE {_is_time('tv')} | "
        "CASE WHEN tv IS :: DATE NOT NULL THEN datetime({date: tv}) ELSE tv END])"
    )


def _is_time(v: str) -> str:
    return f"({v} IS :: ZONED DATETIME NOT NULL OR {v} IS :: DATE NOT NULL)"


def _span_expr(var: str) -> str:
    """The length of the period a node's event time names: a year, a month, a day ... (the
    time's precision, ontology/temporal.py), a day for a date, null for a moment."""
    pairs = ", ".join(
        f"[{var}.{quoted(p)}, {var}.{quoted(precision_property(p))}]" for p in TIME_PROPERTIES
    )
    periods = " ".join(f"WHEN '{n}' THEN duration('{iso}')" for n, iso in PRECISIONS.items())
    return (
        f"head([tp IN [{pairs}] WHERE {_is_time('tp[0]')} | "
        "CASE WHEN tp[0] IS :: DATE NOT NULL THEN duration('P1D') "
        f"ELSE CASE tp[1] {periods} END END])"
    )


# An event is in a window when the period its time names overlaps it: a visit known to the day
# is in a window that starts at noon that day (t is the period's first instant).
_WINDOW = (
    "(row.start IS NULL OR t >= row.start OR t + {span} > row.start) "
    "AND (row.end IS NULL OR t < row.end)"
)


@cache  # built once per variable name, not on every request
def _window(var: str) -> str:
    return _WINDOW.format(span=_span_expr(var))


_AFTER = (
    "(row.afterSort IS NULL OR s > row.afterSort OR (s = row.afterSort AND b.key > row.afterKey))"
)


class Reader:
    """Reads for one API request, as its caller may see the graph (``projection``; keys of
    pseudonymised labels shown through ``pseudonym``): counts its round trips, keeps to its
    deadline, and notes the patients whose nodes it read (``patients``, for the audit).

    ``async_driver``, when the service has one (its event loop's), runs the compiled path's
    one statement per request (:meth:`arun_within`) on the loop, without a thread hop; the
    other reads go through ``driver`` in a thread."""

    def __init__(
        self,
        driver: Driver,
        database: str,
        timeout_s: float,
        projection: Projection = OPEN,
        pseudonym: Callable[[str], str] | None = None,
        async_driver: AsyncDriver | None = None,
    ) -> None:
        self.driver = driver
        self.async_driver = async_driver
        self.database = database
        self.timeout_s = timeout_s
        self.projection = projection
        self.pseudonym = pseudonym
        self.deadline: float | None = None
        self.round_trips = 0
        self.counts_computed = 0
        self.patients: set[str] = set()
        self._lock = threading.Lock()

    def _seen(self, row: Row) -> Row:
        """Give a row its public key and note its patients."""
        if self.projection.pseudonymises(row.labels):
            if self.pseudonym is None:
                raise NoPseudonymKeyError()
            row.public = self.pseudonym(row.key)
        else:
            row.public = row.key
        if row.patients:
            with self._lock:
                self.patients.update(row.patients)
        return row

    def seen(self, row: Row) -> Row:
        """A row read elsewhere in graph/ (a search) with its public key, its patients noted."""
        return self._seen(row)

    def note_patients(self, keys: Sequence[str]) -> list[str]:
        """Keys of the patients the nodes ``keys`` belong to, noted as read."""
        recs = self.run(
            f"UNWIND $keys AS k MATCH (b:Entity {{key: k}}) "
            f"UNWIND {self.projection.patients('b')} AS p RETURN DISTINCT p",
            keys=list(keys),
        )
        found = [r["p"] for r in recs]
        with self._lock:
            self.patients.update(found)
        return found

    def start_clock(self) -> None:
        """Start the request's time limit: every later read shares what is left of it."""
        self.deadline = time.monotonic() + self.timeout_s

    def _timeout(self) -> float:
        if self.deadline is None:
            return self.timeout_s
        left = self.deadline - time.monotonic()
        if left <= 0.001:  # Neo4j reads a timeout of 0 as "none": refuse here instead
            raise ReadTimeoutError(self.timeout_s)
        return min(left, self.timeout_s)

    def run(self, cypher: str, **params: Any) -> list[Any]:
        """One read round trip, within the time left; the rows as driver records."""
        return self.run_within(cypher, None, params)

    def run_within(self, cypher: str, limit_s: float | None, params: dict[str, Any]) -> list[Any]:
        """:meth:`run`, given at most ``limit_s`` of the time left (None: all of it)."""
        query = self._round_trip(cypher, limit_s)
        with self._stopped_is_timeout():
            records, _, _ = self.driver.execute_query(
                query, params, routing_=RoutingControl.READ, database_=self.database
            )
        return list(records)

    async def arun_within(
        self, cypher: str, limit_s: float | None, params: dict[str, Any]
    ) -> list[Any]:
        """:meth:`run_within` through the async driver (the caller checks there is one)."""
        assert self.async_driver is not None
        query = self._round_trip(cypher, limit_s)
        with self._stopped_is_timeout():
            records, _, _ = await self.async_driver.execute_query(
                query, params, routing_=RoutingControl.READ, database_=self.database
            )
        return list(records)

    def _round_trip(self, cypher: str, limit_s: float | None) -> Query:
        """One more round trip counted; its statement with at most ``limit_s`` of the time
        left (None: all of it)."""
        with self._lock:
            self.round_trips += 1
        timeout = self._timeout()
        if limit_s is not None:
            timeout = min(timeout, limit_s)
            if timeout <= 0.001:  # as in _timeout: Neo4j would read it as "none"
                raise ReadTimeoutError(limit_s)
        return Query(cypher, timeout=timeout)

    @contextmanager
    def _stopped_is_timeout(self) -> Iterator[None]:
        """A statement Neo4j stopped at its time limit raised as :class:`ReadTimeoutError`."""
        try:
            yield
        except ClientError as e:
            if "TimedOut" in (e.code or "") or "Terminated" in (e.code or ""):
                raise ReadTimeoutError(self.timeout_s) from e
            raise

    # -- lookups ---------------------------------------------------------------------------
    def lookups(self, requests: Sequence[LookupRequest]) -> list[list[Row]]:
        """For each request, the nodes it names (several when a bare value is ambiguous)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        labels: dict[str, set[str]] = {}
        for i, req in enumerate(requests):
            by = IDENTIFIER_LOOKUP if req.by in ("token", "value") else req.by.partition(".")[2]
            if not self.projection.may_look_up(req.label, by):
                raise ForbiddenReadError(f"a lookup of {req.label} by {by}")
            groups.setdefault(req.by, []).append({"i": i, "v": req.value, "label": req.label})
            labels.setdefault(req.by, set()).add(req.label)
        parts: list[str] = []
        params: dict[str, Any] = {}
        for n, (by, rows) in enumerate(sorted(groups.items())):
            params[f"g{n}"] = rows
            parts.append(
                f"UNWIND $g{n} AS row CALL (row) {{ {_lookup_body(by)} }} "
                "WITH row, n, systems WHERE row.label IN labels(n) "
                "RETURN row.i AS i, n.key AS key, labels(n) AS labels, "
                f"{self.projection.node('n', labels[by])} AS node, systems, "
                f"{self.projection.patients('n', labels[by])} AS patients"
            )
        out: list[list[Row]] = [[] for _ in requests]
        if not parts:
            return out
        for rec in self.run(" UNION ALL ".join(parts), **params):
            found_rows = out[rec["i"]]
            if all(r.key != rec["key"] for r in found_rows):
                found_rows.append(self._seen(_found_row(rec, rec["systems"])))
            else:
                found = next(r for r in found_rows if r.key == rec["key"])
                found.systems = sorted({*found.systems, *(s for s in rec["systems"] if s)})
        return out

    # -- pages -----------------------------------------------------------------------------
    def pages(self, requests: Sequence[PageRequest | RecordsRequest]) -> list[Page]:
        """For each request its page, all in one round trip."""
        branches: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for i, req in enumerate(requests):
            if isinstance(req, RecordsRequest):
                branches.setdefault(("records",), []).append({"i": i, "keys": list(req.keys)})
                continue
            row = {
                "i": i,
                "key": req.key,
                "start": req.start,
                "end": req.end,
                "afterSort": req.after[0] if req.after else None,
                "afterKey": req.after[1] if req.after else None,
                "under": req.under,
            }
            # a level without a window has no window condition in its text: the condition is
            # most of a branch's text, and Neo4j's time to plan a statement grows with its text
            windowed = req.start is not None or req.end is not None
            spec = ("path", req.path, req.take, req.count, windowed)
            branches.setdefault(spec, []).append(row)
        parts: list[str] = []
        params: dict[str, Any] = {}
        # the same set of branches in the same order whatever order the loads came in, so
        # Neo4j plans each shape of level once
        for n, (spec, rows) in enumerate(sorted(branches.items(), key=lambda b: repr(b[0]))):
            params[f"b{n}"] = rows
            if spec[0] == "records":
                parts.append(_records_branch(n, self.projection))
            else:
                _, path, take, count, windowed = spec
                params[f"take{n}"] = take
                parts.append(_path_branch(n, path, count, windowed, self.projection))
                if count:
                    self.counts_computed += len(rows)
        out = [Page([]) for _ in requests]
        if not parts:
            return out
        for rec in self.run(" UNION ALL ".join(parts), **params):
            out[rec["i"]] = Page([self._seen(_row(x)) for x in rec["page"]], rec["total"])
        for i, req in enumerate(requests):  # a start node without any match has no row
            if isinstance(req, PageRequest) and req.count and out[i].total is None:
                out[i].total = 0
        return out

    # -- statistics ------------------------------------------------------------------------
    def graph_counts(self) -> GraphCounts:
        """Node and relationship counts from Neo4j's count store (no scan)."""
        recs = self.run("CALL db.stats.retrieve('GRAPH COUNTS') YIELD data RETURN data")
        data = recs[0]["data"]
        nodes = {d["label"]: int(d["count"]) for d in data["nodes"] if d.get("label")}
        out: dict[tuple[str, str], int] = {}
        into: dict[tuple[str, str], int] = {}
        for d in data["relationships"]:
            rel = d.get("relationshipType")
            if not rel:
                continue
            if d.get("startLabel"):
                out[(d["startLabel"], rel)] = int(d["count"])
            elif d.get("endLabel"):
                into[(d["endLabel"], rel)] = int(d["count"])
        return GraphCounts(nodes, out, into)

    # -- a patient's timeline --------------------------------------------------------------
    def timeline(
        self,
        key: str,
        path: TraversalPath,
        *,
        start: datetime | None,
        end: datetime | None,
        after: tuple[int, str] | None,
        limit: int,
        context_rels: Sequence[str],
        under: str | None = None,
    ) -> Timeline:
        """Events of ``path`` from ``key`` in the window after the cursor (at most ``limit``),
        each with its neighbours over ``context_rels``; and counts per label set of all the
        events in the window and of those at or before the cursor. ``under``: only events
        coded under that Concept key (``path.coded``)."""
        cypher = (
            f"MATCH (a:{quoted(path.start)} {{key: $key}}) "
            "WITH a, {start: $start, end: $end, afterSort: $afterSort, afterKey: $afterKey, "
            "under: $under} AS row "
            f"{timeline_calls(path, self.projection, context_rels)}"
            "RETURN counts, events"
        )
        recs = self.run(
            cypher,
            key=key,
            start=start,
            end=end,
            afterSort=after[0] if after else None,
            afterKey=after[1] if after else None,
            limit=limit,
            under=under,
        )
        return self.timeline_of(recs[0]) if recs else Timeline([], {})

    def timeline_of(self, rec: Any) -> Timeline:
        """The :class:`Timeline` of a record (or map) with the ``counts`` and ``events`` that
        :func:`timeline_calls` binds, its rows given their public keys and patients noted."""
        events = [
            TimelineEvent(
                self._seen(
                    Row(
                        e["node"]["key"],
                        list(e["labels"]),
                        dict(e["node"]),
                        sort=e["s"],
                        time=e["t"],
                        patients=list(e["patients"]),
                    )
                ),
                [
                    self._seen(
                        Row(
                            m["key"],
                            list(m["labels"]),
                            dict(m["node"]),
                            dict(m["rel"]),
                            m["type"],
                            out=bool(m["out"]),
                            patients=list(m["patients"]),
                        )
                    )
                    for m in e["near"]
                ],
            )
            for e in rec["events"]
        ]
        counts = {tuple(c["labels"]): (int(c["total"]), int(c["before"])) for c in rec["counts"]}
        return Timeline(events, counts)

    def applied_ontology(self) -> tuple[str, str] | None:
        """(version, content hash) of the ontology applied to the graph, if any."""
        recs = self.run(
            f"MATCH (s:{quoted(SCHEMA_LABEL)} {{name: $name}}) "
            "RETURN s.version AS v, s.contentHash AS h",
            name=SCHEMA_NAME,
        )
        return (recs[0]["v"], recs[0]["h"]) if recs else None

    def server_components(self) -> dict[str, str]:
        """Neo4j's version and edition, as the server reports them."""
        recs = self.run(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN versions[0] AS version, edition LIMIT 1"
        )
        return {"version": recs[0]["version"], "edition": recs[0]["edition"]}


# -- query text ------------------------------------------------------------------------------


def timeline_calls(
    path: TraversalPath,
    pj: Projection,
    context_rels: Sequence[str],
    calls: str = "",
    more: str = "",
) -> str:
    """The timeline's two subqueries, under ``a`` (the patient) and ``row`` (``start``,
    ``end``, ``afterSort``, ``afterKey``, ``under``), with ``$limit``: they bind ``counts``
    (per label set, the events in the window and those at or before the cursor) and
    ``events`` (the page, each with its neighbours over ``context_rels``). ``calls`` go
    below each event of the page (bound as ``b``, ``t``, ``s``, ``near``) and ``more`` adds
    entries to its map: what the compiled read (graph/compiled.py) reads below the events."""
    rels = "|".join(quoted(r) for r in sorted(set(context_rels)))
    distinct = "WITH DISTINCT b " if path.distinct else "WITH b "
    owned = pj.patients("b", path.targets())
    return f"""
        CALL (a, row) {{
          CALL (a) {{ {path.match(pj)} }}
          {distinct}WITH b, {_time_expr("b")} AS t
          WITH b, t, {path.sort_expr(pj)} AS s WHERE {_window("b")} AND {path.under()}
          RETURN labels(b) AS labels,
                 count(*) AS total,
                 count(CASE WHEN row.afterSort IS NOT NULL AND NOT {_AFTER} THEN 1 END) AS before
        }}
        WITH a, row, collect({{labels: labels, total: total, before: before}}) AS counts
        CALL (a, row) {{
          CALL (a) {{ {path.match(pj)} }}
          {distinct}WITH b, {_time_expr("b")} AS t
          WITH b, t, {path.sort_expr(pj)} AS s
          WHERE {_window("b")} AND {_AFTER} AND {path.under()}
          WITH b, t, s ORDER BY s, b.key LIMIT $limit
          CALL (b) {{
            OPTIONAL MATCH (b)-[x:{rels}]-(m:Entity|Concept)
            RETURN collect(CASE WHEN m IS NULL THEN null ELSE
                   {{key: m.key, labels: labels(m), node: {pj.node("m")}, rel: {_REL_X},
                    type: type(x), out: startNode(x) = b, patients: {pj.patients("m")}}} END)
                   AS near
          }}
          {calls}RETURN collect({{node: {pj.node("b", path.targets())}, labels: labels(b),
                          s: s, t: toString(t), near: near, patients: {owned}{more}}}) AS events
        }}
        """


def _lookup_body(by: str) -> str:
    """A CALL body yielding (n, systems) for one lookup row."""
    if by == "token":
        return f"CALL (row) {{ {tokens.named_by('row.v')} }} RETURN DISTINCT n, [] AS systems"
    if by == "value":
        return f"MATCH {tokens.with_value('row.v')} RETURN n, collect(DISTINCT i.system) AS systems"
    # a property lookup names its label in the text, so Neo4j can use the property's index
    label, _, prop = by.partition(".")
    return f"MATCH (n:{quoted(label)} {{{quoted(prop)}: row.v}}) RETURN n, [] AS systems"


# what the API reads of a relationship: its role, and the rule, evidence (which names fields,
# never values) and source records of a link
_REL = "r {.role, .rank, .group, .amount, .rule, .evidence, .sources}"
_REL_X = "x {.role, .rank, .rule, .evidence, .sources}"


def _path_branch(n: int, path: TraversalPath, count: bool, windowed: bool, pj: Projection) -> str:
    distinct = "WITH b, head(collect(r)) AS r " if path.distinct else ""
    window = f"{_window('b')} AND " if windowed else ""
    timed = f", {_time_expr('b')} AS t" if windowed else ""  # what a count's window needs
    run = (
        "OPTIONAL MATCH (b)-[:LOADED_IN]->(run:LoadRun) "
        if path.with_run
        else "WITH r, b, t, s, null AS run "
    )
    total = "null AS total"
    count_call = ""
    if count:
        count_distinct = "WITH DISTINCT b " if path.distinct else ""
        count_call = (
            f"CALL (row) {{ MATCH (a:{quoted(path.start)} {{key: row.key}}) "
            f"CALL (a) {{ {path.match(pj)} }} {count_distinct}"
            f"WITH b{timed} WHERE {window}{path.under()} "
            "RETURN count(*) AS total } "
        )
        total = "total"
    return (
        f"UNWIND $b{n} AS row "
        f"CALL (row) {{ MATCH (a:{quoted(path.start)} {{key: row.key}}) "
        f"CALL (a) {{ {path.match(pj)} }} {distinct}"
        f"WITH r, b, {_time_expr('b')} AS t "
        f"WITH r, b, t, {path.sort_expr(pj)} AS s "
        f"WHERE {window}{_AFTER} AND {path.under()} "
        f"{run}"
        f"RETURN r, b, t, s, run ORDER BY s, b.key LIMIT $take{n} }} "
        f"WITH row, collect({{node: {pj.node('b', path.targets())}, labels: labels(b), "
        f"rel: {_REL}, type: type(r), s: s, t: toString(t), run: properties(run), "
        f"patients: {pj.patients('b', path.targets())}}}) AS page "
        f"{count_call}"
        f"RETURN row.i AS i, page, {total}"
    )


def _records_branch(n: int, pj: Projection) -> str:
    return (
        f"UNWIND $b{n} AS row "
        "CALL (row) { UNWIND row.keys AS k MATCH (b:SourceRecord {key: k}) "
        "OPTIONAL MATCH (b)-[:LOADED_IN]->(run:LoadRun) RETURN b, run ORDER BY b.key } "
        f"WITH row, collect({{node: {pj.node('b', ['SourceRecord'])}, labels: labels(b), "
        "rel: null, type: null, s: 0, t: null, run: properties(run), patients: []}) AS page "
        "RETURN row.i AS i, page, null AS total"
    )


def _found_row(rec: Any, systems: Sequence[str | None]) -> Row:
    """A node a lookup found (a record with key, labels, node and patients), with the
    identifier systems that matched it."""
    return Row(
        rec["key"],
        list(rec["labels"]),
        dict(rec["node"]),
        systems=sorted(s for s in systems if s),
        patients=list(rec["patients"]),
    )


def _row(x: dict[str, Any]) -> Row:
    node = dict(x["node"])
    return Row(
        key=node.get("key", ""),
        labels=list(x["labels"]),
        node=node,
        rel=dict(x["rel"]) if x["rel"] is not None else None,
        rel_type=x["type"],
        sort=int(x["s"]),
        time=x["t"],
        run=dict(x["run"]) if x["run"] is not None else None,
        patients=list(x["patients"]),
    )
