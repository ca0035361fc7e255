"""The TLS front: a threaded HTTPS server on one loopback address that serves named hosts.

A :class:`TlsFront` listens on ``(ip, 0)`` (an ephemeral port), presents one leaf certificate
holding every host name it serves, and hands each request, as a frozen :class:`Request`, to an
*app*: a callable ``Request -> Response`` written by a personality. It behaves like the name-based
virtual hosts the real services sit behind:

- a TLS client that sends no SNI, or an SNI the front does not serve, fails the handshake with
  ``unrecognized_name`` (RFC 6066 section 3);
- a request whose ``Host`` is not one of the front's names (an IP address, or a name with a port
  other than 443) gets ``421 Misdirected Request`` (RFC 9110 section 15.5.20). A client that
  connects to the mapped ``(ip, port)`` must still say ``Host: registry-1.docker.io``.

Bounds: at most ``max_requests`` requests per connection, ``timeout`` seconds of silence per
read, request bodies up to ``max_body`` bytes (``Content-Length`` only; chunked bodies get
``411``). Every request is recorded in :class:`Counters`; :meth:`TlsFront.stop` closes the
listener and every open connection.
"""

from __future__ import annotations

import collections
import contextlib
import re
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from rig.httpd import Handler, Response

from .ca import LeafFiles

App = Callable[["Request"], Response]
#: Requests answered on one connection before the front closes it.
MAX_REQUESTS_PER_CONNECTION = 1000
#: Largest request body a front reads (token forms are a few KiB).
MAX_BODY = 1024 * 1024
#: Records kept by :class:`Counters` (the oldest are dropped beyond this).
MAX_RECORDS = 100_000


@dataclass(frozen=True)
class Request:
    """One request as a front received it. ``host`` is the ``Host`` name, lower case, no port."""

    method: str
    host: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    client_ip: str
    sni: str | None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def params(self) -> dict[str, list[str]]:
        """The query string, parsed (repeated keys keep every value, in order)."""
        return parse_qs(self.query, keep_blank_values=True)

    def form(self) -> dict[str, list[str]]:
        """An ``application/x-www-form-urlencoded`` body, parsed (empty for other bodies)."""
        content_type = (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return {}
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)

    @property
    def target(self) -> str:
        """Path and query as sent."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def auth_scheme(self) -> str | None:
        """``"Bearer"``, ``"Basic"``… (as sent) when an ``Authorization`` header came, else None."""
        value = self.header("Authorization")
        return value.split(" ", 1)[0] if value else None


@dataclass(frozen=True)
class Seen:
    """One request as counted: never the credential, only its scheme."""

    host: str
    method: str
    path: str
    query: str
    status: int
    auth_scheme: str | None
    sni: str | None


@dataclass(frozen=True)
class TokenEvent:
    """One token endpoint answer: who asked (``anonymous``, a user, ``invalid:…``), for what."""

    host: str
    path: str
    grant: str  # "get", "refresh_token", "access_token" (ACR exchange), "password"…
    identity: str
    scopes: tuple[str, ...]
    status: int


@dataclass(frozen=True)
class Pull:
    """A manifest GET a registry counted as a pull (Docker Hub: what its limit decrements)."""

    identity: str
    repository: str
    reference: str


@dataclass
class Counters:
    """Thread-safe records of a personality's traffic, bounded to :data:`MAX_RECORDS` each."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _seen: collections.deque[Seen] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_RECORDS)
    )
    _tokens: collections.deque[TokenEvent] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_RECORDS)
    )
    _pulls: collections.deque[Pull] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_RECORDS)
    )
    #: TLS handshakes that failed (any reason: unknown SNI, client rejected the certificate…).
    handshake_failures: int = 0
    #: SNI names a front refused (``""`` when the client sent none).
    refused_sni: list[str] = field(default_factory=list)

    def add(self, item: Seen | TokenEvent | Pull) -> None:
        with self._lock:
            if isinstance(item, Seen):
                self._seen.append(item)
            elif isinstance(item, TokenEvent):
                self._tokens.append(item)
            else:
                self._pulls.append(item)

    def handshake_failed(self) -> None:
        with self._lock:
            self.handshake_failures += 1

    def sni_refused(self, name: str) -> None:
        with self._lock:
            if len(self.refused_sni) < MAX_RECORDS:
                self.refused_sni.append(name)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._tokens.clear()
            self._pulls.clear()
            self.handshake_failures = 0
            self.refused_sni.clear()

    def requests(
        self, host: str | None = None, method: str | None = None, path: str | None = None
    ) -> list[Seen]:
        """Requests to ``host`` with ``method`` whose path the regex ``path`` finds, in order."""
        with self._lock:
            items = list(self._seen)
        return [
            s
            for s in items
            if (host is None or s.host == host)
            and (method is None or s.method == method)
            and (path is None or re.search(path, s.path) is not None)
        ]

    def count(
        self, host: str | None = None, method: str | None = None, path: str | None = None
    ) -> int:
        """How many :meth:`requests` match."""
        return len(self.requests(host, method, path))

    def per_path(self) -> dict[tuple[str, str, str], int]:
        """``(host, method, path) -> requests``."""
        out: collections.Counter[tuple[str, str, str]] = collections.Counter(
            (s.host, s.method, s.path) for s in self.requests()
        )
        return dict(out)

    def token_requests(
        self, identity: str | None = None, scope: str | None = None
    ) -> list[TokenEvent]:
        """Token endpoint answers, for ``identity`` and asking for ``scope`` (among others)."""
        with self._lock:
            items = list(self._tokens)
        return [
            t
            for t in items
            if (identity is None or t.identity == identity) and (scope is None or scope in t.scopes)
        ]

    def pulls(self, identity: str | None = None) -> list[Pull]:
        """Manifest GETs counted as pulls, for ``identity``."""
        with self._lock:
            items = list(self._pulls)
        return [p for p in items if identity is None or p.identity == identity]


