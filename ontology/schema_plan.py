"""What the graph's schema should be for an ontology, and how that differs from what Neo4j has.

Pure Python: ``plan(onto)`` lists the constraints, indexes, class nodes and superclass labels
the ontology asks for; ``diff_schema`` compares them with what ``SHOW CONSTRAINTS`` and
``SHOW INDEXES`` returned. ``graph/schema.py`` runs the Cypher. caregraph names what it owns
``cg_<Label>_<prop>_unique`` (constraints) and ``cg_<Label>_<prop>`` (indexes), so it can tell
its own from others' and never drops what it did not make; the ``cg_`` names that caregraph's
other parts make for themselves (``diff_schema``'s ``kept``) are not the ontology's to drop
either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rdflib import URIRef

from caregraph.ontology.model import NAME, Ontology
from caregraph.ontology.vocab import CG

OWNED_PREFIX = "cg_"

# The API's lookups: root fields (patient(identifier) goes through Identifier.value and
# Patient.matchKey, practitioner(npi), imagingStudy(studyInstanceUid), claim(controlNumber)),
# the time-ordered lists of a patient's context, and the searches.
LOOKUP_INDEXES: tuple[tuple[URIRef, URIRef], ...] = (
    (CG.Patient, CG.matchKey),
    (CG.Practitioner, CG.npi),
    (CG.Organization, CG.npi),
    (CG.ImagingStudy, CG.studyInstanceUid),
    (CG.ImagingStudy, CG.accessionNumber),
    (CG.Claim, CG.controlNumber),
    (CG.Remittance, CG.controlNumber),  # the remittance-control-number rule finds them by it
    (CG.Encounter, CG.start),
    (CG.Encounter, CG.visitNumber),
    (CG.Appointment, CG.start),
    (CG.Identifier, CG.value),
    # the searches (graph/search.py): a folded name, a birth date, a postal code anchor them
    (CG.Patient, CG.familyKey),
    (CG.Patient, CG.birthDate),
    (CG.Patient, CG.postalCode),
    (CG.Practitioner, CG.familyKey),
    (CG.Organization, CG.nameKey),
    (CG.Location, CG.nameKey),
)

# Labels of the ontology-in-the-graph itself: not ontology classes, so spelled here.
CLASS_LABEL = "Class"
SCHEMA_LABEL = "OntologySchema"
SCHEMA_NAME = "caregraph"


@dataclass(frozen=True, slots=True, order=True)
class ConstraintSpec:
    """A uniqueness constraint on one property of one label."""

    name: str
    label: str
    prop: str


@dataclass(frozen=True, slots=True, order=True)
class IndexSpec:
    """A range index on one property of one label."""

    name: str
    label: str
    prop: str


@dataclass(frozen=True, slots=True)
class ClassNode:
    """A (:Class) node of the hierarchy in the graph."""

    iri: str
    name: str
    label: str
    comment: str
    domain: str | None
    parents: tuple[str, ...]  # IRIs of the direct superclasses


@dataclass(frozen=True, slots=True)
class SchemaPlan:
    """Everything the ontology asks of the graph's schema."""

    version: str
    content_hash: str
    constraints: tuple[ConstraintSpec, ...]
    indexes: tuple[IndexSpec, ...]
    classes: tuple[ClassNode, ...]
    superclass_labels: Mapping[str, tuple[str, ...]]  # class label -> its superclasses' labels
    api_fields: frozenset[str]  # "class Patient", "property birthDate", "relationship HAS_..."


