"""Servers that echo secrets into URLs, and cookies that must stay with their origin.

A hostile registry may put the password, the Basic pair, a bearer token or the refresh token it
received into a redirect's ``Location``. Followed, the secret would travel in a request line
(to whoever the Location names, and into every access log on the way) and into the trace, its
table, errors and the CLI. The client refuses such a redirect, and every text it produces is
scanned here for every form of every secret. Query tokens of pre-signed URLs (``access_token``)
are followed, as CDNs need, but stay out of urllib3's DEBUG records and of every exception in a
chain. Cookies a registry sets go back to that registry only, and the trace shows them sent.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from kit import make_client
from servers import Reply, Request, ScriptedServer, always, challenge_401, json_reply, redirect

from ociinspect.distribution.client import RegistryClient
from ociinspect.distribution.credentials import Credentials
from ociinspect.errors import RedirectError, TransportError
from ociinspect.tables import trace_frame
from ociinspect.values.digest import Digest

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "alice", "echoed-pass-w0rd-3391"
PAIR = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
BASIC = f"Basic {PAIR}"
TOKEN = "bearer-token-echo-77120"
REFRESH = "refresh-token-echo-55107"
QUERY_SECRET = "presigned-query-secret-1907"
BLOB = b"echoed blob\n" * 16
DIGEST = Digest.of(BLOB)


def _port(server: ScriptedServer) -> int:
    return int(server.host.rsplit(":", 1)[1])


def _texts(client: RegistryClient, error: BaseException | None,
           caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """Everything readable a run produced: the error and its whole chain, the trace, its
    table, and every log record."""
    texts: list[tuple[str, str]] = []
    seen = error
    if error is not None:
        texts.append(("traceback", "".join(traceback.format_exception(error))))
    while seen is not None:  # suppressed contexts too: a debugger shows them
        texts += [("message", str(seen)), ("repr", repr(seen)), ("attributes", repr(vars(seen)))]
        seen = seen.__cause__ or seen.__context__
    for exchange in client.trace:
        texts.append(("exchange", repr(exchange) + exchange.url + str(exchange.error)
                      + repr(dict(exchange.request_headers))
                      + repr(dict(exchange.response_headers))))
    frame = trace_frame(client.trace)
    texts.append(("trace table", frame.to_string() + frame.to_html()))
    texts += [(f"log {r.name}", r.getMessage() + repr(r.args)) for r in caplog.records]
    return texts


def _leaks(texts: list[tuple[str, str]], *secrets: str) -> list[str]:
    forms = {f for s in secrets for f in (s, quote(s, safe=""), quote_plus(s))}
    return [f"{secret!r} in {where}" for where, text in texts for secret in forms
            if secret in text]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    caplog.set_level(logging.DEBUG, logger="ociinspect")
    return caplog


ECHOES = [
    pytest.param("/v2/a/b/blobs/{secret}", PASSWORD, id="the password in a same-origin path"),
    pytest.param("/v2/a/b/blobs/{secret}", quote(PASSWORD, safe=""),
                 id="the password percent-encoded"),
    pytest.param("/v2/a/b/x?last={secret}", PAIR, id="the Basic pair as a harmless-looking query"),
    pytest.param("http://127.0.0.1:{cdn}/{secret}", PASSWORD,
                 id="the password in a path on another origin"),
]


@pytest.mark.parametrize(("location", "secret"), ECHOES)
def test_a_location_echoing_the_login_is_refused_and_never_shown(
    location: str, secret: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A redirect whose Location holds the Basic login is a RedirectError: nothing requests it,
    and no error, trace row, table or log record shows the login in any form."""
    with ScriptedServer(always(Reply(200, [], BLOB))) as cdn:
        target = location.replace("{cdn}", str(_port(cdn))).replace("{secret}", secret)

        def script(request: Request) -> Reply:
            if request.header("Authorization") != BASIC:
                return challenge_401('Basic realm="r"')
            return redirect(target)

        with ScriptedServer(script) as registry:
            client = make_client(credentials=Credentials(USER, PASSWORD))
            with pytest.raises(RedirectError) as err:
                client.get_blob(registry.host, "a/b", DIGEST)
            assert "credential" in str(err.value)
            assert [r.route for r in registry.requests()] == [f"/v2/a/b/blobs/{DIGEST}"] * 2
        assert cdn.requests() == []
    texts = _texts(client, err.value, debug_logs)
    assert any(where == "exchange" for where, _ in texts)
    assert _leaks(texts, PASSWORD, PAIR) == []


