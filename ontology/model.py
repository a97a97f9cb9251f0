"""The ontology as a typed, frozen model: classes, hierarchy closure, properties, keys, alignments.

``load_ontology()`` reads the shipped Turtle (``ontology/*.ttl`` except ``shapes.ttl``) with
rdflib, once per change of the files. The writer takes labels and relationship types from it
and puts them into Cypher text, so every name is checked here against a plain-identifier
pattern and a bad one stops the load with the term named.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType

from rdflib import OWL, RDF, RDFS, SKOS, XSD, BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.compare import to_canonical_graph
from rdflib.term import Node as RdfNode

from caregraph.ontology.errors import InvalidOntologyError, OntologyParseError
from caregraph.ontology.vocab import CG, NS

ONTOLOGY_DIR = Path(__file__).resolve().parent
SHAPES_FILE = "shapes.ttl"
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
DOMAINS = (
    "directory", "clinical", "imaging", "scheduling", "financial", "provenance", "terminology",
)  # fmt: skip
XSD_TYPES = ("string", "date", "dateTime", "decimal", "integer", "boolean")

# Predicates whose values say where a term comes from in a standard, by the name a report uses.
ALIGNMENT_PREDICATES: Mapping[URIRef, str] = MappingProxyType(
    {
        SKOS.exactMatch: "exactMatch",
        SKOS.closeMatch: "closeMatch",
        CG.dicomTag: "dicomTag",
        CG.x12: "x12",
        CG.hl7v2: "hl7v2",
    }
)


@dataclass(frozen=True, slots=True, order=True)
class Alignment:
    """Where a term comes from in a standard: an IRI (skos) or a locator text (DICOM, X12, v2)."""

    kind: str  # exactMatch | closeMatch | dicomTag | x12 | hl7v2
    target: str


@dataclass(frozen=True, slots=True)
class OntClass:
    """A class: a Neo4j label."""

    iri: URIRef
    name: str
    label: str
    comment: str
    parents: tuple[URIRef, ...]
    domain: str | None
    caption: URIRef | None
    keys: tuple[URIRef, ...]
    alignments: tuple[Alignment, ...]
    key_note: str | None = None  # skos:scopeNote: how the key is spelt


@dataclass(frozen=True, slots=True)
class CodeSystem:
    """A code system the ontology knows (an individual of cg:CodeSystem): its canonical URI and
    the other spellings sources use for it."""

    iri: URIRef
    name: str  # the individual's local name: icd10cm, snomedct ...
    label: str
    comment: str
    uri: str  # the canonical URI (skos:exactMatch), the system of its Concepts' keys
    aliases: tuple[str, ...]  # cg:alias: an OID as urn:oid, HL7 v2 / X12 mnemonics, names


@dataclass(frozen=True, slots=True)
class OntProperty:
    """An object property (a relationship type) or a datatype property (a node property)."""

    iri: URIRef
    name: str
    label: str
    comment: str
    domain: tuple[URIRef, ...]  # classes (a union flattened); empty: any
    range: tuple[URIRef, ...]  # classes for object properties, one XSD IRI for datatype ones
    graph_name: str | None  # relationship type of an object property
    multi_valued: bool
    alignments: tuple[Alignment, ...]
    terminologies: tuple[URIRef, ...] = ()
    kind: str = "datatype"  # "object" | "datatype"


# Not `frozen=True`: mypy reads a frozen dataclass's fields as read-only, which would not
# satisfy protocols that declare plain attributes (loaders.write_rows.OntologyView.version); the
# instance is frozen after __init__ by __setattr__ instead.
@dataclass(eq=False)
class Ontology:
    """The ontology the graph is typed by (immutable once built)."""

    version: str
    iri: URIRef | None
    classes: Mapping[URIRef, OntClass]
    object_properties: Mapping[URIRef, OntProperty]
    datatype_properties: Mapping[URIRef, OntProperty]
    graph: Graph
    files: tuple[Path, ...] = ()
    code_systems: Mapping[str, CodeSystem] = field(default_factory=dict)  # by name
    _ancestors: Mapping[URIRef, tuple[URIRef, ...]] = field(default_factory=dict, repr=False)
    _descendants: Mapping[URIRef, frozenset[URIRef]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_built", True)

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_built", False):
            raise AttributeError(f"the ontology is immutable: cannot set {name}")
        object.__setattr__(self, name, value)

    def labels_for(self, cls: URIRef) -> tuple[str, ...]:
        """The class and all its superclasses as Neo4j labels, most specific first."""
        return tuple(self.classes[c].name for c in self.superclasses(cls))

    def superclasses(self, cls: URIRef) -> tuple[URIRef, ...]:
        """The class and its superclasses (transitive), most specific first."""
        try:
            return self._ancestors[cls]
        except KeyError:
            raise KeyError(f"{cls} is not a class of the ontology") from None

    def subclasses(self, cls: URIRef) -> frozenset[URIRef]:
        """The class and all its subclasses (transitive)."""
        try:
            return self._descendants[cls]
        except KeyError:
            raise KeyError(f"{cls} is not a class of the ontology") from None

    def relationship_type(self, prop: URIRef) -> str:
        """The Neo4j relationship type of an object property: hasEncounter -> HAS_ENCOUNTER."""
        p = self.object_properties.get(prop)
        if p is None or p.graph_name is None:
            raise KeyError(f"{prop} is not an object property of the ontology")
        return p.graph_name

    def datatype(self, prop: URIRef) -> str | None:
        """The XSD local name of a datatype property's range; None if not a datatype property."""
        return self._datatypes.get(prop)

    @cached_property
    def _datatypes(self) -> Mapping[URIRef, str]:
        # asked for every value of every record that is validated, converted and written (over
        # a million times for a thousand patients): worked out once
        return {
            iri: xsd_name(p.range[0]) if p.range else "string"
            for iri, p in self.datatype_properties.items()
        }

    def property(self, term: URIRef) -> OntProperty:
        """An object or datatype property by IRI."""
        p = self.object_properties.get(term) or self.datatype_properties.get(term)
        if p is None:
            raise KeyError(f"{term} is not a property of the ontology")
        return p

    def code_system(self, spelling: str) -> CodeSystem | None:
        """The code system a source's system means, by its canonical URI, an alias or its name
        (case and surrounding space ignored); None when the ontology does not know it."""
        return self._system_index.get(spelling.strip().casefold())

    @cached_property
    def _system_index(self) -> Mapping[str, CodeSystem]:
        index: dict[str, CodeSystem] = {}
        for cs in self.code_systems.values():
            for spelling in (cs.uri, cs.name, *cs.aliases):
                index.setdefault(spelling.casefold(), cs)
        return MappingProxyType(index)

    def class_named(self, name: str) -> OntClass:
        """The class whose Neo4j label is ``name``."""
        for c in self.classes.values():
            if c.name == name:
                return c
        raise KeyError(f"no class of the ontology is labelled {name}")

    @cached_property
    def content_hash(self) -> str:
        """A digest of the ontology's triples, blank nodes canonicalised: equal iff isomorphic."""
        canon = to_canonical_graph(self.graph)
        lines = sorted(line for line in canon.serialize(format="nt").splitlines() if line)
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def xsd_name(iri: URIRef) -> str:
    """xsd:date -> "date"; any other IRI is returned whole."""
    text = str(iri)
    return text[len(str(XSD)) :] if text.startswith(str(XSD)) else text


