"""Admission control: a worker takes on only what it can answer in time.

Each worker runs at most ``max_in_flight`` requests that need the graph at once and lets at
most ``max_queued`` more wait, each for at most ``max_queue_wait_s``. A request beyond that is
refused at once with 503, ``Retry-After`` and the code ``OVERLOADED``, so that under overload
callers get a quick, explicit refusal to retry, not a 10-second timeout after the work was
half done. Health checks and pages that hold no data are never queued. The gate is passed
in api/app.py's Authenticate, before the key check (a round trip) and after the request id
is given, so that a refusal carries it too.

A caller over its rate (``CAREGRAPH_API_RATE_LIMIT``, e.g. ``"20/second;600/minute"``, per
API key or token subject; off by default) gets 429, ``Retry-After`` and ``RATE_LIMITED``.
Both are per worker (no round trip to share them): with W workers a caller may get up to W
times the rate, which the setting's documentation says.
"""

from __future__ import annotations

import math
import time

import anyio
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from caregraph.api.errors import OverloadedError, RateLimitedError
from caregraph.api.settings import ApiSettings


class Gate:
    """The in-flight bound and the bounded queue of one worker.

    anyio's CapacityLimiter does the bounding and the fair hand-over (and is cancellation
    safe); this adds only what it lacks: a bound on how many may wait, and how long."""

    def __init__(self, settings: ApiSettings) -> None:
        self.in_flight = settings.max_in_flight
        self.queued = settings.max_queued
        self.wait_s = settings.max_queue_wait_s
        self.retry_after_s = max(1, math.ceil(settings.overload_retry_after_s))
        self._limiter: anyio.CapacityLimiter | None = None  # made in the event loop
        self.admitted = 0
        self.refused = 0

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.in_flight)
        return self._limiter

    async def enter(self) -> None:
        """Take a place, waiting in the queue if there is room; else :class:`OverloadedError`."""
        limiter = self.limiter
        if limiter.available_tokens < 1 and limiter.statistics().tasks_waiting >= self.queued:
            self.refused += 1
            raise OverloadedError(self.retry_after_s, "the queue is full")
        try:
            with anyio.fail_after(self.wait_s):
                await limiter.acquire()
        except TimeoutError:
            self.refused += 1
            raise OverloadedError(self.retry_after_s, "no place freed in time") from None
        self.admitted += 1

    def leave(self) -> None:
        self.limiter.release()


class RateLimits:
    """Per-caller request rates of one worker (a moving window, from the `limits` package)."""

    def __init__(self, rate: str) -> None:
        self.items: list[RateLimitItem] = parse_many(rate) if rate.strip() else []
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, caller: str) -> None:
        """Count one request of ``caller``; :class:`RateLimitedError` when over a rate."""
        for item in self.items:
            if not self._limiter.hit(item, "caller", caller):
                reset = self._limiter.get_window_stats(item, "caller", caller).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise RateLimitedError(wait, str(item))
