"""The questions' arguments: the same for every system, spread over the graph, seeded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench import queries
from bench.ingest import statement_kind


def _sample() -> queries.Sample:
    return queries.Sample(
        patients=("urn:mrn|1", "urn:mrn|2"),
        npis=("1234567893",),
        window=(datetime(2024, 6, 30, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)),
    )


def test_every_system_gets_the_same_patient_for_the_same_request() -> None:
    for asked in queries.questions(_sample()):
        for i in range(4):
            ours = asked.caregraph[1](i)
            assert ours == {k: v for k, v in asked.peer[1](i).items() if k in ours}
            assert {k: v for k, v in asked.cypher[1](i).items() if k in ("identifier", "npi")} == {
                k: v for k, v in ours.items() if k in ("identifier", "npi")
            }


def test_context_window_is_the_year_before_as_of_in_each_system_s_types() -> None:
    asked = {a.name: a for a in queries.questions(_sample())}["patient_context"]
    assert asked.caregraph[1](0)["from"] == "2024-06-30T00:00:00Z"
    assert asked.peer[1](0)["toDate"] == "2025-06-30"
    assert asked.cypher[1](0)["to"] == datetime(2025, 6, 30, tzinfo=UTC)


def test_caregraph_queries_use_the_api_s_root_fields() -> None:
    schema = (Path(__file__).parents[2] / "api" / "schema.graphql").read_text()
    for field in ("patient(identifier: String!)", "practitioner(npi: String!)", "patientContext("):
        assert field in schema
    assert "patient(identifier:" in queries.PATIENT_LOOKUP_CAREGRAPH
    assert "patientContext(identifier:" in queries.PATIENT_CONTEXT_CAREGRAPH
    assert "practitioner(npi:" in queries.PRACTITIONER_TRAVERSAL_CAREGRAPH


def test_spread_takes_every_kth_and_is_seeded() -> None:
    values = [f"p{i:03d}" for i in range(1000)]
    a = queries._spread(values, 100, seed=0)
    assert len(a) == 100 and len(set(a)) == 100
    assert "p000" in a and "p990" in a
    assert a == queries._spread(values, 100, seed=0)
    assert a != queries._spread(values, 100, seed=1)


def test_writer_statements_are_named_for_the_profile() -> None:
    assert statement_kind("UNWIND $rows AS r MERGE (i:Identifier {key: r.token})") == "identifiers"
    assert (
        statement_kind("UNWIND $rows AS r MATCH (a) MATCH (b) MERGE (a)-[x:`HAS_ITEM`]->(b)")
        == "links `HAS_ITEM`"
    )


def test_the_readme_examples_are_asked_of_the_sample_not_of_the_demo() -> None:
    s = queries.Sample(
        patients=("urn:mrn|1", "urn:mrn|2"),
        npis=("1234567893",),
        window=(datetime(2024, 6, 30, tzinfo=UTC), datetime(2025, 6, 30, tzinfo=UTC)),
        visits=("urn:visit|V1",),
    )
    examples = {queries.root_fields(e)[0]: e for e in queries.readme_examples()}
    assert set(examples) >= {"patientContext", "encounter", "practitioner", "ontology"}
    context = queries.readme_bound(examples["patientContext"], s)
    assert 'identifier: "urn:mrn|1"' in context(0) and 'identifier: "urn:mrn|2"' in context(1)
    assert 'from: "2024-06-30T00:00:00Z"' in context(0) and 'to: "2025-06-30T00:00:00Z"' in context(
        0
    )
    assert "budgetTokens: 800" in context(0)  # what is not a patient, visit or time stays
    assert 'identifier: "urn:visit|V1"' in queries.readme_bound(examples["encounter"], s)(5)
    schedule = queries.readme_bound(examples["practitioner"], s)(0)
    assert 'npi: "1234567893"' in schedule and 'from: "2024-06-30T00:00:00Z"' in schedule
    assert queries.readme_bound(examples["ontology"], s)(3) == examples["ontology"]


def test_an_example_with_nothing_to_vary_keeps_the_readmes_values() -> None:
    s = queries.Sample(("urn:mrn|1",), ("1234567893",), (datetime(2024, 1, 1, tzinfo=UTC),) * 2)
    example = 'query { encounter(identifier: "urn:oid:1|V0") { display } }'
    assert queries.readme_bound(example, s)(0) == example  # the sample has no visits


def test_the_peer_s_year_counts_payments_by_payment_date_and_conditions_and_procedures() -> None:
    patient = {
        "encounters": [{}], "appointments": [], "imagingStudies": [{}],
        "conditions": [{}, {}], "procedures": [{}],
        # a claim served in the year, and claims of any date with payments made in the year
        "claims": [{}],
        "paidClaims": [{"remittances": [{}, {}]}, {"remittances": [{}]}],
    }  # fmt: skip
    answer = {"identifiers": [{"patients": [patient]}]}
    assert queries._peer_context_events(answer) == 1 + 1 + 2 + 1 + 1 + 3
    assert "paidClaims: claims(where: { remittances: { some:" in queries.PATIENT_CONTEXT_PEER
    assert "HAS_CONDITION|HAS_PROCEDURE" in queries.PATIENT_CONTEXT_CYPHER


def test_the_context_question_reads_as_many_events_as_patient_context() -> None:
    asked = {a.name: a for a in queries.questions(_sample())}["patient_context"]
    assert asked.cypher[1](0)["limit"] == queries.CONTEXT_EVENTS == 267
