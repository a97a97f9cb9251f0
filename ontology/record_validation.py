"""Records checked against the SHACL shapes (``ontology/shapes.ttl``) before they are written.

The shapes are compiled once into plain Python checks (:class:`PropertyCheck`), because
running pyshacl per record (build an RDF graph, run the SHACL engine) costs milliseconds per
record, far too slow for a streaming load of millions; a test keeps pyshacl and these checks
in agreement on sample instances. The same compiled checks give the Cypher that counts
existing nodes violating a shape (``graph/schema.py``).

A record is checked closed-world: required links must be asserted in the same record (an
encounter's patient), every property must be declared by the ontology and its value must fit
the property's XSD range. Messages name the record's position, the class and the property,
never the value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from rdflib import RDF, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.compare import to_canonical_graph
from rdflib.namespace import SH
from rdflib.term import Node as RdfNode

from caregraph.ontology.errors import InvalidOntologyError, OntologyParseError
from caregraph.ontology.model import (
    ONTOLOGY_DIR,
    SHAPES_FILE,
    Ontology,
    local,
    parse_files,
    xsd_name,
)
from caregraph.ontology.temporal import earliest
from caregraph.ontology.vocab import CG

SEVERITIES = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}
# What the compiler understands; anything else on a property shape is refused, so that a
# shape an informaticist writes is never silently ignored.
_SUPPORTED = {
    SH.path, SH.minCount, SH.maxCount, SH.datatype, SH["class"], SH["in"], SH.pattern,
    SH.severity, SH.name, SH.description, SH.message, SH.order,
}  # fmt: skip
_NODE_SHAPE_KEYS = {SH.targetClass, SH.property, RDF.type, SH.severity, SH.name, SH.description}


@dataclass(frozen=True, slots=True)
class PropertyCheck:
    """One compiled property shape: what one class needs along one path."""

    shape: URIRef  # the node shape it belongs to
    target: URIRef  # the class it applies to (and to its subclasses)
    path: URIRef  # a datatype or object property
    inverse: bool  # the path is [ sh:inversePath path ]: links pointing at the node
    link: bool  # path is an object property (counts links) rather than a datatype property
    min_count: int | None = None
    max_count: int | None = None
    datatype: str | None = None  # XSD local name
    cls: URIRef | None = None  # the class the other end of a link must have
    values: tuple[str, ...] | None = None  # sh:in
    pattern: str | None = None
    severity: str = "Violation"
    name: str | None = None  # sh:name, for messages

    @property
    def label(self) -> str:
        """How messages name the path: "start", "subject (incoming HAS_ENCOUNTER)"."""
        base = local(self.path)
        if self.inverse:
            return f"{self.name or 'incoming ' + base} (incoming {local(self.path)})"
        return f"{self.name} ({base})" if self.name and self.name != base else base


@dataclass(frozen=True, slots=True)
class ShapeProblem:
    """A shape the compiler cannot use: the shape, the term at fault and why."""

    shape: URIRef | None
    term: str
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with a record, with its severity."""

    severity: str
    message: str
    kind: str = "unusual-value"  # incomplete | unusual-value | too-many: a report's code


class _Ref(Protocol):
    @property
    def cls(self) -> URIRef: ...
    @property
    def key(self) -> str: ...


class _Identifier(Protocol):
    @property
    def token(self) -> str: ...


class _Node(Protocol):
    @property
    def cls(self) -> URIRef: ...
    @property
    def key(self) -> str: ...
    @property
    def props(self) -> Mapping[URIRef, object]: ...
    @property
    def identifiers(self) -> Sequence[_Identifier]: ...


class _Link(Protocol):
    @property
    def rel(self) -> URIRef: ...
    @property
    def src(self) -> _Ref: ...
    @property
    def dst(self) -> _Ref: ...
    @property
    def props(self) -> Mapping[URIRef, object]: ...


class RecordLike(Protocol):
    """What the validator reads of a ``loaders.records.Record``."""

    @property
    def nodes(self) -> Sequence[_Node]: ...
    @property
    def links(self) -> Sequence[_Link]: ...


def shapes_path() -> Path:
    """The shipped shapes file."""
    return ONTOLOGY_DIR / SHAPES_FILE


