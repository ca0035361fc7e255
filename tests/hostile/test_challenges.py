"""Authentication against hostile registries and token servers.

Challenges malformed in every way the conformance data shows, token endpoints answering garbage,
tokens the registry refuses, and credentials that must not travel: each ends in one typed error
after a bounded number of requests, and credentials only go where https or loopback takes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kit import REMOTE_AUTH, REMOTE_REGISTRY, Lookups, make_client
from rig import ALICE, BOB, Proxy, Registry, TokenServer, seed
from rig.httpd import wait_until
from servers import Reply, Request, ScriptedServer, Tls, always, challenge_401, json_reply, redirect

from ociinspect.distribution.challenge import (
    challenge_problem,
    parse_www_authenticate,
    select_challenge,
)
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.retry import RetryPolicy
from ociinspect.errors import (
    ChallengeError,
    DeniedError,
    InsecureCredentialsError,
    OCIInspectError,
    RedirectError,
    RegistryError,
    SizeLimitError,
    TokenError,
    TransportError,
    UnauthorizedError,
)

DATA = Path(__file__).resolve().parent.parent / "data"
CASES = json.loads((DATA / "challenges.json").read_text())["cases"]
ALICE_CREDS = Credentials(ALICE.name, ALICE.password)
GOOD_TOKEN = {"token": "stub-token-0123456789", "expires_in": 300}


@pytest.fixture(scope="module")
def token_stub() -> Iterator[ScriptedServer]:
    """A token endpoint that hands out a token to anyone."""
    with ScriptedServer(always(json_reply(200, GOOD_TOKEN))) as server:
        yield server


def _localise(header: str, realm_base: str) -> str:
    """Point every absolute URL of a challenge at ``realm_base`` (no traffic leaves loopback)."""
    return re.sub(r"https?://[^/\",\s]+", realm_base, header)


def _expected(headers: list[str]) -> type[OCIInspectError]:
    """ChallengeError when the challenge the client picks cannot be answered, else 401."""
    chosen = select_challenge(parse_www_authenticate(headers))
    return ChallengeError if chosen and challenge_problem(chosen) else UnauthorizedError


def _case_id(case: dict[str, Any]) -> str:
    test = case["source"].get("test") or case["source"]["path"].rsplit("/", 1)[-1]
    return f"{case['id']} {test} gives a typed error"


@pytest.mark.parametrize("creds", [None, ALICE_CREDS], ids=["anonymous", "with credentials"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_conformance_challenges_end_in_a_typed_error(
    token_stub: ScriptedServer, case: dict[str, Any], creds: Credentials | None
) -> None:
    """Each conformance header served on every 401 ends in ChallengeError or UnauthorizedError,
    after at most three registry and two token requests."""
    headers = [_localise(h, token_stub.url) for h in case["headers"]]
    before = len(token_stub.requests())
    with ScriptedServer(always(challenge_401(*headers))) as registry:
        with pytest.raises(OCIInspectError) as err:
            make_client(credentials=creds).get_manifest(registry.host, "hostile/app", "latest")
        seen = registry.requests()
    assert type(err.value) is _expected(headers)
    assert len(seen) <= 3 and len(token_stub.requests()) - before <= 2
    chosen = select_challenge(parse_www_authenticate(headers))
    if chosen is None or chosen.scheme != "basic" or creds is None:
        # Basic credentials go to the registry only when it asked for Basic.
        assert not any((r.header("Authorization") or "").startswith("Basic") for r in seen)


@pytest.mark.parametrize(
    "case_id, expected",
    [
        ("ch-017", ChallengeError),
        ("ch-039", ChallengeError),
        ("ch-047", ChallengeError),
        ("ch-049", ChallengeError),
        ("ch-032", UnauthorizedError),
        ("ch-027", UnauthorizedError),
    ],
    ids=[
        "Negotiate and Digest only is a ChallengeError",
        "Bearer without params is a ChallengeError",
        "Bearer without realm is a ChallengeError",
        "a relative realm is a ChallengeError",
        "an empty header is a plain 401",
        "a quoted scheme is no challenge at all",
    ],
)
def test_chosen_conformance_cases_have_the_stated_error(
    case_id: str, expected: type[OCIInspectError]
) -> None:
    """Spot checks that do not depend on the parser: what a user sees for famous bad headers."""
    (case,) = [c for c in CASES if c["id"] == case_id]
    with (
        ScriptedServer(always(challenge_401(*case["headers"]))) as registry,
        pytest.raises(RegistryError) as err,
    ):
        make_client().get_manifest(registry.host, "hostile/app", "latest")
    assert type(err.value) is expected
    assert err.value.status == 401 and "/v2/hostile/app/manifests/latest" in str(err.value)


MALFORMED = [
    ("a realm with an ftp scheme", 'Bearer realm="ftp://127.0.0.1/token"', ChallengeError),
    ("a realm with port 99999", 'Bearer realm="http://127.0.0.1:99999/token"', ChallengeError),
    ("a realm with a broken IPv6 host", 'Bearer realm="http://[::1/token"', ChallengeError),
    ("a realm without a host", 'Bearer realm="https://"', ChallengeError),
    ("an empty realm", 'Bearer realm=""', ChallengeError),
    ("a realm that is a path", 'Bearer realm="/token",service="x"', ChallengeError),
    ("an NTLM challenge", "NTLM", ChallengeError),
    ("a Negotiate token68", "Negotiate YIIJvwYGKwYBBQUCoIIJszCCCa+gJDAi", ChallengeError),
    ("control characters in the realm", 'Bearer realm="{stub}/\x01\x7f"', ChallengeError),
    ("two realms, the first one wins", 'Bearer realm="{stub}/a",realm="http://127.0.0.1:1/b"',
     UnauthorizedError),
    ("a scheme that is punctuation", '"" ,,, = ==', UnauthorizedError),
]


@pytest.mark.parametrize(
    ("header", "expected"),
    [pytest.param(h, e, id=f"{name} is a {e.__name__}") for name, h, e in MALFORMED],
)
@pytest.mark.parametrize("creds", [None, ALICE_CREDS], ids=["anonymous", "with credentials"])
def test_malformed_challenges_beyond_the_conformance_set(
    token_stub: ScriptedServer,
    header: str,
    expected: type[OCIInspectError],
    creds: Credentials | None,
) -> None:
    """Realms that are no usable URL and unknown schemes are ChallengeErrors, never ValueError."""
    header = header.replace("{stub}", token_stub.url)
    with ScriptedServer(always(challenge_401(header))) as registry:
        with pytest.raises(OCIInspectError) as err:
            make_client(credentials=creds).get_manifest(registry.host, "hostile/app", "latest")
        assert len(registry.requests()) <= 3
    assert type(err.value) is expected


def test_a_401_without_any_challenge_is_unauthorized() -> None:
    """A 401 with no WWW-Authenticate is answered once, then UnauthorizedError."""
    with ScriptedServer(always(json_reply(401, {"errors": []}))) as registry:
        with pytest.raises(UnauthorizedError):
            make_client(credentials=ALICE_CREDS).get_manifest(registry.host, "a/b", "latest")
        assert len(registry.requests()) == 1
        assert registry.requests()[0].header("Authorization") is None


def test_a_header_line_longer_than_http_allows_is_a_transport_error() -> None:
    """A 100 KB WWW-Authenticate line breaks the HTTP parser: TransportError, after retries."""
    header = 'Bearer realm="http://127.0.0.1/token",x="' + "a" * 100_000 + '"'
    with ScriptedServer(always(challenge_401(header))) as registry:
        with pytest.raises(TransportError):
            make_client(retry=RetryPolicy(attempts=2)).get_manifest(registry.host, "a/b", "latest")
        assert len(registry.requests()) == 2


# -- a realm on another host ---------------------------------------------------------------------


@pytest.mark.registry
def test_realm_on_another_loopback_host_gets_the_credentials_and_works(
    registry_token: Registry,
) -> None:
    """A token server on 127.0.0.3 (plain http, loopback) receives alice's login; the registry
    only ever sees the Bearer token."""
    server = registry_token.token_server
    assert server is not None
    far = Proxy(server.url, bind="127.0.0.3")
    try:
        front = registry_token.proxy()
        front.faults.set_header(
            "WWW-Authenticate", f'Bearer realm="{far.url}/token",service="{server.service}"'
        )
        info = make_client(credentials=ALICE_CREDS).get_manifest(
            front.host, "private/secret", "latest"
        )
        assert info.digest == registry_token.seeded[seed.PRIVATE].digest
        (login,) = far.requests()
        assert (login.header("Authorization") or "").startswith("Basic ")
        sent = [r.header("Authorization") or "" for r in front.requests()]
        assert sent[0] == "" and all(s.startswith("Bearer ") for s in sent[1:])
        assert server.count(identity=ALICE.name) == 1
    finally:
        far.stop()


# -- token endpoints that answer garbage ---------------------------------------------------------

GARBAGE: list[tuple[str, Callable[[TokenServer], object], type[OCIInspectError]]] = [
    ("an HTML page", lambda s: s.faults.tamper(lambda b: b"<html><h1>Login</h1></html>"),
     TokenError),
    ("bytes that are not JSON", lambda s: s.faults.tamper(lambda b: b"\x00\xff garbage"),
     TokenError),
    ("a JSON array", lambda s: s.faults.tamper(lambda b: b"[]"), TokenError),
    ("an object without a token", lambda s: s.faults.tamper(lambda b: b'{"expires_in": 60}'),
     TokenError),
    ("an empty token", lambda s: s.faults.tamper(lambda b: b'{"token": ""}'), TokenError),
    ("a token that is a number", lambda s: s.faults.tamper(lambda b: b'{"token": 12}'),
     TokenError),
    ("a token with a newline", lambda s: s.faults.tamper(lambda b: b'{"token": "a\\r\\nX: y"}'),
     TokenError),
    ("expires_in that is a word",
     lambda s: s.faults.tamper(lambda b: b'{"token": "abc", "expires_in": "soon"}'), TokenError),
    ("JSON nested 200000 deep", lambda s: s.faults.tamper(lambda b: b"[" * 200_000), TokenError),
    ("a body over 1 MiB", lambda s: s.faults.tamper(lambda b: b" " * (1 << 20) + b),
     SizeLimitError),
    ("500 on every try", lambda s: s.faults.fail(500, times=None), TokenError),
    ("401", lambda s: s.faults.fail(401, times=None), UnauthorizedError),
    ("403", lambda s: s.faults.fail(403, times=None), DeniedError),
    ("a dropped connection every time", lambda s: s.faults.drop(times=None), TransportError),
]


@pytest.mark.registry
@pytest.mark.parametrize(
    ("fault", "expected"),
    [pytest.param(f, e, id=f"{name} is a {e.__name__}") for name, f, e in GARBAGE],
)
def test_token_endpoint_garbage_is_a_typed_error(
    registry_token: Registry,
    fault: Callable[[TokenServer], object],
    expected: type[OCIInspectError],
) -> None:
    """Whatever the token server answers instead of a token, one typed error comes back, after
    at most as many token requests as the retry policy allows."""
    server = registry_token.token_server
    assert server is not None
    fault(server)
    with pytest.raises(OCIInspectError) as err:
        make_client(credentials=ALICE_CREDS).get_manifest(
            registry_token.host, "private/secret", "latest"
        )
    assert type(err.value) is expected
    # The rig's token server records a faulted request after answering it: wait for the record.
    wait_until(lambda: len(server.requests()) >= 1, 5.0, "the token request to be recorded")
    assert len(server.requests()) <= RetryPolicy().attempts


def test_a_chunked_token_body_over_1_mib_stops_at_the_limit(token_stub: ScriptedServer) -> None:
    """A token answer without Content-Length is cut off at 1 MiB: SizeLimitError."""
    body = b'{"token": "' + b"a" * (2 << 20) + b'"}'
    answer = Reply(200, [("Content-Type", "application/json")], body, chunked=True)
    with (
        ScriptedServer(always(answer)) as huge,
        ScriptedServer(always(challenge_401(f'Bearer realm="{huge.url}/token"'))) as registry,
        pytest.raises(SizeLimitError) as err,
    ):
        make_client().get_manifest(registry.host, "a/b", "latest")
    assert err.value.limit == 1 << 20


# -- tokens the registry refuses -----------------------------------------------------------------


@pytest.mark.registry
def test_token_expired_on_arrival_is_renewed_once_then_unauthorized(
    registry_token: Registry,
) -> None:
    """Tokens the registry finds expired (exp 120 s ago) earn one renewal, then a clear 401."""
    server = registry_token.token_server
    assert server is not None
    server.lifetime = -120
    client = make_client(credentials=ALICE_CREDS)
    with pytest.raises(UnauthorizedError) as err:
        client.get_manifest(registry_token.host, "private/secret", "latest")
    assert "invalid_token" in str(err.value) and "private/secret" in str(err.value)
    assert server.count() == 2
    assert [(e.purpose, e.status) for e in client.trace] == [
        ("manifest", 401), ("token", 200), ("manifest", 401), ("token", 200), ("manifest", 401)
    ]


@pytest.mark.registry
@pytest.mark.parametrize("creds", [None, Credentials(BOB.name, BOB.password)],
                         ids=["anonymous", "bob"])
def test_insufficient_scope_is_denied(registry_token: Registry, creds: Credentials | None) -> None:
    """A token granting nothing on a private repository ends in DeniedError (insufficient_scope)."""
    with pytest.raises(DeniedError) as err:
        make_client(credentials=creds).get_manifest(registry_token.host, "private/secret", "latest")
    assert err.value.status == 401 and "insufficient_scope" in str(err.value)
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 2


def test_403_with_a_token_is_renewed_once_then_denied(token_stub: ScriptedServer) -> None:
    """A registry answering 403 DENIED to a token is asked once more with a new one, then
    DeniedError carries its code."""

    def script(request: Request) -> Reply:
        if request.header("Authorization") is None:
            return challenge_401(f'Bearer realm="{token_stub.url}/token",service="s"')
        return json_reply(403, {"errors": [{"code": "DENIED", "message": "no pulls for you"}]})

    before = len(token_stub.requests())
    with ScriptedServer(script) as registry:
        with pytest.raises(DeniedError) as err:
            make_client().get_manifest(registry.host, "a/b", "latest")
        assert len(registry.requests()) == 3
    assert err.value.codes == ("DENIED",)
    assert len(token_stub.requests()) - before == 2


# -- credentials that must not travel ------------------------------------------------------------


@pytest.mark.parametrize(
    "realm",
    ["http://example.invalid/token", f"http://{REMOTE_AUTH}:1/token"],
    ids=["a .invalid host", "a remote-looking .test host"],
)
def test_credentials_for_a_plain_http_remote_realm_are_refused_before_connecting(
    loopback_guard: Lookups, realm: str
) -> None:
    """Credentials for an http realm on a non-loopback host raise InsecureCredentialsError
    before the name is even looked up."""
    host = realm.split("/")[2].split(":")[0]
    with ScriptedServer(always(challenge_401(f'Bearer realm="{realm}",service="s"'))) as registry:
        client = make_client(credentials=ALICE_CREDS)
        with pytest.raises(InsecureCredentialsError) as err:
            client.get_manifest(registry.host, "a/b", "latest")
        assert all(r.header("Authorization") is None for r in registry.requests())
    assert ALICE.password not in str(err.value)
    assert not loopback_guard.tried(host)
    assert [e for e in client.trace if host in e.url] == []


def test_basic_credentials_for_a_plain_http_remote_registry_are_refused() -> None:
    """A Basic challenge from a non-loopback registry over http gets no password."""
    with ScriptedServer(always(challenge_401('Basic realm="r"'))) as registry:
        name = f"{REMOTE_REGISTRY}:{registry.host.rsplit(':', 1)[1]}"
        client = make_client(credentials=ALICE_CREDS, schemes={name: "http"})
        with pytest.raises(InsecureCredentialsError):
            client.get_manifest(name, "a/b", "latest")
        (only,) = registry.requests()
    assert only.header("Authorization") is None


def test_anonymous_token_over_plain_http_to_a_remote_realm_is_allowed() -> None:
    """Without credentials nothing secret travels, so an http realm anywhere is used."""
    with ScriptedServer(always(json_reply(200, GOOD_TOKEN))) as tokens:
        realm = f"http://{REMOTE_AUTH}:{tokens.host.rsplit(':', 1)[1]}/token"

        def script(request: Request) -> Reply:
            if request.header("Authorization") != f"Bearer {GOOD_TOKEN['token']}":
                return challenge_401(f'Bearer realm="{realm}"')
            return json_reply(200, {"name": "a/b", "tags": ["x"]})

        with ScriptedServer(script) as registry:
            assert list(make_client().list_tags(registry.host, "a/b")) == ["x"]
        (asked,) = tokens.requests()
    assert asked.header("Authorization") is None


def test_credentials_go_to_a_remote_realm_over_https(tls: Tls) -> None:
    """An https realm on a remote-looking host receives the Basic login (and it works)."""
    with ScriptedServer(always(json_reply(200, GOOD_TOKEN)), tls=tls.context) as tokens:
        realm = f"https://{REMOTE_AUTH}:{tokens.host.rsplit(':', 1)[1]}/token"

        def script(request: Request) -> Reply:
            if request.header("Authorization") != f"Bearer {GOOD_TOKEN['token']}":
                return challenge_401(f'Bearer realm="{realm}",service="s"')
            return json_reply(200, {"name": "a/b", "tags": ["x"]})

        session = requests.Session()
        session.verify = str(tls.ca_file)
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides verify
        with ScriptedServer(script) as registry:
            client = make_client(session=session, credentials=ALICE_CREDS)
            assert list(client.list_tags(registry.host, "a/b")) == ["x"]
            assert all(
                not (r.header("Authorization") or "").startswith("Basic")
                for r in registry.requests()
            )
        (login,) = tokens.requests()
    assert (login.header("Authorization") or "").startswith("Basic ")


@pytest.mark.registry
def test_refresh_token_is_not_reposted_to_another_origin(registry_token: Registry) -> None:
    """A token endpoint answering the OAuth2 POST with a 307 to another host gets RedirectError;
    the far host never receives the form holding the refresh token."""
    server = registry_token.token_server
    assert server is not None
    refresh = server.refresh_token_for(ALICE.name)
    identity = Credentials("", identity_token=refresh)
    assert make_client(credentials=identity).get_manifest(
        registry_token.host, "private/secret", "latest"
    ).digest == registry_token.seeded[seed.PRIVATE].digest
    with ScriptedServer(always(json_reply(200, GOOD_TOKEN)), host="127.0.0.3") as far:
        with ScriptedServer(always(redirect(far.url + "/token", 307))) as bouncer:
            front = registry_token.proxy()
            front.faults.set_header("WWW-Authenticate", f'Bearer realm="{bouncer.url}/token"')
            with pytest.raises(RedirectError) as err:
                make_client(credentials=identity).get_manifest(front.host, "a/b", "latest")
            assert [r.method for r in bouncer.requests()] == ["POST"]
        assert far.requests() == []
    assert refresh not in str(err.value)
