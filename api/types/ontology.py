"""The ontology, so that an agent can learn what the graph means: classes, properties and
their alignments to FHIR, DICOM, X12 and HL7 v2."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

import strawberry
from strawberry.types import Info

from caregraph.api import paths
from caregraph.api.connections import Connection, connection, cursor, edge, page_size
from caregraph.api.context import Context
from caregraph.api.errors import BadArgumentError
from caregraph.ontology.model import Alignment as OntAlignment
from caregraph.ontology.model import OntClass, OntProperty, local, xsd_name
from caregraph.ontology.model import Ontology as OntologyModel

T = TypeVar("T")


@strawberry.type(description="Where a term comes from in a standard.")
class Alignment:
    kind: str = strawberry.field(description="exactMatch | closeMatch | dicomTag | x12 | hl7v2")
    target: str = strawberry.field(description="An IRI (FHIR) or a locator (DICOM, X12, v2).")

    @classmethod
    def from_model(cls, a: OntAlignment) -> Alignment:
        return cls(kind=a.kind, target=a.target)


@strawberry.type(description="An alignment of one term of the ontology.")
class TermAlignment:
    term: str
    kind: str
    target: str


@strawberry.type(description="A class of the ontology: a Neo4j label.")
class OntologyClass:
    iri: str
    name: str = strawberry.field(description="The class name, as the Neo4j label.")
    label: str
    comment: str
    domain: str | None = strawberry.field(description="directory, clinical, financial ...")
    parents: list[str] = strawberry.field(description="Direct superclasses.")
    superclasses: list[str] = strawberry.field(description="All superclasses, nearest first.")
    keys: list[str] = strawberry.field(description="The properties that identify an individual.")
    key_note: str | None
    alignments: list[Alignment]
    _model: strawberry.Private[OntologyModel]
    _iri: strawberry.Private[object]

    @classmethod
    def from_model(cls, onto: OntologyModel, c: OntClass) -> OntologyClass:
        return cls(
            iri=str(c.iri),
            name=c.name,
            label=c.label,
            comment=c.comment,
            domain=c.domain,
            parents=sorted(onto.classes[p].name for p in c.parents),
            superclasses=[onto.classes[s].name for s in onto.superclasses(c.iri)[1:]],
            keys=[local(k) for k in c.keys],
            key_note=c.key_note,
            alignments=[Alignment.from_model(a) for a in c.alignments],
            _model=onto,
            _iri=c.iri,
        )

    @strawberry.field(description="Subclasses: direct ones, or all of them when transitive.")
    def subclasses(self, transitive: bool = False) -> list[str]:
        onto, iri = self._model, self._iri
        if transitive:
            return sorted(onto.classes[s].name for s in onto.subclasses(iri) if s != iri)  # type: ignore[arg-type]
        return sorted(c.name for c in onto.classes.values() if iri in c.parents)

    @strawberry.field(
        description="Properties an individual of the class may have (its own and inherited)."
    )
    def properties(self) -> list[str]:
        onto = self._model
        ups = set(onto.superclasses(self._iri))  # type: ignore[arg-type]
        return sorted(
            p.name
            for p in (*onto.datatype_properties.values(), *onto.object_properties.values())
            if not p.domain or ups & set(p.domain)
        )


@strawberry.type(description="A property: a relationship type (object) or a node property.")
class OntologyProperty:
    iri: str
    name: str
    label: str
    comment: str
    kind: str = strawberry.field(description="object (a relationship) or datatype.")
    relationship_type: str | None = strawberry.field(description="Neo4j type, e.g. HAS_CLAIM.")
    domain: list[str] = strawberry.field(description="Classes it starts from (empty: any).")
    range: list[str] = strawberry.field(description="Classes it reaches, or an XSD datatype.")
    multi_valued: bool
    terminologies: list[str] = strawberry.field(description="Code systems it binds, by IRI.")
    alignments: list[Alignment]

    @classmethod
    def from_model(cls, onto: OntologyModel, p: OntProperty) -> OntologyProperty:
        def named(iri: object) -> str:
            c = onto.classes.get(iri)  # type: ignore[call-overload]
            return c.name if c is not None else xsd_name(iri)  # type: ignore[arg-type]

        return cls(
            iri=str(p.iri),
            name=p.name,
            label=p.label,
            comment=p.comment,
            kind=p.kind,
            relationship_type=p.graph_name,
            domain=sorted(named(d) for d in p.domain),
            range=sorted(named(r) for r in p.range),
            multi_valued=p.multi_valued,
            terminologies=[str(t) for t in p.terminologies],
            alignments=[Alignment.from_model(a) for a in p.alignments],
        )


def _page(
    items: Sequence[T], name: Callable[[T], str], info: Info[Context, None], first: int | None,
    after: str | None,
) -> Connection[T]:  # fmt: skip
    """A connection over an in-memory list in a stable order (the ontology is small)."""
    size = page_size(info, first)
    start = 0
    codec = info.context.cursors
    position = codec.decode(after)
    if position is not None:
        start = position[0] + 1
    chosen = items[start : start + size]
    edges = [
        edge(item, cursor(codec.encode, i, name(item))) for i, item in enumerate(chosen, start)
    ]
    return connection(edges, more=start + size < len(items), after=start > 0, total=len(items))


@strawberry.type(
    description="The ontology the graph is typed by: what every label, relationship type and "
    "property means, and where it comes from in FHIR, DICOM, X12 and HL7 v2."
)
class Ontology:
    version: str
    iri: str | None
    _model: strawberry.Private[OntologyModel]

    @classmethod
    def current(cls) -> Ontology:
        onto = paths.ontology()
        return cls(version=onto.version, iri=str(onto.iri) if onto.iri else None, _model=onto)

    @strawberry.field(
        description="The version of the ontology applied to the graph (null if none was); "
        "`inSync` says whether it is the very ontology the API reads with."
    )
    async def applied_version(self, info: Info[Context, None]) -> str | None:
        applied = await asyncio.to_thread(info.context.reader.applied_ontology)
        return applied[0] if applied else None

    @strawberry.field(description="True when the graph holds the same ontology as the API.")
    async def in_sync(self, info: Info[Context, None]) -> bool:
        applied = await asyncio.to_thread(info.context.reader.applied_ontology)
        return applied is not None and applied[1] == self._model.content_hash

    @strawberry.field(description="Classes by name; `domain` filters (clinical, financial ...).")
    def classes(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        domain: str | None = None,
    ) -> Connection[OntologyClass]:
        onto = self._model
        found = sorted(
            (c for c in onto.classes.values() if domain is None or c.domain == domain),
            key=lambda c: c.name,
        )
        items = [OntologyClass.from_model(onto, c) for c in found]
        return _page(items, lambda c: c.name, info, first, after)

    @strawberry.field(name="class", description="One class, by name or label.")
    def class_(self, name: str) -> OntologyClass | None:
        onto = self._model
        wanted = name.strip().lower()
        for c in onto.classes.values():
            if wanted in (c.name.lower(), c.label.lower()):
                return OntologyClass.from_model(onto, c)
        return None

    @strawberry.field(description="Properties by name; `kind` filters: object or datatype.")
    def properties(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        kind: str | None = None,
    ) -> Connection[OntologyProperty]:
        onto = self._model
        if kind not in (None, "object", "datatype"):
            raise BadArgumentError("kind", "object or datatype")
        found = sorted(
            (
                p
                for p in (*onto.object_properties.values(), *onto.datatype_properties.values())
                if kind is None or p.kind == kind
            ),
            key=lambda p: p.name,
        )
        items = [OntologyProperty.from_model(onto, p) for p in found]
        return _page(items, lambda p: p.name, info, first, after)

    @strawberry.field(
        description="Every alignment of every term; `kind` filters (exactMatch, dicomTag ...)."
    )
    def alignments(
        self,
        info: Info[Context, None],
        first: int | None = None,
        after: str | None = None,
        kind: str | None = None,
    ) -> Connection[TermAlignment]:
        onto = self._model
        terms: list[OntClass | OntProperty] = [
            *onto.classes.values(),
            *onto.object_properties.values(),
            *onto.datatype_properties.values(),
        ]
        items = sorted(
            (
                TermAlignment(term=t.name, kind=a.kind, target=a.target)
                for t in terms
                for a in t.alignments
                if kind is None or a.kind == kind
            ),
            key=lambda a: (a.term, a.kind, a.target),
        )
        return _page(items, lambda a: f"{a.term} {a.kind}", info, first, after)
