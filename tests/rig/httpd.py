"""The small threaded HTTP server every rig helper is built on, and its fault rules.

:class:`Server` runs a ``BaseHTTPRequestHandler`` subclass on a loopback address and an
ephemeral port in a daemon thread, speaks HTTP/1.1 keep-alive, and closes every connection
it accepted when stopped. :class:`Faults` is the per-test misbehaviour list shared by the
proxy and the CDN: rules match on method and a path regex and may fire a limited number of times.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# ----------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Recorded:
    """One request as a rig server saw it (headers keep their case and every value)."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    status: int | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None


class Recorder:
    """A thread-safe list of :class:`Recorded` requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Recorded] = []

    def add(self, item: Recorded) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[Recorded]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def matching(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Requests whose method is ``method`` and whose path the regex ``path`` matches."""
        return [
            r
            for r in self.all()
            if (method is None or r.method == method)
            and (path is None or re.search(path, r.path) is not None)
        ]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests :meth:`matching` finds."""
        return len(self.matching(method, path))


# ----------------------------------------------------------------------------- faults


@dataclass
class Rule:
    """One fault: ``kind`` is fail, drop, delay, strip_header, set_header, tamper or truncate."""

    kind: str
    method: str | None = None
    path: str | None = None
    times: int | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    name: str = ""
    value: str = ""
    transform: Callable[[bytes], bytes] | None = None
    keep: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or re.search(self.path, path) is not None
        )


@dataclass
class Response:
    """A response about to be sent, which response-side rules may change."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncate_to: int | None = None


class Faults:
    """Per-test misbehaviour rules. Request-side rules (delay, fail, drop) act before the
    upstream is asked; response-side rules (strip_header, set_header, tamper, truncate) change
    what goes back. A rule with ``times=n`` fires n times, then is spent; None is forever."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(
        self, kinds: tuple[str, ...], method: str, path: str, first: bool = False
    ) -> list[Rule]:
        """Rules of ``kinds`` that match (only the first with ``first``), each counted as fired."""
        taken: list[Rule] = []
        with self._lock:
            for rule in self._rules:
                if rule.kind not in kinds or not rule.matches(method, path):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                taken.append(rule)
                if first:
                    break
        return taken

    # Helpers that read well in tests -------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        times: int | None = 1,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Rule:
        """Answer ``status`` without asking upstream (default body: an OCI error JSON)."""
        if body is None:
            body = (
                b'{"errors":[{"code":"TOOMANYREQUESTS","message":"rig: slow down"}]}'
                if status == 429
                else b'{"errors":[{"code":"UNAVAILABLE","message":"rig: injected failure"}]}'
            )
        return self.add(
            Rule("fail", method, path, times, status=status, headers=dict(headers or {}), body=body)
        )

    def rate_limit(self, times: int = 1, retry_after: str | None = "1", **match: Any) -> Rule:
        """429 Too Many Requests ``times`` times, with ``Retry-After`` unless None."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return self.fail(429, times=times, headers=headers, **match)

    def drop(
        self, *, times: int | None = 1, method: str | None = None, path: str | None = None
    ) -> Rule:
        """Close the connection without answering."""
        return self.add(Rule("drop", method, path, times))

    def delay(
        self,
        seconds: float,
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        """Sleep before handling matching requests."""
        return self.add(Rule("delay", method, path, times, seconds=seconds))

    def strip_header(
        self,
        name: str,
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        """Remove response header ``name`` (e.g. Docker-Content-Digest)."""
        return self.add(Rule("strip_header", method, path, times, name=name))

    def set_header(
        self,
        name: str,
        value: str,
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        """Replace (or add) response header ``name``."""
        return self.add(Rule("set_header", method, path, times, name=name, value=value))

    def tamper(
        self,
        transform: Callable[[bytes], bytes],
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        """Rewrite the response body; Content-Length follows the new body."""
        return self.add(Rule("tamper", method, path, times, transform=transform))

    def truncate(
        self,
        keep: int,
        *,
        times: int | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Rule:
        """Promise the full Content-Length, send only ``keep`` bytes, close the connection."""
        return self.add(Rule("truncate", method, path, times, keep=keep))

    def apply_response(self, method: str, path: str, response: Response) -> None:
        """Run the response-side rules on ``response`` in place."""
        for rule in self.take(("strip_header", "set_header", "tamper", "truncate"), method, path):
            if rule.kind in ("strip_header", "set_header"):
                response.headers = [
                    (k, v) for k, v in response.headers if k.lower() != rule.name.lower()
                ]
                if rule.kind == "set_header":
                    response.headers.append((rule.name, rule.value))
            elif rule.kind == "tamper" and rule.transform is not None:
                response.body = rule.transform(response.body)
                response.headers = [
                    (k, v) for k, v in response.headers if k.lower() != "content-length"
                ]
                response.headers.append(("Content-Length", str(len(response.body))))
            elif rule.kind == "truncate":
                response.truncate_to = rule.keep


# ----------------------------------------------------------------------------- server


class Handler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1, quiet, with helpers to read bodies and send responses."""

    protocol_version = "HTTP/1.1"
    server_version = "ociinspect-rig"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stderr access log; each server records requests itself."""

    def read_body(self) -> bytes:
        """The request body (Content-Length or chunked)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, status: int | None = None) -> Recorded:
        return Recorded(self.command, self.path, tuple(self.headers.items()), status)

    def send(self, response: Response) -> None:
        """Send ``response``; a truncated one is cut short and the connection closed."""
        self.send_response(response.status)
        has_length = any(k.lower() == "content-length" for k, _ in response.headers)
        for name, value in response.headers:
            self.send_header(name, value)
        if not has_length:
            self.send_header("Content-Length", str(len(response.body)))
        if response.truncate_to is not None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        body = response.body
        if response.truncate_to is not None:
            body = body[: response.truncate_to]
        self.wfile.write(body)

    def intercept(self, faults: Faults, recorder: Recorder) -> Recorded | None:
        """Run request-side rules: sleep for ``delay``, answer ``fail``, close on ``drop``.

        Returns the record when the request was answered here (status None when dropped).
        """
        method, path = self.command, self.path
        for rule in faults.take(("delay",), method, path):
            time.sleep(rule.seconds)
        for rule in faults.take(("drop", "fail"), method, path, first=True):
            if rule.kind == "drop":
                record = self.record(None)
                recorder.add(record)
                self.drop_connection()
            else:
                record = self.record(rule.status)
                recorder.add(record)
                self.send(Response(rule.status, list(rule.headers.items()), rule.body))
            return record
        return None

    def drop_connection(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        with self.connections_lock:
            self.connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is what fault tests do: no traceback for it."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class Server:
    """Runs ``handler`` on ``host`` and an ephemeral port; ``owner`` is reachable as
    ``self.server.owner`` from handlers."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], owner: Any, host: str = "127.0.0.1"
    ) -> None:
        self._httpd = _HTTPServer((host, 0), handler)
        self._httpd.owner = owner  # type: ignore[attr-defined]
        self.host = f"{host}:{self._httpd.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"rig {type(owner).__name__} {self.host}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def stop(self) -> None:
        """Stop accepting, close the listening socket and every open connection."""
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._httpd.connections_lock:
            open_connections = list(self._httpd.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms until true, else raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
