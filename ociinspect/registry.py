"""The OCI distribution client: the only module of ociinspect that talks HTTP.

One :class:`RegistryClient` owns a ``requests.Session``, a :class:`~ociinspect.auth.TokenCache`
and a :class:`~ociinspect.trace.Trace`. Every request goes through three nested loops, each the
one place that decides its policy:

``_request``  auth: attach what the origin needs; on 401 learn the challenge, get a token, retry
``_follow``   redirects: at most ``max_redirects`` hops; credentials dropped when the origin changes
``_attempt``  retries: GET/HEAD only, on 408/429/5xx and connection errors, ``Retry-After`` honoured

Bytes are read raw (``Accept-Encoding: identity``, no transparent decompression) and verified:
a by-digest fetch must hash to the digest asked for, ``Docker-Content-Digest`` is checked when
present and the digest computed when absent, descriptor sizes are enforced while streaming.

The module-level functions :func:`manifest` and :func:`blob` keep the original client's contract
and use the shared :func:`default_client` (one session, one token cache for the whole kernel).
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import os
import queue
import re
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from . import auth, mediatypes
from .challenge import (
    Challenge,
    basic_challenge,
    bearer_challenge,
    challenge_problem,
    parse_www_authenticate,
)
from .credentials import Credentials
from .credentials import lookup as lookup_credentials
from .digest import Digest, Verifier
from .errors import (
    ChallengeError,
    CredentialHelperError,
    DeniedError,
    DigestMismatchError,
    InsecureCredentialsError,
    InsecureRedirectError,
    InvalidDigestError,
    InvalidDocumentError,
    InvalidReferenceError,
    NotFoundError,
    OCIInspectError,
    RateLimitedError,
    RedirectError,
    RegistryError,
    RegistryErrorDetail,
    ServerError,
    SizeLimitError,
    SizeMismatchError,
    TokenError,
    TooManyRedirectsError,
    TransportError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from .models import ManifestInfo
from .retry import RetryPolicy
from .scope import Scope, parse_scopes
from .trace import Exchange, Trace, redact_url, scrub, sent_secrets

#: Manifests larger than this are refused (distribution and containerd use 4 MiB too).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
#: Token responses and error bodies are read up to these sizes.
MAX_TOKEN_SIZE = 1024 * 1024
MAX_ERROR_BODY = 64 * 1024
CHUNK = 1024 * 1024
#: A listing (tags, catalog) longer than this many pages is refused: a registry that keeps
#: inventing next-page links would otherwise never end.
MAX_PAGES = 10_000
#: Unread bodies up to this size are drained (not dropped with the connection): see _release.
DRAIN_LIMIT = 64 * 1024
#: Blobs at least this long are hashed in a helper thread as they stream: see _HashAhead.
HASH_AHEAD = 8 * 1024 * 1024

USER_AGENT = "ociinspect/0.1"
log = logging.getLogger("ociinspect.registry")
_GENERIC_TYPES = frozenset({"application/octet-stream", "text/plain", "binary/octet-stream"})
_NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"})
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DOCKER_HUB = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An ``auth`` hook that does nothing, so requests never injects ``.netrc`` credentials."""
    return request


_HIDDEN_LOCATION = "_ociinspect_location"


def _hide_location(resp: requests.Response, **kwargs: Any) -> requests.Response:
    """A response hook: take ``Location`` out of requests' sight until ``_attempt`` restores it.

    Even with ``allow_redirects=False`` requests works out ``Response.next`` for a redirect: it
    parses the Location (a bare ValueError for ``http://[::1``) and first reads the whole body
    into memory, decompressing it (a hostile 307 could stream or inflate gigabytes).
    """
    setattr(resp, _HIDDEN_LOCATION, resp.headers.pop("Location", None))
    return resp


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (a port, and IPv6 brackets, are ignored)."""
    name = host.lower()
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def api_host(registry: str) -> str:
    """The host to talk to for a registry name: Docker Hub's API lives at registry-1.docker.io."""
    return "registry-1.docker.io" if registry in _DOCKER_HUB else registry


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _same_origin(url: str, origin: tuple[str, str, int | None]) -> bool:
    try:
        return _origin(url) == origin
    except ValueError:
        return False


