"""Who is calling: API keys and OAuth2/OIDC bearer JWTs, resolved to a Principal with a role.

    AuthError
    ├── MissingCredentials   no Authorization header (or X-API-Key)
    └── InvalidCredentials   unknown, revoked, tampered or expired

API keys look like ``cg_<keyId>_<secret>``. Only the SHA-256 of the secret is stored: the
secret is 32 random bytes, so a slow password hash would add latency without adding safety
(nobody can guess 256 bits), which is why this is not scrypt/argon2.

A service worker keeps the keys it verified for ``key_cache_s`` (5 s), so a request with a
known key costs no round trip to Neo4j; a failure is never kept, so an unknown or wrong key is
asked every time. Revocation reaches every worker within ``key_revocation_poll_s`` (1 s): a
worker that answers from its cache reads the revocation counter (the number of revoked keys and
the latest revocation time) at most that often and drops everything it cached when the counter
changed. The cache time bounds what the counter does not see, such as a key deleted by hand.
The command line and the stdio MCP server keep nothing: they ask Neo4j every time.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from neo4j import Driver
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from caregraph.graph import keys_and_audit as store

KEY_PREFIX = "cg_"


class Role(enum.StrEnum):
    """What a caller may read."""

    clinician = "clinician"  # clinical data and demographics
    billing = "billing"  # claims, coverage, demographics
    analyst = "analyst"  # no direct identifiers: names, identifiers, exact birth dates hidden
    admin = "admin"  # everything, and the audit log
    steward = "steward"  # identity review: demographics, identifiers, candidates, decisions


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    subject: str  # "key:<keyId>" or the JWT's issuer + subject
    role: Role
    method: str  # "api-key" or "jwt"
    name: str | None = None


class AuthError(Exception):
    """The caller is not authenticated."""


class MissingCredentials(AuthError):
    def __init__(self) -> None:
        super().__init__("credentials required: send 'Authorization: Bearer <key or token>'")


class InvalidCredentials(AuthError):
    def __init__(self, why: str = "invalid credentials") -> None:
        super().__init__(why)


class OidcSettings(BaseSettings):
    """Trusted OIDC issuer for bearer JWTs (off unless CAREGRAPH_OIDC_ISSUER is set)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_OIDC_", extra="ignore")

    issuer: str | None = None
    jwks_url: str | None = None
    audience: str | None = "caregraph"
    role_claim: str = "caregraph_role"
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    leeway_s: int = 30


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class _Cached:
    secret_hash: str
    principal: Principal
    until: float  # on the store's clock


