"""One reading of every URL: what is checked is what connects. No I/O.

requests hands a URL to two parsers that do not always agree: ``PreparedRequest.prepare_url``
rebuilds it with urllib3's ``parse_url``, and the adapter then picks the host to connect to
with ``urllib.parse.urlparse`` of the result (requests 2.34, ``adapters._urllib3_request_context``).
On ``http://127.0.0.3:5000\\@127.0.0.1:5001/v2/`` the stdlib reads host 127.0.0.1 port 5001
(the backslash is an ordinary userinfo character to RFC 3986) while urllib3 ends the
authority at the backslash and reads 127.0.0.3 port 5000, as WHATWG browsers do. A client
that checks origins with one and connects with the other is fooled. :func:`checked_url`
accepts a URL only when ociinspect's own strict reading, urllib.parse and urllib3 all agree
on scheme, host and port, and then builds the one string to connect to, a fixed point of
requests' ``prepare_url``: requests sends exactly what was checked.

Refused, each with an :class:`UnsafeUrlError` naming the URL redacted (no userinfo, no query
values) and, when they differ, what each parser read:

- more than :data:`MAX_URL_LENGTH` characters;
- control characters (C0, DEL, C1), spaces and other whitespace anywhere: urllib.parse
  silently deletes tab, CR and LF (WHATWG's rule), urllib3 keeps them and requests sends
  ``%09``;
- backslashes anywhere (WHATWG reads ``\\`` as ``/`` in http(s) URLs, RFC 3986 does not);
- schemes other than http and https, and URLs without a ``//`` authority;
- userinfo, and any ``@`` in the authority (``http://host;@evil/``): credentials travel in
  headers, never in URLs;
- non-ASCII hosts (``bücher.de``, the ideographic full stop ``。``, fullwidth digits): write the
  IDNA form (``xn--bcher-kva.de``). urllib3 encodes some, refuses others; Unicode mapping
  (UTS #46) is where lookalike hosts hide;
- ``%`` anywhere in the authority: ``%2F``, ``%40``, ``%3A`` in a host, an encoded dot, IPv6
  zone identifiers (``[fe80::1%25eth0]``, RFC 6874) which name an interface, not a host;
- empty hosts, empty labels (``a..b``, ``.a``), labels that are not letters, digits, ``-``
  and ``_`` (RFC 1123 section 2.1 host names, plus ``_`` which Docker networks use), labels
  over 63 and names over 253 characters (RFC 1035 section 2.3.4);
- hosts whose last label is a number but which are not a dotted-quad IPv4 address in
  decimal: ``127.1``, ``0x7f.0.0.1``, ``2130706433`` and ``0177.0.0.1`` all reach a host
  (``inet_aton`` reads them) that is not the string compared (WHATWG URL "ends in a number");
- IPv6 literals that do not parse, IPvFuture (``[v1.x]``) and IPv4-mapped addresses
  (``[::ffff:127.0.0.1]``, an IPv4 host spelt another way);
- ports that are not 1 to 5 ASCII digits, 0 (requests drops ``:0`` and connects to 80) or
  over 65535; ``http://a:1:2/``;
- paths and queries requests would rewrite again (``%2e%2e`` becomes ``..`` and then goes).

Normalised, and documented here because each changes the string: the scheme and host are
lower-cased; one trailing dot of a host name is dropped (``registry.example.`` and
``registry.example`` are one host and must be one origin; ``a..`` is refused); IPv6 literals
are written compressed; the port is explicit in :attr:`Url.port` and left out of
:meth:`Url.geturl` when it is the scheme's default (RFC 3986 section 6.2.3); the fragment is
dropped (never sent, RFC 9110 section 7.1); path and query are what requests sends: dot
segments removed (RFC 3986 section 5.2.4), characters outside RFC 3986 percent-encoded as
UTF-8, percent-encoded unreserved characters decoded (section 6.2.2.2), a bare host given the
path ``/``.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from requests.models import PreparedRequest
from requests.utils import requote_uri
from urllib3.util import parse_url

from ..errors import UnsafeUrlError
from ..terminal import safe
from ..values.reference import is_loopback
from .trace import REDACTED, SAFE_QUERY_KEYS

__all__ = [
    "DEFAULT_PORTS",
    "MAX_URL_LENGTH",
    "Origin",
    "UnsafeUrlError",
    "Url",
    "checked_url",
    "redact",
    "redact_target",
    "resolve_reference",
]

#: URLs longer than this are refused before any parsing. Pre-signed CDN URLs with session
#: tokens run to about 2,000 characters; 8 KiB is nginx's default request-line buffer.
MAX_URL_LENGTH = 8192
#: The schemes ociinspect connects with, and their default ports (RFC 9110 sections 4.2.1-2).
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Redacted URLs shown in errors are cut to this many characters.
_DISPLAY_LENGTH = 240

Origin = tuple[str, str, int]

_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?\Z")
_NUMERIC_LABEL_RE = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)\Z")
_QUAD_PART_RE = re.compile(r"(?:0|[1-9][0-9]{0,2})\Z")
_PORT_RE = re.compile(r"[0-9]{1,5}\Z")
_QUERY_KEY_RE = re.compile(r"[A-Za-z0-9_.\-\[\]]{1,64}\Z")
# ASCII controls and whitespace, DEL and C1 controls, and non-ASCII whitespace; checked over
# the whole URL before anything else reads it.
_BAD_CHAR_RE = re.compile(r"[\x00-\x20\x7f-\x9f\\\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
                          r"\u205f\u3000\ufeff]")
_PATH_CHAR_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*\Z")


@dataclass(frozen=True, repr=False)
class Url:
    """An http(s) URL every parser reads alike; make one with :func:`checked_url`.

    ``host`` is lower-case ASCII without brackets or a trailing dot; ``port`` is always
    explicit; ``path`` (starting with ``/``) and ``query`` (without ``?``, ``""`` when none)
    are the request target exactly as requests will send it. ``repr`` and ``str`` show the
    URL redacted; :meth:`geturl` is the string to hand to requests.
    """

    scheme: str
    host: str
    port: int
    path: str = "/"
    query: str = ""

    def __post_init__(self) -> None:
        problem = (
            "scheme is not http or https" if self.scheme not in DEFAULT_PORTS
            else "port out of range" if not 0 < self.port <= 65535
            else "host is not a checked host" if _host_problem(self.host)
            else "path does not start with '/'" if not self.path.startswith("/")
            else "path or query holds characters requests would encode"
            if not _PATH_CHAR_RE.match(self.path + self.query) or "?" in self.path
            else None
        )
        if problem:
            shown = redact(f"{self.scheme}://{self.host}:{self.port}{self.path}?{self.query}")
            raise UnsafeUrlError(shown, problem)

    @property
    def origin(self) -> Origin:
        """``(scheme, host, port)`` (RFC 6454 section 4): the value every origin comparison,
        the plain-http refusal and NO_PROXY matching use."""
        return (self.scheme, self.host, self.port)

    @property
    def netloc(self) -> str:
        """``host``, ``host:port`` or ``[v6]:port``; the port only when not the default."""
        return _netloc(self.scheme, self.host, self.port)

    @property
    def target(self) -> str:
        """The request target (RFC 9112 section 3.2.1, origin-form): path and query."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def is_loopback(self) -> bool:
        """True for localhost, ``*.localhost``, 127.0.0.0/8 and ::1 (the project's one rule)."""
        return is_loopback(self.host)

    def geturl(self) -> str:
        """The exact string to connect to: ``prepare_url`` leaves it as it is."""
        return f"{self.scheme}://{self.netloc}{self.target}"

    def redacted(self) -> str:
        """The URL for errors, logs and traces: query values other than harmless ones
        (``n``, ``last``, ``scope``, ...) replaced by ``<redacted>``."""
        query = f"?{_redact_query(self.query)}" if self.query else ""
        return f"{self.scheme}://{self.netloc}{self.path}{query}"

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"Url({self.redacted()!r})"


