"""One statement for a whole read: a root lookup and every page below it, nested.

The API's reference read path (graph/readers.py through per-request DataLoaders) spends one
round trip per GraphQL level. For a document whose shape the API's planner covers
(api/compiled.py), :func:`read` answers the same reads in one statement: the root lookup's
branches as the reader writes them, then for each node found a ``CALL {}`` subquery per
connection below it, ordered by (time or property, key) and limited to ``first + 1`` rows,
each with its own subqueries for the levels below, and the total counted only where asked.
Every fragment of the text (the role's projection of each node, the patients it belongs
to, the window, the keyset cursor, ``underCode``) is the reader's own, so each page holds
what the reader would return for the same :class:`PageRequest`; the API primes its
DataLoaders with them and the resolvers read them from there.

:func:`context` is patientContext's statement: the same lookup and levels below the patient
found, and its timeline as :meth:`Reader.timeline` reads it (the same subqueries,
:func:`~caregraph.graph.readers.timeline_calls`), with levels below each event of the
timeline. Every other read (the reference path's) stays in graph/readers.py.

Values are parameters; labels and relationship types come from the ontology through
:class:`TraversalPath` and are quoted by :func:`quoted`. The text depends only on the shape
of the plan and the caller's projection, so it is built once per shape (``_text``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar

from neo4j import RoutingControl
from neo4j.exceptions import DriverError, Neo4jError

from caregraph.graph.names import quoted
from caregraph.graph.projection import IDENTIFIER_LOOKUP, Projection
from caregraph.graph.readers import (
    _AFTER,
    _REL,
    LookupRequest,
    Page,
    PageRequest,
    Reader,
    ReadTimeoutError,
    Row,
    Timeline,
    TraversalPath,
    _found_row,
    _lookup_body,
    _row,
    _time_expr,
    _window,
    timeline_calls,
)


@dataclass(frozen=True, slots=True)
class Level:
    """A page of ``path`` below each node of the level above, as a :class:`PageRequest`
    would ask for it; ``used``: how many of its rows the API maps to nodes (a connection
    reads one more than its page, to know whether there is a next page), whose own levels
    ``below`` are read."""

    path: TraversalPath
    take: int
    used: int
    count: bool = False
    start: datetime | None = None
    end: datetime | None = None
    after: tuple[int, str] | None = None
    under: str | None = None
    below: tuple[Level, ...] = ()
    # read below every node, used only below those with this label: the level of a fragment
    # on a concrete type (``... on Condition``) under an interface
    on: str | None = None

    def request(self, key: str) -> PageRequest:
        """The request the reference path makes for this page below the node ``key``."""
        return PageRequest(
            key=key,
            path=self.path,
            take=self.take,
            start=self.start,
            end=self.end,
            after=self.after,
            count=self.count,
            under=self.under,
        )

    def shape(self) -> tuple[Any, ...]:
        """What the statement's text depends on: not the values, but which conditions have
        one (a condition without its argument is left out of the text, not evaluated to
        true: Neo4j plans the statement once per shape, and each ``underCode`` test is a
        subquery of its own to plan)."""
        given = (
            self.start is not None or self.end is not None,
            self.after is not None,
            self.under is not None,
        )
        return (self.path, self.count, given, tuple(lv.shape() for lv in self.below))


@dataclass(frozen=True, slots=True)
class Plan:
    """A root lookup (its requests, as the reference path makes them) and the levels below
    the node it finds."""

    lookups: tuple[LookupRequest, ...]
    below: tuple[Level, ...]


@dataclass(slots=True)
class Answer:
    """What the statement read: per lookup request the nodes it names, and every page below
    the one node found (none when the lookup found none or several)."""

    found: list[list[Row]]
    pages: dict[PageRequest, Page] = field(default_factory=dict)


class NotCompilableError(Exception):
    """A plan this module does not turn into one statement (the reference path reads it)."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Statement(Generic[T]):
    """A read of one round trip before it runs: its text and parameters, and how its records
    become the answer (``answer``). :meth:`run` blocks its thread on the reader's driver; the
    service awaits :meth:`arun` on its event loop, through the reader's async driver. The
    same statement, the same answer.

    ``planned`` (the compiled path's statements): one not yet planned (:class:`Planner`) is
    not run but planned in the background, unless ``wait``; one past its budget
    (``budget_s``) is given up and planned again. Either way :class:`NotCompilableError`
    says so, and the caller reads the reference way with the time left. Otherwise (a
    search) the statement runs, and a read past the request's time raises as any read."""

    text: str
    params: dict[str, Any]
    answer: Callable[[list[Any]], T]
    budget_s: float | None = None
    planned: bool = False
    wait: bool = True

    def run(self, reader: Reader) -> T:
        with self._planning(reader):
            records = reader.run_within(self.text, self.budget_s, self.params)
        return self.answer(records)

    async def arun(self, reader: Reader) -> T:
        with self._planning(reader):
            records = await reader.arun_within(self.text, self.budget_s, self.params)
        return self.answer(records)

    @contextmanager
    def _planning(self, reader: Reader) -> Iterator[None]:
        if not self.planned:
            yield
            return
        if not self.wait and not PLANNER.ready(self.text):
            PLANNER.later(reader, self.text, self.params)
            raise NotCompilableError("the statement is being planned")
        try:
            yield
        except ReadTimeoutError as e:
            PLANNER.forget(self.text)
            PLANNER.later(reader, self.text, self.params)
            raise NotCompilableError("the statement did not finish within its budget") from e
        PLANNER.done(self.text)


