"""Who is asking, in every log line: the request id, and the caller's subject and role.

The request's caller is put into a context variable when it is authenticated (the HTTP
middleware, an MCP tool call); every log record made while it is set carries ``request_id``,
``subject`` and ``role`` attributes (a record factory, so any handler's formatter can use
them), and the handlers of the service's loggers get them appended to each line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

NONE = "-"
LOGGERS = ("", "caregraph", "uvicorn", "uvicorn.error", "uvicorn.access", "mcp")


@dataclass(frozen=True, slots=True)
class Caller:
    request_id: str = NONE
    subject: str = NONE
    role: str = NONE


NOBODY = Caller()
CURRENT: ContextVar[Caller] = ContextVar("caregraph_caller", default=NOBODY)


@contextmanager
def calling(request_id: str, subject: str | None = None, role: str | None = None) -> Iterator[None]:
    """Within the block, log lines carry this request id, subject and role."""
    token = CURRENT.set(Caller(request_id, subject or NONE, role or NONE))
    try:
        yield
    finally:
        CURRENT.reset(token)


def set_caller(request_id: str, subject: str | None = None, role: str | None = None) -> None:
    """For the rest of this task (an ASGI request runs in one), log lines carry these."""
    CURRENT.set(Caller(request_id, subject or NONE, role or NONE))


class CallerFormatter(logging.Formatter):
    """Another formatter's line, with the caller appended when there is one."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        request_id = getattr(record, "request_id", NONE)
        if request_id == NONE:
            return line
        subject, role = getattr(record, "subject", NONE), getattr(record, "role", NONE)
        return f"{line} [request={request_id} subject={subject} role={role}]"


def _stamp(record: logging.LogRecord) -> None:
    caller = CURRENT.get()
    record.request_id = caller.request_id
    record.subject = caller.subject
    record.role = caller.role


_base_factory = logging.getLogRecordFactory()
_installed = False


def _factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    _stamp(record)
    return record


def plain_root() -> None:
    """Plain lines on stderr for the root logger, set before the MCP SDK's server is built:
    that SDK calls ``logging.basicConfig`` with a Rich handler, which lays out every line as
    a table and cost ~7% of the service's CPU per request (py-spy). ``basicConfig`` does
    nothing once the root logger has a handler, so this one stays."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def install() -> None:
    """Stamp every record with the caller, and append the caller to the lines of the
    service's handlers (once per process; handlers added later get it on the next call)."""
    global _installed
    if not _installed:
        logging.setLogRecordFactory(_factory)
        _installed = True
    app_logger = logging.getLogger("caregraph")
    if not logging.getLogger().handlers and not app_logger.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        app_logger.addHandler(stream)
        app_logger.setLevel(logging.INFO)
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler.formatter, CallerFormatter) and _ours(handler):
                handler.setFormatter(CallerFormatter(handler.formatter))


def app_level(level: str) -> None:
    """caregraph's own lines (``caregraph.*``: the audited reads, warnings) from ``level`` up
    (CAREGRAPH_API_LOG_LEVEL). At the default, info, the logging set up around the service is
    left as it is: a test runner's capture, or the root logger's level."""
    if level.lower() != "info":
        logging.getLogger("caregraph").setLevel(level.upper())


def _ours(handler: logging.Handler) -> bool:
    """The plain stream handlers the service's loggers get (uvicorn's log config and
    ``install`` make exactly these); a handler of any other kind, a file or a capture handler a
    host application or a test runner added, keeps its own format."""
    return type(handler) is logging.StreamHandler
