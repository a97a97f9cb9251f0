"""FHIR References as :class:`~loaders.records.Ref`: which individual a reference names.

- relative ``Patient/123`` and absolute ``http://host/fhir/Patient/123`` (a ``_history``
  version dropped): the source-local token of that type and id;
- ``urn:uuid:...`` (and ``urn:oid:...``): the bundle entry whose fullUrl it is;
- conditional ``Practitioner?identifier=system|value``, and logical references
  (``Reference.identifier``): the token ``system|value`` (the NPI system spelt one way; a
  claim's identifier as its claim key);
- contained ``#id``: the contained resource, mapped into the same record when caregraph
  models its type.

A reference to a resource that is not loaded is not an error (the identity step keeps a stub
until it arrives). A well-formed reference that cannot be resolved here is not linked, and
the record is written with an ``unresolved-reference`` warning naming the element path (never
the reference itself, which may carry an id):

- an absolute URL that names no FHIR R4 ``Type/id`` (another server's resource, like
  ``ClaimResponse.request`` = ``http://payer.example/fhir/oralhealthclaim/123``): an external
  reference, collected in :attr:`References.external` and kept on the resource's node as
  ``externalReference`` ("ClaimResponse.request http://...");
- a ``urn:uuid:`` that names no entry of the bundle;
- a conditional reference by anything but one ``identifier=system|value`` (a transaction may
  search by name; only the server that receives it can resolve that);
- a logical reference whose identifier has no system.

A reference that is not a FHIR reference at all (a relative one that is not ``Type/id`` of an
R4 type, a ``#id`` naming no contained resource: R4's ref-1) rejects its resource as
``invalid``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from rdflib import URIRef

from caregraph.loaders import keys
from caregraph.loaders.fhir.errors import BadReference
from caregraph.loaders.fhir.validation import is_resource_type
from caregraph.loaders.fhir.values import Json, normal_system, obj, objs, string
from caregraph.loaders.records import RecordWarning, Ref, token
from caregraph.ontology.vocab import CG

# The class each resource type is, when something refers to it.
CLASS_OF: dict[str, URIRef] = {
    "Patient": CG.Patient,
    "Practitioner": CG.Practitioner,
    "PractitionerRole": CG.PractitionerRole,
    "Organization": CG.Organization,
    "Location": CG.Location,
    "Encounter": CG.Encounter,
    "Appointment": CG.Appointment,
    "Schedule": CG.Schedule,
    "Slot": CG.Slot,
    "ImagingStudy": CG.ImagingStudy,
    "ServiceRequest": CG.ServiceRequest,
    "Claim": CG.Claim,
    "ClaimResponse": CG.Remittance,
    "ExplanationOfBenefit": CG.Remittance,
    "Coverage": CG.Coverage,
    "Condition": CG.Condition,
    "Procedure": CG.Procedure,
}
PAYER_ELEMENTS = {  # where a resource names an organization as a payer
    "Coverage": "payor",
    "Claim": "insurer",
    "ClaimResponse": "insurer",
    "ExplanationOfBenefit": "insurer",
}
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_UUID = re.compile(r"^urn:uuid:[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$")

Target = tuple[str, str]  # resource type, id
NOT_A_REFERENCE = (
    "is not a FHIR reference: expected Type/id, an absolute URL ending in Type/id, urn:uuid:... "
    "of a bundle entry, #id of a contained resource, or Type?identifier=system|value"
)


def coverage_system(system: str) -> str:
    """Coverage identifiers live in their own namespace: a member id names the member (a
    Patient's identifier often carries the same system and value), not the coverage."""
    return f"urn:caregraph:coverage:{system}"


def identifier_token(resource_type: str, system: str, value: str) -> str:
    """The token a reference by identifier means, for the type it points at."""
    system = normal_system(system)
    if resource_type == "Claim":
        return keys.claim_key(system, value)
    if resource_type == "Coverage":
        return token(coverage_system(system), value)
    return token(system, value)


def parse_literal(reference: str) -> Target | None:
    """``Type/id`` from a relative or absolute literal reference; None when it is not one."""
    text = reference.strip()
    if "://" in text:
        text = urlsplit(text).path
    parts = [p for p in text.split("/") if p]
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) < 2:
        return None
    rtype, rid = parts[-2], parts[-1]
    if not _ID.match(rid) or not is_resource_type(rtype):
        return None
    return rtype, rid


def parse_url(full_url: str) -> Target | None:
    """What a fullUrl names: an absolute ``.../Type/id``, or None (urn:uuid and the like)."""
    return parse_literal(full_url) if "://" in full_url else None


@dataclass(slots=True)
class BundleIndex:
    """A bundle's entries by fullUrl, and the organizations its resources name as payers."""

    urls: dict[str, Target] = field(default_factory=dict)
    payers: set[str] = field(default_factory=set)  # Organization ids

    @classmethod
    def of(cls, entries: list[Any]) -> BundleIndex:
        index = cls()
        for entry in objs(entries):
            url = string(entry.get("fullUrl"))
            res = obj(entry.get("resource"))
            rtype = string(res.get("resourceType"))
            if not url or not rtype:
                continue
            rid = string(res.get("id")) or (url[len("urn:uuid:") :] if _UUID.match(url) else "")
            if not rid:
                named = parse_url(url)
                rid = named[1] if named and named[0] == rtype else ""
            if rid:
                index.urls[url] = (rtype, rid)
        for entry in objs(entries):
            res = obj(entry.get("resource"))
            element = PAYER_ELEMENTS.get(string(res.get("resourceType")))
            if element is None:
                continue
            value = res.get(element)
            for ref in objs(value) if isinstance(value, list) else [obj(value)]:
                target = index.target(string(ref.get("reference")))
                if target and target[0] == "Organization":
                    index.payers.add(target[1])
        return index

    def target(self, reference: str) -> Target | None:
        """The entry a reference names, or its literal type and id; None when neither."""
        if reference in self.urls:
            return self.urls[reference]
        return None if reference.startswith("urn:") else parse_literal(reference)


