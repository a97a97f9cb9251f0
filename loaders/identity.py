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

import functools
import json
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from neo4j import ManagedTransaction
from rdflib import URIRef

from caregraph.graph import identity as graph_identity
from caregraph.graph.writer import ROOT_LABEL
from caregraph.loaders.records import Node, Record
from caregraph.ontology.vocab import CG


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
        from caregraph.graph.linking import RULES

        return frozenset(r.name for r in RULES if r.name not in self.disabled_rules)

    def canon(self, tok: str) -> str:
        """The token with its system replaced by the namespace it is an alias of."""
        system, sep, value = tok.partition("|")
        if not sep:
            return tok
        return f"{self.aliases.get(system, system)}|{value}"


@dataclass(frozen=True)
class ProbabilisticConfig:
    """How the probabilistic stage (loaders/probabilistic.py) proposes: above which match
    probability, and its sampling. Here, with the deterministic rules' switches, so that the
    command line reads its defaults without importing Splink."""

    threshold: float = 0.9
    max_pairs_u: float = 1e6  # pairs sampled for u
    seed: int = 0  # of u's random sampling: the same graph, the same model
    prior_recall: float = 0.8  # the share of matches the strict rule is taken to find
    # merge without review the pairs at least this probable (None: never, the default): each
    # merge is a decision with rule `probabilistic`, the score as evidence, undone by a split
    auto_merge: float | None = None


@dataclass(slots=True)
class Conflict:
    """Two records that share a key or identifier but disagree on who they are about."""

    token_system: str
    kind: str
    source: str
    existing: str
    new: str
    reason: str = (
        "has an identifier of system {system} that already names a patient with another "
        "birth date; not merged, kept as a separate patient (check both sources)"
    )

    def message(self) -> str:
        """Says which record and which identifier system, never the identifier's value."""
        return f"{self.kind}: record {self.source} " + self.reason.format(system=self.token_system)


@dataclass(slots=True)
class Merge:
    key: str
    rule: str
    evidence: dict[str, Any]


@dataclass(slots=True)
class Resolution:
    """Final keys for a batch: per record, per node and per link end."""

    node_keys: list[list[str]]
    link_keys: list[list[tuple[str, str]]]  # per record, per link: (source key, target key)
    stubs: dict[str, Any]  # key -> the class URI of the reference that made it
    identifier_rules: dict[tuple[int, int], list[tuple[str, str, str | None]]]
    conflicts: list[Conflict]
    merges: list[Merge]
    existing: set[str]


# What the identity step reads of what is already loaded: graph/identity.py ``lookup`` without
# its transaction (tokens, match keys, owner relationship types -> what they name).
Lookup = Callable[[Sequence[str], Sequence[str], Iterable[str]], graph_identity.Known]


class Terms(Protocol):
    """What identity needs of the ontology: a class's labels (itself and its superclasses)
    and a relationship's type."""

    def labels_for(self, cls: URIRef) -> tuple[str, ...]: ...

    def relationship_type(self, prop: URIRef) -> str: ...


# The relationship from a patient to an event it owns: an event has one patient, never two.
OWNED_BY_PATIENT = (
    CG.hasEncounter, CG.hasAppointment, CG.hasImagingStudy, CG.hasClaim, CG.hasCondition,
    CG.hasProcedure,
)  # fmt: skip
_OWNED = frozenset(OWNED_BY_PATIENT)  # for `in`: a tuple compares through rdflib's __eq__


