"""The searches' Cypher (graph/search.py): folded names, partial birth dates, the ranking, the
keyset paging, the anchors, and the projection's second line of defence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from caregraph.api import paths
from caregraph.api.access.policy import for_role
from caregraph.api.access.projections import projection
from caregraph.api.auth import Role
from caregraph.graph import search
from caregraph.graph.compiled import Level
from caregraph.graph.readers import ForbiddenReadError, Reader
from caregraph.graph.search import DirectoryTerms, Found, PatientTerms
from caregraph.loaders.identity import normalise
from caregraph.loaders.pipeline import load
from tests.api.conftest import PSEUDONYMS, write_table


def person(pid: str, first: str, last: str, birth: str, sex: str, zip_: str = "") -> dict[str, str]:
    return {"Id": pid, "FIRST": first, "LAST": last, "BIRTHDATE": birth, "GENDER": sex,
            "ZIP": zip_}  # fmt: skip


PEOPLE = [
    person("mason", "Mason", "Parsons", "1961-08-21", "M", "62701"),
    person("mason-jr", "Mason", "Parsons", "1991-02-03", "M", "62701"),
    person("maria", "María José", "Müller-Lüdenscheidt", "1961-08-02", "F", "02139"),
    person("masonry", "Masonry", "Parsonson", "1961-01-15", "M", "62702"),
    person("amy", "Amy", "Parsons", "1961-08-21", "F", "62701"),
]


@pytest.fixture
def people(clean_graph: Driver, database: str, tmp_path: Path) -> Driver:
    folder = tmp_path / "ehr"
    folder.mkdir()
    write_table(folder, "patients", PEOPLE)
    write_table(
        folder,
        "providers",
        [
            {"Id": "house", "NAME": "Gregory House", "GENDER": "M",
             "SPECIALITY": "INTERNAL MEDICINE"},
            {"Id": "grey", "NAME": "Meredith Grey-Shepherd", "GENDER": "F",
             "SPECIALITY": "GENERAL PRACTICE"},
        ],
    )  # fmt: skip
    write_table(
        folder,
        "organizations",
        [
            {"Id": "general", "NAME": "General Hospital of Springfield", "CITY": "Springfield"},
            {"Id": "clinic", "NAME": "Springfield Clinic", "CITY": "Springfield"},
        ],
    )
    report = load([folder], driver=clean_graph, database=database, source="ehr")
    assert report.exit_code == 0, report.as_json()["rejects"]
    return clean_graph


def reader(driver: Driver, database: str, role: Role = Role.admin) -> Reader:
    return Reader(driver, database, 30.0, projection(for_role(role)), PSEUDONYMS)


def patients(r: Reader, *args: Any, **kwargs: Any) -> Found:
    """The search's statement, run with the reader it was made for (the API awaits it)."""
    return search.patients(r, *args, **kwargs).run(r)


def practitioners(r: Reader, *args: Any) -> Found:
    return search.practitioners(r, *args).run(r)


def places(r: Reader, *args: Any) -> Found:
    return search.places(r, *args).run(r)


def keys(matches: list[search.Match]) -> list[str]:
    return [m.row.key.rpartition("|")[2] for m in matches]


def test_the_loaders_write_folded_names_for_the_search(people: Driver, database: str) -> None:
    records, _, _ = people.execute_query(
        "MATCH (p:Patient) WHERE p.familyName STARTS WITH 'M' "
        "RETURN p.familyKey AS family, p.givenKeys AS given",
        database_=database,
    )
    # a given name of two words is kept whole and as its words, the whole one first
    assert [(r["family"], r["given"]) for r in records] == [
        ("mullerludenscheidt", ["mariajose", "maria", "jose"])
    ]


def test_exact_name_and_full_birth_date_rank_first(people: Driver, database: str) -> None:
    terms = PatientTerms(family="parsons", given="mason", birth="1961")
    found = patients(reader(people, database), terms, 10).matches
    # Mason Parsons (exact, exact) before Masonry Parsonson (prefixes); not the 1991 Mason,
    # not Amy (every term must match)
    assert keys(found) == ["mason", "masonry"]
    assert found[0].score == 4 + 3 + 1 and found[0].matched == ["family", "given", "birthDate"]
    assert found[1].score == 2 + 1 + 1
    assert found[1].matched == ["family-prefix", "given-prefix", "birthDate"]
    day = patients(
        reader(people, database), PatientTerms(family="parsons", birth="1961-08-21"), 10
    ).matches
    assert keys(day) == ["amy", "mason"]  # same score: by key
    assert {m.score for m in day} == {4 + 4}


