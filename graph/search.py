"""Searches: patients by demographics or an identifier value, practitioners by name, NPI or
specialty, organizations and locations by name. All Cypher of the searches is here.

Names are matched folded (``familyKey``, ``givenKeys``, ``nameKey``: NFKD, accents, case,
spaces, hyphens and punctuation removed, written by the loaders), so ``Müller-Lüdenscheidt``,
``mueller lüdenscheidt`` and ``MULLER LUDENSCHEIDT`` differ only where the letters do.

A patient search is a conjunction: every term given must match. Terms match like this
(the points make the score; a higher score ranks first, then the key):

==============  =========================================================  ======
term            matches when                                               points
==============  =========================================================  ======
identifier      an Identifier with that value identifies the patient       8
family          the folded family name equals it                           4
                ... or starts with it (``Smith`` finds ``Smith-Jones``)     2
given           the first given name equals it                             3
                ... another given name (a middle name) equals it           2
                ... a given name starts with it (``Al`` finds ``Alan``)    1
birthDate       the birth date starts with it: a day (1961-08-21)          4
                a month (1961-08)                                          2
                a year (1961)                                              1
postalCode      the postal code starts with it (62701 finds 627010000)     2
gender          equal                                                      1
==============  =========================================================  ======

So an exact family name, first given name and full birth date (11 points, more with a postal
code or gender) ranks before a prefix of the name or a year. A birth date stored partially
(``1961``) matches a term of that precision or less.

Each search starts from one index (:func:`_patient_anchor`): the identifier value, else the
family name, else the postal code, else the birth date; a search by given name and gender
alone reads every patient (the API asks for two facts, so that is the only unanchored one).
Results are paged by the keyset (negative score, key), like every other list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any

from caregraph.graph.compiled import Below, Level, NotCompilableError, Statement
from caregraph.graph.projection import IDENTIFIER_LOOKUP
from caregraph.graph.readers import ForbiddenReadError, Page, PageRequest, Reader, Row

POINTS_IDENTIFIER = 8
BIRTH_POINTS = {4: 1, 7: 2, 10: 4}  # by the length of the term: year, month, day


@dataclass(frozen=True, slots=True)
class PatientTerms:
    """What a patient search asks for; names already folded, the birth date as YYYY,
    YYYY-MM or YYYY-MM-DD, the postal code without spaces."""

    family: str | None = None
    given: str | None = None
    birth: str | None = None
    gender: str | None = None
    postal: str | None = None
    identifier: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryTerms:
    """What a directory search asks for: folded name words, an NPI, a specialty (words)."""

    words: tuple[str, ...] = ()
    npi: str | None = None
    specialty: str | None = None


@dataclass(slots=True)
class Match:
    """One node found, its score and what it matched on (term names, with how: ``family``
    exact, ``family-prefix`` ...)."""

    row: Row
    score: int
    matched: list[str]


# the property each patient term filters by, as the projection names what may be filtered
_PATIENT_PROPS = {
    "family": "familyName",
    "given": "givenNames",
    "birth": "birthDate",
    "gender": "gender",
    "postal": "postalCode",
    "identifier": IDENTIFIER_LOOKUP,
}


def birth_range(birth: str) -> tuple[date, date]:
    """The days a YYYY, YYYY-MM or YYYY-MM-DD term covers: [first, after last)."""
    parts = [int(x) for x in birth.split("-")]
    if len(parts) == 1:
        return date(parts[0], 1, 1), date(parts[0] + 1, 1, 1)
    if len(parts) == 2:
        y, m = parts
        return date(y, m, 1), date(y + (m == 12), m % 12 + 1, 1)
    first = date(parts[0], parts[1], parts[2])
    return first, first + timedelta(days=1)


def _patient_anchor(t: PatientTerms) -> str:
    """A CALL body yielding the candidate patients ``p`` from the most selective index."""
    if t.identifier is not None:
        return "MATCH (:Identifier {value: $identifier})-[:IDENTIFIES]->(p:Patient) RETURN p"
    if t.family is not None:
        return "MATCH (p:Patient) WHERE p.familyKey STARTS WITH $family RETURN p"
    if t.postal is not None:
        return "MATCH (p:Patient) WHERE p.postalCode STARTS WITH $postal RETURN p"
    if t.birth is not None:
        # dates by the date index; a partial birth date is stored as text, by the same index
        return (
            "MATCH (p:Patient) WHERE p.birthDate >= $birthFrom AND p.birthDate < $birthTo "
            "RETURN p UNION "
            "MATCH (p:Patient) WHERE p.birthDate STARTS WITH $birth RETURN p"
        )
    return "MATCH (p:Patient) RETURN p"


def _patient_parts(t: PatientTerms) -> tuple[list[str], list[str]]:
    """(conditions every match meets, ``name: points`` map entries) for the terms given."""
    where: list[str] = []
    parts: list[str] = []
    if t.identifier is not None:
        where.append("EXISTS { MATCH (:Identifier {value: $identifier})-[:IDENTIFIES]->(p) }")
        parts.append(f"identifier: {POINTS_IDENTIFIER}")
    if t.family is not None:
        where.append("p.familyKey STARTS WITH $family")
        parts.append("family: CASE WHEN p.familyKey = $family THEN 4 ELSE 2 END")
    if t.given is not None:
        where.append("any(g IN coalesce(p.givenKeys, []) WHERE g STARTS WITH $given)")
        parts.append(
            "given: CASE WHEN head(p.givenKeys) = $given THEN 3 "
            "WHEN $given IN p.givenKeys THEN 2 ELSE 1 END"
        )
    if t.birth is not None:
        where.append("toString(p.birthDate) STARTS WITH $birth")
        parts.append(f"birthDate: {BIRTH_POINTS[len(t.birth)]}")
    if t.postal is not None:
        where.append("p.postalCode STARTS WITH $postal")
        parts.append("postalCode: 2")
    if t.gender is not None:
        where.append("p.gender = $gender")
        parts.append("gender: 1")
    return where, parts


_TERM_ORDER = (
    "identifier", "family", "given", "birthDate", "postalCode", "gender", "npi", "name",
    "specialty",
)  # fmt: skip


def _matched(parts: dict[str, int]) -> list[str]:
    """Term names with how they matched, from their points."""
    how = {
        ("family", 2): "family-prefix",
        ("given", 2): "given-other",
        ("given", 1): "given-prefix",
    }
    return [how.get((name, points), name) for name, points in parts.items()]


@dataclass(frozen=True, slots=True)
class Also:
    """What a page of matches reads in its own statement besides the matches: how many match
    in all (``count``), and the levels below each of the first ``used`` matches' nodes, as
    the API's compiled path plans them (graph/compiled.py :class:`Below`)."""

    count: bool = False
    below: tuple[Level, ...] = ()
    used: int = 0


