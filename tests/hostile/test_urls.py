"""Hostile URLs: what urllib.parse reads, what urllib3 reads, and what ``checked_url`` answers.

requests rebuilds a URL with urllib3 and picks the host to connect to with urllib.parse, so a
URL the two read differently lets a server steer the connection away from the host the
client's origin checks saw. Each case of :data:`CASES` records both readings (for the urllib3
and Python this suite runs on: if a parser changes, a test here says so) and the one answer of
:func:`checked_url`: the exact URL to connect to, or the reason it is refused. The properties
at the end check the promise itself on generated URLs: whatever ``checked_url`` accepts, every
parser reads alike, requests leaves it as it is, and no refusal quotes a credential.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.models import PreparedRequest
from urllib3.util import parse_url

from ociinspect.distribution.urls import (
    MAX_URL_LENGTH,
    UnsafeUrlError,
    Url,
    checked_url,
    redact,
    resolve_reference,
)
from ociinspect.errors import OCIInspectError

MANY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


class Case(NamedTuple):
    id: str
    url: str
    stdlib: str  # urllib.parse.urlsplit: "scheme|hostname|port", or "error"
    urllib3: str  # urllib3.util.parse_url: "scheme|host|port", or "error"
    answer: str  # the URL checked_url returns, or "refused: <part of the reason>"


CASES = [
    # -- backslashes: WHATWG and urllib3 end the authority there, RFC 3986 and urllib do not
    Case("backslash before @ splits the parsers: the brief's case",
         "http://127.0.0.3:5000\\@127.0.0.1:5001/v2/",
         "http|127.0.0.1|5001", "http|127.0.0.3|5000", "refused: a backslash"),
    Case("backslash inside a host name", "http://a\\b.example/",
         "http|a\\b.example|None", "http|a|None", "refused: a backslash"),
    Case("backslash in a path (read as / by WHATWG)", "http://h/v2\\..\\x",
         "http|h|None", "http|h|None", "refused: a backslash"),
    # -- @ in paths and userinfo
    Case("an @ in the path is an ordinary character", "http://h/v2/a@b/tags/list",
         "http|h|None", "http|h|None", "http://h/v2/a@b/tags/list"),
    Case("userinfo is refused", "http://user:pw@h/",
         "http|h|None", "http|h|None", "refused: userinfo"),
    Case("a sub-delimiter userinfo hides the real host", "http://host;@evil.example/",
         "http|evil.example|None", "http|evil.example|None", "refused: userinfo"),
    Case("two @ in the authority", "http://a@b@c/", "http|c|None", "http|c|None",
         "refused: userinfo"),
    # -- percent-encoded delimiters in the authority
    Case("encoded slash in a host", "http://ho%2Fst/",
         "http|ho%2Fst|None", "http|ho%2fst|None", "refused: percent-encoding in the authority"),
    Case("encoded @ in a host", "http://ho%40st/",
         "http|ho%40st|None", "http|ho%40st|None", "refused: percent-encoding in the authority"),
    Case("encoded colon in a host", "http://h%3A80/",
         "http|h%3A80|None", "http|h%3a80|None", "refused: percent-encoding in the authority"),
    Case("an encoded IPv4 address (requests would decode it)", "http://%31%32%37.0.0.1/",
         "http|%31%32%37.0.0.1|None", "http|%31%32%37.0.0.1|None",
         "refused: percent-encoding in the authority"),
    Case("encoded trailing dot", "http://h%2e/",
         "http|h%2e|None", "http|h%2e|None", "refused: percent-encoding in the authority"),
    # -- IPv6 literals
    Case("IPv6 zone, encoded as RFC 6874 says", "http://[fe80::1%25eth0]/",
         "http|fe80::1%25eth0|None", "http|[fe80::1%eth0]|None", "refused: IPv6 zone"),
    Case("IPv6 zone, raw", "http://[fe80::1%eth0]/",
         "http|fe80::1%eth0|None", "http|[fe80::1%eth0]|None", "refused: IPv6 zone"),
    Case("IPv6 loopback with a port", "http://[::1]:5000/v2/",
         "http|::1|5000", "http|[::1]|5000", "http://[::1]:5000/v2/"),
    Case("IPv6 literal written long is compressed", "http://[0:0::1]/",
         "http|0:0::1|None", "http|[0:0::1]|None", "http://[::1]/"),
    Case("IPv4-mapped IPv6 is an IPv4 host spelt another way", "http://[::ffff:127.0.0.1]/",
         "http|::ffff:127.0.0.1|None", "http|[::ffff:127.0.0.1]|None",
         "refused: IPv4-mapped"),
    Case("IPvFuture literal", "http://[v1.x]/", "http|v1.x|None", "error",
         "refused: IPvFuture"),
    Case("unclosed IPv6 bracket", "http://[::1/", "error", "error",
         "refused: malformed IPv6 literal"),
    Case("IPv6 address without brackets", "http://::1/", "error", "error",
         "refused: more than one ':'"),
    # -- trailing dots
    Case("one trailing dot is dropped: one host, one origin", "http://registry.example./v2/",
         "http|registry.example.|None", "http|registry.example.|None",
         "http://registry.example/v2/"),
    Case("two trailing dots", "http://registry.example../",
         "http|registry.example..|None", "http|registry.example..|None",
         "refused: empty label"),
    Case("a host that is only a dot", "http://./", "http|.|None", "http|.|None",
         "refused: empty label"),
    # -- case
    Case("scheme and host are lower-cased, the path is not", "HTTP://Registry.EXAMPLE:5000/V2/",
         "http|registry.example|5000", "http|registry.example|5000",
         "http://registry.example:5000/V2/"),
    # -- tabs, newlines, spaces: urllib.parse deletes tab/CR/LF (WHATWG), urllib3 keeps them
    Case("tab inside the host", "http://exa\tmple.com/",
         "http|example.com|None", "http|exa\tmple.com|None", "refused: the character \\t"),
    Case("newline in the path", "http://example.com/a\nb",
         "http|example.com|None", "http|example.com|None", "refused: the character \\n"),
    Case("CR LF at the end (header injection)", "http://h/\r\n",
         "http|h|None", "http|h|None", "refused: the character \\r"),
    Case("leading tab hides the scheme from urllib3", "\thttp://h/",
         "http|h|None", "None|\thttp|None", "refused: the character \\t"),
    Case("leading space", " http://h/", "http|h|None", "None| http|None",
         "refused: a space"),
    Case("ESC in the host", "http://h\x1b[31m/", "error", "error",
         "refused: the character \\x1b"),
    Case("C1 next-line in the path", "http://h/\x85", "http|h|None", "http|h|None",
         "refused: the character \\x85"),
    Case("no-break space in the path", "http://h/\xa0", "http|h|None", "http|h|None",
         "refused: the character \\xa0"),
    # -- ports
    Case("two ports", "http://a:1:2/", "error", "error", "refused: more than one ':'"),
    Case("port over 65535", "http://a:99999/", "error", "error", "refused: port 99999"),
    Case("over-long port both parsers accept", "http://a:000000080/",
         "http|a|80", "http|a|80", "refused: port is not 1 to 5 ASCII digits"),
    Case("leading zeros within five digits: the default port", "http://a:00080/",
         "http|a|80", "http|a|80", "http://a/"),
    Case("port 0: requests drops it and connects to 80", "http://a:0/",
         "http|a|0", "http|a|0", "refused: port 0"),
    Case("signed port", "http://a:+80/", "error", "error",
         "refused: port is not 1 to 5 ASCII digits"),
    Case("fullwidth digits in the port", "http://a:\uff11\uff12/", "error", "error",
         "refused: non-ASCII authority"),
    Case("an empty port is the default (RFC 3986)", "http://a:/", "http|a|None", "http|a|None",
         "http://a/"),
    # -- unicode hosts
    Case("ideographic full stop as a dot", "http://\u4f8b\u3048\u3002jp/",
         "http|\u4f8b\u3048\u3002jp|None", "error", "refused: non-ASCII authority"),
    Case("ideographic full stop between ASCII labels", "http://a.b\u3002c/",
         "http|a.b\u3002c|None", "error", "refused: non-ASCII authority"),
    Case("an IDN urllib3 encodes and urllib does not", "http://b\u00fccher.de/",
         "http|b\u00fccher.de|None", "http|xn--bcher-kva.de|None",
         "refused: non-ASCII authority"),
    Case("fullwidth letters", "http://\uff45\uff58.com/", "http|\uff45\uff58.com|None", "error",
         "refused: non-ASCII authority"),
    # -- numeric hosts the resolver reads as another address
    Case("short IPv4", "http://127.1/", "http|127.1|None", "http|127.1|None",
         "refused: numeric host"),
    Case("hex IPv4 part", "http://0x7f.0.0.1/", "http|0x7f.0.0.1|None",
         "http|0x7f.0.0.1|None", "refused: numeric host"),
    Case("IPv4 as one integer", "http://2130706433/", "http|2130706433|None",
         "http|2130706433|None", "refused: numeric host"),
    Case("octal IPv4 part (inet_aton: 127 octal is 87)", "http://0177.0.0.1/",
         "http|0177.0.0.1|None", "http|0177.0.0.1|None", "refused: numeric host"),
    Case("IPv4 part over 255", "http://1.2.3.256/", "http|1.2.3.256|None",
         "http|1.2.3.256|None", "refused: numeric host"),
    Case("dotted-quad IPv4", "http://1.2.3.4/", "http|1.2.3.4|None", "http|1.2.3.4|None",
         "http://1.2.3.4/"),
    # -- no host, no scheme, other schemes, odd labels
    Case("empty host", "http:///v2/", "http|None|None", "http|None|None", "refused: empty host"),
    Case("no // after the scheme", "http:host/", "http|None|None", "http|None|None",
         "refused: no '//' authority"),
    Case("scheme-relative", "//host/p", "|host|None", "None|host|None", "refused: no scheme"),
    Case("ftp", "ftp://h/", "ftp|h|None", "ftp|h|None", "refused: scheme 'ftp'"),
    Case("javascript", "javascript:alert(1)", "javascript|None|None", "javascript|None|None",
         "refused: scheme 'javascript'"),
    Case("wildcard label", "http://*.h/", "http|*.h|None", "http|*.h|None",
         "refused: host label 1 is not"),
    Case("label starting with a hyphen", "http://-a/", "http|-a|None", "http|-a|None",
         "refused: host label 1 is not"),
    Case("underscore in a label (Docker network names)", "http://ho_st/",
         "http|ho_st|None", "http|ho_st|None", "http://ho_st/"),
    # -- path and query as they are sent
    Case("dot segments are removed, as urllib3 sends them", "http://h/a/../b",
         "http|h|None", "http|h|None", "http://h/b"),
    Case("percent-encoded dot segments requests would decode and then remove",
         "http://h/a/%2e%2e/b", "http|h|None", "http|h|None",
         "refused: requests would rewrite it again"),
    Case("encoded unreserved characters are decoded, encoded slashes kept",
         "http://h/%41%2f", "http|h|None", "http|h|None", "http://h/A%2F"),
    Case("the fragment is dropped, an empty path becomes /", "http://h?x=1#frag",
         "http|h|None", "http|h|None", "http://h/?x=1"),
    Case("the default port is left out of the string", "https://h:443/x",
         "https|h|443", "https|h|443", "https://h/x"),
    Case("a bidi override in the path is sent encoded", "http://h/\u202e",
         "http|h|None", "http|h|None", "http://h/%E2%80%AE"),
]


def _stdlib(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}|{parts.hostname}|{parts.port}"
    except ValueError:
        return "error"


def _urllib3(url: str) -> str:
    try:
        parts = parse_url(url)
        return f"{parts.scheme}|{parts.host}|{parts.port}"
    except ValueError:
        return "error"


def _origin_of_stdlib(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, parts.hostname, parts.port or {"http": 80, "https": 443}[parts.scheme])


def _origin_of_urllib3(url: str) -> tuple[str | None, str | None, int | None]:
    parts = parse_url(url)
    host = parts.host.strip("[]") if parts.host else None
    return (parts.scheme, host, parts.port or {"http": 80, "https": 443}[parts.scheme or ""])


def _prepared(url: str) -> str | None:
    request = PreparedRequest()
    request.prepare_url(url, None)
    return request.url


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_parser_still_reads_the_case_as_the_table_says(case: Case) -> None:
    """The table's record of what urllib.parse and urllib3 read is true for the installed
    versions (a parser upgrade that changes a reading is noticed here)."""
    assert (_stdlib(case.url), _urllib3(case.url)) == (case.stdlib, case.urllib3)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_checked_url_answers_the_case(case: Case) -> None:
    """checked_url returns the table's URL, or refuses with the table's reason and a message
    that quotes no userinfo."""
    if case.answer.startswith("refused: "):
        with pytest.raises(UnsafeUrlError) as caught:
            checked_url(case.url)
        assert case.answer.removeprefix("refused: ") in caught.value.reason
        assert isinstance(caught.value, OCIInspectError) and isinstance(caught.value, ValueError)
        assert "pw" not in str(caught.value) and "\x1b" not in str(caught.value)
    else:
        url = checked_url(case.url)
        assert url.geturl() == case.answer
        assert _prepared(case.answer) == case.answer


def test_the_brief_case_names_both_readings_and_hides_the_userinfo_side() -> None:
    """The backslash case's error shows urllib.parse's host and port, and hides urllib3's,
    which it took from the part left of the '@'."""
    with pytest.raises(UnsafeUrlError) as caught:
        checked_url("http://127.0.0.3:5000\\@127.0.0.1:5001/v2/")
    message = str(caught.value)
    assert message.startswith("refusing URL http://<redacted>@127.0.0.1:5001/v2/: a backslash")
    assert "urllib.parse reads http://127.0.0.1:5001" in message
    assert "urllib3 reads http://<redacted>:<redacted>" in message
    assert "127.0.0.3" not in message and "5000" not in message


def test_a_numeric_password_left_of_a_backslash_is_never_shown_as_a_port() -> None:
    """urllib3 reads ``admin:4321\\@registry`` as host admin port 4321: the error hides both."""
    with pytest.raises(UnsafeUrlError) as caught:
        checked_url("http://admin:4321\\@registry.example/v2/")
    assert "4321" not in str(caught.value) and "admin" not in str(caught.value)
    assert caught.value.readings[0] == ("urllib.parse", "http://registry.example:80")


def test_over_long_urls_are_refused_before_parsing() -> None:
    """A URL over MAX_URL_LENGTH is refused, and the message is cut to a readable length."""
    with pytest.raises(UnsafeUrlError) as caught:
        checked_url("http://h/" + "a" * MAX_URL_LENGTH)
    assert "over the limit of 8192" in caught.value.reason
    assert len(str(caught.value)) < 400


def test_a_non_string_is_refused_with_the_type() -> None:
    """checked_url(b"...") is a typed error naming the type, not a TypeError deep inside."""
    with pytest.raises(UnsafeUrlError, match="not a string but bytes"):
        checked_url(b"http://h/")  # type: ignore[arg-type]


# -- the Url value --------------------------------------------------------------------------


def test_url_fields_origin_and_target() -> None:
    """A checked URL carries the explicit port, the origin tuple, the request target."""
    url = checked_url("https://Registry.Example/v2/a/tags/list?n=10&last=b")
    assert (url.scheme, url.host, url.port) == ("https", "registry.example", 443)
    assert url.origin == ("https", "registry.example", 443)
    assert url.target == "/v2/a/tags/list?n=10&last=b"
    assert url.netloc == "registry.example"
    assert checked_url("http://[::1]:5000/").netloc == "[::1]:5000"


def test_default_and_explicit_ports_are_one_origin() -> None:
    """https://h/ and https://h:443/ are the same Url; http://h:443/ is not."""
    assert checked_url("https://h/") == checked_url("https://h:443/")
    assert checked_url("http://h:443/").origin != checked_url("https://h/").origin