# -- redaction ------------------------------------------------------------------------------


def _authority_span(url: str) -> tuple[int, int] | None:
    """Start and end of the authority of ``scheme://authority...``: up to the first ``/``,
    ``?`` or ``#`` (a backslash does not end it here, as in urllib.parse); None without
    ``//``."""
    match = _SCHEME_RE.match(url)
    start = match.end() if match else 0
    if not url.startswith("//", start):
        return None
    start += 2
    ends = [i for i in (url.find(c, start) for c in "/?#") if i >= 0]
    return start, min(ends, default=len(url))


def _hidden_span(url: str) -> tuple[int, int] | None:
    """The part of ``url`` a display must hide: whatever any parser, or a person who wrote a
    password with an unencoded ``/`` in it, could mean as userinfo: from after a clean
    ``scheme://`` (else from the start) to the last ``@`` ahead of the query. An ``@`` in a
    path hides the host too; that is the price, paid only in errors about refused URLs."""
    span = _authority_span(url)
    # A clean "scheme://" stays visible: no parser reads userinfo before the "//".
    start = span[0] if span and not _BAD_CHAR_RE.search(url, 0, span[0]) else 0
    ends = [i for i in (url.find(c, start) for c in "?#") if i >= 0]
    at = url.rfind("@", start, min(ends, default=len(url)))
    return (start, at) if at >= 0 else None


