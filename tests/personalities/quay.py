"""Quay.io: ``quay.io`` (registry and token service ``/v2/auth`` on one host), blobs from the
CloudFront CDN ``cdn01.quay.io``.

Two fronts (``127.0.13.1``, ``.2`` by default). Behaviours follow Quay's own source
(github.com/quay/quay, ``endpoints/v2/``) and observed traffic:

Registry (``quay.io``)
    - ``GET /v2/`` answers the body ``true`` (not JSON): ``401`` without a token, ``200`` with
      one, and *both* carry ``WWW-Authenticate: Bearer realm="https://quay.io/v2/auth",
      service="quay.io"`` and ``Docker-Distribution-API-Version: registry/2.0``
      (``endpoints/v2/__init__.py``: ``v2_support_enabled`` and ``get_auth_headers``).
    - Public repositories are readable with no token at all (``@anon_allowed`` and
      ``require_repo_read(allow_public=True)`` on the manifest and blob routes): an anonymous
      client that never asks for a token still pulls.
    - A private repository (or a missing one) without a grant: ``401``
      ``{"errors":[{"code":"UNAUTHORIZED","message":"access to the requested resource is not
      authorized","detail":{}}]}`` with the challenge plus ``scope="repository:<name>:pull"``
      (``endpoints/v2/errors.py`` ``Unauthorized``; ``handle_registry_v2_exception`` adds the
      auth headers to every 401).
    - An invalid or expired token is a ``401`` of the same shape (``process_registry_jwt_auth``).
    - Blob GET: ``302`` (Flask's ``redirect()``) to the storage's direct URL, with
      ``Docker-Content-Digest`` and ``Accept-Ranges: bytes`` on the redirect and
      ``Cache-Control: max-age=31536000`` (``endpoints/v2/blob.py`` ``download_blob``; blob
      HEAD answers carry ``max-age=31436000``, the value ``check_blob_exists`` uses); the
      Location has the form ``https://cdn01.quay.io/quayio-production-s3/sha256/<xx>/<hex>?
      X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=600&
      X-Amz-SignedHeaders=host&X-Amz-Signature=…&region=us-east-1&namespace=<ns>&repo_name=<repo>``
      as seen in public CI logs of ``docker://quay.io/…`` copies. A live check that quay.io
      answers 302 is in seqera's wave ``ProxyClientTest`` ("should redirect a target blob on quay").

    - Over its request-rate limits, nginx in front of Quay answers ``429`` with its own HTML
      page (quay/quay's nginx ``limit_req`` zones: quay/quay#1233 "nginx: Update rate limiting
      for tags API", #4133; ``429 Too Many Requests`` from quay.io in ivanilves/lstags#204 and
      goharbor/harbor#19199). Setting ``throttle``: that many manifest requests get it.

Token service (``quay.io/v2/auth``)
    - ``GET /v2/auth?service=quay.io&scope=…`` answers ``{"token": "<JWT>"}`` only, no
      ``expires_in`` (``endpoints/v2/v2auth.py`` ``generate_registry_jwt``); the JWT lives
      3600 s (``TOKEN_VALIDITY_LIFETIME_S``).
    - Credentials sent but wrong: ``401`` ``UNAUTHORIZED`` "Specified credentials are invalid"
      (``InvalidLogin``). No credentials and no scope: ``401`` (``Unauthorized``). A scope that
      does not parse: ``400`` ``INVALID_REQUEST`` "Unable to decode repository and actions: …".
    - ``pull`` is granted on public repositories to anyone, on private ones to the robot account
      ``ociinspect+reader`` (robot accounts are named ``<namespace>+<name>``:
      https://docs.quay.io/glossary/robot-accounts.html).

CDN (``cdn01.quay.io``)
    - Serves the blob for a valid, unexpired presigned query (``X-Amz-Date`` +
      ``X-Amz-Expires``); ``403`` ``<Error><Code>AccessDenied</Code>…`` otherwise.
    - ``Authorization`` on a CDN request is served and recorded: CloudFront in front of S3 does
      not forward it to the bucket by default, and no public report shows a refusal.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from rig.httpd import Response

from .backend import Backend
from .common import (
    ANONYMOUS,
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
    json_response,
    jwt_token,
    oci_error,
    parse_basic,
    parse_bearer,
    parse_route,
    presigned_query,
    presigned_refusal,
    read_only,
    requested_scopes,
    require_range,
    serve_file,
    text_response,
    xml_error,
)
from .front import Counters, Request, TokenEvent

HOST = "quay.io"
CDN_HOST = "cdn01.quay.io"
#: nginx's page for ``limit_req_status 429``.
NGINX_429 = (
    b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    b"<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
REALM = f"https://{HOST}/v2/auth"
SERVICE = HOST
USER = "ociinspect+reader"
_CHALLENGE = bearer_challenge(REALM, SERVICE)
_API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
#: v2auth.py SCOPE_REGEX_TEMPLATE, without the optional hostname prefix.
_SCOPE = re.compile(
    r"^repository:((?:[\.a-zA-Z0-9_\-]+\/)*[\.a-zA-Z0-9_\-]+):((?:push|pull|\*)(?:,(?:push|pull|\*))*)$"
)
_CDN_PATH = re.compile(r"^/quayio-production-s3/sha256/([a-f0-9]{2})/([a-f0-9]{64})$")

REPOSITORIES = {
    "ociinspect/multi": Repo("demo/multi"),
    "ociinspect/single": Repo("demo/single"),
    "ociinspect/big": Repo("demo/big"),
    "ociinspect/private": Repo("private/secret", "private"),
    "someoneelse/private": Repo("private/secret", "foreign"),
}


@dataclass(frozen=True)
class Settings:
    """Quay's knobs: token lifetime (v2auth.py) and the CDN URL's ``X-Amz-Expires``."""

    token_lifetime: int = 3600
    cdn_url_lifetime: int = 600
    throttle: int = 0  # manifest requests answered 429 after a reset
    ip_block: int = 13

    def __post_init__(self) -> None:
        require_range(self, 0, WEEK, "token_lifetime", "cdn_url_lifetime")  # 0: already expired
        require_range(self, 0, 1_000_000, "throttle")


class Quay(Service):
    name = "quay"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.password = secrets.token_hex(32).upper()
        self.signer = Signer("sha256")

    def sites(self) -> tuple[Site, ...]:
        return (Site(self.ip(1), (HOST,), self.registry), Site(self.ip(2), (CDN_HOST,), self.cdn))

    def credentials(self) -> Credentials:
        return Credentials(USER, self.password)

    # -- quay.io ------------------------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        if request.path == "/v2/auth":
            return self._token(request)
        route = parse_route(request.path)
        if route is None or route.kind == "catalog":
            return text_response(404, "404 Not Found\n")
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        token = parse_bearer(request.header("Authorization"))
        grant = self.tokens.valid(token)
        if token is not None and grant is None:
            return self._unauthorized(route)
        if route.kind == "base":
            status = 200 if grant is not None else 401
            headers = [
                ("Content-Type", "text/html; charset=utf-8"),
                ("WWW-Authenticate", _CHALLENGE),
            ]
            return Response(status, [*headers, _API_VERSION], b"true")
        repo = REPOSITORIES.get(route.name)
        if repo is None:
            return self._unauthorized(route)
        allowed = repo.visibility == "public" or (grant is not None and grant.allows(route.name))
        if not allowed:
            return self._unauthorized(route)
        identity = grant.subject if grant is not None and grant.subject else ANONYMOUS
        if self.throttled(route):
            return Response(429, [("Content-Type", "text/html")], NGINX_429)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(route)
        answer = self.forward(request)
        if route.kind == "blob":
            answer = forward_with(answer, ("Cache-Control", "max-age=31436000"))
        if route.kind == "manifest" and request.method == "GET" and answer.status == 200:
            self.count_pull(identity, route)
        return answer

    def _unauthorized(self, route: Route) -> Response:
        challenge = bearer_challenge(REALM, SERVICE, route.scope or None)
        return oci_error(
            401,
            "UNAUTHORIZED",
            "access to the requested resource is not authorized",
            {},
            (("WWW-Authenticate", challenge),),
        )

    def _blob_redirect(self, route: Route) -> Response:
        if not self.blob_known(route):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", {})
        hex_ = route.reference.split(":", 1)[1]
        path = f"/quayio-production-s3/sha256/{hex_[:2]}/{hex_}"
        lifetime = self.settings.cdn_url_lifetime
        query = presigned_query(self.signer, path, lifetime, "AKIAOCIINSPECTRIG000", "us-east-1")
        namespace, _, repo_name = route.name.partition("/")
        location = (
            f"https://{CDN_HOST}{path}?{query}"
            f"&region=us-east-1&namespace={namespace}&repo_name={repo_name}"
        )
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Location", location),
            ("Docker-Content-Digest", route.reference),
            ("Accept-Ranges", "bytes"),
            ("Cache-Control", "max-age=31536000"),
        ]
        return Response(302, headers, b"")

    def _token(self, request: Request) -> Response:
        if request.method != "GET":
            return text_response(405, "method not allowed\n", (("Allow", "GET"),))
        params = request.params
        scopes = requested_scopes(params.get("scope", []))
        service = (params.get("service") or [""])[0]
        header = request.header("Authorization")
        identity = ANONYMOUS
        if header:
            sent = parse_basic(header)
            if sent != (USER, self.password):
                name = f"invalid:{sent[0] if sent else ''}"
                return self._token_answer(request, name, scopes, _invalid_login())
            identity = USER
        if identity == ANONYMOUS and not scopes:
            return self._token_answer(request, identity, scopes, self._unauthorized(Route("base")))
        access: set[tuple[str, str, str]] = set()
        for scope in scopes:
            match = _SCOPE.match(scope)
            if match is None:
                answer = oci_error(
                    400, "INVALID_REQUEST", f"Unable to decode repository and actions: {scope}", {}
                )
                return self._token_answer(request, identity, scopes, answer)
            repo = REPOSITORIES.get(match.group(1))
            if (
                "pull" in match.group(2).split(",")
                and repo is not None
                and repo.may_pull(identity, USER)
            ):
                access.add(("repository", match.group(1), "pull"))
        now = int(time.time())
        lifetime = self.settings.token_lifetime
        subject = "" if identity == ANONYMOUS else identity
        claims = {
            "iss": "quay",
            "aud": service,
            "nbf": now,
            "iat": now,
            "exp": now + lifetime,
            "sub": subject or "(anonymous)",
            "access": [{"type": t, "name": n, "actions": [a]} for t, n, a in sorted(access)],
            "context": {"version": 2, "kind": "user" if subject else "anonymous"},
        }
        token = jwt_token(claims, self.secret)
        self.tokens.remember(token, Grant(subject, frozenset(access), now + lifetime))
        return self._token_answer(request, identity, scopes, json_response(200, {"token": token}))

    def _token_answer(
        self, request: Request, identity: str, scopes: tuple[str, ...], answer: Response
    ) -> Response:
        self.counters.add(
            TokenEvent(request.host, request.path, "get", identity, scopes, answer.status)
        )
        return answer

    # -- cdn01.quay.io ------------------------------------------------------------------------

    def cdn(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        match = _CDN_PATH.match(request.path)
        if match is None or match.group(2)[:2] != match.group(1):
            return xml_error(404, "NoSuchKey", "The specified key does not exist.")
        refusal = presigned_refusal(request, self.signer)
        if refusal is not None:
            return refusal
        return serve_file(request, self.backend.blob_file("sha256:" + match.group(2)))


def _invalid_login() -> Response:
    challenge = bearer_challenge(REALM, SERVICE)
    return oci_error(
        401,
        "UNAUTHORIZED",
        "Specified credentials are invalid",
        {},
        (("WWW-Authenticate", challenge),),
    )
