"""Authentication: API keys (hashed, revocable) and bearer JWTs from a test issuer."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from neo4j import Driver
from typer.testing import CliRunner

from caregraph.api.app import create_app
from caregraph.api.auth import (
    Authenticator,
    InvalidCredentials,
    JwtVerifier,
    KeyStore,
    MissingCredentials,
    OidcSettings,
    Role,
)
from caregraph.api.cli.main import app
from caregraph.api.settings import ApiSettings
from caregraph.graph.keys_and_audit import query_audit
from caregraph.graph.settings import Neo4jSettings
from tests.api.conftest import KeyMaker, bearer
from tests.conftest import neo4j_env

ISSUER = "https://idp.test.invalid/realms/caregraph"


@pytest.fixture
def keys(clean_graph: Driver, database: str) -> KeyStore:
    return KeyStore(clean_graph, database)


def test_a_key_is_stored_hashed_and_resolves_to_its_role(
    keys: KeyStore, clean_graph: Driver, database: str
) -> None:
    key = keys.create(Role.billing, "claims-bot")
    principal = keys.verify(key)
    assert principal.role is Role.billing and principal.method == "api-key"
    secret = key.split("_", 2)[2]
    records, _, _ = clean_graph.execute_query(
        "MATCH (k:ApiKey) RETURN properties(k) AS p", database_=database
    )
    stored = json.dumps([str(r["p"]) for r in records])
    assert secret not in stored  # only the hash is kept


def test_a_revoked_key_stops_working_at_once(keys: KeyStore) -> None:
    key = keys.create(Role.clinician, "nurse-station")
    keys.verify(key)
    assert keys.revoke(key.split("_")[1])
    with pytest.raises(InvalidCredentials, match="revoked"):
        keys.verify(key)


def test_unknown_and_malformed_keys_are_refused(keys: KeyStore) -> None:
    key = keys.create(Role.analyst, "a")
    with pytest.raises(InvalidCredentials):
        keys.verify(key[:-2] + "xx")
    with pytest.raises(InvalidCredentials):
        keys.verify("cg_nonsense")
    with pytest.raises(MissingCredentials):
        Authenticator(keys).authenticate(None)


# -- the key cache ---------------------------------------------------------------------------


class Clock:
    """The time a KeyStore sees, moved by the test: nothing here sleeps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


TTL, POLL = 5.0, 1.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


def worker(driver: Driver, database: str, clock: Clock) -> KeyStore:
    """A service worker's key store: keys cached for TTL s, revocations polled every POLL s."""
    return KeyStore(driver, database, cache_s=TTL, poll_s=POLL, clock=clock)


