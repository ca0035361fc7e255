"""GitHub Container Registry: ``ghcr.io`` (registry and token service on one host), blobs from
``pkg-containers.githubusercontent.com``.

Two fronts (``127.0.12.1``, ``.2`` by default). Behaviours and their sources:

Registry and tokens (``ghcr.io``)
    - Any ``/v2/`` request without a token: ``401``, body
      ``{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`` (no
      ``detail``; quoted from ``curl https://ghcr.io/v2/…/manifests/latest`` in
      openappsec/openappsec#306 and Mic92/niks3#229) and
      ``WWW-Authenticate: Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="…"``.
      On ``/v2/`` itself the scope is the literal placeholder ``repository:user/image:pull``; on
      repository paths it is ``repository:<name>:pull``. (The placeholder is what ghcr.io sends
      to a ``/v2/`` probe: renovatebot/renovate ``lib/modules/datasource/docker/common.ts``
      records ``www-authenticate: Bearer realm="https://ghcr.io/token",service="ghcr.io",
      scope="repository:user/image:pull"`` and works around the "wrong scope" it causes.)
    - Tokens: ``GET /token?scope=repository:<owner>/<name>:pull&service=ghcr.io`` answers
      ``{"token":"…"}`` and nothing else; anonymous requests work for public packages (GitHub
      docs, "Working with the Container registry", and the ``curl … | jq -r .token`` recipes in
      Mic92/niks3#229, oras-project/oras-java#178). Basic credentials are a user name and a
      personal access token (classic) (https://docs.github.com/en/packages/working-with-a-github-packages-registry/working-with-the-container-registry#authenticating-with-a-personal-access-token-classic).
    - A private (or missing) package with an anonymous token: ``401`` as above, with the
      repository scope (docker shows ``Head …/manifests/latest: unauthorized``: beeper/
      registration-relay#3, podtato-head/podtato-head#148).
    - A token obtained with a wrong or expired personal access token is refused by the registry
      with ``403`` ``{"errors":[{"code":"DENIED","message":"denied"}]}``: docker prints
      ``Head "https://ghcr.io/v2/…/manifests/latest": denied: denied`` and the cure is to log out
      or renew the token (korthout/camunda-platform-rest-api#106, dexidp/dex#2672,
      riverqueue/riverui#182, muchobien/pocketbase-docker#3). The token endpoint itself answers
      200 to bad credentials here; which of the two hosts refuses is not documented, the
      visible result (HEAD -> 403 ``denied``) is.
    - An authenticated user without access to a package: ``403`` (Vigil-SOC/vigil#315: "unexpected
      status from HEAD request … 403 Forbidden").
    - A tag that holds an OCI index, asked for with an ``Accept`` that does not list
      ``application/vnd.oci.image.index.v1+json``: ``404``
      ``{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI index found, but Accept header does
      not support OCI indexes"}]}`` (Mic92/niks3#229, a curl with only the manifest type).
    - Blob GET: ``307`` to ``https://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:<hex>
      ?se=<expiry>&sig=<signature>&sp=r&spr=https&sr=b&sv=2019-12-12`` (an Azure Blob SAS URL;
      the form is visible in Homebrew's download logs, which fetch bottles from ghcr.io). The
      status code is not documented; 307 is what distribution-based registries send.

    - Over its request-rate limits: ``429``
      ``{"errors":[{"code":"TOOMANYREQUESTS","message":"retry-after: 880.092µs, allowed:
      44000/minute"}]}`` (docker prints ``toomanyrequests: retry-after: 880.092µs, allowed:
      44000/minute`` for ghcr.io pulls: dependabot/cli#380, falcosecurity/plugins#1069); no
      rate-limit headers are known. Setting ``throttle``: that many manifest requests get it.

CDN (``pkg-containers.githubusercontent.com``)
    - Serves the blob for a valid, unexpired ``se``/``sig``; otherwise ``403``
      ``<Error><Code>AuthenticationFailed</Code>…`` (Azure Storage's answer to a bad SAS).
    - Requests that carry ``Authorization`` are served (and recorded): nothing public says this
      CDN refuses them.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

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
    json_response,
    oci_error,
    parse_basic,
    parse_bearer,
    parse_route,
    parse_scope,
    read_only,
    requested_scopes,
    require_range,
    sas_query,
    sas_refusal,
    serve_file,
    text_response,
    xml_error,
)
from .front import Counters, Request, TokenEvent

HOST = "ghcr.io"
CDN_HOST = "pkg-containers.githubusercontent.com"
THROTTLED = "retry-after: 880.092µs, allowed: 44000/minute"
REALM = f"https://{HOST}/token"
SERVICE = HOST
PLACEHOLDER_SCOPE = "repository:user/image:pull"
USER = "ociinspect"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_ALL_MANIFEST_TYPES = ", ".join(
    (
        OCI_INDEX,
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
_CDN_PATH = re.compile(r"^/ghcr1/blobs/(sha256:[a-f0-9]{64})$")

REPOSITORIES = {
    "ociinspect/multi": Repo("demo/multi"),
    "ociinspect/single": Repo("demo/single"),
    "ociinspect/dockerlist": Repo("demo/dockerlist"),
    "ociinspect/private": Repo("private/secret", "private"),
    "someoneelse/private": Repo("private/secret", "foreign"),
}


@dataclass(frozen=True)
class Settings:
    """GHCR's knobs (token lifetime and SAS lifetime are not documented)."""

    token_lifetime: int = 300
    cdn_url_lifetime: int = 600
    strict_index_accept: bool = True
    throttle: int = 0  # manifest requests answered 429 after a reset
    ip_block: int = 12

    def __post_init__(self) -> None:
        require_range(self, 0, WEEK, "token_lifetime", "cdn_url_lifetime")  # 0: already expired
        require_range(self, 0, 1_000_000, "throttle")