def compile_shapes(
    shapes: Graph, onto: Ontology
) -> tuple[tuple[PropertyCheck, ...], list[ShapeProblem]]:
    """The shapes as checks, and every shape that names an unknown term or unsupported feature."""
    checks: list[PropertyCheck] = []
    problems: list[ShapeProblem] = []
    node_shapes = sorted(
        {s for s in shapes.subjects(RDF.type, SH.NodeShape)}
        | {s for s in shapes.subjects(SH.targetClass, None)},
        key=str,
    )
    for ns in node_shapes:
        shape = ns if isinstance(ns, URIRef) else None
        for p in set(shapes.predicates(ns, None)) - _NODE_SHAPE_KEYS:
            if p not in _NODE_LABELS:
                problems.append(ShapeProblem(shape, _short(p), "unsupported on a node shape"))
        targets = list(shapes.objects(ns, SH.targetClass))
        if not targets:
            problems.append(ShapeProblem(shape, _short(ns), "has no sh:targetClass"))
        for target in targets:
            if not isinstance(target, URIRef) or target not in onto.classes:
                problems.append(ShapeProblem(shape, _short(target), "target is not a class"))
                continue
            for ps in shapes.objects(ns, SH.property):
                check = _compile_property(shapes, onto, shape, target, ps, problems)
                if check is not None:
                    checks.append(check)
    return tuple(checks), problems


_NODE_LABELS = {
    URIRef("http://www.w3.org/2000/01/rdf-schema#label"),
    URIRef("http://www.w3.org/2000/01/rdf-schema#comment"),
}


def _compile_property(
    g: Graph,
    onto: Ontology,
    shape: URIRef | None,
    target: URIRef,
    ps: RdfNode,
    problems: list[ShapeProblem],
) -> PropertyCheck | None:
    for p in set(g.predicates(ps, None)) - _SUPPORTED - _NODE_LABELS:
        problems.append(ShapeProblem(shape, _short(p), "unsupported SHACL constraint"))
    raw = g.value(ps, SH.path)
    inverse = False
    if isinstance(raw, BNode):
        raw = g.value(raw, SH.inversePath)
        inverse = True
    if not isinstance(raw, URIRef):
        problems.append(ShapeProblem(shape, "sh:path", "must be a property or sh:inversePath"))
        return None
    link = raw in onto.object_properties
    if not link and raw not in onto.datatype_properties:
        problems.append(ShapeProblem(shape, _short(raw), "sh:path names no property"))
        return None
    if inverse and not link:
        problems.append(ShapeProblem(shape, _short(raw), "sh:inversePath of a datatype property"))
        return None
    cls = g.value(ps, SH["class"])
    if cls is not None and cls not in onto.classes:
        problems.append(ShapeProblem(shape, _short(cls), "sh:class names no class"))
        cls = None
    dt = g.value(ps, SH.datatype)
    datatype = xsd_name(dt) if isinstance(dt, URIRef) else None
    if dt is not None and datatype not in _VALUE_CHECKS:
        problems.append(ShapeProblem(shape, _short(dt), "sh:datatype is not a supported XSD type"))
        datatype = None
    in_list = g.value(ps, SH["in"])
    severity = g.value(ps, SH.severity)  # SHACL: a node shape's severity is not inherited
    if severity is not None and severity not in SEVERITIES:
        problems.append(ShapeProblem(shape, _short(severity), "unknown sh:severity"))
    pattern = g.value(ps, SH.pattern)
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as e:
            problems.append(ShapeProblem(shape, "sh:pattern", f"not a regular expression: {e}"))
            pattern = None
    name = g.value(ps, SH.name)
    return PropertyCheck(
        shape=shape or URIRef("urn:caregraph:anonymous-shape"),
        target=target,
        path=raw,
        inverse=inverse,
        link=link,
        min_count=_int(g.value(ps, SH.minCount)),
        max_count=_int(g.value(ps, SH.maxCount)),
        datatype=datatype,
        cls=cls if isinstance(cls, URIRef) else None,
        values=tuple(str(v) for v in Collection(g, in_list)) if in_list is not None else None,
        pattern=str(pattern) if pattern is not None else None,
        severity=SEVERITIES.get(severity, "Violation")
        if isinstance(severity, URIRef)
        else "Violation",
        name=str(name) if name is not None else None,
    )


def _int(node: RdfNode | None) -> int | None:
    return int(node.toPython()) if isinstance(node, Literal) else None


def _short(term: RdfNode | None) -> str:
    if term is None:
        return "?"
    text = str(term)
    for prefix, ns in (("cg:", str(CG._NS)), ("sh:", str(SH)), ("xsd:", str(XSD))):
        if text.startswith(ns):
            return prefix + text[len(ns) :]
    return text