def normalise(text: str) -> str:
    """Case, accents, spaces and punctuation folded away, for exact demographic matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed.lower() if ch.isalnum())


def search_keys(node: Node, labels: Sequence[str]) -> dict[str, Any]:
    """The folded names the searches match on (graph/search.py), as graph properties: a
    person's ``familyKey`` and ``givenKeys``, and the ``nameKey`` of a name given whole (an
    organization's, a location's, a directory's practitioner "Gregory House").
    Only what the record says: an absent name leaves an earlier record's key in place."""
    out: dict[str, Any] = {}
    if "Person" in labels:
        family = node.props.get(CG.familyName)
        given = node.props.get(CG.givenNames)
        if isinstance(family, str) and normalise(family):
            out["familyKey"] = normalise(family)
        names = given if isinstance(given, list) else [given] if isinstance(given, str) else []
        keys: list[str] = []
        for g in names:  # each name whole, then its words ("María José": and maria, jose)
            words = [normalise(w) for w in g.split()] if isinstance(g, str) else []
            whole = "".join(words)
            candidates = [whole, *words] if len(words) > 1 else [whole]
            keys += [k for k in candidates if k and k not in keys]
        if keys:
            out["givenKeys"] = keys
    if "Person" in labels or "Organization" in labels or "Location" in labels:
        name = node.props.get(CG.name)  # a whole name: an organization's, or a provider's
        if isinstance(name, str) and normalise(name):
            out["nameKey"] = normalise(name)
    return out


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
    """Resolves the keys of one batch at a time against the graph.

    Identity never joins two classes: a token (an identifier or a key) resolves to a node only
    when that node's class is the asserted class, a subclass or a superclass of it (a payer
    first referenced as an organization). A PractitionerRole that carries its practitioner's
    NPI is its own node; when its plain key is already another class's, it is keyed
    ``ClassName/token`` instead (the same whichever order the two arrive in a reload).
    """

    def __init__(self, config: IdentityConfig | None = None, onto: Terms | None = None) -> None:
        self.config = config or IdentityConfig()
        if onto is None:
            from caregraph.ontology.model import load_ontology

            onto = load_ontology()
        self.onto = onto
        self._labels: dict[URIRef, tuple[str, ...]] = {}
        self._owner_types: dict[URIRef, str] | None = None

    def labels(self, cls: URIRef) -> tuple[str, ...]:
        found = self._labels.get(cls)
        if found is None:
            found = self._labels[cls] = self.onto.labels_for(cls)
        return found

    def resolvable(self, cls: URIRef) -> bool:
        """Whether identity decides which node a ref of ``cls`` is: entities only. A Concept's
        key is its code (loaders/concepts.py) and is written as it is."""
        return ROOT_LABEL in self.labels(cls)

    def compatible(self, cls: URIRef, labels: Sequence[str]) -> bool:
        """A node with ``labels`` can be an individual of ``cls``: same class, a subclass, or
        a superclass (a stub made by a vaguer reference)."""
        if not labels:
            return True
        mine = self.labels(cls)
        return mine[0] in labels or set(labels) <= set(mine)

    def owner_types(self) -> dict[URIRef, str]:
        """The relationship type of each of OWNED_BY_PATIENT."""
        if self._owner_types is None:
            self._owner_types = {r: self.onto.relationship_type(r) for r in OWNED_BY_PATIENT}
        return self._owner_types

    def qualified(self, tok: str, cls: URIRef) -> str:
        """The key of a ``cls`` node whose plain token is another class's key."""
        return f"{self.labels(cls)[0]}/{tok}"

    def resolve(self, tx: ManagedTransaction, records: Sequence[Record]) -> Resolution:
        """The batch's keys, reading what the graph holds in the caller's transaction."""
        return self.resolve_with(
            lambda tokens, mks, types: graph_identity.lookup(tx, tokens, mks, types), records
        )

    def resolve_with(self, lookup: Lookup, records: Sequence[Record]) -> Resolution:
        """The batch's keys, reading what is already loaded through ``lookup`` (the graph's,
        or a staged graph's for an initial import: graph/staging.py)."""
        # each token is canonicalised several times over a batch (a million calls per thousand
        # patients): once per distinct token instead
        canon = functools.lru_cache(maxsize=None)(self.config.canon)
        tokens: set[str] = set()
        mks: set[str] = set()
        for rec in records:
            for node in rec.nodes:
                for tok in (node.key, *(i.token for i in node.identifiers)):
                    tokens.update((canon(tok), self.qualified(canon(tok), node.cls)))
                if node.cls == CG.Patient and self.config.demographics_exact:
                    mk = match_key(node)
                    if mk:
                        mks.add(mk)
            for link in rec.links:
                for ref in (link.src, link.dst):
                    if self.resolvable(ref.cls):
                        tokens.update((canon(ref.key), self.qualified(canon(ref.key), ref.cls)))
        answer = lookup(sorted(tokens), sorted(mks), self.owner_types().values())
        known, by_mk = answer.tokens, answer.match_keys

        labels_of: dict[str, tuple[str, ...]] = {}
        birth_of: dict[str, Any] = {}
        for hits in known.values():
            for h in hits:
                labels_of[h.key] = h.labels
                birth_of[h.key] = h.birth_date
        existing: set[str] = set(labels_of)
        batch: dict[str, list[str]] = {}  # token -> keys it names in this batch
        batch_mk: dict[str, str] = {}

        def names(tok: str) -> list[str]:
            return [*batch.get(tok, []), *(h.key for h in known.get(tok, []))]

        def hit(tok: str, cls: URIRef) -> str | None:
            for candidate in (tok, self.qualified(tok, cls)):
                for key in names(candidate):
                    if self.compatible(cls, labels_of.get(key, ())):
                        return key
            return None

        def assign(tok: str, key: str, cls: URIRef) -> None:
            keys = batch.setdefault(tok, [])
            if key not in keys:
                keys.append(key)
            labels_of[key] = tuple(dict.fromkeys([*self.labels(cls), *labels_of.get(key, ())]))

        def free_key(tok: str, cls: URIRef) -> str:
            """``tok`` as a new node's key, unless a node of an unrelated class has it."""
            if all(self.compatible(cls, labels_of.get(k, ())) for k in names(tok) if k == tok):
                return tok
            return self.qualified(tok, cls)

        node_keys: list[list[str]] = []
        rules: dict[tuple[int, int], list[tuple[str, str, str | None]]] = {}
        conflicts: list[Conflict] = []
        merges: list[Merge] = []
        stubs: dict[str, Any] = {}
        ref_keys: dict[tuple[str, URIRef], str] = {}
        link_keys: list[list[tuple[str, str]]] = []

        # One record at a time, its nodes and then its references, as if each record were a
        # batch of its own: a reference to a record further on in the same batch makes the
        # stub that record then fills, as it does when the two fall in different batches. So
        # the keys do not depend on where the batches end (--batch-size), nor does a load
        # killed and run again differ from one that was not.
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
                    found = hit(tok, node.cls)
                    if found is None:
                        continue
                    other_birth = birth_of.get(found)
                    if (
                        node.cls == CG.Patient
                        and birth
                        and other_birth
                        and str(other_birth)[:10] != str(birth)[:10]
                    ):
                        new = f"{canon(node.key)}~{rec.ref.key}"
                        conflicts.append(
                            Conflict(
                                tok.partition("|")[0],
                                "identifier conflict",
                                rec.ref.key,
                                found,
                                new,
                            )
                        )
                        key, rule = new, "conflict-kept-apart"
                        break
                    key, rule = found, "same-identifier"
                    evidence = {"matched": tok.partition("|")[0]}
                    break
                mk = match_key(node) if node.cls == CG.Patient else None
                if key is None and mk and self.config.demographics_exact:
                    same = set(by_mk.get(mk, []))
                    if mk in batch_mk:
                        same.add(batch_mk[mk])
                    if len(same) == 1:
                        key, rule = same.pop(), "demographics-exact"
                        evidence = {
                            "matched": ["familyName", "givenNames[0]", "birthDate", "gender"]
                        }
                if key is None:
                    key = free_key(canon(node.key), node.cls)
                if rule not in ("asserted", "conflict-kept-apart"):
                    merges.append(Merge(key, rule, evidence))
                if mk:
                    batch_mk.setdefault(mk, key)
                birth_of.setdefault(key, birth)
                ev = json.dumps(evidence, sort_keys=True) if evidence else None
                per_id: list[tuple[str, str, str | None]] = []
                for tok in own:
                    mapped = hit(tok, node.cls)
                    if mapped is None:
                        assign(tok, key, node.cls)
                        per_id.append(
                            (tok, rule if rule != "conflict-kept-apart" else "asserted", ev)
                        )
                    elif mapped == key:
                        per_id.append((tok, rule, ev))
                    # else: the token already names another node of this class; not re-pointed
                if hit(canon(node.key), node.cls) is None:
                    assign(canon(node.key), key, node.cls)
                assign(key, key, node.cls)
                rules[(ri, ni)] = per_id
                keys_here.append(key)
            node_keys.append(keys_here)

            local: dict[str, list[tuple[str, URIRef]]] = {}
            for node, key in zip(rec.nodes, keys_here, strict=True):
                local.setdefault(canon(node.key), []).append((key, node.cls))

            def end(ref: Any, local: dict[str, list[tuple[str, URIRef]]] = local) -> str:
                if not self.resolvable(ref.cls):
                    return str(ref.key)
                tok = canon(ref.key)
                for key, cls in local.get(tok, []):
                    if self.compatible(ref.cls, self.labels(cls)):
                        return key
                cached = ref_keys.get((tok, ref.cls))
                if cached is not None:
                    return cached
                found = hit(tok, ref.cls)
                if found is None:
                    found = free_key(tok, ref.cls)
                    if found not in existing and found not in stubs:
                        stubs[found] = ref.cls
                    assign(tok, found, ref.cls)
                ref_keys[(tok, ref.cls)] = found
                return found

            link_keys.append([(end(link.src), end(link.dst)) for link in rec.links])

        self._one_patient_per_event(answer, records, node_keys, link_keys, rules, conflicts)
        return Resolution(node_keys, link_keys, stubs, rules, conflicts, merges, existing)

    def _one_patient_per_event(
        self,
        answer: graph_identity.Known,
        records: Sequence[Record],
        node_keys: list[list[str]],
        link_keys: list[list[tuple[str, str]]],
        rules: dict[tuple[int, int], list[tuple[str, str, str | None]]],
        conflicts: list[Conflict],
    ) -> None:
        """An encounter, appointment, study or claim already of one patient that a record
        gives to another is a conflict: that record's copy is kept apart (keyed by the record)
        and reported, so no event is ever linked to two patients."""
        owned: list[tuple[int, int, str, str, URIRef]] = []  # record, node, event, patient, rel
        for ri, rec in enumerate(records):
            index = {key: ni for ni, key in enumerate(node_keys[ri])}
            for li, link in enumerate(rec.links):
                if link.rel not in _OWNED:
                    continue
                patient, event = link_keys[ri][li]
                if event in index:
                    owned.append((ri, index[event], event, patient, link.rel))
        if not owned:
            return
        # An event the graph already has is a node one of the batch's tokens named, so its
        # owners came with the tokens' answer (graph/identity.py); a new event has none yet.
        types = self.owner_types()
        owners: dict[str, set[str]] = {}
        for _, _, event, _, rel in owned:
            owners.setdefault(event, set()).update(answer.owners.get((event, types[rel]), ()))
        for ri, ni, event, patient, _rel in owned:
            have = owners.setdefault(event, set())
            if not have or patient in have:
                have.add(patient)
                continue
            rec = records[ri]
            node = rec.nodes[ni]
            new = f"{event}~{rec.ref.key}"
            node_keys[ri][ni] = new
            link_keys[ri] = [
                (new if s == event else s, new if d == event else d) for s, d in link_keys[ri]
            ]
            rules[(ri, ni)] = []  # its identifiers name the event already loaded
            kind = self.labels(node.cls)[0]
            conflicts.append(
                Conflict(
                    "",
                    f"{kind} conflict",
                    rec.ref.key,
                    event,
                    new,
                    f"gives this {kind} (same key as one already loaded) to another "
                    "patient; not merged, kept apart as a separate record (check both sources)",
                )
            )
