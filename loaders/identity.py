"""Identity: one patient, practitioner, organization or visit across sources.

For each batch of records the resolver decides which graph node every asserted individual
and every reference is, and why:

- ``same-identifier``: a token (``system|value``, systems made one by the alias table) already
  identifies a node, in the graph or earlier in the load.
- ``demographics-exact``: a patient with no known identifier whose normalised family name,
  first given name, birth date and sex match exactly one loaded patient.
- ``asserted``: nothing matched; the record's own key makes a new node.
- ``reference``: a record points at an individual not loaded yet; a stub keyed by the token
  stands in and is filled when the record itself arrives (in this load or a later one).

A patient whose identifier is known but whose birth date differs is not merged: it becomes a
separate node and the conflict is reported. The cost per record is a few index lookups, one
round trip per batch, whatever the size of the graph.
"""

from __future__ import annotations

import json
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

from graph import writer as gw
from loaders.records import Node, Record
from ontology.vocab import CG


@dataclass(frozen=True)
class IdentityConfig:
    """The identity rules' settings: an alias table and which rules are on."""

    aliases: Mapping[str, str] = field(default_factory=dict)  # system -> canonical system
    demographics_exact: bool = True
    disabled_rules: frozenset[str] = frozenset()  # linking rules switched off, by name

    @classmethod
    def from_file(cls, path: Path) -> IdentityConfig:
        """Read a TOML file: ``[aliases]`` system = canonical system, ``[rules]`` switches."""
        data = tomllib.loads(path.read_text())
        aliases: dict[str, str] = {}
        for canonical, members in data.get("namespaces", {}).items():
            for member in members:
                aliases[str(member)] = str(canonical)
        aliases.update({str(k): str(v) for k, v in data.get("aliases", {}).items()})
        rules = data.get("rules", {})
        return cls(
            aliases=aliases,
            demographics_exact=bool(rules.get("demographics_exact", True)),
            disabled_rules=frozenset(str(r) for r in rules.get("disabled", [])),
        )

    def enabled_rules(self) -> frozenset[str]:
        """The linking rules to run (graph.linking.RULES less the disabled ones)."""
        from graph.linking import RULES

        return frozenset(r.name for r in RULES if r.name not in self.disabled_rules)

    def canon(self, tok: str) -> str:
        """The token with its system replaced by the namespace it is an alias of."""
        system, sep, value = tok.partition("|")
        if not sep:
            return tok
        return f"{self.aliases.get(system, system)}|{value}"


@dataclass(slots=True)
class Conflict:
    """Two records that share an identifier but disagree on who they are."""

    token_system: str
    kind: str
    source: str
    existing: str
    new: str

    def message(self) -> str:
        """Says which record and which identifier system, never the identifier's value."""
        return (
            f"{self.kind}: record {self.source} has an identifier of system "
            f"{self.token_system} that already names a patient with another birth date; "
            "not merged, kept as a separate patient (check both sources)"
        )


@dataclass(slots=True)
class Merge:
    key: str
    rule: str
    evidence: dict[str, Any]


@dataclass(slots=True)
class Resolution:
    """Final keys for a batch: per record, per node; per reference token."""

    node_keys: list[list[str]]
    ref_keys: dict[str, str]
    stubs: dict[str, Any]  # key -> the class URI of the reference that made it
    identifier_rules: dict[tuple[int, int], list[tuple[str, str, str | None]]]
    conflicts: list[Conflict]
    merges: list[Merge]
    existing: set[str]


