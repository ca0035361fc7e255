"""Connections opened while the token is fetched (``Settings.preconnect``).

The cold platforms table of an index: 401, token, index, then one manifest per platform in
parallel. Without preconnecting, each of those parallel manifest GETs first waits for a TCP
connect: one round trip more on the critical path. With it, the connections are opened while
the token round trips go on, and every per-platform GET starts on a connection that was already
open when the index was asked for. A TCP forwarder in front of the token registry records when
each connection was accepted and which requests came on it.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from personalities import Personality
from personalities.protocol import personality_session
from rig import Registry, rig_session, seed
from rig.httpd import Faults
from test_personality_dockerhub import PROFILE as HUB

import ociinspect as oi
from ociinspect.distribution.transport import RequestsTransport
from ociinspect.errors import SettingsError
from ociinspect.session import Settings

pytestmark = pytest.mark.registry
_REQUEST_LINE = re.compile(rb"(GET|HEAD) (\S+) HTTP/1\.1\r\n")


@dataclass
class _Connection:
    accepted: float
    requests: list[tuple[float, str]] = field(default_factory=list)
    closed: bool = False


class _Forwarder:
    """A loopback TCP forwarder that records, per accepted connection, its accept time and the
    request lines (with arrival times) the client sent on it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.connections: list[_Connection] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = False
        self.token_faults: Faults | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            record = _Connection(time.monotonic())
            with self._lock:
                self.connections.append(record)
            threading.Thread(target=self._serve, args=(client, record), daemon=True).start()

    def _serve(self, client: socket.socket, record: _Connection) -> None:
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()
        self._up(client, upstream, record)

    def _up(self, client: socket.socket, upstream: socket.socket, record: _Connection) -> None:
        pending = b""
        try:
            while data := client.recv(65536):
                pending = (pending + data)[-8192:]
                for match in _REQUEST_LINE.finditer(pending):
                    record.requests.append((time.monotonic(), match.group(2).decode()))
                if _REQUEST_LINE.search(pending):
                    pending = pending[pending.rfind(b"\r\n\r\n") + 4 :]
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            record.closed = True
            for sock in (client, upstream):
                sock.close()

    @staticmethod
    def _down(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                sock.close()

    def close(self) -> None:
        self._stop = True
        self._listener.close()


@pytest.fixture
def forwarder(registry_token: Registry) -> Iterator[_Forwarder]:
    host, _, port = registry_token.host.rpartition(":")
    found = _Forwarder((host, int(port)))
    assert registry_token.token_server is not None
    found.token_faults = registry_token.token_server.faults
    yield found
    found.close()


def _platform_gets(forwarder: _Forwarder, preconnect: int) -> tuple[float, list[float]]:
    """Run the cold platforms table through the forwarder; return when the index GET came and,
    for each per-platform manifest GET, when its connection had been accepted."""
    # a token server as far away as a public one: the token round trip is what hides the
    # connects (on loopback it would take less time than the forwarder's bookkeeping)
    assert forwarder.token_faults is not None
    forwarder.token_faults.delay(0.2, times=1)
    session = rig_session(preconnect=preconnect)
    ref = f"127.0.0.1:{forwarder.port}/{seed.MULTI}"
    table = oi.platforms(ref, session=session)
    assert len(table) == 6 and table["error"].isna().all()
    session.close()
    index_asked = max(  # the index GET with the token (the first one was answered 401)
        at
        for conn in forwarder.connections
        for at, path in conn.requests
        if path.endswith("/manifests/latest")
    )
    platform_conns = [
        conn.accepted
        for conn in forwarder.connections
        for _, path in conn.requests
        if "/manifests/sha256:" in path
    ]
    assert len(platform_conns) == 3  # one manifest per image; attestations are not fetched
    return index_asked, platform_conns


def test_platform_manifests_start_on_connections_opened_during_the_token(
    forwarder: _Forwarder,
) -> None:
    """With preconnect, every per-platform manifest GET goes on a connection already open when
    the index was asked for: no connect waits on the critical path."""
    index_asked, accepted = _platform_gets(forwarder, preconnect=8)
    assert all(at < index_asked for at in accepted), (index_asked, accepted)
    assert len(forwarder.connections) <= 1 + 8  # the first request's, and the 8 opened


def test_without_preconnect_platform_manifests_wait_for_new_connections(
    forwarder: _Forwarder,
) -> None:
    """preconnect=0 (the old behaviour): the parallel manifest GETs open new connections after
    the index came, which is the round trip preconnecting saves."""
    index_asked, accepted = _platform_gets(forwarder, preconnect=0)
    assert any(at > index_asked for at in accepted), (index_asked, accepted)


def test_a_warm_origin_is_warmed_once_per_session(forwarder: _Forwarder) -> None:
    """A second token for another repository of the same registry opens no more connections
    (the fleet fetches a token per repository; the pool is already warm)."""
    session = rig_session(preconnect=8)
    oi.platforms(f"127.0.0.1:{forwarder.port}/{seed.MULTI}", session=session)
    opened = len(forwarder.connections)
    oi.config(f"127.0.0.1:{forwarder.port}/{seed.SINGLE}", session=session)
    assert len(forwarder.connections) == opened
    session.close()


def test_warm_opens_idle_connections_without_sending_anything(forwarder: _Forwarder) -> None:
    """The transport's warm() fills the pool with connected sockets and sends no byte."""
    transport = RequestsTransport()
    warmed = transport.warm(f"http://127.0.0.1:{forwarder.port}/v2/", 4, 5.0)
    assert warmed is not None and warmed.thread is not None
    warmed.thread.join(10)
    until = time.monotonic() + 5
    while len(forwarder.connections) < 4 and time.monotonic() < until:
        time.sleep(0.01)  # the forwarder accepts the connected sockets one by one
    assert len(forwarder.connections) == 4
    assert all(not conn.requests for conn in forwarder.connections)
    assert warmed.release_unused() == 4  # none was used: all four closed
    _settle(lambda: all(conn.closed for conn in forwarder.connections))
    transport.close()


def _settle(done: Callable[[], bool]) -> None:
    """Wait (at most 5 s) until ``done()``: the forwarder sees closes one by one."""
    until = time.monotonic() + 5
    while not done() and time.monotonic() < until:
        time.sleep(0.01)
    assert done()


def test_a_call_that_does_not_fan_out_opens_no_extra_connection(forwarder: _Forwarder) -> None:
    """config() of one image sends its requests one after the other: no preconnecting, one
    connection to the registry."""
    session = rig_session(preconnect=8)
    oi.config(f"127.0.0.1:{forwarder.port}/{seed.SINGLE}", session=session)
    session.close()
    assert len(forwarder.connections) == 1


def test_preconnected_connections_the_call_did_not_use_are_closed(
    forwarder: _Forwarder,
) -> None:
    """platforms() of a single image (no fan-out after all): the connections opened for it
    that no request took are closed when the call returns, not left holding server slots."""
    session = rig_session(preconnect=8)
    table = oi.platforms(f"127.0.0.1:{forwarder.port}/{seed.SINGLE}", session=session)
    assert len(table) == 1
    unused = [conn for conn in forwarder.connections if not conn.requests]
    assert len(unused) >= 6  # 8 opened; the image's manifest and config took at most two
    _settle(lambda: all(conn.closed for conn in unused))
    session.close()


@pytest.mark.parametrize(
    ("changes", "env"),
    [
        pytest.param({"preconnect": -1}, None, id="negative"),
        pytest.param({"preconnect": 40}, None, id="more-than-the-pool"),
        pytest.param({}, {"OCIINSPECT_PRECONNECT": "many"}, id="env-not-a-number"),
    ],
)
def test_a_bad_preconnect_is_a_settings_error(
    changes: dict[str, int], env: dict[str, str] | None
) -> None:
    """preconnect is a whole number from 0 to pool_size, named in the error otherwise."""
    with pytest.raises(SettingsError, match="PRECONNECT|preconnect"):
        if env is not None:
            Settings.from_env(env)
        else:
            Settings(**changes)


def test_preconnect_comes_from_the_environment() -> None:
    """OCIINSPECT_PRECONNECT sets it; 0 turns it off; unset keeps the default of 8."""
    assert Settings.from_env({"OCIINSPECT_PRECONNECT": "0"}).preconnect == 0
    assert Settings.from_env({"OCIINSPECT_PRECONNECT": "3"}).preconnect == 3
    assert Settings.from_env({}).preconnect == 8


@pytest.mark.usefixtures("loopback_guard")
def test_over_tls_the_fan_out_starts_on_the_preconnected_connections(
    hub: Personality, caplog: pytest.LogCaptureFixture
) -> None:
    """Against Docker Hub's personality (TLS, test CA, public names mapped to loopback): the
    preconnect thread's connections complete their TLS handshakes and the per-platform
    manifest GETs use them; no request thread starts a connection of its own to the registry."""
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    session = personality_session(hub, HUB)
    table = oi.platforms(HUB.multi, session=session)
    assert len(table) >= 2 and table["error"].isna().all()
    session.close()
    address, port = hub.resolve["registry-1.docker.io"]
    started = [
        record.threadName
        for record in caplog.records
        if record.getMessage().startswith("Starting new HTTPS connection")
        and record.getMessage().endswith(f"{address}:{port}")
    ]
    assert started[0] == "MainThread"  # the first request (answered 401)
    assert started[1:] and set(started[1:]) == {"ociinspect-preconnect"}, started