class _HashAhead:
    """Feeds a :class:`Verifier` from a helper thread, a few chunks behind the download.

    hashlib and socket reads both release the GIL, so with a core to spare, receiving the next
    chunk overlaps hashing this one: a verified download then runs at the speed of the slower of
    the two instead of their sum (hashing costs ~3x the receive copy). At most ``depth`` chunks
    wait (memory stays bounded); sizes are checked by the caller as chunks arrive.
    """

    def __init__(self, verifier: Verifier, depth: int = 4) -> None:
        self.verifier = verifier
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ociinspect-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.verifier.update(chunk)
                except Exception as exc:  # re-raised by verify(); keep draining meanwhile
                    self._error = exc

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def close(self) -> None:
        """Stop the helper once the queued chunks are hashed; safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def verify(self) -> Digest:
        self.close()
        if self._error is not None:
            raise self._error
        return self.verifier.verify()


@dataclass(frozen=True)
class BlobInfo:
    """What a HEAD (or a completed download) says about a blob or manifest."""

    digest: str
    size: int | None
    media_type: str | None


class RegistryClient:
    """Talks to OCI distribution registries. Thread-safe; share one per kernel.

    ``token_cache=None`` disables token caching (every call earns its own token).
    ``credentials`` is a :class:`Credentials`, a mapping of registry host to Credentials, or
    None to look them up in Docker's and containers' auth files on first use.
    ``schemes`` overrides http/https per registry host (default: http for loopback only).
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        token_cache: auth.TokenCache | None | object = ...,
        credentials: Credentials | Mapping[str, Credentials] | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        max_redirects: int = 10,
        max_manifest_size: int = MAX_MANIFEST_SIZE,
        schemes: Mapping[str, str] | None = None,
        trace: Trace | None = None,
        credential_lookup: Callable[[str], Credentials | None] | None = lookup_credentials,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 32,
    ) -> None:
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_size)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.token_cache: auth.TokenCache | None = (
            auth.TokenCache() if token_cache is ... else token_cache  # type: ignore[assignment]
        )
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.max_manifest_size = max_manifest_size
        self.schemes = dict(schemes or {})
        self.trace = trace if trace is not None else Trace()
        self._explicit = credentials
        self._lookup = credential_lookup
        self._sleep = sleep
        self._lock = threading.Lock()
        self._creds: dict[str, Credentials | None] = {}
        # What each registry origin asked for last time: a Bearer or Basic challenge.
        self._challenges: dict[str, Challenge] = {}

    def __repr__(self) -> str:
        cached = len(self.token_cache) if self.token_cache is not None else "off"
        return f"<RegistryClient tokens={cached} exchanges={len(self.trace)}>"

    # -- addressing -------------------------------------------------------------------------

    def base_url(self, registry: str) -> str:
        """``http://127.0.0.1:5000`` or ``https://registry-1.docker.io`` for a registry name."""
        host = api_host(registry)
        scheme = self.schemes.get(registry) or self.schemes.get(host)
        if scheme is None:
            scheme = "http" if is_loopback(host) else "https"
        return f"{scheme}://{host}"

    def _url(self, registry: str, repository: str, *parts: str) -> str:
        return "/".join([self.base_url(registry), "v2", repository, *parts])

    # -- credentials ------------------------------------------------------------------------

    def credentials_for(self, registry: str) -> Credentials | None:
        """The credentials used for ``registry`` (explicit, else looked up once and cached)."""
        if isinstance(self._explicit, Credentials):
            return self._explicit
        if isinstance(self._explicit, Mapping):
            found = self._explicit.get(registry) or self._explicit.get(api_host(registry))
            if found is not None:
                return found
        with self._lock:
            if registry not in self._creds:
                try:
                    found = self._lookup(registry) if self._lookup else None
                except CredentialHelperError as exc:
                    # As docker does for public images: say why, then go on anonymously.
                    log.warning("%s; continuing without credentials", exc)
                    found = None
                self._creds[registry] = found
            return self._creds[registry]

    # -- the three loops --------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        registry: str,
        scopes: Sequence[Scope],
        purpose: str,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with the auth the registry wants. A 401 teaches the challenge and is retried
        once with a token; a cached token answered with 401/403 is dropped and renewed once."""
        origin = self.base_url(registry)
        creds = self.credentials_for(registry)
        extra: tuple[Scope, ...] = ()  # scopes named by this request's own 401 challenge
        learned = renewed = False
        while True:
            sent = {"User-Agent": USER_AGENT, **(headers or {})}
            challenge = self._challenges.get(origin)
            used = None
            if challenge is not None:
                used = self._authorize(sent, challenge, registry, (*scopes, *extra), creds, origin)
            resp = self._follow(method, url, sent, purpose)
            refused = resp.status_code == 401 or (resp.status_code == 403 and used is not None)
            if not refused:
                return resp
            if isinstance(used, tuple) and self.token_cache is not None:
                self.token_cache.invalidate(*used)
            if used is not None:
                if renewed or not isinstance(used, tuple):
                    return resp  # fresh token or Basic credentials refused: a clear error follows
                renewed = True
            elif learned:
                return resp
            if resp.status_code == 401:
                found = self._learn(resp, method, url, origin)
                if found is None or (found.scheme == "basic" and creds is None):
                    return resp
                extra = parse_scopes(found.params.get("scope", ""))
            learned = True
            _release(resp)

    def _learn(
        self, resp: requests.Response, method: str, url: str, origin: str
    ) -> Challenge | None:
        """Remember the challenge of a 401 so later requests to the origin authorise up front."""
        challenges = parse_www_authenticate(_header_values(resp, "WWW-Authenticate"))
        chosen = bearer_challenge(challenges) or basic_challenge(challenges)
        if chosen is None and challenges:
            chosen = challenges[0]
        problem = challenge_problem(chosen) if chosen is not None else None
        if problem is not None:
            resp.close()
            reason = scrub(problem, _sent_secrets(resp))
            raise ChallengeError(method, redact_url(url), 401, reason=reason)
        if chosen is not None:
            with self._lock:
                self._challenges[origin] = chosen
        return chosen

    def _authorize(
        self,
        headers: dict[str, str],
        challenge: Challenge,
        registry: str,
        scopes: Sequence[Scope],
        creds: Credentials | None,
        origin: str,
    ) -> tuple[auth.TokenKey, auth.Token] | str | None:
        """Put an Authorization header in ``headers``. Returns the token used, ``"basic"`` when
        Basic credentials were sent, or None when nothing was attached."""
        if challenge.scheme == "basic":
            if creds is None or creds.password is None:
                return None
            self._refuse_plain_http(origin, registry)
            headers["Authorization"] = _basic(creds.username, creds.password)
            return "basic"
        identity = creds.identity if creds is not None else auth.ANONYMOUS
        request = auth.TokenRequest.from_challenge(
            challenge, scopes, creds.username if creds is not None else None, challenge_scope=False
        )

        def fetch() -> auth.Token:
            return self._fetch_token(request, creds, registry)

        key = request.key(identity)
        cache = self.token_cache
        token = cache.get_or_fetch(key, fetch) if cache is not None else fetch()
        headers["Authorization"] = token.authorization
        return key, token

    def _refuse_plain_http(self, url: str, registry: str) -> None:
        scheme, host, _ = _origin(url)
        if scheme != "https" and not is_loopback(host):
            raise InsecureCredentialsError(
                f"refusing to send credentials for {registry} over plain http to {host}"
            )

    def _fetch_token(
        self, request: auth.TokenRequest, creds: Credentials | None, registry: str
    ) -> auth.Token:
        """The token handshake: GET the realm (Basic auth when we have a password), or the
        OAuth2 POST when we hold an identity token. Credentials never go over plain http to a
        host that is not loopback."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if creds is not None:
            self._refuse_plain_http(request.realm, registry)
        if creds is not None and creds.identity_token is not None:
            method, url = "POST", request.realm
            resp = self._follow(
                method, url, headers, "token", data=request.oauth2_form(creds.identity_token)
            )
        else:
            if creds is not None and creds.password is not None:
                headers["Authorization"] = _basic(creds.username, creds.password)
            sep = "&" if urlsplit(request.realm).query else "?"
            query = urlencode(request.params())
            method, url = "GET", f"{request.realm}{sep}{query}" if query else request.realm
            resp = self._follow(method, url, headers, "token")
        shown = redact_url(url)
        with contextlib.closing(resp):
            if resp.status_code != 200:
                secrets = (creds.password, creds.identity_token) if creds is not None else ()
                errors = _error_details(resp, secrets)
                kind = {401: UnauthorizedError, 403: DeniedError}.get(resp.status_code, TokenError)
                who = f"for {creds.username}" if creds is not None else "anonymously"
                raise kind(
                    method,
                    shown,
                    resp.status_code,
                    errors,
                    reason=f"token server refused a token {who}",
                )
            body = _read_limited(
                resp,
                MAX_TOKEN_SIZE,
                lambda n: SizeLimitError(f"token response from {shown}", MAX_TOKEN_SIZE, n),
                method=method,
                url=url,
            )
        clock = self.token_cache.clock if self.token_cache is not None else time.monotonic
        return auth.parse_token_response(body, clock(), url=shown, method=method)

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        data: Any = None,
    ) -> requests.Response:
        """Follow redirects by hand: credentials never cross to another origin, no downgrade."""
        sent = dict(headers)
        seen = {url}
        here = url
        for _hop in range(self.max_redirects + 1):
            resp = self._attempt(method, here, sent, purpose, data)
            location = resp.headers.get("Location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                return resp
            _release(resp)
            try:
                there = urljoin(here, location)
                moved = _origin(there) != _origin(here)
                if urlsplit(there).scheme not in ("http", "https"):
                    raise ValueError("not http(s)")
            except ValueError:  # a port over 65535, a broken IPv6 literal, file:, javascript:
                raise RedirectError(
                    method, redact_url(here), resp.status_code, reason="unusable Location header"
                ) from None
            if urlsplit(here).scheme == "https" and urlsplit(there).scheme != "https":
                raise InsecureRedirectError(
                    method,
                    redact_url(here),
                    resp.status_code,
                    reason=f"refusing redirect from https to {redact_url(there)}",
                )
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, data = "GET", None
            if moved:
                if data is not None:
                    # A 307/308 would resend the body, e.g. an OAuth2 form holding a refresh token.
                    raise RedirectError(
                        method,
                        redact_url(here),
                        resp.status_code,
                        reason=f"refusing to resend a request body to {redact_url(there)}",
                    )
                # Dropped for good: a CDN is never handed the registry's credentials.
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if there in seen:
                raise TooManyRedirectsError(
                    method,
                    redact_url(url),
                    resp.status_code,
                    reason=f"redirect loop back to {redact_url(there)}",
                )
            seen.add(there)
            here = there
        raise TooManyRedirectsError(
            method, redact_url(url), None, reason=f"more than {self.max_redirects} redirects"
        )

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        data: Any = None,
    ) -> requests.Response:
        """Send once, or again while the retry policy allows; record every try in the trace."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            t0 = time.monotonic()
            try:
                resp = self.session.request(
                    method,
                    url,
                    headers=dict(headers),
                    data=data,
                    stream=True,
                    allow_redirects=False,
                    timeout=self.timeout,
                    auth=_no_netrc,
                    hooks={"response": [_hide_location]},
                )
            except requests.RequestException as exc:
                reason = _transport_reason(exc)
                self.trace.add(
                    Exchange.record(
                        method,
                        url,
                        None,
                        purpose,
                        time.monotonic() - t0,
                        0,
                        headers,
                        None,
                        error=reason,
                    )
                )
                wait = self.retry.delay(attempt)
                if self.retry.retryable(method, None) and self.retry.should_retry(
                    attempt, time.monotonic() - start, wait
                ):
                    self._sleep(wait)
                    continue
                raise TransportError(method, redact_url(url), None, reason=reason) from None
            location = getattr(resp, _HIDDEN_LOCATION, None)
            if location is not None:
                resp.headers["Location"] = location
            self.trace.add(
                Exchange.record(
                    method,
                    url,
                    resp.status_code,
                    purpose,
                    time.monotonic() - t0,
                    _length(resp.headers.get("Content-Length")) or 0,
                    headers,
                    dict(resp.headers),
                )
            )
            if self.retry.retryable(method, resp.status_code):
                wait = self.retry.delay(attempt, resp.headers.get("Retry-After"))
                if self.retry.should_retry(attempt, time.monotonic() - start, wait):
                    _release(resp)
                    self._sleep(wait)
                    continue
            return resp

    # -- errors -----------------------------------------------------------------------------

    def _fail(self, resp: requests.Response, method: str, url: str, what: str) -> OCIInspectError:
        """The typed error for a non-success answer to ``method url``."""
        with contextlib.closing(resp):
            errors = _error_details(resp)
        status = resp.status_code
        codes = {e.code for e in errors}
        shown = redact_url(url)
        if status == 404 or codes & _NOT_FOUND_CODES:
            return NotFoundError(method, shown, status, errors, reason=f"{what} not found")
        if status == 401:
            # RFC 6750 3.1: the challenge says why a Bearer token was refused.
            refusal = next((c.error for c in _challenges_of(resp) if c.error), None)
            if refusal == "insufficient_scope":
                return DeniedError(
                    method, shown, status, errors, reason=f"access to {what} denied ({refusal})"
                )
            known = refusal in ("invalid_token", "invalid_request")  # never echo other text
            why = f" (the registry refused the token: {refusal})" if known else ""
            return UnauthorizedError(
                method, shown, status, errors, reason=f"not authorized to read {what}{why}"
            )
        if status == 403 or "DENIED" in codes:
            return DeniedError(method, shown, status, errors, reason=f"access to {what} denied")
        if status == 429 or "TOOMANYREQUESTS" in codes:
            return RateLimitedError(method, shown, status, errors, reason="rate limited")
        if status >= 500:
            return ServerError(method, shown, status, errors)
        return RegistryError(method, shown, status, errors, reason=f"unexpected answer for {what}")

    # -- manifests --------------------------------------------------------------------------

    def get_manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        *,
        accept: Sequence[str] = mediatypes.MANIFEST_ACCEPT,
        size: int | None = None,
    ) -> ManifestInfo:
        """GET a manifest or index by tag or digest, verified, with its digest always known."""
        expected = _check_reference(reference)
        url = self._url(registry, repository, "manifests", reference)
        what = (
            f"manifest {repository}:{reference}"
            if expected is None
            else f"manifest {repository}@{reference}"
        )
        resp = self._request(
            "GET",
            url,
            registry=registry,
            scopes=[Scope.repository(repository)],
            purpose="manifest",
            headers={"Accept": ", ".join(accept), "Accept-Encoding": "identity"},
        )
        if resp.status_code != 200:
            raise self._fail(resp, "GET", url, what)
        limit = min(self.max_manifest_size, size) if size is not None else self.max_manifest_size
        with contextlib.closing(resp):
            raw = _read_limited(
                resp,
                limit,
                lambda n: (
                    SizeMismatchError(what, size, n)
                    if size is not None and size < self.max_manifest_size
                    else SizeLimitError(what, self.max_manifest_size, n)
                ),
                method="GET",
                url=url,
            )
        if size is not None and len(raw) != size:
            raise SizeMismatchError(what, size, len(raw))
        digest = _verify_document(raw, expected, resp.headers.get("Docker-Content-Digest"), what)
        media_type = mediatypes.strip_parameters(resp.headers.get("Content-Type"))
        if media_type in _GENERIC_TYPES:
            media_type = None
        if media_type in (mediatypes.DOCKER_MANIFEST_V1, mediatypes.DOCKER_MANIFEST_V1_SIGNED):
            raise UnsupportedMediaTypeError(
                what,
                media_type,
                "Docker schema1 manifests are deprecated and not supported; the registry sent "
                "schema1 although v2/OCI types were accepted: push the image again with a "
                "current client",
            )
        return _manifest_info(raw, digest, media_type, what)

    def head_manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        *,
        accept: Sequence[str] = mediatypes.MANIFEST_ACCEPT,
    ) -> BlobInfo:
        """Resolve a tag (or check a digest) with one HEAD; GET when no digest header comes."""
        expected = _check_reference(reference)
        url = self._url(registry, repository, "manifests", reference)
        what = f"manifest {repository}:{reference}"
        resp = self._request(
            "HEAD",
            url,
            registry=registry,
            scopes=[Scope.repository(repository)],
            purpose="manifest",
            headers={"Accept": ", ".join(accept), "Accept-Encoding": "identity"},
        )
        if resp.status_code != 200:
            raise self._fail(resp, "HEAD", url, what)
        _release(resp)
        header = resp.headers.get("Docker-Content-Digest")
        length = _length(resp.headers.get("Content-Length"))
        media_type = mediatypes.strip_parameters(resp.headers.get("Content-Type"))
        if header is None or (expected is not None and header != str(expected)):
            info = self.get_manifest(registry, repository, reference, accept=accept)
            return BlobInfo(info.digest, len(info.raw), info.media_type)
        try:
            Digest.parse(header)
        except InvalidDigestError as exc:
            raise RegistryError(
                "HEAD", redact_url(url), 200, reason=f"invalid Docker-Content-Digest {header!r}"
            ) from exc
        return BlobInfo(header, length, media_type)

    # -- blobs ------------------------------------------------------------------------------

    def _open_blob(
        self,
        registry: str,
        repository: str,
        digest: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[requests.Response, str]:
        Digest.parse(digest)
        url = self._url(registry, repository, "blobs", digest)
        resp = self._request(
            "GET",
            url,
            registry=registry,
            scopes=[Scope.repository(repository)],
            purpose="blob",
            headers={"Accept-Encoding": "identity", **(headers or {})},
        )
        if resp.status_code not in (200, 206):
            raise self._fail(resp, "GET", url, f"blob {repository}@{digest}")
        return resp, url

    def get_blob(
        self,
        registry: str,
        repository: str,
        digest: str,
        *,
        size: int | None = None,
        max_size: int | None = None,
    ) -> bytes:
        """Download a blob into memory, verified against ``digest`` (and ``size`` when known)."""
        chunks: list[bytes] = []
        with self.stream_blob(registry, repository, digest, size=size, max_size=max_size) as stream:
            for chunk in stream:
                chunks.append(chunk)
        return b"".join(chunks)

    @contextlib.contextmanager
    def stream_blob(
        self,
        registry: str,
        repository: str,
        digest: str,
        *,
        size: int | None = None,
        max_size: int | None = None,
        chunk_size: int = CHUNK,
    ) -> Iterator[Iterator[bytes]]:
        """Stream a blob's chunks, hashing as they pass; the last step raises on a mismatch.

        Consumers must not trust what they built from the chunks until the iterator is exhausted:
        the digest is only known then (a mismatch raises :class:`DigestMismatchError`).
        """
        what = f"blob {repository}@{digest}"
        resp, url = self._open_blob(registry, repository, digest)
        verifier = Digest.parse(digest).verifier(what, size)
        length = _length(resp.headers.get("Content-Length"))
        if max_size is not None and length is not None and length > max_size:
            resp.close()
            raise SizeLimitError(what, max_size, length)
        if size is not None and length is not None and length != size:
            resp.close()
            raise SizeMismatchError(what, size, length)

        def chunks() -> Generator[bytes, None, None]:
            big = length is not None and length >= HASH_AHEAD
            hashing: Verifier | _HashAhead = _HashAhead(verifier) if big else verifier
            received = 0
            try:
                for chunk in _raw_chunks(resp, chunk_size, "GET", url):
                    received += len(chunk)
                    if size is not None and received > size:
                        raise SizeMismatchError(what, size, received)
                    if max_size is not None and received > max_size:
                        raise SizeLimitError(what, max_size, received)
                    hashing.update(chunk)
                    yield chunk
                hashing.verify()
            finally:
                if isinstance(hashing, _HashAhead):
                    hashing.close()

        stream = chunks()
        try:
            yield stream
        finally:
            stream.close()  # a consumer that stopped early: stop the hashing helper now
            resp.close()

    def download_blob(
        self,
        registry: str,
        repository: str,
        digest: str,
        path: str | os.PathLike[str],
        *,
        size: int | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> BlobInfo:
        """Stream a blob to ``path`` atomically: written to a temporary file, verified, renamed.

        Nothing is left at ``path`` (nor a temporary file) when anything fails.
        """
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        done = 0
        try:
            with (
                os.fdopen(fd, "wb") as out,
                self.stream_blob(registry, repository, digest, size=size) as stream,
            ):
                for chunk in stream:
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, size)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return BlobInfo(digest, done, None)

    def get_blob_range(
        self,
        registry: str,
        repository: str,
        digest: str,
        start: int,
        end: int | None = None,
        *,
        size: int | None = None,
        max_size: int | None = None,
    ) -> tuple[bytes, bool]:
        """Bytes ``start..end`` (inclusive; negative ``start`` = suffix) of a blob, unverified.

        Returns ``(data, partial)``; ``partial`` is False when the server ignored the Range and
        sent the whole blob: that answer is kept (not asked for again), verified against
        ``digest`` (and ``size``), and is the whole blob. Over ``max_size`` bytes it is refused
        with :class:`SizeLimitError` before its body is read, when Content-Length says so.
        """
        rng = f"bytes={start}" if start < 0 else f"bytes={start}-{'' if end is None else end}"
        resp, url = self._open_blob(registry, repository, digest, headers={"Range": rng})
        with contextlib.closing(resp):
            if resp.status_code == 206:
                limit = MAX_MANIFEST_SIZE
                data = _read_limited(
                    resp,
                    limit,
                    lambda n: SizeLimitError(f"range of blob {digest}", limit, n),
                    method="GET",
                    url=url,
                )
                return data, True
            what = f"blob {repository}@{digest}"
            length = _length(resp.headers.get("Content-Length"))
            if max_size is not None and length is not None and length > max_size:
                raise SizeLimitError(what, max_size, length)
            verifier = Digest.parse(digest).verifier(what, size)
            parts = []
            for chunk in _raw_chunks(resp, CHUNK, "GET", url):
                verifier.update(chunk)
                if max_size is not None and verifier.received > max_size:
                    raise SizeLimitError(what, max_size, verifier.received)
                parts.append(chunk)
            verifier.verify()
            return b"".join(parts), False

    # -- listings ---------------------------------------------------------------------------

    def _pages(
        self, url: str, registry: str, scope: Scope, purpose: str, key: str
    ) -> Iterator[str]:
        origin, seen = _origin(url), set[str]()
        while url:
            if url in seen:
                raise RegistryError(
                    "GET", redact_url(url), None, reason=f"{purpose} pages link back in a loop"
                )
            if len(seen) >= MAX_PAGES:
                raise RegistryError(
                    "GET", redact_url(url), None, reason=f"{purpose}: over {MAX_PAGES} pages"
                )
            seen.add(url)
            resp = self._request(
                "GET",
                url,
                registry=registry,
                scopes=[scope],
                purpose=purpose,
                headers={"Accept": "application/json"},
            )
            if resp.status_code != 200:
                raise self._fail(resp, "GET", url, purpose)
            with contextlib.closing(resp):
                body = _read_limited(
                    resp,
                    MAX_MANIFEST_SIZE,
                    lambda n: SizeLimitError(f"{purpose} page", MAX_MANIFEST_SIZE, n),
                    method="GET",
                    url=url,
                )
            try:
                items = json.loads(body).get(key) or []
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise ValueError(f"{key!r} is not a list of strings")
            except (ValueError, AttributeError, RecursionError) as exc:
                raise RegistryError(
                    "GET", redact_url(url), 200, reason=f"{purpose} page is not valid JSON: {exc}"
                ) from None
            yield from items
            nxt = _next_link(resp.headers.get("Link"))
            here = url
            try:
                url = urljoin(here, nxt) if nxt else ""
                leaves = bool(url) and not _same_origin(url, origin)
            except ValueError:  # e.g. <http://[::1>: no URL of this registry either
                leaves = True
            if leaves:
                # The request would carry this registry's credentials to whoever the link names.
                raise RegistryError(
                    "GET",
                    redact_url(here),
                    200,
                    reason=f"{purpose} next-page link leaves the registry: {redact_url(nxt or '')}",
                )

    def list_tags(
        self, registry: str, repository: str, page_size: int | None = None
    ) -> Iterator[str]:
        """A repository's tags, fetched page by page (``Link``) as the iterator is consumed."""
        url = self._url(registry, repository, "tags", "list")
        if page_size:
            url += f"?n={page_size}"
        return self._pages(url, registry, Scope.repository(repository), "tags", "tags")

    def catalog(self, registry: str, page_size: int | None = None) -> Iterator[str]:
        """The registry's repositories (``/v2/_catalog``), paginated lazily."""
        url = f"{self.base_url(registry)}/v2/_catalog" + (f"?n={page_size}" if page_size else "")
        scope = Scope("registry", "catalog", ("*",))
        return self._pages(url, registry, scope, "catalog", "repositories")

    def referrers(
        self, registry: str, repository: str, digest: str, artifact_type: str | None = None
    ) -> ManifestInfo:
        """The OCI 1.1 referrers index of ``digest``; falls back to the ``sha256-<hex>`` tag schema.

        A registry without either answers with an empty index (never an error).
        """
        d = Digest.parse(digest)
        url = self._url(registry, repository, "referrers", str(d))
        if artifact_type:
            url += f"?artifactType={quote(artifact_type, safe='')}"
        resp = self._request(
            "GET",
            url,
            registry=registry,
            scopes=[Scope.repository(repository)],
            purpose="referrers",
            headers={"Accept": mediatypes.OCI_INDEX, "Accept-Encoding": "identity"},
        )
        ctype = mediatypes.strip_parameters(resp.headers.get("Content-Type"))
        if resp.status_code == 200 and ctype == mediatypes.OCI_INDEX:
            with contextlib.closing(resp):
                raw = _read_limited(
                    resp,
                    self.max_manifest_size,
                    lambda n: SizeLimitError(f"referrers of {digest}", self.max_manifest_size, n),
                    method="GET",
                    url=url,
                )
            info = _manifest_info(
                raw, str(Digest.of(raw)), mediatypes.OCI_INDEX, f"referrers of {digest}"
            )
            filtered = "artifactType" in (resp.headers.get("OCI-Filters-Applied") or "")
            return info if filtered or not artifact_type else _filter_index(info, artifact_type)
        if resp.status_code not in (200, 404, 400, 405):
            raise self._fail(resp, "GET", url, f"referrers of {digest}")
        _release(resp)
        try:
            info = self.get_manifest(registry, repository, f"{d.algorithm}-{d.encoded}")
        except NotFoundError:
            raw = json.dumps(
                {"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": []}
            ).encode()
            return ManifestInfo.from_bytes(raw, str(Digest.of(raw)), mediatypes.OCI_INDEX)
        return _filter_index(info, artifact_type) if artifact_type else info

    def ping(self, registry: str) -> int:
        """GET /v2/ and return the status (200, or 401 for registries that want auth)."""
        url = f"{self.base_url(registry)}/v2/"
        resp = self._follow("GET", url, {"User-Agent": USER_AGENT}, "ping")
        _release(resp)
        if resp.status_code == 401:
            self._learn(resp, "GET", url, self.base_url(registry))
        return resp.status_code


