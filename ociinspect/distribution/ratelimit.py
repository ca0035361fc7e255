"""Rate limits as registries announce them, and what to do about a 429. No I/O, no clock.

Docker Hub (``content/manuals/docker-hub/usage/pulls.md`` in github.com/docker/docs at
000a96d340ed, "View pull rate and limit") sends, on GET *and* HEAD of a manifest::

    ratelimit-limit: 100;w=21600
    ratelimit-remaining: 20;w=21600
    docker-ratelimit-source: 192.0.2.1

"the pull limit is 100 pulls per 21600 seconds (6 hours)". The same page's table: unauthenticated
users get 100 pulls per 6 hours per IPv4 address or IPv6 /64 subnet, Personal (logged-in, free)
accounts 200 per 6 hours, Pro/Team/Business no pull rate limit (hence no headers at all). Docker
announced hourly limits for 2025 (10/h anonymous, 40 then 100/h Personal: docker/docs PRs #21494,
#21905, #22134) and went back to the 6-hour window; ociinspect therefore never assumes a window and
reads it from ``w=``. ``docker-ratelimit-source`` is the address (or, logged in, the account id)
the pulls are counted against.

The IETF drafts (draft-ietf-httpapi-ratelimit-headers) changed shape over time; all are read:

* -00..-06: ``RateLimit-Limit: 10`` (optionally followed by quota policies ``10;w=1, 50;w=60``),
  ``RateLimit-Remaining: 5``, ``RateLimit-Reset: 30`` (delta seconds).
* -07 (June 2023): one Dictionary ``RateLimit: limit=100, remaining=50, reset=5`` and
  ``RateLimit-Policy: 100;w=10`` (section 3.5).
* -08..-11: ``RateLimit-Policy: "default";q=100;w=10`` and ``RateLimit: "default";r=50;t=30``
  (-11 sections 3.1 and 4.1).

GitLab sends ``RateLimit-Reset`` as a Unix time and ``RateLimit-ResetTime`` as an HTTP date
(gitlab-org/gitlab issue 199738 shows both on a 429); a ``RateLimit-Reset`` of 10^9 or more
(2001-09-09 as a Unix time, 31 years as a delta) is therefore read as a Unix time.

``Retry-After`` (RFC 9110 section 10.2.3, seconds or an HTTP date, parsed by
:func:`ociinspect.distribution.retry.parse_retry_after`) takes precedence over every reset value:
draft -11 section 7, "If a response contains both the RateLimit and Retry-After fields, the
Retry-After field MUST take precedence".

Malformed values are ignored field by field ("Malformed RateLimit header fields MUST be ignored",
-11 section 7): a registry's header is advice, so :func:`parse` never raises on header content.
A value longer than :data:`MAX_VALUE_CHARS` is not read at all; at most :data:`MAX_HEADERS`
headers are looked at.

The source is kept verbatim (printable ASCII, at most :data:`MAX_SOURCE_CHARS`). It is not a
secret: it is the caller's own IP address or account id, which Docker Hub returns to that same
caller and which Docker's documentation prints as is. It is a personal datum, so ociinspect shows
it only where the caller asks for it (:attr:`RateLimit.source`, :meth:`RateLimit.describe`) and
never puts it into :func:`hint`, whose text ends up in error messages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .retry import parse_retry_after

#: A header value longer than this is ignored whole (a rate-limit value is a few dozen bytes).
MAX_VALUE_CHARS = 1024
#: Headers looked at, at most; the rest are not read.
MAX_HEADERS = 512
#: Longest ``docker-ratelimit-source`` kept (an IPv6 address is at most 45 characters).
MAX_SOURCE_CHARS = 128
#: Longest policy text kept.
MAX_POLICY_CHARS = 256
#: Items of a list or dictionary header read, at most.
MAX_MEMBERS = 32
#: Waits longer than this (ten years) are implausible and ignored.
MAX_DELAY_SECONDS = 10 * 365 * 24 * 3600
#: A ``RateLimit-Reset`` at or above this is a Unix time, not a delay.
UNIX_TIME_THRESHOLD = 1_000_000_000
#: :func:`hint` says "wait" first when the reset is at most this far away.
SHORT_WAIT = timedelta(minutes=15)

MIRROR_ADVICE = (
    "use a pull-through mirror (registry-mirrors in /etc/docker/daemon.json, "
    "or [[registry.mirror]] in registries.conf)"
)
LOGIN_ADVICE = "log in (docker login) for a higher limit"

_NAMES = (
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-resettime",
    "ratelimit",
    "ratelimit-policy",
    "retry-after",
    "docker-ratelimit-source",
)
_DIGITS = re.compile(r"[0-9]{1,15}")
_PRINTABLE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_MANIFEST_PATH = re.compile(r"/v2/(?P<name>[^?#]+)/manifests/(?P<reference>[^/?#]+)")
_MAX_PATH_CHARS = 4096


@dataclass(frozen=True)
class RateLimit:
    """What a response said about its rate limit; every field is None when not said.

    ``reset`` is an absolute UTC time computed from the ``now`` given to :func:`parse`;
    ``reset_from`` names the header it came from (``retry-after`` wins over the others).
    ``policy`` is the policy text as sent (``RateLimit-Policy``, else a ``RateLimit-Limit``
    value that carries ``;w=``, as Docker Hub's does).
    """

    limit: int | None = None
    remaining: int | None = None
    window_seconds: int | None = None
    reset: datetime | None = None
    reset_from: str | None = None
    source: str | None = None
    policy: str | None = None

    @property
    def exhausted(self) -> bool:
        """True when the registry said no quota is left."""
        return self.remaining == 0

    def describe(self) -> str:
        """One line for a person: ``20 of 100 left per 6 h; counted for 192.0.2.1``."""
        if self.remaining is not None and self.limit is not None:
            quota = f"{self.remaining} of {self.limit} left"
        elif self.remaining is not None:
            quota = f"{self.remaining} left"
        elif self.limit is not None:
            quota = f"limit {self.limit}"
        else:
            quota = ""
        if self.window_seconds is not None:
            window = _duration(self.window_seconds)
            quota = f"{quota} per {window}" if quota else f"window {window}"
        parts = [quota] if quota else []
        if self.reset is not None:
            parts.append(f"resets {self.reset:%Y-%m-%d %H:%M} UTC")
        if self.source is not None:
            parts.append(f"counted for {self.source}")
        return "; ".join(parts) if parts else "no rate-limit information"


def parse(headers: Mapping[str, str], now: datetime) -> RateLimit | None:
    """The rate limit announced by ``headers``, or None when they announce none.

    ``now`` is when the response arrived (a naive datetime is taken as UTC); delays become
    absolute times relative to it. Never raises on header content.
    """
    now = _utc(now)
    found = _collect(headers)
    if not found:
        return None

    limit_value = found.get("ratelimit-limit")
    limit, limit_window = _limit_field(limit_value)
    remaining, remaining_window = _first_int_and_window(found.get("ratelimit-remaining"))
    structured = _structured_ratelimit(found.get("ratelimit"))
    if limit is None:
        limit = structured.get("limit")
    if remaining is None:
        remaining = structured.get("remaining")
    policy_text = _printable(found.get("ratelimit-policy"), MAX_POLICY_CHARS)
    policy_limit, policy_window = _policy(policy_text, limit)
    if limit is None:
        limit = policy_limit
    window = _first(limit_window, remaining_window, policy_window)
    if policy_text is None and limit_window is not None:
        policy_text = _printable(limit_value, MAX_POLICY_CHARS)

    reset, reset_from = _reset(found, structured.get("reset"), now)
    source = _printable(found.get("docker-ratelimit-source"), MAX_SOURCE_CHARS)

    rate = RateLimit(limit, remaining, window, reset, reset_from, source, policy_text)
    return None if rate == RateLimit() else rate


def hint(rate: RateLimit | None, now: datetime, *, logged_in: bool, mirror_configured: bool) -> str:
    """The next step after a 429, in one line.

    A reset within :data:`SHORT_WAIT` is cheapest: "wait until 14:05 UTC (in 12 min)". Otherwise
    logging in raises Docker Hub's limit (100 -> 200 pulls per 6 h), then a mirror takes the pulls
    elsewhere; a known but distant reset is added to either. The source address is never included.
    """
    now = _utc(now)
    wait = _wait_text(rate, now)
    reset = rate.reset if rate is not None else None
    if wait is not None and reset is not None and reset - now <= SHORT_WAIT:
        return wait
    if not logged_in:
        return LOGIN_ADVICE + (f", or {wait}" if wait else "")
    if not mirror_configured:
        return MIRROR_ADVICE + (f", or {wait}" if wait else "")
    if wait is not None:
        return wait
    if rate is not None and rate.limit is not None and rate.window_seconds is not None:
        return f"wait: the limit is {rate.limit} per {_duration(rate.window_seconds)}"
    return "wait a few minutes, then retry"


def retry_is_futile(rate: RateLimit | None, now: datetime, max_wait: float) -> bool:
    """Whether retrying a 429 now is pointless: the registry said no quota is left, and the
    reset is unknown or further away than ``max_wait`` seconds (Docker Hub's pull limit comes
    back within hours, not within a retry budget)."""
    if rate is None or not rate.exhausted:
        return False
    return rate.reset is None or (rate.reset - _utc(now)).total_seconds() > max_wait


def error_reason(rate: RateLimit | None, hint_text: str) -> str:
    """The reason of a :class:`~ociinspect.errors.RateLimitedError`: what the registry said of
    the limit (never the source address), then the next step."""
    if rate is None:
        said = "the answer said nothing of the limit"
    else:
        public = RateLimit(rate.limit, rate.remaining, rate.window_seconds, rate.reset)
        said = public.describe()
        if rate.reset is None and said != "no rate-limit information":
            said += "; no reset time announced"
    return f"rate limited ({said}); next: {hint_text}"


def is_pull(method: str, path: str) -> bool:
    """Whether Docker Hub counts this request as a pull: a GET of ``/v2/<name>/manifests/<ref>``.

    docker/docs ``content/manuals/docker-hub/usage/pulls.md`` (000a96d340ed): the rate-limit
    headers "are returned on both GET and HEAD requests. Using GET emulates a real pull and counts
    towards the limit. Using HEAD won't."; "A pull for a normal image makes one pull for a single
    manifest"; "A pull for a multi-arch image will count as one pull for each different
    architecture"; "Version checks do not count". Docker's 2020 resource-consumption FAQ (quoted
    in ghdl/docker issue #30): "A pull request is up to two GET requests to the registry URL path
    '/v2/*/manifests/*' ... HEAD requests are not counted ... This is the trade-off for not
    counting individual layers" -- blob requests are not pulls. ``path`` may be a full URL and may
    carry a query.
    """
    if not isinstance(method, str) or method.upper() != "GET":
        return False
    if not isinstance(path, str) or len(path) > _MAX_PATH_CHARS:
        return False
    if "://" in path:
        try:
            path = urlsplit(path).path
        except ValueError:
            return False
    path = path.split("?", 1)[0].split("#", 1)[0]
    return _MANIFEST_PATH.fullmatch(path) is not None


# -- reading headers ------------------------------------------------------------------------


def _collect(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers this module reads, by lower-case name; oversized or non-text values dropped."""
    found: dict[str, str] = {}
    try:
        items = iter(headers.items())
    except (AttributeError, TypeError):
        return found
    for count, item in enumerate(items):
        if count >= MAX_HEADERS:
            break
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(name, str) or len(name) > 64:
            continue
        key = name.strip().lower()
        if key not in _NAMES or key in found:
            continue
        if isinstance(value, bytes):
            if len(value) > MAX_VALUE_CHARS:
                continue
            value = value.decode("latin-1")
        if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
            continue
        found[key] = value
    return found


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside double quotes (RFC 8941 strings), at most MAX_MEMBERS."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
            current.append(char)
        elif char == sep:
            parts.append("".join(current).strip())
            current = []
            if len(parts) >= MAX_MEMBERS:
                return parts
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def _member(text: str) -> tuple[str, dict[str, str]]:
    """A list member ``item;key=value;...``: the bare item and its parameters (lower-case keys)."""
    pieces = _split(text, ";")
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        key, _, value = piece.partition("=")
        key = key.strip().lower()
        if key and key not in params:
            params[key] = value.strip()
    return pieces[0].strip(), params


def _int(text: str | None) -> int | None:
    """A non-negative integer of at most 15 ASCII digits, else None."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _DIGITS.fullmatch(text) else None


def _first_int_and_window(value: str | None) -> tuple[int | None, int | None]:
    """``76;w=21600`` -> (76, 21600); the first list member only."""
    if value is None:
        return None, None
    item, params = _member(_split(value, ",")[0])
    return _int(item), _window(params.get("w"))


def _window(text: str | None) -> int | None:
    seconds = _int(text)
    return seconds if seconds is not None and 0 < seconds <= MAX_DELAY_SECONDS else None


def _limit_field(value: str | None) -> tuple[int | None, int | None]:
    """``RateLimit-Limit``: the first member is the limit; its window is its own ``w`` or that of
    a later quota policy with the same quota (drafts -00..-02: ``10, 10;w=1, 50;w=60``)."""
    if value is None:
        return None, None
    members = _split(value, ",")
    item, params = _member(members[0])
    limit, window = _int(item), _window(params.get("w"))
    if limit is not None and window is None:
        for member in members[1:]:
            other, other_params = _member(member)
            if _int(other) == limit and _window(other_params.get("w")) is not None:
                return limit, _window(other_params.get("w"))
    return limit, window


def _structured_ratelimit(value: str | None) -> dict[str, int]:
    """``RateLimit`` as draft -07's Dictionary (limit/remaining/reset) or -08+'s List of items
    with ``r`` (remaining) and ``t`` (seconds to reset) parameters; the first item only."""
    out: dict[str, int] = {}
    if value is None:
        return out
    members = _split(value, ",")
    first_item, first_params = _member(members[0])
    if "=" in first_item:  # -07 Dictionary: limit=100, remaining=50, reset=5
        for member in members:
            item, _ = _member(member)
            key, _, raw = item.partition("=")
            key = key.strip().lower()
            number = _int(raw)
            if key in ("limit", "remaining", "reset") and number is not None:
                out.setdefault(key, number)
        return out
    remaining, reset = _int(first_params.get("r")), _int(first_params.get("t"))
    if remaining is not None:
        out["remaining"] = remaining
    if reset is not None:
        out["reset"] = reset
    return out


def _policy(text: str | None, limit: int | None) -> tuple[int | None, int | None]:
    """(quota, window) of the policy matching ``limit`` (else the first): ``100;w=10`` (-07) or
    ``"default";q=100;w=10`` (-08+)."""
    if text is None:
        return None, None
    chosen: tuple[int | None, int | None] | None = None
    for member in _split(text, ","):
        item, params = _member(member)
        quota = _int(params["q"]) if "q" in params else _int(item)
        candidate = (quota, _window(params.get("w")))
        if chosen is None:
            chosen = candidate
        if limit is not None and quota == limit:
            return candidate
    return chosen or (None, None)


def _reset(
    found: Mapping[str, str], structured_reset: int | None, now: datetime
) -> tuple[datetime | None, str | None]:
    """(absolute reset time, header it came from), Retry-After first."""
    retry_after = found.get("retry-after")
    if retry_after is not None and _plausible_retry_after(retry_after):
        seconds = parse_retry_after(retry_after, now)
        if seconds is not None and seconds <= MAX_DELAY_SECONDS:
            return now + timedelta(seconds=seconds), "retry-after"
    value = _int(found.get("ratelimit-reset"))
    if value is not None:
        if value >= UNIX_TIME_THRESHOLD:
            when = _from_unix(value)
            if when is not None:
                return when, "ratelimit-reset"
        elif value <= MAX_DELAY_SECONDS:
            return now + timedelta(seconds=value), "ratelimit-reset"
    when = _http_date(found.get("ratelimit-resettime"))
    if when is not None:
        return when, "ratelimit-resettime"
    if structured_reset is not None and structured_reset <= MAX_DELAY_SECONDS:
        return now + timedelta(seconds=structured_reset), "ratelimit"
    return None, None


def _plausible_retry_after(value: str) -> bool:
    """Digit strings longer than 15 characters would overflow a datetime; dates are short."""
    stripped = value.strip()
    return not (stripped.isascii() and stripped.isdigit() and len(stripped) > 15)


def _from_unix(seconds: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _http_date(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _printable(value: str | None, limit: int) -> str | None:
    """``value`` stripped, if it is printable ASCII of at most ``limit`` characters."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > limit or not _PRINTABLE.fullmatch(value):
        return None
    return value


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


# -- formatting -----------------------------------------------------------------------------


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _duration(seconds: int) -> str:
    """21600 -> ``6 h``; 90 -> ``90 s``; 5400 -> ``90 min``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _wait_text(rate: RateLimit | None, now: datetime) -> str | None:
    """``wait until 14:05 UTC (in 12 min)``; the date is added when it is not within a day."""
    if rate is None or rate.reset is None:
        return None
    reset = rate.reset.astimezone(UTC)
    seconds = (reset - now).total_seconds()
    if seconds <= 0:
        return "retry now (the limit has reset)"
    minutes = math.ceil(seconds / 60)
    if seconds < 60:
        delay = f"{math.ceil(seconds)} s"
    elif minutes < 100:
        delay = f"{minutes} min"
    else:
        hours, rest = divmod(minutes, 60)
        delay = f"{hours} h {rest} min" if rest else f"{hours} h"
    when = f"{reset:%H:%M}" if seconds < 86400 else f"{reset:%Y-%m-%d %H:%M}"
    return f"wait until {when} UTC (in {delay})"


__all__ = [
    "MAX_HEADERS",
    "MAX_VALUE_CHARS",
    "RateLimit",
    "error_reason",
    "hint",
    "is_pull",
    "parse",
    "retry_is_futile",
]
