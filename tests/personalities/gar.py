"""Google Artifact Registry: ``us-docker.pkg.dev`` and regional ``<region>-docker.pkg.dev`` hosts,
each its own registry and token service (``/v2/token``); blob downloads are redirected on the
same host.

One front (``127.0.14.1`` by default) serves every host name in :data:`HOSTS`. Image names are
``<project>/<repository>/<image>``. Behaviours and their sources:

- Without credentials, ``/v2/`` answers ``401`` with ``WWW-Authenticate: Bearer
  realm="https://<host>/v2/token"`` and **no** ``service`` parameter (a live lookup of
  ``europe-southwest1-docker.pkg.dev`` in seqera's wave ``ProxyClientTest`` asserts realm
  ``https://…/v2/token`` and an empty service; clients then send ``service=`` empty, as the
  error messages below show).
- Token endpoint ``GET /v2/token?scope=…`` with Basic credentials in one of the three documented
  forms: user ``oauth2accesstoken`` and an OAuth2 access token, user ``_json_key`` and a service
  account key (JSON), user ``_json_key_base64`` and the key in base64
  (https://cloud.google.com/artifact-registry/docs/docker/authentication). Anonymous requests
  are allowed for public repositories. Answer: ``{"token": "…"}``.
- A scope the caller may not pull is refused by the token endpoint with ``403``
  ``{"errors":[{"code":"DENIED","message":…}]}``: for an anonymous caller ``Unauthenticated
  request. Unauthenticated requests do not have permission
  "artifactregistry.repositories.downloadArtifacts" on resource
  "projects/<p>/locations/<l>/repositories/<r>" (or it may not exist)``, for an authenticated one
  ``Permission "artifactregistry.repositories.downloadArtifacts" denied on resource "…" (or it
  may not exist)``. Both texts are quoted in InfluxData's Clustered install docs (``GET
  https://us-docker.pkg.dev/v2/token?scope=…&service=: DENIED: Permission …``), Google's Cloud
  Functions troubleshooting page, and Kong's operator tests ("response status code 403: denied:
  Unauthenticated request…"). The same 403 answers a registry request whose token lacks the
  repository. Missing repositories get the same text ("or it may not exist").
- The OAuth2 access token itself is accepted as a Bearer token on the registry API
  (https://cloud.google.com/artifact-registry/docs/reference/docker-api: ``curl -H
  "Authorization: Bearer $(gcloud auth print-access-token)" https://us-docker.pkg.dev/v2/…``).
- Blob GET: redirect to the same host,
  ``/artifacts-downloads/namespaces/<project>/repositories/<repository>/downloads/<opaque>``
  (NeuVector's install notes name this path as "the current redirect"); the opaque part carries
  its own authorization, so the download needs no ``Authorization`` (one sent is ignored). The
  status is not documented; ``307`` here (``redirect_status`` setting).
- Other refusals (wrong Basic password: ``401`` ``UNAUTHORIZED``) are rig choices.
- Over a request quota (https://cloud.google.com/artifact-registry/quotas: 60,000 requests per
  minute per project and location, optional per-user quotas counted per client address for
  anonymous requests to public repositories; "the system blocks access to the resource"): the
  status ``429`` and the body are rig choices, ``TOOMANYREQUESTS`` "Quota exceeded for requests
  per project per region", no rate-limit headers. Setting ``throttle``: that many manifest
  requests get it.
"""

from __future__ import annotations

import base64
import json
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
    opaque_token,
    parse_basic,
    parse_bearer,
    parse_route,
    parse_scope,
    read_only,
    requested_scopes,
    require_range,
    serve_file,
    text_response,
)
from .front import Counters, Request, TokenEvent

