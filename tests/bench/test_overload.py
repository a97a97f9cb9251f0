"""The overload benchmark's clients: which responses make a patient client wait, and how long."""

from __future__ import annotations

import httpx

from bench.overload import MODES, UNBOUNDED, _retry_after


def test_a_refusal_asks_its_wait_and_nothing_else_does() -> None:
    assert _retry_after(httpx.Response(503, headers={"Retry-After": "1"})) == 1.0
    assert _retry_after(httpx.Response(429, headers={"Retry-After": "2"})) == 2.0
    assert _retry_after(httpx.Response(503)) == 0.0  # says no wait: none
    assert _retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) == 0.0
    assert _retry_after(httpx.Response(200, headers={"Retry-After": "5"})) == 0.0
    assert _retry_after(None) == 0.0  # no response at all


def test_the_modes_compare_one_service_with_two_kinds_of_client_and_none_without_bounds() -> None:
    waiting = [name for name, m in MODES.items() if m.waits_retry_after]
    assert len(waiting) == 1 and MODES[waiting[0]].env == {}
    assert [m.env for m in MODES.values()].count(UNBOUNDED) == 1