class Ghcr(Service):
    name = "ghcr"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.password = "ghp_" + secrets.token_hex(18)
        self.signer = Signer("sha256")

    def sites(self) -> tuple[Site, ...]:
        return (Site(self.ip(1), (HOST,), self.registry), Site(self.ip(2), (CDN_HOST,), self.cdn))

    def credentials(self) -> Credentials:
        return Credentials(USER, self.password)

    # -- ghcr.io ----------------------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        if request.path == "/token":
            return self._token(request)
        route = parse_route(request.path)
        if route is None or route.kind == "catalog":
            return oci_error(404, "NOT_FOUND", "not found", with_detail=False)
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        grant = self.tokens.valid(parse_bearer(request.header("Authorization")))
        if grant is None:
            return self._unauthorized(route)
        if grant.subject.startswith("invalid:"):
            return oci_error(403, "DENIED", "denied", with_detail=False)
        if route.kind == "base":
            return json_response(200, {}, (API_VERSION,))
        if not grant.allows(route.name):
            if grant.subject:
                return oci_error(403, "DENIED", "denied", with_detail=False)
            return self._unauthorized(route)
        if self.throttled(route):
            return oci_error(429, "TOOMANYREQUESTS", THROTTLED, with_detail=False)
        if route.kind == "manifest":
            return self._manifest(request, route, grant)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(route)
        return self.forward(request)

    def _unauthorized(self, route: Route) -> Response:
        challenge = bearer_challenge(REALM, SERVICE, route.scope or PLACEHOLDER_SCOPE)
        return oci_error(
            401,
            "UNAUTHORIZED",
            "authentication required",
            headers=(("WWW-Authenticate", challenge),),
            with_detail=False,
        )

    def _manifest(self, request: Request, route: Route, grant: Grant) -> Response:
        if self.settings.strict_index_accept:
            stored = self.backend.forward(
                "HEAD", request.target, (("Accept", _ALL_MANIFEST_TYPES),)
            )
            stored_type = dict((k.lower(), v) for k, v in stored.headers).get("content-type", "")
            accepted = request.header("Accept") or ""
            if stored.status == 200 and stored_type == OCI_INDEX and OCI_INDEX not in accepted:
                return oci_error(
                    404,
                    "MANIFEST_UNKNOWN",
                    "OCI index found, but Accept header does not support OCI indexes",
                    with_detail=False,
                )
        answer = self.forward(request)
        if request.method == "GET" and answer.status == 200:
            self.count_pull(grant.subject or ANONYMOUS, route)
        return answer

    def _blob_redirect(self, route: Route) -> Response:
        if not self.blob_known(route):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", with_detail=False)
        path = f"/ghcr1/blobs/{route.reference}"
        query = sas_query(self.signer, path, self.settings.cdn_url_lifetime, "2019-12-12")
        headers = [("Content-Type", "application/octet-stream"), API_VERSION]
        return Response(307, [*headers, ("Location", f"https://{CDN_HOST}{path}?{query}")], b"")

    def _token(self, request: Request) -> Response:
        if request.method != "GET":
            return text_response(405, "method not allowed\n", (("Allow", "GET"),))
        scopes = requested_scopes(request.params.get("scope", []))
        identity = ANONYMOUS
        header = request.header("Authorization")
        if header is not None:
            sent = parse_basic(header)
            identity = (
                USER if sent == (USER, self.password) else f"invalid:{sent[0] if sent else ''}"
            )
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
        token = base64.b64encode(b"v1:" + secrets.token_urlsafe(24).encode()).decode()
        subject = "" if identity == ANONYMOUS else identity
        lifetime = self.settings.token_lifetime
        self.tokens.remember(token, Grant(subject, frozenset(access), time.time() + lifetime))
        self.counters.add(TokenEvent(request.host, request.path, "get", identity, scopes, 200))
        return json_response(200, {"token": token})

    # -- pkg-containers.githubusercontent.com -------------------------------------------------

    def cdn(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        match = _CDN_PATH.match(request.path)
        if match is None:
            return xml_error(404, "ResourceNotFound", "The specified resource does not exist.")
        refusal = sas_refusal(request, self.signer)
        if refusal is not None:
            return refusal
        return serve_file(request, self.backend.blob_file(match.group(1)))
