"""Codes as Concepts: one key for each code of each code system, whatever spelling a source uses.

A coded element of a record (an encounter's reason, a condition's code) is a link from its
node to ``Ref(CG.Concept, "system|code")``. The key is what makes the Concept one node across
sources and across a terminology load:

- the system is the code system's canonical URI when the ontology knows it under the spelling
  the source used (an OID ``urn:oid:2.16.840.1.113883.6.90``, an HL7 v2 mnemonic ``I10``,
  Synthea's ``SNOMED-CT``: the cg:alias values of ``ontology/caregraph.ttl``), otherwise the
  system as given;
- an ICD-10-CM code is written with its dot and in capitals (X12 HI and HL7 v2 often send
  ``I214`` for ``I21.4``).

Concepts are not entities: the identity step passes their keys through unresolved, and the
writer merges them by key, setting system and code when it creates one and never touching a
display (a terminology load sets that; a code no loaded terminology has stays without one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdflib import URIRef

from caregraph.loaders.records import Link, Ref
from caregraph.ontology.model import load_ontology
from caregraph.ontology.vocab import CG

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
# a category of three characters, then up to four more, without the dot
_ICD10CM_UNDOTTED = re.compile(r"^[A-Z][0-9][0-9A-Z][0-9A-Z]{1,4}$")


@dataclass(frozen=True, slots=True)
class Coded:
    """A code of a code system, spelt as the graph keys it."""

    system: str
    code: str

    @property
    def key(self) -> str:
        return f"{self.system}|{self.code}"

    @property
    def ref(self) -> Ref:
        return Ref(CG.Concept, self.key)


def known_system(system: str) -> bool:
    """Whether the ontology knows a code system by this spelling."""
    return load_ontology().code_system(system) is not None


def canonical_system(system: str) -> str:
    """The canonical URI of a code system the ontology knows by this spelling; else as given."""
    known = load_ontology().code_system(system)
    return known.uri if known is not None else system.strip()


def coded(system: str, code: str) -> Coded | None:
    """The Concept a source's system and code mean; None without both."""
    system, code = system.strip(), code.strip()
    if not system or not code:
        return None
    system = canonical_system(system)
    if system == ICD10CM:
        code = icd10cm_code(code)
    return Coded(system, code)


def icd10cm_code(code: str) -> str:
    """An ICD-10-CM code with its dot after the category (I214 -> I21.4), in capitals."""
    text = code.strip().upper()
    if _ICD10CM_UNDOTTED.match(text):
        return f"{text[:3]}.{text[3:]}"
    return text


def split_key(key: str) -> Coded:
    """A Concept key back into its system and code (a system URI never holds a ``|``)."""
    system, _, code = key.partition("|")
    return Coded(system, code)


def links(rel: URIRef, holder: Ref, codes: list[Coded]) -> list[Link]:
    """``rel`` links from ``holder`` to each code's Concept, each once."""
    return [Link(rel, holder, c.ref) for c in dict.fromkeys(codes)]