def _redact_query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        key, eq, _value = pair.partition("=")
        if not _QUERY_KEY_RE.match(key):
            pairs.append(REDACTED)
        elif key.lower() in SAFE_QUERY_KEYS:
            pairs.append(pair)
        else:  # a bare key (no "=") is data too: ?<token>
            pairs.append(f"{key}={REDACTED}" if eq else REDACTED)
    return "&".join(pairs)


def redact(url: str) -> str:
    """``url`` fit for an error message, whatever it holds: what any parser could read as
    userinfo replaced by ``<redacted>``, query values (and odd keys) redacted except harmless
    ones, the fragment dropped, control characters escaped (:func:`safe`), cut to 240
    characters."""
    hidden = _hidden_span(url)
    if hidden:
        url = url[: hidden[0]] + REDACTED + url[hidden[1] :]
    url = url.partition("#")[0]
    head, question, query = url.partition("?")
    text = safe(head + (question + _redact_query(query) if question else ""))
    return text if len(text) <= _DISPLAY_LENGTH else text[: _DISPLAY_LENGTH - 1] + "…"


def redact_target(target: str) -> str:
    """A request target (``/v2/...?query``, as urllib3 logs it) with its query values redacted
    as :func:`redact` does, and controls escaped."""
    path, question, query = target.partition("#")[0].partition("?")
    return safe(path + (question + _redact_query(query) if question else ""))


# -- readings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    scheme: str | None
    host: str | None
    port: int | None

    def key(self) -> tuple[str | None, str | None, int | None]:
        """What is compared: one trailing dot and the spelling of an IPv6 address aside."""
        host = self.host
        if host and host.endswith("."):
            host = host[:-1]
        if host and ":" in host:
            with contextlib.suppress(ValueError):
                host = ipaddress.IPv6Address(host).compressed
        return (self.scheme, host, self.port)

    def text(self, secret: str) -> str:
        def shown(value: object) -> str:
            return REDACTED if secret and str(value) in secret else safe(str(value))

        if self.scheme is None and self.host is None:
            return "nothing (unparsable)"
        host = shown(self.host) if self.host is not None else "(no host)"
        port = f":{shown(self.port)}" if self.port is not None else ""
        return f"{shown(self.scheme)}://{host}{port}"


def _with_default(scheme: str | None, port: int | None) -> int | None:
    return port if port is not None else DEFAULT_PORTS.get(scheme or "")


def _stdlib_reading(url: str) -> _Reading:
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower() or None
        return _Reading(scheme, parts.hostname, _with_default(scheme, parts.port))
    except ValueError:
        return _Reading(None, None, None)


def _urllib3_reading(url: str) -> _Reading:
    try:
        parts = parse_url(url)
    except ValueError:  # LocationParseError is a ValueError
        return _Reading(None, None, None)
    host = parts.host
    if host is not None:
        host = host.lower()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
    return _Reading(parts.scheme, host, _with_default(parts.scheme, parts.port))


