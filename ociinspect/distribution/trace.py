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
from urllib.parse import quote, quote_plus, urlsplit

from .ratelimit import RateLimit, is_pull

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
    """``url`` for display: as :meth:`~ociinspect.distribution.urls.Url.redacted` shows a URL
    the client may connect to (query values other than harmless ones replaced by
    ``<redacted>``); any other text as :func:`~ociinspect.distribution.urls.redact` shows it,
    whatever any parser could read as user-info dropped. One parser decides both."""
    from .urls import checked_url, redact  # urls imports this module

    try:
        return checked_url(url).redacted()
    except ValueError:  # UnsafeUrlError: not a URL the client would use
        return redact(url).replace(f"://{REDACTED}@", "://", 1)


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


class Secrets:
    """Every credential a client has used or received (passwords, identity and refresh tokens,
    bearer tokens, ``Authorization`` values and their decoded parts), in the forms a server
    could echo them in (raw, percent- and form-encoded). Thread-safe and bounded: the oldest
    are forgotten past ``limit`` (a token's lifetime is minutes; ``limit`` covers hours).

    The client scrubs every URL, header and message that leaves it with :meth:`scrub`, so a
    server that echoes a secret into a ``Location``, a header or an error body does not get it
    printed."""

    def __init__(self, limit: int = 512) -> None:
        self._values: dict[str, None] = {}
        self._limit = limit
        self._lock = threading.Lock()
        self._sorted: tuple[str, ...] = ()

    def add(self, *values: str | None) -> None:
        """Remember ``values`` (and their encoded forms); short strings (under 4 characters)
        are not secrets worth scrubbing everywhere."""
        forms = {f for v in values if v and len(v) >= 4 for f in (v, quote_plus(v), quote(v, ""))}
        if not forms or forms.issubset(self._values):
            return
        with self._lock:
            for form in forms:
                self._values.pop(form, None)
                self._values[form] = None
            while len(self._values) > self._limit:
                del self._values[next(iter(self._values))]
            self._sorted = tuple(sorted(self._values, key=len, reverse=True))

    def add_sent(self, headers: Mapping[str, str]) -> None:
        """Remember what a request's headers carry (see :func:`sent_secrets`)."""
        found = sent_secrets(headers)
        if found:
            self.add(*found)

    def values(self) -> tuple[str, ...]:
        """Every remembered form, longest first (so a longer secret is replaced whole)."""
        return self._sorted

    def found_in(self, text: str, min_length: int = 8) -> bool:
        """Whether ``text`` holds a remembered secret of at least ``min_length`` characters in
        any form (shorter ones would match ordinary words of a path, and are only scrubbed)."""
        return any(secret in text for secret in self._sorted if len(secret) >= min_length)

    def scrub(self, text: str) -> str:
        """``text`` with every remembered secret replaced by ``<redacted>``."""
        return scrub(text, self._sorted) if self._sorted else text

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Secrets {len(self)}>"


