"""caregraph's GraphQL service as users run it: ``caregraph serve`` (uvicorn), as a child.

It gets an API key of the clinician role (``caregraph auth``'s KeyStore), sent with every
request as ``Authorization: Bearer cg_...``, so whatever authentication and the read audit
cost is measured: users cannot turn the audit off, so neither does the benchmark.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from neo4j import Driver

from bench.database import free_port
from bench.processes import Child, answers_ready, neo4j_env
from caregraph.api.auth import KEY_PREFIX, KeyStore, Role
from caregraph.graph.settings import Neo4jSettings


class Service:
    """``caregraph serve`` on 127.0.0.1 and a free port."""

    def __init__(
        self,
        logs: Path,
        home: Path,
        env: dict[str, str] | None = None,
        *,
        key_name: str = "benchmark",
        workers: int | None = None,
    ) -> None:
        self.port = free_port()
        self.env = env or {}  # settings of the service (CAREGRAPH_API_...), as a user sets them
        self.home = home  # CAREGRAPH_HOME: the service's state, apart from a user's .caregraph
        self.child = Child("caregraph-serve", logs / "caregraph-serve.log")
        self.key = ""
        self.key_name = key_name
        self.workers = workers or os.cpu_count() or 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def subject(self) -> str:
        """Who the audit records the key's reads as (``key:<keyId>``)."""
        return "key:" + self.key.removeprefix(KEY_PREFIX).split("_", 1)[0]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def start(self, conn: Neo4jSettings, driver: Driver) -> None:
        self.key = KeyStore(driver, conn.database).create(Role.clinician, self.key_name)
        exe = Path(sys.executable).with_name("caregraph")
        # one worker per core, as the README advises for a service
        args = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers)]  # fmt: skip
        env = {
            **neo4j_env(conn),
            "CAREGRAPH_HOME": str(self.home),
            **self.env,
        }
        self.child.start(args, env, self._ready, timeout_s=180.0)

    def _ready(self) -> bool:
        return answers_ready(f"http://127.0.0.1:{self.port}")

    def stop(self) -> None:
        self.child.stop()
