"""Proxies from the environment: which one, if any, and never credentials in clear through one.

:func:`proxy_for` follows Go's ``httpproxy`` (what docker, containerd and skopeo do with the
same variables). Each row of :data:`CASES` also records what requests
(``get_environ_proxies`` + ``select_proxy``) and urllib (``getproxies_environment`` +
``proxy_bypass_environment``) choose in the same environment, and, where ociinspect differs
from either, why. A test keeps that record honest: a row whose answers differ must say why,
and the recorded answers of requests and urllib must still be what they answer.
"""

from __future__ import annotations

import os
import urllib.request
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import requests.utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ociinspect.distribution.proxies import (
    MAX_NO_PROXY_LENGTH,
    ClearTextProxyError,
    Proxy,
    ProxyConfigError,
    no_proxy_matches,
    proxy_for,
    refuse_clear_credentials,
)
from ociinspect.distribution.urls import checked_url
from ociinspect.errors import InsecureCredentialsError

P = "http://proxy.corp:3128"
HERE = "proxy.corp:3128"

LOOPBACK = "Go's rule: loopback is never proxied; requests and urllib proxy it unless NO_PROXY says"
UPPER = "Go's precedence: HTTPS_PROXY before https_proxy; Python reads lower case first"
CIDR = "Go matches CIDR blocks; urllib matches NO_PROXY entries as name suffixes only"
PORTS = "Go compares an entry's port with the URL's explicit or default port"
STAR = "Go: '*' anywhere in the list bypasses all; Python only when the whole value is '*'"
DOT = "Go: a leading dot matches subdomains only; Python strips the dot and matches the name"


class Case(NamedTuple):
    id: str
    env: dict[str, str]
    url: str
    ours: str | None  # "host:port" of the proxy, None for direct, "refused: ..." for an error
    requests: str | None  # the same for requests; "error" when it cannot use the value
    urllib: str | None  # the same for urllib
    why: str = ""  # required when ours differs from requests or urllib