def test_a_cached_key_is_used_without_a_round_trip_to_neo4j(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    cached = worker(clean_graph, database, clock)
    key = keys.create(Role.billing, "claims-bot")
    assert cached.verify(key).role is Role.billing
    assert cached.round_trips == 1
    for _ in range(50):
        clock.advance(POLL / 100)
        assert cached.verify(key).subject == f"key:{key.split('_')[1]}"
    assert cached.round_trips == 1  # fifty checks within the poll interval: none asked Neo4j


def test_a_key_verified_moments_ago_is_answered_without_waiting_until_the_poll_is_due(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    """What the service answers on its event loop, without a thread: only a key this worker
    verified, with its own secret, while the revocation counter is not due to be read."""
    cached = worker(clean_graph, database, clock)
    key = keys.create(Role.billing, "claims-bot")
    assert cached.verified(key) is None  # never verified here: Neo4j must be asked
    cached.verify(key)
    assert cached.verified(key) == cached.verify(key)
    key_id, secret = key.removeprefix("cg_").split("_", 1)
    assert cached.verified(f"cg_{key_id}_{secret[::-1]}") is None  # another secret: asked
    clock.advance(POLL)
    assert cached.verified(key) is None  # the counter is due: the thread reads it
    keys.revoke(key_id)
    with pytest.raises(InvalidCredentials, match="revoked"):
        cached.verify(key)
    assert cached.verified(key) is None
    with pytest.raises(InvalidCredentials, match="malformed"):
        cached.verified("cg_nounderscore")


def test_a_revoked_key_is_refused_by_every_worker_within_the_poll_interval(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    """Revoked by `caregraph auth revoke` (another KeyStore, as another process): each worker
    finds the revocation counter changed at its next poll and drops what it cached."""
    workers = [worker(clean_graph, database, clock) for _ in range(2)]
    key = keys.create(Role.clinician, "nurse-station")
    other = keys.create(Role.clinician, "ward-tablet")
    for w in workers:
        w.verify(key)
        w.verify(other)
    keys.revoke(key.split("_")[1])
    clock.advance(POLL / 2)
    assert all(w.verify(key).role is Role.clinician for w in workers)  # not polled yet
    clock.advance(POLL / 2)
    for w in workers:
        with pytest.raises(InvalidCredentials, match="revoked"):
            w.verify(key)
        assert w.verify(other).role is Role.clinician  # asked again, and still good
        assert w.round_trips == 2 + 1 + 2  # two lookups, one poll, both keys again


def test_a_revocation_made_by_hand_in_neo4j_is_seen_too(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    """The counter is the revoked keys themselves, so a revocation made in Neo4j Browser is
    noticed like one made by caregraph."""
    cached = worker(clean_graph, database, clock)
    key = keys.create(Role.admin, "ops")
    cached.verify(key)
    clean_graph.execute_query(
        "MATCH (k:ApiKey {keyId: $id}) SET k.revokedAt = datetime()",
        id=key.split("_")[1],
        database_=database,
    )
    clock.advance(POLL)
    with pytest.raises(InvalidCredentials, match="revoked"):
        cached.verify(key)


def test_what_the_counter_cannot_see_is_bounded_by_the_cache_time(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    """A key deleted from Neo4j by hand is no revocation: a worker that cached it accepts it
    until its cache time is up, never longer."""
    cached = worker(clean_graph, database, clock)
    key = keys.create(Role.analyst, "notebook")
    cached.verify(key)
    clean_graph.execute_query(
        "MATCH (k:ApiKey {keyId: $id}) DETACH DELETE k", id=key.split("_")[1], database_=database
    )
    clock.advance(TTL - 0.5)
    assert cached.verify(key).role is Role.analyst  # polled (no revocation): still cached
    clock.advance(0.5)
    with pytest.raises(InvalidCredentials, match="unknown"):
        cached.verify(key)


def test_failures_are_never_cached_an_unknown_key_is_asked_every_time(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    cached = worker(clean_graph, database, clock)
    key = keys.create(Role.clinician, "kiosk")
    cached.verify(key)
    asked = cached.round_trips
    wrong_secret = key[:-3] + "xyz"  # a known key id: its cached entry must not answer
    unknown = "cg_000000000000_" + key.split("_", 2)[2]
    for presented in (wrong_secret, unknown) * 3:
        with pytest.raises(InvalidCredentials, match="unknown"):
            cached.verify(presented)
    assert cached.round_trips == asked + 6
    with pytest.raises(InvalidCredentials, match="malformed"):
        cached.verify("cg_nonsense")  # refused before any lookup
    assert cached.round_trips == asked + 6


def test_with_the_cache_off_every_check_asks_neo4j(
    keys: KeyStore, clean_graph: Driver, database: str, clock: Clock
) -> None:
    uncached = KeyStore(clean_graph, database, cache_s=0, clock=clock)
    key = keys.create(Role.billing, "batch")
    for _ in range(3):
        uncached.verify(key)
    assert uncached.round_trips == 3
    keys.revoke(key.split("_")[1])
    with pytest.raises(InvalidCredentials, match="revoked"):
        uncached.verify(key)  # at once, the clock standing still


def test_a_key_revoked_by_the_workers_own_store_is_dropped_at_once(
    clean_graph: Driver, database: str, clock: Clock
) -> None:
    cached = worker(clean_graph, database, clock)
    key = cached.create(Role.clinician, "self")
    cached.verify(key)
    cached.revoke(key.split("_")[1])
    with pytest.raises(InvalidCredentials, match="revoked"):
        cached.verify(key)


def test_the_service_caches_keys_by_default_and_a_setting_turns_it_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ApiSettings().key_cache_s == 5.0 and ApiSettings().key_revocation_poll_s == 1.0
    monkeypatch.setenv("CAREGRAPH_API_KEY_CACHE_S", "0")
    assert ApiSettings().key_cache_s == 0


def test_cli_creates_lists_and_revokes_keys(clean_graph: Driver, neo4j_conn: Neo4jSettings) -> None:
    env = {
        **neo4j_env(neo4j_conn),
    }
    runner = CliRunner()
    created = runner.invoke(
        app, ["auth", "create-key", "--role", "admin", "--name", "ops"], env=env
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip()
    assert key.startswith("cg_")
    listed = runner.invoke(app, ["auth", "list"], env=env)
    key_id = key.split("_")[1]
    assert key_id in listed.output and "admin" in listed.output and "active" in listed.output
    assert key.split("_", 2)[2] not in listed.output
    revoked = runner.invoke(app, ["auth", "revoke", key_id], env=env)
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(app, ["auth", "list"], env=env).output


# -- JWT -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def issuer() -> Iterator[dict[str, Any]]:
    """A test OIDC issuer: an RSA key and its JWKS served on loopback."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update({"kid": "test-1", "use": "sig", "alg": "RS256"})
    body = json.dumps({"keys": [public_jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield {"private": private, "url": url}
    server.shutdown()


def token(issuer: dict[str, Any], **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "dr-house",
        "aud": "caregraph",
        "iat": now,
        "exp": now + 300,
        "caregraph_role": "clinician",
    }
    claims.update(overrides)
    return jwt.encode(claims, issuer["private"], algorithm="RS256", headers={"kid": "test-1"})


def verifier(issuer: dict[str, Any]) -> JwtVerifier:
    return JwtVerifier(OidcSettings(issuer=ISSUER, jwks_url=issuer["url"]))


def test_a_jwt_from_the_trusted_issuer_is_accepted(issuer: dict[str, Any]) -> None:
    principal = verifier(issuer).verify(token(issuer))
    assert principal.role is Role.clinician
    assert principal.subject == f"{ISSUER}#dr-house" and principal.method == "jwt"


def test_a_tampered_jwt_is_refused(issuer: dict[str, Any]) -> None:
    good = token(issuer)
    header, _payload, signature = good.split(".")
    forged_claims = jwt.decode(good, options={"verify_signature": False})
    forged_claims["caregraph_role"] = "admin"
    forged_payload = jwt.utils.base64url_encode(json.dumps(forged_claims).encode()).decode()
    with pytest.raises(InvalidCredentials, match="could not be verified"):
        verifier(issuer).verify(f"{header}.{forged_payload}.{signature}")


def test_an_expired_jwt_is_refused(issuer: dict[str, Any]) -> None:
    old = token(issuer, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    with pytest.raises(InvalidCredentials, match="expired"):
        verifier(issuer).verify(old)


def test_a_jwt_from_another_issuer_or_without_a_role_is_refused(issuer: dict[str, Any]) -> None:
    with pytest.raises(InvalidCredentials):
        verifier(issuer).verify(token(issuer, iss="https://evil.invalid"))
    with pytest.raises(InvalidCredentials, match="names no role"):
        verifier(issuer).verify(token(issuer, caregraph_role="superuser"))


# -- over HTTP -------------------------------------------------------------------------------

PATIENT_QUERY = '{ patient(identifier: "HOSP|MRN001") { name { text } birthDate } }'


@pytest.fixture
def http(
    dataset: Driver, neo4j_conn: Neo4jSettings, issuer: dict[str, Any]
) -> Iterator[TestClient]:
    """The service on the API dataset, trusting the test issuer's JWTs."""
    oidc = OidcSettings(issuer=ISSUER, jwks_url=issuer["url"])
    with TestClient(create_app(neo4j_conn, oidc=oidc)) as client:
        yield client


def test_nothing_is_read_without_credentials(http: TestClient) -> None:
    asked = [
        http.post("/graphql", json={"query": PATIENT_QUERY}),
        http.get("/graphql", params={"query": PATIENT_QUERY}, headers={"Accept": "*/*"}),
        http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    ]
    for response in asked:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="caregraph"'
        body = response.json()
        assert "data" not in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "JANE" not in response.text and "1980" not in response.text


def test_pages_without_data_open_without_credentials(http: TestClient) -> None:
    from caregraph.graph.browser import GUIDE_PATH, STYLE_PATH

    for path in ("/healthz", "/readyz", GUIDE_PATH, STYLE_PATH):
        assert http.get(path).status_code == 200, path
    assert http.get("/graphql", headers={"Accept": "text/html"}).status_code == 200
    assert http.get("/nowhere").status_code == 404  # not a route: nothing to protect


def test_invalid_credentials_are_refused_with_the_reason(
    http: TestClient, api_key: KeyMaker
) -> None:
    key = api_key(Role.clinician)
    for header in (f"Bearer {key[:-3]}xyz", "Bearer cg_nonsense", "Basic dXNlcjpwYXNz"):
        response = http.post(
            "/graphql", json={"query": PATIENT_QUERY}, headers={"Authorization": header}
        )
        assert response.status_code == 401, header
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert "data" not in response.json()


def test_a_key_is_accepted_as_bearer_or_x_api_key(http: TestClient, api_key: KeyMaker) -> None:
    key = api_key(Role.clinician)
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        response = http.post("/graphql", json={"query": PATIENT_QUERY}, headers=headers)
        assert response.status_code == 200
        assert response.json()["data"]["patient"] == {
            "name": {"text": "JANE DOE"},
            "birthDate": "1980-01-02",
        }


def test_a_revocation_reaches_the_service_within_the_poll_interval(
    http: TestClient, driver: Driver, database: str
) -> None:
    """The key is revoked elsewhere (as `caregraph auth revoke` does, in another process); the
    service's worker, which has the key cached, refuses it from its next poll of the
    revocation counter on."""
    service_keys: KeyStore = http.app.state.services.authenticator.keys  # type: ignore[attr-defined]
    clock = Clock(time.monotonic())
    service_keys.clock = clock
    keys = KeyStore(driver, database)
    key = keys.create(Role.clinician, "ward-tablet")
    headers = bearer(key)
    accepted = http.post("/graphql", json={"query": PATIENT_QUERY}, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["data"]["patient"], accepted.text
    keys.revoke(key.split("_")[1])
    clock.advance(ApiSettings().key_revocation_poll_s)
    refused = http.post("/graphql", json={"query": PATIENT_QUERY}, headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["errors"][0]["message"]


def test_a_jwt_from_the_test_issuer_is_accepted_over_http(
    http: TestClient, issuer: dict[str, Any], driver: Driver, database: str
) -> None:
    response = http.post(
        "/graphql",
        json={"query": PATIENT_QUERY},
        headers={"Authorization": f"Bearer {token(issuer, sub='dr-jwt')}", "X-Request-ID": "jwt-1"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["patient"]["name"]["text"] == "JANE DOE"
    (event,) = [e for e in query_audit(driver, database) if e["requestId"] == "jwt-1"]
    assert (event["subject"], event["role"], event["method"]) == (
        f"{ISSUER}#dr-jwt",
        "clinician",
        "jwt",
    )


def test_a_tampered_or_expired_jwt_is_refused_over_http(
    http: TestClient, issuer: dict[str, Any]
) -> None:
    good = token(issuer)
    header, _payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["caregraph_role"] = "admin"
    forged = (
        f"{header}.{jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()}.{signature}"
    )
    expired = token(issuer, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    for bad, why in ((forged, "could not be verified"), (expired, "expired")):
        response = http.post("/graphql", json={"query": PATIENT_QUERY}, headers=bearer(bad))
        assert response.status_code == 401 and why in response.json()["errors"][0]["message"]
        assert "data" not in response.json()


def test_an_odd_purpose_of_use_is_refused(http: TestClient, api_key: KeyMaker) -> None:
    headers = {**bearer(api_key(Role.clinician)), "X-Purpose-Of-Use": "to snoop; drop"}
    response = http.post("/graphql", json={"query": PATIENT_QUERY}, headers=headers)
    assert response.status_code == 400 and "TREAT" in response.json()["errors"][0]["message"]


def test_log_lines_carry_the_caller_and_the_request_id(
    http: TestClient, api_key: KeyMaker, caplog: pytest.LogCaptureFixture
) -> None:
    key = api_key(Role.billing)
    caplog.set_level(logging.INFO)
    http.post(
        "/graphql", json={"query": PATIENT_QUERY}, headers={**bearer(key), "X-Request-ID": "log-7"}
    )
    lines = [r for r in caplog.records if getattr(r, "request_id", None) == "log-7"]
    assert lines, "no log line of the request"
    for record in lines:
        assert record.subject == f"key:{key.split('_')[1]}" and record.role == "billing"  # type: ignore[attr-defined]
    # and the service's own handlers write them into the line
    from caregraph.api.logs import CallerFormatter

    line = CallerFormatter(logging.Formatter("%(message)s")).format(lines[-1])
    assert line.endswith(f"[request=log-7 subject=key:{key.split('_')[1]} role=billing]")


def test_every_response_says_its_request_id(http: TestClient, api_key: KeyMaker) -> None:
    response = http.post(
        "/graphql",
        json={"query": "{ service { neo4jEdition } }"},
        headers=bearer(api_key(Role.analyst)),
    )
    assert len(response.headers["x-request-id"]) == 32
    assert (
        http.get("/healthz", headers={"X-Request-ID": "probe-1"}).headers["x-request-id"]
        == "probe-1"
    )
