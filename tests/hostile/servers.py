"""Deliberately broken loopback HTTP servers for the hostile-registry tests.

:class:`ScriptedServer` speaks just enough HTTP/1.1 over raw sockets to misbehave in ways a
well-mannered server library will not: a ``script(request)`` function decides each answer as a
:class:`Reply`, which may lie about ``Content-Length``, cut the body short and close, stall before
or in the middle of a body, send a chunked body, or drop the connection without a word. Every
request is recorded with its headers exactly as received, so tests can assert what a far server
saw (an ``Authorization`` header that must never arrive, for instance).

:func:`tls_context` makes a self-signed certificate for 127.0.0.1 with ``cryptography`` so the
same server can speak https (clients trust it through the CA file it writes).

Only loopback addresses are ever bound; every sleep wakes up when the server stops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import json
import socket
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Socket timeout of a server connection: an idle keep-alive connection is closed after this.
IDLE_TIMEOUT = 5.0
#: Request heads larger than this are answered 431 and the connection closed.
MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    @property
    def route(self) -> str:
        """The path without its query."""
        return self.path.split("?", 1)[0]


@dataclass
class Reply:
    """What to send back, and how to misbehave while sending it.

    ``length``: the Content-Length to announce (None: the body's true length; ``False``: none,
    then the connection is closed after the body). ``cut``: send only this many body bytes, then
    close. ``stall``: seconds to wait before the status line. ``stall_at``/``stall_for``: stop
    after ``stall_at`` body bytes for ``stall_for`` seconds. ``drop``: close without answering.
    ``raw``: bytes sent verbatim instead of a response built from the fields.
    ``drip``: send the body one byte every ``drip`` seconds; ``drip_head``: the same for the
    status line and headers (a server that never stalls long enough for a read timeout).
    """

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    length: int | bool | None = None
    chunked: bool = False
    cut: int | None = None
    stall: float = 0.0
    stall_at: int | None = None
    stall_for: float = 0.0
    drop: bool = False
    raw: bytes | None = None
    close: bool = False
    drip: float = 0.0
    drip_head: float = 0.0


def json_reply(status: int, body: object, *headers: tuple[str, str]) -> Reply:
    """A JSON answer with ``Content-Type: application/json``."""
    headers = (("Content-Type", "application/json"), *headers)
    return Reply(status, list(headers), json.dumps(body).encode())


def redirect(location: str, status: int = 307) -> Reply:
    return Reply(status, [("Location", location)])


_REASONS = {200: "OK", 206: "Partial Content", 301: "Moved Permanently", 302: "Found",
            303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect",
            401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            431: "Request Header Fields Too Large", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable"}

Script = Callable[[Request], Reply]


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def setup(self) -> None:
        self.request.settimeout(IDLE_TIMEOUT)
        # Headers and body go out in separate writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every answer waits ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")

    def handle(self) -> None:
        owner = self.server.owner
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            while not owner.stopping.is_set():
                request = self._read_request()
                if request is None:
                    return
                owner.record(request)
                reply = owner.script(request)
                if not self._send(request, reply):
                    return

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            self.rfile.close()

    def _read_request(self) -> Request | None:
        line = self.rfile.readline(MAX_HEAD)
        if not line:
            return None
        method, path, _ = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        headers: list[tuple[str, str]] = []
        size = len(line)
        while True:
            raw = self.rfile.readline(MAX_HEAD)
            size += len(raw)
            if raw in (b"\r\n", b"\n", b"") or size > MAX_HEAD:
                break
            name, _, value = raw.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        request = Request(method, path, tuple(headers))
        length = request.header("Content-Length")
        if length and length.isascii() and length.isdigit():
            body = self.rfile.read(min(int(length), MAX_HEAD))
            request = Request(method, path, tuple(headers), body)
        return request

    def _send(self, request: Request, reply: Reply) -> bool:
        """Send ``reply``; False when the connection must be closed afterwards."""
        stopping = self.server.owner.stopping
        if reply.stall and stopping.wait(reply.stall):
            return False
        if reply.drop:
            self._shutdown()
            return False
        if reply.raw is not None:
            self.request.sendall(reply.raw)
            return not reply.close
        body = reply.body
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Whatever')}"]
        head += [f"{k}: {v}" for k, v in reply.headers]
        keep = not (reply.close or reply.cut is not None or reply.length is False)
        if reply.chunked:
            head.append("Transfer-Encoding: chunked")
        elif reply.length is not False:
            announced = len(body) if reply.length is None or reply.length is True else reply.length
            head.append(f"Content-Length: {announced}")
            if announced != len(body):
                keep = False
        head.append("Connection: keep-alive" if keep else "Connection: close")
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.drip_head:
            return self._drip(head_bytes, reply.drip_head) and False
        self.request.sendall(head_bytes)
        if request.method == "HEAD":
            return keep
        if reply.cut is not None:
            body = body[: reply.cut]
        if reply.chunked:
            body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _pieces(body, 4096))
            body += b"" if reply.cut is not None else b"0\r\n\r\n"
        if reply.drip:
            return self._drip(body, reply.drip) and keep
        if reply.stall_at is not None:
            self.request.sendall(body[: reply.stall_at])
            if stopping.wait(reply.stall_for):
                return False
            body = body[reply.stall_at :]
        self.request.sendall(body)
        if not keep:
            self._shutdown()
        return keep

    def _drip(self, data: bytes, pause: float) -> bool:
        """Send ``data`` one byte at a time, ``pause`` seconds apart; False when the server
        stops or the client hangs up."""
        stopping = self.server.owner.stopping
        for i in range(len(data)):
            self.request.sendall(data[i : i + 1])
            if stopping.wait(pause):
                return False
        return True

    def _shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)


def _pieces(data: bytes, size: int) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: ScriptedServer
    tls: ssl.SSLContext | None

    def __init__(self, address: tuple[str, int]) -> None:
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        with self.lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer is what fault tests do: no traceback for it."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class ScriptedServer:
    """A loopback server whose every answer is chosen by ``script``; use as a context manager."""

    def __init__(
        self, script: Script, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"hostile test servers bind loopback only, not {host}")
        self.script = script
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._tcp = _TCPServer((host, 0))
        self._tcp.owner = self
        self._tcp.tls = tls
        self.host = f"{host}:{self._tcp.server_address[1]}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True,
            name=f"hostile server {self.host}",
        )
        self._thread.start()

    def record(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self, route: str | None = None) -> list[Request]:
        """Requests received (those whose path starts with ``route``), in order."""
        with self._lock:
            found = list(self._requests)
        return [r for r in found if route is None or r.route.startswith(route)]

    def stop(self) -> None:
        self.stopping.set()
        self._tcp.shutdown()
        self._tcp.server_close()
        with self._tcp.lock:
            conns = list(self._tcp.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- canned scripts ---------------------------------------------------------------------------


def routes(table: dict[str, Script], default: Reply | None = None) -> Script:
    """A script choosing by the longest route prefix that matches the request path."""
    ordered = sorted(table, key=len, reverse=True)

    def script(request: Request) -> Reply:
        for prefix in ordered:
            if request.route.startswith(prefix):
                return table[prefix](request)
        return default or json_reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no"}]})

    return script


def always(reply: Reply) -> Script:
    """A script that answers every request with ``reply``."""
    return lambda request: reply


def challenge_401(*values: str) -> Reply:
    """401 with one ``WWW-Authenticate`` field per value, and an OCI error body."""
    body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
    return json_reply(401, body, *(("WWW-Authenticate", v) for v in values))


# -- a fake registry -------------------------------------------------------------------------

Tweak = Callable[[Request, Reply], Reply]


class FakeRegistry:
    """The read side of the distribution API over fixed content, misbehaving on demand.

    ``manifests`` maps a tag or digest to (bytes, Content-Type); ``blobs`` maps a digest to
    bytes. Answers carry ``Docker-Content-Digest`` like distribution's; ``tweak(request, reply)``
    may change or replace any answer before it is sent (set it per test).
    """

    def __init__(
        self, repository: str = "hostile/app", host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.repository = repository
        self.manifests: dict[str, tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.tweak: Tweak | None = None
        self.server = ScriptedServer(self._answer, host, tls)
        self.host, self.url = self.server.host, self.server.url

    def ref(self, identifier: str = "latest") -> str:
        sep = "@" if ":" in identifier else ":"
        return f"{self.host}/{self.repository}{sep}{identifier}"

    def add_manifest(self, raw: bytes, media_type: str, tag: str | None = "latest") -> str:
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        self.manifests[digest] = (raw, media_type)
        if tag is not None:
            self.manifests[tag] = (raw, media_type)
        return digest

    def add_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return digest

    def requests(self, route: str | None = None) -> list[Request]:
        return self.server.requests(route)

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answer(self, request: Request) -> Reply:
        reply = self._content(request)
        return self.tweak(request, reply) if self.tweak is not None else reply

    def _content(self, request: Request) -> Reply:
        route = request.route
        base = f"/v2/{self.repository}/"
        if route == "/v2/":
            return json_reply(200, {})
        rest = route[len(base) :] if route.startswith(base) else ""
        kind, _, name = rest.partition("/")
        if kind == "manifests" and name in self.manifests:
            raw, media_type = self.manifests[name]
            digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            headers = [("Content-Type", media_type), ("Docker-Content-Digest", digest)]
            return Reply(200, headers, raw)
        if kind == "blobs" and name in self.blobs:
            headers = [("Content-Type", "application/octet-stream")]
            return Reply(200, [*headers, ("Docker-Content-Digest", name)], self.blobs[name])
        if kind == "tags" and name == "list":
            tags = sorted(k for k in self.manifests if ":" not in k)
            return json_reply(200, {"name": self.repository, "tags": tags})
        code = {"manifests": "MANIFEST_UNKNOWN", "blobs": "BLOB_UNKNOWN"}.get(kind, "NAME_UNKNOWN")
        return json_reply(404, {"errors": [{"code": code, "message": "unknown"}]})


# -- TLS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    """A server context and the CA file clients pass as ``verify=``."""

    context: ssl.SSLContext
    ca_file: Path


def tls_context(directory: Path, names: Iterable[str] = ()) -> Tls:
    """A self-signed certificate (its own CA) for 127.0.0.1, localhost and ``names``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ociinspect hostile tests")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                    *(x509.DNSName(name) for name in names),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return Tls(context, cert_file)