def test_repr_and_str_redact_query_values() -> None:
    """A pre-signed URL's signature never shows in repr or str; harmless keys stay."""
    url = checked_url("https://cdn.example/b?X-Amz-Signature=s3cr3t&n=5")
    for text in (repr(url), str(url), url.redacted()):
        assert "s3cr3t" not in text and "n=5" in text
    assert "s3cr3t" in url.geturl()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (("ftp", "h", 21), "scheme"),
        (("http", "h", 0), "port"),
        (("http", "127.1", 80), "host"),
        (("http", "H", 80), "host"),
        (("http", "h", 80, "v2"), "path"),
        (("http", "h", 80, "/a b"), "path or query"),
    ],
    ids=["ftp scheme", "port 0", "short IPv4", "upper-case host", "relative path",
         "unencoded space"],
)
def test_url_refuses_to_be_built_unchecked(fields: tuple, problem: str) -> None:
    """Url(...) built by hand validates itself: a bad field is an UnsafeUrlError."""
    with pytest.raises(UnsafeUrlError, match=problem):
        Url(*fields)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [("http://127.0.0.1:5000/", True), ("http://127.9.9.9/", True), ("http://[::1]/", True),
     ("http://localhost/", True), ("http://reg.localhost/", True), ("http://10.0.0.1/", False),
     ("http://localhost.example/", False)],
)
def test_is_loopback_uses_the_projects_rule(url: str, loopback: bool) -> None:
    """Url.is_loopback is the one rule of values.reference.is_loopback."""
    assert checked_url(url).is_loopback is loopback


