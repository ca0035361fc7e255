"""Registry authentication without I/O: challenges, scopes, token requests and the token cache.

registry.py does the HTTP; this module only decides. The flow it drives::

    401 + WWW-Authenticate  --parse_www_authenticate-->  [Challenge, ...]
        --select_challenge-->  Challenge  --challenge_problem-->  None, or a ChallengeError reason
    Bearer: TokenRequest.from_challenge(challenge, scopes, account=username)
        .params()  -> query for GET realm (Docker token spec), or .oauth2_form(refresh_token)
        .key(identity) -> TokenKey;  TokenCache.get_or_fetch(key, fetch) -> Token
    body of the token answer  --parse_token_response-->  Token (or TokenError / SizeLimitError)
    Basic: registry.py sends the credentials itself; there is no token.

Specs: RFC 7235 section 4.1 (WWW-Authenticate) and 2.1 (challenge grammar), RFC 7230 section 3.2.6
(token, quoted-string, quoted-pair) and 7.1 (#list with empty elements), RFC 6750 (Bearer), and
distribution's docs/spec/auth/token.md and scope.md (the Docker token protocol, "the token spec").
Nothing here returns or prints a token or a password except ``Token.value``/``Token.authorization``.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlsplit

from ociinspect.errors import SizeLimitError, TokenError

__all__ = [
    "ANONYMOUS",
    "MAX_TOKEN_RESPONSE_BYTES",
    "MIN_TOKEN_LIFETIME",
    "SUPPORTED_SCHEMES",
    "CacheStats",
    "Challenge",
    "ChallengeStore",
    "Scope",
    "Token",
    "TokenCache",
    "TokenKey",
    "TokenRequest",
    "basic_challenge",
    "bearer_challenge",
    "canonical_endpoint",
    "challenge_problem",
    "find_challenge",
    "merge_scopes",
    "parse_scopes",
    "parse_token_response",
    "parse_www_authenticate",
    "select_challenge",
    "token_request_params",
]

SUPPORTED_SCHEMES = ("bearer", "basic")
ANONYMOUS = "anonymous"
MIN_TOKEN_LIFETIME = 60.0  # token spec, "expires_in": default and minimum 60 seconds
MAX_TOKEN_RESPONSE_BYTES = 1 << 20

# RFC 7230 3.2.6: tchar; RFC 7235 2.1: token68.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_UNQUOTED_RE = re.compile(r"[^ \t,]+")
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_WS = " \t"


# --------------------------------------------------------------------------- challenges


@dataclass(frozen=True)
class Challenge:
    """One challenge of a ``WWW-Authenticate`` field (RFC 7235 2.1): scheme plus params or token68.

    ``scheme`` and param names are lower-cased (both are case-insensitive, RFC 7235 2.1/2.2);
    values are unquoted and unescaped. ``malformed`` is True when part of the header around this
    challenge broke the grammar and was skipped, or a value was read leniently (see
    :func:`parse_www_authenticate`); it takes no part in equality.
    """

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)
    token68: str | None = None
    malformed: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not _TOKEN_RE.fullmatch(self.scheme):
            raise ValueError(f"auth-scheme must be an RFC 7230 token, got {self.scheme!r}")
        if self.token68 is not None and self.params:
            raise ValueError("a challenge has either params or a token68 (RFC 7235 2.1)")
        if self.token68 is not None and not _TOKEN68_RE.fullmatch(self.token68):
            raise ValueError(f"{self.token68!r} is not an RFC 7235 token68")
        params: dict[str, str] = {}
        for key, value in self.params.items():
            if not _TOKEN_RE.fullmatch(key):
                raise ValueError(f"auth-param name must be an RFC 7230 token, got {key!r}")
            params.setdefault(key.lower(), str(value))
        object.__setattr__(self, "scheme", self.scheme.lower())
        object.__setattr__(self, "params", MappingProxyType(params))

    def __hash__(self) -> int:
        return hash((self.scheme, frozenset(self.params.items()), self.token68))

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def error(self) -> str | None:
        """RFC 6750 3.1 ``error`` (``invalid_token``, ``insufficient_scope``), if given."""
        return self.params.get("error")

    @property
    def scopes(self) -> tuple[Scope, ...]:
        """The challenge's ``scope`` param as scopes (space-separated, token spec scope.md)."""
        return parse_scopes(self.params.get("scope", ""))

    def __str__(self) -> str:
        """The challenge as header text; parses back to an equal Challenge."""
        head = self.scheme.capitalize()
        if self.token68 is not None:
            return f"{head} {self.token68}"
        if not self.params:
            return head
        quoted = (
            '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"'))
            for k, v in self.params.items()
        )
        return f"{head} {','.join(quoted)}"

    def __repr__(self) -> str:
        extra = ", malformed=True" if self.malformed else ""
        token68 = f", token68={self.token68!r}" if self.token68 is not None else ""
        return f"Challenge({self.scheme!r}, {dict(self.params)!r}{token68}{extra})"