def shipped_files() -> tuple[Path, ...]:
    """The shipped ontology files: every ontology/*.ttl but the SHACL shapes."""
    return tuple(sorted(p for p in ONTOLOGY_DIR.glob("*.ttl") if p.name != SHAPES_FILE))


_cache: dict[tuple[tuple[str, int], ...], Ontology] = {}
_cache_lock = threading.Lock()
# the shipped files are looked at again at most this often: the API asks for the ontology
# on every field it resolves, and a glob and stats each time were 5% of a traversal's CPU
RECHECK_S = 2.0
_checked_at = float("-inf")


def load_ontology(files: Sequence[Path] | None = None) -> Ontology:
    """Read the ontology (the shipped one by default, cached until a file changes; the files
    are looked at again every ``RECHECK_S`` seconds)."""
    if files is not None:
        return build(parse_files(files), tuple(Path(f) for f in files))
    global _checked_at
    with _cache_lock:
        now = time.monotonic()
        if _cache and now - _checked_at < RECHECK_S:
            return next(iter(_cache.values()))
        paths = shipped_files()
        stamp = tuple((str(p), p.stat().st_mtime_ns) for p in paths)
        hit = _cache.get(stamp)
        if hit is None:
            hit = build(parse_files(paths), paths)
            _cache.clear()
            _cache[stamp] = hit
        _checked_at = now
        return hit