@dataclass(slots=True)
class Found:
    """A page of matches; with what :class:`Also` asked for: the count of all matches, and
    the pages below the matches' nodes keyed by the request the reference path would make."""

    matches: list[Match]
    total: int | None = None
    pages: dict[PageRequest, Page] = field(default_factory=dict)


def _matching(anchor: str, where: list[str]) -> str:
    """The nodes (``p``) the anchor finds that meet every condition, each once."""
    return f"CALL () {{ {anchor} }} WITH DISTINCT p WHERE {' AND '.join(where) or 'true'} "


def _count(reader: Reader, anchor: str, where: list[str], params: dict[str, Any]) -> int:
    recs = reader.run(_matching(anchor, where) + "RETURN count(p) AS n", **params)
    return int(recs[0]["n"])


def _page(
    reader: Reader,
    label: str,
    anchor: str,
    where: list[str],
    parts: list[str],
    params: dict[str, Any],
    take: int,
    after: tuple[int, str] | None,
    also: Also,
) -> Statement[Found]:
    """One round trip: the page, and what ``also`` asks for. The count runs the search a
    second time in the same statement (collecting every match to count the list would hold
    them all in memory); a level the compiled path does not cover leaves the pages below to
    the API's resolvers."""
    pj = reader.projection
    below: Below | None = None
    if also.below and also.used:
        try:
            below = Below.of("p", also.below, pj)
        except NotCompilableError:
            below = None
    matching = _matching(anchor, where)
    counted = f"CALL () {{ {matching}RETURN count(p) AS total }} " if also.count else ""
    cypher = (
        f"{counted}CALL () {{ {matching}"
        f"WITH p, {{{', '.join(parts)}}} AS parts "
        "WITH p, parts, -reduce(t = 0, k IN keys(parts) | t + parts[k]) AS s "
        "WHERE $afterSort IS NULL OR s > $afterSort OR (s = $afterSort AND p.key > $afterKey) "
        "WITH p, parts, s ORDER BY s, p.key LIMIT $take "
        f"{below.calls if below else ''}"
        f"RETURN collect({{key: p.key, labels: labels(p), node: {pj.node('p', [label])}, "
        f"patients: {pj.patients('p', [label])}, s: s, parts: parts"
        f"{below.entries if below else ''}}}) AS found }} "
        f"RETURN {'total, ' if also.count else ''}found"
    )
    params = {
        **params,
        **(below.params if below else {}),
        "take": take,
        "afterSort": after[0] if after else None,
        "afterKey": after[1] if after else None,
    }
    return Statement(cypher, params, partial(_found, reader, below, also))