class _Builder:
    __slots__ = ("scheme", "params", "token68", "malformed")

    def __init__(self, scheme: str) -> None:
        self.scheme = scheme
        self.params: dict[str, str] = {}
        self.token68: str | None = None
        self.malformed = False

    def add(self, name: str, value: str) -> None:
        name = name.lower()
        # RFC 7235 2.1: token68 or params, not both; 2.2: a name occurs once (first one wins)
        if name in self.params or self.token68 is not None:
            self.malformed = True
        else:
            self.params[name] = value

    def build(self) -> Challenge:
        return Challenge(self.scheme, self.params, self.token68, self.malformed)


def parse_www_authenticate(values: str | Sequence[str] | None) -> list[Challenge]:
    """Every challenge in one or more ``WWW-Authenticate`` field values, in order. Never raises.

    Follows RFC 7235: a field holds a comma-separated list of challenges (a token followed by
    ``=`` is a param of the current challenge, any other token starts the next one); param values
    are tokens or quoted-strings with backslash escapes; ``BWS`` around ``=`` and empty list
    elements are allowed. Several fields, or requests' comma-joined single string, give the same
    result. Recovery from broken input, flagged by ``Challenge.malformed``:

    - an element that breaks the grammar is skipped up to the next comma outside quotes, and
      earlier params are kept (``realm="a" junk`` keeps realm; an unterminated quote drops its
      param; ``service=`` with no value is dropped);
    - an unquoted value is read up to whitespace or a comma even if it holds non-tchar
      characters (``realm=/`` gives ``"/"``), as regclient does;
    - a quoted scheme or param name is not a token: that element yields nothing.
    """
    if values is None:
        return []
    fields = [values] if isinstance(values, str) else list(values)
    out: list[Challenge] = []
    for value in fields:
        if isinstance(value, str):
            _parse_field(value, out)
    return out


def _skip(s: str, i: int, chars: str) -> int:
    while i < len(s) and s[i] in chars:
        i += 1
    return i


def _skip_element(s: str, i: int) -> int:
    """Index of the next list comma at or after ``i`` that is outside a quoted-string."""
    n = len(s)
    while i < n and s[i] != ",":
        if s[i] == '"':
            m = _QUOTED_RE.match(s, i)
            if m is None:
                return n
            i = m.end()
        else:
            i += 1
    return i


def _parse_field(s: str, out: list[Challenge]) -> None:
    n = len(s)
    cur: _Builder | None = None
    i = 0
    while True:
        i = _skip(s, i, _WS + ",")
        if i >= n:
            break
        m = _TOKEN_RE.match(s, i)
        if m is None:  # not a token: a quoted scheme, a stray '=' or '"', non-ASCII ...
            if cur is not None:
                cur.malformed = True
            i = _skip_element(s, i)
            continue
        k = _skip(s, m.end(), _WS)
        if k < n and s[k] == "=":
            # a param before any scheme is skipped
            i = _skip_element(s, k) if cur is None else _parse_param(s, m.group(), k + 1, cur)
            continue
        if cur is not None:
            out.append(cur.build())
        cur = _Builder(m.group())
        i = m.end()
        if k >= n or s[k] == ",":
            i = k
            continue
        if i == k:  # RFC 7235 2.1: 1*SP between scheme and the rest (e.g. Basic"x")
            cur.malformed = True
            i = _skip_element(s, i)
            continue
        t = _TOKEN68_RE.match(s, k)
        if t is not None:
            end = _skip(s, t.end(), _WS)
            if end >= n or s[end] == ",":
                cur.token68 = t.group()
                i = end
                continue
        p = _TOKEN_RE.match(s, k)  # otherwise the first element must be an auth-param
        eq = _skip(s, p.end(), _WS) if p is not None else k
        if p is None or eq >= n or s[eq] != "=":
            cur.malformed = True
            i = _skip_element(s, k)
            continue
        i = _parse_param(s, p.group(), eq + 1, cur)
    if cur is not None:
        out.append(cur.build())


def _parse_param(s: str, name: str, i: int, cur: _Builder) -> int:
    """Read the value after ``name=`` into ``cur``; return the index of the following comma."""
    n = len(s)
    i = _skip(s, i, _WS)
    if i < n and s[i] == '"':
        m = _QUOTED_RE.match(s, i)
        if m is None:  # unterminated quoted-string: drop the param and the rest of the field
            cur.malformed = True
            return n
        value = _QUOTED_PAIR_RE.sub(r"\1", m.group(1))
        end = m.end()
    else:
        m = _UNQUOTED_RE.match(s, i)
        if m is None or '"' in m.group() or "\\" in m.group():
            cur.malformed = True  # no value (``service=``) or a broken one
            return _skip_element(s, i)
        value = m.group()
        end = m.end()
        if not _TOKEN_RE.fullmatch(value):
            cur.malformed = True  # read leniently: not an RFC 7230 token
    cur.add(name, value)
    end = _skip(s, end, _WS)
    if end < n and s[end] != ",":
        cur.malformed = True  # e.g. a missing comma between params
        return _skip_element(s, end)
    return end


def find_challenge(challenges: Iterable[Challenge], scheme: str) -> Challenge | None:
    """The first challenge of ``scheme`` (case-insensitive), or None."""
    scheme = scheme.lower()
    return next((c for c in challenges if c.scheme == scheme), None)


