"""The seam under the distribution client: send one request, get one streamed answer.

:class:`RegistryClient <ociinspect.distribution.client.RegistryClient>` decides everything the
protocol asks (auth, redirects, retries, verification) and talks to the network only through a
:class:`Transport`: ``send(Request, timeout) -> Response``. Everything specific to an HTTP
library lives in an adapter; :class:`RequestsTransport` is the one for ``requests``/urllib3.

A transport never follows a redirect, never decodes a body (``Content-Encoding`` is the
client's business: bytes are hashed as sent), never adds credentials (``.netrc`` included) and
raises :class:`TransportFailure` with a short reason that names no URL or header when no answer
comes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

#: Unread bodies up to this size are drained (not dropped with the connection): see release().
DRAIN_LIMIT = 64 * 1024


class TransportFailure(Exception):
    """No answer: the connection failed, timed out or broke. ``reason`` names no URL or header."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


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
    request: Request

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, as sent (``WWW-Authenticate`` may come several times)."""
        ...

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body exactly as sent, in chunks of at most ``size``; :class:`TransportFailure`
        when it breaks off."""
        ...

    def release(self) -> None:
        """Done with the answer: a short body is read to its end so the connection is reused."""
        ...

    def close(self) -> None:
        """Done with the answer: the connection is dropped unless the body was read."""
        ...


class Transport(Protocol):
    """Sends requests. Thread-safe."""

    def send(self, request: Request, timeout: tuple[float, float]) -> Response:
        """Send ``request``; ``timeout`` is (connect, read) seconds."""
        ...

    def close(self) -> None:
        """Close idle connections."""
        ...


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


def _reason(exc: requests.RequestException) -> TransportFailure:
    """A short reason for a failed exchange that names no URL or header."""
    if isinstance(exc, requests.ConnectTimeout):
        return TransportFailure("connection timed out", timeout=True)
    if isinstance(exc, requests.ReadTimeout):
        return TransportFailure("no answer before the read timeout", timeout=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportFailure("TLS handshake failed")
    if isinstance(exc, requests.exceptions.ProxyError):
        return TransportFailure("the proxy refused or failed")
    text = str(exc)
    if "header" in text.lower() and ("too long" in text.lower() or "line" in text.lower()):
        return TransportFailure("the answer's headers could not be read (too long or malformed)")
    if isinstance(exc, requests.ConnectionError):
        if "Connection refused" in text:
            return TransportFailure("connection refused")
        if "Name or service not known" in text or "nodename nor servname" in text:
            return TransportFailure("host name not resolved")
        if "reset" in text.lower() or "aborted" in text.lower():
            return TransportFailure("connection reset")
        return TransportFailure("connection failed")
    return TransportFailure(f"request failed ({type(exc).__name__})")


class _ResolvingAdapter(HTTPAdapter):
    """An HTTPAdapter that connects to ``resolve[host]`` (address, port) for the hosts named
    there, keeping the host name for ``Host``, TLS SNI and certificate checks."""

    def __init__(self, resolve: Mapping[str, tuple[str, int]], **kwargs: Any) -> None:
        self._resolve = {host.lower().rstrip("."): target for host, target in resolve.items()}
        super().__init__(**kwargs)

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

    def __init__(self, resp: requests.Response, request: Request) -> None:
        location = getattr(resp, _HIDDEN_LOCATION, None)
        if location is not None:
            resp.headers["Location"] = location
        self._resp = resp
        self.status_code = resp.status_code
        self.headers: Mapping[str, str] = resp.headers
        self.url = resp.url or request.url
        self.request = request

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
        try:
            yield from self._resp.raw.stream(size, decode_content=False)
        except Exception as exc:  # urllib3 ProtocolError / ReadTimeoutError: name what broke
            name = type(exc).__name__
            if "Timeout" in name:
                raise TransportFailure("no data before the read timeout", timeout=True) from None
            raise TransportFailure(f"body cut short ({name})") from None

    def release(self) -> None:
        length = self.headers.get("Content-Length", "")
        short = length.isdigit() and int(length) <= DRAIN_LIMIT
        if self.request.method == "HEAD" or self.status_code in (204, 304) or short:
            drain = getattr(self._resp.raw, "drain_conn", None)
            if drain is not None:
                with contextlib.suppress(Exception):  # a broken connection is simply not reused
                    drain()
        self._resp.close()

    def close(self) -> None:
        self._resp.close()


class RequestsTransport:
    """The ``requests`` adapter: one connection pool per session, keep-alive, no redirects,
    no decoding, no ``.netrc``; ``resolve`` maps host names to (address, port) and
    ``ca_bundle`` names the CA certificates to trust (PEM) instead of the default ones."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        pool_size: int = 32,
        resolve: Mapping[str, tuple[str, int]] | None = None,
        ca_bundle: str | None = None,
    ) -> None:
        if session is None:
            session = requests.Session()
            adapter = _ResolvingAdapter(resolve or {}, pool_connections=16, pool_maxsize=pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        #: Given per request, so ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` cannot override it
        #: (None: requests' default trust, which those variables may set).
        self.verify: str | None = ca_bundle

    def __repr__(self) -> str:
        return "<RequestsTransport>"

    def send(self, request: Request, timeout: tuple[float, float]) -> Response:
        try:
            resp = self.session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                stream=True,
                allow_redirects=False,
                timeout=timeout,
                auth=_no_netrc,
                hooks={"response": [_hide_location]},
                verify=self.verify,
            )
        except requests.RequestException as exc:
            raise _reason(exc) from None
        return _RequestsResponse(resp, request)

    def close(self) -> None:
        self.session.close()


__all__ = [
    "DRAIN_LIMIT",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
    "TransportFailure",
]