# -- references: Location, Link, realm ------------------------------------------------------

BASE = "http://127.0.0.1:5000/v2/app/blobs/sha256:ab"

REFERENCES = [
    ("absolute path", "/v2/other/blobs/x", "http://127.0.0.1:5000/v2/other/blobs/x"),
    ("relative path", "../tags/list", "http://127.0.0.1:5000/v2/app/tags/list"),
    ("query only", "?n=1", "http://127.0.0.1:5000/v2/app/blobs/sha256:ab?n=1"),
    ("scheme-relative to a CDN", "//cdn.example/p", "http://cdn.example/p"),
    ("absolute https CDN", "https://cdn.example/b?sig=S", "https://cdn.example/b?sig=S"),
    ("same scheme without //, as RFC 3986 section 5.2.2 allows", "http:other",
     "http://127.0.0.1:5000/v2/app/blobs/other"),
    ("dot segments above the root", "../../../../x", "http://127.0.0.1:5000/x"),
    ("a fragment is dropped", "#top", "http://127.0.0.1:5000/v2/app/blobs/sha256:ab"),
    ("backslashes a WHATWG resolver reads as //", "\\\\evil.example/x", "refused: a backslash"),
    ("slash-backslash", "/\\evil.example/x", "refused: a backslash"),
    ("empty Location", "", "refused: empty reference"),
    ("leading space", " /x", "refused: a space"),
    ("tab inside", "/x\ty", "refused: the character \\t"),
    ("other scheme without //", "https:other", "refused: no '//' authority"),
    ("userinfo", "http://u:pw@cdn.example/", "refused: userinfo"),
    ("broken IPv6", "http://[::1", "refused: does not parse"),
    ("percent-encoded dot segments", "/v2/%2e%2e/x", "refused: rewrite it again"),
    ("file scheme", "file:///etc/passwd", "refused: scheme 'file'"),
]


