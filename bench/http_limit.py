"""The limit over HTTP: the bench's hand-written Cypher behind a bare ASGI endpoint.

The raw-Cypher contender measures Neo4j and the driver alone; caregraph also pays for HTTP,
uvicorn, JSON and Python per request. This contender pays for exactly those and nothing
else (no GraphQL, no authentication, no policy, no audit), so that caregraph's distance to it
is what its own work costs. It runs the very Cypher text of bench/queries.py with the same
parameters, through the async driver (no thread hop) on uvicorn with as many workers as
caregraph's service in the bench, and answers with orjson.

One route per question: ``POST /<question name>`` with the Cypher parameters as a JSON object
(date-times as ISO 8601 text) answers ``200`` with the records as a JSON list; ``GET /readyz``
answers 200 once the worker's driver has reached Neo4j.

The child is started with ``python -m uvicorn bench.http_limit:create_app --factory``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from neo4j import AsyncDriver, AsyncGraphDatabase, RoutingControl
from neo4j.time import Date, DateTime, Duration, Time

from bench import queries
from bench.database import free_port
from bench.processes import Child, answers_ready, neo4j_env
from caregraph.graph.settings import Neo4jSettings

ROOT = Path(__file__).resolve().parents[1]

# the ASGI interface's types, written out: this endpoint uses no framework on purpose
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    """One question: its Cypher, and which of its parameters are date-times (JSON has no
    date-time type, so they travel as text and are parsed back before the query)."""

    cypher: str
    datetimes: frozenset[str] = frozenset()


# the same text the raw-Cypher contender runs: bench/queries.py is its one place
ROUTES: dict[str, Route] = {
    "/patient_lookup": Route(queries.PATIENT_LOOKUP_CYPHER),
    "/patient_context": Route(queries.PATIENT_CONTEXT_CYPHER, frozenset({"from", "to"})),
    "/practitioner_traversal": Route(queries.PRACTITIONER_TRAVERSAL_CYPHER),
}


def encode_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The client's side: the Cypher parameters as JSON values (date-times as ISO text)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items()}


def decode_params(route: Route, params: Mapping[str, Any]) -> dict[str, Any]:
    """The server's side: the route's date-time parameters parsed back (to the same aware
    datetime the raw-Cypher contender passes)."""
    return {k: datetime.fromisoformat(v) if k in route.datetimes else v for k, v in params.items()}


def json_default(value: Any) -> Any:
    """What orjson cannot write by itself: the driver's temporal types, as ISO text."""
    if isinstance(value, DateTime | Date | Time | Duration):
        return value.iso_format()
    raise TypeError(f"not JSON: {type(value).__name__}")


def to_json(records: list[dict[str, Any]]) -> bytes:
    """The answer's body: the records as a JSON list."""
    return orjson.dumps(records, default=json_default)


class HttpLimit:
    """The ASGI application: one driver per worker, opened at lifespan start-up."""

    def __init__(self, conn: Neo4jSettings) -> None:
        self.conn = conn
        self.driver: AsyncDriver | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._open()
                except Exception as e:  # uvicorn reports it and the worker does not start
                    await send({"type": "lifespan.startup.failed", "message": repr(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.driver is not None:
                    await self.driver.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _open(self) -> None:
        conn = self.conn
        assert conn.uri, "NEO4J_URI is needed"
        password = conn.password.get_secret_value() if conn.password else ""
        # the driver's defaults otherwise (pool of 100), as the raw-Cypher contender's driver;
        # notifications off as there, so that neither parses the server's query warnings
        self.driver = AsyncGraphDatabase.driver(
            conn.uri, auth=(conn.username, password), notifications_min_severity="OFF"
        )
        await self.driver.verify_connectivity()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path == "/readyz" and method == "GET":
            await _answer(send, 200 if self.driver else 503, b'{"ready":true}')
            return
        route = ROUTES.get(path)
        if route is None or method != "POST":
            await _answer(send, 404, b'{"error":"no such question"}')
            return
        assert self.driver is not None, "lifespan start-up opens the driver"
        try:
            params = decode_params(route, orjson.loads(await _body(receive)))
            records, _, _ = await self.driver.execute_query(
                route.cypher, params, database_=self.conn.database, routing_=RoutingControl.READ
            )
            body = to_json([r.data() for r in records])
        except Exception as e:  # the bench counts it as a failed request and shows the text
            await _answer(send, 500, orjson.dumps({"error": f"{type(e).__name__}: {e}"[:300]}))
            return
        await _answer(send, 200, body)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("the client went away before its request was read")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app() -> HttpLimit:
    """uvicorn's factory: each worker process builds its app from NEO4J_* in the
    environment."""
    return HttpLimit(Neo4jSettings())


class HttpLimitServer:
    """The endpoint as a child: uvicorn on 127.0.0.1 and a free port, ``workers`` processes."""

    def __init__(self, logs: Path, workers: int) -> None:
        self.port = free_port()
        self.workers = workers
        self.child = Child("http-limit", logs / "http-limit.log")

    @property
    def url(self) -> str:
        """The base URL; a question's route is ``{url}/{question name}``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, conn: Neo4jSettings) -> None:
        # uvicorn's defaults otherwise, as `caregraph serve` (uvloop, httptools), except
        # that it writes no access log: the limit does no work a request does not need
        args = [sys.executable, "-m", "uvicorn", "bench.http_limit:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
                "--no-access-log", "--log-level", "warning"]  # fmt: skip
        # bench/ is not installed: the workers import it from the checkout
        path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env = {**neo4j_env(conn), "PYTHONPATH": path}
        self.child.start(args, env, self._ready, cwd=ROOT, timeout_s=120.0)

    def _ready(self) -> bool:
        return answers_ready(self.url)

    def stop(self) -> None:
        self.child.stop()
