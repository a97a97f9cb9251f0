"""The typed per-request context that every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from neo4j import AsyncDriver, Driver
from strawberry.fastapi import BaseContext

from caregraph.api.access.policy import NOBODY, AccessPolicy, FieldPolicy, Narrowed, for_role
from caregraph.api.access.projections import projection
from caregraph.api.access.pseudonyms import Pseudonyms
from caregraph.api.admission import Gate, RateLimits
from caregraph.api.auth import Authenticator, Principal
from caregraph.api.availability import Breaker
from caregraph.api.cursors import Cursors
from caregraph.api.dataloaders import Loaders
from caregraph.api.fanout import FanoutCache
from caregraph.api.settings import ApiSettings
from caregraph.graph.anchors import Anchors
from caregraph.graph.keys_and_audit import AuditWriter
from caregraph.graph.readers import Reader
from caregraph.graph.settings import Settings

_SHARED_FANOUT = FanoutCache()


@dataclass
class Context(BaseContext):
    """What a resolver may use: the reader, its per-request DataLoaders, the limits, and who
    is asking: ``principal`` (None: nobody is authenticated, and nothing can be read), whose
    role's policy is ``policy``; ``purpose`` (of use, from ``X-Purpose-Of-Use``) and
    ``channel`` (graphql, mcp-http, mcp-stdio) go into the audit record.

    ``narrow`` may hide more than the role does (never less); ``breaker`` is the worker's
    view of whether Neo4j answers (api/availability.py); ``anchors`` is where the audit
    anchors its chain outside Neo4j (graph/anchors.py); ``audit_writer`` is the worker's
    audit writer, whose batches its requests share."""

    driver: Driver
    database: str
    settings: ApiSettings = field(default_factory=ApiSettings)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    principal: Principal | None = None
    purpose: str | None = None
    channel: str = "graphql"
    pseudonyms: Pseudonyms | None = None
    narrow: FieldPolicy | None = None
    fanout: FanoutCache = field(default_factory=lambda: _SHARED_FANOUT)
    breaker: Breaker = field(default_factory=Breaker)
    # where the audit anchors its chain (a context made outside Services: the environment's)
    anchors: Anchors = field(default_factory=lambda: Anchors.open(Settings()))
    audit_writer: AuditWriter | None = None
    async_driver: AsyncDriver | None = None  # the service's, on its event loop (Services)
    # the searches this operation ran (response path -> terms and the keys returned): the
    # audit records them as searches (api/search.py, api/audit.py)
    searches: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the compiled path's reads of this request, by plan (None: given up, the reference path
    # reads it): a document that graphql-core executes after api/direct.py gave up on it does
    # not try them again (api/compiled.py)
    compiled_reads: dict[Any, Any] = field(default_factory=dict)
    # whether api/direct.py answered, not graphql-core's execution (tests and logs read it)
    answered_directly: bool = False

    def __post_init__(self) -> None:
        super().__init__()

    @cached_property
    def audit(self) -> AuditWriter:
        """Where this request's audit record goes: the worker's writer, or (a context made
        outside Services) one of its own."""
        return self.audit_writer or AuditWriter(self.driver, self.database, self.anchors)

    @cached_property
    def policy(self) -> AccessPolicy:
        """What the caller may read: their role's row of the table (api/access/policy.py)."""
        base = for_role(self.principal.role) if self.principal else NOBODY
        return Narrowed(base, self.narrow) if self.narrow is not None else base

    @cached_property
    def reader(self) -> Reader:
        """This request's reader, as the caller may see the graph: its round trips are
        counted, its reads share one deadline, and it notes the patients it read."""
        pseudonyms = self.pseudonyms
        if pseudonyms is None and self.settings.pseudonym_key is not None:
            pseudonyms = Pseudonyms(self.settings.pseudonym_key.get_secret_value().encode())
        return Reader(
            self.driver,
            self.database,
            self.settings.query_timeout_s,
            projection(self.policy),
            pseudonyms,
            self.async_driver,
        )

    @cached_property
    def cursors(self) -> Cursors:
        """The cursor codec: cursors are encrypted, since positions hold keys."""
        key = self.settings.cursor_key
        return Cursors(key.get_secret_value() if key else None)

    @cached_property
    def loaders(self) -> Loaders:
        """DataLoaders made for this request only, so nothing is cached across callers."""
        return Loaders(self.reader)


@dataclass
class Services:
    """What every request's context is made from, made once at the edge (the app's lifespan,
    the MCP command) and closed there."""

    driver: Driver
    database: str
    settings: ApiSettings
    pseudonyms: Pseudonyms
    authenticator: Authenticator
    anchors: Anchors
    fanout: FanoutCache = field(default_factory=FanoutCache)
    breaker: Breaker = field(default_factory=Breaker)  # per worker: Services is made per process
    gate: Gate = field(init=False)  # requests in flight and queued, per worker
    rates: RateLimits = field(init=False)  # per caller, per worker
    audit: AuditWriter = field(init=False)  # per worker too: its requests' records in batches
    # the compiled path's one statement per request, on the event loop (made on the loop that
    # serves the requests: the app's lifespan, `caregraph mcp`); None: in a thread through
    # ``driver``
    async_driver: AsyncDriver | None = None

    def __post_init__(self) -> None:
        self.breaker.open_s = self.settings.unavailable_retry_after_s
        self.gate = Gate(self.settings)
        self.rates = RateLimits(self.settings.rate_limit)
        self.audit = AuditWriter(
            self.driver, self.database, self.anchors, self.settings.audit_batch_max
        )

    def context(
        self,
        principal: Principal | None,
        *,
        request_id: str | None = None,
        purpose: str | None = None,
        channel: str = "graphql",
    ) -> Context:
        """A request's context for this caller."""
        return Context(
            driver=self.driver,
            database=self.database,
            settings=self.settings,
            request_id=request_id or uuid.uuid4().hex,
            principal=principal,
            purpose=purpose,
            channel=channel,
            pseudonyms=self.pseudonyms,
            fanout=self.fanout,
            breaker=self.breaker,
            anchors=self.anchors,
            audit_writer=self.audit,
            async_driver=self.async_driver,
        )
