"""Rate-limit headers, the 429 hint, and which requests Docker Hub counts as pulls.

Header examples are real: Docker's documentation (docker/docs
``content/manuals/docker-hub/usage/pulls.md`` at 000a96d340ed and bb3cdd21c88e; the 2020 text of
``docker-hub/download-rate-limit.md`` in docker/docs PR #11648), a captured Docker Hub answer
(gist jeversol/369009aaad4cd2cd8e2610fa68d4c4be, 2023-08-23), GitLab's 429 in gitlab-org/gitlab
issue 199738, and the examples of draft-ietf-httpapi-ratelimit-headers -07 and -11.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from requests.structures import CaseInsensitiveDict

from ociinspect.distribution.ratelimit import (
    LOGIN_ADVICE,
    MAX_HEADERS,
    MAX_VALUE_CHARS,
    MIRROR_ADVICE,
    RateLimit,
    hint,
    is_pull,
    parse,
)

NOW = datetime(2020, 1, 30, 14, 14, 16, tzinfo=UTC)  # the Date of the GitLab 429 below


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


# -- parsing real headers ---------------------------------------------------------------------

REAL = [
    (
        "docker docs 000a96d: 20 of 100 per 6 h",
        {
            "ratelimit-limit": "100;w=21600",
            "ratelimit-remaining": "20;w=21600",
            "docker-ratelimit-source": "192.0.2.1",
        },
        RateLimit(100, 20, 21600, None, None, "192.0.2.1", "100;w=21600"),
    ),
    (
        "docker docs bb3cdd2: 76 remaining",
        {
            "ratelimit-limit": "100;w=21600",
            "ratelimit-remaining": "76;w=21600",
            "docker-ratelimit-source": "192.0.2.1",
        },
        RateLimit(100, 76, 21600, None, None, "192.0.2.1", "100;w=21600"),
    ),
    (
        "docker docs 2020 capitalised names",
        {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "76;w=21600"},
        RateLimit(100, 76, 21600, None, None, None, "100;w=21600"),
    ),
    (
        "captured hub answer: exhausted, IPv6 /64 source",
        {
            "content-length": "2782",
            "docker-content-digest": "sha256:767a3815c34823b355bed31760d5fa3d"
            "aca0aec2ce15b217c9cd83229e0e2020",
            "date": "Wed, 23 Aug 2023 15:13:59 GMT",
            "ratelimit-limit": "100;w=21600",
            "ratelimit-remaining": "0;w=21600",
            "docker-ratelimit-source": "2600:3c00::",
        },
        RateLimit(100, 0, 21600, None, None, "2600:3c00::", "100;w=21600"),
    ),
    (
        "gitlab 429: RateLimit-Reset is a Unix time",
        {
            "RateLimit-Limit": "600",
            "RateLimit-Observed": "5",
            "RateLimit-Remaining": "595",
            "RateLimit-Reset": "1580393717",
            "RateLimit-ResetTime": "Thu, 30 Jan 2020 14:15:17 GMT",
        },
        RateLimit(600, 595, None, datetime(2020, 1, 30, 14, 15, 17, tzinfo=UTC), "ratelimit-reset"),
    ),
    (
        "gitlab ResetTime alone is an HTTP date",
        {"RateLimit-Limit": "600", "RateLimit-ResetTime": "Thu, 30 Jan 2020 14:15:17 GMT"},
        RateLimit(
            600, None, None, datetime(2020, 1, 30, 14, 15, 17, tzinfo=UTC), "ratelimit-resettime"
        ),
    ),
    (
        "draft -07 section 3.5: dictionary plus policy",
        {"RateLimit-Policy": "100;w=10", "RateLimit": "limit=100, remaining=50, reset=5"},
        RateLimit(100, 50, 10, at(5), "ratelimit", None, "100;w=10"),
    ),
    (
        "draft -07 section 6.5: policy window differs from reset",
        {"RateLimit": "limit=10000, remaining=10000, reset=10", "RateLimit-Policy": "10000;w=1000"},
        RateLimit(10000, 10000, 1000, at(10), "ratelimit", None, "10000;w=1000"),
    ),
    (
        "draft -07 section 3.5: several policies, the matching one wins",
        {
            "RateLimit": "limit=1000, remaining=9, reset=7",
            "RateLimit-Policy": "10;w=1;burst=1000, 1000;w=3600",
        },
        RateLimit(1000, 9, 3600, at(7), "ratelimit", None, "10;w=1;burst=1000, 1000;w=3600"),
    ),
    (
        "draft -11 section 4.2: named items with r and t",
        {"RateLimit": '"default";r=50;t=30', "RateLimit-Policy": '"default";q=100;w=10'},
        RateLimit(100, 50, 10, at(30), "ratelimit", None, '"default";q=100;w=10'),
    ),
    (
        "draft -00..-06: limit, remaining, reset in seconds",
        {"RateLimit-Limit": "10", "RateLimit-Remaining": "1", "RateLimit-Reset": "7"},
        RateLimit(10, 1, None, at(7), "ratelimit-reset"),
    ),
    (
        "draft -01: quota policies after the limit",
        {"RateLimit-Limit": "10, 10;w=1, 50;w=60"},
        RateLimit(10, None, 1, None, None, None, "10, 10;w=1, 50;w=60"),
    ),
    (
        "retry-after seconds beside docker's headers",
        {
            "Retry-After": "120",
            "ratelimit-limit": "100;w=21600",
            "ratelimit-remaining": "0;w=21600",
        },
        RateLimit(100, 0, 21600, at(120), "retry-after", None, "100;w=21600"),
    ),
    (
        "retry-after as an HTTP date",
        {"Retry-After": "Thu, 30 Jan 2020 15:00:00 GMT"},
        RateLimit(reset=datetime(2020, 1, 30, 15, 0, tzinfo=UTC), reset_from="retry-after"),
    ),
    (
        "retry-after wins over every reset (draft -11 section 7)",
        {"Retry-After": "60", "RateLimit-Reset": "5", "RateLimit": "limit=1, remaining=0, reset=9"},
        RateLimit(1, 0, None, at(60), "retry-after"),
    ),
]


@pytest.mark.parametrize(("headers", "expected"), [c[1:] for c in REAL], ids=[c[0] for c in REAL])
def test_parse_real_headers(headers: dict[str, str], expected: RateLimit) -> None:
    """Each documented or captured header set becomes exactly this RateLimit."""
    assert parse(headers, NOW) == expected


def test_parse_reads_a_requests_header_dict() -> None:
    """A requests CaseInsensitiveDict (what a response carries) is read like a plain dict."""
    headers = CaseInsensitiveDict({"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "3"})
    assert parse(headers, NOW) == RateLimit(100, 3, 21600, policy="100;w=21600")


def test_no_rate_limit_headers_is_none() -> None:
    """A response without rate-limit headers (paid plan, unlimited image) gives None."""
    assert parse({"content-type": "application/json", "date": "x"}, NOW) is None
    assert parse({}, NOW) is None


def test_naive_now_is_utc() -> None:
    """A naive ``now`` is taken as UTC, so the reset is the same as with an aware one."""
    naive = parse({"RateLimit-Reset": "30"}, NOW.replace(tzinfo=None))
    assert naive is not None and naive.reset == at(30)


def test_bytes_values_are_read() -> None:
    """Header values given as bytes (raw transports) are decoded, not skipped."""
    assert parse({"ratelimit-remaining": b"5;w=60"}, NOW) == RateLimit(None, 5, 60)  # type: ignore[dict-item]


# -- malformed and hostile values ---------------------------------------------------------------

MALFORMED = [
    ("letters", {"RateLimit-Limit": "abc", "RateLimit-Remaining": "5"}, RateLimit(None, 5)),
    ("negative", {"RateLimit-Limit": "-5", "RateLimit-Remaining": "5"}, RateLimit(None, 5)),
    ("float", {"RateLimit-Limit": "1e3", "RateLimit-Remaining": "5.0"}, None),
    ("bad window keeps the limit", {"ratelimit-limit": "100;w=abc"}, RateLimit(100)),
    ("zero window", {"ratelimit-limit": "100;w=0"}, RateLimit(100)),
    ("forty digits", {"RateLimit-Limit": "9" * 40, "RateLimit-Remaining": "1"}, RateLimit(None, 1)),
    ("empty values", {"RateLimit-Limit": "", "RateLimit-Remaining": " "}, None),
    ("retry-after forty digits", {"Retry-After": "9" * 40, "RateLimit-Limit": "3"}, RateLimit(3)),
    ("retry-after garbage", {"Retry-After": "Tue, 99 Foo", "RateLimit-Limit": "3"}, RateLimit(3)),
    ("retry-after negative", {"Retry-After": "-5", "RateLimit-Limit": "3"}, RateLimit(3)),
    (
        "reset past year 9999",
        {"RateLimit-Reset": "999999999999999", "RateLimit-Limit": "3"},
        RateLimit(3),
    ),
    (
        "reset of twenty years",
        {"RateLimit-Reset": "630720000", "RateLimit-Limit": "3"},
        RateLimit(3),
    ),
    ("dictionary with junk", {"RateLimit": "limit=x, remaining=, reset=-1, =5"}, None),
    ("unterminated quote", {"RateLimit": '"default;r=5', "RateLimit-Limit": "3"}, RateLimit(3)),
    ("control characters in the source", {"docker-ratelimit-source": "1.2.3.4\x00evil"}, None),
    ("non-ASCII source", {"docker-ratelimit-source": "ünïcode"}, None),
    ("source over 128 characters", {"docker-ratelimit-source": "a" * 129}, None),
    ("non-string value", {"RateLimit-Limit": 100, "RateLimit-Remaining": "2"}, RateLimit(None, 2)),
]


@pytest.mark.parametrize(
    ("headers", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_fields_are_ignored_one_by_one(headers: dict, expected: RateLimit | None) -> None:
    """A malformed field is dropped without an exception; well-formed neighbours are kept."""
    assert parse(headers, NOW) == expected


def test_a_one_megabyte_value_is_ignored_whole() -> None:
    """A value over MAX_VALUE_CHARS is not read at all, even if it starts like a number."""
    huge = "100;w=21600" + " " * (1024 * 1024)
    assert len(huge) > MAX_VALUE_CHARS
    assert parse({"ratelimit-limit": huge, "ratelimit-remaining": "1"}, NOW) == RateLimit(None, 1)
    assert parse({"ratelimit-limit": huge}, NOW) is None


def test_only_the_first_headers_are_looked_at() -> None:
    """Past MAX_HEADERS headers nothing more is read, so a header flood costs bounded work."""
    flood = {f"x-filler-{i}": "v" for i in range(MAX_HEADERS)}
    flood["RateLimit-Limit"] = "100"
    assert parse(flood, NOW) is None
    assert parse({"RateLimit-Limit": "100", **flood}, NOW) == RateLimit(100)


def test_a_value_with_thousands_of_members_is_bounded() -> None:
    """A list value is split into at most a few dozen members; the first still counts."""
    value = ("10, " + ", ".join(["1;w=1"] * 300))[:MAX_VALUE_CHARS]
    assert value.count(",") > 100
    rate = parse({"RateLimit-Limit": value}, NOW)
    assert rate is not None and rate.limit == 10


def test_not_a_mapping_gives_none() -> None:
    """Something that is not a header mapping is not an error, just no information."""
    assert parse(None, NOW) is None  # type: ignore[arg-type]
    assert parse([("RateLimit-Limit", "1")], NOW) is None  # type: ignore[arg-type]


# -- describe and hint ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (
            RateLimit(100, 20, 21600, source="192.0.2.1"),
            "20 of 100 left per 6 h; counted for 192.0.2.1",
        ),
        (RateLimit(600, 595, None, at(61)), "595 of 600 left; resets 2020-01-30 14:15 UTC"),
        (RateLimit(window_seconds=90), "window 90 s"),
        (RateLimit(remaining=0, window_seconds=5400), "0 left per 90 min"),
        (RateLimit(), "no rate-limit information"),
    ],
    ids=["docker hub", "gitlab", "window alone", "minutes", "empty"],
)
def test_describe(rate: RateLimit, expected: str) -> None:
    """describe() says quota, window, reset and source in one line."""
    assert rate.describe() == expected


DOCKER_EXHAUSTED = RateLimit(100, 0, 21600, None, None, "192.0.2.1", "100;w=21600")
SOON = RateLimit(100, 0, 21600, at(12 * 60), "retry-after")
LATER = RateLimit(100, 0, 21600, at(3 * 3600 + 60), "retry-after")

HINTS = [
    ("anonymous, no reset: log in", DOCKER_EXHAUSTED, False, False, LOGIN_ADVICE),
    ("logged in, no mirror: use one", DOCKER_EXHAUSTED, True, False, MIRROR_ADVICE),
    (
        "logged in with a mirror: the window",
        DOCKER_EXHAUSTED,
        True,
        True,
        "wait: the limit is 100 per 6 h",
    ),
    (
        "a reset within 15 min beats logging in",
        SOON,
        False,
        False,
        "wait until 14:26 UTC (in 12 min)",
    ),
    (
        "a distant reset is offered beside login",
        LATER,
        False,
        False,
        f"{LOGIN_ADVICE}, or wait until 17:15 UTC (in 3 h 1 min)",
    ),
    (
        "a distant reset is offered beside the mirror",
        LATER,
        True,
        False,
        f"{MIRROR_ADVICE}, or wait until 17:15 UTC (in 3 h 1 min)",
    ),
    (
        "nothing else left: wait for the reset",
        LATER,
        True,
        True,
        "wait until 17:15 UTC (in 3 h 1 min)",
    ),
    ("seconds away", RateLimit(reset=at(42)), True, True, "wait until 14:14 UTC (in 42 s)"),
    ("already reset", RateLimit(reset=at(-5)), False, False, "retry now (the limit has reset)"),
    (
        "two days away shows the date",
        RateLimit(reset=at(2 * 86400)),
        True,
        True,
        "wait until 2020-02-01 14:14 UTC (in 48 h)",
    ),
    ("no information at all", None, True, True, "wait a few minutes, then retry"),
    ("no information, anonymous", None, False, True, LOGIN_ADVICE),
]


@pytest.mark.parametrize(
    ("rate", "logged_in", "mirror", "expected"), [c[1:] for c in HINTS], ids=[c[0] for c in HINTS]
)
def test_hint(rate: RateLimit | None, logged_in: bool, mirror: bool, expected: str) -> None:
    """The 429 hint picks the cheapest next step and states times in UTC."""
    assert hint(rate, NOW, logged_in=logged_in, mirror_configured=mirror) == expected


def test_hint_never_shows_the_source() -> None:
    """The source address is a personal datum: hint() text, bound for errors, leaves it out."""
    for logged_in in (False, True):
        for mirror in (False, True):
            text = hint(DOCKER_EXHAUSTED, NOW, logged_in=logged_in, mirror_configured=mirror)
            assert "192.0.2.1" not in text


def test_hint_reads_no_clock() -> None:
    """hint() is pure: the same rate and now give the same words, whatever the wall clock."""
    assert hint(SOON, NOW, logged_in=True, mirror_configured=True) == hint(
        SOON, NOW, logged_in=True, mirror_configured=True
    )
    assert "in 12 min" in hint(SOON, NOW, logged_in=True, mirror_configured=True)
    later_now = NOW + timedelta(minutes=10)
    assert "in 2 min" in hint(SOON, later_now, logged_in=True, mirror_configured=True)


# -- which requests are pulls -----------------------------------------------------------------

PULLS = [
    ("GET a manifest by tag", "GET", "/v2/library/alpine/manifests/3.20", True),
    (
        "GET a manifest by digest",
        "GET",
        "/v2/ratelimitpreview/test/manifests/sha256:" + "a" * 64,
        True,
    ),
    ("lower-case method", "get", "/v2/library/alpine/manifests/latest", True),
    (
        "full URL with a query",
        "GET",
        "https://registry-1.docker.io/v2/ratelimitpreview/test/manifests/latest?ns=docker.io",
        True,
    ),
    ("deep repository name", "GET", "/v2/a/b/c/manifests/v1", True),
    (
        "HEAD of a manifest (docs: HEAD won't count)",
        "HEAD",
        "/v2/library/alpine/manifests/3.20",
        False,
    ),
    ("GET a blob", "GET", "/v2/library/alpine/blobs/sha256:" + "a" * 64, False),
    ("the ping", "GET", "/v2/", False),
    ("tags list", "GET", "/v2/library/alpine/tags/list", False),
    ("referrers", "GET", "/v2/library/alpine/referrers/sha256:" + "a" * 64, False),
    ("PUT a manifest (a push)", "PUT", "/v2/library/alpine/manifests/3.20", False),
    ("manifests without a reference", "GET", "/v2/library/alpine/manifests/", False),
    ("token endpoint", "GET", "https://auth.docker.io/token?scope=repository:a:pull", False),
    ("over-long path", "GET", "/v2/" + "a/" * 5000 + "manifests/x", False),
]


@pytest.mark.parametrize(
    ("method", "path", "expected"), [c[1:] for c in PULLS], ids=[c[0] for c in PULLS]
)
def test_is_pull(method: str, path: str, expected: bool) -> None:
    """Only GETs of /v2/<name>/manifests/<reference> count against Docker Hub's pull limit."""
    assert is_pull(method, path) is expected