# -- helpers --------------------------------------------------------------------------------


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _header_values(resp: requests.Response, name: str) -> list[str]:
    raw_headers = getattr(resp.raw, "headers", None)
    getlist = getattr(raw_headers, "getlist", None)
    if getlist is not None:
        values = list(getlist(name))
        if values:
            return values
    value = resp.headers.get(name)
    return [value] if value else []


def _challenges_of(resp: requests.Response) -> list[Challenge]:
    return parse_www_authenticate(_header_values(resp, "WWW-Authenticate"))


def _release(resp: requests.Response) -> None:
    """Done with ``resp``: a short body (401, 307, HEAD, …) is read to its end first, so the
    connection goes back to the pool. ``close()`` on an unread response closes the connection,
    and the next request would pay a new TCP (and TLS) handshake: a round trip or more."""
    length = _length(resp.headers.get("Content-Length"))
    bodiless = resp.request is not None and resp.request.method == "HEAD"
    if bodiless or resp.status_code in (204, 304) or (length is not None and length <= DRAIN_LIMIT):
        drain = getattr(resp.raw, "drain_conn", None)
        if drain is not None:
            with contextlib.suppress(Exception):  # a broken connection is simply not reused
                drain()
    resp.close()


def _length(value: str | None) -> int | None:
    """A Content-Length as an int; None when absent or not 1-19 ASCII digits (``"²"`` passes
    str.isdigit() but not int(), and int() refuses 4301 digits: neither may crash a read)."""
    if value and len(value) < 20 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _transport_reason(exc: requests.RequestException) -> str:
    """A short reason for a failed connection that names no URL or header."""
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.ReadTimeout):
        return "no answer before the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed (refused, reset or name not resolved)"
    return f"request failed ({type(exc).__name__})"


