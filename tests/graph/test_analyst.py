"""The analyst graph: the demo data copied de-identified into a read-only Neo4j of its own.

The proof: every value that the main graph holds in a protected property (names, identifiers
and keys of patient data, addresses, phone numbers, exact dates of patients' events, free
text, file paths, the audit and the API keys) is looked for in every property of the analyst
graph, and none is found. The protected properties are listed here, not taken from the
profile, so a profile that kept one would fail this test.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from neo4j import Driver
from neo4j.exceptions import ClientError
from neo4j.time import Date, DateTime

from caregraph.graph import guide, integrity, keys_and_audit, schema
from caregraph.graph.analyst import RefreshReport, freshness, refresh
from caregraph.graph.analyst_server import AnalystNeo4j
from caregraph.graph.anchors import Anchors
from caregraph.graph.deidentify import Deidentifier
from caregraph.graph.driver import open_driver
from caregraph.graph.pseudonyms import Pseudonyms
from caregraph.graph.settings import Neo4jSettings, Paths, Settings
from caregraph.loaders.generator.generator import write_demo
from caregraph.loaders.identity import IdentityConfig
from caregraph.loaders.pipeline import load
from caregraph.ontology.deidentification import load_profile
from caregraph.ontology.model import load_ontology

SECRET = b"analyst-graph-test-key-0123456789"
PATIENT_DATA = (
    "Patient", "Encounter", "Appointment", "ImagingStudy", "ImagingSeries", "ServiceRequest",
    "Claim", "ClaimItem", "Remittance", "Coverage", "Condition", "Procedure",
)  # fmt: skip
# properties of patient data that name, number, locate or describe an individual
PROTECTED = frozenset(
    {
        "key", "display", "description", "nameText", "familyName", "givenNames", "addressLine",
        "city", "postalCode", "phone", "matchKey", "visitNumber", "controlNumber",
        "payerControlNumber", "memberId", "subscriberId", "studyInstanceUid",
        "seriesInstanceUid", "accessionNumber", "placerOrderNumber", "fillerOrderNumber",
        "referringPhysicianName", "cancelReason", "externalReference",
    }
)  # fmt: skip
SOURCE_PROTECTED = ("key", "display", "recordId", "file", "contentHash")
ADMIN_ONLY = ("AuditEvent", "AuditHead", "ApiKey")
FIRST_SOURCES = 3  # loaded before the first (full) refresh; the rest before the incremental


@dataclass
class Copied:
    """The demo in the main graph and, de-identified, in the analyst graph."""

    main: Driver
    main_db: str
    analyst: AnalystNeo4j
    first: RefreshReport  # full, after the first sources
    incremental: RefreshReport  # after the other sources
    rebuilt: RefreshReport  # full, after everything
    after_incremental: tuple[list[str], list[str]]
    after_rebuild: tuple[list[str], list[str]]


@pytest.fixture(scope="module")
def copied(
    driver: Driver,
    neo4j_conn: Neo4jSettings,
    analyst_server: AnalystNeo4j,
    tmp_path_factory: pytest.TempPathFactory,
) -> Copied:
    db = neo4j_conn.database
    integrity.wipe(driver, db)
    onto = load_ontology()
    schema.apply(driver, db, onto, force=True)
    folder = tmp_path_factory.mktemp("analyst-demo")
    manifest = write_demo(folder)
    identity = IdentityConfig.from_file(folder / manifest["identity"])
    sources = list(manifest["sources"].items())

    def load_sources(part: list[tuple[str, list[str]]]) -> None:
        for source, paths in part:
            load([folder / p for p in paths], driver=driver, database=db, source=source,
                 identity=identity)  # fmt: skip

    # what only an administrator may see: an API key and an audit record
    keys_and_audit.ensure_schema(driver, db)
    keys_and_audit.create_key(
        driver, db, "kid-analyst-test", "nightly", "clinician", "hash-0f0f0f0f"
    )
    home = tmp_path_factory.mktemp("analyst-home")
    keys_and_audit.append_audit(
        driver, db, {"subject": "test:clinician", "requestId": "req-analyst-test",
                     "patients": ["patient-of-the-audit"], "outcome": "ok"},
        Anchors.open(Settings(paths=Paths(home=home))),
    )  # fmt: skip

    deid = Deidentifier(load_profile(onto), Pseudonyms(SECRET))
    load_sources(sources[:FIRST_SOURCES])
    with analyst_server.writable() as conn, open_driver(conn) as target:
        first = refresh(driver, db, target, conn.database, deid, full=True)
        load_sources(sources[FIRST_SOURCES:])
        incremental = refresh(driver, db, target, conn.database, deid)
        after_incremental = dump(target, conn.database)
        rebuilt = refresh(driver, db, target, conn.database, deid, full=True)
        after_rebuild = dump(target, conn.database)
    return Copied(
        driver, db, analyst_server, first, incremental, rebuilt, after_incremental, after_rebuild
    )


@pytest.fixture
def analyst(copied: Copied) -> Iterator[Driver]:
    with open_driver(copied.analyst.connection()) as drv:
        yield drv


def dump(driver: Driver, database: str) -> tuple[list[str], list[str]]:
    """Every node and relationship with its properties, as comparable lines."""
    handle = "[labels({v}), {v}.key, {v}.runId, {v}.iri, {v}.name]"
    nodes = driver.execute_query(
        f"MATCH (n) RETURN {handle.format(v='n')} AS h, properties(n) AS p", database_=database
    ).records
    rels = driver.execute_query(
        f"MATCH (a)-[x]->(b) RETURN {handle.format(v='a')} AS a, type(x) AS t, "
        f"properties(x) AS p, {handle.format(v='b')} AS b",
        database_=database,
    ).records
    return (
        sorted(f"{sorted(r['h'][0])} {r['h'][1:]} {sorted(r['p'].items())}" for r in nodes),
        sorted(f"{r['a'][1:]} {r['t']} {sorted(r['p'].items())} {r['b'][1:]}" for r in rels),
    )


def values(value: Any) -> Iterator[str]:
    """A property value as the strings it holds (each item of a list)."""
    if isinstance(value, list):
        for item in value:
            yield from values(item)
    elif value is not None and not isinstance(value, bool):
        yield value.iso_format() if isinstance(value, (Date, DateTime)) else str(value)


def only_a_year(value: Any) -> bool:
    """A time that says no more than its year (its generalisation is itself)."""
    if isinstance(value, DateTime):
        return (value.month, value.day, value.hour, value.minute, value.second) == (1, 1, 0, 0, 0)
    return isinstance(value, Date) and (value.month, value.day) == (1, 1)


def protected_values(driver: Driver, database: str) -> tuple[set[str], set[str]]:
    """The main graph's protected values, and of those the texts of patient data (names,
    addresses, free text), less what the main graph also holds in a property that is not
    protected (a body site, a code's display, a clinic's name: no leak when copied)."""
    protected: set[str] = set()
    texts: set[str] = set()
    public: set[str] = set()
    rows = driver.execute_query(
        "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props, "
        "[(n)-[:IDENTIFIES]->(m) | labels(m)] AS identifies",
        database_=database,
    ).records
    for row in rows:
        labels, props = set(row["labels"]), row["props"]
        of_patient = any(set(t) & set(PATIENT_DATA) for t in row["identifies"])
        if labels & set(PATIENT_DATA):
            for name, value in props.items():
                if name in PROTECTED:
                    protected.update(values(value))
                    texts.update(values(value))
                elif isinstance(value, (Date, DateTime)) and not only_a_year(value):
                    protected.update(values(value))
                else:
                    public.update(values(value))
        elif "SourceRecord" in labels:
            for name, value in props.items():
                (protected if name in SOURCE_PROTECTED else public).update(values(value))
        elif "Identifier" in labels and of_patient:
            protected.update(values(props.get("key")))
            protected.update(values(props.get("value")))
        elif labels & set(ADMIN_ONLY):
            protected.update(v for p in props.values() for v in values(p))
        else:
            public.update(v for p in props.values() for v in values(p))
    for row in driver.execute_query(
        "MATCH ()-[x]->() RETURN properties(x) AS p", database_=database
    ).records:
        protected.update(values(row["p"].get("evidence")))
        protected.update(values(row["p"].get("sources")))
    # a text the main graph holds inside an unprotected value ("line 1" of "line 14") is none
    public_texts = [p for p in public if len(p) >= 4]
    texts = {t for t in texts - public if not any(t in p for p in public_texts)}
    return protected - public, texts


def analyst_values(driver: Driver) -> set[str]:
    found: set[str] = set()
    for query in (
        "MATCH (n) RETURN properties(n) AS p",
        "MATCH ()-[x]->() RETURN properties(x) AS p",
    ):
        for row in driver.execute_query(query, database_="neo4j").records:
            found.update(v for p in row["p"].values() for v in values(p))
    return found


# -- the proof -------------------------------------------------------------------------------


def test_no_protected_value_of_the_main_graph_is_in_the_analyst_graph(
    copied: Copied, analyst: Driver
) -> None:
    protected, texts = protected_values(copied.main, copied.main_db)
    held = analyst_values(analyst)
    # the scan sees what it should: names, MRNs, exact dates, paths, the audit are among them
    assert len(protected) > 1000
    assert any(re.search(r"\.(json|hl7|dcm|csv|txt|x12|edi|ndjson)$", v) for v in protected)
    assert "req-analyst-test" in protected and "hash-0f0f0f0f" in protected
    assert len(held) > 1000
    leaked = sorted(protected & held)
    assert leaked == [], f"{len(leaked)} protected values in the analyst graph: {leaked[:10]}"
    # nor a patient's name, address or free text inside a longer text (a name in a caption);
    # texts with letters that a hex digest lacks, so a pseudonym cannot match by chance
    words = [v for v in texts if len(v) >= 4 and re.search(r"[g-zG-Z]", v)]
    assert len(words) > 50
    long_held = [v for v in held if len(v) >= 4]
    inside = sorted({w for w in words for h in long_held if w in h})
    assert inside == [], f"protected texts inside analyst values: {inside[:10]}"


def test_the_analyst_graph_has_the_main_graphs_shape(copied: Copied, analyst: Driver) -> None:
    skip = list(ADMIN_ONLY)

    def shape(drv: Driver, db: str) -> tuple[Counter[str], Counter[str]]:
        nodes = drv.execute_query(
            "MATCH (n) WHERE NOT any(l IN labels(n) WHERE l IN $skip) "
            "RETURN labels(n) AS l, count(*) AS c",
            skip=skip,
            database_=db,
        ).records
        rels = drv.execute_query(
            "MATCH (a)-[x]->(b) WHERE NOT any(l IN labels(a) + labels(b) WHERE l IN $skip) "
            "RETURN type(x) AS t, count(*) AS c",
            skip=skip,
            database_=db,
        ).records
        return (
            Counter({":".join(sorted(r["l"])): r["c"] for r in nodes}),
            Counter({r["t"]: r["c"] for r in rels}),
        )

    main_nodes, main_rels = shape(copied.main, copied.main_db)
    nodes, rels = shape(analyst, "neo4j")
    assert nodes == main_nodes
    assert rels == main_rels
    assert {"Patient", "Class", "LoadRun", "SourceRecord", "Identifier"} <= {
        label for k in nodes for label in k.split(":")
    }
    for label in ADMIN_ONLY:
        found = analyst.execute_query(f"MATCH (n:{label}) RETURN count(n) AS c", database_="neo4j")
        assert found.records[0]["c"] == 0, label
    # the profile classifies every property the demo's graph holds
    assert copied.rebuilt.unclassified == {}
    assert copied.rebuilt.skipped == 0


def test_keys_are_the_apis_analyst_pseudonyms_and_the_directory_is_whole(
    copied: Copied, analyst: Driver
) -> None:
    pseudonym = Pseudonyms(SECRET)  # the HMAC the API's analyst view applies to keys
    patients = copied.main.execute_query(
        "MATCH (p:Patient) WHERE p.stub IS NULL RETURN p.key AS key, p.birthDate AS born",
        database_=copied.main_db,
    ).records
    npis = copied.main.execute_query(
        "MATCH (p:Practitioner) RETURN p.key AS key, p.nameText AS name",
        database_=copied.main_db,
    ).records
    assert patients and npis
    for p in patients:
        rows = analyst.execute_query(
            "MATCH (p:Patient {key: $key}) RETURN p.birthDate AS born, "
            "p.birthDatePrecision AS precision, p.nameText AS name, p.city AS city",
            key=pseudonym(p["key"]),
            database_="neo4j",
        ).records
        assert len(rows) == 1
        row = rows[0]
        assert (row["name"], row["city"]) == (None, None)
        if p["born"] is not None:
            assert row["precision"] == "year"
            assert row["born"] == Date(max(p["born"].year, dt.date.today().year - 90), 1, 1)
    for practitioner in npis:
        rows = analyst.execute_query(
            "MATCH (p:Practitioner {key: $key}) RETURN p.nameText AS name",
            key=practitioner["key"],
            database_="neo4j",
        ).records
        assert [r["name"] for r in rows] == [practitioner["name"]]
    # a ZIP code is its first three digits
    zips = analyst.execute_query(
        "MATCH (p:Patient) WHERE p.postalCode IS NOT NULL RETURN collect(p.postalCode) AS z",
        database_="neo4j",
    ).records[0]["z"]
    assert zips and all(re.fullmatch(r"\d{3}", z) for z in zips)


def test_an_incremental_refresh_gives_what_a_full_one_gives(copied: Copied) -> None:
    assert copied.first.full and not copied.incremental.full
    assert copied.incremental.runs and not set(copied.incremental.runs) & set(copied.first.runs)
    # it wrote what the later sources touched, not everything again
    assert copied.incremental.nodes > 0
    assert copied.after_incremental == copied.after_rebuild


@pytest.mark.parametrize("query", guide.QUERIES, ids=lambda q: q.slug)
def test_cookbook_queries_run_on_the_analyst_graph(
    query: guide.GuideQuery, copied: Copied, analyst: Driver
) -> None:
    on_main = copied.main.execute_query(query.cypher, database_=copied.main_db).records
    on_analyst = analyst.execute_query(query.cypher, database_="neo4j").records
    assert bool(on_analyst) == bool(on_main)


def test_the_analyst_server_refuses_a_write(copied: Copied, analyst: Driver) -> None:
    with pytest.raises(ClientError) as refused:
        analyst.execute_query("CREATE (:Patient {key: 'written by an analyst'})", database_="neo4j")
    assert "WriteOnReadOnlyAccessDatabase" in str(refused.value.code)
    found = analyst.execute_query(
        "MATCH (p:Patient {key: 'written by an analyst'}) RETURN count(p) AS c", database_="neo4j"
    )
    assert found.records[0]["c"] == 0


def test_freshness_says_which_load_runs_the_analyst_graph_holds(
    copied: Copied, analyst: Driver
) -> None:
    main = copied.main.execute_query(
        "MATCH (r:LoadRun) WHERE r.endedAt IS NOT NULL RETURN count(r) AS n, max(r.endedAt) AS t",
        database_=copied.main_db,
    ).records[0]
    fresh = freshness(analyst, "neo4j")
    assert fresh.runs == main["n"] == len(copied.rebuilt.runs)
    assert fresh.newest == main["t"]