def test_a_bearer_token_echoed_into_a_location_is_not_followed(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The token a token server issued, echoed by the registry into a Location, is refused
    and scrubbed like a password."""
    with ScriptedServer(always(json_reply(200, {"token": TOKEN}))) as tokens:
        challenge = challenge_401(f'Bearer realm="{tokens.url}/token",service="s"')

        def script(request: Request) -> Reply:
            if request.header("Authorization") != f"Bearer {TOKEN}":
                return challenge
            return redirect(f"/v2/a/b/blobs/sha256/{TOKEN}")

        with ScriptedServer(script) as registry:
            client = make_client()
            with pytest.raises(RedirectError) as err:
                client.get_blob(registry.host, "a/b", DIGEST)
            assert len(registry.requests()) == 2
    assert _leaks(_texts(client, err.value, debug_logs), TOKEN) == []


def test_a_refresh_token_echoed_into_the_redirect_of_its_post(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The OAuth2 POST's answer redirecting to a path holding the refresh token is refused;
    the token never shows."""
    with ScriptedServer(always(redirect(f"/oauth/{REFRESH}/token", 307))) as tokens:
        challenge = challenge_401(f'Bearer realm="{tokens.url}/token",service="s"')
        with ScriptedServer(always(challenge)) as registry:
            client = make_client(credentials=Credentials("<token>", identity_token=REFRESH))
            with pytest.raises(RedirectError) as err:
                client.get_manifest(registry.host, "a/b", "latest")
        assert [r.route for r in tokens.requests()] == ["/token"]
    assert _leaks(_texts(client, err.value, debug_logs), REFRESH) == []


def test_query_tokens_of_a_cdn_url_stay_out_of_logs_and_exception_chains(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """A pre-signed CDN URL's ``access_token`` is followed (the blob arrives), yet no urllib3
    DEBUG record holds it; when the CDN cannot be reached, no exception of the chain (causes
    and suppressed contexts included) quotes it."""
    with ScriptedServer(always(Reply(200, [], BLOB))) as cdn:
        signed = f"{cdn.url}/blob?access_token={QUERY_SECRET}&n=1"
        with ScriptedServer(always(redirect(signed))) as registry:
            client = make_client()
            assert client.get_blob(registry.host, "a/b", DIGEST) == BLOB
        assert cdn.requests()[0].path.endswith(QUERY_SECRET + "&n=1")
        closed = _port(cdn)
    assert any("access_token" in r.getMessage() for r in debug_logs.records)
    assert _leaks(_texts(client, None, debug_logs), QUERY_SECRET) == []
    debug_logs.clear()
    gone = f"http://127.0.0.1:{closed}/blob?access_token={QUERY_SECRET}"
    with ScriptedServer(always(redirect(gone))) as registry:
        client = make_client()
        with pytest.raises(TransportError) as err:
            client.get_blob(registry.host, "a/b", DIGEST)
    assert _leaks(_texts(client, err.value, debug_logs), QUERY_SECRET) == []


def test_the_command_line_prints_no_echoed_login(tmp_path: Path) -> None:
    """``python -m ociinspect`` logged in through a Docker config, against a registry echoing
    the password into a Location: one line on stderr, exit 1, no password in any form."""

    def script(request: Request) -> Reply:
        if request.header("Authorization") != BASIC:
            return challenge_401('Basic realm="r"')
        return redirect(f"/v2/a/b/manifests/{PASSWORD}")

    home = tmp_path / "home"
    (home / "docker").mkdir(parents=True)
    with ScriptedServer(script) as registry:
        config = {"auths": {registry.host: {"auth": PAIR}}}
        (home / "docker" / "config.json").write_text(json.dumps(config))
        env = {k: v for k, v in os.environ.items()
               if not k.lower().endswith("_proxy") and k != "REGISTRY_AUTH_FILE"}
        env.update(HOME=str(home), DOCKER_CONFIG=str(home / "docker"), OCIINSPECT_CACHE="0",
                   XDG_CONFIG_HOME=str(home / "config"), XDG_RUNTIME_DIR=str(home / "run"),
                   PYTHONPATH=str(REPO))
        run = subprocess.run(
            [sys.executable, "-m", "ociinspect", "layers", f"{registry.host}/a/b:latest"],
            capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False,
        )
        assert len(registry.requests()) == 2
    assert run.returncode == 1 and run.stderr.startswith("ociinspect: error:")
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert _leaks([("cli", run.stdout + run.stderr)], PASSWORD, PAIR) == []


def test_cookies_go_back_to_their_origin_only_and_the_trace_shows_them() -> None:
    """A cookie the registry sets with its redirect is sent back to the registry (the trace
    shows ``Cookie``, its value hidden), never to the CDN on another port of the same host."""
    cookie = "session=cookie-secret-8842"
    with ScriptedServer(always(Reply(200, [], BLOB))) as cdn:
        answer = Reply(307, [("Location", f"{cdn.url}/blob"), ("Set-Cookie", f"{cookie}; Path=/")])
        with ScriptedServer(always(answer)) as registry:
            client = make_client()
            assert client.get_blob(registry.host, "a/b", DIGEST) == BLOB
            assert client.get_blob(registry.host, "a/b", DIGEST) == BLOB
            first, second = registry.requests()
        assert first.header("Cookie") is None and second.header("Cookie") == cookie
        assert all(r.header("Cookie") is None for r in cdn.requests())
        assert len(cdn.requests()) == 2
    sent = [dict(e.request_headers).get("Cookie") for e in client.trace]
    assert sent == [None, None, "<redacted>", None]
    assert "cookie-secret" not in repr([(e.request_headers, e.response_headers) for e in
                                        client.trace])
