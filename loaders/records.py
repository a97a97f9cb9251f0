"""The one record model every layer speaks: what a source record says, in ontology terms.

A loader turns each source record (a FHIR resource, an HL7 v2 message, a DICOM file, an X12
claim, a CSV row) into a :class:`Record`: the individuals it asserts (:class:`Node`) and the
relationships between them (:class:`Link`), with where it came from (:class:`SourceRef`).
Or, when the record is bad, into a :class:`Rejected`; when it is of a kind caregraph does not
model, into a :class:`Skipped`. A Record is written whole or not at all.

Keys. Every node has a business key (``Node.key``) that the writer merges on. Individuals
that can be known by several identifiers (patients, practitioners, organizations, encounters,
...) also list them (``Node.identifiers``); the key is one of them, as a token
``system|value``. A :class:`Ref` points at an individual by any of its tokens: the identity
step resolves it to the key of the node that token identifies (already in the graph, earlier
in the load, or a stub made now and filled when the record itself arrives).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from rdflib import URIRef

from caregraph.ontology.vocab import local_name

Scalar = str | int | float | bool
Value = Scalar | list[str] | list[int] | list[float]
Props = dict[URIRef, Value]


_T = TypeVar("_T")


def pickled_by_fields(cls: type[_T]) -> type[_T]:
    """Pickle a frozen, slotted dataclass as its constructor and its fields' values.

    What the dataclass itself gives such a class (``__setstate__``) calls
    ``dataclasses.fields()`` for every object unpickled: 8 us each, 90% of unpickling what the
    load's worker processes send back (loaders/parallel.py), in the one process every record
    goes through. The fields' names are read here once instead.
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, tuple(getattr(self, n) for n in names)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a record came from. Never holds patient values: ids and positions only."""

    system: str  # the source system (`caregraph load --source NAME`)
    file: str  # the file as given on the command line
    position: str  # "line 12", "entry 3", "message 2 (segment 7)", "row 41", "claim 2"
    record_id: str | None = None  # resource type/id, message control id, claim id ...

    @property
    def key(self) -> str:
        """Stable across reloads of the same input: system, file name, record id or position."""
        name = self.file.replace("\\", "/").rsplit("/", 1)[-1]
        return f"{self.system}|{name}|{self.record_id or self.position}"

    def where(self) -> str:
        """For messages: file, position and record id."""
        rid = f" ({self.record_id})" if self.record_id else ""
        return f"{self.file}, {self.position}{rid}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Identifier:
    """An identifier of an individual: a system (URI, OID or source name) and a value."""

    system: str
    value: str
    type: str | None = None  # v2-0203 code: MR, NPI, MB, VN, ACSN, PI ...

    @property
    def token(self) -> str:
        return token(self.system, self.value)


def token(system: str, value: str) -> str:
    """The FHIR token form ``system|value`` used as key."""
    return f"{system}|{value}"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Ref:
    """A pointer to an individual of class ``cls`` by one of its tokens (or its key)."""

    cls: URIRef
    key: str


@dataclass(slots=True)
class Node:
    """An individual as one source record asserts it."""

    cls: URIRef
    key: str
    props: Props = field(default_factory=dict)
    identifiers: tuple[Identifier, ...] = ()

    @property
    def ref(self) -> Ref:
        return Ref(self.cls, self.key)


@dataclass(slots=True)
class Link:
    """A relationship asserted by a record, or inferred by a rule (then with rule and evidence)."""

    rel: URIRef
    src: Ref
    dst: Ref
    props: Props = field(default_factory=dict)
    rule: str | None = None
    evidence: dict[str, Any] | None = None


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class RecordWarning:
    """Something understood but incomplete or unusual in a record: a code and what, no values.

    Codes are short and stable (reports count by them): ``incomplete`` (something the standard
    allows to be absent is absent), ``unusual-value`` (a value outside its code table or
    pattern), ``reduced-precision``, ``unresolved-reference``, ``unmatched``, ``ambiguous``,
    ``envelope`` (X12 control counts), ``not-applied`` ...
    """

    code: str
    message: str


@dataclass(slots=True)
class Record:
    """One source record, mapped: written whole or not at all."""

    ref: SourceRef
    format: str  # "fhir", "synthea-csv", "hl7v2", "dicom", "x12"
    kind: str  # "Patient", "ADT^A01", "837P claim" ... for reports
    nodes: list[Node] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    warnings: list[RecordWarning] = field(default_factory=list)

    def warn(self, code: str, message: str) -> None:
        """Note something incomplete or unusual (once per code and message)."""
        item = RecordWarning(code, message)
        if item not in self.warnings:
            self.warnings.append(item)

    def content_hash(self) -> str:
        """A digest of what the record asserts, to tell an unchanged reload from an update."""
        body = {
            "n": [
                [local_name(n.cls), n.key, _plain(n.props), [i.token for i in n.identifiers]]
                for n in self.nodes
            ],
            "l": [
                [local_name(x.rel), x.src.key, x.dst.key, _plain(x.props), x.rule]
                for x in self.links
            ],
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[
            :32
        ]


class RecordBuilder:
    """The nodes, links and warnings of one record, each once, for a loader that assembles a
    record from parts (a FHIR resource's mappers, an HL7 v2 message's segments): a node
    asserted twice merges (properties updated, identifiers added), a link with the same ends,
    type and properties is kept once, a warning said twice is said once."""

    __slots__ = ("links", "nodes", "warnings")

    def __init__(self) -> None:
        self.nodes: dict[tuple[URIRef, str], Node] = {}
        self.links: dict[tuple[URIRef, str, str, str], Link] = {}
        self.warnings: list[RecordWarning] = []

    def add(self, node: Node) -> Ref:
        seen = self.nodes.get((node.cls, node.key))
        if seen is None:
            self.nodes[(node.cls, node.key)] = node
        else:
            seen.props.update(node.props)
            known = {i.token for i in seen.identifiers}
            seen.identifiers += tuple(i for i in node.identifiers if i.token not in known)
        return node.ref

    def link(
        self, rel: URIRef, src: Ref | None, dst: Ref | None, props: Props | None = None
    ) -> None:
        """A link, when both ends are known (a reference that only displays a name is not)."""
        if src is None or dst is None:
            return
        props = props or {}
        signature = repr(sorted((str(k), v) for k, v in props.items()))
        self.links.setdefault((rel, src.key, dst.key, signature), Link(rel, src, dst, props))

    def warn(self, code: str, message: str) -> None:
        """Something understood but incomplete or unusual; the message names fields, not values."""
        item = RecordWarning(code, message)
        if item not in self.warnings:
            self.warnings.append(item)

    def record(
        self, ref: SourceRef, fmt: str, kind: str, earlier: Sequence[RecordWarning] = ()
    ) -> Record:
        """The Record; ``earlier`` are warnings found before the builder's (parsing, references),
        listed first."""
        warnings = list(dict.fromkeys([*earlier, *self.warnings]))
        return Record(
            ref, fmt, kind, list(self.nodes.values()), list(self.links.values()), warnings
        )


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that cannot be understood: where and why, never what it held.

    ``code`` groups reasons in reports: ``syntax`` (the bytes do not parse as the format),
    ``identity`` (no usable key), ``invalid`` (the standard's own rules broken: a required
    element missing, a value of the wrong type), ``conflict`` (the same key already holds
    different identity-bearing content), ``unsupported`` (a version caregraph does not read),
    ``shape`` (a sh:Violation of the ontology's shapes), ``strict`` (a warning under
    ``--strict``), ``limit`` (over a bound of loaders/limits.py), ``refused`` (Neo4j refused
    it), ``reader`` (a loader failed).
    """

    ref: SourceRef
    format: str
    reason: str
    code: str = "invalid"


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Skipped:
    """A record of a kind caregraph does not model, or an entry with no record (counted).

    ``reason`` is said when it is more than "not modelled": a transaction's DELETE or GET
    entry, a duplicate copy of content already read.
    """

    ref: SourceRef
    format: str
    kind: str
    reason: str | None = None


Item = Record | Rejected | Skipped


def _plain(props: Props) -> dict[str, Value]:
    # sorted by name, a str (all of one namespace: the same order as the IRIs, without rdflib's
    # Python-level URIRef.__lt__)
    return dict(sorted((local_name(k), v) for k, v in props.items()))