def normalise(text: str) -> str:
    """Case, accents, spaces and punctuation folded away, for exact demographic matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if ch.isalnum())


def match_key(node: Node) -> str | None:
    """family|first given|birth date|sex, normalised; None when any part is missing."""
    family = node.props.get(CG.familyName)
    given = node.props.get(CG.givenNames)
    birth = node.props.get(CG.birthDate)
    sex = node.props.get(CG.gender)
    first = given[0] if isinstance(given, list) and given else given
    if not (isinstance(family, str) and isinstance(first, str) and birth and sex):
        return None
    if sex == "unknown":
        return None
    return "|".join((normalise(family), normalise(first), str(birth)[:10], str(sex)))


class Resolver:
    """Resolves the keys of one batch at a time against the graph."""

    def __init__(self, config: IdentityConfig | None = None) -> None:
        self.config = config or IdentityConfig()

    def resolve(self, tx: ManagedTransaction, records: Sequence[Record]) -> Resolution:
        canon = self.config.canon
        tokens: set[str] = set()
        mks: set[str] = set()
        for rec in records:
            for node in rec.nodes:
                tokens.add(canon(node.key))
                tokens.update(canon(i.token) for i in node.identifiers)
                if node.cls == CG.Patient and self.config.demographics_exact:
                    mk = match_key(node)
                    if mk:
                        mks.add(mk)
            for link in rec.links:
                tokens.add(canon(link.src.key))
                tokens.add(canon(link.dst.key))
        known = gw.lookup_tokens(tx, sorted(tokens))
        by_mk = gw.lookup_match_keys(tx, sorted(mks)) if mks else {}

        batch: dict[str, str] = {}
        batch_mk: dict[str, str] = {}
        birth_of: dict[str, Any] = {key: birth for key, birth in known.values()}
        node_keys: list[list[str]] = []
        rules: dict[tuple[int, int], list[tuple[str, str, str | None]]] = {}
        conflicts: list[Conflict] = []
        merges: list[Merge] = []
        existing: set[str] = {key for key, _ in known.values()}

        for ri, rec in enumerate(records):
            keys_here: list[str] = []
            for ni, node in enumerate(rec.nodes):
                own = [canon(i.token) for i in node.identifiers]
                candidates = list(dict.fromkeys([*own, canon(node.key)]))
                key: str | None = None
                rule = "asserted"
                evidence: dict[str, Any] = {}
                birth = node.props.get(CG.birthDate)
                for tok in candidates:
                    hit = batch.get(tok) or (known[tok][0] if tok in known else None)
                    if hit is None:
                        continue
                    other_birth = birth_of.get(hit)
                    if (
                        node.cls == CG.Patient
                        and birth
                        and other_birth
                        and str(other_birth)[:10] != str(birth)[:10]
                    ):
                        new = f"{canon(node.key)}~{rec.ref.key}"
                        conflicts.append(
                            Conflict(
                                tok.partition("|")[0], "identifier conflict", rec.ref.key, hit, new
                            )
                        )
                        key, rule = new, "conflict-kept-apart"
                        break
                    key, rule = hit, "same-identifier"
                    evidence = {"matched": tok.partition("|")[0]}
                    break
                mk = match_key(node) if node.cls == CG.Patient else None
                if key is None and mk and self.config.demographics_exact:
                    found = set(by_mk.get(mk, []))
                    if mk in batch_mk:
                        found.add(batch_mk[mk])
                    if len(found) == 1:
                        key, rule = found.pop(), "demographics-exact"
                        evidence = {
                            "matched": ["familyName", "givenNames[0]", "birthDate", "gender"]
                        }
                if key is None:
                    key = canon(node.key)
                if rule not in ("asserted", "conflict-kept-apart"):
                    merges.append(Merge(key, rule, evidence))
                if mk:
                    batch_mk.setdefault(mk, key)
                birth_of.setdefault(key, birth)
                ev = json.dumps(evidence, sort_keys=True) if evidence else None
                per_id: list[tuple[str, str, str | None]] = []
                for tok in own:
                    mapped = batch.get(tok) or (known[tok][0] if tok in known else None)
                    if mapped is None:
                        batch[tok] = key
                        per_id.append(
                            (tok, rule if rule != "conflict-kept-apart" else "asserted", ev)
                        )
                    elif mapped == key:
                        per_id.append((tok, rule, ev))
                    # else: the token already names another node; not re-pointed (a conflict)
                batch.setdefault(canon(node.key), key)
                rules[(ri, ni)] = per_id
                keys_here.append(key)
            node_keys.append(keys_here)

        ref_keys: dict[str, str] = {}
        stubs: dict[str, Any] = {}
        for rec in records:
            for link in rec.links:
                for ref in (link.src, link.dst):
                    tok = canon(ref.key)
                    if tok in ref_keys:
                        continue
                    hit = batch.get(tok) or (known[tok][0] if tok in known else None)
                    if hit is None:
                        hit = tok
                        stubs[tok] = ref.cls
                        batch[tok] = tok
                    ref_keys[tok] = hit
        return Resolution(node_keys, ref_keys, stubs, rules, conflicts, merges, existing)
