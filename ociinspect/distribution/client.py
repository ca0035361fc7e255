"""The OCI distribution client: the only module of ociinspect that talks HTTP.

One :class:`RegistryClient` owns a :class:`~ociinspect.distribution.transport.Transport` (the
seam under it; ``requests`` is the adapter), a :class:`~ociinspect.distribution.auth.TokenCache`
and a :class:`~ociinspect.distribution.trace.Trace`. Every request goes through three nested
loops, each the one place that decides its policy:

``_request``  auth: drives :func:`~ociinspect.distribution.flow.auth_flow` (attach, 401, token)
``_follow``   redirects: at most ``max_redirects`` hops; credentials dropped when the origin changes
``_attempt``  retries: GET/HEAD only, on 408/429/5xx and connection errors, ``Retry-After`` honoured

Bytes are read raw (``Accept-Encoding: identity``, no transparent decompression) and verified:
a by-digest fetch must hash to the digest asked for, ``Docker-Content-Digest`` is checked when
present and the digest computed when absent, descriptor sizes are enforced while streaming.

This module only drives HTTP; what the requests and answers mean is decided without I/O by
:mod:`~ociinspect.distribution.protocol` (addresses, references, manifests, listings, referrers),
:mod:`~ociinspect.distribution.error_codes` (failed answers),
:mod:`~ociinspect.distribution.redirects` (each hop), :mod:`~ociinspect.distribution.challenge` and
:mod:`~ociinspect.distribution.auth` (challenges, tokens, Basic),
:mod:`~ociinspect.distribution.retry` (when to try again) and
:mod:`~ociinspect.values.streams` (verification).

A client belongs to a :class:`~ociinspect.session.Session`; :mod:`ociinspect.registry` keeps
the seed's ``manifest()``/``blob()`` contract over the default session's client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlencode

from ..errors import (
    ChallengeError,
    CredentialHelperError,
    InvalidDigestError,
    NotFoundError,
    OCIInspectError,
    RegistryError,
    RegistryErrorDetail,
    SizeLimitError,
    SizeMismatchError,
    TooManyRedirectsError,
    TransportError,
)
from ..values import mediatypes
from ..values.digest import Digest
from ..values.models import ManifestInfo, oci_index
from ..values.streams import HASH_AHEAD, verified
from . import auth, error_codes
from . import protocol as distribution
from .challenge import Challenge, ChallengeStore, challenge_problem, select_challenge
from .credentials import Credentials
from .credentials import lookup as lookup_credentials
from .flow import DropToken, GetToken, Learn, Send, auth_flow, challenges_of
from .protocol import MAX_MANIFEST_SIZE, BlobInfo, api_host
from .redirects import REDIRECT_STATUSES, next_hop
from .retry import RetryPolicy
from .scope import Scope
from .trace import Exchange, Trace, redact_url, scrub, sent_secrets
from .transport import Request, RequestsTransport, Response, Transport, TransportFailure

CHUNK = 1024 * 1024

USER_AGENT = "ociinspect/0.1"
log = logging.getLogger("ociinspect.distribution.client")


#: Finds credentials for (registry, repository); :func:`ociinspect.distribution.credentials.lookup`.
CredentialLookup = Callable[[str, str | None], Credentials | None]


class RegistryClient:
    """Talks to OCI distribution registries. Thread-safe; share one per kernel.

    ``token_cache=None`` disables token caching (every call earns its own token).
    ``credentials`` is a :class:`Credentials`, a mapping of registry host to Credentials, or
    None to look them up in Docker's and containers' auth files on first use.
    ``schemes`` overrides http/https per registry host (default: http for loopback only).
    """

    def __init__(
        self,
        transport: Transport | None = None,
        token_cache: auth.TokenCache | None | object = ...,
        credentials: Credentials | Mapping[str, Credentials] | None = None,
        *,
        retry: RetryPolicy | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        max_redirects: int = 10,
        max_manifest_size: int = MAX_MANIFEST_SIZE,
        schemes: Mapping[str, str] | None = None,
        trace: Trace | None = None,
        credential_lookup: CredentialLookup | None = lookup_credentials,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 32,
    ) -> None:
        self.transport = transport or RequestsTransport(pool_size=pool_size)
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
        self._creds: dict[tuple[str, str | None], Credentials | None] = {}
        #: The challenge each registry endpoint made last (scheme://host:port, canonical).
        self.challenges = ChallengeStore()

    def with_token_cache(self, token_cache: auth.TokenCache | None) -> RegistryClient:
        """A client like this one (transport, credentials, trace, policies) with another
        token cache."""
        return RegistryClient(
            self.transport,
            token_cache,
            self._explicit,
            retry=self.retry,
            timeout=self.timeout,
            max_redirects=self.max_redirects,
            max_manifest_size=self.max_manifest_size,
            schemes=self.schemes,
            trace=self.trace,
            credential_lookup=self._lookup,
            sleep=self._sleep,
        )

    def __repr__(self) -> str:
        cached = len(self.token_cache) if self.token_cache is not None else "off"
        return f"<RegistryClient tokens={cached} exchanges={len(self.trace)}>"

    # -- addressing -------------------------------------------------------------------------

    def base_url(self, registry: str) -> str:
        """``http://127.0.0.1:5000`` or ``https://registry-1.docker.io`` for a registry name."""
        return distribution.base_url(registry, self.schemes)

    def _url(self, registry: str, repository: str, *parts: str) -> str:
        return "/".join([self.base_url(registry), "v2", repository, *parts])

    # -- credentials ------------------------------------------------------------------------

    def credentials_for(
        self, registry: str, repository: str | None = None
    ) -> Credentials | None:
        """The credentials for ``registry`` (and ``repository``: auth.json may scope them to a
        namespace): explicit ones, else looked up once per registry and repository."""
        if isinstance(self._explicit, Credentials):
            return self._explicit
        if isinstance(self._explicit, Mapping):
            found = self._explicit.get(registry) or self._explicit.get(api_host(registry))
            if found is not None:
                return found
        key = (registry, repository)
        with self._lock:
            if key not in self._creds:
                try:
                    found = self._lookup(registry, repository) if self._lookup else None
                except CredentialHelperError as exc:
                    # As docker does for public images: say why, then go on anonymously.
                    log.warning("%s; continuing without credentials", exc)
                    found = None
                self._creds[key] = found
            return self._creds[key]

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
    ) -> Response:
        """Send with the auth the registry wants. A 401 teaches the challenge and is retried
        once with a token; a cached token answered with 401/403 is dropped and renewed once."""
        origin = self.base_url(registry)
        repository = next((s.name for s in scopes if s.type == "repository"), None)
        creds = self.credentials_for(registry, repository)
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        flow = auth_flow(
            sent, self._known(origin), creds, scopes, registry, origin, method, url
        )
        step = next(flow)
        last: Response | None = None
        try:
            while True:
                if isinstance(step, Send):
                    if last is not None:
                        last.release()  # refused: the next try needs the connection
                    last = self._follow(method, url, step.headers, purpose)
                    step = flow.send(last)
                elif isinstance(step, GetToken):
                    step = flow.send(self._token(step))
                elif isinstance(step, DropToken):
                    if self.token_cache is not None:
                        self.token_cache.invalidate(step.key, step.token)
                    step = flow.send(None)
                elif isinstance(step, Learn):
                    self.challenges.remember(origin, (step.challenge,))
                    step = flow.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except BaseException:
            if last is not None:
                last.close()
            raise

    def _known(self, origin: str) -> Challenge | None:
        """The challenge ``origin`` made last, if any: requests authorise up front with it."""
        found = self.challenges.get(origin)
        return found[0] if found else None

    def _token(self, step: GetToken) -> auth.Token:
        """The token a :class:`~ociinspect.distribution.flow.GetToken` step asks for."""

        def fetch() -> auth.Token:
            return self._fetch_token(step.request, step.credentials, step.registry)

        cache = self.token_cache
        return cache.get_or_fetch(step.key, fetch) if cache is not None else fetch()

    def _learn(self, resp: Response, method: str, url: str, origin: str) -> Challenge | None:
        """Remember the challenge of a 401 so later requests to the origin authorise up front."""
        chosen = select_challenge(challenges_of(resp))
        problem = challenge_problem(chosen) if chosen is not None else None
        if problem is not None:
            resp.close()
            reason = scrub(problem, _secrets_of(resp))
            raise ChallengeError(method, redact_url(url), 401, reason=reason)
        if chosen is not None:
            self.challenges.remember(origin, (chosen,))
        return chosen

    def _fetch_token(
        self, request: auth.TokenRequest, creds: Credentials | None, registry: str
    ) -> auth.Token:
        """The token handshake: GET the realm (Basic auth when we have a password), or the
        OAuth2 POST when we hold an identity token. Credentials never go over plain http to a
        host that is not loopback."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if creds is not None:
            distribution.refuse_plain_http(request.realm, registry)
        if creds is not None and creds.identity_token is not None:
            method, url = "POST", request.realm
            form = urlencode(request.oauth2_form(creds.identity_token)).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            resp = self._follow(method, url, headers, "token", body=form)
        else:
            if creds is not None and creds.password is not None:
                headers["Authorization"] = auth.basic_authorization(creds.username, creds.password)
            method, url = "GET", request.url()
            resp = self._follow(method, url, headers, "token")
        if resp.status_code != 200:
            secrets = (creds.password, creds.identity_token) if creds is not None else ()
            errors = _error_details(resp, secrets)
            username = creds.username if creds is not None else None
            raise error_codes.token_refused(method, url, resp.status_code, errors, username)
        limit = auth.MAX_TOKEN_RESPONSE_BYTES
        body = _read_body(resp, limit, f"token response from {redact_url(url)}", url, method)
        clock = self.token_cache.clock if self.token_cache is not None else time.monotonic
        return auth.parse_token_response(body, clock(), url=redact_url(url), method=method)

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        body: bytes | None = None,
    ) -> Response:
        """Follow redirects by hand: credentials never cross to another origin, no downgrade."""
        sent = dict(headers)
        seen = {url}
        here = url
        for _hop in range(self.max_redirects + 1):
            resp = self._attempt(method, here, sent, purpose, body)
            location = resp.headers.get("Location")
            if resp.status_code not in REDIRECT_STATUSES or not location:
                return resp
            resp.release()
            hop = next_hop(method, here, resp.status_code, location, body is not None)
            method, body = hop.method, body if hop.keeps_body else None
            if body is None:
                sent = {k: v for k, v in sent.items() if k.lower() != "content-type"}
            if hop.moved:
                # Dropped for good: a CDN is never handed the registry's credentials.
                sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
            if hop.url in seen:
                raise TooManyRedirectsError(
                    method,
                    redact_url(url),
                    resp.status_code,
                    reason=f"redirect loop back to {redact_url(hop.url)}",
                )
            seen.add(hop.url)
            here = hop.url
        raise TooManyRedirectsError(
            method, redact_url(url), None, reason=f"more than {self.max_redirects} redirects"
        )

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        body: bytes | None = None,
    ) -> Response:
        """Send once, or again while the retry policy allows; record every try in the trace."""
        start = time.monotonic()
        attempt = 0
        request = Request(method, url, dict(headers), body)
        while True:
            attempt += 1
            t0 = time.monotonic()
            try:
                resp = self.transport.send(request, self.timeout)
            except TransportFailure as exc:
                self._record(method, url, purpose, t0, headers, None, error=exc.reason)
                wait = self.retry.delay(attempt)
                if self.retry.retryable(method, None) and self.retry.should_retry(
                    attempt, time.monotonic() - start, wait
                ):
                    self._sleep(wait)
                    continue
                raise TransportError(method, redact_url(url), None, reason=exc.reason) from None
            self._record(method, url, purpose, t0, headers, resp)
            if self.retry.retryable(method, resp.status_code):
                wait = self.retry.delay(attempt, resp.headers.get("Retry-After"))
                if self.retry.should_retry(attempt, time.monotonic() - start, wait):
                    resp.release()
                    self._sleep(wait)
                    continue
            return resp

    def _record(
        self,
        method: str,
        url: str,
        purpose: str,
        t0: float,
        headers: Mapping[str, str],
        resp: Response | None,
        error: str | None = None,
    ) -> None:
        """Add one try, answered (``resp``) or failed (``error``), to the trace."""
        elapsed = time.monotonic() - t0
        if resp is None:
            exchange = Exchange.record(method, url, None, purpose, elapsed, 0, headers, error=error)
        else:
            size = distribution.content_length(resp.headers.get("Content-Length")) or 0
            exchange = Exchange.record(
                method, url, resp.status_code, purpose, elapsed, size, headers, dict(resp.headers)
            )
        self.trace.add(exchange)

    # -- requests for a repository, and their failures --------------------------------------

    def _ask(
        self,
        method: str,
        registry: str,
        repository: str,
        path: str,
        *,
        purpose: str,
        what: str | None,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200,),
    ) -> tuple[Response, str]:
        """``method /v2/<repository>/<path>`` with pull access, read raw. An answer not in
        ``ok`` raises its typed error about ``what`` (with ``what=None`` the caller judges)."""
        url = self._url(registry, repository, path)
        wanted = {"Accept": accept} if accept is not None else {}
        resp = self._request(
            method,
            url,
            registry=registry,
            scopes=[Scope.repository(repository)],
            purpose=purpose,
            headers={**wanted, "Accept-Encoding": "identity", **(headers or {})},
        )
        if what is not None and resp.status_code not in ok:
            raise self._fail(resp, method, url, what)
        return resp, url

    def _fail(self, resp: Response, method: str, url: str, what: str) -> OCIInspectError:
        """The typed error for a non-success answer to ``method url``."""
        errors = _error_details(resp)
        refusal = None
        if resp.status_code == 401:
            # RFC 6750 3.1: the challenge says why a Bearer token was refused.
            refusal = next((c.error for c in challenges_of(resp) if c.error), None)
        if resp.url and not distribution.same_origin(resp.url, distribution.origin(url)):
            what = f"{what} (answered by {redact_url(resp.url)} after a redirect)"
        return error_codes.answer_error(method, url, resp.status_code, errors, what, refusal)

    # -- manifests --------------------------------------------------------------------------

    def _ask_manifest(
        self,
        method: str,
        registry: str,
        repository: str,
        reference: str,
        accept: Sequence[str],
        what: str,
    ) -> tuple[Response, str]:
        path, wanted = f"manifests/{reference}", ", ".join(accept)
        return self._ask(
            method, registry, repository, path, purpose="manifest", what=what, accept=wanted
        )

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
        expected = distribution.check_reference(reference)
        what = f"manifest {repository}{':' if expected is None else '@'}{reference}"
        resp, url = self._ask_manifest("GET", registry, repository, reference, accept, what)
        limit, too_big = self.max_manifest_size, None  # over the limit: SizeLimitError
        if size is not None and size < limit:
            exact = size  # the descriptor is smaller: over it is a SizeMismatchError
            limit, too_big = exact, lambda n: SizeMismatchError(what, exact, n)
        raw = _read_body(resp, limit, what, url, too_big=too_big)
        if size is not None and len(raw) != size:
            raise SizeMismatchError(what, size, len(raw))
        claimed = resp.headers.get("Docker-Content-Digest")
        digest = distribution.verify_document(raw, expected, claimed, what)
        media_type = distribution.manifest_media_type(resp.headers.get("Content-Type"), what)
        return distribution.manifest_info(raw, digest, media_type, what)

    def head_manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        *,
        accept: Sequence[str] = mediatypes.MANIFEST_ACCEPT,
    ) -> BlobInfo:
        """Resolve a tag (or check a digest) with one HEAD; GET when no digest header comes."""
        expected = distribution.check_reference(reference)
        what = f"manifest {repository}:{reference}"
        resp, url = self._ask_manifest("HEAD", registry, repository, reference, accept, what)
        resp.release()
        header = resp.headers.get("Docker-Content-Digest")
        length = distribution.content_length(resp.headers.get("Content-Length"))
        media_type = mediatypes.strip_parameters(resp.headers.get("Content-Type"))
        if header is None or (expected is not None and header != str(expected)):
            info = self.get_manifest(registry, repository, reference, accept=accept)
            return BlobInfo(info.digest, len(info.raw), info.media_type, info)
        try:
            found = Digest.parse(header)
        except InvalidDigestError as exc:
            raise RegistryError(
                "HEAD", redact_url(url), 200, reason=f"invalid Docker-Content-Digest {header!r}"
            ) from exc
        return BlobInfo(found, length, media_type)

    # -- blobs ------------------------------------------------------------------------------

    def _open_blob(
        self,
        registry: str,
        repository: str,
        digest: Digest,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Response, str]:
        Digest.parse(digest)
        what = f"blob {repository}@{digest}"
        path = f"blobs/{digest}"
        ok = (200, 206)
        return self._ask(
            "GET", registry, repository, path, purpose="blob", what=what, ok=ok, headers=headers
        )

    def get_blob(
        self,
        registry: str,
        repository: str,
        digest: Digest,
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
        digest: Digest,
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
        length = distribution.content_length(resp.headers.get("Content-Length"))
        if max_size is not None and length is not None and length > max_size:
            resp.close()
            raise SizeLimitError(what, max_size, length)
        if size is not None and length is not None and length != size:
            resp.close()
            raise SizeMismatchError(what, size, length)
        ahead = length is not None and length >= HASH_AHEAD
        body = _raw_chunks(resp, chunk_size, "GET", url)
        stream = verified(body, verifier, max_size=max_size, ahead=ahead)
        try:
            yield stream
        finally:
            stream.close()  # a consumer that stopped early: stop the hashing helper now
            resp.close()

    def download_blob(
        self,
        registry: str,
        repository: str,
        digest: Digest,
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
                out.flush()
                os.fsync(out.fileno())  # the bytes are on disk before the name is
            os.chmod(tmp, 0o644)  # a downloaded blob is readable as any file, not mkstemp's 0600
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
        digest: Digest,
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
        if resp.status_code == 206:
            return _read_body(resp, MAX_MANIFEST_SIZE, f"range of blob {digest}", url), True
        with contextlib.closing(resp):
            what = f"blob {repository}@{digest}"
            length = distribution.content_length(resp.headers.get("Content-Length"))
            if max_size is not None and length is not None and length > max_size:
                raise SizeLimitError(what, max_size, length)
            verifier = Digest.parse(digest).verifier(what, size)
            body = _raw_chunks(resp, CHUNK, "GET", url)
            return b"".join(verified(body, verifier, max_size=max_size)), False

    # -- listings ---------------------------------------------------------------------------

    def _pages(
        self, url: str, registry: str, scope: Scope, purpose: str, key: str
    ) -> Iterator[str]:
        start, seen, limit = distribution.origin(url), set[str](), distribution.MAX_PAGES
        while url:
            if url in seen:
                raise RegistryError(
                    "GET", redact_url(url), None, reason=f"{purpose} pages link back in a loop"
                )
            if len(seen) >= limit:
                raise RegistryError(
                    "GET", redact_url(url), None, reason=f"{purpose}: over {limit} pages"
                )
            seen.add(url)
            resp = self._request(
                "GET",
                url,
                registry=registry,
                scopes=[scope],
                purpose=purpose,
                headers={"Accept": "application/json", "Accept-Encoding": "identity"},
            )
            if resp.status_code != 200:
                raise self._fail(resp, "GET", url, purpose)
            body = _read_body(resp, MAX_MANIFEST_SIZE, f"{purpose} page", url)
            yield from distribution.page_items(body, key, url, purpose)
            url = distribution.next_page(url, resp.headers.get("Link"), start, purpose)

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
        self, registry: str, repository: str, digest: Digest, artifact_type: str | None = None
    ) -> ManifestInfo:
        """The OCI 1.1 referrers index of ``digest``; falls back to the ``sha256-<hex>`` tag schema.

        A registry without either answers with an empty index (never an error).
        """
        d = Digest.parse(digest)
        what = f"referrers of {digest}"
        path = f"referrers/{d}"
        if artifact_type:
            path += f"?artifactType={quote(artifact_type, safe='')}"
        accept = mediatypes.OCI_INDEX
        resp, url = self._ask(
            "GET", registry, repository, path, purpose="referrers", what=None, accept=accept
        )
        ctype = mediatypes.strip_parameters(resp.headers.get("Content-Type"))
        if resp.status_code == 200 and ctype == mediatypes.OCI_INDEX:
            raw = _read_body(resp, self.max_manifest_size, what, url)
            info = distribution.manifest_info(raw, Digest.of(raw), mediatypes.OCI_INDEX, what)
            applied = resp.headers.get("OCI-Filters-Applied")
            return distribution.filter_referrers(info, artifact_type, applied)
        if resp.status_code not in (200, 404, 400, 405):
            raise self._fail(resp, "GET", url, what)
        resp.release()
        try:
            info = self.get_manifest(registry, repository, distribution.referrers_tag(d))
        except NotFoundError:
            return oci_index()
        return distribution.filter_referrers(info, artifact_type)

    def ping(self, registry: str) -> int:
        """GET /v2/ and return the status (200, or 401 for registries that want auth)."""
        url = f"{self.base_url(registry)}/v2/"
        resp = self._follow("GET", url, {"User-Agent": USER_AGENT}, "ping")
        resp.release()
        if resp.status_code == 401:
            self._learn(resp, "GET", url, self.base_url(registry))
        return resp.status_code


# -- reading answers ------------------------------------------------------------------------


def _secrets_of(resp: Response, extra: Sequence[str | None] = ()) -> list[str]:
    """What the request behind ``resp`` carried that must never be shown (see sent_secrets)."""
    return sent_secrets(resp.request.headers, extra)


def _raw_chunks(resp: Response, chunk_size: int, method: str, url: str) -> Iterator[bytes]:
    """The body exactly as sent (no content decoding); a cut-short body is a TransportError."""
    try:
        yield from resp.chunks(chunk_size)
    except TransportFailure as exc:
        raise TransportError(method, redact_url(url), resp.status_code, reason=exc.reason) from None


def _read_limited(
    resp: Response,
    limit: int,
    too_big: Callable[[int], OCIInspectError],
    *,
    method: str = "GET",
    url: str = "",
) -> bytes:
    length = distribution.content_length(resp.headers.get("Content-Length"))
    if length is not None and length > limit:
        raise too_big(length)
    buf = bytearray()
    for chunk in _raw_chunks(resp, 64 * 1024, method, url or resp.url):
        buf += chunk
        if len(buf) > limit:
            raise too_big(len(buf))
    return bytes(buf)


def _read_body(
    resp: Response,
    limit: int,
    what: str,
    url: str,
    method: str = "GET",
    too_big: Callable[[int], OCIInspectError] | None = None,
) -> bytes:
    """The whole body of ``resp``, which is closed after. Past ``limit`` bytes, ``too_big(n)``
    is raised: by default SizeLimitError naming ``what``."""
    with contextlib.closing(resp):
        refuse = too_big or (lambda n: SizeLimitError(what, limit, n))
        return _read_limited(resp, limit, refuse, method=method, url=url)


def _error_details(
    resp: Response, extra_secrets: Sequence[str | None] = ()
) -> tuple[RegistryErrorDetail, ...]:
    """The ``{"errors": [...]}`` of a failed answer (read, then the response closed); () for a
    HEAD, an unreadable or oversized body. Secrets the request carried are scrubbed."""
    with contextlib.closing(resp):
        if resp.request.method == "HEAD":
            return ()
        try:
            limit = error_codes.MAX_ERROR_BODY
            body = _read_limited(resp, limit, lambda n: SizeLimitError("error body", 0, n))
        except OCIInspectError:
            return ()
    return error_codes.error_details(body, _secrets_of(resp, extra_secrets))


__all__ = ["RegistryClient"]