def _found(reader: Reader, below: Below | None, also: Also, recs: list[Any]) -> Found:
    top = recs[0]
    # in the page's order (the statement's collect keeps it; sorted here so nothing hangs on
    # that)
    found = sorted(top["found"], key=lambda f: (int(f["s"]), str(f["key"])))
    result = Found([], int(top["total"]) if also.count else None)
    for n, rec in enumerate(found):
        row = reader.seen(
            Row(
                rec["key"],
                list(rec["labels"]),
                dict(rec["node"]),
                sort=int(rec["s"]),
                patients=list(rec["patients"]),
            )
        )
        parts_found = dict(rec["parts"])
        # the map comes back in no set order: the terms in the table's order
        ranked = {k: int(parts_found[k]) for k in _TERM_ORDER if k in parts_found}
        result.matches.append(Match(row, -int(rec["s"]), _matched(ranked)))
        if below is not None and n < also.used:
            result.pages.update(below.pages(reader, rec, row.key, row.labels))
    return result


def _patient_params(t: PatientTerms) -> dict[str, Any]:
    params: dict[str, Any] = {
        "family": t.family,
        "given": t.given,
        "birth": t.birth,
        "gender": t.gender,
        "postal": t.postal,
        "identifier": t.identifier,
    }
    if t.birth is not None:
        params["birthFrom"], params["birthTo"] = birth_range(t.birth)
    return params


def _check_patient_terms(reader: Reader, t: PatientTerms) -> None:
    """The second line of defence: a term on what the caller may not read (the API refuses
    it first); a birth date finer than a year for a caller who reads only the year."""
    pj = reader.projection
    for term, prop in _PATIENT_PROPS.items():
        if getattr(t, term) is None:
            continue
        if term == "birth" and len(t.birth or "") == 4 and pj.may_match_year("Patient", prop):
            continue
        if not pj.may_look_up("Patient", prop):
            raise ForbiddenReadError(f"a search of patients by {prop}")


def patients(
    reader: Reader,
    terms: PatientTerms,
    take: int,
    after: tuple[int, str] | None = None,
    also: Also = Also(),
) -> Statement[Found]:
    """The statement of the patients matching every term, best first, at most ``take`` after
    the cursor (run it with the reader, :meth:`Statement.run` or ``arun``)."""
    _check_patient_terms(reader, terms)
    where, parts = _patient_parts(terms)
    return _page(
        reader, "Patient", _patient_anchor(terms), where, parts, _patient_params(terms), take,
        after, also,
    )  # fmt: skip


def count_patients(reader: Reader, terms: PatientTerms) -> int:
    """How many patients match every term."""
    _check_patient_terms(reader, terms)
    where, _ = _patient_parts(terms)
    return _count(reader, _patient_anchor(terms), where, _patient_params(terms))


# -- the directory ---------------------------------------------------------------------------