def _readings(url: str, own: _Reading | None) -> tuple[tuple[str, _Reading], ...]:
    found = [("urllib.parse", _stdlib_reading(url)), ("urllib3", _urllib3_reading(url))]
    if own is not None:
        found.append(("ociinspect", own))
    return tuple(found)


# -- the checks -----------------------------------------------------------------------------


def _host_problem(host: str) -> str | None:
    """Why ``host`` (lower-case, no brackets, no trailing dot) is not a checked host."""
    if not host:
        return "empty host"
    if ":" in host:
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return "not an IPv6 address"
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address: write the IPv4 address"
        return None if address.compressed == host else "IPv6 address not in compressed form"
    if len(host) > 253:
        return "host name longer than 253 characters"
    labels = host.split(".")
    for number, label in enumerate(labels, 1):
        if not label:
            return "empty label in host name"
        if len(label) > 63:
            return f"host label {number} is longer than 63 characters"
        if not _LABEL_RE.match(label):
            return f"host label {number} is not letters, digits, '_' and inner '-'"
    if _NUMERIC_LABEL_RE.match(labels[-1]) and not (
        len(labels) == 4 and all(_QUAD_PART_RE.match(p) and int(p) <= 255 for p in labels)
    ):
        return (
            "numeric host that is not a dotted-quad decimal IPv4 address "
            "(inet_aton reads 127.1, 0x7f.0.0.1 and 2130706433 as 127.0.0.1)"
        )
    return None


def _describe(bad: re.Match[str]) -> str:
    char = bad.group()
    what = {"\\": "a backslash", " ": "a space"}.get(char) or f"the character {safe(char)}"
    return f"{what} (U+{ord(char):04X}) at position {bad.start()}"