def parse_files(files: Sequence[Path]) -> Graph:
    """Parse Turtle files into one graph; a syntax error names its file and line."""
    g = Graph()
    g.bind("cg", NS)
    for f in files:
        path = Path(f)
        try:
            g.parse(path, format="turtle")
        except OSError as e:
            raise OntologyParseError(path, None, f"cannot read: {e.strerror or e}") from e
        except Exception as e:  # rdflib raises BadSyntax and assorted ValueErrors
            raise OntologyParseError(path, _error_line(e), _error_reason(e)) from e
    return g


def _error_line(e: Exception) -> int | None:
    lines = getattr(e, "lines", None)  # notation3.BadSyntax counts lines from 0
    return lines + 1 if isinstance(lines, int) else None


def _error_reason(e: Exception) -> str:
    why = getattr(e, "_why", None)
    return f"Turtle syntax error: {why}" if why else f"Turtle syntax error: {e}"


def build(g: Graph, files: tuple[Path, ...] = ()) -> Ontology:
    """Turn a parsed graph into the model; InvalidOntologyError lists every unusable name."""
    problems: list[str] = []
    classes = {c: _class(g, c) for c in _declared(g, OWL.Class)}
    objects = {p: _property(g, p, "object") for p in _declared(g, OWL.ObjectProperty)}
    datatypes = {p: _property(g, p, "datatype") for p in _declared(g, OWL.DatatypeProperty)}

    for c in classes.values():
        if not NAME.match(c.name):
            problems.append(f"{c.iri}: the class name {c.name!r} is not a valid Neo4j label")
        for parent in c.parents:
            if parent not in classes:
                problems.append(f"{c.iri}: subclass of {parent}, which is not a declared class")
    for p in objects.values():
        if p.graph_name is None or not NAME.match(p.graph_name):
            problems.append(f"{p.iri}: cg:graphName {p.graph_name!r} is not a relationship type")
    for p in datatypes.values():
        if not NAME.match(p.name):
            problems.append(f"{p.iri}: {p.name!r} is not a valid Neo4j property name")
    for p in (*objects.values(), *datatypes.values()):
        refs = p.domain + (p.range if p.kind == "object" else ())
        for ref in refs:
            if ref not in classes:
                problems.append(f"{p.iri}: domain or range names {ref}, which is not a class")
    systems = _code_systems(g, problems)

    ancestors, cyclic = _closure(classes)
    problems.extend(f"{c}: subclass cycle through {c}" for c in sorted(cyclic))
    if problems:
        raise InvalidOntologyError(problems)
    descendants: dict[URIRef, set[URIRef]] = {c: set() for c in classes}
    for sub, ups in ancestors.items():
        for up in ups:
            descendants[up].add(sub)

    onto_iri = next((s for s in g.subjects(RDF.type, OWL.Ontology) if isinstance(s, URIRef)), None)
    version = g.value(onto_iri, OWL.versionInfo) if onto_iri is not None else None
    return Ontology(
        version=str(version) if version is not None else "0",
        iri=onto_iri,
        classes=MappingProxyType(classes),
        object_properties=MappingProxyType(objects),
        datatype_properties=MappingProxyType(datatypes),
        graph=g,
        files=files,
        code_systems=MappingProxyType(systems),
        _ancestors=MappingProxyType(ancestors),
        _descendants=MappingProxyType({c: frozenset(d) for c, d in descendants.items()}),
    )


def local(iri: URIRef) -> str:
    """The local name of any IRI: after the last '#' or '/'."""
    text = str(iri)
    return re.split(r"[#/]", text)[-1]


def _declared(g: Graph, kind: URIRef) -> list[URIRef]:
    # only the ontology's own namespace: blank nodes are anonymous unions, and a class of
    # another vocabulary is an alignment target, never a label
    return sorted(
        _interned(s)
        for s in g.subjects(RDF.type, kind)
        if isinstance(s, URIRef) and s.startswith(NS)
    )


def _interned(iri: URIRef) -> URIRef:
    """The vocabulary's own object for a caregraph term (the one ``CG.Patient`` gives), so that
    the maps keyed by terms find a loader's term by identity: otherwise a lookup compares
    through rdflib's Python-level ``URIRef.__eq__``, millions of times per thousand patients
    loaded. A term an informaticist added (not in ``CG``) stays as parsed."""
    name = iri[len(NS) :] if iri.startswith(NS) else ""
    return CG[name] if name in CG.__annotations__ else iri


def _text(g: Graph, s: URIRef, p: URIRef) -> str:
    values = [v for v in g.objects(s, p) if isinstance(v, Literal)]
    preferred = [v for v in values if v.language in (None, "en")]
    chosen = sorted(preferred or values)
    return str(chosen[0]) if chosen else ""


