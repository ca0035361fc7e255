"""Which proxy a request goes through, if any, decided from an environment mapping. No I/O.

The rules are Go's (``golang.org/x/net/http/httpproxy``, which docker, containerd, crane and
skopeo all use), so one environment sends ociinspect where it sends them:

- the variable by the target's scheme: ``HTTPS_PROXY`` for https, ``HTTP_PROXY`` for http; the
  upper-case name wins over the lower-case one, and an empty value counts as unset
  (``getEnvAny("HTTPS_PROXY", "https_proxy")``). Where Go stops, ociinspect also takes
  ``ALL_PROXY``/``all_proxy`` when the scheme's own variable is unset, as curl and requests do;
- the CGI rule (https://golang.org/s/cgihttpproxy, "httpoxy", CVE-2016-5385): when
  ``REQUEST_METHOD`` is set, a CGI server may have turned a request's ``Proxy:`` header into
  ``HTTP_PROXY``; an http request that would use ``HTTP_PROXY``/``http_proxy`` is refused
  (:class:`ProxyConfigError`), before loopback and NO_PROXY are consulted, as Go does;
- loopback is never proxied: ``localhost``, 127.0.0.0/8 and ::1 (Go), and also ``*.localhost``
  (RFC 6761 section 6.3; the project's one loopback rule, :func:`values.reference.is_loopback`);
- ``NO_PROXY``/``no_proxy`` (upper case first): comma-separated, trimmed, lower-cased entries;
  ``*`` alone bypasses every host; ``a.b/16`` or ``v6/64`` is a CIDR block; an IP address,
  optionally ``ip:port`` or ``[v6]:port``, matches that address; a domain ``example.com``
  matches itself and every subdomain, ``.example.com`` and ``*.example.com`` subdomains only,
  each optionally with ``:port`` (matched against the explicit or default port). Domain
  entries are also tried against IP hosts, as Go does (``0.0.1`` matches ``10.0.0.1``), and
  non-ASCII entries are IDNA-encoded (Go's ``idna.Lookup``); unusable entries never match.
- a proxy value is a URL, or ``host[:port]`` taken as ``http://host[:port]``; http and https
  proxies are used, socks is refused (requests needs PySocks for it, and a proxy chosen but not
  used would send traffic direct). Userinfo in the value becomes the proxy's credentials,
  never shown; the rest must pass :func:`urls.checked_url`. Unlike Go, which drops a value it
  cannot parse and goes direct, a broken value is an error, named by its variable.

Where this differs from requests and urllib (documented by ``tests/hostile/test_proxies.py``):
they proxy loopback unless NO_PROXY names it, read lower case before upper case, ignore
``HTTP_PROXY`` under CGI instead of refusing, and requests matches NO_PROXY domains as bare
suffixes (``example.com`` also bypasses ``badexample.com``).

:func:`refuse_clear_credentials` is the one rule about credentials and proxies: through any
proxy, a plain-http request is read by the proxy, so it never carries credentials; https is
tunnelled with CONNECT (RFC 9110 section 9.3.6) and the proxy sees only the host and port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import idna

from ..errors import ClearTextProxyError, ProxyConfigError
from .trace import REDACTED
from .urls import UnsafeUrlError, Url, checked_url, redact

__all__ = [
    "ClearTextProxyError",
    "Proxy",
    "ProxyConfigError",
    "no_proxy_matches",
    "proxy_for",
    "refuse_clear_credentials",
]

_SCHEME_VARIABLES = {
    "http": ("HTTP_PROXY", "http_proxy"),
    "https": ("HTTPS_PROXY", "https_proxy"),
}
_ALL_VARIABLES = ("ALL_PROXY", "all_proxy")
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
#: NO_PROXY values longer than this, or with more entries, are refused (bounded work).
MAX_NO_PROXY_LENGTH = 65_536
MAX_NO_PROXY_ENTRIES = 4_096


@dataclass(frozen=True, repr=False)
class Proxy:
    """A proxy to send a request through: its checked :class:`Url` (no credentials), the
    variable it came from, and its credentials (never in ``repr``, ``str`` or ``display``)."""

    url: Url
    source: str
    username: str | None = field(default=None, compare=False)
    password: str | None = field(default=None, compare=False)

    @property
    def display(self) -> str:
        """``http://proxy:3128``, or ``http://<redacted>@proxy:3128`` when it has credentials:
        the form for traces and errors."""
        userinfo = f"{REDACTED}@" if self.username is not None else ""
        return f"{self.url.scheme}://{userinfo}{self.url.netloc}"

    def requests_url(self) -> str:
        """The proxy as requests' ``proxies`` mapping wants it, credentials percent-encoded
        in it (requests turns them into ``Proxy-Authorization``). Never log this."""
        userinfo = ""
        if self.username is not None:
            userinfo = quote(self.username, safe="")
            if self.password is not None:
                userinfo += ":" + quote(self.password, safe="")
            userinfo += "@"
        return f"{self.url.scheme}://{userinfo}{self.url.netloc}"

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"Proxy({self.display!r}, source={self.source!r})"


def _first(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of ``names`` set to a non-empty value, and that value (Go's getEnvAny)."""
    for name in names:
        value = env.get(name)
        if value:
            return name, value
    return None