CASES = [
    Case("https uses HTTPS_PROXY", {"HTTPS_PROXY": P}, "https://r.example/v2/", HERE, HERE, HERE),
    Case("http uses HTTP_PROXY", {"HTTP_PROXY": P}, "http://r.example/v2/", HERE, HERE, HERE),
    Case("https ignores HTTP_PROXY", {"HTTP_PROXY": P}, "https://r.example/v2/", None, None, None),
    Case("upper case wins over lower case",
         {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, "https://r.example/",
         "upper:1", "lower:2", "lower:2", UPPER),
    Case("an empty upper-case value counts as unset",
         {"HTTPS_PROXY": "", "https_proxy": "http://lower:2"}, "https://r.example/",
         "lower:2", "lower:2", "lower:2"),
    Case("ALL_PROXY when the scheme's variable is unset", {"ALL_PROXY": "http://all:9"},
         "https://r.example/", "all:9", "all:9", None,
         "curl and requests read ALL_PROXY; Go and urllib's ProxyHandler do not"),
    Case("the scheme's variable before ALL_PROXY",
         {"ALL_PROXY": "http://all:9", "https_proxy": "http://s:1"}, "https://r.example/",
         "s:1", "s:1", "s:1"),
    Case("127.0.0.1 goes direct", {"HTTP_PROXY": P}, "http://127.0.0.1:5000/v2/",
         None, HERE, HERE, LOOPBACK),
    Case("all of 127.0.0.0/8 goes direct", {"HTTPS_PROXY": P}, "https://127.9.0.1/",
         None, HERE, HERE, LOOPBACK),
    Case("localhost goes direct", {"HTTP_PROXY": P}, "http://localhost:5000/",
         None, HERE, HERE, LOOPBACK),
    Case("*.localhost goes direct (RFC 6761, the project's loopback rule)", {"HTTP_PROXY": P},
         "http://reg.localhost/", None, HERE, HERE, LOOPBACK),
    Case("::1 goes direct", {"HTTP_PROXY": P}, "http://[::1]:5000/", None, HERE, HERE, LOOPBACK),
    Case("NO_PROXY names the host", {"HTTPS_PROXY": P, "NO_PROXY": "example.com"},
         "https://example.com/", None, None, None),
    Case("NO_PROXY domain covers subdomains", {"HTTPS_PROXY": P, "NO_PROXY": "example.com"},
         "https://r.example.com/", None, None, None),
    Case("NO_PROXY domain is not a bare suffix", {"HTTPS_PROXY": P, "NO_PROXY": "example.com"},
         "https://badexample.com/", HERE, HERE, HERE),
    Case("leading dot: not the domain itself", {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"},
         "https://example.com/", HERE, None, None, DOT),
    Case("leading dot: subdomains", {"HTTPS_PROXY": P, "NO_PROXY": ".example.com"},
         "https://r.example.com/", None, None, None),
    Case("*.domain: not the domain itself", {"HTTPS_PROXY": P, "NO_PROXY": "*.example.com"},
         "https://example.com/", HERE, HERE, HERE),
    Case("* bypasses everything", {"HTTPS_PROXY": P, "NO_PROXY": "*"},
         "https://r.example/", None, None, None),
    Case("* inside a list", {"HTTPS_PROXY": P, "NO_PROXY": "a.example, *"},
         "https://r.example/", None, HERE, HERE, STAR),
    Case("CIDR block", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"},
         "https://10.1.2.3/", None, None, HERE, CIDR),
    Case("CIDR block, outside", {"HTTPS_PROXY": P, "NO_PROXY": "10.0.0.0/8"},
         "https://11.1.2.3/", HERE, HERE, HERE),
    Case("IPv6 CIDR block", {"HTTPS_PROXY": P, "NO_PROXY": "fd00::/8"},
         "https://[fd00::5]/", None, HERE, HERE,
         CIDR + "; requests misses IPv6 blocks"),
    Case("IP address", {"HTTPS_PROXY": P, "NO_PROXY": "192.168.1.5"},
         "https://192.168.1.5:5000/", None, None, None),
    Case("IP address with the URL's port", {"HTTPS_PROXY": P, "NO_PROXY": "192.168.1.5:5000"},
         "https://192.168.1.5:5000/", None, HERE, None,
         PORTS + "; requests drops ports of IP entries"),
    Case("IP address with another port", {"HTTPS_PROXY": P, "NO_PROXY": "192.168.1.5:5000"},
         "https://192.168.1.5/", HERE, HERE, HERE),
    Case("domain with the default port", {"HTTPS_PROXY": P, "NO_PROXY": "example.com:443"},
         "https://example.com/", None, HERE, HERE, PORTS),
    Case("domain with another port", {"HTTPS_PROXY": P, "NO_PROXY": "example.com:5000"},
         "https://example.com/", HERE, HERE, HERE),
    Case("bracketed IPv6 with a port", {"HTTPS_PROXY": P, "NO_PROXY": "[fd00::5]:5000"},
         "https://[fd00::5]:5000/", None, HERE, None, PORTS),
    Case("entries are trimmed and lower-cased", {"HTTPS_PROXY": P, "NO_PROXY": " Example.COM "},
         "https://example.com/", None, None, None),
    Case("no_proxy in lower case", {"HTTPS_PROXY": P, "no_proxy": "example.com"},
         "https://example.com/", None, None, None),
    Case("NO_PROXY wins over no_proxy",
         {"HTTPS_PROXY": P, "NO_PROXY": "other.example", "no_proxy": "example.com"},
         "https://example.com/", HERE, None, None, UPPER),
    Case("a domain entry also matches IP hosts as text (Go)",
         {"HTTPS_PROXY": P, "NO_PROXY": "0.0.1"}, "https://10.0.0.1/", None, None, None),
    Case("IDN entry matches the host's xn-- form", {"HTTPS_PROXY": P, "NO_PROXY": "b\u00fccher.de"},
         "https://www.xn--bcher-kva.de/", None, HERE, HERE,
         "Go IDNA-encodes NO_PROXY entries; Python compares them as typed"),
    Case("CGI: HTTP_PROXY is refused (httpoxy)", {"HTTP_PROXY": P, "REQUEST_METHOD": "GET"},
         "http://r.example/", "refused: CGI", None, None,
         "Go refuses HTTP_PROXY under CGI; Python silently ignores it and goes direct"),
    Case("CGI: HTTPS_PROXY is still used", {"HTTPS_PROXY": P, "REQUEST_METHOD": "GET"},
         "https://r.example/", HERE, HERE, HERE),
    Case("CGI: ALL_PROXY cannot come from a header", {"ALL_PROXY": P, "REQUEST_METHOD": "GET"},
         "http://r.example/", HERE, HERE, None,
         "curl and requests read ALL_PROXY; urllib's ProxyHandler does not"),
    Case("host:port means http://host:port", {"HTTPS_PROXY": "proxy.corp:3128"},
         "https://r.example/", HERE, HERE, HERE),
    Case("socks is refused, not silently skipped", {"HTTPS_PROXY": "socks5://proxy.corp:1080"},
         "https://r.example/", "refused: socks", "proxy.corp:1080", "proxy.corp:1080",
         "requests needs PySocks for socks; ociinspect speaks to http(s) proxies only"),
    Case("a broken value is an error", {"HTTPS_PROXY": "http://proxy.corp:99999"},
         "https://r.example/", "refused: port 99999", "error", "error"),
    Case("a broken value NO_PROXY bypasses is never read",
         {"HTTPS_PROXY": "http://proxy.corp:99999", "NO_PROXY": "r.example"},
         "https://r.example/", None, None, None),
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """os.environ without any proxy variable or REQUEST_METHOD, for requests and urllib."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    return monkeypatch


def _host_port(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        return f"{parts.hostname}:{parts.port}"
    except ValueError:
        return "error"


def _ours(case: Case) -> str | None:
    try:
        proxy = proxy_for(checked_url(case.url), case.env)
    except ProxyConfigError as exc:
        return f"refused: {exc.reason}"
    return None if proxy is None else f"{proxy.url.host}:{proxy.url.port}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_proxy_for_answers_the_case(case: Case) -> None:
    """proxy_for picks the table's proxy, goes direct, or refuses with the table's reason."""
    answer = _ours(case)
    if case.ours is not None and case.ours.startswith("refused: "):
        assert answer is not None and case.ours.removeprefix("refused: ") in answer
    else:
        assert answer == case.ours


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_requests_and_urllib_still_answer_as_recorded(
    case: Case, clean_env: pytest.MonkeyPatch
) -> None:
    """requests and urllib choose what the table records for them in the same environment."""
    for name, value in case.env.items():
        clean_env.setenv(name, value)
    proxies = requests.utils.get_environ_proxies(case.url, no_proxy=None)
    by_requests = _host_port(requests.utils.select_proxy(case.url, proxies))
    found = urllib.request.getproxies_environment()
    netloc = urlsplit(case.url).netloc
    bypass = urllib.request.proxy_bypass_environment(netloc, found)  # type: ignore[attr-defined]
    by_urllib = None if bypass else _host_port(found.get(urlsplit(case.url).scheme))
    assert (by_requests, by_urllib) == (case.requests, case.urllib)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_difference_from_requests_or_urllib_is_explained(case: Case) -> None:
    """A row says why exactly when ociinspect's answer differs from requests' or urllib's."""
    ours = "error" if case.ours and case.ours.startswith("refused: ") else case.ours
    assert bool(case.why) == (ours != case.requests or ours != case.urllib)


# -- the Proxy value and its credentials ----------------------------------------------------

SECRET = "Zq9s3cr3t"


def test_proxy_credentials_are_kept_but_never_shown() -> None:
    """User and password of a proxy value reach requests_url() encoded, never repr/str/display."""
    env = {"HTTPS_PROXY": f"http://alice:{SECRET}%40x@proxy.corp:3128"}
    proxy = proxy_for(checked_url("https://r.example/"), env)
    assert proxy is not None
    assert (proxy.username, proxy.password) == ("alice", SECRET + "@x")
    assert proxy.requests_url() == f"http://alice:{SECRET}%40x@proxy.corp:3128"
    for text in (repr(proxy), str(proxy), proxy.display):
        assert SECRET not in text and "alice" not in text
    assert proxy.display == "http://<redacted>@proxy.corp:3128"
    assert proxy.source == "HTTPS_PROXY"


def test_a_proxy_without_credentials_displays_plainly() -> None:
    """A proxy with no userinfo shows scheme://host:port, and requests_url() is the same."""
    proxy = proxy_for(checked_url("http://r.example/"), {"http_proxy": "proxy.corp:3128"})
    assert proxy is not None
    assert proxy.display == proxy.requests_url() == "http://proxy.corp:3128"
    assert proxy.url.origin == ("http", "proxy.corp", 3128)


@pytest.mark.parametrize(
    "value",
    [
        f"socks5://u:{SECRET}@proxy:1080",
        f"http://u:{SECRET}@proxy:99999",
        f"http://u:{SECRET}/x@proxy:3128",
        f"http://u:{SECRET}@",
        f"http://u:{SECRET}\\@proxy:3128",
        f"http://u:{SECRET}@pro xy:3128",
        f"ftp://u:{SECRET}@proxy",
        f"u:{SECRET}@127.1:3128",
    ],
    ids=["socks", "port out of range", "unencoded slash in the password", "no host",
         "backslash", "space", "ftp", "numeric host"],
)
def test_broken_proxy_values_are_errors_that_hide_the_password(value: str) -> None:
    """A proxy value that cannot be used is a ProxyConfigError naming the variable, and the
    password is nowhere in it."""
    with pytest.raises(ProxyConfigError) as caught:
        proxy_for(checked_url("https://r.example/"), {"HTTPS_PROXY": value})
    assert "HTTPS_PROXY" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in caught.value.value


def test_an_over_long_no_proxy_is_refused() -> None:
    """NO_PROXY over its length limit is a ProxyConfigError, not a slow scan."""
    with pytest.raises(ProxyConfigError, match="NO_PROXY"):
        no_proxy_matches(checked_url("https://r.example/"), "a," * MAX_NO_PROXY_LENGTH)


@pytest.mark.parametrize(
    ("entry", "url", "matches"),
    [
        ("10.0.0.0/33", "https://10.0.0.1/", False),
        ("not a cidr/8", "https://10.0.0.1/", False),
        (":5000", "https://r.example:5000/", False),
        ("[::1", "https://r.example/", False),
        ("r.example:abc", "https://r.example/", False),
        (",,,", "https://r.example/", False),
    ],
    ids=["prefix over 32", "text before a slash", "a port with no host", "broken bracket",
         "non-numeric port", "only commas"],
)
def test_unusable_no_proxy_entries_match_nothing(entry: str, url: str, matches: bool) -> None:
    """NO_PROXY entries that do not parse are skipped, as Go skips them."""
    assert no_proxy_matches(checked_url(url), entry) is matches


# -- credentials through a proxy ------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "proxied", "sends", "refused"),
    [
        ("http://r.example/v2/", True, True, True),
        ("http://r.example/v2/", True, False, False),
        ("https://r.example/v2/", True, True, False),
        ("http://r.example/v2/", False, True, False),
    ],
    ids=["plain http with credentials through a proxy", "plain http without credentials",
         "https is tunnelled", "no proxy"],
)
def test_refuse_clear_credentials(target: str, proxied: bool, sends: bool, refused: bool) -> None:
    """Credentials never cross a proxy in a plain-http request; https and direct are fine."""
    proxy = proxy_for(checked_url(target), {"HTTP_PROXY": f"http://u:{SECRET}@proxy.corp:3128",
                                            "HTTPS_PROXY": P}) if proxied else None
    if refused:
        with pytest.raises(ClearTextProxyError) as caught:
            refuse_clear_credentials(checked_url(target), proxy, sends)
        assert isinstance(caught.value, InsecureCredentialsError)
        assert "proxy.corp:3128" in str(caught.value) and SECRET not in str(caught.value)
    else:
        refuse_clear_credentials(checked_url(target), proxy, sends)


# -- property -------------------------------------------------------------------------------

_VALUE = st.text(alphabet="aZ09.:@/\\?#%[]_-*, \t", max_size=24)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_VALUE, _VALUE, st.sampled_from(["https://r.example/", "http://r.example:5000/v2/",
                                        "https://10.0.0.1/", "https://[fd00::1]/"]))
def test_any_environment_gives_a_proxy_none_or_a_typed_error(
    value: str, no_proxy: str, url: str
) -> None:
    """Whatever the variables hold, proxy_for answers a Proxy, None or ProxyConfigError, and a
    password in the value never appears in the answer's display or error."""
    env = {"HTTPS_PROXY": f"{value}u:Zq9PASS@{value}", "HTTP_PROXY": value, "NO_PROXY": no_proxy}
    try:
        proxy = proxy_for(checked_url(url), env)
    except ProxyConfigError as exc:
        assert "Zq9PASS" not in str(exc)
        return
    if proxy is not None:
        assert isinstance(proxy, Proxy)
        assert "Zq9PASS" not in proxy.display and "Zq9PASS" not in repr(proxy)
