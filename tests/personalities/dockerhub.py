"""Docker Hub as clients meet it: ``registry-1.docker.io`` (also ``index.docker.io``), tokens from
``auth.docker.io``, blobs from a signed CDN URL on ``production.cloudflare.docker.com``.

Three fronts, three loopback addresses (``127.0.11.1``, ``.2``, ``.3`` by default). Behaviours and
their sources:

Registry (``registry-1.docker.io``)
    - Every ``/v2/`` request without a valid token is ``401`` with
      ``WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io"``
      plus ``scope="repository:<name>:pull"`` on repository paths, and the body
      ``{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":…}]}``.
      Realm and service: Docker's docs, "View pull rate and limit"
      (https://docs.docker.com/docker-hub/usage/pulls/) fetch tokens from
      ``https://auth.docker.io/token?service=registry.docker.io&scope=repository:…:pull``; the
      challenge format is the token spec's (https://distribution.github.io/distribution/spec/auth/token/).
    - A token that does not grant ``pull`` on the repository (a private repository, one of
      someone else, or one that does not exist) gets the same 401 with
      ``error="insufficient_scope"`` and detail ``[{"Type":"repository","Class":"","Name":…,
      "Action":"pull"}]``: Docker Hub does not say whether a repository exists.
    - Names of official images carry ``library/`` (``alpine`` is ``library/alpine``) and the
      API host is ``registry-1.docker.io``: ``docker image pull`` reference
      (https://docs.docker.com/reference/cli/docker/image/pull/: "uses Docker's public registry
      located at registry-1.docker.io by default", "Pulling from library/debian").
    - Manifest GET and HEAD answers carry ``ratelimit-limit: 100;w=21600``,
      ``ratelimit-remaining: N;w=21600`` and ``docker-ratelimit-source: <client address>``; a GET
      counts as a pull and decrements ``remaining``, a HEAD does not ("These headers are returned
      on both GET and HEAD requests. Using GET emulates a real pull and counts towards the limit.
      Using HEAD won't." -- https://docs.docker.com/docker-hub/usage/pulls/). Limits: 100 per 6 h
      anonymous (per IPv4 address), 200 for a Personal account (same page, table). A GET that
      fails (404) counts nothing here (not documented either way).
    - Over the limit, a manifest GET is ``429`` with
      ``{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit.
      You may increase the limit by authenticating and upgrading:
      https://www.docker.com/increase-rate-limits"}]}``: the message is the docs page's, the
      ``errors``/``TOOMANYREQUESTS`` envelope is what public captures of registry-1.docker.io
      show. Captures from 2025 on show a newer anonymous text ("You have reached your
      unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"), so a client
      must key on the status and code, never the message. No ``Retry-After`` (none documented).
    - Besides the pull limit, an abuse rate limit on all requests answers ``429`` too ("Docker
      Hub also has an overall rate limit to protect the application and infrastructure",
      docs.docker.com/docker-hub/usage/, "Abuse rate limit"); the body is not documented, the
      rig sends ``TOOMANYREQUESTS`` "Too Many Requests" without rate-limit headers (setting
      ``throttle``: that many manifest requests are refused).
    - ``ratelimitpreview/test`` is the public image Docker's docs HEAD to read the limit
      (``https://registry-1.docker.io/v2/ratelimitpreview/test/manifests/latest``, "View pull
      rate and limit").
    - Blob GET answers ``307`` to ``https://production.cloudflare.docker.com/registry-v2/docker/
      registry/v2/blobs/sha256/<xx>/<hex>/data?verify=<expiry>-<signature>``, the form seen in
      public pull logs (e.g. ``…/data?verify=1643115417-fSfYak%2BkTuLboNjQHqbYXKJkeys%3D``; the
      signature is 20 bytes, base64, URL-quoted). Blob HEAD is answered by the registry itself.

Token server (``auth.docker.io``)
    - ``GET /token?service=registry.docker.io&scope=…`` answers
      ``{"token": T, "access_token": T, "expires_in": 300, "issued_at": "<RFC 3339>"}``: both
      fields hold the same token (token spec, "Token Response Fields": ``access_token`` for OAuth2
      compatibility, ``token`` for older clients); 300 s is Docker Hub's lifetime.
    - Anonymous requests get a token granting ``pull`` on public repositories only; Basic
      credentials (``ociinspect`` and the generated password) also reach private ones.
    - Wrong credentials: ``401`` with body ``{"details":"incorrect username or password"}``, the
      body Docker Hub sends (quoted verbatim by go-containerregistry's transport tests and by
      many user reports of ``GET https://auth.docker.io/token?…: unexpected status code 401``).
    - Tokens are JWTs (``iss`` ``auth.docker.io``, ``aud`` ``registry.docker.io``, ``access``
      claims as in the token spec's example); they are HS256-signed with a session secret, so no
      client can verify them (none should).
    - ``POST /token`` (the OAuth2 form) is not reproduced: ``405``.

CDN (``production.cloudflare.docker.com``)
    - Serves the blob when ``verify`` is a valid, unexpired signature for the path; ``403``
      otherwise (what a Cloudflare signed-URL rule answers; the exact page is not reproduced).
    - Refuses any request carrying ``Authorization`` with ``400`` and the S3-style body
      ``<Error><Code>InvalidRequest</Code><Message>Missing x-amz-content-sha256</Message></Error>``.
      What Docker's CDN really does: since early 2025 Docker Hub also redirects blobs to
      Cloudflare R2 (``docker-images-prod.<id>.r2.cloudflarestorage.com``, an S3 API with
      presigned ``X-Amz-*`` queries), and R2 answers exactly that 400 to a request that also
      carries an ``Authorization`` header (ciiiii/cloudflare-docker-proxy#100, tetratelabs/car#35:
      "Cloudflare R2, the actual storage, rejects requests with the Authorization header").
      For the older ``production.cloudflare.docker.com`` host no public report shows a refusal;
      the rig applies R2's rule to it too, so a client that leaks registry credentials to the
      CDN fails loudly (and the CDN records it).
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rig.httpd import Response

from .backend import Backend
from .common import (
    ANONYMOUS,
    API_VERSION,
    WEEK,
    Credentials,
    Grant,
    Repo,
    Route,
    Service,
    Signer,
    Site,
    bearer_challenge,
    forward_with,
    issued_at,
    json_response,
    jwt_token,
    oci_error,
    parse_basic,
    parse_bearer,
    parse_route,
    parse_scope,
    read_only,
    requested_scopes,
    require_range,
    serve_file,
    text_response,
    xml_error,
)
from .front import Counters, Request, TokenEvent

REGISTRY_HOSTS = ("registry-1.docker.io", "index.docker.io")
AUTH_HOST = "auth.docker.io"
CDN_HOST = "production.cloudflare.docker.com"
REALM = f"https://{AUTH_HOST}/token"
SERVICE = "registry.docker.io"
USER = "ociinspect"
RATE_LIMIT_MESSAGE = (
    "You have reached your pull rate limit. You may increase the limit by authenticating and "
    "upgrading: https://www.docker.com/increase-rate-limits"
)
#: Rate-limit buckets kept at most (one per client address or account).
MAX_BUCKETS = 10_000
_CDN_PATH = re.compile(
    r"^/registry-v2/docker/registry/v2/blobs/sha256/([a-f0-9]{2})/([a-f0-9]{64})/data$"
)

REPOSITORIES = {
    "library/alpine": Repo("demo/multi"),
    "library/hello-world": Repo("demo/dockerlist"),
    "ratelimitpreview/test": Repo("demo/single"),
    "ociinspect/single": Repo("demo/single"),
    "ociinspect/docker": Repo("demo/docker"),
    "ociinspect/big": Repo("demo/big"),
    "ociinspect/private": Repo("private/secret", "private"),
    "someoneelse/private": Repo("private/secret", "foreign"),
}


@dataclass(frozen=True)
class Settings:
    """Docker Hub's knobs; defaults are the documented values."""

    rate_limit: int = 100  # anonymous pulls per window
    authenticated_rate_limit: int = 200  # a Personal account's pulls per window
    window_seconds: int = 21600
    token_lifetime: int = 300
    cdn_url_lifetime: int = 1200  # seconds a CDN URL stays valid (not documented)
    throttle: int = 0  # manifest requests refused by the abuse limit (429) after a reset
    ip_block: int = 11

    def __post_init__(self) -> None:
        require_range(self, 0, 1_000_000, "rate_limit", "authenticated_rate_limit", "throttle")
        require_range(self, 1, WEEK, "window_seconds")
        require_range(self, 0, WEEK, "token_lifetime", "cdn_url_lifetime")  # 0: already expired


