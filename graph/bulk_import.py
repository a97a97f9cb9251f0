"""A staged graph into the managed Neo4j with ``neo4j-admin database import full``.

The steps, each with what an interruption leaves:

1. ``write_files``: the staged graph as neo4j-admin CSV files (header row, ``:ID``,
   ``:LABEL``, ``:START_ID``/``:END_ID``/``:TYPE``, typed properties, arrays split by U+001F)
   in a work folder. The store is untouched.
2. ``replace_store``: the server stopped; the files imported into a database of another name
   (``IMPORT_DATABASE``), so a failed or killed import leaves the ``neo4j`` store as it was;
   then the two store folders (``databases/`` and ``transactions/``) swapped by renames, with
   a marker file naming the step. ``settle`` (run before every start of the managed server)
   finishes a swap an interruption cut short, or undoes it, so the store is the old one or
   the new one, never half of each.
3. The server started again; ``finish``: the old store's constraints and indexes made again
   (Community Edition serves one database, so the swap replaces its schema too), the empty
   lists CSV cannot say set, and the linking rules run over every node.

Everything is Cypher or file work on a server caregraph manages; an external server
(NEO4J_URI) is refused before any of it (``loaders/initial.py``).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from neo4j import Driver
from neo4j.exceptions import ClientError

from caregraph.graph import linking
from caregraph.graph.errors import GraphError
from caregraph.graph.names import quoted
from caregraph.graph.server import ADMIN_TOOL, DATABASE, ManagedNeo4j
from caregraph.graph.staging import StagedGraph
from caregraph.ontology.schema_plan import CLASS_LABEL, SCHEMA_LABEL

IMPORT_DATABASE = "caregraph-import"
MARKER = "caregraph-swap.json"
ARRAY_DELIMITER = "\x1f"  # U+001F, unit separator: never in a value caregraph keeps (checked)
LINK_CHUNK = 2000  # node keys per linking transaction


class BulkImportError(GraphError):
    """The initial import could not be done; the message says what the store is now and what
    to do."""


@dataclass(slots=True)
class ImportFiles:
    """The CSV files neo4j-admin reads, and what CSV cannot say: empty lists, set after."""

    nodes: list[Path] = field(default_factory=list)
    relationships: list[Path] = field(default_factory=list)
    # (node id, property) whose value is an empty list; relationships: (start, type, end, prop)
    empty_node_lists: list[tuple[str, str]] = field(default_factory=list)
    empty_rel_lists: list[tuple[str, str, str, str]] = field(default_factory=list)


def _kind(value: Any) -> str:
    """The neo4j-admin type of a value (a list: of its elements)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return "localdatetime"
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, str):
        return "string"
    raise BulkImportError(f"a value of type {type(value).__name__} has no neo4j-admin type")


def _column(name: str, value: Any) -> str | None:
    """The header's ``name:type``; None for an empty list (set after the import)."""
    if isinstance(value, list):
        if not value:
            return None
        kinds = {_kind(v) for v in value}
        if len(kinds) != 1:
            raise BulkImportError(f"property {name}: a list of mixed types")
        return f"{name}:{kinds.pop()}[]"
    return f"{name}:{_kind(value)}"