class KeyStore:
    """API keys, stored hashed in Neo4j; with ``cache_s`` above 0, verified keys are kept that
    long per process (a service worker), and revocations polled every ``poll_s`` seconds.

    A poll and a key lookup are read transactions; ``round_trips`` counts them."""

    # a bound on the cache, far above the keys one deployment uses; only keys that verified
    # get in, so a caller cannot fill it with made-up ones
    MAX_CACHED = 10_000

    def __init__(
        self,
        driver: Driver,
        database: str,
        *,
        cache_s: float = 0.0,
        poll_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.driver = driver
        self.database = database
        self.cache_s = cache_s
        self.poll_s = poll_s
        self.clock = clock
        self.round_trips = 0
        self._lock = threading.Lock()
        self._cache: dict[str, _Cached] = {}
        self._revocations: store.Revocations | None = None  # the counter as last read
        # when the counter was last read; a breaker's probe (api/availability.py) comes after
        # a pause longer than poll_s, so even a probe answered from the cache asks Neo4j
        self._polled = -math.inf

    def create(self, role: Role, name: str) -> str:
        """Make a key and return it in full: the only time its secret is seen."""
        store.ensure_schema(self.driver, self.database)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        store.create_key(self.driver, self.database, key_id, name, role.value, _hash(secret))
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def verify(self, presented: str) -> Principal:
        key_id, secret_hash = _parts(presented)
        cached = self._cached(key_id, secret_hash) if self.cache_s > 0 else None
        if cached is not None:
            return cached
        found = store.find_key(self.driver, self.database, key_id)
        self._saw(found.revocations)
        key = found.key
        if key is None or not hmac.compare_digest(key["secretHash"], secret_hash):
            raise InvalidCredentials("unknown API key")
        if key.get("revokedAt") is not None:
            raise InvalidCredentials("this API key was revoked")
        principal = Principal(f"key:{key_id}", Role(key["role"]), "api-key", key.get("name"))
        if self.cache_s > 0:
            until = self.clock() + self.cache_s
            self._keep(key_id, _Cached(secret_hash, principal, until), found.revocations)
        return principal

    def verified(self, presented: str) -> Principal | None:
        """The key's principal if this worker verified it within the cache time and the
        revocation counter is not due to be read: an answer without a round trip, which a
        coroutine can take without a thread. None: :meth:`verify` must ask Neo4j (or the key
        is unknown here)."""
        if self.cache_s <= 0:
            return None
        return self._cached(*_parts(presented), poll=False)

    def _cached(self, key_id: str, secret_hash: str, *, poll: bool = True) -> Principal | None:
        """The key's principal if this worker verified it within the cache time and no
        revocation happened since (polling the counter when it is due; without ``poll``, None
        then), else None."""
        now = self.clock()
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is None or now >= entry.until:
                self._cache.pop(key_id, None)
                return None
            due = now - self._polled >= self.poll_s
            if due and not poll:
                return None
            if due:
                self._polled = now  # one thread polls; the others answer meanwhile
        if due:
            self._saw(store.revocations(self.driver, self.database))
            with self._lock:
                entry = self._cache.get(key_id)
            if entry is None:
                return None
        # a wrong secret for a cached key id is asked of Neo4j like any failure
        if not hmac.compare_digest(entry.secret_hash, secret_hash):
            return None
        return entry.principal

    def _saw(self, revocations: store.Revocations) -> None:
        """After a round trip, the counter as Neo4j gave it: if it changed, whatever was
        cached may be revoked now."""
        with self._lock:
            self.round_trips += 1
            self._polled = max(self._polled, self.clock())
            if revocations != self._revocations:
                self._revocations = revocations
                self._cache.clear()

    def _keep(self, key_id: str, entry: _Cached, revocations: store.Revocations) -> None:
        with self._lock:
            if revocations != self._revocations:
                return  # a poll in between saw another counter: verified against an old one
            if len(self._cache) >= self.MAX_CACHED:
                now = self.clock()
                self._cache = {k: v for k, v in self._cache.items() if v.until > now}
                if len(self._cache) >= self.MAX_CACHED:
                    return
            self._cache[key_id] = entry

    def list(self) -> list[dict[str, Any]]:
        return store.list_keys(self.driver, self.database)

    def revoke(self, key_id: str) -> bool:
        """Revoke a key: at once in this process, within the poll interval in every other."""
        with self._lock:
            self._cache.pop(key_id, None)
        return store.revoke_key(self.driver, self.database, key_id)


class JwtVerifier:
    """Bearer JWTs from one trusted issuer, checked against its JWKS."""

    def __init__(self, settings: OidcSettings) -> None:
        if not settings.issuer or not settings.jwks_url:
            raise ValueError("OIDC needs both CAREGRAPH_OIDC_ISSUER and CAREGRAPH_OIDC_JWKS_URL")
        self.settings = settings
        self.jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300)

    def verify(self, token: str) -> Principal:
        s = self.settings
        try:
            signing_key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=s.algorithms,
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_s,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise InvalidCredentials("the token has expired") from e
        except (jwt.PyJWTError, ValueError) as e:
            raise InvalidCredentials("the token could not be verified") from e
        try:
            role = Role(str(claims.get(s.role_claim, "")))
        except ValueError as e:
            raise InvalidCredentials(f"the token's '{s.role_claim}' claim names no role") from e
        return Principal(f"{claims['iss']}#{claims['sub']}", role, "jwt", claims.get("name"))


class Authenticator:
    """Turns request credentials into a Principal."""

    def __init__(self, keys: KeyStore, jwt_verifier: JwtVerifier | None = None) -> None:
        self.keys = keys
        self.jwt = jwt_verifier

    def verified(self, authorization: str | None, api_key: str | None = None) -> Principal | None:
        """The principal when an API key this worker verified moments ago answers it, without
        a round trip (see :meth:`KeyStore.verified`); None when :meth:`authenticate` must be
        asked (in a thread: it may wait on Neo4j or an identity provider). Malformed
        credentials are refused here as there."""
        presented = _presented(authorization, api_key)
        return self.keys.verified(presented) if presented.startswith(KEY_PREFIX) else None

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        presented = _presented(authorization, api_key)
        if presented.startswith(KEY_PREFIX):
            return self.keys.verify(presented)
        if self.jwt is None:
            raise InvalidCredentials("bearer JWTs are not accepted: no OIDC issuer configured")
        return self.jwt.verify(presented)


def _presented(authorization: str | None, api_key: str | None) -> str:
    """The credential a request presents: a bearer value, else an X-API-Key."""
    presented = api_key
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise InvalidCredentials("use 'Authorization: Bearer <key or token>'")
        presented = value.strip()
    if not presented:
        raise MissingCredentials()
    return presented


def _parts(presented: str) -> tuple[str, str]:
    """An API key's id and the hash of its secret."""
    try:
        key_id, secret = presented.removeprefix(KEY_PREFIX).split("_", 1)
    except ValueError as e:
        raise InvalidCredentials("malformed API key") from e
    return key_id, _hash(secret)
