"""Request bodies, bounded before anything parses them.

A body over ``max_body_bytes`` is refused with 413 as soon as its declared length or the
bytes counted as it streams pass the limit (10 MB are never read whole). A JSON body that is
not JSON, or nests deeper than ``max_json_depth`` (Python's parser would recurse until it
gives up with a 500), is refused with 400. Both answers are GraphQL error bodies. What is
let through is handed on as it was read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caregraph.api.settings import ApiSettings

_OPEN, _CLOSE, _QUOTE, _ESCAPE = b"[{", b"]}", ord('"'), ord("\\")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class TooLargeError(Exception):
    """The body is over the limit."""


class BadJsonError(Exception):
    """The body is not JSON the API can read."""


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body`` (brackets inside strings not counted)."""
    depth = deepest = 0
    if b'"' in body:
        body = _without_strings(body)
    for byte in body.translate(None, _NOT_BRACKETS):  # brackets only: usually a handful
        if byte in _OPEN:
            depth += 1
            deepest = max(deepest, depth)
        elif byte in _CLOSE:
            depth -= 1
    return deepest


def _without_strings(body: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        quote = body.find(b'"', i)
        if quote < 0:
            out += body[i:]
            break
        out += body[i:quote]
        j = quote + 1
        while j < n and body[j] != _QUOTE:
            j += 2 if body[j] == _ESCAPE else 1
        i = j + 1
    return bytes(out)


def check_json(body: bytes, max_depth: int) -> None:
    """Raise :class:`BadJsonError` unless ``body`` is JSON nested at most ``max_depth`` deep."""
    if json_depth(body) > max_depth:
        raise BadJsonError(
            f"the JSON body nests deeper than {max_depth} levels "
            "(setting CAREGRAPH_API_MAX_JSON_DEPTH)"
        )
    try:
        json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise BadJsonError("the body is not valid JSON") from e


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counted as it streams; :class:`TooLargeError` once past ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLargeError()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives ``body`` once, then whatever the client sends next (disconnect)."""
    sent = False

    async def receiving() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receiving


def _is_json(headers: dict[str, str]) -> bool:
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class BodyLimit:
    """Refuses bodies that are too large (413) or not JSON that can be read (400)."""

    def __init__(self, app: ASGIApp, settings: ApiSettings | None = None) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        settings = self._settings(scope)
        limit = settings.max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > limit:
                raise TooLargeError()
            body = await read_body(receive, limit)
        except TooLargeError:
            await refuse(
                scope, send, 413, "PAYLOAD_TOO_LARGE",
                f"the request body is over the limit of {limit} bytes "
                "(setting CAREGRAPH_API_MAX_BODY_BYTES); send a shorter query or fewer variables",
                limit=limit, setting="CAREGRAPH_API_MAX_BODY_BYTES",
            )  # fmt: skip
            return
        if body and _is_json(headers):
            try:
                check_json(body, settings.max_json_depth)
            except BadJsonError as e:
                await refuse(scope, send, 400, "BAD_REQUEST", str(e))
                return
        await self.app(scope, replay(body, receive), send)

    def _settings(self, scope: Scope) -> ApiSettings:
        if self.settings is not None:
            return self.settings
        services = getattr(scope["app"].state, "services", None)
        settings = getattr(services, "settings", None)
        return settings if isinstance(settings, ApiSettings) else ApiSettings()


async def refuse(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    why: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    **details: Any,
) -> None:
    """A GraphQL error body with ``status`` (and the request id, when there is one)."""
    extensions: dict[str, Any] = {"code": code, **details}
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        extensions["requestId"] = request_id
    body = json.dumps({"errors": [{"message": why, "extensions": extensions}]}).encode()
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