def bearer_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    return find_challenge(challenges, "bearer")


def basic_challenge(challenges: Iterable[Challenge]) -> Challenge | None:
    return find_challenge(challenges, "basic")


def select_challenge(challenges: Sequence[Challenge]) -> Challenge | None:
    """The challenge to answer: first Bearer, else first Basic, else the first one, else None.

    Returning an unsupported first challenge (as go-containerregistry's ping does) lets the
    caller name it: :func:`challenge_problem` then says why it cannot be answered.
    """
    return (
        bearer_challenge(challenges)
        or basic_challenge(challenges)
        or (challenges[0] if challenges else None)
    )


def challenge_problem(challenge: Challenge) -> str | None:
    """Why ociinspect cannot answer ``challenge``, as a ChallengeError reason; None if it can.

    registry.py: ``if (why := challenge_problem(ch)): raise ChallengeError(method, url, status,
    reason=why)``. The reason quotes only the server's own challenge params, never a secret.
    """
    if challenge.scheme not in SUPPORTED_SCHEMES:
        return (
            f"unsupported authentication scheme {challenge.scheme!r} "
            "(ociinspect answers Bearer and Basic)"
        )
    if challenge.scheme != "bearer":
        return None
    suffix = " (the WWW-Authenticate header was malformed)" if challenge.malformed else ""
    realm = challenge.realm
    if not realm:
        return "Bearer challenge has no realm" + suffix
    try:
        parts = urlsplit(realm)
        absolute = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port over 65535 or not a number
    except ValueError:
        absolute = False
    if not absolute:
        return f"Bearer realm {realm!r} is not an absolute http(s) URL" + suffix
    return None


def canonical_endpoint(url: str) -> str:
    """``scheme://host:port`` with the host lower-cased and the default port filled in.

    The key distribution's challenge manager files challenges under, so that
    ``https://Reg.example.com/v2/`` and ``https://reg.example.com:443/v2/x`` share one entry.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


class ChallengeStore:
    """The last challenges each registry endpoint sent; thread-safe.

    Lets registry.py ask the token server before the first request to a new repository instead
    of paying a 401 round trip each time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, tuple[Challenge, ...]] = {}

    def remember(self, url: str, challenges: Iterable[Challenge]) -> None:
        with self._lock:
            self._by_endpoint[canonical_endpoint(url)] = tuple(challenges)

    def get(self, url: str) -> tuple[Challenge, ...]:
        with self._lock:
            return self._by_endpoint.get(canonical_endpoint(url), ())

    def forget(self, url: str) -> None:
        with self._lock:
            self._by_endpoint.pop(canonical_endpoint(url), None)

    def __len__(self) -> int:
        return len(self._by_endpoint)


# --------------------------------------------------------------------------- scopes

_TYPE_RE = re.compile(r"[a-z0-9]+(?:\([a-z0-9]+\))?")  # scope.md: resourcetype
_ACTION_RE = re.compile(r"[A-Za-z0-9_*.\-]+")  # scope.md: /[a-z]*/, plus '*' and friends


@dataclass(frozen=True)
class Scope:
    """A token spec resource scope ``type:name:action,...`` (docs/spec/auth/scope.md).

    ``name`` may hold ``:`` (``repository:localhost:5000/foo:pull``): the type is up to the first
    colon and the actions after the last. Actions are stored sorted and deduplicated, so equal
    scopes print equally: ``Scope("repository", "a", ("push", "pull"))`` prints as
    ``repository:a:pull,push``.
    """

    type: str
    name: str
    actions: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _TYPE_RE.fullmatch(self.type):
            raise ValueError(f"scope resource type {self.type!r} is not [a-z0-9]+ (scope.md)")
        if not self.name or any(c in self.name for c in " \t\r\n,"):
            raise ValueError(f"scope resource name {self.name!r} is empty or has a separator")
        actions = tuple(sorted(set(self.actions)))
        if not actions or not all(_ACTION_RE.fullmatch(a) for a in actions):
            raise ValueError(f"scope actions {self.actions!r} are empty or malformed")
        object.__setattr__(self, "actions", actions)

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``"repository:library/alpine:pull,push"`` -> Scope; ValueError when malformed."""
        rtype, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2):
            raise ValueError(f"scope {text!r} is not type:name:actions")
        return cls(rtype, name, tuple(actions.split(",")))

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        """``Scope.repository("library/alpine", "pull")``."""
        return cls("repository", name, actions or ("pull",))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """Space-separated scopes (a challenge's ``scope`` param); malformed pieces are skipped."""
    scopes = []
    for piece in text.split():
        try:
            scopes.append(Scope.parse(piece))
        except ValueError:
            continue
    return tuple(scopes)


def merge_scopes(*scopes: Scope) -> tuple[Scope, ...]:
    """One scope per (type, name) with the union of actions, sorted by type then name."""
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return tuple(Scope(t, n, tuple(a)) for (t, n), a in sorted(merged.items()))


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


# --------------------------------------------------------------------------- token requests


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
