"""Records with resolved keys -> rows for the writer: ontology names, Neo4j value types."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timezone
from typing import Any, Protocol

from rdflib import URIRef

from caregraph.graph.writer import (
    CONCEPT_LABEL,
    ROOT_LABEL,
    ConceptRow,
    IdentifierRow,
    LinkRow,
    NodeRow,
    SourceRow,
    StubRow,
    WriteBatch,
)
from caregraph.loaders.concepts import split_key
from caregraph.loaders.identity import IdentityConfig, Resolution, match_key, search_keys
from caregraph.loaders.records import Record, Value, pickled_by_fields
from caregraph.ontology.temporal import earliest, precision_of, precision_property
from caregraph.ontology.vocab import CG, local_name


class OntologyView(Protocol):
    """What shaping needs from the ontology (ontology.model.Ontology provides it)."""

    version: str

    def labels_for(self, cls: URIRef) -> tuple[str, ...]: ...

    def relationship_type(self, prop: URIRef) -> str: ...

    def datatype(self, prop: URIRef) -> str | None: ...


class ValueTypeError(ValueError):
    """A value that does not fit its property's datatype (the record is rejected)."""


@dataclass(frozen=True)
class RowSettings:
    """How values without a timezone are read: as this offset (default UTC)."""

    default_tz: timezone = UTC


def convert(onto: OntologyView, prop: URIRef, value: Value, cfg: RowSettings) -> Any:
    """A record value as the Neo4j type its property's XSD range asks for."""
    kind = onto.datatype(prop)
    if isinstance(value, list):
        return (
            [convert(onto, prop, v, cfg) for v in value] if kind not in (None, "string") else value
        )
    try:
        if kind == "date" and isinstance(value, str):
            if len(value) == 10:
                return date.fromisoformat(value)
            return value  # a partial date (year, year-month) stays text: FHIR allows it
        if kind == "dateTime" and isinstance(value, str):
            # a year, month, day, hour or minute is stored as its first instant; to_rows() stores
            # the precision beside it (ontology/temporal.py)
            parsed = datetime.fromisoformat(earliest(value).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=cfg.default_tz)
        if kind == "decimal":
            return float(value)
        if kind == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("not a whole number")
            return int(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError("not true or false")
    except (TypeError, ValueError) as e:
        raise ValueTypeError(f"{local_name(prop)} is not a valid {kind}") from e
    return value


@pickled_by_fields
@dataclass(frozen=True, slots=True)
class Prepared:
    """A record and what writing it takes, worked out once when it is validated: its property
    values as Neo4j types (converting them is how they are checked) and its content hash
    (compared with the graph's to skip an unchanged record, then written with it)."""

    record: Record
    node_props: list[dict[str, Any]]  # per node: property name -> value, absent values left out
    link_props: list[dict[str, Any]]  # per link: property name -> value
    content_hash: str


def prepare(onto: OntologyView, rec: Record, cfg: RowSettings) -> Prepared:
    """The record's values converted and its hash taken; ValueTypeError for a value that does
    not fit its property's datatype (the record is rejected)."""
    node_props: list[dict[str, Any]] = []
    for node in rec.nodes:
        props: dict[str, Any] = {}
        for p, v in node.props.items():
            value = convert(onto, p, v, cfg)  # an absent value is checked all the same
            if v is None or v == [] or v == "":
                continue  # absent: never overwrites what an earlier record said
            name = local_name(p)
            props[name] = value
            if isinstance(v, str) and onto.datatype(p) == "dateTime":
                # null removes a precision an earlier, vaguer record left
                props[precision_property(name)] = precision_of(v)
        node_props.append(props)
    link_props = [
        {local_name(p): convert(onto, p, v, cfg) for p, v in link.props.items()}
        for link in rec.links
    ]
    return Prepared(rec, node_props, link_props, rec.content_hash())


def to_rows(
    prepared: Sequence[Prepared],
    resolution: Resolution,
    onto: OntologyView,
    identity: IdentityConfig,
    run_id: str,
) -> WriteBatch:
    """Build the writer's rows for records already prepared and resolved."""
    canon = identity.canon
    batch = WriteBatch(run_id=run_id)
    for key, cls in resolution.stubs.items():
        batch.stubs.append(StubRow(key=key, labels=onto.labels_for(cls)))
    # a node identity kept apart names the node it would have joined, so the scorecard can
    # count the conflicts still open and show both sides (graph/scorecard.py)
    kept_apart = {c.new: c.existing for c in resolution.conflicts}
    for ri, ready in enumerate(prepared):
        rec = ready.record
        src = rec.ref.key
        asserted: list[str] = []
        for ni, node in enumerate(rec.nodes):
            key = resolution.node_keys[ri][ni]
            props = dict(ready.node_props[ni])
            if key in kept_apart:
                props["keptApartFrom"] = kept_apart[key]
            if node.cls == CG.Patient:
                mk = match_key(node)
                if mk:
                    props["matchKey"] = mk
            labels = onto.labels_for(node.cls)
            props.update(search_keys(node, labels))
            batch.nodes.append(NodeRow(key, labels, props, src))
            asserted.append(key)
            ids = {canon(i.token): i for i in node.identifiers}
            for tok, rule, evidence in resolution.identifier_rules.get((ri, ni), []):
                ident = ids[tok]
                system = tok.partition("|")[0]
                batch.identifiers.append(
                    IdentifierRow(tok, system, ident.value, ident.type, key, rule, evidence, src)
                )
        links = zip(rec.links, resolution.link_keys[ri], ready.link_props, strict=True)
        for link, (s, d), link_props in links:
            dst_label = ROOT_LABEL
            if link.dst.cls == CG.Concept:
                code = split_key(d)
                batch.concepts.append(ConceptRow(d, code.system, code.code))
                dst_label = CONCEPT_LABEL
            batch.links.append(
                LinkRow(
                    type=onto.relationship_type(link.rel),
                    src=s,
                    dst=d,
                    props=link_props,
                    source=src,
                    rule=link.rule,
                    evidence=json.dumps(link.evidence, sort_keys=True) if link.evidence else None,
                    dst_label=dst_label,
                )
            )
        batch.sources.append(
            SourceRow(
                key=src,
                props={
                    "sourceSystem": rec.ref.system,
                    "file": rec.ref.file,
                    "position": rec.ref.position,
                    "recordId": rec.ref.record_id,
                    "format": rec.format,
                    "kind": rec.kind,
                    "contentHash": ready.content_hash,
                    "runId": run_id,
                    "display": f"{rec.format} {rec.kind} {rec.ref.record_id or rec.ref.position}",
                    # the codes only (never the messages): what the scorecard counts; None
                    # removes the codes an earlier version of the record had
                    "warningCodes": sorted({w.code for w in rec.warnings}) or None,
                },
                asserts=list(dict.fromkeys(asserted)),
            )
        )
    return batch
