"""The typed per-request context that every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property

from neo4j import Driver
from strawberry.fastapi import BaseContext

from api.auth import Principal
from api.cursors import Cursors
from api.dataloaders import Loaders
from api.fanout import FanoutCache
from api.policy import ALLOW_ALL, FieldPolicy
from api.settings import ApiSettings
from graph.readers import Reader

_SHARED_FANOUT = FanoutCache()


@dataclass
class Context(BaseContext):
    """What a resolver may use: the reader, its per-request DataLoaders, the limits, and who
    is asking (``principal``, with the ``policy`` of fields they may read; both are filled in
    by authentication, and allow everything until it is configured)."""

    driver: Driver
    database: str
    settings: ApiSettings = field(default_factory=ApiSettings)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    principal: Principal | None = None
    policy: FieldPolicy = ALLOW_ALL
    fanout: FanoutCache = field(default_factory=lambda: _SHARED_FANOUT)

    def __post_init__(self) -> None:
        super().__init__()

    @cached_property
    def reader(self) -> Reader:
        """This request's reader: its round trips are counted, its reads share one deadline."""
        return Reader(self.driver, self.database, self.settings.query_timeout_s)

    @cached_property
    def cursors(self) -> Cursors:
        """The cursor codec: cursors are encrypted, since positions hold keys."""
        key = self.settings.cursor_key
        return Cursors(key.get_secret_value() if key else None)

    @cached_property
    def loaders(self) -> Loaders:
        """DataLoaders made for this request only, so nothing is cached across callers."""
        return Loaders(self.reader)