#: Host name -> location (the "locations/<l>" of resource names).
LOCATIONS = {"us-docker.pkg.dev": "us", "europe-west1-docker.pkg.dev": "europe-west1"}
HOSTS = tuple(LOCATIONS)
USER = "oauth2accesstoken"
THROTTLED = "Quota exceeded for requests per project per region"
PROJECT = "ociinspect-project"
CLIENT_EMAIL = f"reader@{PROJECT}.iam.gserviceaccount.com"
PERMISSION = "artifactregistry.repositories.downloadArtifacts"
_DOWNLOAD = re.compile(
    r"^/artifacts-downloads/namespaces/([a-z0-9-]+)/repositories/([a-z0-9-]+)/downloads/([A-Za-z0-9_=-]+)\.([a-f0-9]{64})$"
)

REPOSITORIES = {
    f"{PROJECT}/images/multi": Repo("demo/multi"),
    f"{PROJECT}/images/single": Repo("demo/single"),
    f"{PROJECT}/images/docker": Repo("demo/docker"),
    f"{PROJECT}/private/secret": Repo("private/secret", "private"),
    "someone-else/private/secret": Repo("private/secret", "foreign"),
}


@dataclass(frozen=True)
class Settings:
    """GAR's knobs (none of these values is documented)."""

    token_lifetime: int = 3600  # 0: tokens are issued already expired
    download_url_lifetime: int = 300
    redirect_status: int = 307
    throttle: int = 0  # manifest requests answered 429 after a reset
    ip_block: int = 14

    def __post_init__(self) -> None:
        require_range(self, 0, WEEK, "token_lifetime")  # 0: already expired
        require_range(self, 1, 86400, "download_url_lifetime")
        require_range(self, 0, 1_000_000, "throttle")
        if self.redirect_status not in (302, 303, 307, 308):
            raise ValueError("redirect_status must be 302, 303, 307 or 308")


def resource(host: str, name: str) -> str:
    """``projects/<p>/locations/<l>/repositories/<r>`` for image ``<p>/<r>/<image…>``."""
    parts = name.split("/")
    project, repository = parts[0], parts[1] if len(parts) > 1 else ""
    return f"projects/{project}/locations/{LOCATIONS[host]}/repositories/{repository}"