def read(
    reader: Reader, plan: Plan, budget_s: float | None = None, *, wait: bool = False
) -> Statement[Answer]:
    """The plan's reads as one statement for ``reader`` (counted as one round trip, within
    its deadline and at most ``budget_s``)."""
    pj = reader.projection
    groups, labels, params = _lookup_params(pj, plan.lookups)
    _level_params(plan.below, params)
    text = _text(
        tuple(sorted(groups)),
        tuple(sorted(labels)),
        tuple(lv.shape() for lv in plan.below),
        pj,
    )
    answer = partial(_read_answer, reader, plan)
    return Statement(text, params, answer, budget_s, planned=True, wait=wait)


def _read_answer(reader: Reader, plan: Plan, records: list[Any]) -> Answer:
    answer = _found(reader, plan, records)
    # the levels below are the API's only when the lookup names one node: with several it
    # refuses (ambiguous), and nothing below is read or noted for the audit
    if len(records) == 1:
        top = records[0]
        _pages(reader, top, (str(top["key"]), list(top["labels"])), plan.below, 0, answer)
    return answer


@dataclass(frozen=True, slots=True)
class TimelineRead:
    """A patient's timeline as :meth:`Reader.timeline` reads it (its arguments), and the
    levels read below each of its events (``below``, as below the nodes of a connection)."""

    path: TraversalPath
    start: datetime | None
    end: datetime | None
    after: tuple[int, str] | None
    limit: int
    context_rels: tuple[str, ...]
    under: str | None = None
    below: tuple[Level, ...] = ()


@dataclass(slots=True)
class ContextAnswer:
    """What a patientContext statement read: the lookup's nodes and the pages below the one
    node found (:class:`Answer`), and that node's timeline (None unless the lookup named one
    node). The pages below the timeline's events are made (their rows given public keys and
    their patients noted) only for the events the caller is shown: :meth:`below_events`."""

    answer: Answer
    timeline: Timeline | None = None
    _reader: Reader | None = None
    _events: list[Any] = field(default_factory=list)
    _below: tuple[Level, ...] = ()
    _first: int = 0

    def below_events(self, shown: int) -> dict[PageRequest, Page]:
        """The pages read below the first ``shown`` events of the timeline."""
        out = Answer([])
        if self._reader is None or not self._below:
            return out.pages
        for raw in self._events[:shown]:
            node = (str(raw["node"]["key"]), list(raw["labels"]))
            _pages(self._reader, raw, node, self._below, self._first, out)
        return out.pages


def context(
    reader: Reader,
    plan: Plan,
    timeline: TimelineRead,
    budget_s: float | None = None,
    *,
    wait: bool = False,
) -> Statement[ContextAnswer]:
    """A patient's lookup (``plan.lookups``), the levels below the patient (``plan.below``),
    its timeline and the levels below the timeline's events in one statement, as
    :func:`read` makes it. The timeline is the reference reader's text
    (:func:`timeline_calls`) under the node found."""
    pj = reader.projection
    if any(req.label != timeline.path.start for req in plan.lookups):
        raise NotCompilableError("a timeline of another kind of node than the one looked up")
    groups, labels, params = _lookup_params(pj, plan.lookups)
    _level_params((*plan.below, *timeline.below), params)
    params["timeline"] = {
        "start": timeline.start,
        "end": timeline.end,
        "afterSort": timeline.after[0] if timeline.after else None,
        "afterKey": timeline.after[1] if timeline.after else None,
        "under": timeline.under,
    }
    params["limit"] = timeline.limit
    text = _text(
        tuple(sorted(groups)),
        tuple(sorted(labels)),
        tuple(lv.shape() for lv in plan.below),
        pj,
        (
            timeline.path,
            tuple(sorted(set(timeline.context_rels))),
            tuple(lv.shape() for lv in timeline.below),
        ),
    )
    answer = partial(_context_answer, reader, plan, timeline)
    return Statement(text, params, answer, budget_s, planned=True, wait=wait)


