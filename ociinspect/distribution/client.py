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
import functools
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from ..errors import (
    ChallengeError,
    CredentialHelperError,
    DeadlineError,
    InvalidDigestError,
    NotFoundError,
    OCIInspectError,
    RateLimitedError,
    RedirectError,
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
from . import auth, error_codes, ratelimit, routing
from . import protocol as distribution
from .challenge import Challenge, ChallengeStore, challenge_problem, select_challenge
from .credentials import Credentials
from .credentials import lookup as lookup_credentials
from .deadlines import Deadlines
from .flow import DropToken, GetToken, Learn, Send, auth_flow, challenges_of
from .protocol import MAX_MANIFEST_SIZE, BlobInfo, api_host
from .redirects import REDIRECT_STATUSES, next_hop
from .retry import RetryPolicy
from .scope import Scope
from .trace import Exchange, Secrets, Trace, redact_url, scrub, scrub_error, sent_secrets
from .transport import Request, RequestsTransport, Response, Transport, TransportFailure

if TYPE_CHECKING:
    from .mirrors import MirrorConfig

CHUNK = 1024 * 1024
#: The default bound of an in-memory blob read (:meth:`RegistryClient.get_blob`): configs and
#: small documents; larger blobs go through :meth:`RegistryClient.stream_blob` or
#: :meth:`RegistryClient.download_blob`.
MAX_BLOB_IN_MEMORY = 64 * 1024 * 1024

USER_AGENT = "ociinspect/0.1"
log = logging.getLogger("ociinspect.distribution.client")


#: Finds credentials for (registry, repository); :func:`ociinspect.distribution.credentials.lookup`.
CredentialLookup = Callable[[str, str | None], Credentials | None]


_F = TypeVar("_F", bound=Callable[..., Any])


def _scrubbing(method: _F) -> _F:
    """A public method whose typed errors leave with every secret the client knows scrubbed
    (:func:`~.trace.scrub_error`): a server may echo one into a header or body they quote."""

    @functools.wraps(method)
    def wrapper(self: RegistryClient, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except OCIInspectError as exc:
            scrub_error(exc, self.secrets.values())
            raise

    return wrapper  # type: ignore[return-value]


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
        deadlines: Deadlines | None = None,
        max_blob_in_memory: int = MAX_BLOB_IN_MEMORY,
        preconnect: int = 0,
    ) -> None:
        self.transport = transport or RequestsTransport(pool_size=pool_size)
        #: When exchanges and operations must be over (:mod:`.deadlines`).
        self.deadlines = deadlines if deadlines is not None else Deadlines()
        #: The default ``max_size`` of :meth:`get_blob` (in-memory reads).
        self.max_blob_in_memory = max_blob_in_memory
        #: Every credential sent or received, scrubbed from whatever leaves the client.
        self.secrets = Secrets()
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
        #: Pull-through mirrors tried before the origin (:mod:`.routing`); set by the Session.
        self.mirrors: MirrorConfig | None = None
        #: Hosts whose answers announced a rate limit (pulls are counted there).
        self.metered: set[str] = set()
        #: Connections opened to an origin while its first token is fetched, in a call that
        #: fans out (see :meth:`fanout`).
        self.preconnect = preconnect
        self._warmed: set[str] = set()
        self._fan = threading.local()

    def with_token_cache(self, token_cache: auth.TokenCache | None) -> RegistryClient:
        """A client like this one (transport, credentials, trace, policies) with another
        token cache."""
        other = RegistryClient(
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
            deadlines=self.deadlines,
            max_blob_in_memory=self.max_blob_in_memory,
        )
        other.secrets = self.secrets  # one trace: one set of secrets to keep out of it
        other.mirrors = self.mirrors
        return other

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
        namespace): explicit ones, else looked up once per registry and repository. A single
        :class:`Credentials` given for every registry is the origin's: a mirror being asked
        (:func:`.routing.current`) gets only what is given or found for its own host."""
        asked = routing.current()
        if isinstance(self._explicit, Credentials) and (asked is None or not asked.mirror_for):
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
        once with a token; a cached token answered with 401/403 is dropped and renewed once.

        One operation: every exchange of it (the 401, the token, redirects, retries) ends by
        the operation deadline (:mod:`.deadlines`). Whatever error leaves here has every
        secret the client knows scrubbed from it (:class:`~.trace.Secrets`)."""
        until = self.deadlines.operation_end(time.monotonic())
        origin = self.base_url(registry)
        repository = next((s.name for s in scopes if s.type == "repository"), None)
        creds = self.credentials_for(registry, repository)
        if creds is not None:
            self.secrets.add(creds.password, creds.identity_token)
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
                    last = self._follow(method, url, step.headers, purpose, until=until)
                    step = flow.send(last)
                elif isinstance(step, GetToken):
                    step = flow.send(self._token(step, until, origin))
                elif isinstance(step, DropToken):
                    if self.token_cache is not None:
                        self.token_cache.invalidate(step.key, step.token)
                    step = flow.send(None)
                elif isinstance(step, Learn):
                    self.challenges.remember(origin, (step.challenge,))
                    step = flow.send(None)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except BaseException as exc:
            if last is not None:
                last.close()
            scrub_error(exc, self.secrets.values())
            raise

    def _known(self, origin: str) -> Challenge | None:
        """The challenge ``origin`` made last, if any: requests authorise up front with it."""
        found = self.challenges.get(origin)
        return found[0] if found else None

    def _token(
        self, step: GetToken, until: float | None = None, origin: str | None = None
    ) -> auth.Token:
        """The token a :class:`~ociinspect.distribution.flow.GetToken` step asks for (within
        the operation deadline ``until``); its value joins the client's secrets.

        In a :meth:`fanout` call, the first token fetched for requests to ``origin`` has
        connections to ``origin`` opened meanwhile (:meth:`_warm`)."""

        def fetch() -> auth.Token:
            if origin is not None:
                self._warm(origin, until)
            return self._fetch_token(step.request, step.credentials, step.registry, until)

        cache = self.token_cache
        token = cache.get_or_fetch(step.key, fetch) if cache is not None else fetch()
        self.secrets.add(token.value)
        return token

    @contextlib.contextmanager
    def fanout(self, width: int | None = None) -> Iterator[None]:
        """Mark a call that will send up to ``width`` (default :attr:`preconnect`) requests
        to a registry at once, e.g. a manifest per platform of an index. Inside it, the first
        token fetched for a registry's origin has that many connections opened meanwhile (the
        token's round trips hide their connects); when the outermost such call ends, the ones
        no request used are closed (they would hold a server's connection slots idle). Calls
        that do not fan out open nothing extra."""
        state = self._fan
        depth = getattr(state, "depth", 0)
        if depth == 0:
            state.width = self.preconnect if width is None else min(width, self.preconnect)
            state.warmed = []
        state.depth = depth + 1
        try:
            yield
        finally:
            state.depth = depth
            if depth == 0:
                for warmed in state.warmed:
                    warmed.release_unused()
                state.warmed = []

    def _warm(self, origin: str, until: float | None) -> None:
        """In a :meth:`fanout` call, open its width of connections to ``origin`` in the
        background, once per origin (a transport without ``warm`` is left alone)."""
        warm = getattr(self.transport, "warm", None)
        width = getattr(self._fan, "width", 0) if getattr(self._fan, "depth", 0) else 0
        if not width or warm is None:
            return
        with self._lock:
            if origin in self._warmed:
                return
            self._warmed.add(origin)
        connect = self.timeout[0]
        if until is not None:
            connect = max(0.0, min(connect, until - time.monotonic()))
        warmed = warm(origin + "/v2/", width, connect)
        if warmed is not None:
            self._fan.warmed.append(warmed)

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
        self,
        request: auth.TokenRequest,
        creds: Credentials | None,
        registry: str,
        until: float | None = None,
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
            resp = self._follow(method, url, headers, "token", body=form, until=until)
        else:
            if creds is not None and creds.password is not None:
                headers["Authorization"] = auth.basic_authorization(creds.username, creds.password)
            method, url = "GET", request.url()
            resp = self._follow(method, url, headers, "token", until=until)
        if resp.status_code != 200:
            secrets = (creds.password, creds.identity_token) if creds is not None else ()
            errors = _error_details(resp, secrets)
            username = creds.username if creds is not None else None
            raise error_codes.token_refused(method, url, resp.status_code, errors, username)
        limit = auth.MAX_TOKEN_RESPONSE_BYTES
        body = _read_body(resp, limit, f"token response from {redact_url(url)}", url, method)
        with contextlib.suppress(ValueError, RecursionError):  # a refresh token handed out too
            answer = json.loads(body)
            if isinstance(answer, dict) and isinstance(answer.get("refresh_token"), str):
                self.secrets.add(answer["refresh_token"])
        clock = self.token_cache.clock if self.token_cache is not None else time.monotonic
        return auth.parse_token_response(body, clock(), url=redact_url(url), method=method)

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        body: bytes | None = None,
        *,
        until: float | None = None,
    ) -> Response:
        """Follow redirects by hand: credentials never cross to another origin, no downgrade.

        Each ``Location`` is resolved and checked by the one URL parser (:mod:`.urls`, through
        :func:`.redirects.next_hop`); one that holds a credential the client sent or received
        (a server echoing a password or token into it) is refused, never requested."""
        try:
            return self._follow_hops(method, url, headers, purpose, body, until)
        except OCIInspectError as exc:
            scrub_error(exc, self.secrets.values())
            raise

    def _follow_hops(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        purpose: str,
        body: bytes | None,
        until: float | None,
    ) -> Response:
        sent = dict(headers)
        seen = {url}
        here = url
        for _hop in range(self.max_redirects + 1):
            resp = self._attempt(method, here, sent, purpose, body, until=until)
            location = resp.headers.get("Location")
            if resp.status_code not in REDIRECT_STATUSES or not location:
                return resp
            resp.release()
            hop = next_hop(method, here, resp.status_code, location, body is not None)
            if self.secrets.found_in(location) or self.secrets.found_in(hop.url):
                raise RedirectError(
                    method,
                    redact_url(here),
                    resp.status_code,
                    reason="the Location header holds a credential this client sent or "
                    "received; refusing to put it in a request",
                )
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
        *,
        until: float | None = None,
    ) -> Response:
        """Send once, or again while the retry policy allows; record every try in the trace.

        Each try carries its deadline (:meth:`.deadlines.Deadlines.exchange`: a blob's body a
        minimum rate, anything else a fixed time, and never past ``until``, the operation's
        end); a try the deadline ended is a :class:`DeadlineError`, not retried."""
        start = time.monotonic()
        attempt = 0
        request = Request(method, url, dict(headers), body)
        self.secrets.add_sent(headers)
        while True:
            attempt += 1
            t0 = time.monotonic()
            deadline = self.deadlines.exchange(t0, until, blob=purpose == "blob")
            failure: TransportFailure | None = None
            try:
                resp = self.transport.send(request, self.timeout, deadline)
            except TransportFailure as exc:
                failure = exc
            if failure is not None:  # raised below, outside the except: no __context__
                self._record(
                    method, url, purpose, t0, headers, None, error=failure.reason,
                    proxy=failure.proxy,
                )  # fmt: skip
                if failure.deadline:
                    limit = deadline.at - deadline.start if deadline.at is not None else None
                    raise DeadlineError(
                        method, redact_url(url), None, reason=f"{purpose}: {failure.reason}",
                        what=purpose, limit=limit, received=0,
                    )  # fmt: skip
                wait = self.retry.delay(attempt)
                if (
                    self.retry.retryable(method, None)
                    and self.retry.should_retry(attempt, time.monotonic() - start, wait)
                    and (until is None or time.monotonic() + wait < until)
                ):
                    self._sleep(wait)
                    continue
                raise TransportError(method, redact_url(url), None, reason=failure.reason)
            self._record(method, url, purpose, t0, headers, resp)
            if self.retry.retryable(method, resp.status_code) and not self._futile(resp):
                wait = self.retry.delay(attempt, resp.headers.get("Retry-After"))
                if self.retry.should_retry(attempt, time.monotonic() - start, wait) and (
                    until is None or time.monotonic() + wait < until
                ):
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
        proxy: str | None = None,
    ) -> None:
        """Add one try, answered (``resp``) or failed (``error``), to the trace: the headers
        as sent (the transport's ``Cookie`` included, its value hidden), the proxy it went
        through, every secret the client knows scrubbed."""
        elapsed = time.monotonic() - t0
        secrets = self.secrets.values()
        if resp is None:
            exchange = Exchange.record(
                method, url, None, purpose, elapsed, 0, headers, error=error,
                secrets=secrets, proxy=proxy,
            )  # fmt: skip
        else:
            size = distribution.content_length(resp.headers.get("Content-Length")) or 0
            sent = getattr(resp.request, "headers", None) or headers
            exchange = Exchange.record(
                method, url, resp.status_code, purpose, elapsed, size, sent, dict(resp.headers),
                secrets=secrets, proxy=getattr(resp, "proxy", None),
            )  # fmt: skip
        exchange = routing.annotate(exchange, resp.headers if resp else None, datetime.now(UTC))
        if exchange.ratelimit is not None:
            self.metered.add(urlsplit(exchange.url).netloc.lower())
        self.trace.add(exchange)

    def _futile(self, resp: Response) -> bool:
        """A 429 saying no quota is left until a reset beyond the retry budget: not retried."""
        if resp.status_code != 429:
            return False
        rate = ratelimit.parse(resp.headers, datetime.now(UTC))
        return ratelimit.retry_is_futile(rate, datetime.now(UTC), self.retry.max_retry_after)

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
        direct: bool = False,
    ) -> tuple[Response, str]:
        """``method /v2/<repository>/<path>`` with pull access, read raw. An answer not in
        ``ok`` raises its typed error about ``what`` (with ``what=None`` the caller judges).

        Mirrors configured for the repository are asked first, in order; a mirror's answer
        outside ``ok`` (or none) moves on, and the last endpoint, normally the origin, is final
        (:mod:`.routing`). ``direct`` asks the origin only."""
        sent = {"Accept": accept} if accept is not None else {}
        sent = {**sent, "Accept-Encoding": "identity", **(headers or {})}
        places = routing.plan(registry, repository, path, None if direct else self.mirrors)
        for place in places:
            final = place is places[-1]
            stands_in = registry if place.mirror else None
            where = routing.Asking(place.registry, place.repository, stands_in)
            with routing.asking(where):
                url = self._url(place.registry, place.repository, path)
                try:
                    resp = self._request(
                        method,
                        url,
                        registry=place.registry,
                        scopes=[Scope.repository(place.repository)],
                        purpose=purpose,
                        headers=sent,
                    )
                except OCIInspectError as exc:
                    if final:
                        raise
                    log.info("%s %s: %s; asking the next endpoint", method, redact_url(url), exc)
                    continue
                if final and what is not None and resp.status_code not in ok:
                    raise self._fail(resp, method, url, what)
            if final or resp.status_code in ok:
                return resp, url
            status = resp.status_code
            log.info("%s %s: %s; asking the next endpoint", method, redact_url(url), status)
            resp.release()
        raise AssertionError("unreachable: the last endpoint's answer is final")

    def _fail(self, resp: Response, method: str, url: str, what: str) -> OCIInspectError:
        """The typed error for a non-success answer to ``method url``, every secret the client
        knows scrubbed from it (a server may echo one into its error body or headers)."""
        errors = _error_details(resp, self.secrets.values())
        refusal = None
        if resp.status_code == 401:
            # RFC 6750 3.1: the challenge says why a Bearer token was refused.
            refusal = next((c.error for c in challenges_of(resp) if c.error), None)
        if resp.url and not distribution.same_origin(resp.url, distribution.origin(url)):
            what = f"{what} (answered by {redact_url(resp.url)} after a redirect)"
        error = error_codes.answer_error(method, url, resp.status_code, errors, what, refusal)
        if isinstance(error, RateLimitedError):
            error = self._rate_limited(error, resp, url)
        scrub_error(error, self.secrets.values())
        return error

    def _rate_limited(self, error: RateLimitedError, resp: Response, url: str) -> RateLimitedError:
        """The 429's error with what its headers said of the limit, and the next step."""
        asked = routing.current()
        registry = asked.registry if asked is not None else urlsplit(url).netloc
        repository = asked.repository if asked is not None else None
        origin = (asked.mirror_for or registry) if asked is not None else registry
        logged_in = self.credentials_for(registry, repository) is not None
        mirrored = routing.mirrored(self.mirrors, origin, repository)
        now = datetime.now(UTC)
        return routing.rate_limited(
            error, resp.headers, now, logged_in=logged_in, mirror_configured=mirrored
        )

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

    @_scrubbing
    def get_manifest(
        self,
        registry: str,
        repository: str,
        reference: str,
        *,
        accept: Sequence[str] = mediatypes.MANIFEST_ACCEPT,
        size: int | None = None,
    ) -> ManifestInfo:
        """GET a manifest or index by tag or digest, verified, with its digest always known.

        At most ``max_manifest_size`` bytes: a descriptor ``size`` over it is refused before
        any request, a ``Content-Length`` over it before the body, a body past it as it
        arrives (:class:`SizeLimitError`)."""
        expected = distribution.check_reference(reference)
        what = f"manifest {repository}{':' if expected is None else '@'}{reference}"
        if size is not None and size > self.max_manifest_size:
            raise SizeLimitError(f"{what} (by its descriptor)", self.max_manifest_size, size)
        resp, url = self._ask_manifest("GET", registry, repository, reference, accept, what)
        limit, too_big = self.max_manifest_size, None  # over the limit: SizeLimitError
        if size is not None and size < limit:
            exact = size  # the descriptor is smaller: over it is a SizeMismatchError
            limit, too_big = exact, lambda n: SizeMismatchError(what, exact, n)
        raw = _read_body(resp, limit, what, url, too_big=too_big)
        if size is not None and len(raw) != size:
            raise SizeMismatchError(what, size, len(raw))
        claimed = resp.headers.get("Docker-Content-Digest")
        # Schema1 first: its digest covers the payload without the signatures a registry adds.
        media_type = distribution.manifest_media_type(resp.headers.get("Content-Type"), what)
        digest = distribution.verify_document(raw, expected, claimed, what)
        return distribution.manifest_info(raw, digest, media_type, what)

    @_scrubbing
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
            found: Digest | None = Digest.parse(header)
        except InvalidDigestError:
            found = None
        if found is None:  # raised outside the except: no __context__ quoting the header
            raise RegistryError(
                "HEAD", redact_url(url), 200,
                reason=self.secrets.scrub(f"invalid Docker-Content-Digest {header[:200]!r}"),
            )
        return BlobInfo(found, length, media_type)

    def probe_rate_limit(
        self, registry: str, repository: str | None, reference: str = "latest"
    ) -> tuple[int, ratelimit.RateLimit | None]:
        """What the origin says of its rate limit, from one HEAD of a manifest (``repository``
        None: of ``/v2/``): (status, limit). Docker Hub answers HEAD with the same headers as
        GET and counts no pull for it; no GET is ever sent here, and mirrors are not asked."""
        if repository is None:
            url = f"{self.base_url(registry)}/v2/"
            resp = self._request(
                "HEAD", url, registry=registry, scopes=[], purpose="ratelimit", headers={}
            )
        else:
            accept = ", ".join(mediatypes.MANIFEST_ACCEPT)
            path = f"manifests/{reference}"
            resp, url = self._ask(
                "HEAD", registry, repository, path, purpose="ratelimit", what=None,
                accept=accept, direct=True,
            )  # fmt: skip
        resp.release()
        if resp.status_code in (401, 403, 429) or resp.status_code >= 500:
            raise self._fail(resp, "HEAD", url, f"the rate limit of {registry}")
        return resp.status_code, ratelimit.parse(resp.headers, datetime.now(UTC))

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

    @_scrubbing
    def get_blob(
        self,
        registry: str,
        repository: str,
        digest: Digest,
        *,
        size: int | None = None,
        max_size: int | None = None,
    ) -> bytes:
        """Download a blob into memory, verified against ``digest`` (and ``size`` when known).

        At most ``max_size`` bytes (default :attr:`max_blob_in_memory`, 64 MiB), checked
        against ``size`` before any request, against ``Content-Length`` before the body and
        while reading: larger blobs go through :meth:`stream_blob` or :meth:`download_blob`."""
        limit = self.max_blob_in_memory if max_size is None else max_size
        chunks: list[bytes] = []
        with self.stream_blob(registry, repository, digest, size=size, max_size=limit) as stream:
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
        if max_size is not None and size is not None and size > max_size:
            raise SizeLimitError(f"{what} (by its descriptor)", max_size, size)
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
        body = _raw_chunks(resp, chunk_size, "GET", url, what)
        stream = verified(body, verifier, max_size=max_size, ahead=ahead)
        try:
            yield stream
        finally:
            stream.close()  # a consumer that stopped early: stop the hashing helper now
            resp.close()

    @_scrubbing
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

    @_scrubbing
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
            body = _raw_chunks(resp, CHUNK, "GET", url, what)
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
            try:
                here = url
                url = distribution.next_page(here, resp.headers.get("Link"), start, purpose)
                if url and self.secrets.found_in(url):
                    raise RegistryError(
                        "GET", redact_url(here), 200, reason=f"{purpose} next-page link holds "
                        "a credential this client sent or received; refusing to request it",
                    )  # fmt: skip
            except OCIInspectError as exc:
                scrub_error(exc, self.secrets.values())
                raise

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
        return self.find_referrers(registry, repository, digest, artifact_type)[0]

    @_scrubbing
    def find_referrers(
        self, registry: str, repository: str, digest: Digest, artifact_type: str | None = None
    ) -> tuple[ManifestInfo, str]:
        """:meth:`referrers`, and where the answer came from: ``"api"`` (the referrers API),
        ``"tag"`` (the ``sha256-<hex>`` fallback tag) or ``"none"`` (neither: an empty index)."""
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
            return distribution.filter_referrers(info, artifact_type, applied), "api"
        if resp.status_code not in (200, 404, 400, 405):
            raise self._fail(resp, "GET", url, what)
        resp.release()
        try:  # HEAD first: a missing fallback tag (the usual case) then costs no pull
            head = self.head_manifest(registry, repository, distribution.referrers_tag(d))
            info = head.manifest or self.get_manifest(registry, repository, head.digest)
        except NotFoundError:
            return oci_index(), "none"
        return distribution.filter_referrers(info, artifact_type), "tag"

    @_scrubbing
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


