"""Registry token authentication without I/O: token requests, tokens and the token cache.

registry.py does the HTTP; this module only decides. The flow it drives, once a challenge was
chosen (:mod:`ociinspect.distribution.challenge`)::

    Bearer: TokenRequest.from_challenge(challenge, scopes, account=username)
        .url()/.params() -> GET realm?query (Docker token spec), or .oauth2_form(refresh_token)
        .key(identity) -> TokenKey;  TokenCache.get_or_fetch(key, fetch) -> Token
    body of the token answer  --parse_token_response-->  Token (or TokenError / SizeLimitError)
    Basic: basic_authorization(username, password) is the header value; there is no token.

Specs: distribution's docs/spec/auth/token.md, oauth.md and scope.md (the Docker token protocol,
"the token spec"; scopes are :mod:`ociinspect.distribution.scope`), RFC 6750 (Bearer), RFC 7617
(Basic). Nothing here returns or prints a token or a password except
``Token.value``/``Token.authorization`` and :func:`basic_authorization`.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from ..errors import SizeLimitError, TokenError
from .challenge import Challenge, challenge_problem
from .scope import Scope, merge_scopes, parse_scopes

__all__ = [
    "ANONYMOUS",
    "MAX_TOKEN_RESPONSE_BYTES",
    "MIN_TOKEN_LIFETIME",
    "CacheStats",
    "Token",
    "TokenCache",
    "TokenKey",
    "TokenRequest",
    "basic_authorization",
    "parse_token_response",
    "token_request_params",
]

ANONYMOUS = "anonymous"
MIN_TOKEN_LIFETIME = 60.0  # token spec, "expires_in": default and minimum 60 seconds
MAX_TOKEN_RESPONSE_BYTES = 1 << 20


# --------------------------------------------------------------------------- token requests


def _normalise_scope_string(text: str) -> str:
    """Merged, sorted scopes; pieces that are not scopes are kept verbatim, sorted, at the end."""
    good: list[Scope] = []
    bad: set[str] = set()
    for piece in text.split():
        parsed = parse_scopes(piece)
        good.extend(parsed)
        if not parsed:
            bad.add(piece)
    return " ".join([str(s) for s in merge_scopes(*good)] + sorted(bad))


@dataclass(frozen=True)
class TokenKey:
    """What a cached token is good for: realm, service, scopes and who asked.

    ``scope`` is normalised (merged, sorted, space-joined) so equal requests share a key.
    ``identity`` is ``"anonymous"`` or ``Credentials.identity``: a token fetched anonymously never
    answers a credentialed request, nor one user's token another's.
    """

    realm: str
    service: str
    scope: str
    identity: str = ANONYMOUS

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("TokenKey identity must not be empty (use auth.ANONYMOUS)")
        object.__setattr__(self, "scope", _normalise_scope_string(self.scope))


@dataclass(frozen=True)
class TokenRequest:
    """A request to a Bearer challenge's token server, before any HTTP (token spec)."""

    realm: str
    service: str | None
    scopes: tuple[Scope, ...]
    account: str | None = None

    @classmethod
    def from_challenge(
        cls,
        challenge: Challenge,
        scopes: Iterable[Scope] = (),
        account: str | None = None,
        *,
        challenge_scope: bool = True,
    ) -> TokenRequest:
        """The request answering ``challenge`` for ``scopes`` plus the challenge's own scope.

        ``account`` is the username when credentials will be sent (the token spec's ``account``
        param). Pass ``challenge_scope=False`` when reusing a remembered challenge for another
        repository (its scope names the old one). Raises ValueError if :func:`challenge_problem`
        has an objection.
        """
        problem = challenge_problem(challenge)
        if problem is None and challenge.scheme != "bearer":
            problem = f"a {challenge.scheme} challenge has no token server"
        if problem is not None:
            raise ValueError(problem)
        assert challenge.realm is not None
        merged = merge_scopes(*scopes, *(challenge.scopes if challenge_scope else ()))
        return cls(challenge.realm, challenge.service or None, merged, account or None)

    def params(self) -> list[tuple[str, str]]:
        """Query params for ``GET realm``: service, one ``scope=`` per scope, then account."""
        params = [("service", self.service)] if self.service else []
        params += [("scope", str(s)) for s in self.scopes]
        if self.account:
            params.append(("account", self.account))
        return params

    def url(self) -> str:
        """The URL of ``GET realm`` with :meth:`params` appended to the realm's own query."""
        sep = "&" if urlsplit(self.realm).query else "?"
        query = urlencode(self.params())
        return f"{self.realm}{sep}{query}" if query else self.realm

    def oauth2_form(
        self, refresh_token: str, client_id: str = "ociinspect"
    ) -> list[tuple[str, str]]:
        """Form body for ``POST realm`` with an identity token (token spec oauth.md).

        The form holds the secret: send it as the body, never log it.
        """
        form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        form += [("client_id", client_id)]
        if self.service:
            form.append(("service", self.service))
        if self.scopes:
            form.append(("scope", " ".join(str(s) for s in self.scopes)))
        return form

    def key(self, identity: str = ANONYMOUS) -> TokenKey:
        return TokenKey(self.realm, self.service or "", " ".join(map(str, self.scopes)), identity)