def _context_answer(
    reader: Reader, plan: Plan, timeline: TimelineRead, records: list[Any]
) -> ContextAnswer:
    result = ContextAnswer(_found(reader, plan, records))
    if len(records) != 1:  # none, or several: the API reads no timeline (it refuses)
        return result
    top = records[0]
    node = (str(top["key"]), list(top["labels"]))
    first = _pages(reader, top, node, plan.below, 0, result.answer)
    found = list(top["timeline"])
    result.timeline = reader.timeline_of(found[0]) if found else Timeline([], {})
    result._reader = reader
    result._events = list(found[0]["events"]) if found else []
    result._below = timeline.below
    result._first = first
    return result


def _lookup_params(
    pj: Projection, lookups: Sequence[LookupRequest]
) -> tuple[dict[str, list[dict[str, Any]]], set[str], dict[str, Any]]:
    """The lookups' rows grouped by how they look up, their labels, and the parameters."""
    groups: dict[str, list[dict[str, Any]]] = {}
    labels: set[str] = set()
    for i, req in enumerate(lookups):
        by = IDENTIFIER_LOOKUP if req.by in ("token", "value") else req.by.partition(".")[2]
        if not pj.may_look_up(req.label, by):
            raise NotCompilableError("a lookup the caller may not make")
        groups.setdefault(req.by, []).append({"i": i, "v": req.value, "label": req.label})
        labels.add(req.label)
    if not groups:
        raise NotCompilableError("nothing to look up")
    params: dict[str, Any] = {}
    for n, (_, rows) in enumerate(sorted(groups.items())):
        params[f"g{n}"] = rows
    return groups, labels, params


def _level_params(below: Sequence[Level], params: dict[str, Any]) -> None:
    for idx, level in _numbered(below):
        params[f"t{idx}"] = level.take
        params[f"r{idx}"] = {
            "start": level.start,
            "end": level.end,
            "afterSort": level.after[0] if level.after else None,
            "afterKey": level.after[1] if level.after else None,
            "under": level.under,
        }


def _found(reader: Reader, plan: Plan, records: Sequence[Any]) -> Answer:
    answer = Answer([[] for _ in plan.lookups])
    for rec in records:
        for hit in rec["hits"]:
            answer.found[hit["i"]].append(reader.seen(_found_row(rec, hit["systems"])))
    return answer


@dataclass(frozen=True, slots=True)
class Below:
    """Levels read below each node of another statement (a search's page of matches), in
    that statement: the subqueries, the map entries that carry their columns, and the
    parameters they take. :meth:`pages` reads their pages out of each node's row."""

    levels: tuple[Level, ...]
    calls: str
    entries: str
    params: dict[str, Any]

    @classmethod
    def of(cls, var: str, levels: Sequence[Level], pj: Projection) -> Below:
        """The subqueries reading ``levels`` below the node ``var``; raises
        :class:`NotCompilableError` for a level this module does not compile."""
        params: dict[str, Any] = {}
        _level_params(levels, params)
        calls, names = _levels(var, tuple(lv.shape() for lv in levels), [0], pj)
        entries = "".join(f", {name}: {name}" for name in names)
        return cls(tuple(levels), calls, entries, params)

    def pages(
        self, reader: Reader, found: Any, key: str, labels: Sequence[str]
    ) -> dict[PageRequest, Page]:
        """The pages below the node (key, labels) whose row (a map holding this statement's
        entries) is ``found``, keyed by the request the reference path would make."""
        answer = Answer([])
        _pages(reader, found, (key, labels), self.levels, 0, answer)
        return answer.pages


