"""No password, token or Authorization value shows anywhere a person could read it.

Each test drives the client through successes and failures (against the rig and against servers
that echo back every credential they receive), then scans what a user or a log could see:
exception messages, reprs, args, attributes and chained exceptions, formatted tracebacks, log
records of ``ociinspect`` and ``urllib3`` at DEBUG, the trace (exchanges and the trace table), and
the reprs of the client, its token cache and credentials.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from kit import make_client
from rig import ALICE, Registry, seed
from servers import Reply, Request, ScriptedServer, Tls, always, challenge_401, json_reply, redirect

from ociinspect.distribution import auth
from ociinspect.distribution.challenge import Challenge
from ociinspect.distribution.client import RegistryClient
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.retry import RetryPolicy
from ociinspect.distribution.scope import Scope
from ociinspect.errors import (
    ChallengeError,
    DeniedError,
    InsecureCredentialsError,
    InsecureRedirectError,
    NotFoundError,
    OCIInspectError,
    RateLimitedError,
    TokenError,
    TooManyRedirectsError,
    TransportError,
    UnauthorizedError,
)
from ociinspect.tables import trace_frame

WRONG_PASSWORD = "wrong-password-987"  # noqa: S105 - a test secret
ALICE_CREDS = Credentials(ALICE.name, ALICE.password)


def basic_value(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Exposure:
    """Everything readable that a run produced, and the secrets that must not be in it."""

    secrets: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)
    clients: list[RegistryClient] = field(default_factory=list)

    def secret(self, *values: str) -> None:
        self.secrets.update(v for v in values if v)

    def credentials(self, user: str, password: str) -> None:
        pair = basic_value(user, password)
        self.secret(password, pair, f"Basic {pair}", f"{user}:{password}")

    def client(self, **kwargs: Any) -> RegistryClient:
        client = make_client(**kwargs)
        self.clients.append(client)
        return client

    def expect(self, error: type[OCIInspectError], action: Callable[[], object]) -> None:
        """Run ``action``, which must raise ``error``; keep everything the error shows."""
        with pytest.raises(error) as caught:
            action()
        self.exception(caught.value)

    def exception(self, exc: BaseException) -> None:
        self.texts.append(("traceback", "".join(traceback.format_exception(exc))))
        seen: BaseException | None = exc
        while seen is not None:  # suppressed contexts too: a debugger shows them
            self.texts += [("message", str(seen)), ("repr", repr(seen)), ("args", repr(seen.args)),
                           ("attributes", repr(vars(seen)))]
            seen = seen.__cause__ or seen.__context__

    def finish(self, caplog: pytest.LogCaptureFixture) -> None:
        for record in caplog.records:
            self.texts.append((f"log {record.name}", record.getMessage() + repr(record.args)))
            if record.exc_info:
                self.texts.append(("log traceback", "".join(
                    traceback.format_exception(*record.exc_info))))
        for client in self.clients:
            self.texts.append(("client repr", repr(client) + repr(client.token_cache)))
            for exchange in client.trace:
                self.texts.append(("exchange", repr(exchange) + exchange.url + str(exchange.error)
                                   + repr(dict(exchange.request_headers))
                                   + repr(dict(exchange.response_headers))))
            frame = trace_frame(client.trace)
            self.texts.append(("trace table", frame.to_string() + frame.to_html()))

    def leaks(self) -> list[str]:
        return [f"{secret!r} in {where}" for where, text in self.texts for secret in self.secrets
                if secret in text]


@pytest.fixture
def exposure(caplog: pytest.LogCaptureFixture) -> Iterator[Exposure]:
    """An Exposure with alice's password registered, logs captured at DEBUG, scanned at the end."""
    caplog.set_level(logging.DEBUG, logger="ociinspect")
    caplog.set_level(logging.DEBUG, logger="urllib3")
    found = Exposure()
    found.credentials(ALICE.name, ALICE.password)
    found.credentials(ALICE.name, WRONG_PASSWORD)
    yield found


def check(found: Exposure, caplog: pytest.LogCaptureFixture) -> None:
    found.finish(caplog)
    assert found.texts and found.secrets
    assert found.leaks() == []