@pytest.mark.parametrize(("location", "answer"), [r[1:] for r in REFERENCES],
                         ids=[r[0] for r in REFERENCES])
def test_resolve_reference_answers_the_case(location: str, answer: str) -> None:
    """A reference resolves (RFC 3986 section 5.2) to the table's checked URL, or is refused."""
    base = checked_url(BASE)
    if answer.startswith("refused: "):
        with pytest.raises(UnsafeUrlError) as caught:
            resolve_reference(base, location)
        assert answer.removeprefix("refused: ") in caught.value.reason
        assert "pw" not in str(caught.value)
    else:
        assert resolve_reference(base, location).geturl() == answer


def test_an_over_long_reference_is_refused() -> None:
    """A Location over MAX_URL_LENGTH is refused before it is joined."""
    with pytest.raises(UnsafeUrlError, match="over the limit"):
        resolve_reference(checked_url(BASE), "/" + "a" * MAX_URL_LENGTH)


# -- redaction ------------------------------------------------------------------------------

SECRET = "Zq9SECRET"


@pytest.mark.parametrize(
    "url",
    [
        f"http://user:{SECRET}@h/",
        f"http://user:{SECRET}\\@h/",
        f"http:/\\user:{SECRET}@h/",
        f"ht\ttp://user:{SECRET}@h/",
        f"http://user:{SECRET}/x@h/",
        f"http://h/?token={SECRET}",
        f"http://h/?{SECRET}",
        f"http://h/#{SECRET}",
        f"http://[::1%25{SECRET}]@h/",
        f"http://x:{SECRET[:4]}\\@h/",
    ],
    ids=["userinfo", "userinfo before a backslash", "slash-backslash authority",
         "tab in the scheme", "unencoded slash in the password", "query value", "bare query key",
         "fragment", "zone then @", "short numeric-looking password"],
)
def test_refusals_never_quote_a_secret(url: str) -> None:
    """Whatever part of a refused URL any parser could read as a credential stays out of the
    message, and so do query values and fragments."""
    secret = SECRET[:4] if "x:" in url else SECRET
    try:
        checked_url(url)
    except UnsafeUrlError as exc:
        assert secret not in str(exc)
        assert secret not in exc.url
    else:  # query values are legal in a URL; then the Url's display hides them
        assert secret not in repr(checked_url(url))
    assert secret not in redact(url)


