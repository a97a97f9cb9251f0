"""The de-identification profile (``deidentification.toml``): which property of which class the
analyst graph keeps, removes, pseudonymises or generalises, as data an informaticist edits.

A node's property is decided by the sections of its labels, the most specific ontology class
first; the first section that names it, or has ``"*"``, decides. None means unclassified: the
copy removes it and reports it (see ``graph/analyst.py``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from caregraph.ontology.model import Ontology

PROFILE_FILE = Path(__file__).with_name("deidentification.toml")

KEEP = "keep"
REMOVE = "remove"
PSEUDONYMISE = "pseudonymise"
YEAR = "year"
BIRTH_YEAR = "birth-year"
ZIP3 = "zip3"
ACTIONS = frozenset({KEEP, REMOVE, PSEUDONYMISE, YEAR, BIRTH_YEAR, ZIP3})
EVERY = "*"


class ProfileError(ValueError):
    """The profile file cannot be read or names an unknown action."""


@dataclass(frozen=True)
class Profile:
    """A de-identification profile, read from its file."""

    name: str
    title: str
    oldest_age: int
    restricted_zip3: frozenset[str]
    skip: frozenset[str]
    nodes: Mapping[str, Mapping[str, str]]
    relationships: Mapping[str, str]
    depth: Mapping[str, int] = field(default_factory=dict)  # label -> its superclass count

    def skipped(self, labels: Iterable[str]) -> bool:
        """Whether a node with these labels stays out of the analyst graph."""
        return any(label in self.skip for label in labels)

    def ordered(self, labels: Iterable[str]) -> list[str]:
        """The labels that have a section, the most specific class first."""
        here = [label for label in labels if label in self.nodes]
        return sorted(here, key=lambda label: (-self.depth.get(label, 0), label))

    def node_action(self, labels: Iterable[str], prop: str) -> str | None:
        """What to do with ``prop`` of a node with these labels; None when unclassified."""
        for label in self.ordered(labels):
            section = self.nodes[label]
            if prop in section:
                return section[prop]
            if EVERY in section:
                return section[EVERY]
        return None

    def relationship_action(self, prop: str) -> str | None:
        """What to do with a relationship's ``prop``; None when unclassified."""
        return self.relationships.get(prop, self.relationships.get(EVERY))


def load_profile(onto: Ontology, path: Path = PROFILE_FILE) -> Profile:
    """Read and check a profile; the ontology orders labels from specific to general."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ProfileError(f"cannot read the de-identification profile {path}: {e}") from e
    head = data.get("profile", {})
    nodes: dict[str, dict[str, str]] = {
        label: dict(section) for label, section in data.get("nodes", {}).items()
    }
    relationships: dict[str, str] = dict(data.get("relationships", {}))
    wrong = [
        f"{where}.{prop} = {action!r}"
        for where, section in [*nodes.items(), ("relationships", relationships)]
        for prop, action in section.items()
        if action not in ACTIONS
    ]
    if wrong:
        raise ProfileError(
            f"{path}: unknown actions ({', '.join(wrong)}); use one of {', '.join(sorted(ACTIONS))}"
        )
    depth = {c.name: len(onto.superclasses(c.iri)) for c in onto.classes.values()}
    return Profile(
        name=str(head.get("name", path.stem)),
        title=str(head.get("title", path.stem)),
        oldest_age=int(head.get("oldest_age", 89)),
        restricted_zip3=frozenset(str(z) for z in head.get("restricted_zip3", ())),
        skip=frozenset(data.get("skip", {}).get("labels", ())),
        nodes=nodes,
        relationships=relationships,
        depth=depth,
    )