def token_request_params(
    challenge: Challenge, scopes: Iterable[Scope] = (), credentials_username: str | None = None
) -> list[tuple[str, str]]:
    """Shortcut for ``TokenRequest.from_challenge(challenge, scopes, username).params()``."""
    return TokenRequest.from_challenge(challenge, scopes, credentials_username).params()


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value of Basic credentials (RFC 7617 section 2). Secret."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    """A Bearer token; ``value`` never shows in repr/str. ``expires_at`` is on the cache's clock."""

    value: str = field(repr=False)
    expires_at: float
    expires_in: float = MIN_TOKEN_LIFETIME
    issued_at: datetime | None = None

    def __post_init__(self) -> None:
        # RFC 6750 2.1 b64token is narrower; any visible ASCII keeps the header well-formed.
        if not self.value or not all("!" <= c <= "~" for c in self.value):
            raise ValueError("token value is empty or holds characters not allowed in a header")
        if not (math.isfinite(self.expires_at) and math.isfinite(self.expires_in)):
            raise ValueError("token expiry must be finite")

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value. Secret: never log it."""
        return f"Bearer {self.value}"

    def is_fresh(self, now: float, margin: float = 0.0) -> bool:
        """True while ``now + margin`` is before ``expires_at``."""
        return now + margin < self.expires_at


def parse_token_response(
    body: bytes,
    now: float,
    *,
    url: str = "token endpoint",
    method: str = "GET",
    status: int | None = 200,
    wall_clock: float | None = None,
) -> Token:
    """The Token in a token server's JSON answer (token spec "Token Response Fields").

    Takes ``token``, else ``access_token`` (OAuth2); ``expires_in`` defaults to, and is raised
    to, 60 s. ``issued_at`` (RFC 3339) shortens the lifetime by the token's age measured on
    ``wall_clock`` (``time.time()`` if None) when that age is between 0 and ``expires_in``;
    otherwise the clocks disagree and the lifetime counts from ``now``. ``expires_at`` is
    ``now`` (the cache's clock, e.g. ``time.monotonic()``) plus the lifetime.

    Raises TokenError(method, url, status, reason=...) for anything that is not a token, and
    SizeLimitError for a body over MAX_TOKEN_RESPONSE_BYTES (callers should stop reading there).
    No message quotes the body.
    """

    def fail(reason: str) -> TokenError:
        return TokenError(method, url, status, reason=reason)

    if len(body) > MAX_TOKEN_RESPONSE_BYTES:
        raise SizeLimitError(f"token response from {url}", MAX_TOKEN_RESPONSE_BYTES, len(body))
    try:
        doc = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        looks = "HTML" if body.lstrip()[:1] == b"<" else "not JSON"
        raise fail(f"token response is {looks} ({len(body)} bytes)") from None
    if not isinstance(doc, dict):
        raise fail(f"token response is JSON {type(doc).__name__}, not an object")
    value = doc.get("token") or doc.get("access_token")
    if not value:
        raise fail("token response has neither 'token' nor 'access_token'")
    if not isinstance(value, str) or not all("!" <= c <= "~" for c in value):
        raise fail("token response's token is not a string of visible ASCII characters")
    raw_expires = doc.get("expires_in", MIN_TOKEN_LIFETIME)
    if isinstance(raw_expires, bool) or not isinstance(raw_expires, int | float):
        raise fail(f"token response's expires_in is {type(raw_expires).__name__}, not a number")
    try:
        expires_in = max(float(raw_expires), MIN_TOKEN_LIFETIME)
    except OverflowError:
        expires_in = math.inf
    if not math.isfinite(expires_in):
        raise fail("token response's expires_in is not a finite number")
    issued_at = _parse_rfc3339(doc.get("issued_at"))
    lifetime = expires_in
    if issued_at is not None:
        age = (time.time() if wall_clock is None else wall_clock) - issued_at.timestamp()
        if 0 <= age < expires_in:
            lifetime = expires_in - age
    return Token(value, now + lifetime, expires_in, issued_at)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _parse_rfc3339(value: object) -> datetime | None:
    """RFC 3339 date-time with an offset, or None (a missing or unreadable issued_at is ignored)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# --------------------------------------------------------------------------- cache


@dataclass(frozen=True)
class CacheStats:
    """Counters of a TokenCache. ``misses`` = calls that found no fresh token; ``waits`` = misses
    that joined another thread's fetch; ``fetches`` = calls of ``fetch`` (``failures`` raised)."""

    hits: int = 0
    misses: int = 0
    fetches: int = 0
    failures: int = 0
    waits: int = 0
    invalidations: int = 0


class _Flight:
    __slots__ = ("done", "owner", "token", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.owner = threading.get_ident()
        self.token: Token | None = None
        self.error: BaseException | None = None


class TokenCache:
    """Session-wide Bearer tokens by TokenKey; thread-safe, one fetch in flight per key.

    A token is served while ``clock() + margin < expires_at``. When several threads miss the
    same key at once, the first runs ``fetch`` and the others wait for its result; if ``fetch``
    raises, every waiter gets the same exception (nothing is cached, so the next call fetches
    anew). Waiting is unbounded, so ``fetch`` must have its own timeouts. A ``fetch`` that
    calls back into ``get_or_fetch`` for its own key gets RuntimeError instead of a deadlock.
    """

    def __init__(
        self,
        *,
        margin: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.margin = float(margin)
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._tokens: dict[TokenKey, Token] = {}
        self._flights: dict[TokenKey, _Flight] = {}
        self._counts = dict.fromkeys(CacheStats.__dataclass_fields__, 0)

    def get_or_fetch(self, key: TokenKey, fetch: Callable[[], Token]) -> Token:
        """A fresh cached token for ``key``, or the result of one shared call of ``fetch``."""
        with self._lock:
            token = self._fresh(key)
            if token is not None:
                self._counts["hits"] += 1
                return token
            self._counts["misses"] += 1
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
            elif flight.owner == threading.get_ident():
                raise RuntimeError("token fetch re-entered TokenCache.get_or_fetch for its own key")
            else:
                self._counts["waits"] += 1
        if not leader:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.token is not None
            return flight.token
        try:
            token = fetch()
        except BaseException as exc:
            with self._lock:
                self._counts["fetches"] += 1
                self._counts["failures"] += 1
                del self._flights[key]
            flight.error = (
                exc if isinstance(exc, Exception) else RuntimeError("token fetch was interrupted")
            )
            flight.done.set()
            raise
        with self._lock:
            self._counts["fetches"] += 1
            self._tokens[key] = token
            self._evict()
            del self._flights[key]
        flight.token = token
        flight.done.set()
        return token

    def peek(self, key: TokenKey) -> Token | None:
        """The fresh token for ``key``, or None; counts nothing and fetches nothing."""
        with self._lock:
            return self._fresh(key)

    def invalidate(self, key: TokenKey, token: Token) -> bool:
        """Forget ``token`` (e.g. after a 401) unless a newer token already replaced it."""
        with self._lock:
            if self._tokens.get(key) != token:
                return False
            del self._tokens[key]
            self._counts["invalidations"] += 1
            return True

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()

    @property
    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(**self._counts)

    def __len__(self) -> int:
        """Number of fresh tokens held."""
        with self._lock:
            now = self.clock()
            return sum(t.is_fresh(now, self.margin) for t in self._tokens.values())

    def __repr__(self) -> str:
        s = self.stats
        return (
            f"TokenCache(tokens={len(self)}, margin={self.margin}, hits={s.hits}, "
            f"misses={s.misses}, fetches={s.fetches})"
        )

    def _fresh(self, key: TokenKey) -> Token | None:
        token = self._tokens.get(key)
        if token is None:
            return None
        if token.is_fresh(self.clock(), self.margin):
            return token
        del self._tokens[key]
        return None

    def _evict(self) -> None:
        if len(self._tokens) <= self.max_entries:
            return
        now = self.clock()
        for key in [k for k, t in self._tokens.items() if not t.is_fresh(now, self.margin)]:
            del self._tokens[key]
        while len(self._tokens) > self.max_entries:
            del self._tokens[min(self._tokens, key=lambda k: self._tokens[k].expires_at)]
