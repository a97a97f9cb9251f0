"""Where caregraph's Neo4j is and how to reach it: read once, at the edge, into one object."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SIZE = re.compile(r"^\d+[kmg]$", re.IGNORECASE)


class ManagedNeo4jSettings(BaseSettings):
    """Settings of the Neo4j server that caregraph runs itself (ignored when NEO4J_URI is set)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_NEO4J_", extra="ignore")

    listen_address: str = "127.0.0.1"
    bolt_port: int = Field(default=7687, ge=1, le=65535)
    http_port: int = Field(default=7474, ge=1, le=65535)
    heap: str = "512m"
    pagecache: str = "256m"
    java: str = "java"
    # extra options for every JVM caregraph starts for this server (the server, neo4j-admin),
    # shell-quoted, after caregraph's own (so they win): e.g. "-XX:+AlwaysPreTouch -Xss2m"
    jvm_options: str = ""
    # a class-data-sharing archive of Neo4j's classes (see ManagedNeo4j.class_archive): made
    # once per machine user, then mapped by every JVM started for a server of this version
    class_archive: bool = True
    start_timeout: float = Field(default=120.0, gt=0)
    # extra neo4j.conf settings, JSON, after caregraph's own (so they win): e.g.
    # CAREGRAPH_NEO4J_CONFIG='{"server.memory.query_cache.per_db_cache_num_entries": "5000"}'
    config: dict[str, str] = Field(default_factory=dict)

    @field_validator("heap", "pagecache")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError("a memory size such as 512m or 2g")
        return value


class AnalystNeo4jSettings(ManagedNeo4jSettings):
    """Settings of the managed analyst graph's server (its own ports, store and password)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_ANALYST_NEO4J_", extra="ignore")

    bolt_port: int = Field(default=7688, ge=1, le=65535)
    http_port: int = Field(default=7475, ge=1, le=65535)


class Neo4jSettings(BaseSettings):
    """How to reach Neo4j: an external server from NEO4J_URI, or the managed one."""

    model_config = SettingsConfigDict(env_prefix="NEO4J_", extra="ignore")

    uri: str | None = None
    username: str = "neo4j"
    password: SecretStr | None = None
    database: str = "neo4j"

    @property
    def external(self) -> bool:
        """True when NEO4J_URI names a server that caregraph must use instead of its own."""
        return bool(self.uri)

    @field_validator("uri")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value and not re.match(r"^(bolt|neo4j)(\+s|\+ssc)?://", value):
            raise ValueError("NEO4J_URI must start with bolt://, neo4j://, bolt+s:// or neo4j+s://")
        return value or None


class AnalystSettings(Neo4jSettings):
    """How to reach the analyst graph: an external server from ANALYST_NEO4J_URI (read-only for
    its analysts by that deployment's own means), or the managed one."""

    model_config = SettingsConfigDict(env_prefix="ANALYST_NEO4J_", extra="ignore")


class Paths(BaseSettings):
    """The state directory (CAREGRAPH_HOME) and what lives under it."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_", extra="ignore")

    home: Path = Path(".caregraph")

    @property
    def neo4j_home(self) -> Path:
        return self.home.resolve() / "neo4j"

    @property
    def analyst_home(self) -> Path:
        """The managed analyst graph's server: a Neo4j home of its own."""
        return self.home.resolve() / "analyst-neo4j"

    @property
    def audit_anchors(self) -> Path:
        """The read audit's anchor file: one authenticated line per anchoring of a day's head."""
        return self.home.resolve() / "audit-anchors"

    @property
    def audit_key(self) -> Path:
        """The key that authenticates the anchor lines (made once, mode 0600)."""
        return self.home.resolve() / "audit-key"


class AuditSettings(BaseSettings):
    """The read audit's anchor outside Neo4j (graph/anchors.py)."""

    model_config = SettingsConfigDict(env_prefix="CAREGRAPH_AUDIT_", extra="ignore")

    # the HMAC key of the anchor lines (default: made once into <CAREGRAPH_HOME>/audit-key);
    # give every process that writes or verifies the audit the same key
    key: SecretStr | None = None
    # a process anchors a day's head after every this many of its appends (and after its
    # first append of each day, and when it closes): records after the newest anchor line are
    # chained but a deletion of them shows only against the head in Neo4j
    anchor_every: int = Field(default=1, ge=1)


class Settings:
    """Everything graph/ needs to know, read from the environment once."""

    def __init__(
        self,
        paths: Paths | None = None,
        neo4j: Neo4jSettings | None = None,
        managed: ManagedNeo4jSettings | None = None,
        audit: AuditSettings | None = None,
        analyst: AnalystSettings | None = None,
        analyst_managed: AnalystNeo4jSettings | None = None,
    ) -> None:
        self.paths = paths or Paths()
        self.neo4j = neo4j or Neo4jSettings()
        self.managed = managed or ManagedNeo4jSettings()
        self.audit = audit or AuditSettings()
        self.analyst = analyst or AnalystSettings()
        self.analyst_managed = analyst_managed or AnalystNeo4jSettings()
