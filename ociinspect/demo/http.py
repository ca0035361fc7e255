"""The demo's HTTP plumbing: a bounded, loopback-only server on the standard library.

:class:`LoopbackServer` is a :class:`http.server.ThreadingHTTPServer` that refuses to bind
anything but a loopback address, serves at most :data:`MAX_CONNECTIONS` connections at once
(one more is answered ``503`` and closed), and runs in a daemon thread, so it ends with the
process (a Jupyter kernel) at the latest. :class:`Handler` speaks HTTP/1.1 with keep-alive,
always sends ``Content-Length``, reads request bodies (plain or chunked) up to a limit, and
writes OCI error bodies (distribution-spec "Error Codes").
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
import traceback
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import SettingsError

#: Connections served at the same time by one server; more are refused with 503.
MAX_CONNECTIONS = 64
#: Longest a connection may stay silent before the server closes it.
IDLE_TIMEOUT = 30.0
#: Largest request header block (per line, the standard library's own limit applies too).
MAX_CHUNK_LINE = 1024


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(host: str) -> None:
    """Refuse to serve on anything a neighbour could reach."""
    if not is_loopback(host):
        raise SettingsError(
            "demo host", host, "the demo registry listens on loopback only (127.0.0.0/8 or ::1)"
        )


class BodyTooLarge(Exception):
    """A request body is over the limit its handler allows."""


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server on a loopback address, bounded in connections."""

    daemon_threads = True
    allow_reuse_address = True
    #: Small: the demo answers a handful of clients.
    request_queue_size = 16

    def __init__(self, host: str, port: int, handler: type[Handler], app: Any) -> None:
        require_loopback(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), handler)
        self._thread: threading.Thread | None = None
        #: The last handler failures (tracebacks), newest last.
        self.failures: deque[str] = deque(maxlen=20)

    @property
    def host(self) -> str:
        host = str(self.server_address[0])
        return f"[{host}]" if ":" in host else host

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve in a thread while a slot is free; else answer 503 and close at once."""
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\nRetry-After: 1\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """No traceback on a notebook's stderr: keep the last few failures for tests instead
        (a client that hangs up is one)."""
        self.failures.append(traceback.format_exc(limit=8))

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"ociinspect-demo {self.url}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server_close()


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; helpers for bodies, JSON and OCI errors."""

    protocol_version = "HTTP/1.1"
    server_version = "ociinspect-demo/1"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    server: LoopbackServer
    #: Which server this is in the app's log ("registry", "token", "cdn"); None: not logged.
    origin: str | None = None

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if self.origin is not None:  # a request that did not parse has no path or headers
            path, headers = getattr(self, "path", ""), getattr(self, "headers", None)
            self.server.app.saw(self.origin, self.command or "", path, code, headers)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: a notebook shows the client's trace, not a server log."""

    # -- the request --------------------------------------------------------------------------

    @property
    def path_only(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        """The first value of each query parameter."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def read_body(self, limit: int) -> bytes:
        """The request body (Content-Length or chunked), refusing more than ``limit`` bytes."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > limit:
            raise BodyTooLarge(length)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(MAX_CHUNK_LINE) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > limit:
                raise BodyTooLarge(total)
            parts.append(self.rfile.read(size))
            self.rfile.readline(MAX_CHUNK_LINE)

    def discard_body(self) -> None:
        """Read and drop a body the handler does not want, so keep-alive stays in step."""
        try:
            self.read_body(1024 * 1024)
        except (BodyTooLarge, ValueError):
            self.close_connection = True

    # -- the answer ---------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str | None = None,
        length: int | None = None,
    ) -> None:
        """Send ``status`` with ``body`` (omitted for HEAD; ``length`` overrides the length)."""
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def answer_json(
        self, status: int, value: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        body = json.dumps(value, indent=None, separators=(",", ":")).encode()
        self.answer(status, body, headers, content_type="application/json")

    def oci_error(
        self,
        status: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """An error answer with the distribution spec's ``{"errors": [...]}`` body."""
        error: dict[str, Any] = {"code": code, "message": message}
        if detail is not None:
            error["detail"] = detail
        self.answer_json(status, {"errors": [error]}, headers)


__all__ = [
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "BodyTooLarge",
    "Handler",
    "LoopbackServer",
    "is_loopback",
    "require_loopback",
]
