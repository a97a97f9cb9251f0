"""Settings of the API service, read once at the edge (CLI command or FastAPI lifespan)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Where the service listens and how it bounds work (every guardrail is on by default)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # -- guardrails: a query over one of them is refused before it runs ----------------------
    query_timeout_s: float = Field(default=10.0, gt=0)  # whole request, every read within it
    max_depth: int = Field(default=16, ge=1)  # a traversal through a connection is 3 levels
    max_aliases: int = Field(default=30, ge=0)
    max_tokens: int = Field(default=3000, ge=10)
    max_page_size: int = Field(default=100, ge=1)  # `first` above it is refused
    default_page_size: int = Field(default=20, ge=1)  # `first` when the caller gives none
    max_cost: float = Field(default=25_000, gt=0)  # estimated nodes read by one query
    fanout_ttl_s: float = Field(default=60.0, ge=0)  # how long the graph's fan-out is cached
    # a request body over this is refused with 413 before it is parsed (counted as it streams)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=2)  # nesting of a JSON body: deeper is a 400
    # -- Neo4j unavailable: a 503 with Retry-After, fast --------------------------------------
    # the API's driver gives up on getting a connection after this (a pool exhausted, or a
    # server that does not answer), and does not retry a failed read: the caller retries
    neo4j_acquisition_timeout_s: float = Field(default=2.0, gt=0)
    neo4j_connection_timeout_s: float = Field(default=2.0, gt=0)
    neo4j_max_retry_s: float = Field(default=0.0, ge=0)
    # after Neo4j failed, every request of this worker is refused at once for this long, then
    # one probes; it is also the Retry-After the 503 carries
    unavailable_retry_after_s: float = Field(default=5.0, gt=0)
    # cursors are encrypted; give every process of one API the same key (default: per process)
    cursor_key: SecretStr | None = None
    # -- access ------------------------------------------------------------------------------
    # the HMAC key of pseudonymous keys shown to analysts (default: generated once into the
    # state directory); give every process of one API the same key
    pseudonym_key: SecretStr | None = None
    # a worker trusts an API key it verified for this long without asking Neo4j (0: asks on
    # every request); failures are never kept
    key_cache_s: float = Field(default=5.0, ge=0)
    # a worker with cached keys reads the revocation counter at most this often, so a revoked
    # key is refused by every worker within it
    key_revocation_poll_s: float = Field(default=1.0, gt=0)
    # -- audit -------------------------------------------------------------------------------
    # the most read-audit records one transaction appends (a worker's concurrent requests)
    audit_batch_max: int = Field(default=64, ge=1)
    # -- patientContext ----------------------------------------------------------------------
    context_default_budget: int = Field(default=2000, ge=50)  # tokens, when none is given
    context_max_budget: int = Field(default=32_000, ge=50)
    context_max_events: int = Field(default=500, ge=1)  # events read per call at most
