"""``WWW-Authenticate`` challenges: parse them, pick the one to answer, say why one cannot be.

The first step of registry authentication, before any token (:mod:`ociinspect.distribution.auth`)::

    401 + WWW-Authenticate  --parse_www_authenticate-->  [Challenge, ...]
        --select_challenge-->  Challenge  --challenge_problem-->  None, or a ChallengeError reason

:class:`ChallengeStore` remembers the last challenges of each registry endpoint
(:func:`canonical_endpoint`). No I/O: registry.py reads the header and raises the errors.

Specs: RFC 7235 section 4.1 (WWW-Authenticate) and 2.1 (challenge grammar), RFC 7230 section
3.2.6 (token, quoted-string, quoted-pair) and 7.1 (#list with empty elements), RFC 6750 (Bearer);
a challenge's ``scope`` param follows distribution's docs/spec/auth/scope.md (:mod:`.scope`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

from ..errors import UnsafeUrlError
from .scope import Scope, parse_scopes
from .urls import checked_url, redact

__all__ = [
    "MAX_CHALLENGES",
    "MAX_CHALLENGE_TEXT",
    "SUPPORTED_SCHEMES",
    "Challenge",
    "ChallengeStore",
    "basic_challenge",
    "bearer_challenge",
    "canonical_endpoint",
    "challenge_overflow",
    "challenge_problem",
    "find_challenge",
    "parse_www_authenticate",
    "select_challenge",
]

SUPPORTED_SCHEMES = ("bearer", "basic")
#: Bounds on what one answer's ``WWW-Authenticate`` fields may hold: the text parsed (a real
#: registry sends one or two challenges of a few hundred bytes) and the challenges kept.
#: Past either, :func:`challenge_overflow` names the problem and the flow refuses the answer
#: (a :class:`~ociinspect.errors.ChallengeError`), after parsing no more than the bound.
MAX_CHALLENGE_TEXT = 64 * 1024
MAX_CHALLENGES = 64

# RFC 7230 3.2.6: tchar; RFC 7235 2.1: token68.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL)
_UNQUOTED_RE = re.compile(r"[^ \t,]+")
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_WS = " \t"


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

    Bounded: at most :data:`MAX_CHALLENGE_TEXT` characters are parsed (later fields are
    skipped, a field that crosses the bound is cut there) and at most :data:`MAX_CHALLENGES`
    challenges are returned; :func:`challenge_overflow` says when that happened.
    """
    if values is None:
        return []
    fields = [values] if isinstance(values, str) else list(values)
    out: list[Challenge] = []
    budget = MAX_CHALLENGE_TEXT
    for value in fields:
        if isinstance(value, str) and budget > 0:
            _parse_field(value[:budget], out)
            budget -= len(value)
        if len(out) >= MAX_CHALLENGES:
            break
    return out[:MAX_CHALLENGES]


def challenge_overflow(values: Sequence[str]) -> str | None:
    """Why the ``WWW-Authenticate`` field values of one answer are too much to use (more text
    than :data:`MAX_CHALLENGE_TEXT`, more challenges than :data:`MAX_CHALLENGES`), or None.
    Counting is cheap (no parsing past the bounds)."""
    size = sum(len(v) for v in values)
    if size > MAX_CHALLENGE_TEXT:
        return (
            f"{len(values)} WWW-Authenticate fields of {size:,} characters, over the limit of "
            f"{MAX_CHALLENGE_TEXT:,}: not a registry's challenge"
        )
    if len(parse_www_authenticate(values)) >= MAX_CHALLENGES:
        return f"{MAX_CHALLENGES} or more challenges in one answer: not a registry's challenge"
    return None


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
        return f"Bearer realm {redact(realm)!r} is not an absolute http(s) URL" + suffix
    try:
        checked_url(realm)  # the one parser: what is checked is what connects
    except UnsafeUrlError as exc:
        return f"Bearer realm: {exc}" + suffix  # names what each parser read, if they differ
    return None


def canonical_endpoint(url: str) -> str:
    """``scheme://host:port`` with the host lower-cased and the default port filled in.

    The key distribution's challenge manager files challenges under, so that
    ``https://Reg.example.com/v2/`` and ``https://reg.example.com:443/v2/x`` share one entry.
    A URL :func:`~ociinspect.distribution.urls.checked_url` accepts is read by it (a trailing
    dot dropped too); anything else as urllib.parse reads it (it is never connected to).
    """
    with contextlib.suppress(UnsafeUrlError):
        found = checked_url(url)
        shown = f"[{found.host}]" if ":" in found.host else found.host
        return f"{found.scheme}://{shown}:{found.port}"
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

    The client keeps one, so it asks the token server before the first request to a new
    repository instead of paying a 401 round trip each time; ``Reg.Example:443`` and
    ``reg.example`` are one endpoint (:func:`canonical_endpoint`).
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