def _raw_chunks(
    resp: Response, chunk_size: int, method: str, url: str, what: str = ""
) -> Iterator[bytes]:
    """The body exactly as sent (no content decoding); a cut-short body is a TransportError,
    one its deadline ended a :class:`DeadlineError` naming ``what``."""
    failure: TransportFailure | None = None
    received = 0
    try:
        for chunk in resp.chunks(chunk_size):
            received += len(chunk)
            yield chunk
    except TransportFailure as exc:
        failure = exc
    if failure is None:
        return
    shown = redact_url(url)  # raised outside the except block: no __context__ to carry
    if failure.deadline:
        reason = f"{what}: {failure.reason}" if what else failure.reason
        raise DeadlineError(
            method, shown, resp.status_code, reason=reason, what=what, received=received
        )
    raise TransportError(method, shown, resp.status_code, reason=failure.reason)


def _read_limited(
    resp: Response,
    limit: int,
    too_big: Callable[[int], OCIInspectError],
    *,
    method: str = "GET",
    url: str = "",
    what: str = "",
) -> bytes:
    length = distribution.content_length(resp.headers.get("Content-Length"))
    if length is not None and length > limit:
        raise too_big(length)
    buf = bytearray()
    for chunk in _raw_chunks(resp, 64 * 1024, method, url or resp.url, what):
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
        return _read_limited(resp, limit, refuse, method=method, url=url, what=what)


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