ContainedMapper = Callable[[Json, str], Ref | None]


class References:
    """Resolves the references of one resource (and of the resources it contains)."""

    def __init__(
        self,
        source: str,
        index: BundleIndex | None,
        contained: Mapping[str, Json],
    ) -> None:
        self.source = source
        self.index = index or BundleIndex()
        self.contained = contained
        self.map_contained: ContainedMapper = lambda body, cid: None  # set by the mapping
        self._mapped: dict[str, Ref | None] = {}
        self.warnings: list[RecordWarning] = []  # one per reference not resolved
        self.external: list[tuple[str, str]] = []  # (element path, absolute URL) not resolved

    def _unresolved(self, element: str, why: str) -> None:
        """A warning that the reference at ``element`` is not linked, and why (no values)."""
        item = RecordWarning("unresolved-reference", f"{element} {why}: not linked")
        if item not in self.warnings:
            self.warnings.append(item)

    def to(self, value: Any, path: str, *types: str, cls: URIRef | None = None) -> Ref | None:
        """The Ref a Reference at ``path`` means, when it points at one of ``types`` (the first
        is assumed for a logical reference without a type); None when it points elsewhere or
        only displays a name. ``cls`` overrides the class (an organization as a payer)."""
        ref = obj(value)
        literal = ref.get("reference")
        if isinstance(literal, str):
            return self._literal(literal.strip(), path, types, cls)
        ident = obj(ref.get("identifier"))
        if not ident:
            return None  # display only: names nothing
        system, ident_value = string(ident.get("system")), string(ident.get("value"))
        rtype = _type_name(string(ref.get("type"))) or types[0]
        if rtype not in types:
            return None
        if not system or not ident_value:
            self._unresolved(f"{path}.identifier", f"has no {'system' if ident_value else 'value'}")
            return None
        return Ref(cls or CLASS_OF[rtype], identifier_token(rtype, system, ident_value))

    def all(self, values: Any, path: str, *types: str, cls: URIRef | None = None) -> list[Ref]:
        """Every Ref of a list of References (``path[i]``)."""
        found = [self.to(v, f"{path}[{i}]", *types, cls=cls) for i, v in enumerate(values or [])]
        return [r for r in found if r is not None]

    def _literal(
        self, literal: str, path: str, types: tuple[str, ...], cls: URIRef | None
    ) -> Ref | None:
        if literal.startswith("#"):
            return self._contained(literal[1:], path, types)
        if "?" in literal:
            return self._conditional(literal, path, types, cls)
        if literal.startswith("urn:"):
            target = self.index.urls.get(literal)
            if target is None:
                self._unresolved(
                    f"{path}.reference", "is a urn reference that names no entry of this bundle"
                )
                return None
        else:
            target = self.index.urls.get(literal) or parse_literal(literal)
            if target is None and "://" in literal:
                # another server's resource, by a URL caregraph cannot key: kept, not linked
                self.external.append((path, literal))
                self._unresolved(
                    f"{path}.reference",
                    "is an absolute URL that names no FHIR R4 Type/id (a resource elsewhere, "
                    "an external reference)",
                )
                return None
            if target is None:
                parts = [p for p in literal.split("/") if p]
                if len(parts) >= 2 and _ID.match(parts[-1]) and not is_resource_type(parts[-2]):
                    raise BadReference(path, "names a resource type FHIR R4 does not have")
                raise BadReference(path, NOT_A_REFERENCE)
        rtype, rid = target
        if rtype not in types:
            return None
        return Ref(cls or CLASS_OF[rtype], keys.source_local(self.source, rtype, rid).token)

    def _conditional(
        self, literal: str, path: str, types: tuple[str, ...], cls: URIRef | None
    ) -> Ref | None:
        base, _, query = literal.partition("?")
        rtype = _type_name(base)
        if not is_resource_type(rtype):
            raise BadReference(path, NOT_A_REFERENCE)
        if rtype not in types:
            return None
        params = [p.partition("=") for p in query.split("&") if p]
        if len(params) != 1 or params[0][0] != "identifier":
            self._unresolved(
                f"{path}.reference",
                "is a conditional reference caregraph cannot resolve (only "
                "Type?identifier=system|value names one individual)",
            )
            return None
        system, bar, value = unquote(params[0][2]).partition("|")
        if not bar or not system.strip() or not value.strip():
            self._unresolved(
                f"{path}.reference", "is a conditional reference whose identifier lacks a system"
            )
            return None
        return Ref(cls or CLASS_OF[rtype], identifier_token(rtype, system.strip(), value.strip()))

    def _contained(self, cid: str, path: str, types: tuple[str, ...]) -> Ref | None:
        if not cid:
            return None  # "#" is the containing resource itself
        res = self.contained.get(cid)
        if res is None:
            raise BadReference(path, "names no contained resource of this resource")
        if string(res.get("resourceType")) not in types:
            return None
        if cid not in self._mapped:
            self._mapped[cid] = self.map_contained(res, cid)
        return self._mapped[cid]


def _type_name(text: str) -> str:
    """The resource type at the end of a type URI or of a conditional reference's base."""
    return text.rstrip("/").rsplit("/", 1)[-1]
