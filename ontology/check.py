"""`caregraph ontology check`: every problem in the Turtle, as ``file:line: term: message``.

Unlike ``load_ontology``, which stops at the first unusable file, the check reads every file
it can and reports everything it finds: syntax errors, terms used but never declared, classes
and properties without a label or a definition, subclass cycles, domains and ranges that name
no class, and shapes that name unknown terms. rdflib keeps no source positions for triples,
so a term's line is found by searching the Turtle text for its first occurrence as a subject.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH

from caregraph.ontology.errors import OntologyError, OntologyParseError
from caregraph.ontology.model import (
    DOMAINS,
    NAME,
    XSD_TYPES,
    build,
    local,
    parse_files,
    shipped_files,
)
from caregraph.ontology.record_validation import compile_shapes, shapes_path
from caregraph.ontology.vocab import CG, NS

KINDS = {
    OWL.Class: "class",
    OWL.ObjectProperty: "object property",
    OWL.DatatypeProperty: "datatype property",
    OWL.AnnotationProperty: "annotation property",
}


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One problem, located."""

    file: str
    line: int
    term: str
    message: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file}:{self.line}: {self.term}: {tag}{self.message}"


class _Locator:
    """Finds the line where a term first appears (as a subject if it is one) in the files."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.texts = {f: f.read_text(errors="replace") for f in files if f.is_file()}

    def forms(self, text: str, term: URIRef) -> list[str]:
        forms = [f"<{term}>"]
        for prefix, ns in re.findall(r"@prefix\s+([\w-]*):\s*<([^>]*)>", text, re.IGNORECASE):
            if str(term).startswith(ns) and len(str(term)) > len(ns):
                forms.append(f"{prefix}:{str(term)[len(ns) :]}")
        return forms

    def find(self, term: URIRef, prefer: Path | None = None) -> tuple[str, int]:
        files = sorted(self.texts, key=lambda f: f != prefer)
        for as_subject in (True, False):
            for f in files:
                text = self.texts[f]
                for form in self.forms(text, term):
                    edge = r"(?![\w.:-]*[\w:-])" if not form.startswith("<") else ""
                    lead = r"^[ \t]*" if as_subject else r"(?<![\w:])"
                    m = re.search(lead + re.escape(form) + edge, text, re.MULTILINE)
                    if m:
                        return str(f), text.count("\n", 0, m.start()) + 1
        first = files[0] if files else Path("?")
        return str(first), 1


def check(files: Sequence[Path] | None = None) -> list[Problem]:
    """Check ontology files (shapes files recognised by their sh:NodeShape); shipped by default."""
    paths = [Path(f) for f in files] if files else [*shipped_files(), shapes_path()]
    problems: list[Problem] = []
    onto_files: list[Path] = []
    shape_files: list[Path] = []
    graphs: dict[Path, Graph] = {}
    for path in paths:
        try:
            g = parse_files([path])
        except OntologyParseError as e:
            problems.append(Problem(e.file, e.line or 1, "syntax", e.reason))
            continue
        graphs[path] = g
        if (None, RDF.type, SH.NodeShape) in g or (None, SH.targetClass, None) in g:
            shape_files.append(path)
        else:
            onto_files.append(path)

    where = _Locator(paths)
    g = Graph()
    for path in onto_files:
        g += graphs[path]
    problems += _check_terms(g, where)

    if shape_files:
        try:
            onto = build(g, tuple(onto_files))
        except OntologyError:
            onto = None  # its problems are reported above; shapes cannot be checked against it
        if onto is not None:
            for path in shape_files:
                _, found = compile_shapes(graphs[path], onto)
                for sp in found:
                    anchor = sp.shape if sp.shape is not None else None
                    file, line = where.find(anchor, path) if anchor else (str(path), 1)
                    problems.append(Problem(file, line, sp.term, sp.message))
    return sorted(set(problems))


def _short(term: URIRef) -> str:
    return f"cg:{term[len(NS) :]}" if str(term).startswith(NS) else f"<{term}>"


def _check_terms(g: Graph, where: _Locator) -> list[Problem]:
    out: list[Problem] = []

    def report(term: URIRef, message: str, severity: str = "error") -> None:
        file, line = where.find(term)
        out.append(Problem(file, line, _short(term), message, severity))

    declared: dict[URIRef, set[URIRef]] = {}
    for kind in KINDS:
        for s in g.subjects(RDF.type, kind):
            if isinstance(s, URIRef):
                declared.setdefault(s, set()).add(kind)
    classes = {t for t, k in declared.items() if OWL.Class in k}
    datatype_props = {t for t, k in declared.items() if OWL.DatatypeProperty in k}

    for term, kinds in sorted(declared.items()):
        if len(kinds) > 1:
            names = " and ".join(sorted(KINDS[k] for k in kinds))
            report(term, f"declared as both {names}")

    # undeclared cg: terms, wherever they are used
    used = {t for triple in g for t in triple if isinstance(t, URIRef) and t.startswith(NS)}
    for term in sorted(used - set(declared)):
        report(term, "used but not declared (add `a owl:Class` or a property declaration)")

    props = {t for t, k in declared.items() if k & {OWL.ObjectProperty, OWL.DatatypeProperty}}
    for term in sorted(t for t in classes | props if t.startswith(NS)):
        what = KINDS[sorted(declared[term])[0]]
        if not _has_text(g, term, RDFS.label):
            report(term, f"{what} without rdfs:label")
        if not _has_text(g, term, RDFS.comment):
            report(term, f"{what} without rdfs:comment (a definition)")
        if not NAME.match(local(term)):
            report(term, f"{local(term)!r} cannot be a Neo4j name (letters, digits, _)")

    for c in sorted(classes):
        for parent in g.objects(c, RDFS.subClassOf):
            if isinstance(parent, URIRef) and parent not in classes:
                report(c, f"subclass of {_short(parent)}, which is not a declared class")
        domain = g.value(c, CG.domain)
        if c.startswith(NS) and domain is None:
            report(c, "class without cg:domain (Browser colours it grey)", "warning")
        elif domain is not None and str(domain) not in DOMAINS:
            report(c, f"cg:domain {str(domain)!r} is not one of {', '.join(DOMAINS)}")
        caption = g.value(c, CG.caption)
        if isinstance(caption, URIRef) and caption not in datatype_props:
            report(c, f"cg:caption {_short(caption)} is not a datatype property")
        for keys in g.objects(c, OWL.hasKey):
            for k in Collection(g, keys):
                if k not in datatype_props:
                    report(c, f"owl:hasKey names {k}, which is not a datatype property")

    for c in sorted(_cycles(g, classes)):
        report(c, "subclass cycle: the class is its own superclass")

    for p in sorted(t for t, k in declared.items() if OWL.ObjectProperty in k):
        for which in (RDFS.domain, RDFS.range):
            for ref in _members(g, p, which):
                if ref not in classes:
                    report(p, f"rdfs:{local(which)} names {_short(ref)}, which is not a class")
        name = g.value(p, CG.graphName)
        if name is None:
            report(p, "object property without cg:graphName (its relationship type)")
        elif not NAME.match(str(name)):
            report(p, f"cg:graphName {str(name)!r} is not a valid relationship type")
    for p in sorted(datatype_props):
        for ref in _members(g, p, RDFS.domain):
            if ref not in classes:
                report(p, f"rdfs:domain names {_short(ref)}, which is not a class")
        ranges = list(g.objects(p, RDFS.range))
        if not ranges:
            report(p, "datatype property without rdfs:range (an XSD type)")
        for r in ranges:
            if not (isinstance(r, URIRef) and r.startswith(str(XSD)) and local(r) in XSD_TYPES):
                report(p, f"rdfs:range {r} is not one of xsd:{', xsd:'.join(XSD_TYPES)}")
    return out


def _has_text(g: Graph, term: URIRef, p: URIRef) -> bool:
    return any(isinstance(v, Literal) and str(v).strip() for v in g.objects(term, p))


def _members(g: Graph, term: URIRef, p: URIRef) -> list[URIRef]:
    out: list[URIRef] = []
    for o in g.objects(term, p):
        if isinstance(o, URIRef):
            out.append(o)
        else:
            union = g.value(o, OWL.unionOf)
            if union is not None:
                out.extend(m for m in Collection(g, union) if isinstance(m, URIRef))
    return out


def _cycles(g: Graph, classes: set[URIRef]) -> set[URIRef]:
    """Classes that are (transitively) their own superclass."""
    out: set[URIRef] = set()
    for c in classes:
        seen: set[URIRef] = set()
        todo = [p for p in g.objects(c, RDFS.subClassOf) if isinstance(p, URIRef)]
        while todo:
            x = todo.pop()
            if x == c:
                out.add(c)
                break
            if x in seen:
                continue
            seen.add(x)
            todo.extend(p for p in g.objects(x, RDFS.subClassOf) if isinstance(p, URIRef))
    return out