class Gar(Service):
    name = "gar"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.access_token = "ya29." + secrets.token_urlsafe(48)
        key = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": secrets.token_hex(20),
            "private_key": "(not a key: the rig compares the whole JSON text)",
            "client_email": CLIENT_EMAIL,
            "client_id": str(secrets.randbelow(10**21)),
            "token_uri": "https://oauth2.googleapis.com/token",
        }
        self.json_key = json.dumps(key, indent=2)
        self.json_key_base64 = base64.b64encode(self.json_key.encode()).decode()
        self.signer = Signer("sha256")

    def sites(self) -> tuple[Site, ...]:
        return (Site(self.ip(1), HOSTS, self.registry),)

    def credentials(self) -> Credentials:
        return Credentials(
            USER,
            self.access_token,
            {
                "json_key": self.json_key,
                "json_key_base64": self.json_key_base64,
                "client_email": CLIENT_EMAIL,
            },
        )

    def _basic_identity(self, header: str) -> str:
        accepted = {
            (USER, self.access_token),
            ("_json_key", self.json_key),
            ("_json_key_base64", self.json_key_base64),
        }
        sent = parse_basic(header)
        if sent in accepted:
            return CLIENT_EMAIL
        return f"invalid:{sent[0] if sent else ''}"

    def _denied(self, host: str, name: str, identity: str) -> Response:
        where = resource(host, name)
        if identity == ANONYMOUS:
            message = (
                "Unauthenticated request. Unauthenticated requests do not have permission "
                f'"{PERMISSION}" on resource "{where}" (or it may not exist)'
            )
        else:
            message = (
                f'Permission "{PERMISSION}" denied on resource "{where}" (or it may not exist)'
            )
        return oci_error(403, "DENIED", message, with_detail=False)

    def may_pull(self, identity: str, name: str) -> bool:
        repo = REPOSITORIES.get(name)
        return repo is not None and repo.may_pull(identity, CLIENT_EMAIL)

    # -- <location>-docker.pkg.dev ------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        if request.path == "/v2/token":
            return self._token(request)
        if request.path.startswith("/artifacts-downloads/"):
            return self._download(request)
        route = parse_route(request.path)
        if route is None or route.kind == "catalog":
            return oci_error(404, "NOT_FOUND", "Requested entity was not found.", with_detail=False)
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        bearer = parse_bearer(request.header("Authorization"))
        direct = bearer is not None and secrets.compare_digest(bearer, self.access_token)
        grant = (
            Grant(CLIENT_EMAIL, frozenset(), float("inf")) if direct else self.tokens.valid(bearer)
        )
        if grant is None:
            challenge = bearer_challenge(f"https://{request.host}/v2/token")
            return oci_error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                headers=(("WWW-Authenticate", challenge),),
                with_detail=False,
            )
        if route.kind == "base":
            return json_response(200, {}, (API_VERSION,))
        allowed = self.may_pull(CLIENT_EMAIL, route.name) if direct else grant.allows(route.name)
        if not allowed:
            return self._denied(request.host, route.name, grant.subject or ANONYMOUS)
        if self.throttled(route):
            return oci_error(429, "TOOMANYREQUESTS", THROTTLED, with_detail=False)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(request.host, route)
        answer = self.forward(request)
        if route.kind == "manifest" and request.method == "GET" and answer.status == 200:
            self.count_pull(grant.subject or ANONYMOUS, route)
        return answer

    def _blob_redirect(self, host: str, route: Route) -> Response:
        if not self.blob_known(route):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", with_detail=False)
        project, repository = route.name.split("/")[:2]
        expiry = str(int(time.time()) + self.settings.download_url_lifetime)
        ticket = base64.urlsafe_b64encode(f"{route.reference}|{expiry}".encode()).decode()
        signature = self.signer.sign_hex(project, repository, ticket)
        location = (
            f"https://{host}/artifacts-downloads/namespaces/{project}/repositories/{repository}"
            f"/downloads/{ticket}.{signature}"
        )
        headers = [
            ("Content-Type", "text/html; charset=UTF-8"),
            ("Location", location),
            API_VERSION,
        ]
        return Response(self.settings.redirect_status, headers, b"")

    def _download(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        match = _DOWNLOAD.match(request.path)
        if match is None:
            return text_response(404, "Not Found\n")
        project, repository, ticket, signature = match.groups()
        try:
            digest, _, expiry = base64.urlsafe_b64decode(ticket).decode().partition("|")
        except (ValueError, UnicodeDecodeError):
            return text_response(404, "Not Found\n")
        if not self.signer.check_hex(signature, project, repository, ticket):
            return text_response(403, "Forbidden: the download URL is not valid\n")
        if not expiry.isdigit() or int(expiry) < time.time():
            return text_response(403, "Forbidden: the download URL has expired\n")
        return serve_file(request, self.backend.blob_file(digest))

    def _token(self, request: Request) -> Response:
        if request.method != "GET":
            return text_response(405, "method not allowed\n", (("Allow", "GET"),))
        scopes = requested_scopes(request.params.get("scope", []))
        header = request.header("Authorization")
        identity = ANONYMOUS if header is None else self._basic_identity(header)
        if identity.startswith("invalid:"):
            answer = oci_error(401, "UNAUTHORIZED", "authentication failed", with_detail=False)
            return self._token_answer(request, identity, scopes, answer)
        access: set[tuple[str, str, str]] = set()
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None or parsed[0] != "repository" or "pull" not in parsed[2]:
                continue
            if not self.may_pull(identity, parsed[1]):
                return self._token_answer(
                    request, identity, scopes, self._denied(request.host, parsed[1], identity)
                )
            access.add(("repository", parsed[1], "pull"))
        token = opaque_token()
        subject = "" if identity == ANONYMOUS else identity
        expires = time.time() + self.settings.token_lifetime
        self.tokens.remember(token, Grant(subject, frozenset(access), expires))
        return self._token_answer(request, identity, scopes, json_response(200, {"token": token}))

    def _token_answer(
        self, request: Request, identity: str, scopes: tuple[str, ...], answer: Response
    ) -> Response:
        self.counters.add(
            TokenEvent(request.host, request.path, "get", identity, scopes, answer.status)
        )
        return answer
