"""Redirects, retries and broken connections: every loop is bounded and credentials stay home.

Redirect loops and chains stop at the limit; a redirect to another origin (a CDN on 127.0.0.2)
never carries the Authorization header, not even when the chain comes back to the registry; an
https -> http downgrade is refused; 429 storms, 5xx bursts, resets and stalls end within the
retry budget in count and in time.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator

import pytest
import requests
from kit import make_client
from rig import Registry, seed
from servers import (
    FakeRegistry,
    Reply,
    Request,
    ScriptedServer,
    Tls,
    always,
    challenge_401,
    json_reply,
    redirect,
)

from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.retry import RetryPolicy
from ociinspect.errors import (
    InsecureRedirectError,
    InvalidDocumentError,
    OCIInspectError,
    RateLimitedError,
    RedirectError,
    RegistryError,
    ServerError,
    SizeLimitError,
    TooManyRedirectsError,
    TransportError,
)
from ociinspect.testing import build

CREDS = Credentials("alice", "secret-password")
TOKEN = "hostile-transport-token-42"


# -- redirect loops and chains ---------------------------------------------------------------


def test_a_redirect_to_itself_is_a_loop() -> None:
    """A URL redirecting to itself raises TooManyRedirectsError after one request."""
    with ScriptedServer(lambda r: redirect(r.path)) as server:
        with pytest.raises(TooManyRedirectsError) as err:
            make_client().get_manifest(server.host, "a/b", "latest")
        assert len(server.requests()) == 1
    assert "loop" in str(err.value)


def test_a_loop_across_two_hosts_is_caught() -> None:
    """127.0.0.1 -> 127.0.0.2 -> 127.0.0.1 (same URL) is a loop: two requests, then the error."""
    with (
        ScriptedServer(lambda r: redirect(first.url + r.path), host="127.0.0.2") as second,
        ScriptedServer(lambda r: redirect(second.url + r.path)) as first,
    ):
        with pytest.raises(TooManyRedirectsError):
            make_client().get_manifest(first.host, "a/b", "latest")
        assert len(first.requests()) == 1 and len(second.requests()) == 1


@pytest.mark.parametrize("limit", [0, 3, 10], ids=lambda n: f"a limit of {n} hops")
def test_an_endless_chain_stops_at_the_limit(limit: int) -> None:
    """/hop/N -> /hop/N+1 forever: exactly limit + 1 requests, then TooManyRedirectsError."""

    def script(request: Request) -> Reply:
        n = int(request.path.rsplit("/", 1)[1]) if "/hop/" in request.path else 0
        return redirect(f"/hop/{n + 1}", 302)

    with ScriptedServer(script) as server:
        with pytest.raises(TooManyRedirectsError) as err:
            make_client(max_redirects=limit).get_manifest(server.host, "a/b", "latest")
        assert len(server.requests()) == limit + 1
    assert f"more than {limit} redirects" in str(err.value)


@pytest.mark.parametrize(
    "location",
    ["http://127.0.0.1:99999/x", "http://[::1/x", "file:///etc/passwd", "javascript:alert(1)"],
    ids=["port 99999", "a broken IPv6 host", "a file URL", "a javascript URL"],
)
def test_an_unusable_location_is_a_redirect_error(location: str) -> None:
    """A Location that is no http(s) URL raises RedirectError at once, without retries."""
    with ScriptedServer(always(redirect(location))) as server:
        with pytest.raises(RedirectError) as err:
            make_client().get_manifest(server.host, "a/b", "latest")
        assert len(server.requests()) == 1
    assert "Location" in str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        Reply(307, [("Location", "/blob")], b"x" * (1 << 20), stall_at=100, stall_for=30),
        Reply(307, [("Location", "/blob"), ("Content-Encoding", "gzip")],
              gzip.compress(bytes(64 << 20)), chunked=True),
    ],
    ids=["a 1 MiB redirect body that stalls", "a redirect body that is a 64 MiB gzip bomb"],
)
def test_a_redirect_body_is_never_read(body: Reply, sample: build.BuiltImage) -> None:
    """The body of a 307 is not read (requests would read and inflate it whole): the client
    follows at once, even when that body would stall or explode."""
    layer = sample.layers[0]
    with ScriptedServer(
        lambda r: Reply(200, [], layer.data) if r.route == "/blob" else body
    ) as server:
        started = time.monotonic()
        client = make_client(timeout=(1, 5))
        assert client.get_blob(server.host, "a/b", layer.digest) == layer.data
    assert time.monotonic() - started < 2.0


def test_a_short_redirect_body_that_stalls_costs_one_read_timeout_at_most(
    sample: build.BuiltImage,
) -> None:
    """Short bodies are drained so the connection can be reused; one that stalls costs a single
    read timeout, then the redirect is followed."""
    layer = sample.layers[0]
    stalled = Reply(307, [("Location", "/blob")], b"x" * 4096, stall_at=100, stall_for=30)
    answer = lambda r: Reply(200, [], layer.data) if r.route == "/blob" else stalled  # noqa: E731
    with ScriptedServer(answer) as server:
        started = time.monotonic()
        data = make_client(timeout=(1, 1)).get_blob(server.host, "a/b", layer.digest)
    assert data == layer.data
    assert time.monotonic() - started < 2.5


def test_a_redirect_without_location_is_a_registry_error() -> None:
    """307 without Location is an unexpected answer, not a crash or a hang."""
    with ScriptedServer(always(Reply(307))) as server, pytest.raises(RegistryError) as err:
        make_client().get_manifest(server.host, "a/b", "latest")
    assert err.value.status == 307


# -- credentials and other origins -----------------------------------------------------------


@pytest.fixture
def tokens() -> Iterator[ScriptedServer]:
    with ScriptedServer(always(json_reply(200, {"token": TOKEN}))) as server:
        yield server


def _authorised(request: Request, scheme: str) -> bool:
    return (request.header("Authorization") or "").startswith(scheme.capitalize() + " ")


def _guarded(
    scheme: str, tokens: ScriptedServer, serve: Callable[[Request], Reply]
) -> Callable[[Request], Reply]:
    """A registry script that wants ``scheme`` auth for /v2/ and serves ``serve`` otherwise."""
    challenge = 'Basic realm="r"' if scheme == "basic" else f'Bearer realm="{tokens.url}/t"'

    def script(request: Request) -> Reply:
        if request.route.startswith("/v2/") and not _authorised(request, scheme):
            return challenge_401(challenge)
        return serve(request)

    return script


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_cross_origin_redirect_drops_authorization(
    scheme: str, tokens: ScriptedServer, sample: build.BuiltImage
) -> None:
    """A blob redirected to 127.0.0.2 arrives there without any Authorization header."""
    layer = sample.layers[0]
    with ScriptedServer(always(Reply(200, [], layer.data)), host="127.0.0.2") as cdn:
        serve = lambda r: redirect(f"{cdn.url}/blob?sig=1")  # noqa: E731
        with ScriptedServer(_guarded(scheme, tokens, serve)) as registry:
            data = make_client(credentials=CREDS).get_blob(registry.host, "a/b", layer.digest)
            assert _authorised(registry.requests()[-1], scheme)
        assert data == layer.data
        (got,) = cdn.requests()
    assert got.header("Authorization") is None


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_authorization_is_not_reattached_when_a_chain_returns_home(
    scheme: str, tokens: ScriptedServer, sample: build.BuiltImage
) -> None:
    """registry -> 127.0.0.2 -> back to the registry origin: the last hop has no credentials."""
    layer = sample.layers[0]

    def serve(request: Request) -> Reply:
        if request.route == "/final":
            return Reply(200, [], layer.data)
        return redirect(f"{cdn.url}/bounce")

    with ScriptedServer(lambda r: redirect(f"{registry.url}/final"), host="127.0.0.2") as cdn:
        with ScriptedServer(_guarded(scheme, tokens, serve)) as registry:
            data = make_client(credentials=CREDS).get_blob(registry.host, "a/b", layer.digest)
            final = registry.requests("/final")
        assert [r.header("Authorization") for r in cdn.requests()] == [None]
    assert data == layer.data
    assert [r.header("Authorization") for r in final] == [None]


@pytest.mark.registry
def test_token_never_reaches_the_rig_cdn_even_when_the_cdn_bounces_back(
    registry_token: Registry,
) -> None:
    """With the real registry and token server, a CDN that redirects back to the registry gets
    no token, and neither does the registry on the returning hop: it answers 401, the client
    earns a fresh token for a clean retry, and the blob arrives."""
    layer = registry_token.seeded[seed.SINGLE].image().layers[0]
    cdn = registry_token.cdn
    assert cdn is not None
    back = f"{registry_token.url}/v2/demo/single/blobs/{layer.digest}?again=1"
    cdn.faults.fail(307, times=1, headers={"Location": back}, body=b"")
    client = make_client(credentials=CREDS)
    assert client.get_blob(registry_token.host, "demo/single", layer.digest) == layer.data
    assert all(r.header("Authorization") is None for r in cdn.requests())
    (returning,) = [e for e in client.trace if "again=" in e.url]
    assert returning.status == 401 and "Authorization" not in returning.request_headers
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 2


# -- https -> http ---------------------------------------------------------------------------


def _tls_session(tls: Tls) -> requests.Session:
    session = requests.Session()
    session.verify = str(tls.ca_file)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    return session


def test_https_to_http_downgrade_is_refused(tls: Tls, sample: build.BuiltImage) -> None:
    """A registry on https redirecting a blob to plain http raises InsecureRedirectError; the
    http server is never contacted."""
    with ScriptedServer(always(Reply(200, [], b"x"))) as plain:
        with ScriptedServer(always(redirect(f"{plain.url}/blob")), tls=tls.context) as secure:
            client = make_client(session=_tls_session(tls), schemes={secure.host: "https"})
            with pytest.raises(InsecureRedirectError) as err:
                client.get_blob(secure.host, "a/b", sample.layers[0].digest)
            assert len(secure.requests()) == 1
        assert plain.requests() == []
    assert err.value.url.startswith("https://")


def test_https_to_https_on_another_host_is_followed(tls: Tls, sample: build.BuiltImage) -> None:
    """Control case: https -> https elsewhere is an ordinary CDN redirect."""
    layer = sample.layers[0]
    with ScriptedServer(always(Reply(200, [], layer.data)), tls=tls.context) as cdn:
        target = f"https://localhost:{cdn.host.rsplit(':', 1)[1]}/blob"
        with ScriptedServer(always(redirect(target)), tls=tls.context) as secure:
            client = make_client(session=_tls_session(tls), schemes={secure.host: "https"})
            assert client.get_blob(secure.host, "a/b", layer.digest) == layer.data


def test_token_realm_downgrading_to_http_is_refused(tls: Tls) -> None:
    """An https token realm that redirects to http gets InsecureRedirectError, not a token."""
    with ScriptedServer(always(json_reply(200, {"token": TOKEN}))) as plain:
        bounce = always(redirect(f"{plain.url}/token"))
        with ScriptedServer(bounce, tls=tls.context) as realm:
            challenge = challenge_401(f'Bearer realm="{realm.url}/token"')
            with ScriptedServer(always(challenge)) as registry:
                client = make_client(session=_tls_session(tls), credentials=CREDS)
                with pytest.raises(InsecureRedirectError):
                    client.get_manifest(registry.host, "a/b", "latest")
        assert plain.requests() == []


# -- retries: 429 storms, 5xx bursts, resets ------------------------------------------------


@pytest.mark.parametrize(
    "retry_after",
    [None, "0", "1", "86400", "Wed, 21 Oct 2099 07:28:00 GMT", "\u00b2", "soon", "-5"],
    ids=["no Retry-After", "Retry-After 0", "Retry-After 1", "Retry-After a day",
         "Retry-After a date in 2099", "Retry-After a superscript two", "Retry-After a word",
         "Retry-After negative"],
)
def test_a_429_storm_ends_in_rate_limited_within_the_budget(retry_after: str | None) -> None:
    """Endless 429s: `attempts` requests, every wait capped, then RateLimitedError."""
    headers = [("Retry-After", retry_after)] if retry_after is not None else []
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}
    policy = RetryPolicy()
    waits: list[float] = []
    with ScriptedServer(always(json_reply(429, body, *headers))) as server:
        with pytest.raises(RateLimitedError) as err:
            make_client(sleep=waits.append).get_manifest(server.host, "a/b", "latest")
        assert len(server.requests()) <= policy.attempts
    assert len(waits) == len(server.requests()) - 1
    assert all(0 <= w <= policy.max_retry_after for w in waits)
    assert err.value.codes == ("TOOMANYREQUESTS",)


def test_a_429_storm_in_real_time_stops_at_the_total_budget() -> None:
    """With real sleeping, Retry-After: 1 under a 0.5 s budget gives up in well under 2 s."""
    policy = RetryPolicy(attempts=10, max_retry_after=0.2, total=0.5)
    with ScriptedServer(always(Reply(429, [("Retry-After", "1")]))) as server:
        started = time.monotonic()
        with pytest.raises(RateLimitedError):
            make_client(retry=policy, sleep=time.sleep).get_manifest(server.host, "a/b", "x")
        elapsed = time.monotonic() - started
        assert 2 <= len(server.requests()) <= 4
    assert elapsed < 2.0


def _burst(*replies: Reply) -> Callable[[Request], Reply]:
    """Answer with ``replies`` in turn, then 200 with a tag list."""
    queue = list(replies)
    return lambda request: queue.pop(0) if queue else json_reply(200, {"tags": ["ok"]})


@pytest.mark.parametrize(
    "burst",
    [
        [Reply(500), Reply(502), Reply(503)],
        [Reply(504), Reply(408)],
        [Reply(drop=True), Reply(drop=True)],
        [Reply(503), Reply(429, [("Retry-After", "0")]), Reply(drop=True)],
    ],
    ids=["500 502 503", "504 408", "two connection resets", "503 429 and a reset"],
)
def test_a_burst_shorter_than_the_budget_is_invisible(burst: list[Reply]) -> None:
    """Transient failures fewer than the attempts are retried away."""
    with ScriptedServer(_burst(*burst)) as server:
        assert list(make_client().list_tags(server.host, "a/b")) == ["ok"]
        assert len(server.requests()) == len(burst) + 1


@pytest.mark.parametrize(
    ("reply", "error", "requests_made"),
    [
        (Reply(503), ServerError, RetryPolicy().attempts),
        (Reply(drop=True), TransportError, RetryPolicy().attempts),
        (Reply(501), ServerError, 1),
    ],
    ids=["endless 503 is a ServerError after every attempt",
         "endless resets are a TransportError after every attempt",
         "501 is not retried"],
)
def test_a_failure_that_outlasts_the_budget_is_typed(
    reply: Reply, error: type[OCIInspectError], requests_made: int
) -> None:
    """Failures that never stop end in one typed error after a bounded number of requests."""
    with ScriptedServer(always(reply)) as server:
        with pytest.raises(error):
            list(make_client().list_tags(server.host, "a/b"))
        assert len(server.requests()) == requests_made


@pytest.mark.registry
def test_connection_resets_in_front_of_the_real_registry_are_retried(
    registry_open: Registry,
) -> None:
    """Two resets by a proxy before the real registry answers cost two extra requests only."""
    proxy = registry_open.proxy()
    proxy.faults.drop(times=2, path=r"/manifests/")
    info = make_client().get_manifest(proxy.host, "demo/single", "latest")
    assert info.digest == registry_open.seeded[seed.SINGLE].digest
    assert proxy.count("GET", r"/manifests/") == 3


# -- stalls and timeouts ---------------------------------------------------------------------


def test_a_server_that_never_answers_times_out_within_bounds() -> None:
    """No status line for 30 s: with timeout=(1, 1) and two attempts the client gives up in
    about two seconds with a TransportError naming the read timeout."""
    with ScriptedServer(always(Reply(stall=30))) as server:
        client = make_client(timeout=(1, 1), retry=RetryPolicy(attempts=2))
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            client.get_manifest(server.host, "a/b", "latest")
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4.0
    assert "timeout" in str(err.value)


def test_a_body_that_stalls_midway_times_out_without_retry(
    fake: FakeRegistry, sample: build.BuiltImage
) -> None:
    """A blob that stops after 10 bytes for 30 s ends in TransportError after one read timeout."""

    def stall(request: Request, reply: Reply) -> Reply:
        if "/blobs/" in request.route:
            reply.stall_at, reply.stall_for = 10, 30.0
        return reply

    fake.tweak = stall
    client = make_client(timeout=(1, 1))
    started = time.monotonic()
    with pytest.raises(TransportError) as err:
        client.get_blob(fake.host, fake.repository, sample.layers[0].digest)
    assert time.monotonic() - started < 3.0
    assert "timeout" in str(err.value)
    assert len(fake.requests("/v2/hostile/app/blobs/")) == 1


def test_a_stalled_token_server_times_out() -> None:
    """A token endpoint that never answers is a TransportError within the timeout budget."""
    client = make_client(timeout=(1, 1), retry=RetryPolicy(attempts=1))
    with ScriptedServer(always(Reply(stall=30))) as stalled:
        challenge = challenge_401(f'Bearer realm="{stalled.url}/t"')
        with ScriptedServer(always(challenge)) as registry, pytest.raises(TransportError):
            started = time.monotonic()
            client.get_manifest(registry.host, "a/b", "latest")
    assert time.monotonic() - started < 3.0


# -- listings: pages that lead elsewhere -----------------------------------------------------


def _paged(link: str | None, body: object = None) -> Callable[[Request], Reply]:
    """A Basic-auth registry whose every tags page links to ``link``."""

    def script(request: Request) -> Reply:
        if request.header("Authorization") is None:
            return challenge_401('Basic realm="r"')
        headers = [("Link", link)] if link else []
        return json_reply(200, body if body is not None else {"tags": ["t"]}, *headers)

    return script


def test_a_next_page_on_another_host_is_refused_before_credentials_travel() -> None:
    """A Link to 127.0.0.3 would carry the registry's Basic login there: RegistryError, and the
    far host receives nothing."""
    with ScriptedServer(always(json_reply(200, {"tags": ["stolen"]})), host="127.0.0.3") as far:
        link = f'<{far.url}/v2/a/b/tags/list?last=t>; rel="next"'
        with ScriptedServer(_paged(link)) as registry:
            tags = make_client(credentials=CREDS).list_tags(registry.host, "a/b")
            assert next(tags) == "t"
            with pytest.raises(RegistryError) as err:
                next(tags)
        assert far.requests() == []
    assert "leaves the registry" in str(err.value)


@pytest.mark.parametrize(
    "link",
    ['</v2/a/b/tags/list>; rel="next"', '<?n=1>; rel="next"'],
    ids=["a link back to the first page", "a relative link to the same page"],
)
def test_pages_that_loop_end_in_a_registry_error(link: str) -> None:
    """A next link that was already read ends the listing with RegistryError, not forever."""
    with ScriptedServer(_paged(link)) as registry:
        client = make_client(credentials=CREDS)
        with pytest.raises(RegistryError) as err:
            list(client.list_tags(registry.host, "a/b", page_size=1 if "n=1" in link else None))
        assert len(registry.requests("/v2/a/b/tags/list")) <= 3
    assert "loop" in str(err.value)


@pytest.mark.parametrize(
    ("link", "body"),
    [
        ('<http://[::1/v2/x>; rel="next"', None),
        ('<http://127.0.0.1:99999/v2/x>; rel="next"', None),
        (None, {"tags": "latest"}),
        (None, {"tags": [1, 2]}),
        (None, ["latest"]),
        (None, "x" * 100),
    ],
    ids=["a link with a broken IPv6 host", "a link with port 99999", "tags that are a string",
         "tags that are numbers", "a page that is an array", "a page that is a string"],
)
def test_broken_pages_are_registry_errors(link: str | None, body: object) -> None:
    """Links and pages that make no sense raise RegistryError (never ValueError)."""
    with ScriptedServer(_paged(link, body)) as registry, pytest.raises(RegistryError):
        list(make_client(credentials=CREDS).list_tags(registry.host, "a/b"))


def test_a_tags_page_over_4_mib_is_refused() -> None:
    """A chunked tags page past 4 MiB stops at the limit."""
    big = Reply(200, [("Content-Type", "application/json")],
                b'{"tags": [' + b'"t",' * (2 << 20) + b'"t"]}', chunked=True)
    with ScriptedServer(always(big)) as registry, pytest.raises(SizeLimitError):
        list(make_client().list_tags(registry.host, "a/b"))


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"[" * 100_000, InvalidDocumentError), (b"[]", InvalidDocumentError),
     (b"<html>", InvalidDocumentError)],
    ids=["nested 100000 deep", "an array", "HTML"],
)
def test_a_hostile_referrers_answer_is_an_invalid_document(
    body: bytes, error: type[OCIInspectError]
) -> None:
    """A referrers API answering garbage under the OCI index type raises InvalidDocumentError."""
    answer = Reply(200, [("Content-Type", "application/vnd.oci.image.index.v1+json")], body)
    with ScriptedServer(always(answer)) as registry, pytest.raises(error):
        make_client().referrers(registry.host, "a/b", "sha256:" + "a" * 64)
