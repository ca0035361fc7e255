"""The seam under the distribution client: send one request, get one streamed answer.

:class:`RegistryClient <ociinspect.distribution.client.RegistryClient>` decides everything the
protocol asks (auth, redirects, retries, verification) and talks to the network only through a
:class:`Transport`: ``send(Request, timeout, deadline) -> Response``. Everything specific to an
HTTP library lives in an adapter; :class:`RequestsTransport` is the one for ``requests``/urllib3.

A transport never follows a redirect, never decodes a body (``Content-Encoding`` is the
client's business: bytes are hashed as sent), never adds credentials (``.netrc`` included) and
raises :class:`TransportFailure` with a short reason that names no URL or header when no answer
comes. What :class:`RequestsTransport` decides per request, and nothing in the environment
decides behind its back (``requests.Session.trust_env`` is off):

- **the URL**: it sends only what :func:`~ociinspect.distribution.urls.checked_url` accepts, as
  that function rebuilt it, so the host requests connects to is the host the client checked;
- **the proxy**: :func:`~ociinspect.distribution.proxies.proxy_for` with Go's rules over the
  environment it was given (loopback never proxied, ``NO_PROXY`` honoured); a plain-http request
  that carries credentials never goes through a proxy
  (:func:`~ociinspect.distribution.proxies.refuse_clear_credentials`); the proxy used is on the
  :class:`Response` (``proxy``) for the trace;
- **cookies**: one jar per origin (scheme, host, port): a cookie a registry sets goes back to that
  registry only, never to the CDN it redirects to (RFC 6265 ignores ports; here an origin is
  the unit), and never through a plain-http proxy; the ``Cookie`` header sent is on
  ``Response.request`` for the trace;
- **the deadline** (:mod:`~ociinspect.distribution.deadlines`): a watchdog thread shuts the
  connection's socket down when the exchange outlives it, in whatever phase it is (connecting,
  headers, body), and the failure says so (``TransportFailure.deadline``);
- **the logs**: urllib3 logs request targets at DEBUG; a filter on its logger redacts their query
  values (``?access_token=...``) before any handler sees them.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import logging
import os
import socket
import ssl
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .deadlines import Deadline, due, explain
from .proxies import Proxy, proxy_for, refuse_clear_credentials
from .urls import Url, checked_url, redact_target

#: Unread bodies up to this size are drained (not dropped with the connection): see release().
DRAIN_LIMIT = 64 * 1024
#: The environment variables a transport reads (proxies, and the CA bundles requests honours).
ENVIRONMENT = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
    "NO_PROXY", "no_proxy", "REQUEST_METHOD", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
)  # fmt: skip
#: Cookies kept per origin, and origins kept (least recently used dropped): a registry that
#: sets cookies without end costs a bounded amount of memory.
MAX_COOKIES_PER_ORIGIN = 64
MAX_COOKIE_ORIGINS = 256
log = logging.getLogger("ociinspect.distribution.transport")


class TransportFailure(Exception):
    """No answer: the connection failed, timed out or broke. ``reason`` names no URL or header.
    ``deadline`` is True when the exchange's :class:`~.deadlines.Deadline` ended it; ``proxy``
    is the proxy the request went through (for the trace)."""

    def __init__(
        self, reason: str, *, timeout: bool = False, deadline: bool = False,
        proxy: str | None = None,
    ) -> None:  # fmt: skip
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout or deadline
        self.deadline = deadline
        self.proxy = proxy


@dataclass(frozen=True)
class Request:
    """One request as the client means it: the transport sends exactly this."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = field(default=None, repr=False)


class Response(Protocol):
    """One answer, its body not read yet."""

    status_code: int
    #: Case-insensitive; a repeated header joined with ", ".
    headers: Mapping[str, str]
    #: The URL that answered.
    url: str
    #: The request as sent (its headers include the ``Cookie`` the transport added).
    request: Request
    #: The proxy the request went through (``http://proxy:3128``, credentials hidden), or None.
    proxy: str | None

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, as sent (``WWW-Authenticate`` may come several times)."""
        ...

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body exactly as sent, in chunks of at most ``size``; :class:`TransportFailure`
        when it breaks off or its deadline runs out."""
        ...

    def release(self) -> None:
        """Done with the answer: a short body is read to its end so the connection is reused."""
        ...

    def close(self) -> None:
        """Done with the answer: the connection is dropped unless the body was read."""
        ...


