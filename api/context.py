"""The typed per-request context that every resolver receives."""

from __future__ import annotations

from dataclasses import dataclass

from neo4j import Driver
from strawberry.fastapi import BaseContext


@dataclass
class Context(BaseContext):
    """What a resolver may use: the shared driver and the database name."""

    driver: Driver
    database: str

    def __post_init__(self) -> None:
        super().__init__()