def shapes_hash(path: Path | None = None) -> str:
    """A digest of the shapes' triples, blank nodes canonicalised: equal iff isomorphic (so a
    reformatted file is the same shapes, and any changed constraint is a change to apply)."""
    canon = to_canonical_graph(parse_files([path or shapes_path()]))
    lines = sorted(line for line in canon.serialize(format="nt").splitlines() if line)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def load_shapes(onto: Ontology, path: Path | None = None) -> tuple[PropertyCheck, ...]:
    """Parse and compile a shapes file; InvalidOntologyError if any shape cannot be used."""
    p = path or shapes_path()
    try:
        g = parse_files([p])
    except OntologyParseError:
        raise
    checks, problems = compile_shapes(g, onto)
    if problems:
        raise InvalidOntologyError([f"{p}: {x.term}: {x.message}" for x in problems])
    return checks


# -- values ------------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# a date-time to the hour, minute, second or finer, with or without an offset
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$")


def _is_date(v: object) -> bool:
    # FHIR allows a year or year-month; a full date must be a real calendar date
    if not isinstance(v, str) or not _DATE.match(v):
        return False
    try:
        date.fromisoformat(v if len(v) == 10 else (v + "-01-01")[:10])
    except ValueError:
        return False
    return True


def _is_datetime(v: object) -> bool:
    # a year, a month or a day alone is accepted, as FHIR dateTime and HL7 v2 DTM allow: the
    # writer stores the period's first instant and its precision (graph/temporal.py)
    if isinstance(v, str) and len(v) <= 10:
        return _is_date(v)
    if not isinstance(v, str) or not _DATETIME.match(v):
        return False
    try:
        datetime.fromisoformat(earliest(v).replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: object) -> bool:
    return _is_number(v) and (not isinstance(v, float) or v.is_integer())


_VALUE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "decimal": _is_number,
    "date": _is_date,
    "dateTime": _is_datetime,
}


