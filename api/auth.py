"""Who is calling: API keys and OAuth2/OIDC bearer JWTs, resolved to a Principal with a role.

    AuthError
    ├── MissingCredentials   no Authorization header (or X-API-Key)
    └── InvalidCredentials   unknown, revoked, tampered or expired

API keys look like ``cg_<keyId>_<secret>``. Only the SHA-256 of the secret is stored: the
secret is 32 random bytes, so a slow password hash would add latency without adding safety
(nobody can guess 256 bits), which is why this is not scrypt/argon2. Keys are looked up on
every request, so a revoked key stops working at once.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from neo4j import Driver
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from graph import security as store

KEY_PREFIX = "cg_"


class Role(enum.StrEnum):
    """What a caller may read."""

    clinician = "clinician"  # clinical data and demographics
    billing = "billing"  # claims, coverage, demographics
    analyst = "analyst"  # no direct identifiers: names, identifiers, exact birth dates hidden
    admin = "admin"  # everything, and the audit log


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


class KeyStore:
    """API keys, stored hashed in Neo4j."""

    def __init__(self, driver: Driver, database: str) -> None:
        self.driver = driver
        self.database = database

    def create(self, role: Role, name: str) -> str:
        """Make a key and return it in full: the only time its secret is seen."""
        store.ensure_schema(self.driver, self.database)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        store.create_key(self.driver, self.database, key_id, name, role.value, _hash(secret))
        return f"{KEY_PREFIX}{key_id}_{secret}"

    def verify(self, presented: str) -> Principal:
        try:
            key_id, secret = presented.removeprefix(KEY_PREFIX).split("_", 1)
        except ValueError as e:
            raise InvalidCredentials("malformed API key") from e
        found = store.find_key(self.driver, self.database, key_id)
        if found is None or not hmac.compare_digest(found["secretHash"], _hash(secret)):
            raise InvalidCredentials("unknown API key")
        if found.get("revokedAt") is not None:
            raise InvalidCredentials("this API key was revoked")
        return Principal(f"key:{key_id}", Role(found["role"]), "api-key", found.get("name"))

    def list(self) -> list[dict[str, Any]]:
        return store.list_keys(self.driver, self.database)

    def revoke(self, key_id: str) -> bool:
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

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        presented = api_key
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise InvalidCredentials("use 'Authorization: Bearer <key or token>'")
            presented = value.strip()
        if not presented:
            raise MissingCredentials()
        if presented.startswith(KEY_PREFIX):
            return self.keys.verify(presented)
        if self.jwt is None:
            raise InvalidCredentials("bearer JWTs are not accepted: no OIDC issuer configured")
        return self.jwt.verify(presented)