def _raw_chunks(resp: requests.Response, chunk_size: int, method: str, url: str) -> Iterator[bytes]:
    """The body exactly as sent (no content decoding); a cut-short body is a TransportError."""
    try:
        yield from resp.raw.stream(chunk_size, decode_content=False)
    except Exception as exc:  # urllib3 ProtocolError / ReadTimeoutError: name what broke
        name = type(exc).__name__
        if "Timeout" in name:
            reason = "no data before the read timeout"
        else:
            reason = f"body cut short ({name})"
        raise TransportError(method, redact_url(url), resp.status_code, reason=reason) from None


def _read_limited(
    resp: requests.Response,
    limit: int,
    too_big: Callable[[int], OCIInspectError],
    *,
    method: str = "GET",
    url: str = "",
) -> bytes:
    length = _length(resp.headers.get("Content-Length"))
    if length is not None and length > limit:
        raise too_big(length)
    buf = bytearray()
    for chunk in _raw_chunks(resp, 64 * 1024, method, url or (resp.url or "")):
        buf += chunk
        if len(buf) > limit:
            raise too_big(len(buf))
    return bytes(buf)


def _manifest_info(raw: bytes, digest: str, media_type: str | None, what: str) -> ManifestInfo:
    """ManifestInfo.from_bytes, also refusing JSON nested deeper than Python's parser goes."""
    try:
        return ManifestInfo.from_bytes(raw, digest, media_type)
    except RecursionError:
        raise InvalidDocumentError(what, "not JSON: nested too deeply") from None