class Transport(Protocol):
    """Sends requests. Thread-safe."""

    def send(
        self, request: Request, timeout: tuple[float, float], deadline: Deadline | None = None
    ) -> Response:
        """Send ``request``; ``timeout`` is (connect, read) seconds for each wait, ``deadline``
        bounds the whole exchange, body included, until the response is closed."""
        ...

    def close(self) -> None:
        """Close idle connections."""
        ...


# --------------------------------------------------------------------------- failure reasons


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (causes, contexts, exception arguments, urllib3's ``reason``),
    breadth first, each once, at most 32."""
    queue, seen = [exc], set[int]()
    while queue and len(seen) < 32:
        item = queue.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        linked = [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
        queue += [x for x in linked if isinstance(x, BaseException)]


def _reason(exc: BaseException, proxy: str | None = None) -> TransportFailure:
    """A short reason for a failed exchange, from the types of what failed (never from the
    text, which holds the URL): it names no URL or header."""
    chain = list(_causes(exc))

    def has(*kinds: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, kinds)), None)

    def fail(reason: str, **kwargs: bool) -> TransportFailure:
        return TransportFailure(reason, proxy=proxy, **kwargs)

    if has(ConnectionRefusedError):
        return fail("connection refused")
    if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return fail("host name not resolved")
    # urllib3's NewConnectionError is a ConnectTimeoutError too (history): not a timeout.
    if has(requests.ConnectTimeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError)
        for e in chain
    ):
        return fail("connection timed out", timeout=True)
    if has(requests.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError):
        return fail("no answer before the read timeout", timeout=True)
    if has(http.client.LineTooLong):
        limit = getattr(http.client, "_MAXLINE", 65536)
        return fail(f"a line of the answer's headers is over {limit:,} bytes")
    too_many = next((e for e in chain if type(e) is http.client.HTTPException), None)
    if too_many is not None and "headers" in str(too_many):
        limit = getattr(http.client, "_MAXHEADERS", 100)
        return fail(f"the answer has more than {limit} header lines")
    if has(http.client.BadStatusLine) and not has(http.client.RemoteDisconnected):
        return fail("the answer's status line is not HTTP/1.x")
    if has(ssl.SSLCertVerificationError):
        return fail("TLS certificate not trusted or not for this host")
    if has(requests.exceptions.SSLError, ssl.SSLError):
        return fail("TLS handshake failed")
    if has(requests.exceptions.ProxyError, urllib3.exceptions.ProxyError):
        return fail(f"the proxy {proxy} refused or failed" if proxy else "the proxy failed")
    if has(http.client.RemoteDisconnected):
        return fail("the server closed the connection without answering")
    if has(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return fail("connection reset")
    if has(urllib3.exceptions.LocationParseError, requests.exceptions.InvalidURL):
        return fail("the URL could not be used")
    if has(requests.ConnectionError, urllib3.exceptions.HTTPError, OSError):
        return fail("connection failed")
    return fail(f"request failed ({type(exc).__name__})")


def _body_reason(exc: BaseException) -> TransportFailure:
    """Why reading a body failed (urllib3 ProtocolError / ReadTimeoutError / IncompleteRead)."""
    chain = list(_causes(exc))
    if any(isinstance(e, (urllib3.exceptions.ReadTimeoutError, TimeoutError)) for e in chain):
        return TransportFailure("no data before the read timeout", timeout=True)
    short = next(
        (e for e in chain if isinstance(e, (urllib3.exceptions.IncompleteRead,
                                            http.client.IncompleteRead))), None,
    )  # fmt: skip
    if short is not None:
        return TransportFailure("body cut short (the connection ended early)")
    return TransportFailure(f"body cut short ({type(exc).__name__})")


# --------------------------------------------------------------------------- the watchdog


class _Watch:
    """One exchange under a deadline: the connection it runs on, the body bytes seen."""

    __slots__ = ("deadline", "received", "conn", "fired", "done", "lock")

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline
        self.received = 0
        self.conn: Any = None
        self.fired = False
        self.done = False
        self.lock = threading.Lock()

    def due(self) -> float:
        return due(self.deadline, self.received)

    def failure(self, proxy: str | None = None) -> TransportFailure:
        reason = explain(self.deadline, self.received, time.monotonic())
        return TransportFailure(reason, deadline=True, proxy=proxy)

    def kill(self) -> bool:
        """Shut the connection's socket down (the blocked reader wakes up); False while the
        connection has no socket yet (still connecting: the connect timeout bounds that)."""
        with self.lock:
            if self.done:
                return True
            self.fired = True
            sock = getattr(self.conn, "sock", None)
        raw = sock if isinstance(sock, socket.socket) else getattr(sock, "socket", None)
        if not isinstance(raw, socket.socket):
            return False
        with contextlib.suppress(OSError):
            # socket.socket's own method: an SSLSocket's would unwrap TLS under a reader.
            socket.socket.shutdown(raw, socket.SHUT_RDWR)
        return True


class _Watchdog:
    """One daemon thread per transport that ends exchanges past their deadline."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._cond = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, watch: _Watch) -> None:
        with self._cond:
            if len(self._heap) > 4096:  # finished exchanges wait for their due time: drop them
                self._heap = [item for item in self._heap if not item[2].done]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (watch.due(), next(self._count), watch))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ociinspect deadlines", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                when, _, watch = self._heap[0]
                now = time.monotonic()
                if when > now:
                    self._cond.wait(min(when - now, 60.0))
                    continue
                heapq.heappop(self._heap)
            if watch.done:
                continue
            later = watch.due()  # a rate deadline moves as bytes arrive
            if later > time.monotonic():
                with self._cond:
                    heapq.heappush(self._heap, (later, next(self._count), watch))
                continue
            if not watch.kill():
                with self._cond:  # not connected yet: look again shortly
                    heapq.heappush(self._heap, (time.monotonic() + 0.05, next(self._count), watch))