@pytest.fixture
def minted(registry_token: Registry, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token value the rig's token server hands out during the test."""
    server = registry_token.token_server
    assert server is not None
    tokens: list[str] = []
    real = server.mint

    def recording(*args: Any, **kwargs: Any) -> str:
        token = real(*args, **kwargs)
        tokens.append(token)
        return token

    monkeypatch.setattr(server, "mint", recording)
    return tokens


@pytest.mark.registry
def test_nothing_secret_leaks_from_the_token_rig(
    registry_token: Registry, minted: list[str], exposure: Exposure,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Successes and every kind of failure against the token rig show no password or token."""
    server = registry_token.token_server
    assert server is not None and registry_token.cdn is not None
    host = registry_token.host
    ok = exposure.client(credentials=ALICE_CREDS)
    image = registry_token.seeded[seed.PRIVATE].image()
    ok.get_manifest(host, "private/secret", "latest")
    ok.get_blob(host, "private/secret", image.layers[0].digest)
    list(ok.list_tags(host, "private/secret"))
    list(ok.catalog(host))
    exposure.expect(NotFoundError, lambda: ok.get_manifest(host, "private/secret", "nope"))
    wrong = exposure.client(credentials=Credentials(ALICE.name, WRONG_PASSWORD))
    exposure.expect(UnauthorizedError, lambda: wrong.get_manifest(host, "private/secret", "x"))
    server.faults.tamper(lambda body: b"<html>login</html>", times=1)
    exposure.expect(TokenError, lambda: exposure.client(credentials=ALICE_CREDS).get_manifest(
        host, "private/secret", "latest"))
    server.lifetime = -120
    exposure.expect(UnauthorizedError, lambda: exposure.client(credentials=ALICE_CREDS)
                    .get_manifest(host, "private/secret", "latest"))
    server.lifetime = None
    registry_token.cdn.faults.fail(307, times=None, headers={"Location": "/loop"}, body=b"")
    exposure.expect(TooManyRedirectsError, lambda: ok.get_blob(
        host, "private/secret", image.layers[0].digest))
    proxy = registry_token.proxy()
    proxy.faults.rate_limit(times=None, retry_after="0")
    exposure.expect(RateLimitedError, lambda: ok.get_manifest(proxy.host, "private/secret", "x"))
    proxy.faults.clear()
    proxy.faults.drop(times=None)
    exposure.expect(TransportError, lambda: ok.get_manifest(proxy.host, "private/secret", "x"))
    refresh = server.refresh_token_for(ALICE.name)
    exposure.secret(refresh, *minted)
    oauth = exposure.client(credentials=Credentials("", identity_token=refresh))
    oauth.get_manifest(host, "private/secret", "latest")
    exposure.secret(*minted)
    assert len(minted) >= 5
    check(exposure, caplog)


@pytest.mark.registry
def test_nothing_secret_leaks_from_the_basic_rig(
    registry_basic: Registry, exposure: Exposure, caplog: pytest.LogCaptureFixture
) -> None:
    """Basic auth, its CDN redirect and a wrong password show no password."""
    host = registry_basic.host
    layer = registry_basic.seeded[seed.SINGLE].image().layers[0]
    ok = exposure.client(credentials=ALICE_CREDS)
    ok.get_manifest(host, "demo/single", "latest")
    ok.get_blob(host, "demo/single", layer.digest)
    wrong = exposure.client(credentials=Credentials(ALICE.name, WRONG_PASSWORD))
    exposure.expect(UnauthorizedError, lambda: wrong.get_manifest(host, "demo/single", "latest"))
    check(exposure, caplog)


ECHO_TOKEN = "echo-token-that-must-stay-secret-31337"  # noqa: S105


def _echo(request: Request) -> dict[str, Any]:
    """An OCI error body repeating the request's credentials every way a server could."""
    sent = request.header("Authorization") or ""
    _, _, credential = sent.partition(" ")
    try:
        decoded = base64.b64decode(credential).decode()
    except ValueError:
        decoded = ""
    body = request.body.decode(errors="replace")
    return {"errors": [{
        "code": f"DENIED {credential}",
        "message": f"you sent {sent!r} ({decoded}) and {body}" + "." * 600,
        "detail": {"authorization": sent, "decoded": [decoded, {"again": credential}],
                   sent: "as a key", "form": body},
    }]}


@pytest.mark.parametrize("status, error", [(403, DeniedError), (404, NotFoundError),
                                           (401, UnauthorizedError)],
                         ids=["403 echoing", "404 echoing", "401 echoing"])
@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_a_registry_echoing_credentials_cannot_put_them_in_errors(
    scheme: str, status: int, error: type[OCIInspectError], exposure: Exposure,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A registry repeating the Authorization header (raw, decoded, as JSON keys) in its error
    body gets them replaced by <redacted> in the error's codes, messages and details."""
    exposure.secret(ECHO_TOKEN)
    with ScriptedServer(always(json_reply(200, {"token": ECHO_TOKEN}))) as tokens:
        challenge = 'Basic realm="r"' if scheme == "basic" else f'Bearer realm="{tokens.url}/t"'

        def script(request: Request) -> Reply:
            if request.header("Authorization") is None:
                return challenge_401(challenge)
            return json_reply(status, _echo(request))

        with ScriptedServer(script) as registry:
            client = exposure.client(credentials=ALICE_CREDS)
            exposure.expect(error, lambda: client.get_manifest(registry.host, "a/b", "latest"))
    check(exposure, caplog)


def test_a_challenge_echoing_the_token_cannot_put_it_in_a_challenge_error(
    exposure: Exposure, caplog: pytest.LogCaptureFixture
) -> None:
    """A 401 whose new challenge quotes the token just sent (as a realm) is a ChallengeError
    that does not quote it."""
    exposure.secret(ECHO_TOKEN)
    with ScriptedServer(always(json_reply(200, {"token": ECHO_TOKEN}))) as tokens:

        def script(request: Request) -> Reply:
            sent = request.header("Authorization")
            if sent is None:
                return challenge_401(f'Bearer realm="{tokens.url}/t"')
            return challenge_401(f'Bearer realm="{sent}",error="{ECHO_TOKEN}"')

        with ScriptedServer(script) as registry:
            client = exposure.client(credentials=ALICE_CREDS)
            exposure.expect(ChallengeError, lambda: client.get_manifest(registry.host, "a", "b"))
    check(exposure, caplog)


@pytest.mark.parametrize("status, error", [(401, UnauthorizedError), (403, DeniedError),
                                           (400, TokenError)],
                         ids=["token endpoint 401", "token endpoint 403", "token endpoint 400"])
@pytest.mark.parametrize("creds", [ALICE_CREDS, Credentials("", identity_token="rt-" + "9" * 32)],
                         ids=["password", "identity token"])
def test_a_token_endpoint_echoing_the_login_cannot_put_it_in_errors(
    status: int, error: type[OCIInspectError], creds: Credentials, exposure: Exposure,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A token endpoint repeating the Basic login or the OAuth2 form (refresh token) in its
    error body has them scrubbed from the TokenError/UnauthorizedError/DeniedError."""
    exposure.secret(creds.identity_token or "")
    with ScriptedServer(lambda r: json_reply(status, _echo(r))) as tokens:
        realm = challenge_401(f'Bearer realm="{tokens.url}/t",service="s"')
        with ScriptedServer(always(realm)) as registry:
            client = exposure.client(credentials=creds)
            exposure.expect(error, lambda: client.get_manifest(registry.host, "a/b", "latest"))
        assert tokens.requests()  # the login did reach the token endpoint (loopback)
    check(exposure, caplog)


def test_refused_and_downgraded_credentials_are_not_shown(
    tls: Tls, exposure: Exposure, caplog: pytest.LogCaptureFixture
) -> None:
    """InsecureCredentialsError and InsecureRedirectError name hosts, never the secret."""
    refuse = challenge_401('Bearer realm="http://example.invalid/token"')
    with ScriptedServer(always(refuse)) as registry:
        client = exposure.client(credentials=ALICE_CREDS)
        exposure.expect(InsecureCredentialsError,
                        lambda: client.get_manifest(registry.host, "a/b", "latest"))
    session = requests.Session()
    session.verify, session.trust_env = str(tls.ca_file), False
    with (
        ScriptedServer(always(json_reply(200, {"token": ECHO_TOKEN}))) as plain,
        ScriptedServer(always(redirect(f"{plain.url}/t")), tls=tls.context) as realm,
        ScriptedServer(always(challenge_401(f'Bearer realm="{realm.url}/t"'))) as registry,
    ):
        client = exposure.client(credentials=ALICE_CREDS, session=session)
        exposure.expect(InsecureRedirectError,
                        lambda: client.get_manifest(registry.host, "a/b", "latest"))
    check(exposure, caplog)


def test_value_types_never_show_their_secrets() -> None:
    """repr/str of Credentials, Token, TokenKey, TokenRequest and TokenCache hold no secret."""
    creds = Credentials(ALICE.name, ALICE.password)
    oauth = Credentials("", identity_token="rt-identity-secret")
    token = auth.Token(ECHO_TOKEN, 1e12)
    challenge = Challenge("bearer", {"realm": "https://a/t", "service": "s"})
    request = auth.TokenRequest.from_challenge(challenge, [Scope.repository("a")], "alice")
    key = request.key(creds.identity)
    cache = auth.TokenCache()
    cache.get_or_fetch(key, lambda: token)
    shown = " ".join([repr(creds), str(creds), repr(oauth), repr(token), str(token), repr(key),
                      repr(request), repr(cache), creds.identity, oauth.identity,
                      repr(make_client(credentials=creds, token_cache=cache))])
    for secret in (ALICE.password, "rt-identity-secret", ECHO_TOKEN):
        assert secret not in shown


def test_retries_and_logs_of_a_failing_registry_show_no_secret(
    exposure: Exposure, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3's DEBUG log of retried requests carrying Basic credentials holds no secret."""

    def script(request: Request) -> Reply:
        if request.header("Authorization") is None:
            return challenge_401('Basic realm="r"')
        return Reply(503, [("Retry-After", "0")])

    with ScriptedServer(script) as registry:
        client = exposure.client(credentials=ALICE_CREDS, retry=RetryPolicy(attempts=3))
        exposure.expect(OCIInspectError, lambda: client.get_manifest(registry.host, "a", "b"))
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    check(exposure, caplog)


# -- the command line ----------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def _cli(
    tmp_path: Path, args: list[str], auths: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -m ociinspect ARGS`` with only ``auths`` (host -> "user:password") to log in."""
    home = tmp_path / "home"
    (home / "docker").mkdir(parents=True, exist_ok=True)
    config = {"auths": {host: {"auth": base64.b64encode(pair.encode()).decode()}
                        for host, pair in auths.items()}}
    (home / "docker" / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and k != "REGISTRY_AUTH_FILE"}
    env.update(HOME=str(home), DOCKER_CONFIG=str(home / "docker"), OCIINSPECT_CACHE="0",
               XDG_RUNTIME_DIR=str(home / "run"), XDG_CONFIG_HOME=str(home / "config"),
               NO_PROXY="127.0.0.0/8,localhost", PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "ociinspect", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=60, check=False)


@pytest.mark.registry
def test_the_command_line_shows_no_secret(
    registry_token: Registry, minted: list[str], exposure: Exposure, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`python -m ociinspect` logged in through a Docker config: its output and its one-line
    errors (wrong password, a registry echoing the login) hold no password or token."""
    host = registry_token.host
    ok = _cli(tmp_path, ["layers", f"{host}/private/secret:latest", "--no-trunc"],
              {host: f"{ALICE.name}:{ALICE.password}"})
    assert ok.returncode == 0, ok.stderr
    assert registry_token.seeded[seed.PRIVATE].image().layers[0].digest in ok.stdout
    wrong = _cli(tmp_path, ["layers", f"{host}/private/secret:latest"],
                 {host: f"{ALICE.name}:{WRONG_PASSWORD}"})
    assert wrong.returncode == 1 and wrong.stderr.startswith("ociinspect: error:")

    def echo(request: Request) -> Reply:
        if request.header("Authorization") is None:
            return challenge_401('Basic realm="r"')
        return json_reply(403, _echo(request))

    with ScriptedServer(echo) as registry:
        echoed = _cli(tmp_path, ["platforms", f"{registry.host}/a/b:latest"],
                      {registry.host: f"{ALICE.name}:{ALICE.password}"})
        assert registry.requests()[-1].header("Authorization") is not None
    assert echoed.returncode == 1 and "DENIED" in echoed.stderr and "<redacted>" in echoed.stderr
    exposure.secret(*minted)
    assert minted
    for run in (ok, wrong, echoed):
        assert "Traceback" not in run.stderr
        exposure.texts.append((f"cli {run.args[3:]}", run.stdout + run.stderr))
    check(exposure, caplog)
