"""Records with resolved keys -> rows for the writer: ontology names, Neo4j value types."""

from __future__ import annotations

import json
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
from caregraph.loaders.records import Record, Value
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


def to_rows(
    records: list[Record],
    resolution: Resolution,
    onto: OntologyView,
    identity: IdentityConfig,
    run_id: str,
    cfg: RowSettings | None = None,
) -> WriteBatch:
    """Build the writer's rows for records already validated and resolved."""
    cfg = cfg or RowSettings()
    canon = identity.canon
    batch = WriteBatch(run_id=run_id)
    for key, cls in resolution.stubs.items():
        batch.stubs.append(StubRow(key=key, labels=onto.labels_for(cls)))
    # a node identity kept apart names the node it would have joined, so the scorecard can
    # count the conflicts still open and show both sides (graph/scorecard.py)
    kept_apart = {c.new: c.existing for c in resolution.conflicts}
    for ri, rec in enumerate(records):
        src = rec.ref.key
        asserted: list[str] = []
        for ni, node in enumerate(rec.nodes):
            key = resolution.node_keys[ri][ni]
            props: dict[str, Any] = {}
            for p, v in node.props.items():
                if v is None or v == [] or v == "":
                    continue  # absent: never overwrites what an earlier record said
                name = local_name(p)
                props[name] = convert(onto, p, v, cfg)
                if isinstance(v, str) and onto.datatype(p) == "dateTime":
                    # null removes a precision an earlier, vaguer record left
                    props[precision_property(name)] = precision_of(v)
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
        for link, (s, d) in zip(rec.links, resolution.link_keys[ri], strict=True):
            props = {local_name(p): convert(onto, p, v, cfg) for p, v in link.props.items()}
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
                    props=props,
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
                    "contentHash": rec.content_hash(),
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