def _text(name: str, value: Any) -> str:
    if isinstance(value, list):
        parts = [_text(name, v) for v in value]
        if any(p == "" or ARRAY_DELIMITER in p for p in parts):
            # neo4j-admin would drop an empty element or split at the delimiter: refuse
            # rather than import a different list (the value itself is never echoed)
            raise BulkImportError(
                f"property {name}: a list element that the import files cannot carry "
                "(empty, or containing U+001F); load this input incrementally"
            )
        return ARRAY_DELIMITER.join(parts)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _row(props: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
    """A row's property columns (its header's ``name:type``s, sorted by name) and values."""
    cols: list[str] = []
    values: list[str] = []
    for name in sorted(props):
        value = props[name]
        if type(value) is str:  # most values: no type to work out, no conversion
            cols.append(name + ":string")
            values.append(value)
            continue
        col = _column(name, value)
        if col is not None:
            cols.append(col)
            values.append(_text(name, value))
    return tuple(cols), values


class _Files:
    """One CSV file per header, each opened at its first row and numbered in that order, so
    rows go to disk as they are made: the files never wait in memory beside the staged graph."""

    def __init__(self, folder: Path, prefix: str, fixed: tuple[str, ...]) -> None:
        self.folder = folder
        self.prefix = prefix
        self.fixed = fixed
        self.paths: list[Path] = []
        self._open: dict[tuple[str, ...], tuple[Any, Any]] = {}  # header -> (file, writer)

    def write(self, cols: tuple[str, ...], row: list[str]) -> None:
        found = self._open.get(cols)
        if found is None:
            path = self.folder / f"{self.prefix}-{len(self.paths):04d}.csv"
            fh = path.open("w", newline="", encoding="utf-8")
            # every field quoted: an empty string stays an empty string (neo4j-admin reads an
            # unquoted empty field as no value), and a newline stays inside its field
            writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow((*self.fixed, *cols))
            found = self._open[cols] = (fh, writer)
            self.paths.append(path)
        found[1].writerow(row)

    def close(self) -> None:
        for fh, _ in self._open.values():
            fh.close()
        self._open.clear()


def write_files(graph: StagedGraph, folder: Path) -> ImportFiles:
    """The staged graph as neo4j-admin CSV files under ``folder`` (made afresh)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = ImportFiles()
    nodes = _Files(folder, "nodes", (":ID", ":LABEL"))
    rels = _Files(folder, "relationships", (":START_ID", ":END_ID", ":TYPE"))
    try:
        for nid, node in graph.iter_nodes():
            for name, value in node.props.items():
                if value == []:
                    out.empty_node_lists.append((nid, name))
            cols, values = _row(node.props)
            nodes.write(cols, [nid, ARRAY_DELIMITER.join(node.labels), *values])
        for rel in graph.iter_rels():
            for name, value in rel.props.items():
                if value == []:
                    out.empty_rel_lists.append((rel.start, rel.type, rel.end, name))
            cols, values = _row(rel.props)
            rels.write(cols, [rel.start, rel.end, rel.type, *values])
    finally:
        nodes.close()
        rels.close()
    out.nodes, out.relationships = nodes.paths, rels.paths
    return out


# -- the store swap --------------------------------------------------------------------------
def _store_dirs(server: ManagedNeo4j, name: str) -> tuple[Path, Path]:
    data = server.data_dir
    return data / "databases" / name, data / "transactions" / name


def settle(server: ManagedNeo4j) -> str | None:
    """Finish or undo a store swap an interruption cut short (the server is stopped); say
    which, or None when there was none. Safe to run at any time the server is stopped."""
    marker = server.data_dir / MARKER
    if not marker.exists():
        return None
    step = json.loads(marker.read_text()).get("step")
    live = _store_dirs(server, DATABASE)
    new = _store_dirs(server, IMPORT_DATABASE)
    old = _store_dirs(server, DATABASE + ".replaced")
    if step == "imported":
        # the new store is complete; the old one may be moved aside in part: put it back,
        # then the same swap again
        for o, lv in zip(old, live, strict=True):
            if o.exists() and not lv.exists():
                o.rename(lv)
        _swap(server)
        said = "an interrupted initial import's store swap was finished: the imported store is live"
    else:
        for n in new:
            shutil.rmtree(n, ignore_errors=True)
        said = "an interrupted initial import was undone: the store is as before it"
    marker.unlink(missing_ok=True)
    return said


def _swap(server: ManagedNeo4j) -> None:
    """Old store aside, imported store in its place, old store deleted; the marker (step
    ``imported``) says what to do should this be cut short."""
    marker = server.data_dir / MARKER
    marker.write_text(json.dumps({"step": "imported"}))
    live = _store_dirs(server, DATABASE)
    new = _store_dirs(server, IMPORT_DATABASE)
    old = _store_dirs(server, DATABASE + ".replaced")
    for lv, o in zip(live, old, strict=True):
        if lv.exists():
            shutil.rmtree(o, ignore_errors=True)
            lv.rename(o)
    for n, lv in zip(new, live, strict=True):
        if n.exists():
            n.rename(lv)
    marker.unlink(missing_ok=True)
    for o in old:
        shutil.rmtree(o, ignore_errors=True)


def replace_store(server: ManagedNeo4j, files: ImportFiles, report: Path) -> None:
    """Import ``files`` into a new store and swap it in for the ``neo4j`` one; the server must
    be stopped. On failure the old store stays and BulkImportError says why."""
    marker = server.data_dir / MARKER
    marker.write_text(json.dumps({"step": "importing"}))
    for d in _store_dirs(server, IMPORT_DATABASE):
        shutil.rmtree(d, ignore_errors=True)
    java = server.java_command()
    classpath = os.pathsep.join(str(p) for p in server.configure())
    args = [
        # the database first: --nodes and --relationships take every argument after them
        *java, "-cp", classpath, ADMIN_TOOL, "database", "import", "full", IMPORT_DATABASE,
        f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}", "--multiline-fields=true",
        "--id-type=string", f"--report-file={report}",
        *(f"--nodes={p}" for p in files.nodes),
        *(f"--relationships={p}" for p in files.relationships),
    ]  # fmt: skip
    env = {**os.environ, "NEO4J_HOME": str(server.home), "NEO4J_CONF": str(server.conf_dir)}
    log = server.logs_dir / "import.log"
    with log.open("w") as out:
        proc = subprocess.run(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=server.home, check=False
        )
    if proc.returncode != 0:
        settle(server)  # the marker says "importing": the partial new store goes
        raise BulkImportError(
            f"neo4j-admin import failed (exit {proc.returncode}, see {log}); the database is "
            "as it was before the import: fix the cause and run the initial import again"
        )
    _swap(server)


# -- after the import ------------------------------------------------------------------------
def schema_statements(driver: Driver, database: str) -> list[str]:
    """The statements that make the database's constraints and indexes again (Neo4j's own
    ``createStatement``), constraint-backed indexes and the built-in lookup indexes left out."""
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD createStatement RETURN createStatement", database_=database
    )
    out = [r["createStatement"] for r in records]
    records, _, _ = driver.execute_query(
        "SHOW INDEXES YIELD type, owningConstraint, createStatement "
        "WHERE owningConstraint IS NULL AND type <> 'LOOKUP' RETURN createStatement",
        database_=database,
    )
    return out + [r["createStatement"] for r in records]


# What `caregraph ontology apply` writes into a database before any load: the class hierarchy
# and the applied ontology's node. Not data: a database that has only them is empty for an
# initial import, and they are written again after it (``loaders/initial.py``).
ONTOLOGY_LABELS = (CLASS_LABEL, SCHEMA_LABEL)


@dataclass(frozen=True, slots=True)
class Contents:
    """What a database holds before an initial import."""

    data_nodes: int  # nodes other than the ontology's own
    ontology_applied: bool


def contents(driver: Driver, database: str) -> Contents:
    """How many data nodes the database holds, and whether the ontology was applied to it."""
    records, _, _ = driver.execute_query(
        "CALL () { MATCH (n) WHERE none(l IN labels(n) WHERE l IN $ontology) "
        "RETURN count(n) AS data } "
        "CALL () { MATCH (s:" + quoted(SCHEMA_LABEL) + ") RETURN count(s) > 0 AS applied } "
        "RETURN data, applied",
        ontology=list(ONTOLOGY_LABELS),
        database_=database,
    )
    return Contents(int(records[0]["data"]), bool(records[0]["applied"]))


def restore_schema(driver: Driver, database: str, statements: Sequence[str]) -> None:
    """Make the statements' constraints and indexes (those that exist already are kept)."""
    for statement in statements:
        # an equivalent one may be made already (the writer's keys): Neo4j refuses the copy
        with contextlib.suppress(ClientError):
            driver.execute_query(statement, database_=database)
    driver.execute_query("CALL db.awaitIndexes(600)", database_=database)