def proxy_for(url: Url, env: Mapping[str, str]) -> Proxy | None:
    """The proxy ``env`` (``os.environ`` or any mapping) chooses for ``url``, or None to go
    direct; :class:`ProxyConfigError` for HTTP_PROXY under CGI and for a broken or socks
    value that would be used."""
    chosen = _first(env, _SCHEME_VARIABLES[url.scheme]) or _first(env, _ALL_VARIABLES)
    if chosen is None:
        return None
    variable, value = chosen
    if url.scheme == "http" and variable in _SCHEME_VARIABLES["http"] and env.get("REQUEST_METHOD"):
        raise ProxyConfigError(
            variable,
            "",
            "refusing to use it in a CGI environment (REQUEST_METHOD is set), where a "
            "request's Proxy: header can set it; see https://golang.org/s/cgihttpproxy",
        )
    if url.is_loopback:
        return None
    no_proxy = _first(env, _NO_PROXY_VARIABLES)
    if no_proxy and no_proxy_matches(url, no_proxy[1]):
        return None
    return _parse_proxy(variable, value)


def _shown(text: str) -> str:
    """A proxy value for an error: everything before its last ``@`` ahead of a query hidden,
    whether or not it parses (a password may hold an unencoded ``/`` or ``@``)."""
    head, at, tail = text.partition("?")[0].partition("#")[0].rpartition("@")
    if not at:
        return redact(text)
    scheme = head.partition("://")[0] if "://" in head else "http"
    return redact(f"{scheme}://") + f"{REDACTED}@" + redact(tail)


def _parse_proxy(variable: str, value: str) -> Proxy:
    """A proxy variable's value as a :class:`Proxy` (Go's parseProxy, stricter)."""
    text = value.strip()
    if "\\" in text or " " in text or not text.isprintable():
        raise ProxyConfigError(
            variable, _shown(text), "a backslash, space or control character in the value"
        )
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    scheme = scheme.lower()
    if scheme.startswith("socks"):
        raise ProxyConfigError(
            variable, _shown(text), "socks proxies are not supported; use an http(s) proxy"
        )
    if scheme not in ("http", "https"):
        raise ProxyConfigError(variable, _shown(text), f"scheme {scheme[:20]!r} is not http(s)")
    ends = [i for i in (rest.find(c) for c in "/?#") if i >= 0]
    userinfo, at, hostport = rest[: min(ends, default=len(rest))].rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username, password = unquote(user), (unquote(secret) if colon else None)
    try:
        checked = checked_url(f"{scheme}://{hostport}/")
    except UnsafeUrlError as exc:
        raise ProxyConfigError(variable, _shown(text), exc.reason) from None
    return Proxy(checked, variable, username, password)


# -- NO_PROXY -------------------------------------------------------------------------------


def _split_host_port(entry: str) -> tuple[str, str]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port or "")
    (Go's net.SplitHostPort, falling back to the whole entry as the host)."""
    if entry.startswith("["):
        host, bracket, after = entry[1:].partition("]")
        if bracket and after.startswith(":") and after[1:].isdigit():
            return host, after[1:]
        return (host, "") if bracket and not after else (entry, "")
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit() and port.isascii():
            return host, port
    return entry, ""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _idna(suffix: str) -> str:
    """A ``.domain`` NO_PROXY suffix in its ASCII form (Go's idna.Lookup.ToASCII, here the
    ``idna`` package requests already depends on, with UTS #46 mapping); unchanged when
    it is ASCII or does not encode (then it matches no checked host, which is ASCII)."""
    if suffix.isascii():
        return suffix
    try:
        return "." + idna.encode(suffix[1:], uts46=True).decode("ascii")
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return suffix


def no_proxy_matches(url: Url, no_proxy: str) -> bool:
    """True when the NO_PROXY value ``no_proxy`` exempts ``url`` from the proxy (Go's rules;
    see the module docstring). Loopback is handled by :func:`proxy_for`, not here."""
    if len(no_proxy) > MAX_NO_PROXY_LENGTH:
        raise ProxyConfigError("NO_PROXY", "", f"over {MAX_NO_PROXY_LENGTH} characters")
    entries = [e.strip().lower() for e in no_proxy.split(",")]
    if len(entries) > MAX_NO_PROXY_ENTRIES:
        raise ProxyConfigError("NO_PROXY", "", f"over {MAX_NO_PROXY_ENTRIES} entries")
    host, port = url.host, str(url.port)
    address = _ip(host)
    for entry in entries:
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:  # CIDR, or nothing that can match
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                continue
            if address is not None and address in network:
                return True
            continue
        entry_host, entry_port = _split_host_port(entry)
        if not entry_host:
            continue
        entry_ip = _ip(entry_host)
        if entry_ip is not None:
            if address == entry_ip and entry_port in ("", port):
                return True
            continue
        if entry_host.startswith("*."):
            entry_host = entry_host[1:]
        exact = not entry_host.startswith(".")
        suffix = _idna(entry_host if not exact else "." + entry_host)
        if (host.endswith(suffix) or (exact and host == suffix[1:])) and entry_port in (
            "",
            port,
        ):
            return True
    return False


# -- credentials ----------------------------------------------------------------------------


def refuse_clear_credentials(target: Url, proxy: Proxy | None, sends_credentials: bool) -> None:
    """Raise :class:`ClearTextProxyError` when a request to ``target`` that carries
    credentials (``Authorization``, a token form, a refresh token) would go through ``proxy``
    in clear text: a plain-http target through any proxy. https targets are tunnelled."""
    if proxy is None or not sends_credentials or target.scheme == "https":
        return
    raise ClearTextProxyError(
        f"refusing to send credentials for {target.redacted()} through the proxy "
        f"{proxy.display} ({proxy.source}): the request is plain http, so the proxy reads "
        "them; use https, or name the host in NO_PROXY"
    )