class _Refusal(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _own_reading(url: str) -> Origin:
    """ociinspect's strict reading: scheme, host and port."""
    match = _SCHEME_RE.match(url)
    if not match:
        raise _Refusal("no scheme")
    scheme = match.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise _Refusal(f"scheme {safe(scheme[:20])!r} is not http or https")
    span = _authority_span(url)
    if span is None:
        raise _Refusal("no '//' authority after the scheme")
    authority = url[span[0] : span[1]]
    if "@" in authority:
        raise _Refusal("userinfo (an '@' in the authority): credentials never go in URLs")
    if not authority.isascii():
        raise _Refusal("non-ASCII authority: write the host in IDNA (xn--) form, ports in ASCII")
    if "%" in authority:
        raise _Refusal("percent-encoding in the authority (or an IPv6 zone identifier)")
    if authority.startswith("["):
        literal, bracket, after = authority[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise _Refusal("malformed IPv6 literal")
        if literal[:1] in ("v", "V"):
            raise _Refusal("IPvFuture literal")
        try:
            host = ipaddress.IPv6Address(literal).compressed
        except ValueError:
            raise _Refusal("malformed IPv6 literal") from None
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise _Refusal("more than one ':' in the authority")
        host, colon, port_text_ = authority.partition(":")
        port_text = port_text_ if colon else None
        host = host.lower()
        if host.endswith(".") and host != ".":
            host = host[:-1]
    problem = _host_problem(host)
    if problem:
        raise _Refusal(problem)
    if port_text:
        if not _PORT_RE.match(port_text):
            raise _Refusal("port is not 1 to 5 ASCII digits")
        port = int(port_text)
        if not 0 < port <= 65535:
            raise _Refusal(f"port {port} out of range 1-65535")
    else:  # absent, or empty as RFC 3986 allows: the default
        port = DEFAULT_PORTS[scheme]
    return scheme, host, port


def checked_url(url: str) -> Url:
    """The :class:`Url` of ``url``, or :class:`UnsafeUrlError` when it is refused (see the
    module docstring) or when urllib.parse, urllib3 and ociinspect's own reading disagree on
    scheme, host or port.

    A pure function of the string, so accepted URLs are memoised (the last
    :data:`MEMO_SIZE`; a refusal is worked out again each time): the client asks about the
    same URL at each step of a request (its origin, the send, the trace), and each full
    reading costs five parses (about 90 us)."""
    if isinstance(url, str) and len(url) <= MAX_URL_LENGTH:
        return _checked_memo(url)
    return _checked(url)


#: How many accepted URLs :func:`checked_url` remembers.
MEMO_SIZE = 1024


@functools.lru_cache(maxsize=MEMO_SIZE)
def _checked_memo(url: str) -> Url:
    return _checked(url)


def _checked(url: str) -> Url:
    if not isinstance(url, str):
        raise UnsafeUrlError(REDACTED, f"not a string but {type(url).__name__}")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(
            redact(url), f"{len(url)} characters, over the limit of {MAX_URL_LENGTH}"
        )
    hidden = _hidden_span(url)
    secret = url[hidden[0] : hidden[1]] if hidden else ""
    bad = _BAD_CHAR_RE.search(url)
    own: _Reading | None = None
    try:
        if bad:
            raise _Refusal(_describe(bad))
        scheme, host, port = _own_reading(url)
        own = _Reading(scheme, host, port)
        readings = _readings(url, own)
        if len({r.key() for _, r in readings}) > 1:
            raise _Refusal("the parsers disagree on scheme, host or port")
    except _Refusal as refusal:
        shown = tuple((name, r.text(secret)) for name, r in _readings(url, own))
        raise UnsafeUrlError(redact(url), refusal.reason, shown) from None

    # Path and query as urllib3 reads them (this is what prepare_url rebuilds from), then
    # requests' requote step; the result must be left alone by every later rewrite.
    parts = parse_url(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    candidate = requote_uri(f"{scheme}://{_netloc(scheme, host, port)}{target}")
    _check_fixed_point(url, candidate, (scheme, host, port))
    path, _, query = candidate[candidate.index("/", len(scheme) + 3) :].partition("?")
    return Url(scheme, host, port, path, query)


def _netloc(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == DEFAULT_PORTS[scheme] else f"{shown}:{port}"


def _check_fixed_point(url: str, candidate: str, origin: Origin) -> None:
    """Refuse unless requests' prepare_url, urllib.parse and urllib3 all leave ``candidate``
    as it is and read ``origin`` from it."""
    sent: str | None
    again: str | None
    try:
        prepared = PreparedRequest()
        prepared.prepare_url(candidate, None)
        sent, again = prepared.url, parse_url(candidate).url
    except Exception:  # any failure of the libraries on the candidate is a refusal
        sent = again = None
    if sent != candidate or again != candidate:
        rewritten = redact(sent or again or "")
        raise UnsafeUrlError(
            redact(url),
            f"requests would rewrite it again (to {rewritten}): "
            "percent-encoded dot segments or other non-canonical escapes",
        )
    readings = _readings(candidate, None)
    if any(r.key() != origin for _, r in readings):
        raise UnsafeUrlError(
            redact(url),
            "the rebuilt URL reads differently",
            tuple((name, r.text("")) for name, r in readings),
        )


def resolve_reference(base: Url, location: str) -> Url:
    """The checked :class:`Url` a reference (a ``Location`` header, a ``Link`` target, a
    token realm) names relative to ``base`` (RFC 3986 section 5.2). The reference itself is
    refused first when it is empty, too long, or holds controls, spaces or backslashes (which
    WHATWG resolvers read as ``/``: ``\\\\evil/`` would leave the host)."""
    if not isinstance(location, str) or not location:
        raise UnsafeUrlError(base.redacted(), "empty reference")
    if len(location) > MAX_URL_LENGTH:
        raise UnsafeUrlError(
            redact(location), f"{len(location)} characters, over the limit of {MAX_URL_LENGTH}"
        )
    bad = _BAD_CHAR_RE.search(location)
    if bad:
        readings: tuple[tuple[str, str], ...] = ()
        with contextlib.suppress(ValueError):  # what each parser would have read, if it can
            joined = urljoin(base.geturl(), location)
            hidden = _hidden_span(joined)
            secret = joined[hidden[0] : hidden[1]] if hidden else ""
            readings = tuple((name, r.text(secret)) for name, r in _readings(joined, None))
        raise UnsafeUrlError(redact(location), _describe(bad), readings)
    try:
        joined = urljoin(base.geturl(), location)
    except ValueError:  # a broken IPv6 literal, a port out of range
        raise UnsafeUrlError(redact(location), "the reference does not parse") from None
    return checked_url(joined)
