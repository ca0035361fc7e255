"""Pure policies: trace redaction and the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from ociinspect.distribution.retry import RetryPolicy, parse_retry_after
from ociinspect.distribution.trace import REDACTED, Exchange, Trace, redact_headers, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://alice:pw@reg:5000/v2/", "http://reg:5000/v2/"),
        (
            "https://cdn/blob?X-Amz-Signature=abc&X-Amz-Credential=k",
            f"https://cdn/blob?X-Amz-Signature={REDACTED}&X-Amz-Credential={REDACTED}",
        ),
        (
            "http://auth/token?service=reg&scope=repository:a/b:pull",
            "http://auth/token?service=reg&scope=repository:a/b:pull",
        ),
        ("http://reg/v2/_catalog?n=10&last=a/b", "http://reg/v2/_catalog?n=10&last=a/b"),
    ],
    ids=["user-info is dropped", "signatures are redacted", "token params stay", "paging stays"],
)
def test_redact_url(url: str, expected: str) -> None:
    """URLs keep what explains a request and lose what authorises it."""
    assert redact_url(url) == expected


def test_redact_headers_keeps_the_scheme_only() -> None:
    """Authorization keeps its scheme word; cookies vanish; other headers stay."""
    out = redact_headers(
        {
            "Authorization": "Bearer eyJsecret",
            "Cookie": "s=1",
            "Accept": "x",
            "Location": "http://u:p@h/",
        }
    )
    assert out == {
        "Authorization": f"Bearer {REDACTED}",
        "Cookie": REDACTED,
        "Accept": "x",
        "Location": "http://h/",
    }


def test_exchange_record_never_holds_the_secret() -> None:
    """Exchange.record redacts before storing, so repr and fields are clean."""
    ex = Exchange.record(
        "GET",
        "http://u:hunter2@r/v2/?token=hunter2",
        200,
        "manifest",
        0.1,
        10,
        {"Authorization": "Basic hunter2"},
        {"Set-Cookie": "hunter2"},
    )
    assert "hunter2" not in repr(ex) + str(ex.request_headers) + str(ex.response_headers) + ex.url


def test_trace_mark_and_since_survive_the_bound() -> None:
    """since(mark) returns what came after the mark even when old entries were dropped."""
    trace = Trace(limit=3)
    for i in range(2):
        trace.add(Exchange.record("GET", f"http://r/{i}", 200, "x", 0, 0))
    mark = trace.mark()
    for i in range(2, 6):
        trace.add(Exchange.record("GET", f"http://r/{i}", 200, "x", 0, 0))
    assert [e.url for e in trace.since(mark)] == ["http://r/3", "http://r/4", "http://r/5"]
    assert len(trace) == 3 and trace.count("x") == 3


def test_retry_after_seconds_and_dates() -> None:
    """Retry-After is read as delta-seconds or an HTTP date; garbage is None."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_retry_policy_is_bounded() -> None:
    """Only GET/HEAD on retryable statuses retry; waits grow, are capped, and fit the budget."""
    policy = RetryPolicy(attempts=4, backoff=1.0, max_backoff=3.0, max_retry_after=5.0, total=10.0)
    assert policy.retryable("GET", 503) and policy.retryable("HEAD", None)
    assert not policy.retryable("POST", 503) and not policy.retryable("GET", 404)
    rng = random.Random(1)
    waits = [policy.delay(n, rng=rng) for n in range(1, 8)]
    assert all(0 <= w <= 3.0 for w in waits)
    assert policy.delay(1, "60") == 5.0
    assert policy.should_retry(3, 1.0, 2.0) and not policy.should_retry(4, 1.0, 2.0)
    assert not policy.should_retry(1, 9.0, 2.0)
