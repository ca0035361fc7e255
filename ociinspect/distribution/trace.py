"""A record of every HTTP exchange a client makes, with secrets redacted. No I/O.

The registry module appends one :class:`Exchange` per request it sends (token requests, each
redirect hop and each retry included), so notebooks and widgets can show the handshake. Nothing
stored here is a secret: ``Authorization``, ``Cookie`` and ``Set-Cookie`` values are replaced, and
URLs lose their user-info and the values of query parameters that are not known to be harmless
(pre-signed CDN URLs carry signatures there).
"""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"

#: Header names whose values are never stored.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-registry-auth"}
)

#: Query parameters whose values are kept in URLs; every other value is redacted.
SAFE_QUERY_KEYS = frozenset(
    {"n", "last", "service", "scope", "account", "artifacttype", "digest", "mount", "from"}
)


def redact_url(url: str) -> str:
    """``url`` without user-info, and with unknown query values replaced by ``<redacted>``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable url>"
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, v if k.lower() in SAFE_QUERY_KEYS else REDACTED) for k, v in pairs], safe="<>:/"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with secret values replaced; the auth scheme word is kept."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            word, space, _ = value.strip().partition(" ")
            # Only a scheme word is kept ("Bearer"); a bare token has none and is all secret.
            scheme = word if space and name.lower().endswith("authorization") else ""
            out[name] = f"{scheme} {REDACTED}".strip()
        elif name.lower() == "location":
            out[name] = redact_url(value)
        else:
            out[name] = value
    return out


def sent_secrets(headers: Mapping[str, str], extra: Iterable[str | None] = ()) -> list[str]:
    """The secrets a request carried, longest first: ``extra`` (a password, an identity token:
    also form-encoded), each Authorization-like header value, its credential part and, for
    Basic, the decoded ``user:password`` and the password."""
    found = [s for s in extra if s]
    found += [quote_plus(s) for s in found]
    for name, value in headers.items():
        if name.lower() not in SECRET_HEADERS or not value:
            continue
        scheme, _, credential = value.strip().partition(" ")
        found += [value, credential.strip()]
        if scheme.lower() == "basic":
            with contextlib.suppress(ValueError):  # binascii.Error, UnicodeDecodeError
                pair = base64.b64decode(credential.strip(), validate=True).decode()
                found += [pair, pair.partition(":")[2]]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``<redacted>`` (a server may echo what it got)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def scrub_json(value: Any, secrets: Sequence[str]) -> Any:
    """:func:`scrub` applied to every string (keys too) of a JSON value."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [scrub_json(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrub_json(v, secrets) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and its response (or the failure that stood in for one)."""

    method: str
    url: str
    status: int | None
    purpose: str
    elapsed: float
    bytes: int
    request_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    response_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    error: str | None = None
    started: float = field(default_factory=time.time, compare=False)

    @classmethod
    def record(
        cls,
        method: str,
        url: str,
        status: int | None,
        purpose: str,
        elapsed: float,
        nbytes: int,
        request_headers: Mapping[str, str] | None = None,
        response_headers: Mapping[str, str] | None = None,
        error: str | None = None,
    ) -> Exchange:
        """Build an exchange with URL and headers redacted; response headers that repeat a
        credential of the request are scrubbed too."""
        secrets = sent_secrets(request_headers or {})
        response = {k: scrub(v, secrets) for k, v in redact_headers(response_headers or {}).items()}
        return cls(
            method=method,
            url=redact_url(url),
            status=status,
            purpose=purpose,
            elapsed=elapsed,
            bytes=nbytes,
            request_headers=redact_headers(request_headers or {}),
            response_headers=response,
            error=error,
        )


class Trace:
    """A thread-safe, bounded list of exchanges. ``mark()`` + ``since(mark)`` slice one load."""

    def __init__(self, limit: int = 10_000) -> None:
        self._items: list[Exchange] = []
        self._dropped = 0
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self._items.append(exchange)
            if len(self._items) > self._limit:
                drop = len(self._items) - self._limit
                del self._items[:drop]
                self._dropped += drop

    def mark(self) -> int:
        """A position to pass to :meth:`since` later."""
        with self._lock:
            return self._dropped + len(self._items)

    def since(self, mark: int) -> list[Exchange]:
        """Exchanges recorded after ``mark``."""
        with self._lock:
            return list(self._items[max(0, mark - self._dropped) :])

    def clear(self) -> None:
        with self._lock:
            self._dropped += len(self._items)
            self._items.clear()

    def count(self, purpose: str | None = None) -> int:
        """How many exchanges (of one purpose, e.g. ``"token"``) are recorded."""
        with self._lock:
            return sum(1 for e in self._items if purpose is None or e.purpose == purpose)

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        return f"<Trace {len(self)} exchanges>"