class Planner:
    """Which statements Neo4j has planned, and a worker that has it plan new ones.

    Planning a statement of many nested subqueries takes Neo4j seconds the first time (about
    half a second per level on a busy two-core host); the plan is cached after that (keyed by
    the text: one plan per shape). So a statement runs only once it is known to be planned:
    the first request of a new shape reads the reference way while the worker has Neo4j plan
    it (EXPLAIN: nothing runs), one statement at a time, so planning takes at most one of
    Neo4j's threads from the requests."""

    def __init__(self) -> None:
        self._ready: set[str] = set()
        self._queued: set[str] = set()
        self._asked: dict[str, int] = {}
        # a shape asked for this often is planned: agents and tools repeat theirs, one-off
        # documents (and a test suite's) are read the reference way without costing a plan
        self.min_asked = 5
        self.max_remembered = 10_000
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Reader, str, dict[str, Any]]] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None

    def ready(self, text: str) -> bool:
        with self._lock:
            return text in self._ready

    def done(self, text: str) -> None:
        with self._lock:
            self._ready.add(text)

    def forget(self, text: str) -> None:
        """The statement ran past its budget: its plan may have left Neo4j's cache."""
        with self._lock:
            self._ready.discard(text)

    def later(self, reader: Reader, text: str, params: dict[str, Any]) -> None:
        """Have Neo4j plan ``text`` in the background (once, however often asked), from the
        ``min_asked``-th time it is asked for: a shape asked for once is not worth seconds of
        Neo4j's time, and planning every one-off shape would slow the requests around it."""
        with self._lock:
            if text in self._ready or text in self._queued:
                return
            self._asked[text] = self._asked.get(text, 0) + 1
            if self._asked[text] < self.min_asked:
                if len(self._asked) > self.max_remembered:  # bounded: forget the counts
                    self._asked.clear()
                return
            self._asked.pop(text, None)
            self._queued.add(text)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work, name="caregraph-plan", daemon=True
                )
                self._worker.start()
        self._jobs.put((reader, text, params))

    def _work(self) -> None:
        while True:
            reader, text, params = self._jobs.get()
            try:
                reader.driver.execute_query(
                    "EXPLAIN " + text,
                    params,
                    routing_=RoutingControl.READ,
                    database_=reader.database,
                )
                self.done(text)
            except (Neo4jError, DriverError):
                # only a warm-up (Neo4j refused it, or went away): the next request of the
                # shape asks again, and the worker lives on
                pass
            finally:
                with self._lock:
                    self._queued.discard(text)


PLANNER = Planner()


def _numbered(below: Sequence[Level]) -> list[tuple[int, Level]]:
    """Every level with its index, depth first (the order the text names them in)."""
    out: list[tuple[int, Level]] = []

    def walk(levels: Sequence[Level]) -> None:
        for level in levels:
            out.append((len(out), level))
            walk(level.below)

    walk(below)
    return out


def _pages(
    reader: Reader,
    found: Any,
    node: tuple[str, Sequence[str]],
    below: Sequence[Level],
    idx: int,
    answer: Answer,
) -> int:
    """Pages of ``below`` under the node (key, labels) read as ``found`` (a record or a row
    map); returns the index after the last level of this subtree."""
    key, labels = node
    for level in below:
        mine = idx
        idx += 1
        if level.on is not None and level.on not in labels:
            idx += _size(level.below)  # a fragment on another type: not this node's
            continue
        raw = list(found[f"c{mine}"])
        rows = [reader.seen(_row(x)) for x in raw]
        total = int(found[f"k{mine}"]) if level.count else None
        request = level.request(key)
        if request not in answer.pages:
            answer.pages[request] = Page(rows, total)
            reader.counts_computed += level.count  # as the reader counts what it counted
        start = idx
        for x, row in zip(raw[: level.used], rows[: level.used], strict=True):
            _pages(reader, x, (row.key, row.labels), level.below, start, answer)
        idx = start + _size(level.below)
    return idx


def _size(below: Sequence[Level]) -> int:
    return sum(1 + _size(level.below) for level in below)


# -- query text ------------------------------------------------------------------------------


# a patientContext statement's timeline: its path, the relationships of each event's
# neighbours, and the shapes of the levels read below each event
TimelineShape = tuple[TraversalPath, tuple[str, ...], tuple[Any, ...]]


@lru_cache(maxsize=512)
def _text(
    groups: tuple[str, ...],
    labels: tuple[str, ...],
    below: tuple[Any, ...],
    pj: Projection,
    timeline: TimelineShape | None = None,
) -> str:
    """The lookup, the levels ``below`` the node found and, for patientContext, that node's
    ``timeline`` as the reader reads it."""
    counter = [0]
    calls, names = _levels("n", below, counter, pj)
    returned = "".join(f", {name}" for name in names)
    if timeline is not None:
        calls += _timeline_call(timeline, counter, pj)
        returned += ", timeline"
    return (
        f"CALL () {{ {_lookups(groups)} }} "
        "WITH n, collect({i: i, systems: systems}) AS hits "
        f"{calls}"
        f"RETURN hits, n.key AS key, labels(n) AS labels, {pj.node('n', labels)} AS node, "
        f"{pj.patients('n', labels)} AS patients{returned}"
    )


