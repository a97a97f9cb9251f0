"""Settings of the API service, read once at the edge (CLI command or FastAPI lifespan)."""

from __future__ import annotations

from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """Where the service listens and how it bounds work (every guardrail is on by default)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    # with --workers, uvicorn's parent kills a worker that has not answered its ping within
    # this and spawns another: on a busy host a new worker imports the app for longer than
    # uvicorn's default 5 s, and would be killed and spawned again and again
    worker_healthcheck_s: int = Field(
        default=60, ge=1, description="seconds a new worker may take to start before it is replaced"
    )
    # what the service logs: a line per request (uvicorn's access log) and per audited read
    # (INFO) by default; at WARNING, or with the access log off, those lines are not made at
    # all (a disabled logger's call returns at its level check), which a busy service may want:
    # the audit itself is in Neo4j whatever is logged
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = Field(default=True, description="a line per HTTP request (uvicorn's)")
    # -- guardrails: a query over one of them is refused before it runs ----------------------
    query_timeout_s: float = Field(10.0, gt=0, description="seconds for a whole request")
    # a root lookup whose document the planner covers is read in one statement
    # (api/compiled.py); off: one round trip per GraphQL level, the reference path
    compiled_reads: bool = Field(True, description="read covered documents in one statement")
    compiled_budget_s: float = Field(
        3.0, gt=0, description="seconds the one statement may take before the reference reads"
    )
    # a covered document is answered by api/direct.py, not by graphql-core's execution of a
    # resolver per field (same resolvers, same answer); off: graphql-core executes every document
    direct_answers: bool = Field(True, description="answer covered documents directly")
    # off: the first request of a new shape reads the reference way while Neo4j plans the
    # statement in the background (graph/compiled.py, Planner); on: it waits for the plan
    compiled_wait_for_plan: bool = Field(
        False, description="a new shape's first request waits for Neo4j to plan its statement"
    )
    max_depth: int = Field(16, ge=1, description="query depth (a connection is 3 levels)")
    max_aliases: int = Field(30, ge=0, description="aliases in one query")
    max_tokens: int = Field(3000, ge=10, description="tokens of one query document")
    max_page_size: int = Field(100, ge=1, description="`first` of a connection")
    default_page_size: int = Field(20, ge=1, description="`first` when the caller gives none")
    max_cost: float = Field(25_000, gt=0, description="estimated nodes one query reads")
    fanout_ttl_s: float = Field(60.0, ge=0, description="seconds the graph's fan-out is cached")
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="request body bytes, counted as it streams (413)"
    )
    max_json_depth: int = Field(64, ge=2, description="nesting of a JSON body (400)")
    # -- admission: per worker, a request beyond these is refused with 503 OVERLOADED --------
    # (a handful in flight: a worker's Python is one core, the rest waits on Neo4j; more in
    # flight only made every answer later and refusals slow, measured by bench/overload.py)
    max_in_flight: int = Field(4, ge=1, description="requests running, per worker")
    # the wait (below) is what bounds a request's time; the count only bounds what a worker
    # holds. The kernel does not hand a burst of new connections out evenly to the workers:
    # with 16, 32 bench clients on two workers once overflowed one of them (25 refusals in 5 s
    # while the other had room, make bench 2026-12-05), so the count is well above the clients
    # a worker takes its share of
    max_queued: int = Field(64, ge=0, description="requests waiting for a place, per worker")
    max_queue_wait_s: float = Field(0.5, gt=0, description="seconds a request may wait")
    overload_retry_after_s: float = Field(1.0, gt=0, description="Retry-After of a refusal")
    rate_limit: str = Field(
        "",
        description='per caller and per worker, e.g. "20/second;600/minute" (429); "" none',
    )
    # -- Neo4j unavailable: a 503 with Retry-After, fast --------------------------------------
    # the API's driver gives up on getting a connection after this (a pool exhausted, or a
    # server that does not answer), and does not retry a failed read: the caller retries
    neo4j_acquisition_timeout_s: float = Field(
        2.0, gt=0, description="seconds to get a Neo4j connection (then 503)"
    )
    neo4j_connection_timeout_s: float = Field(
        2.0, gt=0, description="seconds to open a Neo4j connection"
    )
    neo4j_max_retry_s: float = Field(0.0, ge=0, description="driver retries of a failed read")
    unavailable_retry_after_s: float = Field(
        5.0, gt=0, description="seconds a worker refuses at once after Neo4j failed, then probes"
    )
    # cursors are encrypted; give every process of one API the same key (default: per process)
    cursor_key: SecretStr | None = None
    # -- access ------------------------------------------------------------------------------
    # the HMAC key of pseudonymous keys shown to analysts (default: generated once into the
    # state directory); give every process of one API the same key
    pseudonym_key: SecretStr | None = None
    # a worker trusts an API key it verified for this long without asking Neo4j (0: asks on
    # every request); failures are never kept
    key_cache_s: float = Field(
        default=5.0, ge=0, description="seconds a worker trusts a key it verified (0: never)"
    )
    # a worker with cached keys reads the revocation counter at most this often, so a revoked
    # key is refused by every worker within it
    key_revocation_poll_s: float = Field(
        default=1.0, gt=0, description="seconds until every worker refuses a revoked key"
    )
    # -- audit -------------------------------------------------------------------------------
    # the most read-audit records one transaction appends (a worker's concurrent requests)
    audit_batch_max: int = Field(
        default=64, ge=1, description="audit records one transaction appends (group commit)"
    )
    # -- patientContext ----------------------------------------------------------------------
    context_default_budget: int = Field(2000, ge=50, description="tokens, when none is given")
    context_max_budget: int = Field(32_000, ge=50, description="tokens of one context")
    context_max_events: int = Field(500, ge=1, description="events read per call")

    def driver_timeouts(self) -> dict[str, float]:
        """The API's driver timeouts (graph.driver.open_driver's keywords): short, and no
        retries, so that a request finds out at once that Neo4j is gone."""
        return {
            "connection_timeout": self.neo4j_connection_timeout_s,
            "acquisition_timeout": self.neo4j_acquisition_timeout_s,
            "max_retry_time": self.neo4j_max_retry_s,
        }

    @field_validator("rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        if value.strip():
            parse_many(value)  # a ValueError names what it could not read
        return value
