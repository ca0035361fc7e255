"""A misbehaving reverse proxy, put in front of the registry (or any rig server) per test.

It forwards each request on a fresh upstream connection with the client's ``Host`` header, so
the registry's absolute URLs (upload ``Location``) point back at the proxy. Redirects pass
through unchanged (a 307 to the CDN goes to the client as is). Every request is recorded;
``faults`` rules inject 429/5xx, drop connections, delay, strip or set headers, tamper with or
truncate bodies::

    proxy = registry.proxy()
    proxy.faults.rate_limit(times=2, retry_after="1", path="/manifests/")
    proxy.faults.strip_header("Docker-Content-Digest")
    proxy.faults.tamper(lambda body: body.replace(b"amd64", b"arm64"), path="/manifests/")
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from .httpd import Faults, Handler, Recorded, Recorder, Response, Server

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)


class Proxy:
    """Forwards to ``upstream`` ("http://127.0.0.1:PORT"); listens on ``bind``:ephemeral."""

    def __init__(self, upstream: str, bind: str = "127.0.0.1", timeout: float = 30.0) -> None:
        split = urlsplit(upstream)
        if split.scheme != "http" or not split.hostname or split.port is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream = upstream
        self.upstream_host, self.upstream_port = split.hostname, split.port
        self.timeout = timeout
        self.recorder = Recorder()
        self.faults = Faults()
        self._server = Server(_ProxyHandler, self, bind)
        self.host = self._server.host
        self.url = self._server.url

    def requests(self) -> list[Recorded]:
        """Every request received, in arrival order, with the status sent back."""
        return self.recorder.all()

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests with ``method`` whose path matches the regex ``path``."""
        return self.recorder.count(method, path)

    def reset(self) -> None:
        self.recorder.clear()
        self.faults.clear()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyHandler(Handler):
    def do_GET(self) -> None:
        self._forward()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _forward(self) -> None:
        proxy: Proxy = self.server.owner  # type: ignore[attr-defined]
        body = self.read_body()
        if self.intercept(proxy.faults, proxy.recorder):
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
            headers["Content-Length"] = str(len(body))
        upstream = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout
        )
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
            status, reply_headers = reply.status, reply.getheaders()
        except OSError as exc:
            proxy.recorder.add(self.record(502))
            self.send(
                Response(
                    502,
                    [("Content-Type", "text/plain")],
                    f"rig proxy: upstream failed: {exc}\n".encode(),
                )
            )
            return
        finally:
            upstream.close()
        kept = [(k, v) for k, v in reply_headers if k.lower() not in _HOP_BY_HOP]
        if self.command != "HEAD":
            kept = [(k, v) for k, v in kept if k.lower() != "content-length"]
            kept.append(("Content-Length", str(len(data))))
        response = Response(status, kept, data)
        proxy.faults.apply_response(self.command, self.path, response)
        proxy.recorder.add(self.record(response.status))
        self.send(response)
