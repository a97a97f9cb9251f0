"""One FHIR resource -> one Record: validated by the library, keyed, its references resolved.

Each modelled resource type has a mapper (in :mod:`directory`, :mod:`clinical`,
:mod:`scheduling`, :mod:`financial`) that adds the resource's node, the nodes it carries
(claim items, imaging series, contained resources) and its links to the record's
:class:`~caregraph.loaders.records.RecordBuilder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from caregraph.loaders import keys
from caregraph.loaders.concepts import Coded, coded
from caregraph.loaders.fhir.errors import FhirError, NotKeyable, NotValid
from caregraph.loaders.fhir.references import BundleIndex, References
from caregraph.loaders.fhir.validation import check, is_resource_type, other_version
from caregraph.loaders.fhir.values import Json, business_identifiers, obj, objs, string
from caregraph.loaders.records import (
    Identifier,
    Item,
    RecordBuilder,
    Ref,
    Rejected,
    Skipped,
    SourceRef,
)
from caregraph.ontology.vocab import CG

FORMAT = "fhir"


@dataclass(frozen=True, slots=True)
class Res:
    """A resource being mapped: its type, its id within the source, its JSON and its path."""

    type: str
    id: str | None  # a contained resource's id is "ContainerType/container-id#id"
    body: Json
    path: str  # "Encounter", or "ExplanationOfBenefit.contained[1]" for a contained one

    def at(self, element: str) -> str:
        """The element path of one of the resource's elements, for messages."""
        return f"{self.path}.{element}"


@dataclass(slots=True)
class Ctx:
    """What a mapper needs besides the resource: the source, references and the builder."""

    source: str
    refs: References
    payers: set[str]  # ids of the organizations the bundle names as payers
    b: RecordBuilder = field(default_factory=RecordBuilder)

    def warn(self, code: str, message: str) -> None:
        """Note something understood but incomplete or unusual (element paths, no values)."""
        self.b.warn(code, message)

    def codes(self, path: str, concept: Any) -> list[Coded]:
        """The Concepts of a CodeableConcept at ``path``: one per coding with a system and a
        code. A code without a system names no Concept: it is left unlinked, with a warning."""
        found: list[Coded] = []
        for i, coding in enumerate(objs(obj(concept).get("coding"))):
            code, system = string(coding.get("code")), string(coding.get("system"))
            if code and not system:
                self.warn(
                    "unusual-value",
                    f"{path}.coding[{i}] has a code without a system: not linked to a Concept",
                )
            made = coded(system, code)
            if made is not None and made not in found:
                found.append(made)
        return found

    def identify(
        self,
        res: Res,
        prefer: Callable[[Identifier], bool] | None = None,
        business: list[Identifier] | None = None,
    ) -> tuple[str, tuple[Identifier, ...]]:
        """The key and identifiers: business identifiers first (the preferred one leading),
        then the source-local one; the key is the first of them."""
        found = business_identifiers(res.body) if business is None else business
        if prefer is not None:
            found = sorted(found, key=lambda i: not prefer(i))  # stable: source order kept
        if res.id:
            found.append(keys.source_local(self.source, res.type, res.id))
        if not found:
            raise NotKeyable(res.type)
        return found[0].token, tuple(found)

    def local(self, res: Res) -> Identifier | None:
        return keys.source_local(self.source, res.type, res.id) if res.id else None


Mapper = Callable[[Res, Ctx], Ref]


def mappers() -> dict[str, Mapper]:
    """Resource type -> mapper, for every resource type caregraph models."""
    from caregraph.loaders.fhir import clinical, directory, financial, scheduling

    return {**directory.MAPPERS, **clinical.MAPPERS, **scheduling.MAPPERS, **financial.MAPPERS}


_MAPPERS: dict[str, Mapper] = {}


def _mapper(resource_type: str) -> Mapper | None:
    if not _MAPPERS:
        _MAPPERS.update(mappers())
    return _MAPPERS.get(resource_type)


def resource_id(resource: Json, resource_type: str, full_url: str | None) -> str | None:
    """The resource's id; for a bundle entry without one, the uuid or id its fullUrl gives."""
    rid = string(resource.get("id"))
    if rid:
        return rid
    url = full_url or ""
    if url.startswith("urn:uuid:"):
        return url[len("urn:uuid:") :] or None
    if "://" in url:
        parts = [p for p in url.split("?")[0].split("/") if p]
        if len(parts) >= 2 and parts[-2] == resource_type:
            return parts[-1]
    return None


def record(
    resource: object,
    where: SourceRef,
    full_url: str | None = None,
    index: BundleIndex | None = None,
) -> Item:
    """The Record, Rejected or Skipped that one resource (a file, an entry, a line) is."""
    if not isinstance(resource, dict):
        return Rejected(where, FORMAT, "the resource is not a JSON object", "syntax")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype.strip():
        return Rejected(
            where, FORMAT, "the object has no resourceType, so it is no FHIR resource", "syntax"
        )
    rid = resource_id(resource, rtype, full_url)
    where = SourceRef(where.system, where.file, where.position, f"{rtype}/{rid}" if rid else None)
    label = f"{rtype}/{rid}" if rid else rtype
    mapper = _mapper(rtype)
    if mapper is None:
        if is_resource_type(rtype):
            return Skipped(where, FORMAT, rtype)
        version = other_version(rtype)
        if version is not None:
            return Rejected(
                where,
                FORMAT,
                f"its resourceType is a FHIR {version} resource type that FHIR R4 does not "
                "have: caregraph reads FHIR R4",
                "unsupported",
            )
        return Rejected(
            where,
            FORMAT,
            "its resourceType is not a FHIR R4 resource type (check its spelling)",
            "syntax",
        )
    checked = check(rtype, resource)
    if checked.problems:
        invalid = NotValid(checked.problems)
        return Rejected(where, FORMAT, f"{label}: {invalid}", invalid.code)
    resource = checked.body
    res = Res(rtype, rid, resource, rtype)
    contained = {
        string(c.get("id")): c for c in objs(resource.get("contained")) if string(c.get("id"))
    }
    ctx = Ctx(
        where.system, References(where.system, index, contained), index.payers if index else set()
    )
    ctx.refs.map_contained = lambda body, cid: _contained(res, body, cid, ctx)
    try:
        main = mapper(res, ctx)
    except FhirError as e:
        return Rejected(where, FORMAT, f"{label}: {e}", e.code)
    if ctx.refs.external and main is not None:
        # kept on the resource's node, so nothing the source said is lost (not linked: no
        # node here stands for another server's resource)
        node = next((n for n in ctx.b.nodes.values() if n.key == main.key), None)
        if node is not None:
            node.props[CG.externalReference] = [f"{path} {url}" for path, url in ctx.refs.external]
    return ctx.b.record(where, FORMAT, rtype, earlier=[*checked.repairs, *ctx.refs.warnings])


def _contained(container: Res, body: Json, cid: str, ctx: Ctx) -> Ref | None:
    """A contained resource, mapped into its container's record."""
    rtype = string(body.get("resourceType"))
    mapper = _mapper(rtype)
    if mapper is None:
        return None  # a kind caregraph does not model: the reference to it is not followed
    position = next(
        (i for i, c in enumerate(objs(container.body.get("contained"))) if c is body), 0
    )
    res = Res(
        rtype,
        f"{container.type}/{container.id}#{cid}" if container.id else None,
        body,
        f"{container.path}.contained[{position}]",
    )
    return mapper(res, ctx)