def set_empty_lists(driver: Driver, database: str, files: ImportFiles) -> None:
    """The empty lists CSV cannot carry (an empty field is no value), set by key."""
    by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
    for nid, prop in files.empty_node_lists:
        by_kind[(nid[:2], prop)].append(nid[2:])
    merge_key = {"e:": ("Entity", "key"), "c:": ("Concept", "key"),
                 "i:": ("Identifier", "key"), "s:": ("SourceRecord", "key"),
                 "r:": ("LoadRun", "runId")}  # fmt: skip
    for (prefix, prop), keys in by_kind.items():
        label, key = merge_key[prefix]
        driver.execute_query(
            f"UNWIND $keys AS k MATCH (n:{quoted(label)} {{{quoted(key)}: k}}) "
            f"SET n.{quoted(prop)} = []",
            keys=keys,
            database_=database,
        )
    rels: dict[tuple[str, str, str, str], list[dict[str, str]]] = defaultdict(list)
    for start, rel_type, end, prop in files.empty_rel_lists:
        rels[(start[:2], rel_type, end[:2], prop)].append({"a": start[2:], "b": end[2:]})
    for (sp, rel_type, ep, prop), pairs in rels.items():
        (sl, sk), (el, ek) = merge_key[sp], merge_key[ep]
        # every relationship of the type between the pair whose list is absent: two of one
        # type between one pair (two roles) with one empty list and one absent do not occur
        driver.execute_query(
            f"UNWIND $pairs AS p MATCH (a:{quoted(sl)} {{{quoted(sk)}: p.a}})"
            f"-[x:{quoted(rel_type)}]->(b:{quoted(el)} {{{quoted(ek)}: p.b}}) "
            f"WHERE x.{quoted(prop)} IS NULL SET x.{quoted(prop)} = []",
            pairs=pairs,
            database_=database,
        )