# -- properties -----------------------------------------------------------------------------

_PIECES = "aZ09.:@/\\?#%[]_-~ \t\n\x00\x1b;=&+!$'(),\u3002\u00fc\u202e"
_URLISH = st.builds(
    lambda scheme, a, b, c: scheme + a + b + c,
    st.sampled_from(["http://", "https://", "HTTP://", "http:/", "http:", "", "//", "ftp://"]),
    st.text(alphabet=_PIECES, max_size=12),
    st.sampled_from(["", "/", "?", "#", ":80", ":5000", "@h", "[::1]", "127.0.0.1", "h.example",
                     "h.example.", "[fe80::1]"]),
    st.text(alphabet=_PIECES, max_size=12),
)


@MANY
@given(_URLISH)
def test_whatever_checked_url_accepts_both_parsers_read_alike(raw: str) -> None:
    """When checked_url accepts a URL, urllib.parse and urllib3 agree with it on scheme, host
    and port, of the input and of the string to connect to, which requests leaves unchanged."""
    try:
        url = checked_url(raw)
    except UnsafeUrlError:
        return
    connect = url.geturl()
    assert _origin_of_stdlib(connect) == url.origin
    assert _origin_of_urllib3(connect) == url.origin
    assert _prepared(connect) == connect
    scheme, host, port = _origin_of_stdlib(raw)
    assert (scheme, host.removesuffix(".") if host else host, port) == url.origin
    scheme3, host3, port3 = _origin_of_urllib3(raw)
    assert (scheme3, host3.removesuffix(".") if host3 else host3, port3) == url.origin