def _alignments(g: Graph, s: URIRef) -> tuple[Alignment, ...]:
    found = [
        Alignment(kind, str(o))
        for p, kind in ALIGNMENT_PREDICATES.items()
        for o in g.objects(s, p)
        if not isinstance(o, BNode)
    ]
    return tuple(sorted(found))


def _members(g: Graph, node: RdfNode) -> tuple[URIRef, ...]:
    """A class expression as named classes: the class itself, or the members of a union."""
    if isinstance(node, URIRef):
        return (node,)
    union = g.value(node, OWL.unionOf)
    if union is None:
        return ()
    return tuple(m for m in Collection(g, union) if isinstance(m, URIRef))


def _refs(g: Graph, s: URIRef, p: URIRef) -> tuple[URIRef, ...]:
    out: list[URIRef] = []
    for o in g.objects(s, p):
        out.extend(m for m in _members(g, o) if m not in out)
    return tuple(sorted(out))


def _class(g: Graph, c: URIRef) -> OntClass:
    keys: list[URIRef] = []
    for key_list in g.objects(c, OWL.hasKey):
        keys.extend(k for k in Collection(g, key_list) if isinstance(k, URIRef))
    caption = g.value(c, CG.caption)
    if isinstance(caption, Literal):  # a bare property name is accepted too
        caption = URIRef(NS + str(caption))
    domain = g.value(c, CG.domain)
    return OntClass(
        iri=c,
        name=local(c),
        label=_text(g, c, RDFS.label),
        comment=_text(g, c, RDFS.comment),
        parents=tuple(sorted(p for p in g.objects(c, RDFS.subClassOf) if isinstance(p, URIRef))),
        domain=str(domain) if domain is not None else None,
        caption=caption if isinstance(caption, URIRef) else None,
        keys=tuple(keys),
        alignments=_alignments(g, c),
        key_note=_text(g, c, SKOS.scopeNote) or None,
    )


def _property(g: Graph, p: URIRef, kind: str) -> OntProperty:
    graph_name = g.value(p, CG.graphName)
    multi = g.value(p, CG.multiValued)
    return OntProperty(
        iri=p,
        name=local(p),
        label=_text(g, p, RDFS.label),
        comment=_text(g, p, RDFS.comment),
        domain=_refs(g, p, RDFS.domain),
        range=_refs(g, p, RDFS.range),
        graph_name=str(graph_name) if graph_name is not None else None,
        multi_valued=bool(multi.toPython()) if isinstance(multi, Literal) else False,
        alignments=_alignments(g, p),
        terminologies=tuple(
            sorted(t for t in g.objects(p, CG.bindsTerminology) if isinstance(t, URIRef))
        ),
        kind=kind,
    )


def _code_systems(g: Graph, problems: list[str]) -> dict[str, CodeSystem]:
    """The individuals of cg:CodeSystem, by name; each needs exactly one canonical URI."""
    found: dict[str, CodeSystem] = {}
    for s in sorted(x for x in g.subjects(RDF.type, CG.CodeSystem) if isinstance(x, URIRef)):
        uris = sorted(str(o) for o in g.objects(s, SKOS.exactMatch) if isinstance(o, URIRef))
        if len(uris) != 1:
            problems.append(f"{s}: a code system needs one skos:exactMatch (its canonical URI)")
            continue
        name = local(s)
        found[name] = CodeSystem(
            iri=s,
            name=name,
            label=_text(g, s, RDFS.label),
            comment=_text(g, s, RDFS.comment),
            uri=uris[0],
            aliases=tuple(sorted(str(a) for a in g.objects(s, CG.alias) if isinstance(a, Literal))),
        )
    return found


def _closure(
    classes: Mapping[URIRef, OntClass],
) -> tuple[dict[URIRef, tuple[URIRef, ...]], set[URIRef]]:
    """Each class's ancestors, breadth first (most specific first), and classes in a cycle."""
    ancestors: dict[URIRef, tuple[URIRef, ...]] = {}
    cyclic: set[URIRef] = set()
    for c in classes:
        order: list[URIRef] = [c]
        frontier = [c]
        while frontier:
            nxt: list[URIRef] = []
            for x in frontier:
                for parent in classes[x].parents if x in classes else ():
                    if parent == c:
                        cyclic.add(c)
                    elif parent not in order and parent in classes:
                        order.append(_interned(parent))
                        nxt.append(parent)
            frontier = nxt
        ancestors[c] = tuple(order)
    return ancestors, cyclic
