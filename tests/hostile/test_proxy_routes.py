"""Proxies from the environment, as the transport applies them to real requests.

:mod:`test_proxies` checks which proxy :func:`~ociinspect.distribution.proxies.proxy_for`
chooses; here a scripted server on 127.0.0.1 plays the proxy and records what reaches it, with
``HTTP_PROXY`` set the way a corporate machine sets it. requests alone (``trust_env``) would send
even a loopback registry's Basic login through it in clear text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from kit import REMOTE_REGISTRY, Lookups, make_client
from servers import FakeRegistry, Reply, Request, ScriptedServer, always, challenge_401, json_reply

from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.transport import Request as Sent
from ociinspect.distribution.transport import RequestsTransport
from ociinspect.errors import ClearTextProxyError, InsecureCredentialsError, ProxyConfigError
from ociinspect.tables import trace_frame

USER, PASSWORD = "alice", "proxy-password-5521"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """A 'proxy' on 127.0.0.1 that answers every request itself, named by HTTP_PROXY and
    HTTPS_PROXY (NO_PROXY and the lower-case names unset)."""
    with ScriptedServer(always(json_reply(200, {}))) as server:
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy", "ALL_PROXY",
                     "all_proxy", "REQUEST_METHOD"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", server.url)
        monkeypatch.setenv("HTTPS_PROXY", server.url)
        yield server


def test_a_loopback_registry_is_never_proxied(proxy: ScriptedServer) -> None:
    """Go's rule: a loopback registry is reached directly, so its Basic login never crosses
    the proxy (requests alone sends it there in clear text)."""

    def script(request: Request) -> Reply:
        if request.header("Authorization") != BASIC:
            return challenge_401('Basic realm="r"')
        return json_reply(200, {"name": "a/b", "tags": ["x"]})

    with ScriptedServer(script) as registry:
        client = make_client(credentials=Credentials(USER, PASSWORD))
        assert list(client.list_tags(registry.host, "a/b")) == ["x"]
        assert registry.requests()[-1].header("Authorization") == BASIC
    assert proxy.requests() == []
    assert all(e.proxy is None for e in client.trace)


def test_a_remote_registry_goes_through_the_proxy_and_the_trace_says_so(
    proxy: ScriptedServer, loopback_guard: Lookups
) -> None:
    """An anonymous request to a remote plain-http registry is sent to the proxy in absolute
    form; the trace shows the proxy, and the client never resolves the registry itself."""
    client = make_client(schemes={f"{REMOTE_REGISTRY}:5000": "http"})
    assert client.ping(f"{REMOTE_REGISTRY}:5000") == 200
    [seen] = proxy.requests()
    assert seen.path == f"http://{REMOTE_REGISTRY}:5000/v2/"
    [exchange] = list(client.trace)
    assert exchange.proxy == proxy.url
    assert trace_frame(client.trace)["proxy"].tolist() == [proxy.url]
    assert not loopback_guard.tried(REMOTE_REGISTRY)


def test_no_proxy_names_a_registry_to_reach_directly(
    proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch, fake: FakeRegistry
) -> None:
    """``NO_PROXY`` naming the registry's domain sends it direct (the registry answers)."""
    monkeypatch.setenv("NO_PROXY", "hostile.test")
    host = f"{REMOTE_REGISTRY}:{fake.host.rsplit(':', 1)[1]}"
    client = make_client(schemes={host: "http"})
    info = client.get_manifest(host, fake.repository, "latest")
    assert info.raw == fake.manifests["latest"][0]
    assert proxy.requests() == []
    assert fake.requests("/v2/")


def test_credentials_never_cross_a_proxy_in_clear_text(proxy: ScriptedServer) -> None:
    """The transport refuses a plain-http request that carries Authorization (or a token
    form) through a proxy: ClearTextProxyError, and the proxy hears nothing."""
    transport = RequestsTransport()
    url = f"http://{REMOTE_REGISTRY}:5000/v2/"
    with pytest.raises(ClearTextProxyError) as err:
        transport.send(Sent("GET", url, {"Authorization": BASIC}), (2, 2))
    with pytest.raises(ClearTextProxyError):
        transport.send(Sent("POST", url, {}, b"refresh_token=r3fresh"), (2, 2))
    assert isinstance(err.value, InsecureCredentialsError)
    assert "NO_PROXY" in str(err.value) and PASSWORD not in str(err.value)
    assert proxy.requests() == []


def test_a_proxy_variable_under_cgi_is_refused(
    proxy: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpoxy: with REQUEST_METHOD set, HTTP_PROXY may come from a request header; a plain-http
    request that would use it is a ProxyConfigError, never sent."""
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    client = make_client(schemes={f"{REMOTE_REGISTRY}:5000": "http"})
    with pytest.raises(ProxyConfigError):
        client.ping(f"{REMOTE_REGISTRY}:5000")
    assert proxy.requests() == []