@MANY
@given(_URLISH)
def test_checked_url_is_idempotent(raw: str) -> None:
    """checked_url(url.geturl()) gives back the same Url."""
    try:
        url = checked_url(raw)
    except UnsafeUrlError:
        return
    assert checked_url(url.geturl()) == url


@MANY
@given(st.text(max_size=60))
def test_any_text_is_a_url_or_a_typed_refusal(raw: str) -> None:
    """No input makes checked_url raise anything but UnsafeUrlError."""
    try:
        checked_url(raw)
    except UnsafeUrlError as exc:
        assert exc.reason


@MANY
@given(st.text(alphabet=_PIECES, max_size=20), st.text(alphabet=_PIECES, max_size=10))
def test_a_secret_left_of_an_at_never_reaches_an_error(prefix: str, suffix: str) -> None:
    """Whatever surrounds it, a credential written left of an '@' is not in the refusal."""
    raw = f"http://{prefix}user:Zq9PASSWD@{suffix}"
    try:
        checked_url(raw)
    except UnsafeUrlError as exc:
        assert "Zq9PASSWD" not in str(exc)
    assert "Zq9PASSWD" not in redact(raw)


@MANY
@given(st.text(alphabet=_PIECES + "/.", max_size=20))
def test_any_reference_resolves_to_a_checked_url_or_a_refusal(location: str) -> None:
    """resolve_reference answers a Url that is its own checked form, or UnsafeUrlError."""
    try:
        url = resolve_reference(checked_url(BASE), location)
    except UnsafeUrlError:
        return
    assert checked_url(url.geturl()) == url
