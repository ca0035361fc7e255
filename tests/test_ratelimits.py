"""Rate limits seen and spared, on the real registry rig with a fault-injecting proxy that adds the
headers registries send: the trace and its table carry them, a 429 that will not clear within
the retry budget is not retried and names limit, reset and next step, a 429 with quota left is
retried, ``ratelimit()`` spends no pull, a registry that announces a limit gets tags resolved by
HEAD first, and the widget's HTTP tab says what was spent and what is left."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from rig import Registry, rig_session, seed

import ociinspect as oi
from ociinspect import cli
from ociinspect.distribution import ratelimit
from ociinspect.distribution.ratelimit import RateLimit
from ociinspect.distribution.trace import Exchange, summarize
from ociinspect.errors import RateLimitedError, SourceError
from ociinspect.tables import trace_frame
from ociinspect.widgets import render

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HUB_HEADERS = {"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600"}


# ----------------------------------------------------------------------------- pure rules


@pytest.mark.parametrize(
    ("rate", "futile"),
    [
        pytest.param(None, False, id="no word on the limit: retry"),
        pytest.param(RateLimit(100, 5), False, id="quota left: a throttle, retry"),
        pytest.param(RateLimit(100, 0), True, id="none left, no reset said: give up"),
        pytest.param(
            RateLimit(100, 0, reset=NOW + timedelta(seconds=10)), False, id="none left, reset soon"
        ),
        pytest.param(
            RateLimit(100, 0, reset=NOW + timedelta(hours=2)), True, id="none left for hours"
        ),
    ],
)
def test_retrying_a_429_is_futile_only_when_nothing_is_left_for_long(
    rate: RateLimit | None, futile: bool
) -> None:
    """retry_is_futile: no quota left and no reset within the retry budget (30 s)."""
    assert ratelimit.retry_is_futile(rate, NOW, 30.0) is futile


def test_error_reason_never_carries_the_source_address() -> None:
    """The reason of a RateLimitedError says limit, window and reset, never who is counted."""
    rate = RateLimit(100, 0, 21600, None, None, "192.0.2.7", "100;w=21600")
    text = ratelimit.error_reason(rate, ratelimit.LOGIN_ADVICE)
    assert text == (
        "rate limited (0 of 100 left per 6 h; no reset time announced); "
        f"next: {ratelimit.LOGIN_ADVICE}"
    )
    assert "192.0.2.7" not in text


def test_summary_counts_pulls_and_keeps_the_lowest_remaining() -> None:
    """summarize(): manifest GETs answered 200 are pulls (a 401 and a HEAD are not); the word
    on the limit is the one with the fewest pulls left, without its source."""
    url = "https://registry-1.docker.io/v2/library/alpine/manifests/latest"
    exchanges = [
        Exchange("GET", url, 401, "manifest", 0.1, 0),
        Exchange("GET", "https://auth.docker.io/token", 200, "token", 0.1, 10),
        Exchange("GET", url, 200, "manifest", 0.1, 10, ratelimit=RateLimit(100, 98, 21600)),
        Exchange("GET", url, 200, "manifest", 0.1, 10, ratelimit=RateLimit(100, 97, 21600)),
        Exchange("HEAD", url, 200, "manifest", 0.1, 0, ratelimit=RateLimit(100, 99, 21600)),
    ]
    summary = summarize(exchanges)
    assert (summary.requests, summary.pulls, summary.heads, summary.tokens) == (5, 2, 1, 1)
    assert summary.ratelimit is not None and summary.ratelimit.remaining == 97
    assert summary.describe() == (
        "5 requests, 2 pulls (manifest GETs), 1 token request; "
        "registry-1.docker.io: 97 of 100 left per 6 h"
    )


def test_trace_table_has_the_limit_columns() -> None:
    """trace_frame: pull, ratelimit_limit/remaining/window/reset and mirror_for per exchange."""
    reset = datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    url = "https://mirror.example/v2/library/alpine/manifests/latest"
    rows = [
        Exchange("GET", url, 200, "manifest", 0.1, 9, ratelimit=RateLimit(10, 3, 60, reset)),
        Exchange("HEAD", url, 200, "manifest", 0.1, 0, mirror_for="docker.io"),
    ]
    frame = trace_frame(rows)
    assert frame["pull"].tolist() == [True, False]
    assert frame["ratelimit_limit"].tolist() == [10, pd.NA]
    assert frame["ratelimit_remaining"].tolist() == [3, pd.NA]
    assert frame["ratelimit_window"].tolist() == [60, pd.NA]
    assert frame["ratelimit_reset"].tolist()[0] == pd.Timestamp(reset)
    assert frame["mirror_for"].tolist() == [pd.NA, "docker.io"]


def test_http_tab_renderer_says_pulls_and_what_is_left() -> None:
    """The HTTP tab's summary: pulls spent, and the fewest pulls left the registry announced;
    a registry that announces nothing is said to announce no limit."""
    url = "https://registry-1.docker.io/v2/library/alpine/manifests/"
    first, second = RateLimit(100, 91, 21600), RateLimit(100, 90, 21600)
    rows = [
        Exchange("GET", url + "latest", 200, "manifest", 0.1, 9, ratelimit=first),
        Exchange("GET", url + "sha256:" + "a" * 64, 200, "manifest", 0.1, 9, ratelimit=second),
    ]
    html = render.trace_html(trace_frame(rows))
    assert "2 pulls (manifest GETs); 90 of 100 pulls left (per 6 h) at registry-1.docker.io" in html
    quiet = render.trace_html(trace_frame([Exchange("GET", url + "latest", 200, "manifest", 0, 9)]))
    assert "1 pull (manifest GETs); the registry announced no pull limit" in quiet


# ----------------------------------------------------------------------------- on the rig


@pytest.mark.registry
def test_exhausted_limit_with_a_distant_reset_fails_at_once(registry_open: Registry) -> None:
    """A 429 saying none left until two hours from now: one request, no retry; the error has
    limit, remaining, the reset time and the hint to log in or wait until then."""
    proxy = registry_open.proxy()
    rule = proxy.faults.fail(
        429, times=None, path="/manifests/", headers={**HUB_HEADERS, "Retry-After": "7200"}
    )
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as caught:
        oi.config(f"{proxy.host}/{seed.SINGLE}", session=rig_session())
    error = caught.value
    assert rule.fired == 1
    assert (error.limit, error.remaining, error.window_seconds) == (100, 0, 21600)
    assert error.reset is not None
    assert timedelta(hours=2) <= error.reset - before <= timedelta(hours=2, seconds=30)
    assert error.hint is not None and error.hint.startswith(ratelimit.LOGIN_ADVICE + ", or wait")
    assert f"wait until {error.reset:%H:%M} UTC" in str(error)


@pytest.mark.registry
def test_429_with_quota_left_is_retried_and_served(registry_open: Registry) -> None:
    """A throttle (quota left, or nothing said) is retried as before, and the table loads."""
    proxy = registry_open.proxy()
    rule = proxy.faults.fail(
        429, times=2, path="/manifests/", headers={"ratelimit-remaining": "40;w=60"}
    )
    table = oi.config(f"{proxy.host}/{seed.SINGLE}", session=rig_session())
    assert rule.fired == 2 and len(table) == 1


@pytest.mark.registry
def test_announced_limits_reach_the_trace_and_tags_are_then_headed_first(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Manifest answers carrying rate-limit headers fill the trace table; from then on this
    registry's tags are resolved with a HEAD, so a second tag naming a cached manifest costs no
    pull (demo/single:1.0 is demo/single:latest)."""
    proxy = registry_open.proxy()
    for name, value in {"RateLimit-Limit": "50;w=3600", "RateLimit-Remaining": "42;w=3600"}.items():
        proxy.faults.set_header(name, value, path="/manifests/")
    session = rig_session(tmp_path / "cache")
    oi.config(f"{proxy.host}/{seed.SINGLE}", session=session)
    frame = trace_frame(session.trace)
    manifests = frame[frame["url"].str.contains("/manifests/")]
    assert manifests["ratelimit_limit"].tolist() == [50] * len(manifests)
    assert manifests["ratelimit_remaining"].tolist() == [42] * len(manifests)
    assert manifests["ratelimit_window"].tolist() == [3600] * len(manifests)
    mark = session.trace.mark()
    oi.config(f"{proxy.host}/{seed.SINGLE_ALIAS}", session=session)
    assert session.trace.summary(mark).pulls == 0
    assert [e.method for e in session.trace.since(mark) if "/manifests/" in e.url] == ["HEAD"]


