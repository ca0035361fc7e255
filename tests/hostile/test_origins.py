"""Credentials go only where the client believes they go: one URL parser decides every origin.

requests connects to the host urllib3 reads in a URL, while an origin check written with
``urllib.parse`` may read another (``http://127.0.0.3:P\\@localhost:R/`` is 127.0.0.3 to urllib3
and localhost to urllib.parse). Each case here hands the client such a URL where a server
chooses one (a redirect's ``Location``, a token realm, the ``Location`` answering a
refresh-token POST, a tags ``Link``) while it holds credentials, with a second server on
127.0.0.3 standing for the host it must never reach. The client either refuses the URL with a
typed error that says what each parser read, or, when the URL really names the registry
(mixed case, a trailing dot, an ``@`` in the path), keeps talking to the registry; the server on
127.0.0.3 hears nothing either way.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from kit import make_client
from servers import Reply, Request, ScriptedServer, always, challenge_401, json_reply, redirect

from ociinspect.distribution.credentials import Credentials
from ociinspect.errors import ChallengeError, RedirectError, RegistryError
from ociinspect.values.digest import Digest

USER, PASSWORD = "alice", "origin-password-4471"
REFRESH = "refresh-token-for-origins-8812"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
BLOB = b"the blob behind the redirect\n" * 8
DIGEST = Digest.of(BLOB)


@pytest.fixture
def elsewhere() -> Iterator[ScriptedServer]:
    """The host no credential may reach: a server on 127.0.0.3 that answers everything."""
    with ScriptedServer(always(json_reply(200, {"token": "stolen", "tags": []})),
                        host="127.0.0.3") as server:
        yield server


def _port(server: ScriptedServer) -> int:
    return int(server.host.rsplit(":", 1)[1])


def _basic_registry(location: str) -> ScriptedServer:
    """A Basic-auth registry on 127.0.0.1 (named ``localhost``) whose blob answers a 307 to
    ``location`` (``{port}`` filled in) and which serves the blob at any other path."""
    holder: dict[str, int] = {}

    def script(request: Request) -> Reply:
        if request.header("Authorization") != BASIC:
            return challenge_401('Basic realm="registry"')
        if request.route == f"/v2/a/b/blobs/{DIGEST}":
            return redirect(location.replace("{port}", str(holder["port"])))
        return Reply(200, [("Content-Type", "application/octet-stream")], BLOB)

    server = ScriptedServer(script)
    holder["port"] = _port(server)
    return server


class Case(NamedTuple):
    id: str
    location: str  # {port}: the registry's, {other}: 127.0.0.3's
    refused: str | None  # part of the reason, or None when the URL is the registry itself


LOCATIONS = [
    Case("a backslash before @ reads as 127.0.0.3 to urllib3 and as the registry to urllib",
         "http://127.0.0.3:{other}\\@localhost:{port}/blob", "backslash"),
    Case("a protocol-relative pair of backslashes leaves for another host",
         "\\\\127.0.0.3:{other}/blob", "backslash"),
    Case("userinfo naming the registry in front of another host",
         "http://localhost:{port}@127.0.0.3:{other}/blob", "userinfo"),
    Case("a sub-delimiter in userinfo", "http://localhost;@127.0.0.3:{other}/blob", "userinfo"),
    Case("a percent-encoded slash in the authority",
         "http://127.0.0.3:{other}%2F.localhost:{port}/blob", "percent-encoding"),
    Case("a percent-encoded @ in the authority",
         "http://127.0.0.3%40localhost:{port}/blob", "percent-encoding"),
    Case("an IPv6 literal with a zone identifier", "http://[::1%25lo]:{port}/blob", "zone"),
    Case("an encoded IPv4 host", "http://%31%32%37.0.0.3:{other}/blob", "percent-encoding"),
    Case("a numeric host that inet_aton reads as 127.0.0.3", "http://2130706435:{other}/blob",
         "numeric host"),
    Case("mixed case and a trailing dot name the registry itself",
         "http://LocalHost.:{port}/blob", None),
    Case("an @ in the path stays on the registry", "/v2/a/b/blob@127.0.0.3:{other}", None),
]


@pytest.mark.parametrize("case", LOCATIONS, ids=[c.id for c in LOCATIONS])
def test_redirects_go_where_the_origin_check_looked(
    case: Case, elsewhere: ScriptedServer
) -> None:
    """A Location is refused (RedirectError naming why) or is the registry itself (the blob
    arrives, Basic credentials kept); 127.0.0.3 never hears a request."""
    location = case.location.replace("{other}", str(_port(elsewhere)))
    with _basic_registry(location) as registry:
        client = make_client(credentials=Credentials(USER, PASSWORD))
        host = f"localhost:{_port(registry)}"
        if case.refused is None:
            assert client.get_blob(host, "a/b", DIGEST) == BLOB
            followed = registry.requests()[-1]
            assert followed.header("Authorization") == BASIC and followed.route != "/v2/"
        else:
            with pytest.raises(RedirectError) as err:
                client.get_blob(host, "a/b", DIGEST)
            assert "unusable Location" in str(err.value)
            assert case.refused in str(err.value)
            assert PASSWORD not in str(err.value) and BASIC not in str(err.value)
        assert len(registry.requests()) <= 4
    assert elsewhere.requests() == []


def test_the_brief_case_names_what_each_parser_read(elsewhere: ScriptedServer) -> None:
    """The refusal of ``http://127.0.0.3:P\\@localhost:R/`` says which host each parser saw."""
    location = f"http://127.0.0.3:{_port(elsewhere)}\\@localhost:{{port}}/blob"
    with _basic_registry(location) as registry:
        client = make_client(credentials=Credentials(USER, PASSWORD))
        with pytest.raises(RedirectError) as err:
            client.get_blob(f"localhost:{_port(registry)}", "a/b", DIGEST)
    text = str(err.value)
    assert "urllib.parse reads http://localhost:" in text and "urllib3 reads http://" in text
    assert elsewhere.requests() == []