def scrub_error(exc: BaseException, secrets: Sequence[str]) -> BaseException:
    """``exc`` (changed in place, and returned) with ``secrets`` scrubbed from its message and
    its text attributes; exceptions it was raised from or during that are not ociinspect's
    (a requests or urllib3 error quoting a URL with its query) are cut off the chain, and
    ociinspect's own are scrubbed in turn."""
    from ..errors import OCIInspectError, RegistryError, RegistryErrorDetail

    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        seen.add(id(item))
        if secrets:
            built = isinstance(item, RegistryError) and item.args == (item._message(),)
            for name, value in list(vars(item).items()):
                if isinstance(value, str):
                    setattr(item, name, scrub(value, secrets))
            if isinstance(item, RegistryError):
                item.errors = tuple(
                    RegistryErrorDetail(
                        scrub(e.code, secrets), scrub(e.message, secrets),
                        scrub_json(e.detail, secrets),
                    )
                    for e in item.errors
                )  # fmt: skip
            if built and isinstance(item, RegistryError):
                item.args = (item._message(),)
            else:
                item.args = tuple(
                    scrub(a, secrets) if isinstance(a, str) else a for a in item.args
                )
        following = item.__cause__ or item.__context__
        if following is not None and not isinstance(following, OCIInspectError):
            item.__cause__ = item.__context__ = None
            item.__suppress_context__ = True
            following = None
        item = following
    return exc


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
    #: What the answer's rate-limit headers said (:func:`ociinspect.distribution.ratelimit.parse`).
    ratelimit: RateLimit | None = field(default=None, compare=False)
    #: The registry this request stood in for when a mirror was asked (``docker.io``), else None.
    mirror_for: str | None = field(default=None, compare=False)
    #: The proxy the request went through (``http://proxy:3128``, credentials hidden), or None.
    proxy: str | None = field(default=None, compare=False)

    @property
    def pull(self) -> bool:
        """Whether Docker Hub counts this request as a pull: a manifest GET
        (:func:`ociinspect.distribution.ratelimit.is_pull`) that served the manifest (200). A
        401 asking for a token, or a 404 or 429, serves nothing and counts nothing here."""
        return self.status == 200 and is_pull(self.method, self.url)

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
        *,
        secrets: Sequence[str] = (),
        proxy: str | None = None,
    ) -> Exchange:
        """Build an exchange with URL and headers redacted; every credential of the request,
        and every one of ``secrets`` (what the client ever sent or received, see
        :class:`Secrets`), is scrubbed from the URL, the headers and the error too."""
        known = sorted({*sent_secrets(request_headers or {}), *secrets}, key=len, reverse=True)

        def clean(headers: Mapping[str, str] | None) -> dict[str, str]:
            return {k: scrub(v, known) for k, v in redact_headers(headers or {}).items()}

        return cls(
            method=method,
            url=scrub(redact_url(url), known),
            status=status,
            purpose=purpose,
            elapsed=elapsed,
            bytes=nbytes,
            request_headers=clean(request_headers),
            response_headers=clean(response_headers),
            error=scrub(error, known) if error is not None else None,
            proxy=proxy,
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

    def summary(self, mark: int = 0) -> TraceSummary:
        """What the exchanges since ``mark`` (see :meth:`mark`) add up to; ``pulls`` counts
        manifest GETs, what Docker Hub's pull limit counts."""
        return summarize(self.since(mark))

    def __iter__(self) -> Iterator[Exchange]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __repr__(self) -> str:
        return f"<Trace {len(self)} exchanges>"


@dataclass(frozen=True)
class TraceSummary:
    """What a run of exchanges adds up to (:func:`summarize`, :meth:`Trace.summary`).

    ``pulls`` counts manifest GETs: Docker Hub counts each as a pull against its limit, a HEAD
    costs nothing (:func:`~ociinspect.distribution.ratelimit.is_pull`). ``ratelimit`` is the
    most recent word on the limit: the announcement with the fewest pulls left (they only go
    down within a run; answers to concurrent requests may be recorded out of order), and
    ``ratelimit_host`` the host that made it. ``mirrors`` are the hosts that answered for
    another registry.
    """

    requests: int = 0
    pulls: int = 0
    heads: int = 0
    tokens: int = 0
    bytes: int = 0
    ratelimit: RateLimit | None = None
    ratelimit_host: str | None = None
    mirrors: tuple[str, ...] = ()

    def describe(self) -> str:
        """``12 requests, 9 pulls (manifest GETs), 1 token; 91 of 100 left per 6 h``."""
        def plural(n: int, word: str) -> str:
            return f"{n} {word}{'s' * (n != 1)}"

        text = (
            f"{plural(self.requests, 'request')}, {plural(self.pulls, 'pull')} (manifest GETs), "
            f"{plural(self.tokens, 'token request')}"
        )
        if self.mirrors:
            text += f"; answered by mirror {', '.join(self.mirrors)}"
        if self.ratelimit is not None:
            rate = RateLimit(
                self.ratelimit.limit,
                self.ratelimit.remaining,
                self.ratelimit.window_seconds,
                self.ratelimit.reset,
                self.ratelimit.reset_from,
            )  # the source (an address) stays out of a summary that ends up in notebooks
            text += f"; {self.ratelimit_host}: {rate.describe()}"
        return text


def summarize(exchanges: Iterable[Exchange]) -> TraceSummary:
    """Counts over ``exchanges`` (see :class:`TraceSummary`)."""
    requests = pulls = heads = tokens = nbytes = 0
    lowest: Exchange | None = None
    mirrors: list[str] = []
    for exchange in exchanges:
        requests += 1
        nbytes += exchange.bytes
        pulls += exchange.pull
        heads += exchange.method == "HEAD" and exchange.purpose == "manifest"
        tokens += exchange.purpose == "token"
        rate = exchange.ratelimit
        if rate is not None and (
            lowest is None
            or lowest.ratelimit is None
            or rate.remaining is None
            or lowest.ratelimit.remaining is None
            or rate.remaining <= lowest.ratelimit.remaining
        ):
            lowest = exchange
        answered = exchange.status is not None and exchange.status < 400
        if exchange.mirror_for is not None and answered and "/v2/" in exchange.url:
            host = urlsplit(exchange.url).netloc
            if host not in mirrors:
                mirrors.append(host)
    return TraceSummary(
        requests,
        pulls,
        heads,
        tokens,
        nbytes,
        lowest.ratelimit if lowest is not None else None,
        urlsplit(lowest.url).netloc if lowest is not None else None,
        tuple(mirrors),
    )