def _words_match(var: str) -> str:
    """Every word is the start of the person's family name or of one of their given names,
    or is in their name given whole (a directory's "Gregory House")."""
    return (
        f"all(w IN $words WHERE {var}.familyKey STARTS WITH w "
        f"OR any(g IN coalesce({var}.givenKeys, []) WHERE g STARTS WITH w) "
        f"OR {var}.nameKey CONTAINS w)"
    )


def _practitioner_query(t: DirectoryTerms) -> tuple[str, list[str], list[str]]:
    where: list[str] = []
    parts: list[str] = []
    if t.npi is not None:
        anchor = "MATCH (p:Practitioner {npi: $npi}) RETURN p"
        where.append("p.npi = $npi")
        parts.append(f"npi: {POINTS_IDENTIFIER}")
    else:
        # a word may be a given name as well as the family name: the directory is read whole
        # (practitioners are thousands where patients are millions)
        anchor = "MATCH (p:Practitioner) RETURN p"
    if t.words:
        where.append(_words_match("p"))
        # 2 for a word that is a whole family or given name, 1 for the start of one or a
        # word inside a name given whole
        parts.append(
            "name: reduce(n = 0, w IN $words | n + CASE WHEN p.familyKey = w OR w IN "
            "coalesce(p.givenKeys, []) THEN 2 ELSE 1 END)"
        )
    if t.specialty is not None:
        where.append(
            "(toLower(toString(p.specialty)) CONTAINS $specialty OR EXISTS { "
            "MATCH (p)<-[:ROLE_OF]-(r:PractitionerRole) "
            "WHERE toLower(toString(r.specialty)) CONTAINS $specialty "
            "OR toLower(toString(r.display)) CONTAINS $specialty })"
        )
        parts.append("specialty: 1")
    return anchor, where, parts


def _practitioner_params(t: DirectoryTerms) -> dict[str, Any]:
    return {"words": list(t.words), "npi": t.npi, "specialty": t.specialty}


def practitioners(
    reader: Reader,
    terms: DirectoryTerms,
    take: int,
    after: tuple[int, str] | None = None,
    also: Also = Also(),
) -> Statement[Found]:
    """The statement of the practitioners matching every term, best first."""
    anchor, where, parts = _practitioner_query(terms)
    params = _practitioner_params(terms)
    return _page(reader, "Practitioner", anchor, where, parts, params, take, after, also)


def count_practitioners(reader: Reader, terms: DirectoryTerms) -> int:
    anchor, where, _ = _practitioner_query(terms)
    return _count(reader, anchor, where, _practitioner_params(terms))


_PLACES = {"Organization", "Location"}


def _place_query(label: str, t: DirectoryTerms) -> tuple[str, list[str], list[str]]:
    if label not in _PLACES:
        raise ValueError(f"not a place label: {label}")
    where = ["all(w IN $words WHERE p.nameKey CONTAINS w)"]
    # 4 for the whole name, 2 for its start, 1 for words inside it
    parts = [
        "name: CASE WHEN p.nameKey = $whole THEN 4 WHEN p.nameKey STARTS WITH $whole THEN 2 "
        "ELSE 1 END"
    ]
    anchor = f"MATCH (p:{label}) WHERE p.nameKey IS NOT NULL RETURN p"
    if t.npi is not None:
        anchor = f"MATCH (p:{label} {{npi: $npi}}) RETURN p"
        where.append("p.npi = $npi")
        parts.append(f"npi: {POINTS_IDENTIFIER}")
    return anchor, where, parts


def _place_params(t: DirectoryTerms) -> dict[str, Any]:
    return {"words": list(t.words), "whole": "".join(t.words), "npi": t.npi}


def places(
    reader: Reader,
    label: str,
    terms: DirectoryTerms,
    take: int,
    after: tuple[int, str] | None = None,
    also: Also = Also(),
) -> Statement[Found]:
    """The statement of the organizations or locations (``label``) whose name has every
    word, best first."""
    anchor, where, parts = _place_query(label, terms)
    return _page(reader, label, anchor, where, parts, _place_params(terms), take, after, also)


def count_places(reader: Reader, label: str, terms: DirectoryTerms) -> int:
    anchor, where, _ = _place_query(label, terms)
    return _count(reader, anchor, where, _place_params(terms))