def _watched_pools(
    local: threading.local, on_use: Callable[[Any], None] | None = None
) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes that hand each request's connection to the watch of the thread sending it
    (the only place urllib3 shows the connection before the headers are read), and take it
    back when the connection returns to the pool (its body read): a watch never shuts a
    connection another request is using."""
    owners: weakref.WeakKeyDictionary[Any, _Watch] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    def attach(conn: Any) -> None:
        if on_use is not None:
            on_use(conn)
        watch: _Watch | None = getattr(local, "watch", None)
        if watch is not None:
            with watch.lock:
                watch.conn = conn
            with lock:
                owners[conn] = watch

    def detach(conn: Any) -> None:
        if conn is None:
            return
        with lock:
            watch = owners.pop(conn, None)
        if watch is not None:
            with watch.lock:
                watch.conn, watch.done = None, True

    class WatchedHTTPPool(HTTPConnectionPool):
        def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
            attach(conn)
            return super()._make_request(conn, *args, **kwargs)

        def _put_conn(self, conn: Any) -> None:
            detach(conn)
            super()._put_conn(conn)

    class WatchedHTTPSPool(HTTPSConnectionPool):
        def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
            attach(conn)
            return super()._make_request(conn, *args, **kwargs)

        def _put_conn(self, conn: Any) -> None:
            detach(conn)
            super()._put_conn(conn)

    return {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}


# --------------------------------------------------------------------------- logs


class _RedactTargets(logging.Filter):
    """Redacts the query values of request targets in urllib3's DEBUG records
    (``"GET /blob?access_token=..."``): pre-signed URLs carry credentials there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and "?" in a for a in record.args
        ):
            record.args = tuple(
                redact_target(a) if isinstance(a, str) and "?" in a else a for a in record.args
            )
        return True


def _install_log_filter() -> None:
    """Add :class:`_RedactTargets` to urllib3's pool logger once per process."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _RedactTargets) for f in logger.filters):
        logger.addFilter(_RedactTargets())


# --------------------------------------------------------------------------- the requests adapter


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An ``auth`` hook that does nothing, so requests never injects ``.netrc`` credentials."""
    return request


_HIDDEN_LOCATION = "_ociinspect_location"


def _hide_location(resp: requests.Response, **kwargs: Any) -> requests.Response:
    """A response hook: take ``Location`` out of requests' sight until the answer is wrapped.

    Even with ``allow_redirects=False`` requests works out ``Response.next`` for a redirect: it
    parses the Location (a bare ValueError for ``http://[::1``) and first reads the whole body
    into memory, decompressing it (a hostile 307 could stream or inflate gigabytes).
    """
    setattr(resp, _HIDDEN_LOCATION, resp.headers.pop("Location", None))
    return resp