def _timeline_call(timeline: TimelineShape, counter: list[int], pj: Projection) -> str:
    """The timeline under ``n`` (:func:`timeline_calls`), with the levels below each event
    (numbered after those below ``n``), collected so that a patient without events in the
    window keeps its row."""
    path, context_rels, events_below = timeline
    # each event imports itself under a name of its own (``q``), as a level's node does
    deeper, deeper_names = _levels("q", events_below, counter, pj)
    event_calls = f"WITH b, t, s, near, b AS q {deeper}" if deeper else ""
    more = "".join(f", {name}: {name}" for name in deeper_names)
    return (
        "CALL (n) { WITH n AS a, $timeline AS row "
        f"{timeline_calls(path, pj, context_rels, event_calls, more)}"
        "RETURN collect({counts: counts, events: events}) AS timeline } "
    )


def _lookups(groups: tuple[str, ...]) -> str:
    """The lookup's branches (one per way of looking up), each yielding (i, n, systems)."""
    return " UNION ALL ".join(
        f"UNWIND $g{n} AS row CALL (row) {{ {_lookup_body(by)} }} "
        "WITH row, n, systems WHERE row.label IN labels(n) "
        "RETURN row.i AS i, n, systems"
        for n, by in enumerate(groups)
    )


def _levels(
    parent: str, below: tuple[Any, ...], counter: list[int], pj: Projection
) -> tuple[str, list[str]]:
    """The subqueries reading ``below`` under the node ``parent``, and the names they bind."""
    text = ""
    names: list[str] = []
    for path, count, given, deeper in below:
        idx = counter[0]
        counter[0] += 1
        text += _level(parent, idx, path, count, given, deeper, counter, pj)
        names.append(f"c{idx}")
        names.append(f"k{idx}")
    return text, names


def _level(
    parent: str,
    idx: int,
    path: TraversalPath,
    count: bool,
    given: tuple[bool, bool, bool],
    deeper: tuple[Any, ...],
    counter: list[int],
    pj: Projection,
) -> str:
    start = quoted(path.start)
    # a node that several chains reach (``events(kind:)``) once, by the first relationship
    # that reached it, as the reader's pages take it (graph/readers.py ``_path_branch``)
    once = "WITH row, b, head(collect(r)) AS r " if path.distinct else ""
    count_once = "WITH DISTINCT row, b " if path.distinct else ""
    windowed, paged, coded = given
    timed = f", {_time_expr('b')} AS t" if windowed else ""  # what a count's window needs
    # the reader's conditions, those whose argument the level has
    kept = [_window("b")] if windowed else []
    kept += [path.under()] if coded else []
    counted = f"WHERE {' AND '.join(kept)} " if kept else ""
    kept += [_AFTER] if paged else []
    where = f"WHERE {' AND '.join(kept)} " if kept else ""
    run = (
        "OPTIONAL MATCH (b)-[:LOADED_IN]->(run:LoadRun) "
        if path.with_run
        else "WITH row, r, b, t, s, null AS run "
    )
    # the levels below import the node by a name of their own: a subquery may not bind a
    # variable its caller imported into it (each level binds its own ``a``, ``r`` and ``b``)
    up = f"p{idx}"
    calls, names = _levels(up, deeper, counter, pj)
    more = "".join(f", {name}: {name}" for name in names)
    page = (
        f"CALL ({parent}) {{ WITH {parent} AS a, $r{idx} AS row WHERE a:{start} "
        f"CALL (a) {{ {path.match(pj)} }} {once}"
        f"WITH row, r, b, {_time_expr('b')} AS t "
        f"WITH row, r, b, t, {path.sort_expr(pj)} AS s "
        f"{where}"
        f"{run}"
        f"WITH r, b, t, s, run, b AS {up} ORDER BY s, b.key LIMIT $t{idx} "
        f"{calls}"
        f"RETURN collect({{node: {pj.node('b', path.targets())}, labels: labels(b), "
        f"rel: {_REL}, type: type(r), s: s, t: toString(t), run: properties(run), "
        f"patients: {pj.patients('b', path.targets())}{more}}}) AS c{idx} }} "
    )
    if not count:
        return page + f"WITH *, null AS k{idx} "
    return page + (
        f"CALL ({parent}) {{ WITH {parent} AS a, $r{idx} AS row WHERE a:{start} "
        f"CALL (a) {{ {path.match(pj)} }} {count_once}"
        f"WITH row, b{timed} {counted}"
        f"RETURN count(*) AS k{idx} }} "
    )