def _sent_secrets(resp: requests.Response, extra: Sequence[str | None] = ()) -> list[str]:
    """What the request behind ``resp`` carried that must never be shown: ``extra`` (a password,
    an identity token, also form-encoded), the Authorization value and what it encodes."""
    found = [s for s in extra if s]
    found += [quote_plus(s) for s in found]
    if resp.request is not None:
        found += sent_secrets(resp.request.headers)
    return sorted(set(found), key=len, reverse=True)


def _scrub_json(value: Any, secrets: Sequence[str]) -> Any:
    """:func:`~ociinspect.trace.scrub` applied to every string (keys too) of a JSON value."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [_scrub_json(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k), secrets): _scrub_json(v, secrets) for k, v in value.items()}
    return value


def _error_details(
    resp: requests.Response, extra_secrets: Sequence[str | None] = ()
) -> tuple[RegistryErrorDetail, ...]:
    """Parse the ``{"errors": [...]}`` body of a failed answer; anything else yields ().

    Whatever secret the request carried is scrubbed from the codes, messages and details."""
    if resp.request is not None and resp.request.method == "HEAD":
        return ()
    try:
        body = _read_limited(resp, MAX_ERROR_BODY, lambda n: SizeLimitError("error body", 0, n))
        parsed = json.loads(body)
    except (OCIInspectError, ValueError, RecursionError):
        return ()
    items = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(items, list):
        return ()
    secrets = _sent_secrets(resp, extra_secrets)
    out = []
    for item in items[:10]:
        if isinstance(item, dict):
            try:  # scrubbed before shortened: a cut must not leave half a secret
                detail = _short(_scrub_json(item.get("detail"), secrets))
            except RecursionError:
                detail = "(nested too deeply to show)"
            out.append(
                RegistryErrorDetail(
                    scrub(str(item.get("code", "UNKNOWN")), secrets)[:100],
                    scrub(str(item.get("message", "")), secrets)[:500],
                    detail,
                )
            )
    return tuple(out)


def _short(detail: Any) -> Any:
    text = json.dumps(detail) if not isinstance(detail, str) else detail
    return detail if len(text) <= 500 else text[:500] + "…"


def _check_reference(reference: str) -> Digest | None:
    """A digest reference parses to a Digest; a tag is checked against the tag grammar."""
    if ":" in reference:
        try:
            return Digest.parse(reference)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(reference, exc.reason) from None
    if not _TAG.fullmatch(reference):
        raise InvalidReferenceError(reference, "not a valid tag or digest")
    return None


def _verify_document(raw: bytes, expected: Digest | None, header: str | None, what: str) -> str:
    """The digest of a manifest: the one asked for (verified), else computed; header checked."""
    if expected is not None:
        expected.verify(raw, what)
    if header:
        try:
            claimed = Digest.parse(header.strip())
        except InvalidDigestError:
            raise DigestMismatchError(
                f"{what} (Docker-Content-Digest header)", header[:200], "an unparsable digest"
            ) from None
        claimed.verify(raw, f"{what} (Docker-Content-Digest header)")
    return str(expected) if expected is not None else str(Digest.of(raw))


def _next_link(link: str | None) -> str | None:
    """The target of ``rel="next"`` in a ``Link`` header (RFC 8288), or None."""
    if not link:
        return None
    for part in link.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None


def _filter_index(info: ManifestInfo, artifact_type: str) -> ManifestInfo:
    kept = [m for m in info.json.get("manifests", []) if m.get("artifactType") == artifact_type]
    body = dict(info.json, manifests=kept)
    raw = json.dumps(body).encode()
    return ManifestInfo.from_bytes(raw, str(Digest.of(raw)), info.media_type)


# -- the shared default client and the original contract ------------------------------------

_default: RegistryClient | None = None
_default_lock = threading.Lock()


def default_client() -> RegistryClient:
    """The kernel-wide client: one session and one token cache shared by every layer."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RegistryClient()
        return _default