def test_a_token_realm_the_parsers_read_apart_gets_no_password(
    elsewhere: ScriptedServer,
) -> None:
    """A Bearer realm ``http://127.0.0.3:P\\@localhost:T/token`` is a ChallengeError: the
    Basic login for the token is sent to no one."""
    with ScriptedServer(always(json_reply(200, {"token": "t0ken-value"}))) as tokens:
        realm = f"http://127.0.0.3:{_port(elsewhere)}\\@localhost:{_port(tokens)}/token"
        quoted = realm.replace("\\", "\\\\")  # a quoted-string escapes its backslash
        challenge = challenge_401(f'Bearer realm="{quoted}",service="s"')
        with ScriptedServer(always(challenge)) as registry:
            client = make_client(credentials=Credentials(USER, PASSWORD))
            with pytest.raises(ChallengeError) as err:
                client.get_manifest(f"localhost:{_port(registry)}", "a/b", "latest")
            assert len(registry.requests()) == 1
        assert tokens.requests() == []
    assert "backslash" in str(err.value) and PASSWORD not in str(err.value)
    assert elsewhere.requests() == []


def test_a_refresh_token_post_redirected_by_a_parser_trick_stays_home(
    elsewhere: ScriptedServer,
) -> None:
    """The OAuth2 POST holding the refresh token, answered by a 307 whose Location the parsers
    read apart, is not re-sent anywhere: RedirectError, and 127.0.0.3 sees no body."""
    holder: dict[str, int] = {}

    def realm_script(request: Request) -> Reply:
        port = holder["port"]
        return redirect(f"http://127.0.0.3:{_port(elsewhere)}\\@localhost:{port}/token2", 307)

    with ScriptedServer(realm_script) as tokens:
        holder["port"] = _port(tokens)
        challenge = challenge_401(f'Bearer realm="http://localhost:{_port(tokens)}/token"')
        with ScriptedServer(always(challenge)) as registry:
            client = make_client(credentials=Credentials("<token>", identity_token=REFRESH))
            with pytest.raises(RedirectError) as err:
                client.get_manifest(f"localhost:{_port(registry)}", "a/b", "latest")
        posts = tokens.requests()
        assert [r.method for r in posts] == ["POST"] and REFRESH.encode() in posts[0].body
    assert REFRESH not in str(err.value)
    assert elsewhere.requests() == []


def test_a_tags_link_the_parsers_read_apart_is_not_followed(elsewhere: ScriptedServer) -> None:
    """A tags page whose ``Link`` target urllib3 reads as 127.0.0.3 ends the listing with a
    RegistryError; the Basic login goes to the registry only."""
    holder: dict[str, int] = {}

    def script(request: Request) -> Reply:
        if request.header("Authorization") != BASIC:
            return challenge_401('Basic realm="registry"')
        target = f"http://127.0.0.3:{_port(elsewhere)}\\@localhost:{holder['port']}"
        link = f'<{target}/v2/a/b/tags/list?last=one>; rel="next"'
        return json_reply(200, {"name": "a/b", "tags": ["one"]}, ("Link", link))

    with ScriptedServer(script) as registry:
        holder["port"] = _port(registry)
        client = make_client(credentials=Credentials(USER, PASSWORD))
        tags = client.list_tags(f"localhost:{_port(registry)}", "a/b")
        assert next(tags) == "one"
        with pytest.raises(RegistryError) as err:
            next(tags)
    assert "next-page link refused" in str(err.value) and "backslash" in str(err.value)
    assert elsewhere.requests() == []