class DockerHub(Service):
    name = "dockerhub"
    reference_host = "docker.io"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.password = "dckr_pat_" + secrets.token_urlsafe(24)
        self.signer = Signer("sha1")
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def sites(self) -> tuple[Site, ...]:
        return (
            Site(self.ip(1), REGISTRY_HOSTS, self.registry),
            Site(self.ip(2), (AUTH_HOST,), self.auth),
            Site(self.ip(3), (CDN_HOST,), self.cdn),
        )

    def credentials(self) -> Credentials:
        return Credentials(USER, self.password)

    def forget(self) -> None:
        super().forget()
        with self._lock:
            self._used.clear()

    # -- registry-1.docker.io -------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        route = parse_route(request.path)
        if route is None or route.kind == "catalog":
            return text_response(404, "404 page not found\n")
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        token = parse_bearer(request.header("Authorization"))
        grant = self.tokens.valid(token)
        if grant is None:
            expired = self.tokens.find(token) is not None
            return self._challenge(route, "invalid_token" if expired else None)
        if route.kind == "base":
            return json_response(200, {}, (API_VERSION,))
        if not grant.allows(route.name):
            return self._challenge(route, "insufficient_scope")
        if self.throttled(route):
            return oci_error(429, "TOOMANYREQUESTS", "Too Many Requests", with_detail=False)
        if route.kind == "manifest":
            return self._manifest(request, route, grant)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(route)
        return self.forward(request)

    def _challenge(self, route: Route, error: str | None) -> Response:
        detail = (
            [{"Type": "repository", "Class": "", "Name": route.name, "Action": "pull"}]
            if route.name
            else None
        )
        challenge = bearer_challenge(REALM, SERVICE, route.scope or None, error)
        return oci_error(
            401,
            "UNAUTHORIZED",
            "authentication required",
            detail,
            (("WWW-Authenticate", challenge),),
        )

    def _manifest(self, request: Request, route: Route, grant: Grant) -> Response:
        identity = grant.subject or ANONYMOUS
        if grant.subject:
            bucket, limit = f"user:{grant.subject}", self.settings.authenticated_rate_limit
            source = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{grant.subject}.users.docker.invalid"))
        else:
            bucket, limit = f"ip:{request.client_ip}", self.settings.rate_limit
            source = request.client_ip
        window = self.settings.window_seconds
        if request.method == "GET":
            with self._lock:
                used = self._used.get(bucket, 0)
                if used >= limit:
                    refused = True
                else:
                    refused = False
                    if bucket not in self._used and len(self._used) >= MAX_BUCKETS:
                        self._used.pop(next(iter(self._used)))  # forget the oldest client
                    self._used[bucket] = used + 1  # reserved; released if the GET fails
            if refused:
                return oci_error(
                    429,
                    "TOOMANYREQUESTS",
                    RATE_LIMIT_MESSAGE,
                    headers=_rate_headers(limit, 0, window, source),
                    with_detail=False,
                )
            answer = self.forward(request)
            with self._lock:
                if answer.status != 200:
                    self._used[bucket] = max(self._used.get(bucket, 1) - 1, 0)
                used = self._used.get(bucket, 0)
            if answer.status == 200:
                self.count_pull(identity, route)
        else:
            answer = self.forward(request)
            with self._lock:
                used = self._used.get(bucket, 0)
        return forward_with(answer, *_rate_headers(limit, max(limit - used, 0), window, source))

    def _blob_redirect(self, route: Route) -> Response:
        if not self.blob_known(route):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", route.reference)
        hex_ = route.reference.split(":", 1)[1]
        path = f"/registry-v2/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
        expiry = str(int(time.time()) + self.settings.cdn_url_lifetime)
        signature = quote(self.signer.sign_b64(path, expiry), safe="")
        location = f"https://{CDN_HOST}{path}?verify={expiry}-{signature}"
        headers = [
            ("Content-Type", "application/octet-stream"),
            API_VERSION,
            ("Location", location),
        ]
        return Response(307, headers, b"")

    # -- auth.docker.io -------------------------------------------------------------------

    def auth(self, request: Request) -> Response:
        if request.path != "/token":
            return text_response(404, "404 page not found\n")
        if request.method != "GET":
            return text_response(405, "method not allowed\n", (("Allow", "GET"),))
        params = request.params
        scopes = requested_scopes(params.get("scope", []))
        service = (params.get("service") or [""])[0]
        identity = ANONYMOUS
        header = request.header("Authorization")
        if header is not None:
            sent = parse_basic(header)
            if sent != (USER, self.password):
                name = sent[0] if sent else ""
                self._token_event(request, f"invalid:{name}", scopes, 401)
                return json_response(401, {"details": "incorrect username or password"})
            identity = USER
        if service != SERVICE:
            self._token_event(request, identity, scopes, 400)
            return json_response(400, {"details": f"unknown service {service!r}"})
        access: set[tuple[str, str, str]] = set()
        for scope in scopes:
            parsed = parse_scope(scope)
            repo = REPOSITORIES.get(parsed[1]) if parsed and parsed[0] == "repository" else None
            if (
                parsed
                and repo is not None
                and "pull" in parsed[2]
                and repo.may_pull(identity, USER)
            ):
                access.add(("repository", parsed[1], "pull"))
        now = time.time()
        lifetime = self.settings.token_lifetime
        subject = "" if identity == ANONYMOUS else identity
        claims = {
            "iss": AUTH_HOST,
            "sub": subject,
            "aud": SERVICE,
            "exp": int(now) + lifetime,
            "nbf": int(now) - 1,
            "iat": int(now),
            "jti": secrets.token_hex(16),
            "access": [{"type": t, "name": n, "actions": [a]} for t, n, a in sorted(access)],
        }
        token = jwt_token(claims, self.secret)
        self.tokens.remember(token, Grant(subject, frozenset(access), now + lifetime))
        self._token_event(request, identity, scopes, 200)
        body = {
            "token": token,
            "access_token": token,
            "expires_in": lifetime,
            "issued_at": issued_at(now),
        }
        return json_response(200, body)

    def _token_event(
        self, request: Request, identity: str, scopes: tuple[str, ...], status: int
    ) -> None:
        self.counters.add(TokenEvent(request.host, request.path, "get", identity, scopes, status))

    # -- production.cloudflare.docker.com -------------------------------------------------

    def cdn(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        if request.header("Authorization") is not None:
            return xml_error(400, "InvalidRequest", "Missing x-amz-content-sha256")
        match = _CDN_PATH.match(request.path)
        if match is None or match.group(2)[:2] != match.group(1):
            return text_response(404, "not found\n")
        expiry, _, signature = (request.params.get("verify") or [""])[0].partition("-")
        if not (
            expiry.isdigit()
            and int(expiry) > time.time()
            and self.signer.check_b64(signature, request.path, expiry)
        ):
            return text_response(403, "Access denied: the signed URL is invalid or expired\n")
        return serve_file(request, self.backend.blob_file("sha256:" + match.group(2)))


def _rate_headers(
    limit: int, remaining: int, window: int, source: str
) -> tuple[tuple[str, str], ...]:
    return (
        ("ratelimit-limit", f"{limit};w={window}"),
        ("ratelimit-remaining", f"{remaining};w={window}"),
        ("docker-ratelimit-source", source),
    )