class TlsFront:
    """Serve ``app`` over HTTPS on ``ip`` (ephemeral port unless ``port``) for ``hosts``."""

    def __init__(
        self,
        app: App,
        ip: str,
        hosts: tuple[str, ...],
        leaf: LeafFiles,
        counters: Counters,
        *,
        port: int = 0,
        timeout: float = 10.0,
        max_requests: int = MAX_REQUESTS_PER_CONNECTION,
        max_body: int = MAX_BODY,
    ) -> None:
        missing = [h for h in hosts if h not in leaf.names]
        if missing:
            raise ValueError(f"the certificate {leaf.cert} does not name {missing}")
        if not ip.startswith("127."):
            raise ValueError(f"fronts listen on loopback addresses only, not {ip!r}")
        self.app = app
        self.hosts = hosts
        self.counters = counters
        self.timeout = timeout
        self.max_requests = max_requests
        self.max_body = max_body
        self.context = _server_context(leaf, frozenset(hosts), counters)
        self._httpd = _TlsServer((ip, port), _FrontHandler, self)
        self.ip = ip
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"personality front {hosts[0]} {ip}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.ip, self.port

    def stop(self) -> None:
        """Stop accepting, close the listener and every open connection; wait for the loop."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_all()
        self._thread.join(timeout=5)


def _server_context(leaf: LeafFiles, hosts: frozenset[str], counters: Counters) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(Path(leaf.cert), Path(leaf.key))
    context.set_alpn_protocols(["http/1.1"])

    def check_sni(sock: Any, server_name: str | None, _context: ssl.SSLContext) -> int | None:
        name = (server_name or "").lower().rstrip(".")
        if name not in hosts:
            counters.sni_refused(name)
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        with contextlib.suppress(AttributeError):
            sock.personality_sni = name
        return None

    context.sni_callback = check_sni
    return context


class _TlsServer(ThreadingHTTPServer):
    """Accepts plain sockets; the TLS handshake runs in the connection's own thread (with the
    front's timeout), so a silent client cannot hold up the accept loop."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Any, front: TlsFront) -> None:
        self.front = front
        self._live: set[socket.socket] = set()
        self._live_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self._live_lock:
            self._live.add(conn)
        return conn, addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(self.front.timeout)
        with self._live_lock:
            self._live.discard(request)
        try:
            tls = self.front.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.front.counters.handshake_failed()
            with contextlib.suppress(OSError):
                request.close()
            return
        with self._live_lock:
            self._live.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with self._live_lock:
                self._live.discard(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.close()

    def close_all(self) -> None:
        with self._live_lock:
            live = list(self._live)
            self._live.clear()
        for conn in live:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up or fail TLS are ordinary here: no traceback for them."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def _host_name(value: str | None) -> str | None:
    """``"Registry-1.Docker.io:443"`` -> ``"registry-1.docker.io"``; None for a port other than
    443 or an empty header."""
    if not value:
        return None
    host, sep, port = value.strip().rpartition(":")
    if not sep or "]" in port:
        host, port = value.strip(), ""
    if port and port != "443":
        return None
    return host.lower().rstrip(".")


class _FrontHandler(Handler):
    timeout = None  # type: ignore[assignment]  # the server sets the socket timeout

    def handle(self) -> None:
        """Like BaseHTTPRequestHandler.handle, with a bound on requests per connection."""
        front: TlsFront = self.server.front  # type: ignore[attr-defined]
        self.close_connection = True
        self.handle_one_request()
        served = 1
        while not self.close_connection and served < front.max_requests:
            self.handle_one_request()
            served += 1
        self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        front: TlsFront = self.server.front  # type: ignore[attr-defined]
        sni = getattr(self.connection, "personality_sni", None)
        path, _, query = self.path.partition("?")
        host = _host_name(self.headers.get("Host"))
        if host not in front.hosts:
            self._answer(
                front, host or "", path, query, sni, _misdirected(self.headers.get("Host"), front)
            )
            return
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._answer(front, host, path, query, sni, _text(411, "send a Content-Length\n"))
            return
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit() or int(length_text) > front.max_body:
            self._answer(front, host, path, query, sni, _text(413, "request body too large\n"))
            return
        body = self.rfile.read(int(length_text)) if int(length_text) else b""
        request = Request(
            self.command,
            host,
            path,
            query,
            tuple(self.headers.items()),
            body,
            self.client_address[0],
            sni,
        )
        try:
            response = front.app(request)
        except Exception:  # a bug in a personality: answer 500 and say so on stderr
            traceback.print_exc()
            response = _text(500, "personality front: internal error\n")
        self._answer(front, host, path, query, sni, response, request.auth_scheme())

    def _answer(
        self,
        front: TlsFront,
        host: str,
        path: str,
        query: str,
        sni: str | None,
        response: Response,
        auth_scheme: str | None = None,
    ) -> None:
        if auth_scheme is None:
            value = self.headers.get("Authorization")
            auth_scheme = value.split(" ", 1)[0] if value else None
        front.counters.add(Seen(host, self.command, path, query, response.status, auth_scheme, sni))
        if response.status in (411, 413, 421):
            self.close_connection = True
            response.headers.append(("Connection", "close"))
        self.send(response)


def _text(status: int, text: str) -> Response:
    return Response(status, [("Content-Type", "text/plain; charset=utf-8")], text.encode())


def _misdirected(host: str | None, front: TlsFront) -> Response:
    return _text(
        421,
        f"personality front: Host {host!r} is not served here; send Host: one of "
        f"{', '.join(front.hosts)} (connect to the mapped address, keep the name)\n",
    )
