"""What changed between two versions of the ontology: classes, properties, keys, alignments, shapes.

A renamed term cannot be told from a removal and an addition by its triples alone; when a
removed and an added term look alike (same label, or same domain and range), the report
says "possibly renamed" so a reviewer checks the data that uses the old name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rdflib import URIRef

from caregraph.ontology.model import (
    SHAPES_FILE,
    OntClass,
    Ontology,
    OntProperty,
    load_ontology,
    local,
    parse_files,
)
from caregraph.ontology.record_validation import PropertyCheck, compile_shapes

T = TypeVar("T", OntClass, OntProperty)


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """One difference: what kind of thing, added/removed/changed, which term, and how."""

    kind: str  # class | object property | datatype property | key | alignment | shape
    op: str  # added | removed | changed
    term: str
    detail: str = ""

    def __str__(self) -> str:
        sign = {"added": "+", "removed": "-", "changed": "~"}[self.op]
        detail = f": {self.detail}" if self.detail else ""
        return f"{sign} {self.kind} {self.term}{detail}"


@dataclass(frozen=True, slots=True)
class OntologyDiff:
    """The changes from one ontology version to another."""

    version_before: str
    version_after: str
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        """True when nothing changed."""
        return not self.changes

    def of(self, kind: str, op: str | None = None) -> list[Change]:
        """The changes of one kind (and operation)."""
        return [c for c in self.changes if c.kind == kind and (op is None or c.op == op)]

    def lines(self) -> list[str]:
        """A readable report, grouped by kind."""
        head = f"ontology {self.version_before} -> {self.version_after}"
        if self.empty:
            return [head, "no changes"]
        return [head, *(f"  {c}" for c in self.changes)]


def diff(
    old: Ontology,
    new: Ontology,
    old_shapes: Sequence[PropertyCheck] = (),
    new_shapes: Sequence[PropertyCheck] = (),
) -> OntologyDiff:
    """Compare two ontologies (and, when given, their compiled shapes)."""
    changes: list[Change] = []
    changes += _terms("class", old.classes, new.classes, _class_fields)
    changes += _terms(
        "object property", old.object_properties, new.object_properties, _property_fields
    )
    changes += _terms(
        "datatype property", old.datatype_properties, new.datatype_properties, _property_fields
    )
    changes += _keys(old, new)
    changes += _alignments(old, new)
    changes += _shapes(old_shapes, new_shapes)
    order = ["class", "object property", "datatype property", "key", "alignment", "shape"]
    changes.sort(key=lambda c: (order.index(c.kind), c.term, c.op, c.detail))
    if old.version != new.version:
        changes.insert(
            0, Change("version", "changed", "owl:versionInfo", f"{old.version} -> {new.version}")
        )
    return OntologyDiff(old.version, new.version, tuple(changes))


def diff_paths(old: Path, new: Path) -> OntologyDiff:
    """Compare two ontologies given as Turtle files or directories of them (shapes included)."""
    (old_onto, old_checks), (new_onto, new_checks) = _read(old), _read(new)
    return diff(old_onto, new_onto, old_checks, new_checks)


def _read(path: Path) -> tuple[Ontology, tuple[PropertyCheck, ...]]:
    if path.is_dir():
        files = sorted(p for p in path.glob("*.ttl") if p.name != SHAPES_FILE)
        shapes = path / SHAPES_FILE
    else:
        files, shapes = [path], path.parent / "__none__"
    onto = load_ontology(files)
    if not shapes.is_file():
        return onto, ()
    checks, _ = compile_shapes(parse_files([shapes]), onto)
    return onto, checks


# -- terms ---------------------------------------------------------------------------------


def _names(iris: Iterable[URIRef]) -> str:
    return ", ".join(sorted(local(i) for i in iris)) or "(none)"


def _class_fields(c: OntClass) -> dict[str, str]:
    return {
        "label": c.label,
        "comment": c.comment,
        "superclasses": _names(c.parents),
        "domain": c.domain or "",
        "caption": local(c.caption) if c.caption else "",
    }


def _property_fields(p: OntProperty) -> dict[str, str]:
    return {
        "label": p.label,
        "comment": p.comment,
        "domain": _names(p.domain),
        "range": _names(p.range),
        "relationship type": p.graph_name or "",
        "multi-valued": "yes" if p.multi_valued else "no",
        "terminologies": ", ".join(sorted(str(t) for t in p.terminologies)),
    }


def _terms(
    kind: str,
    old: Mapping[URIRef, T],
    new: Mapping[URIRef, T],
    get: Callable[[T], dict[str, str]],
) -> list[Change]:
    out: list[Change] = []
    removed = [old[i] for i in old if i not in new]
    added = [new[i] for i in new if i not in old]
    for term in added:
        twin = next((r for r in removed if _alike(get(r), get(term))), None)
        hint = f"possibly renamed from {local(twin.iri)}" if twin is not None else ""
        out.append(Change(kind, "added", term.name, hint))
    for term in removed:
        twin = next((a for a in added if _alike(get(term), get(a))), None)
        hint = f"possibly renamed to {local(twin.iri)}" if twin is not None else ""
        out.append(Change(kind, "removed", term.name, hint))
    for iri in sorted(set(old) & set(new)):
        before, after = get(old[iri]), get(new[iri])
        for name in before:
            if before[name] != after[name]:
                out.append(
                    Change(
                        kind,
                        "changed",
                        old[iri].name,
                        f"{name}: {before[name]!r} -> {after[name]!r}",
                    )
                )
    return out


def _alike(a: dict[str, str], b: dict[str, str]) -> bool:
    """Two terms that may be one renamed: same label, or same domain and range (or parents)."""
    if a.get("label") and a["label"] == b.get("label"):
        return True
    if "range" in a:
        return a["domain"] == b["domain"] and a["range"] == b["range"] and a["range"] != "(none)"
    return False


def _keys(old: Ontology, new: Ontology) -> list[Change]:
    out: list[Change] = []
    for iri in sorted(set(old.classes) | set(new.classes)):
        before = set(old.classes[iri].keys) if iri in old.classes else set()
        after = set(new.classes[iri].keys) if iri in new.classes else set()
        name = local(iri)
        out += [Change("key", "added", name, local(k)) for k in sorted(after - before)]
        out += [Change("key", "removed", name, local(k)) for k in sorted(before - after)]
    return out


def _alignments(old: Ontology, new: Ontology) -> list[Change]:
    def table(o: Ontology) -> dict[str, set[str]]:
        terms: list[OntClass | OntProperty] = [
            *o.classes.values(),
            *o.object_properties.values(),
            *o.datatype_properties.values(),
        ]
        return {t.name: {f"{a.kind} {a.target}" for a in t.alignments} for t in terms}

    before, after = table(old), table(new)
    out: list[Change] = []
    for name in sorted(set(before) & set(after)):
        out += [Change("alignment", "added", name, a) for a in sorted(after[name] - before[name])]
        out += [Change("alignment", "removed", name, a) for a in sorted(before[name] - after[name])]
    return out


def _describe(c: PropertyCheck) -> str:
    parts = [
        f"minCount {c.min_count}" if c.min_count is not None else "",
        f"maxCount {c.max_count}" if c.max_count is not None else "",
        f"datatype {c.datatype}" if c.datatype else "",
        f"class {local(c.cls)}" if c.cls else "",
        f"in {list(c.values)}" if c.values is not None else "",
        f"pattern {c.pattern}" if c.pattern else "",
        c.severity if c.severity != "Violation" else "",
    ]
    return ", ".join(p for p in parts if p)


def _shapes(old: Sequence[PropertyCheck], new: Sequence[PropertyCheck]) -> list[Change]:
    def table(checks: Sequence[PropertyCheck]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for c in checks:
            out.setdefault(f"{local(c.target)}.{c.label}", set()).add(_describe(c))
        return out

    before, after = table(old), table(new)
    out: list[Change] = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name, set()), after.get(name, set())
        if not b:
            out += [Change("shape", "added", name, d) for d in sorted(a)]
        elif not a:
            out += [Change("shape", "removed", name, d) for d in sorted(b)]
        elif a != b:
            detail = f"{'; '.join(sorted(b))} -> {'; '.join(sorted(a))}"
            out.append(Change("shape", "changed", name, detail))
    return out