def set_default_client(client: RegistryClient | None) -> None:
    """Replace (or with None, reset) the shared client."""
    global _default
    with _default_lock:
        _default = client


def _client_for(token_cache: auth.TokenCache | None) -> RegistryClient:
    shared = default_client()
    if token_cache is None or token_cache is shared.token_cache:
        return shared
    return RegistryClient(
        shared.session,
        token_cache,
        shared._explicit,
        retry=shared.retry,
        timeout=shared.timeout,
        schemes=shared.schemes,
        trace=shared.trace,
        credential_lookup=shared._lookup,
    )


def manifest(
    registry: str, repo: str, reference: str, token_cache: auth.TokenCache | None = None
) -> tuple[ManifestInfo, auth.TokenCache | None]:
    """Fetch ``repo:reference`` (tag or digest). Returns the manifest and the token cache used."""
    client = _client_for(token_cache)
    return client.get_manifest(registry, repo, reference), client.token_cache


def blob(
    registry: str, repo: str, digest: str, token_cache: auth.TokenCache | None = None
) -> bytes:
    """Download a blob (layer or config), verified against ``digest``."""
    return _client_for(token_cache).get_blob(registry, repo, digest)


__all__ = [
    "BlobInfo",
    "MAX_MANIFEST_SIZE",
    "ManifestInfo",
    "RegistryClient",
    "Verifier",
    "api_host",
    "blob",
    "default_client",
    "is_loopback",
    "manifest",
    "set_default_client",
]