@dataclass(frozen=True, slots=True)
class ExistingConstraint:
    """A row of SHOW CONSTRAINTS."""

    name: str
    type: str  # UNIQUENESS, NODE_KEY, ...
    labels: tuple[str, ...]
    properties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExistingIndex:
    """A row of SHOW INDEXES."""

    name: str
    type: str  # RANGE, LOOKUP, TEXT, ...
    labels: tuple[str, ...]
    properties: tuple[str, ...]
    owning_constraint: str | None


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """Constraints and indexes to create and to drop (only caregraph's own are dropped)."""

    add_constraints: tuple[ConstraintSpec, ...] = ()
    drop_constraints: tuple[str, ...] = ()
    add_indexes: tuple[IndexSpec, ...] = ()
    drop_indexes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when Neo4j already has the schema the ontology asks for."""
        return not (
            self.add_constraints or self.drop_constraints or self.add_indexes or self.drop_indexes
        )


def constraint_name(label: str, prop: str) -> str:
    """cg_<Label>_<prop>_unique."""
    return f"{OWNED_PREFIX}{label}_{prop}_unique"


def index_name(label: str, prop: str) -> str:
    """cg_<Label>_<prop>."""
    return f"{OWNED_PREFIX}{label}_{prop}"


def plan(onto: Ontology) -> SchemaPlan:
    """The schema the ontology asks for."""
    constraints: set[ConstraintSpec] = set()
    for c in onto.classes.values():
        for key in c.keys:
            prop = onto.property(key).name
            constraints.add(ConstraintSpec(constraint_name(c.name, prop), c.name, prop))
    # the ontology-in-the-graph is merged on these
    constraints.add(ConstraintSpec(constraint_name(CLASS_LABEL, "iri"), CLASS_LABEL, "iri"))
    constraints.add(ConstraintSpec(constraint_name(SCHEMA_LABEL, "name"), SCHEMA_LABEL, "name"))
    unique = {(x.label, x.prop) for x in constraints}
    indexes = {
        IndexSpec(index_name(onto.classes[c].name, local), onto.classes[c].name, local)
        for c, p in LOOKUP_INDEXES
        if c in onto.classes and p in onto.datatype_properties
        for local in [onto.datatype_properties[p].name]
        if (onto.classes[c].name, local) not in unique  # a unique constraint already indexes it
    }
    for label, prop in [(c.label, c.prop) for c in constraints] + [
        (i.label, i.prop) for i in indexes
    ]:
        _check_name(label)
        _check_name(prop)
    classes = tuple(
        ClassNode(
            iri=str(c.iri),
            name=c.name,
            label=c.label,
            comment=c.comment,
            domain=c.domain,
            parents=tuple(str(p) for p in c.parents),
        )
        for c in sorted(onto.classes.values(), key=lambda c: c.name)
    )
    supers = {
        onto.classes[c].name: onto.labels_for(c)[1:]
        for c in onto.classes
        if len(onto.labels_for(c)) > 1
    }
    return SchemaPlan(
        version=onto.version,
        content_hash=onto.content_hash,
        constraints=tuple(sorted(constraints)),
        indexes=tuple(sorted(indexes)),
        classes=classes,
        superclass_labels=supers,
        api_fields=api_fields(onto),
    )


def api_fields(onto: Ontology) -> frozenset[str]:
    """What the API exposes from the ontology: its classes, properties and relationship types."""
    return frozenset(
        [f"class {c.name}" for c in onto.classes.values()]
        + [f"property {p.name}" for p in onto.datatype_properties.values()]
        + [f"relationship {p.graph_name}" for p in onto.object_properties.values()]
    )


def diff_schema(
    want: SchemaPlan,
    constraints: Iterable[ExistingConstraint],
    indexes: Iterable[ExistingIndex],
    kept: frozenset[str] = frozenset(),
) -> SchemaDiff:
    """What to create and drop so that Neo4j has exactly caregraph's planned schema. ``kept``:
    names of constraints and indexes that other parts of caregraph own (the API keys' and the
    audit's, for example), left as they are."""
    have_c = list(constraints)
    have_i = list(indexes)
    wanted_c = {c.name for c in want.constraints}
    wanted_i = {i.name for i in want.indexes}

    add_c = tuple(s for s in want.constraints if not _satisfied_c(s, have_c))
    add_i = tuple(s for s in want.indexes if not _satisfied_i(s, have_i))
    # one of ours whose name is wanted but whose schema changed is dropped and made again
    stale_c = {s.name for s in add_c if any(c.name == s.name for c in have_c)}
    stale_i = {s.name for s in add_i if any(i.name == s.name for i in have_i)}
    drop_c = tuple(
        sorted(
            c.name
            for c in have_c
            if c.name.startswith(OWNED_PREFIX)
            and c.name not in kept
            and (c.name not in wanted_c or c.name in stale_c)
        )
    )
    drop_i = tuple(
        sorted(
            i.name
            for i in have_i
            if i.name.startswith(OWNED_PREFIX)
            and i.name not in kept
            and i.owning_constraint is None
            and (i.name not in wanted_i or i.name in stale_i)
        )
    )
    return SchemaDiff(add_c, drop_c, add_i, drop_i)


def _satisfied_c(spec: ConstraintSpec, have: Sequence[ExistingConstraint]) -> bool:
    # satisfied by ours, or by an equivalent one someone else named otherwise
    return any(
        c.type == "UNIQUENESS" and c.labels == (spec.label,) and c.properties == (spec.prop,)
        for c in have
    )


def _satisfied_i(spec: IndexSpec, have: Sequence[ExistingIndex]) -> bool:
    return any(
        i.type == "RANGE" and i.labels == (spec.label,) and i.properties == (spec.prop,)
        for i in have
    )


def _check_name(name: str) -> None:
    if not NAME.match(name):
        raise ValueError(f"not a valid Neo4j label or property name: {name!r}")


# -- the impact report -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabelChange:
    """Labels to add to (or remove from) the nodes of one class, and how many nodes."""

    cls: str
    labels: tuple[str, ...]
    nodes: int


@dataclass(frozen=True, slots=True)
class ShapeCount:
    """Existing nodes that violate one property shape."""

    shape: str
    cls: str
    path: str
    severity: str
    nodes: int


@dataclass(slots=True)
class ApplyReport:
    """What applying an ontology changes (or would change), and whether it did."""

    version_before: str | None
    version_after: str
    hash_before: str | None
    hash_after: str
    schema: SchemaDiff = field(default_factory=SchemaDiff)
    # the SHACL shapes are part of what is applied: a shapes-only change is a change, and its
    # impact (existing nodes that would violate a shape) is in the report
    shapes_hash_before: str | None = None
    shapes_hash_after: str | None = None
    labels_to_add: list[LabelChange] = field(default_factory=list)
    labels_to_remove: list[LabelChange] = field(default_factory=list)
    classes_added: list[str] = field(default_factory=list)
    classes_removed: list[str] = field(default_factory=list)
    shape_violations: list[ShapeCount] = field(default_factory=list)
    api_fields_added: list[str] = field(default_factory=list)
    api_fields_removed: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # forced through, but impossible to make
    dry_run: bool = False
    forced: bool = False
    applied: bool = False

    @property
    def nothing_to_do(self) -> bool:
        """True when the graph already matches the ontology."""
        return (
            self.schema.empty
            and not self.labels_to_add
            and not self.labels_to_remove
            and not self.classes_added
            and not self.classes_removed
            and self.hash_before == self.hash_after
            and self.shapes_hash_before == self.shapes_hash_after
        )

    def lines(self) -> list[str]:
        """The report as text, impact first."""
        out = [f"ontology {self.version_before or '(none applied)'} -> {self.version_after}"]
        if self.nothing_to_do:
            return [*out, "nothing to do: the graph already matches this ontology"]
        if self.shapes_hash_before != self.shapes_hash_after and self.hash_before is not None:
            out.append("  ~ shapes changed (SHACL): what loads accept, warn about or reject")
        s = self.schema
        out += [f"  + constraint {c.name} ({c.label}.{c.prop} unique)" for c in s.add_constraints]
        out += [f"  - constraint {n}" for n in s.drop_constraints]
        out += [f"  + index {i.name} ({i.label}.{i.prop})" for i in s.add_indexes]
        out += [f"  - index {n}" for n in s.drop_indexes]
        out += [f"  + class {c}" for c in self.classes_added]
        out += [f"  - class {c}" for c in self.classes_removed]
        out += [
            f"  + labels {':'.join(x.labels)} on {x.nodes} {x.cls} node(s)"
            for x in self.labels_to_add
        ]
        out += [
            f"  - labels {':'.join(x.labels)} from {x.nodes} {x.cls} node(s)"
            for x in self.labels_to_remove
        ]
        out += [
            f"  ! {v.nodes} {v.cls} node(s) violate {v.shape} on {v.path} ({v.severity})"
            for v in self.shape_violations
        ]
        out += [f"  API + {f}" for f in self.api_fields_added]
        out += [f"  API - {f}" for f in self.api_fields_removed]
        verdict = "overridden by --force" if self.forced else "refused"
        out += [f"  {verdict}: {r}" for r in self.refusals]
        out += [f"  skipped: {r}" for r in self.skipped]
        if self.dry_run:
            out.append("dry run: nothing was changed")
        elif self.applied:
            out.append("applied" + (" (forced)" if self.forced else ""))
        return out