def link(
    driver: Driver,
    database: str,
    graph: StagedGraph,
    run_id: str,
    enabled: frozenset[str],
) -> linking.Linked:
    """The linking rules over every node, rule by rule in the order the incremental path runs
    them per batch (so a claim the first rule links is not linked by the second), a chunk of
    keys per transaction, the keys read from the staged graph as they are needed."""
    out = linking.Linked()
    for rule in linking.RULES:
        if rule.name not in enabled:
            continue
        keys = graph.entity_keys(rule.triggers)
        while part := list(itertools.islice(keys, LINK_CHUNK)):
            chunk = {label: part for label in rule.triggers}
            with driver.session(database=database) as session:
                made = session.execute_write(
                    linking.apply_rules, chunk, run_id, frozenset({rule.name})
                )
            for name, n in made.made.items():
                out.made[name] = out.made.get(name, 0) + n
            for name, n in made.ambiguous.items():
                out.ambiguous[name] = out.ambiguous.get(name, 0) + n
    return out


def stamp_link_runs(
    driver: Driver, database: str, graph: StagedGraph, run_ids: Sequence[str]
) -> None:
    """Give each link a rule made the run the incremental path would have made it in: the
    later of the runs that first wrote its two ends (a rule links once both ends are there).
    Only needed when the import holds several runs. The links are read as a stream, a chunk
    at a time, and only the ids of the ones that move are kept: at 100k patients, holding
    every link's record took the loading process from 480 MB to 1 GB."""
    if len(run_ids) < 2:
        return
    order = {r: i for i, r in enumerate(run_ids)}
    last = len(run_ids) - 1
    rules = [r.name for r in linking.RULES]
    moved: dict[int, list[str]] = defaultdict(list)  # run -> ids of the links it made
    with driver.session(database=database) as session:
        result = session.run(
            "MATCH (a:Entity)-[x]->(b:Entity) WHERE x.rule IN $rules AND x.runId = $last "
            "RETURN elementId(x) AS id, a.key AS a, b.key AS b",
            rules=rules,
            last=run_ids[last],
        )
        while rows := [(r["id"], r["a"], r["b"]) for r in itertools.islice(result, 5000)]:
            first = graph.first_runs({k for _, a, b in rows for k in (a, b)})
            for link_id, a, b in rows:
                made = max(order.get(first.get(k, run_ids[last]), last) for k in (a, b))
                if made != last:
                    moved[made].append(link_id)
    for made, ids in moved.items():
        for i in range(0, len(ids), 5000):
            driver.execute_query(
                "UNWIND $ids AS id MATCH ()-[x]->() WHERE elementId(x) = id SET x.runId = $run",
                ids=ids[i : i + 5000],
                run=run_ids[made],
                database_=database,
            )
