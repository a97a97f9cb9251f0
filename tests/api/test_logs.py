"""api/logs: the service's stream handlers get the caller on every line; others keep theirs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from caregraph.api import logs


class _Capture(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler some host application added (a subclass, as test runners' and file
    handlers are)."""


@pytest.fixture
def uvicorn_handlers() -> Iterator[tuple[logging.Handler, logging.Handler]]:
    logger = logging.getLogger("uvicorn")
    assert "uvicorn" in logs.LOGGERS
    plain, other = logging.StreamHandler(), _Capture()
    for h in (plain, other):
        h.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(h)
    yield plain, other
    for h in (plain, other):
        logger.removeHandler(h)


def test_install_wraps_the_plain_stream_handlers_and_no_other(
    uvicorn_handlers: tuple[logging.Handler, logging.Handler],
) -> None:
    plain, other = uvicorn_handlers
    logs.install()
    assert isinstance(plain.formatter, logs.CallerFormatter)
    assert not isinstance(other.formatter, logs.CallerFormatter)
    logs.install()  # again: not wrapped twice
    assert isinstance(plain.formatter, logs.CallerFormatter)
    assert not isinstance(plain.formatter.inner, logs.CallerFormatter)
