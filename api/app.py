"""The FastAPI application: GraphQL at /graphql, MCP at /mcp, /healthz and /readyz.

Every route needs a caller (``Authorization: Bearer <API key or JWT>``, or ``X-API-Key``)
except the ones that hold no data: /healthz, /readyz, the GraphiQL page and its files, and
the Neo4j Browser guide and style. A request without credentials gets 401 with
``WWW-Authenticate: Bearer``; unknown, revoked, tampered or expired ones get 401 too, and
nothing runs. The caller goes into the request's context (and so into the policy and the
audit) and into every log line of the request.

When Neo4j does not answer, every path that needs it (authentication by API key, GraphQL,
MCP, /readyz) answers 503 with ``Retry-After`` within the driver's short acquisition timeout,
and then at once while this worker's breaker is open (api/availability.py). A worker at its
limit of requests in flight and queued refuses more at once (503 ``OVERLOADED``), and a caller
over its rate gets 429 (api/admission.py). Bodies are bounded before they are parsed
(api/bodies.py).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter

from caregraph.api import browser, graphiql, logs
from caregraph.api.access import pseudonyms
from caregraph.api.auth import Authenticator, AuthError, JwtVerifier, KeyStore, OidcSettings
from caregraph.api.availability import UNAVAILABLE, unavailable
from caregraph.api.bodies import BodyLimit, refuse
from caregraph.api.context import Context, Services
from caregraph.api.errors import OverloadedError, RateLimitedError, ServiceUnavailableError
from caregraph.api.mcp import Tools, build, http_caller
from caregraph.api.process import settle_memory
from caregraph.api.schema import schema
from caregraph.api.settings import ApiSettings
from caregraph.graph import keys_and_audit
from caregraph.graph.anchors import AnchorError, Anchors
from caregraph.graph.browser import GUIDE_PATH, STYLE_PATH
from caregraph.graph.driver import connection, open_async_driver, open_driver, ping
from caregraph.graph.settings import Neo4jSettings, Paths, Settings

log = logging.getLogger("caregraph.api")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# HL7 v3 PurposeOfUse codes are short upper-case tokens (TREAT, HPAYMT, HOPERAT, PUBHLTH ...)
_PURPOSE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", GUIDE_PATH, STYLE_PATH})
PUBLIC_PREFIXES = (graphiql.ASSET_ROUTE + "/",)
MCP_PATH = "/mcp"


# a coroutine, though it waits on nothing: FastAPI runs a plain function dependency in its
# thread pool, a thread hop on every request for an attribute read
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_context(request: Request, services: ServicesDep) -> Context:
    state = request.state
    return services.context(
        getattr(state, "principal", None),  # the middleware lets no request here without one
        request_id=getattr(state, "request_id", None),
        purpose=getattr(state, "purpose", None),
        channel="graphql",
    )


class Authenticate:
    """Authenticates every request but those to public paths, before any route runs.

    A plain ASGI middleware (not Starlette's BaseHTTPMiddleware), so the route runs in the
    same task and the caller it puts into the logging context shows in every line the
    request logs, uvicorn's access line included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        # a caller's own id ties its logs to ours; anything odd is not taken over
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        logs.set_caller(request_id)
        send = _with_request_id(send, request_id)
        path = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES) or not _routed(scope):
            await self.app(scope, receive, send)  # no data there, or nothing (404)
            return
        services: Services = scope["app"].state.services
        if scope["type"] != "http":
            await self._authenticate(scope, receive, send, headers, services)
            return
        try:  # a worker at its limit does not even check the key (a round trip)
            await services.gate.enter()
        except OverloadedError as e:
            await _retry_later(scope, send, 503, e)
            return
        try:
            await self._authenticate(scope, receive, send, headers, services)
        finally:
            services.gate.leave()

    async def _authenticate(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str],
        services: Services,
    ) -> None:  # fmt: skip
        state = scope["state"]
        request_id: str = state["request_id"]
        purpose = headers.get("x-purpose-of-use")
        if purpose is not None and not _PURPOSE.match(purpose):
            await _refuse(scope, send, 400, "BAD_REQUEST", request_id,
                          "X-Purpose-Of-Use must be a purpose-of-use code such as TREAT, "
                          "HPAYMT or HOPERAT")  # fmt: skip
            return
        try:
            services.breaker.admit(request_id)
            credentials = (headers.get("authorization"), headers.get("x-api-key"))
            # a key this worker verified moments ago is answered here, without a thread hop;
            # anything else may wait on Neo4j or an identity provider, in a thread
            principal = services.authenticator.verified(*credentials)
            if principal is None:
                authenticate = services.authenticator.authenticate
                principal = await anyio.to_thread.run_sync(authenticate, *credentials)
        except ServiceUnavailableError as e:  # the breaker is open: do not even ask
            await _retry_later(scope, send, 503, e)
            return
        except AuthError as e:
            log.info("request %s refused: %s", request_id, e)
            missing = not (headers.get("authorization") or headers.get("x-api-key"))
            await _refuse(scope, send, 401, "UNAUTHENTICATED", request_id, str(e), missing)
            return
        except UNAVAILABLE as e:  # the key could not be checked: Neo4j did not answer
            log.warning("request %s: Neo4j did not answer the key check: %s", request_id, e)
            await _retry_later(scope, send, 503, services.breaker.failed())
            return
        if principal.method == "api-key":  # Neo4j answered the key check
            services.breaker.succeeded()
        try:
            services.rates.take(principal.subject)
        except RateLimitedError as e:
            log.info("request %s refused: over the caller's rate", request_id)
            await _retry_later(scope, send, 429, e)
            return
        state["principal"] = principal
        state["purpose"] = purpose.upper() if purpose else None
        logs.set_caller(request_id, principal.subject, principal.role.value)
        await self.app(scope, receive, send)