def test_names_match_folded_whatever_the_accents_case_and_hyphens(
    people: Driver, database: str
) -> None:
    for family in ("Müller-Lüdenscheidt", "MULLER LUDENSCHEIDT", "muller-ludenscheidt"):
        terms = PatientTerms(family=normalise(family), birth="1961-08")
        assert keys(patients(reader(people, database), terms, 10).matches) == ["maria"], family
    jose = PatientTerms(family="mullerludenscheidt", given=normalise("José"))
    assert patients(reader(people, database), jose, 10).matches[0].matched == [
        "family", "given-other",
    ]  # fmt: skip
    assert (
        patients(reader(people, database), PatientTerms(family="mullerx", birth="1961"), 10).matches
        == []
    )


def test_partial_birth_dates_and_postal_codes_anchor_a_search(
    people: Driver, database: str
) -> None:
    by_month = PatientTerms(birth="1961-08", gender="female")
    assert keys(patients(reader(people, database), by_month, 10).matches) == ["amy", "maria"]
    by_zip = PatientTerms(postal="6270", gender="male")
    assert sorted(keys(patients(reader(people, database), by_zip, 10).matches)) == [
        "mason", "mason-jr", "masonry",
    ]  # fmt: skip
    assert search.count_patients(reader(people, database), by_zip) == 3


def test_a_search_pages_by_score_then_key(people: Driver, database: str) -> None:
    terms = PatientTerms(family="pars", gender="male")
    r = reader(people, database)
    everything = patients(r, terms, 10).matches
    first = patients(r, terms, 2).matches
    rest = patients(r, terms, 10, (first[-1].row.sort, first[-1].row.key)).matches
    assert keys(first) + keys(rest) == keys(everything)
    assert len(everything) == 3


def test_an_identifier_value_finds_its_patient(people: Driver, database: str) -> None:
    found = patients(reader(people, database), PatientTerms(identifier="maria"), 10).matches
    assert keys(found) == ["maria"] and found[0].matched == ["identifier"]


def test_the_projection_refuses_what_the_caller_may_not_read(people: Driver, database: str) -> None:
    analyst = reader(people, database, Role.analyst)
    with pytest.raises(ForbiddenReadError):
        patients(analyst, PatientTerms(family="parsons", birth="1961"), 10)
    with pytest.raises(ForbiddenReadError):
        patients(analyst, PatientTerms(birth="1961-08", gender="female"), 10)
    found = patients(analyst, PatientTerms(birth="1961", gender="female"), 10).matches
    assert len(found) == 2
    # what an analyst gets back: pseudonyms, no name, the birth year only
    assert all(m.row.public.startswith("pseudonym:") for m in found)
    for hidden in ("familyName", "givenNames", "familyKey", "givenKeys", "postalCode"):
        assert all(hidden not in m.row.node for m in found), hidden
    assert {m.row.node["birthDate"] for m in found} == {"1961"}


def test_practitioners_by_name_words_and_specialty(people: Driver, database: str) -> None:
    r = reader(people, database)
    # the Synthea directory gives a practitioner's name whole
    found = practitioners(r, DirectoryTerms(words=("greg", "house")), 10).matches
    assert [m.row.node["name"] for m in found] == ["Gregory House"]
    assert found[0].score == 1 + 1
    hyphen = practitioners(r, DirectoryTerms(words=("greyshepherd",)), 10).matches
    assert [m.row.node["name"] for m in hyphen] == ["Meredith Grey-Shepherd"]
    internal = practitioners(r, DirectoryTerms(specialty="internal"), 10).matches
    assert [m.row.node["name"] for m in internal] == ["Gregory House"]
    assert search.count_practitioners(r, DirectoryTerms(words=("meredith",))) == 1  # a given name


def test_organizations_by_words_of_their_name(people: Driver, database: str) -> None:
    r = reader(people, database)
    found = places(r, "Organization", DirectoryTerms(words=("springfield",)), 10).matches
    names = [m.row.node["name"] for m in found]
    assert names == ["Springfield Clinic", "General Hospital of Springfield"]  # start first
    assert search.count_places(r, "Organization", DirectoryTerms(words=("clinic",))) == 1


def test_a_page_its_count_and_the_levels_below_each_match_are_one_statement(
    people: Driver, database: str
) -> None:
    """What the API's compiled path asks of a search (api/search.py): the count and, below
    the first ``used`` matches, the pages the reference path would read for them."""
    terms = PatientTerms(family="pars", gender="male")
    identifiers = Level(paths.path("Entity.identifiers"), 100, 100)
    r = reader(people, database)
    found = patients(r, terms, 3, also=search.Also(True, (identifiers,), 2))
    assert r.round_trips == 1
    assert found.total == search.count_patients(reader(people, database), terms) == 3
    first_two = [m.row.key for m in found.matches[:2]]
    assert {request.key for request in found.pages} == set(first_two)
    for key in first_two:
        page = found.pages[identifiers.request(key)]
        # as the reference reader reads the same request
        again = reader(people, database).pages([identifiers.request(key)])[0]
        assert [row.key for row in page.rows] == [row.key for row in again.rows] != []
    # the page is the one a plain search returns
    assert keys(found.matches) == keys(patients(r, terms, 3).matches)