def _present(value: object) -> list[object]:
    """The values of a property, empty ones (None, "", []) counted as absent."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [v for v in value if v is not None and v != ""]
    return [value]


# -- the validator -----------------------------------------------------------------------------


class RecordValidator:
    """Checks records against the ontology and its shapes; build once, call per record."""

    def __init__(self, onto: Ontology, shapes_path: Path | None = None) -> None:
        self.onto = onto
        self.checks = load_shapes(onto, shapes_path)
        by_class: dict[URIRef, list[PropertyCheck]] = {c: [] for c in onto.classes}
        for check in self.checks:
            for sub in onto.subclasses(check.target):
                by_class[sub].append(check)
        self._by_class = {c: tuple(v) for c, v in by_class.items()}

    def leave_out_unparseable(self, record: RecordLike) -> list[str]:
        """Remove every value that does not fit its property's datatype (an impossible date,
        a word where a number belongs) from the record's nodes; say what was left out, where.

        The rest of the record is understood, so it is written without the value rather than
        rejected; the messages name the node and the property, never the value.
        """
        where = _position(record)
        out: list[str] = []
        for node, name in zip(record.nodes, _node_names(record.nodes), strict=True):
            props = node.props
            for prop in list(props):
                spec = self.onto.datatype_properties.get(prop)
                kind = self.onto.datatype(prop) if spec is not None else None
                test = _VALUE_CHECKS.get(kind or "")
                if spec is None or test is None:
                    continue
                if not all(test(v) for v in _present(props[prop])):
                    del props[prop]  # type: ignore[attr-defined]  # loaders' props are dicts
                    out.append(f"{where}: {name}: {spec.name} is not an xsd:{kind}: left out")
        return out

    def problems(self, record: RecordLike) -> list[str]:
        """What makes the record unfit to write (shape violations, unknown terms, bad values)."""
        return [f.message for f in self.findings(record) if f.severity == "Violation"]

    def warnings(self, record: RecordLike) -> list[str]:
        """What is worth reporting but does not stop the record (sh:Warning, sh:Info)."""
        return [f.message for f in self.findings(record) if f.severity != "Violation"]

    def findings(self, record: RecordLike) -> list[Finding]:
        """Every finding, in record order, each once."""
        where = _position(record)
        out: dict[str, Finding] = {}

        def add(severity: str, message: str, kind: str = "unusual-value") -> None:
            text = f"{where}: {message}"
            out.setdefault(text, Finding(severity, text, kind))

        names = _node_names(record.nodes)
        for node, name in zip(record.nodes, names, strict=True):
            if node.cls not in self.onto.classes:
                add("Violation", f"{name}: {_short(node.cls)} is not a class of the ontology")
                continue
            self._props(node.props, name, add)
            for check in self._by_class[node.cls]:
                self._check(record, node, name, check, add)
        for i, link in enumerate(record.links, 1):
            if link.rel not in self.onto.object_properties:
                add("Violation", f"link {i}: {_short(link.rel)} is not a relationship")
                continue
            rel = self.onto.object_properties[link.rel].graph_name
            for end in (link.src, link.dst):
                if end.cls not in self.onto.classes:
                    add("Violation", f"{rel} link {i}: {_short(end.cls)} is not a class")
            self._props(link.props, f"{rel} link {i}", add)
        return list(out.values())

    def _props(self, props: Mapping[URIRef, object], owner: str, add: _Add) -> None:
        for prop, value in props.items():
            spec = self.onto.datatype_properties.get(prop)
            if spec is None:
                add("Violation", f"{owner}: {_short(prop)} is not a datatype property")
                continue
            values = _present(value)
            if len(values) > 1 and not spec.multi_valued:
                add("Violation", f"{owner}: {spec.name} has several values but takes one")
            kind = self.onto.datatype(prop) or "string"
            test = _VALUE_CHECKS.get(kind)
            if test is not None and not all(test(v) for v in values):
                add("Violation", f"{owner}: {spec.name} is not an xsd:{kind}")

    def _check(
        self, record: RecordLike, node: _Node, name: str, check: PropertyCheck, add: _Add
    ) -> None:
        sev = check.severity
        if check.link:
            ends = _link_ends(record, node, check)
            count = len(ends)
            if check.cls is not None:
                allowed = self.onto.subclasses(check.cls)
                if any(cls not in allowed for cls in ends):
                    other = "from" if check.inverse else "to"
                    add(sev, f"{name}: {check.label} must link {other} a {local(check.cls)}")
        else:
            values = _present(node.props.get(check.path))
            count = len(values)
            if check.datatype and not all(_VALUE_CHECKS[check.datatype](v) for v in values):
                add(sev, f"{name}: {check.label} is not an xsd:{check.datatype}")
            if check.values is not None and any(str(v) not in check.values for v in values):
                add(sev, f"{name}: {check.label} is not one of {', '.join(check.values)}")
            if check.pattern and any(not re.search(check.pattern, str(v)) for v in values):
                add(sev, f"{name}: {check.label} does not match {check.pattern}")
        if check.min_count is not None and count < check.min_count:
            if check.link and check.inverse:
                cls = f" from a {local(check.cls)}" if check.cls else ""
                rel = self.onto.relationship_type(check.path)
                need = f"needs an incoming {rel} link{cls} in the same record"
                add(sev, f"{name}: {check.label} is missing: {need}", "incomplete")
            elif check.link:
                cls = f" to a {local(check.cls)}" if check.cls else ""
                rel = self.onto.relationship_type(check.path)
                need = f"needs {check.min_count} {rel} link(s){cls} in the same record"
                add(sev, f"{name}: {check.label} is missing: {need}", "incomplete")
            else:
                what = "is required" if sev == "Violation" else "is absent"
                add(sev, f"{name}: {check.label} {what} (at least {check.min_count})", "incomplete")
        if check.max_count is not None and count > check.max_count:
            add(
                sev,
                f"{name}: {check.label} has {count} values, at most {check.max_count}",
                "too-many",
            )


class _Add(Protocol):
    def __call__(self, severity: str, message: str, kind: str = ...) -> None: ...


def _position(record: RecordLike) -> str:
    ref = getattr(record, "ref", None)
    position = getattr(ref, "position", None)
    return str(position) if position else "record"


def _node_names(nodes: Iterable[_Node]) -> list[str]:
    """Each node's name in messages: its class, numbered when the record has several."""
    classes = [local(n.cls) for n in nodes]
    out: list[str] = []
    seen: dict[str, int] = {}
    for c in classes:
        seen[c] = seen.get(c, 0) + 1
        out.append(f"{c} #{seen[c]}" if classes.count(c) > 1 else c)
    return out


def _link_ends(record: RecordLike, node: _Node, check: PropertyCheck) -> list[URIRef]:
    """The classes at the other end of the node's links along the check's path."""
    mine = {node.key, *(i.token for i in node.identifiers)}
    ends: list[URIRef] = []
    for link in record.links:
        if link.rel != check.path:
            continue
        near, far = (link.dst, link.src) if check.inverse else (link.src, link.dst)
        if near.key in mine:
            ends.append(far.cls)
    if check.inverse and check.path == CG.identifies:
        # a record lists a node's identifiers on the node; the writer makes them IDENTIFIES links
        ends.extend(CG.Identifier for _ in node.identifiers)
    return ends
