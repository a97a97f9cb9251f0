"""The read audit: one append-only record per read of patient data, with who, role, patients,
fields, request id and purpose; an admin's query over it (GraphQL and CLI); and a read that
cannot be recorded is not answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from neo4j import Driver
from typer.testing import CliRunner

from api.app import create_app
from api.auth import Role
from api.cli.main import app as cli
from api.settings import ApiSettings
from graph.security import query_audit
from graph.settings import Neo4jSettings
from tests.api.conftest import ADA, CROWD, JANE, SMITH_NPI, Gql, KeyMaker, bearer, principal

CONTEXT = "query Ctx($id: String!) { patientContext(identifier: $id) { text totalEvents } }"


def event(driver: Driver, database: str, request_id: str) -> dict[str, Any]:
    (found,) = [
        e for e in query_audit(driver, database, limit=1000) if e["requestId"] == request_id
    ]
    return found


@pytest.fixture
def http(dataset: Driver, neo4j_conn: Neo4jSettings) -> Iterator[TestClient]:
    with TestClient(create_app(neo4j_conn)) as client:
        yield client


def test_a_read_over_http_is_recorded_with_who_what_and_why(
    http: TestClient, api_key: KeyMaker, driver: Driver, database: str
) -> None:
    key = api_key(Role.clinician)
    response = http.post(
        "/graphql",
        json={"query": CONTEXT, "variables": {"id": JANE}, "operationName": "Ctx"},
        headers={**bearer(key), "X-Purpose-Of-Use": "treat", "X-Request-ID": "audit-http-1"},
    )
    assert response.json()["data"]["patientContext"]["totalEvents"] == 5
    recorded = event(driver, database, "audit-http-1")
    assert recorded["subject"] == f"key:{key.split('_')[1]}"
    assert (recorded["role"], recorded["method"], recorded["channel"]) == (
        "clinician", "api-key", "graphql",
    )  # fmt: skip
    assert recorded["purpose"] == "TREAT" and recorded["operation"] == "Ctx"
    assert recorded["patients"] == [JANE]
    assert recorded["fields"] == [
        "patientContext",
        "patientContext.text",
        "patientContext.totalEvents",
    ]
    assert recorded["outcome"] == "ok" and recorded["errorCodes"] == []
    assert abs(recorded["at"].to_native() - datetime.now(UTC)) < timedelta(minutes=1)


def test_every_patient_whose_data_was_read_is_named(
    gql: Gql, driver: Driver, database: str
) -> None:
    query = """{ encounter(identifier: "crowd00-v1") { organization { encounters(first: 50) {
                 edges { node { start patient { gender } } } } } } }"""
    run = gql(query, principal=principal(Role.billing), request_id="audit-crowd")
    reached = {e["node"]["patient"]["gender"] for e in
               run.data["encounter"]["organization"]["encounters"]["edges"]}  # fmt: skip
    assert reached == {"male", "female"}
    recorded = event(driver, database, "audit-crowd")
    crowd = {f"https://github.com/synthetichealth/synthea|crowd{i:02d}" for i in range(CROWD)}
    assert set(recorded["patients"]) == crowd | {ADA}  # Dr House's hospital: the crowd and Ada
    assert "encounter.organization.encounters.edges.node.patient.gender" in recorded["fields"]


def test_an_analysts_read_is_recorded_with_the_real_patient_keys(
    gql: Gql, driver: Driver, database: str
) -> None:
    query = f"""{{ practitioner(npi: "{SMITH_NPI}") {{ encounters {{ edges {{ node {{
                 patient {{ key birthDate }} }} }} }} }} }}"""
    run = gql(query, principal=principal(Role.analyst), request_id="audit-analyst")
    seen = run.data["practitioner"]["encounters"]["edges"][0]["node"]["patient"]["key"]
    assert seen.startswith("pseudonym:")
    assert event(driver, database, "audit-analyst")["patients"] == [JANE]  # admins can trace it


def test_refused_attempts_are_recorded_and_reads_of_no_patient_data_are_not(
    gql: Gql, driver: Driver, database: str
) -> None:
    gql(CONTEXT, {"id": JANE}, principal=principal(Role.analyst), request_id="audit-refused")
    refused = event(driver, database, "audit-refused")
    assert refused["outcome"] == "refused" and refused["patients"] == []
    assert refused["errorCodes"] == ["FORBIDDEN_FIELD"] and refused["role"] == "analyst"
    gql("{ service { version } ontology { version } }", request_id="audit-none")
    assert not [
        e for e in query_audit(driver, database, limit=1000) if e["requestId"] == "audit-none"
    ]


def test_an_admin_queries_the_audit_log(gql: Gql, driver: Driver, database: str) -> None:
    billing = principal(Role.billing, "test:audit-log-billing")
    clinician = principal(Role.clinician, "test:audit-log-clinician")
    # the window opens now (to the millisecond, as Neo4j's clock reads it): reads by earlier
    # tests, some of them Ada's, fall before it
    now = datetime.now(UTC)
    start = now.replace(microsecond=now.microsecond // 1000 * 1000)
    gql(CONTEXT, {"id": ADA}, principal=billing, request_id="log-b1", purpose="HPAYMT")
    gql(CONTEXT, {"id": JANE}, principal=billing, request_id="log-b2", purpose="HPAYMT")
    gql(CONTEXT, {"id": ADA}, principal=clinician, request_id="log-c1", purpose="TREAT")
    query = """query($s: String, $p: String, $since: DateTime, $first: Int, $after: String) {
      auditLog(subject: $s, patient: $p, since: $since, first: $first, after: $after) {
        edges { cursor node { at subject role purpose requestId patients fields outcome } }
        pageInfo { hasNextPage endCursor } } }"""
    since = start.isoformat()
    by_billing = gql(query, {"s": billing.subject, "since": since}).data["auditLog"]
    assert [e["node"]["requestId"] for e in by_billing["edges"]] == [
        "log-b2",
        "log-b1",
    ]  # newest first
    assert {e["node"]["purpose"] for e in by_billing["edges"]} == {"HPAYMT"}
    of_ada = gql(query, {"p": ADA, "since": since}).data["auditLog"]["edges"]
    assert [e["node"]["requestId"] for e in of_ada] == ["log-c1", "log-b1"]
    assert of_ada[0]["node"]["role"] == "clinician" and of_ada[0]["node"]["patients"] == [ADA]
    # paging
    first = gql(query, {"p": ADA, "since": since, "first": 1}).data["auditLog"]
    assert first["pageInfo"]["hasNextPage"]
    rest = gql(
        query, {"p": ADA, "since": since, "first": 1, "after": first["pageInfo"]["endCursor"]}
    )
    assert [e["node"]["requestId"] for e in rest.data["auditLog"]["edges"]] == ["log-b1"]
    # the admin's reading of the audit log is itself on the record
    assert any(e["requestId"] == rest.context.request_id for e in query_audit(driver, database))


def test_a_read_that_cannot_be_recorded_is_not_answered(
    http: TestClient, api_key: KeyMaker, driver: Driver, database: str
) -> None:
    """A real failure of the audit write: a constraint that refuses a second record with the
    same request id, so a caller who repeats its X-Request-ID gets its second answer withheld."""
    driver.execute_query(
        "CREATE CONSTRAINT test_audit_once IF NOT EXISTS FOR (a:AuditEvent) "
        "REQUIRE a.requestId IS UNIQUE",
        database_=database,
    )
    try:
        headers = {**bearer(api_key(Role.clinician)), "X-Request-ID": "audit-twice"}
        body = {"query": CONTEXT, "variables": {"id": JANE}}
        first = http.post("/graphql", json=body, headers=headers).json()
        assert first["data"]["patientContext"]["totalEvents"] == 5
        second = http.post("/graphql", json=body, headers=headers).json()
        assert second["data"] is None
        (error,) = second["errors"]
        assert error["extensions"] == {"code": "AUDIT_FAILED", "requestId": "audit-twice"}
        assert "JANE" not in str(second)
    finally:
        driver.execute_query("DROP CONSTRAINT test_audit_once IF EXISTS", database_=database)


def test_no_setting_switches_the_audit_off(
    gql: Gql, driver: Driver, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREGRAPH_API_AUDIT", "false")
    gql(CONTEXT, {"id": ADA}, request_id="audit-off", settings=ApiSettings())
    assert event(driver, database, "audit-off")["patients"] == [ADA]


def test_the_cli_shows_the_audit_log(gql: Gql, neo4j_conn: Neo4jSettings) -> None:
    gql(
        CONTEXT,
        {"id": JANE},
        principal=principal(Role.billing),
        request_id="audit-cli",
        purpose="HPAYMT",
    )
    env = {
        "NEO4J_URI": neo4j_conn.uri or "",
        "NEO4J_USERNAME": neo4j_conn.username,
        "NEO4J_PASSWORD": neo4j_conn.password.get_secret_value() if neo4j_conn.password else "",
        "NEO4J_DATABASE": neo4j_conn.database,
    }
    today = datetime.now(UTC).date().isoformat()
    args = ["audit", "--subject", "test:billing", "--patient", JANE, "--since", today]
    shown = CliRunner().invoke(cli, args, env=env)
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.output.splitlines() if "request=audit-cli" in x)
    assert "test:billing  billing  ok  purpose=HPAYMT" in line and f"patients={JANE}" in line
    later = CliRunner().invoke(cli, ["audit", "--since", "2999-01-01"], env=env)
    assert later.exit_code == 0 and later.output == ""


def cli_env(neo4j_conn: Neo4jSettings, home: Path, **more: str) -> dict[str, str]:
    return {
        "NEO4J_URI": neo4j_conn.uri or "",
        "NEO4J_USERNAME": neo4j_conn.username,
        "NEO4J_PASSWORD": neo4j_conn.password.get_secret_value() if neo4j_conn.password else "",
        "NEO4J_DATABASE": neo4j_conn.database,
        "CAREGRAPH_HOME": str(home),
        **more,
    }


def test_caregraph_explain_is_audited_before_it_prints(
    dataset: Driver, neo4j_conn: Neo4jSettings, driver: Driver, database: str, tmp_path: Path
) -> None:
    env = cli_env(neo4j_conn, tmp_path / "home", LOGNAME="audit-explainer")
    shown = CliRunner().invoke(cli, ["explain", JANE, "--purpose", "hoperat"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "known by:" in shown.output and "MRN001" in shown.output
    (recorded,) = [e for e in query_audit(driver, database) if e.get("operation") == "explain"]
    assert (recorded["subject"], recorded["role"], recorded["channel"]) == (
        "os:audit-explainer", "admin-cli", "cli",
    )  # fmt: skip
    assert recorded["patients"] == [JANE] and recorded["purpose"] == "HOPERAT"
    # the record is chained and anchored in the command's own state directory
    assert (tmp_path / "home" / "audit-anchors").read_text().count("\n") == 1
    # why her radiology number is hers: one patient, named once
    same = CliRunner().invoke(cli, ["explain", JANE, "LAKESIDE|RAD-7"], env=env)
    assert same.exit_code == 0 and "are one Patient" in same.output, same.output
    newest = next(e for e in query_audit(driver, database) if e.get("operation") == "explain")
    assert newest["patients"] == [JANE] and newest["id"] != recorded["id"]


def test_caregraph_explain_prints_nothing_when_it_cannot_be_audited(
    dataset: Driver, neo4j_conn: Neo4jSettings, tmp_path: Path
) -> None:
    """The anchor cannot be written (the state directory sits under a file)."""
    (tmp_path / "file").write_text("")
    env = cli_env(neo4j_conn, tmp_path / "file" / "home", CAREGRAPH_AUDIT_KEY="k" * 32)
    shown = CliRunner().invoke(cli, ["explain", JANE], env=env)
    assert shown.exit_code == 2
    assert "could not be recorded in the audit log" in shown.output
    assert "MRN001" not in shown.output and "known by" not in shown.output
