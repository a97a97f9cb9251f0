"""Each answer of the service counted as a user sees it: an answer, a refusal, or an error."""

from __future__ import annotations

from bench.answers import Tally, Verdict, classify


def refusal(code: str) -> bytes:
    return b'{"errors": [{"message": "busy", "extensions": {"code": "%s"}}]}' % code.encode()


def test_answers_are_counted_as_users_see_them() -> None:
    retry = {"Retry-After": "2"}
    body = b'{"data": {"patient": null}}'
    assert classify(200, {}, body) == Verdict("ok")
    assert classify(503, retry, refusal("OVERLOADED")) == Verdict("refused", "OVERLOADED", 2.0)
    assert classify(503, {"retry-after": "5"}, refusal("SERVICE_UNAVAILABLE")).kind == "refused"
    assert classify(429, {}, refusal("RATE_LIMITED")) == Verdict("refused", "RATE_LIMITED")
    # a refusal that does not say when to come back, or says something else, is an error
    assert classify(503, {}, refusal("OVERLOADED")).kind == "error"
    assert classify(503, retry, refusal("INTERNAL")).label == "HTTP 503 INTERNAL"
    assert classify(429, retry, refusal("OVERLOADED")).kind == "error"
    assert classify(500, {}, b"Internal Server Error").label == "HTTP 500, not a JSON body"
    partial = b'{"data": {"x": 1}, "errors": [{"extensions": {"code": "LIMIT_EXCEEDED"}}]}'
    assert classify(200, {}, partial) == Verdict("error", "errors LIMIT_EXCEEDED")
    assert classify(200, {}, b'{"data": null}') == Verdict("error", "no data")


def test_retry_after_may_be_a_date() -> None:
    date = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}  # past: come back now
    assert classify(503, date, refusal("OVERLOADED")) == Verdict("refused", "OVERLOADED", 0.0)
    assert classify(503, {"Retry-After": "soon"}, refusal("OVERLOADED")).kind == "error"


def test_a_tally_counts_answers_by_question_and_errors_by_kind_without_messages() -> None:
    tally = Tally()
    tally.add("lookup", Verdict("ok"), 3.0, "r1")
    tally.add("lookup", Verdict("refused", "OVERLOADED", 1.0), 0.5, "r2")
    tally.add("context", Verdict("error", "errors LIMIT_EXCEEDED"), 10_000.0, "r3")
    tally.add("context", Verdict("error", "timeout"), 30_000.0, "r4")
    assert tally.counts() == {
        "requests": 4,
        "ok": 1,
        "refusals": {"OVERLOADED": 1},
        "errors": {"errors LIMIT_EXCEEDED": 1, "timeout": 1},
    }
    assert tally.latencies_ms == {"lookup": [3.0]}  # of answers only
    assert tally.error_answers == {"context": 1}  # the timeout never reached GraphQL
    assert tally.answered == {"r1": "lookup"} and tally.unanswered == {"r4"}
    assert tally.error_samples[0] == {
        "question": "context", "error": "errors LIMIT_EXCEEDED", "requestId": "r3"
    }  # fmt: skip