@pytest.mark.registry
def test_tags_of_a_registry_without_limits_are_fetched_directly(
    registry_open: Registry, tmp_path: Path
) -> None:
    """Where nothing announces a pull limit, a tag never seen is one GET (no extra HEAD)."""
    session = rig_session(tmp_path / "cache")
    oi.config(registry_open.ref(seed.SINGLE), session=session)
    mark = session.trace.mark()
    oi.config(registry_open.ref(seed.SINGLE_ALIAS), session=session)
    methods = [e.method for e in session.trace.since(mark) if "/manifests/" in e.url]
    assert methods == ["GET"]


@pytest.mark.registry
def test_ratelimit_of_a_registry_and_of_an_image_spends_no_pull(registry_open: Registry) -> None:
    """ratelimit(host) HEADs /v2/, ratelimit(image) HEADs its manifest: no GET at all; a
    registry without limits has <NA> limit and says so."""
    session = rig_session()
    bare = oi.ratelimit(registry_open.host, session=session)
    image = oi.ratelimit(registry_open.ref(seed.SINGLE), session=session)
    assert bare["repository"].tolist() == [pd.NA] and bare["limit"].tolist() == [pd.NA]
    assert image["repository"].tolist() == ["demo/single"] and image["status"].tolist() == [200]
    assert "announces no pull limit" in image["note"].tolist()[0]
    methods = [r.method for r in registry_open.requests()]
    assert methods == ["HEAD", "HEAD"]


@pytest.mark.registry
def test_cli_ratelimit_of_a_registry(registry_open: Registry) -> None:
    """``ociinspect ratelimit HOST --format json``: one record, exit 0, one HEAD, no GET."""
    out = io.StringIO()
    status = cli.main(["ratelimit", registry_open.host, "--format", "json"], out=out)
    assert status == 0
    body = json.loads(out.getvalue())
    (record,) = body["rows"] if isinstance(body, dict) else body
    assert record["registry"] == registry_open.host and record["pulls_spent"] == 0
    assert record["limit"] is None and record["status"] == 200
    assert [r.method for r in registry_open.requests()] == ["HEAD"]


def test_ratelimit_offline_is_refused() -> None:
    """Offline there is nobody to ask: a SourceError that says so."""
    with pytest.raises(SourceError, match="offline"):
        oi.ratelimit(session=rig_session(offline=True))