class _NoCookies(DefaultCookiePolicy):
    """The session-wide jar's policy: it keeps and sends nothing (jars are per origin)."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False


class _ResolvingAdapter(HTTPAdapter):
    """An HTTPAdapter that connects to ``resolve[host]`` (address, port) for the hosts named
    there, keeping the host name for ``Host``, TLS SNI and certificate checks; its pools hand
    connections to the deadline watch of the sending thread."""

    def __init__(
        self,
        resolve: Mapping[str, tuple[str, int]],
        local: threading.local,
        on_use: Callable[[Any], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._resolve = {host.lower().rstrip("."): target for host, target in resolve.items()}
        self._pools = _watched_pools(local, on_use)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pools
        return manager

    def maps(self, host: str) -> bool:
        return host in self._resolve

    def _target(self, url: str) -> tuple[str, tuple[str, int]] | None:
        host = (urlsplit(url).hostname or "").lower()
        found = self._resolve.get(host)
        return (host, found) if found is not None else None

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> Any:
        found = self._target(request.url or "")
        if found is None:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host, (address, port) = found
        checked = True if verify is None else verify
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, checked, cert)
        extra: dict[str, Any] = dict(pool_kwargs)
        if host_params["scheme"] == "https":
            # Connect to the mapped address; TLS still names and checks the host.
            extra.update(server_hostname=host, assert_hostname=host)
        return self.poolmanager.connection_from_host(
            host=address, port=port, scheme=host_params["scheme"], pool_kwargs=extra
        )

    def add_headers(self, request: requests.PreparedRequest, **kwargs: Any) -> None:
        if self._target(request.url or "") is not None:
            request.headers["Host"] = urlsplit(request.url or "").netloc  # not the address
        super().add_headers(request, **kwargs)

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        if self._target(request.url or "") is not None:
            return request.path_url  # connected directly to the mapped address: no proxy
        return str(super().request_url(request, proxies))


class _RequestsResponse:
    """A :class:`Response` over a streamed ``requests.Response``."""

    def __init__(
        self,
        resp: requests.Response,
        request: Request,
        proxy: str | None = None,
        watch: _Watch | None = None,
    ) -> None:
        location = getattr(resp, _HIDDEN_LOCATION, None)
        if location is not None:
            resp.headers["Location"] = location
        self._resp = resp
        self._watch = watch
        self.status_code = resp.status_code
        self.headers: Mapping[str, str] = resp.headers
        self.url = request.url
        self.request = request
        self.proxy = proxy

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"

    def header_values(self, name: str) -> list[str]:
        raw_headers = getattr(self._resp.raw, "headers", None)
        getlist = getattr(raw_headers, "getlist", None)
        if getlist is not None:
            values = list(getlist(name))
            if values:
                return values
        value = self.headers.get(name)
        return [value] if value else []

    def chunks(self, size: int) -> Iterator[bytes]:
        raw, watch = self._resp.raw, self._watch
        failure: TransportFailure | None = None
        try:
            while True:
                # read1: one read from the socket at most, so a rate deadline sees every byte
                data = raw.read1(size, decode_content=False)
                if not data:
                    break
                if watch is not None:
                    watch.received += len(data)
                yield data
        except Exception as exc:  # urllib3 ProtocolError / ReadTimeoutError: name what broke
            failure = _body_reason(exc)
        if watch is not None and watch.fired:
            failure = watch.failure(self.proxy)  # an early end because the deadline struck
        if failure is not None:
            raise failure

    def _finish(self) -> None:
        if self._watch is not None:
            with self._watch.lock:
                self._watch.done = True

    def release(self) -> None:
        length = self.headers.get("Content-Length", "")
        short = length.isdigit() and int(length) <= DRAIN_LIMIT
        if self.request.method == "HEAD" or self.status_code in (204, 304) or short:
            drain = getattr(self._resp.raw, "drain_conn", None)
            if drain is not None:
                with contextlib.suppress(Exception):  # a broken connection is simply not reused
                    drain()
        self._finish()
        self._resp.close()

    def close(self) -> None:
        self._finish()
        self._resp.close()


def _carries_credentials(request: Request) -> bool:
    """Whether a request holds something a proxy must not read: an ``Authorization`` header or
    a body (the token form, which may hold a refresh token)."""
    named = any(k.lower() in ("authorization", "proxy-authorization") for k in request.headers)
    return named or bool(request.body)


class RequestsTransport:
    """The ``requests`` adapter: one connection pool per session, keep-alive, no redirects,
    no decoding, no ``.netrc``, nothing from the environment but what ``env`` holds.

    ``resolve`` maps host names to (address, port); ``ca_bundle`` names the CA certificates
    to trust (PEM) instead of the default ones (or of ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``
    in ``env``). ``env`` (default: ``os.environ`` now) is read for :data:`ENVIRONMENT` only.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        pool_size: int = 32,
        resolve: Mapping[str, tuple[str, int]] | None = None,
        ca_bundle: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._local = threading.local()
        self._adapter: _ResolvingAdapter | None = None
        #: Preconnected connections no request has used yet (see :meth:`warm`).
        self._unused: weakref.WeakSet[Any] = weakref.WeakSet()
        self._unused_lock = threading.Lock()
        given = session is not None
        if session is None:
            session = requests.Session()
            adapter = _ResolvingAdapter(
                resolve or {}, self._local, self._used, pool_connections=16,
                pool_maxsize=pool_size,
            )  # fmt: skip
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._adapter = adapter
        else:  # a caller's session: its pools hand connections to the deadline watch too
            pools = _watched_pools(self._local)
            for mounted in session.adapters.values():
                manager = getattr(mounted, "poolmanager", None)
                if manager is not None:
                    manager.pool_classes_by_scheme = pools
        session.trust_env = False  # proxies, .netrc and CA bundles: decided here, per request
        session.cookies.set_policy(_NoCookies())
        self.session = session
        source = os.environ if env is None else env
        self.env = {k: source[k] for k in ENVIRONMENT if source.get(k)}
        #: Given per request (None: the session's ``verify``, True unless a caller's session
        #: says otherwise). Without a session of the caller's, the env's CA bundle as requests
        #: would take it.
        env_bundle = self.env.get("REQUESTS_CA_BUNDLE") or self.env.get("CURL_CA_BUNDLE")
        self.verify: str | None = ca_bundle or (None if given else env_bundle)
        self._jars: OrderedDict[tuple[str, str, int], RequestsCookieJar] = OrderedDict()
        self._jar_lock = threading.Lock()
        self._watchdog = _Watchdog()
        _install_log_filter()

    def __repr__(self) -> str:
        return "<RequestsTransport>"

    def proxy(self, url: Url) -> Proxy | None:
        """The proxy a request to ``url`` goes through (None: direct)."""
        if self._adapter is not None and self._adapter.maps(url.host):
            return None  # connected to the mapped address, never through a proxy
        return proxy_for(url, self.env)

    def _jar(self, origin: tuple[str, str, int]) -> RequestsCookieJar:
        with self._jar_lock:
            jar = self._jars.get(origin)
            if jar is None:
                jar = self._jars[origin] = RequestsCookieJar()
                while len(self._jars) > MAX_COOKIE_ORIGINS:
                    self._jars.popitem(last=False)
            self._jars.move_to_end(origin)
            return jar

    def _keep_cookies(self, jar: RequestsCookieJar, resp: requests.Response) -> None:
        with self._jar_lock:
            extract_cookies_to_jar(jar, resp.request, resp.raw)
            if len(jar) > MAX_COOKIES_PER_ORIGIN:
                cookies: list[Any] = list(CookieJar.__iter__(jar))  # Cookie objects
                for cookie in cookies[MAX_COOKIES_PER_ORIGIN:]:
                    jar.clear(cookie.domain, cookie.path, cookie.name)

    def send(
        self, request: Request, timeout: tuple[float, float], deadline: Deadline | None = None
    ) -> Response:
        url = checked_url(request.url)  # UnsafeUrlError: nothing is sent
        proxy = self.proxy(url)
        refuse_clear_credentials(url, proxy, _carries_credentials(request))
        shown = proxy.display if proxy is not None else None
        clear_proxy = proxy is not None and url.scheme == "http"
        jar = self._jar(url.origin)
        with self._jar_lock:
            cookies = None if clear_proxy or not len(jar) else RequestsCookieJar()
            if cookies is not None:
                cookies.update(jar)
        watch = _Watch(deadline) if deadline is not None else None
        if watch is not None:
            self._watchdog.watch(watch)
        self._local.watch = watch
        failure: TransportFailure | None = None
        try:
            resp = self.session.request(
                request.method,
                url.geturl(),
                headers=dict(request.headers),
                data=request.body,
                cookies=cookies,
                stream=True,
                allow_redirects=False,
                timeout=timeout,
                auth=_no_netrc,
                hooks={"response": [_hide_location]},
                verify=self.verify,  # None: the session's (True unless a test set one)
                proxies={url.scheme: proxy.requests_url()} if proxy is not None else {},
            )
        except (requests.RequestException, OSError, ValueError, http.client.HTTPException) as exc:
            failure = _reason(exc, shown)
        finally:
            self._local.watch = None
        if watch is not None and watch.fired:
            if failure is None:
                resp.close()
            failure = watch.failure(shown)
        if failure is not None:
            if watch is not None:
                watch.done = True
            raise failure  # outside the except block: no __context__ holding the URL
        if not clear_proxy:
            self._keep_cookies(jar, resp)
        sent = dict(request.headers)
        cookie = resp.request.headers.get("Cookie") if resp.request is not None else None
        if cookie:
            sent["Cookie"] = cookie
        as_sent = Request(request.method, url.geturl(), sent, request.body)
        return _RequestsResponse(resp, as_sent, shown, watch)

    def _used(self, conn: Any) -> None:
        with self._unused_lock:
            self._unused.discard(conn)

    def warm(self, url: str, count: int, connect_timeout: float) -> Warmed | None:
        """Open connections to ``url``'s origin in the background until its pool holds
        ``count`` idle ones (each connect within ``connect_timeout`` seconds; TLS included).
        Nothing is sent on them; a connect that fails is forgotten (the request that would have
        used it connects as usual). Not for proxied origins or a caller's own session. Returns
        what was started (None: nothing to do): :meth:`Warmed.release_unused` closes the
        connections no request took, so a server's connection slots are not held idle."""
        if self._adapter is None or count <= 0 or connect_timeout <= 0:
            return None
        target = checked_url(url)
        if self.proxy(target) is not None:
            return None
        prepared = requests.Request("GET", target.geturl()).prepare()
        verify = True if self.verify is None else self.verify
        pool = self._adapter.get_connection_with_tls_context(prepared, verify, {}, None)
        warmed = Warmed(self)
        warmed.thread = threading.Thread(
            target=_fill, args=(pool, count, connect_timeout, warmed),
            name="ociinspect-preconnect", daemon=True,
        )  # fmt: skip
        warmed.thread.start()
        return warmed

    def close(self) -> None:
        self.session.close()