async def _retry_later(
    scope: Scope, send: Send, status: int, error: ServiceUnavailableError | OverloadedError
) -> None:
    """503 or 429 with Retry-After, as a GraphQL error body (an MCP client reads it as an HTTP
    error)."""
    retry = str(error.retry_after_s).encode()
    details = {k: v for k, v in error.extensions.items() if k != "code"}
    await refuse(
        scope, send, status, error.code, error.message, [(b"retry-after", retry)], **details
    )


def _routed(scope: Scope) -> bool:
    """Whether a route of the app answers this path (every route is protected by default)."""
    return any(route.matches(scope)[0] != Match.NONE for route in scope["app"].router.routes)


def _with_request_id(send: Send, request_id: str) -> Send:
    """Every answer says its request id, so a caller can quote it."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
        await send(message)

    return sending


class FastJsonRouter(GraphQLRouter[Context, None]):
    """strawberry's router with requests and answers read and written by orjson: the standard
    library's encoder was a measurable share of a large answer's CPU (issue 16). orjson's
    decode error is a ``json.JSONDecodeError``, so a broken body is still a 400."""

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


async def _refuse(
    scope: Scope, send: Send, status: int, code: str, request_id: str, why: str,
    missing: bool = False,
) -> None:  # fmt: skip
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": why[:120]})
        return
    body = orjson.dumps(
        {"errors": [{"message": why, "extensions": {"code": code, "requestId": request_id}}]}
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:  # RFC 6750: say how to authenticate, and why a credential failed
        challenge = 'Bearer realm="caregraph"'
        if not missing:
            description = why.replace('"', "'")
            challenge += f', error="invalid_token", error_description="{description}"'
        headers.append((b"www-authenticate", challenge.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def flush_anchors(anchors: Anchors) -> None:
    """Anchor the audit heads still pending (with CAREGRAPH_AUDIT_ANCHOR_EVERY above 1)."""
    try:
        anchors.flush()
    except AnchorError as e:  # shutting down: say so, the records are in Neo4j already
        log.error("the audit's last heads could not be anchored: %s", e)


def create_app(
    conn: Neo4jSettings | None = None,
    settings: ApiSettings | None = None,
    oidc: OidcSettings | None = None,
) -> FastAPI:
    """Build the app; the driver, the authenticator and the pseudonym key are made once in
    the lifespan and the driver closed on shutdown."""
    logs.plain_root()  # before the MCP server is built, which would make the lines Rich
    tools = Tools(http_caller)  # its services are made in the lifespan
    mcp_server = build(tools)
    mcp_app = mcp_server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,  # every request is authenticated on its own: no session to hijack
        json_response=True,
        # a DNS-rebinding page cannot send the caller's bearer credential, which every MCP
        # request needs; Host checks would only break reverse proxies
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs.install()
        target = conn or connection(Settings())
        api = settings or ApiSettings()
        logs.app_level(api.log_level)
        driver = open_driver(target, **api.driver_timeouts())
        # the compiled reads' driver, on this loop: no thread hop for a request's statement
        async_driver = open_async_driver(target, **api.driver_timeouts())
        try:
            oidc_settings = oidc or OidcSettings()
            authenticator = Authenticator(
                KeyStore(
                    driver,
                    target.database,
                    cache_s=api.key_cache_s,
                    poll_s=api.key_revocation_poll_s,
                ),
                JwtVerifier(oidc_settings) if oidc_settings.issuer else None,
            )
            services = Services(
                driver,
                target.database,
                api,
                pseudonyms.load(api, Paths().home.resolve()),
                authenticator,
                Anchors.open(Settings()),
                async_driver=async_driver,
            )
            app.state.services = services
            tools.services = services
            try:
                keys_and_audit.ensure_schema(driver, target.database)
            except Exception as e:  # Neo4j may be down at start: /readyz says so, and keys
                # and the audit make their schema again when first used
                log.warning("the audit and key schema could not be applied now: %s", e)
            settle_memory()
            async with mcp_server.session_manager.run():
                try:
                    yield
                finally:
                    flush_anchors(services.anchors)
        finally:
            await async_driver.close()
            driver.close()

    app = FastAPI(title="caregraph", lifespan=lifespan)
    app.include_router(
        FastJsonRouter(schema, context_getter=get_context, graphql_ide="graphiql"),
        prefix="/graphql",
    )
    app.router.routes.extend(mcp_app.routes)  # /mcp, streamable HTTP

    app.include_router(browser.router)  # Neo4j Browser's guide and style
    app.add_middleware(BodyLimit)  # inside Authenticate: a caller without a key sends no body
    app.add_middleware(Authenticate)
    # added after Authenticate, so outside it: the page (no data) opens without a key
    graphiql.install(app)  # GraphiQL served from this machine, with examples

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request, services: ServicesDep) -> JSONResponse:
        breaker = services.breaker
        try:
            breaker.admit(getattr(request.state, "request_id", ""))
            ping(services.driver, services.database)
        except ServiceUnavailableError as e:  # the breaker is open: not ready, known already
            error = e
        except Exception as e:  # any failure to answer means not ready
            log.warning("readiness: Neo4j did not answer: %s", e)
            retry = int(breaker.open_s)
            error = breaker.failed() if unavailable(e) else ServiceUnavailableError(retry)
        else:
            breaker.succeeded()
            return JSONResponse({"status": "ready", "neo4j": "reachable"})
        return JSONResponse(
            {"status": "unavailable", "neo4j": "unreachable", "retryAfter": error.retry_after_s},
            503,
            headers={"Retry-After": str(error.retry_after_s)},
        )

    return app