class Warmed:
    """The connections one :meth:`RequestsTransport.warm` opened (in :attr:`thread`)."""

    def __init__(self, transport: RequestsTransport) -> None:
        self._transport = transport
        self.thread: threading.Thread | None = None
        self.opened: list[Any] = []
        self.released = False

    def _opened(self, conn: Any) -> bool:
        """Keep ``conn`` as opened for the call; False once the call has ended (then the
        caller closes it: nothing will use it)."""
        with self._transport._unused_lock:
            if self.released:
                return False
            self.opened.append(conn)
            self._transport._unused.add(conn)
            return True

    def release_unused(self) -> int:
        """Close the connections it opened that no request has used; how many. One still
        connecting is closed as soon as it is open. (A request that takes one of them from the
        pool right now reconnects: never an error.)"""
        transport = self._transport
        with transport._unused_lock:
            self.released = True
            idle = [conn for conn in self.opened if conn in transport._unused]
            for conn in idle:
                transport._unused.discard(conn)
            self.opened = []
        for conn in idle:
            conn.close()
        return len(idle)


def _fill(
    pool: HTTPConnectionPool, count: int, connect_timeout: float, warmed: Warmed | None = None
) -> None:
    """Take ``count`` connections from ``pool`` (idle ones, or new ones where it has none),
    connect the new ones at once, and give each back as soon as it is open."""
    taken: list[Any] = []
    try:
        for _ in range(count):
            taken.append(pool._get_conn(timeout=0))  # noqa: SLF001 - urllib3 has no public hook
    except Exception:  # an exhausted blocking pool: warm what was taken
        log.debug("preconnect: pool for %s has no free slot", pool.host)

    def connect(conn: Any) -> None:
        if not getattr(conn, "is_connected", False):
            conn.timeout = connect_timeout
            try:
                conn.connect()
            except Exception as exc:  # the request that needs it connects (and reports) itself
                log.debug("preconnect to %s failed: %s", pool.host, type(exc).__name__)
                conn.close()
            else:
                if warmed is not None and not warmed._opened(conn):  # noqa: SLF001
                    conn.close()  # the call has ended meanwhile
        pool._put_conn(conn)  # noqa: SLF001

    workers = [threading.Thread(target=connect, args=(c,), daemon=True) for c in taken[1:]]
    for worker in workers:
        worker.start()
    if taken:
        connect(taken[0])
    for worker in workers:
        worker.join()


__all__ = [
    "DRAIN_LIMIT",
    "ENVIRONMENT",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
    "TransportFailure",
    "Warmed",
]
