"""Azure Container Registry: ``<name>.azurecr.io`` with its OAuth2 endpoints ``/oauth2/exchange``
and ``/oauth2/token`` on the same host, blobs from the dedicated data endpoint
``<name>.<region>.data.azurecr.io``.

Two fronts (``127.0.16.1``, ``.2`` by default), registry ``ociinspect``, region ``eastus``.
Behaviours and their sources (Azure/acr ``docs/AAD-OAuth.md`` and ``docs/Token-BasicAuth.md``,
https://github.com/Azure/acr/tree/main/docs, unless said otherwise):

Registry (``ociinspect.azurecr.io``)
    - Without a token: ``401``, ``WWW-Authenticate: Bearer
      realm="https://ociinspect.azurecr.io/oauth2/token",service="ociinspect.azurecr.io"`` plus
      ``scope="repository:<name>:pull"`` on repository paths, body
      ``{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit
      https://aka.ms/acr/authorization for more information.","detail":[{"Type":"repository",
      "Name":"<name>","Action":"pull"}]}]}`` (challenge and detail: Token-BasicAuth.md; the
      ``aka.ms`` message: Azure SDK recordings of real 401s, e.g. azure-sdk-for-js
      container-registry test recordings, ``Content-Type: application/json; charset=utf-8``).
    - A token without the repository: the same 401 with ``error="insufficient_scope"``.
    - Blob GET: ``307`` to the data endpoint with an Azure Storage SAS query (``sv``, ``se``,
      ``sr=b``, ``sp=r``, ``sig``); data endpoints are named ``<registry>.<region>.data.azurecr.io``
      (``docs/dedicated-data-endpoints/dedicated-data-endpoints.md``).

    - Throttled ("the registry determines the rate of requests exceeds the limits allowed for
      the registry's service tier", Azure's ACR service tiers page): ``429``
      ``{"errors":[{"code":"TOOMANYREQUESTS","message":"Too many requests. Please visit
      https://aka.ms/acr/skus#sku-feature-matrix to view limits of all service tiers."}]}`` (the
      text docker prints from mcr.microsoft.com, which ACR serves: microsoft/containerregistry
      #108). Setting ``throttle``: that many manifest requests get it.

OAuth2 (same host)
    - ``POST /oauth2/exchange`` with the form ``grant_type=access_token&service=<registry>&
      tenant=<tenant>&access_token=<AAD access token>`` answers ``{"refresh_token":"<JWT>"}``.
      Other grant types are deprecated; refused here with ``400``.
    - ``POST /oauth2/token`` with ``grant_type=refresh_token&service=…&scope=…&refresh_token=…``
      answers ``{"access_token":"<JWT>"}``; ``scope`` may repeat.
    - ``GET /oauth2/token?service=…&scope=…`` with Basic credentials answers
      ``{"access_token":"<JWT>"}``: the admin user and password, or the null GUID
      ``00000000-0000-0000-0000-000000000000`` with an ACR refresh token as the password, which
      is how ``az acr login`` hands the refresh token to ``docker login`` ("The null GUID tells
      the container registry that this is an ACR refresh token during the login flow").
    - Anonymous ``GET /oauth2/token`` works only when anonymous pull is enabled on the registry
      (https://learn.microsoft.com/azure/container-registry/anonymous-pull-access; setting
      ``anonymous_pull``); otherwise ``401`` with the ``aka.ms`` message (the token-exchange 401
      body quoted in public troubleshooting logs: ``ACR token exchange endpoint returned error
      status: 401. body: {"errors":[{"code":"UNAUTHORIZED","message":"authentication required,
      visit https://aka.ms/acr/authorization for more information. CorrelationId: …"}]}``).
    - Tokens are JWTs with the claims AAD-OAuth.md lists (``jti``, ``sub``, ``nbf``, ``exp``,
      ``iat``, ``iss`` "Azure Container Registry", ``aud``, ``version`` "1.0", ``grant_type``,
      and ``access`` or ``tenant``/``permissions``); the access token in that document lives
      4500 s (``exp`` - ``iat``), the default here.

Data endpoint (``ociinspect.eastus.data.azurecr.io``)
    - Serves the blob for a valid, unexpired SAS; otherwise ``403`` ``AuthenticationFailed``.
    - A request carrying ``Authorization`` gets ``400`` ``<Error><Code>InvalidAuthenticationInfo
      </Code><Message>Authentication information is not given in the correct format. Check the
      value of Authorization header.…`` -- Microsoft's ACR FAQ, "Authentication information is
      not given in the correct format on direct REST API calls"
      (https://learn.microsoft.com/azure/container-registry/container-registry-faq), for
      ``curl -L`` that forwards the registry's Authorization to storage; Azure/acr#217.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import uuid
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
    TokenBook,
    bearer_challenge,
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
    sas_query,
    sas_refusal,
    serve_file,
    text_response,
    xml_error,
)
from .front import Counters, Request, TokenEvent

REGISTRY = "ociinspect"
REGION = "eastus"
HOST = f"{REGISTRY}.azurecr.io"
DATA_HOST = f"{REGISTRY}.{REGION}.data.azurecr.io"
THROTTLED = (
    "Too many requests. Please visit https://aka.ms/acr/skus#sku-feature-matrix to view limits "
    "of all service tiers."
)
REALM = f"https://{HOST}/oauth2/token"
SERVICE = HOST
NULL_GUID = "00000000-0000-0000-0000-000000000000"
TENANT = "409520d4-8100-4d1d-ad47-72432ddcc120"  # the tenant of AAD-OAuth.md's example
USER = "user@contoso.example"
ISSUER = "Azure Container Registry"
UNAUTHORIZED_MESSAGE = (
    "authentication required, visit https://aka.ms/acr/authorization for more information."
)
_JSON_UTF8 = ("Content-Type", "application/json; charset=utf-8")
_DATA_PATH = re.compile(r"^/docker/registry/v2/blobs/sha256/([a-f0-9]{2})/([a-f0-9]{64})/data$")

REPOSITORIES = {
    "multi": Repo("demo/multi", "private"),
    "single": Repo("demo/single", "private"),
    "samples/dockerlist": Repo("demo/dockerlist", "private"),
    "private/secret": Repo("private/secret", "private"),
}


@dataclass(frozen=True)
class Settings:
    """ACR's knobs."""

    anonymous_pull: bool = False
    access_token_lifetime: int = 4500  # 0: access tokens are issued already expired
    refresh_token_lifetime: int = 10800
    cdn_url_lifetime: int = 1200
    throttle: int = 0  # manifest requests answered 429 after a reset
    ip_block: int = 16

    def __post_init__(self) -> None:
        require_range(self, 0, WEEK, "access_token_lifetime", "refresh_token_lifetime")
        require_range(self, 1, WEEK, "cdn_url_lifetime")
        require_range(self, 0, 1_000_000, "throttle")


class Acr(Service):
    name = "acr"
    repositories = REPOSITORIES

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        super().__init__(backend, counters, settings)
        self.aad_access_token = jwt_token(
            {
                "aud": "https://management.azure.com/",
                "tid": TENANT,
                "upn": USER,
                "exp": int(time.time()) + 3600,
            },
            secrets.token_bytes(32),
        )
        self.admin_password = secrets.token_urlsafe(30)
        self.refresh_tokens = TokenBook()
        #: The refresh token ``az acr login`` would have handed to ``docker login``; it survives
        #: :meth:`forget` because it is part of the credentials.
        self.login_refresh_token = self._refresh_token(USER, keep=False)
        self.signer = Signer("sha256")

    def sites(self) -> tuple[Site, ...]:
        return (Site(self.ip(1), (HOST,), self.registry), Site(self.ip(2), (DATA_HOST,), self.data))

    def credentials(self) -> Credentials:
        return Credentials(
            NULL_GUID,
            self.login_refresh_token,
            {
                "aad_access_token": self.aad_access_token,
                "tenant": TENANT,
                "admin_username": REGISTRY,
                "admin_password": self.admin_password,
            },
        )

    def forget(self) -> None:
        super().forget()
        self.refresh_tokens.clear()

    def _refresh_token(self, subject: str, keep: bool = True) -> str:
        now = int(time.time())
        lifetime = self.settings.refresh_token_lifetime
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": subject,
            "nbf": now,
            "exp": now + lifetime,
            "iat": now,
            "iss": ISSUER,
            "aud": SERVICE,
            "version": "1.0",
            "grant_type": "refresh_token",
            "tenant": TENANT,
            "permissions": {"actions": ["*"], "notActions": []},
            "roles": [],
        }
        token = jwt_token(claims, self.secret)
        if keep:
            self.refresh_tokens.remember(token, Grant(subject, frozenset(), now + lifetime))
        return token

    def _refresh_subject(self, token: str) -> str | None:
        if secrets.compare_digest(token, self.login_refresh_token):
            return USER
        grant = self.refresh_tokens.valid(token)
        return grant.subject if grant is not None else None

    # -- <registry>.azurecr.io ------------------------------------------------------------------

    def registry(self, request: Request) -> Response:
        if request.path == "/oauth2/exchange":
            return self._exchange(request)
        if request.path == "/oauth2/token":
            return self._token(request)
        route = parse_route(request.path)
        if route is None:
            return text_response(404, "404 page not found\n")
        if request.method not in ("GET", "HEAD"):
            return read_only(route)
        grant = self.tokens.valid(parse_bearer(request.header("Authorization")))
        if grant is None:
            return self._unauthorized(route, None)
        if route.kind == "base":
            return json_response(200, {}, (API_VERSION,))
        if route.kind == "catalog" or not grant.allows(route.name):
            return self._unauthorized(route, "insufficient_scope")
        if self.throttled(route):
            return oci_error(429, "TOOMANYREQUESTS", THROTTLED, with_detail=False)
        if route.kind == "blob" and request.method == "GET":
            return self._blob_redirect(route)
        answer = self.forward(request)
        if route.kind == "manifest" and request.method == "GET" and answer.status == 200:
            self.count_pull(grant.subject or ANONYMOUS, route)
        return answer

    def _unauthorized(self, route: Route, error: str | None) -> Response:
        challenge = bearer_challenge(REALM, SERVICE, route.scope or None, error)
        detail = (
            [{"Type": "repository", "Name": route.name, "Action": "pull"}] if route.name else None
        )
        answer = oci_error(
            401,
            "UNAUTHORIZED",
            UNAUTHORIZED_MESSAGE,
            detail,
            (("WWW-Authenticate", challenge),),
            with_detail=detail is not None,
        )
        answer.headers = [
            _JSON_UTF8 if k.lower() == "content-type" else (k, v) for k, v in answer.headers
        ]
        return answer

    def _blob_redirect(self, route: Route) -> Response:
        if not self.blob_known(route):
            return oci_error(404, "BLOB_UNKNOWN", "blob unknown to registry", route.reference)
        hex_ = route.reference.split(":", 1)[1]
        path = f"/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data"
        query = sas_query(self.signer, path, self.settings.cdn_url_lifetime, "2021-08-06")
        headers = [("Location", f"https://{DATA_HOST}{path}?{query}"), API_VERSION]
        return Response(307, [("Content-Type", "text/plain; charset=utf-8"), *headers], b"")

    def _exchange(self, request: Request) -> Response:
        if request.method != "POST":
            return text_response(405, "method not allowed\n", (("Allow", "POST"),))
        form = request.form()
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "access_token":
            return self._token_answer(
                request, "exchange:" + grant_type, ANONYMOUS, (), self._unsupported(grant_type)
            )
        fields = {k: (form.get(k) or [""])[0] for k in ("service", "tenant", "access_token")}
        ok = (
            fields["service"] == SERVICE
            and fields["tenant"] == TENANT
            and secrets.compare_digest(fields["access_token"], self.aad_access_token)
        )
        if not ok:
            return self._token_answer(
                request, "exchange:access_token", "invalid:aad", (), self._refused()
            )
        body = json_response(200, {"refresh_token": self._refresh_token(USER)})
        return self._token_answer(request, "exchange:access_token", USER, (), body)

    def _token(self, request: Request) -> Response:
        if request.method == "POST":
            form = request.form()
            grant_type = (form.get("grant_type") or [""])[0]
            scopes = requested_scopes(form.get("scope", []))
            if grant_type != "refresh_token":
                return self._token_answer(
                    request, grant_type, ANONYMOUS, scopes, self._unsupported(grant_type)
                )
            subject = self._refresh_subject((form.get("refresh_token") or [""])[0])
            service = (form.get("service") or [""])[0]
            if subject is None or service != SERVICE:
                return self._token_answer(
                    request, grant_type, "invalid:refresh_token", scopes, self._refused()
                )
            return self._access_token(request, grant_type, subject, scopes)
        if request.method != "GET":
            return text_response(405, "method not allowed\n", (("Allow", "GET, POST"),))
        scopes = requested_scopes(request.params.get("scope", []))
        header = request.header("Authorization")
        if header is None:
            if not self.settings.anonymous_pull:
                return self._token_answer(request, "get", ANONYMOUS, scopes, self._refused())
            return self._access_token(request, "get", ANONYMOUS, scopes)
        sent = parse_basic(header)
        subject = None
        if sent is not None and sent[0] == NULL_GUID:
            subject = self._refresh_subject(sent[1])
        elif (
            sent is not None
            and sent[0] == REGISTRY
            and secrets.compare_digest(sent[1], self.admin_password)
        ):
            subject = REGISTRY
        if subject is None:
            who = f"invalid:{sent[0] if sent else ''}"
            return self._token_answer(request, "get", who, scopes, self._refused())
        return self._access_token(request, "get", subject, scopes)

    def _access_token(
        self, request: Request, grant_type: str, subject: str, scopes: tuple[str, ...]
    ) -> Response:
        access: set[tuple[str, str, str]] = set()
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None or parsed[0] != "repository" or "pull" not in parsed[2]:
                continue
            if parsed[1] in REPOSITORIES and (subject != ANONYMOUS or self.settings.anonymous_pull):
                access.add(("repository", parsed[1], "pull"))
        now = int(time.time())
        lifetime = self.settings.access_token_lifetime
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": "" if subject == ANONYMOUS else subject,
            "nbf": now,
            "exp": now + lifetime,
            "iat": now,
            "iss": ISSUER,
            "aud": SERVICE,
            "version": "1.0",
            "access": [{"type": t, "name": n, "actions": [a]} for t, n, a in sorted(access)],
            "roles": [],
            "grant_type": "access_token",
        }
        token = jwt_token(claims, self.secret)
        self.tokens.remember(
            token, Grant("" if subject == ANONYMOUS else subject, frozenset(access), now + lifetime)
        )
        return self._token_answer(
            request, grant_type, subject, scopes, json_response(200, {"access_token": token})
        )

    def _refused(self) -> Response:
        message = f"{UNAUTHORIZED_MESSAGE} CorrelationId: {uuid.uuid4()}"
        return json_response(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})

    def _unsupported(self, grant_type: str) -> Response:
        return json_response(
            400,
            {
                "errors": [
                    {
                        "code": "UNSUPPORTED",
                        "message": f"grant_type {grant_type!r} is not supported here",
                    }
                ]
            },
        )

    def _token_answer(
        self, request: Request, grant: str, identity: str, scopes: tuple[str, ...], answer: Response
    ) -> Response:
        self.counters.add(
            TokenEvent(request.host, request.path, grant, identity, scopes, answer.status)
        )
        return answer

    # -- <registry>.<region>.data.azurecr.io -------------------------------------------------------

    def data(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "method not allowed\n")
        if request.header("Authorization") is not None:
            when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
            message = (
                "Authentication information is not given in the correct format. Check the value of "
                f"Authorization header.\nRequestId:{uuid.uuid4()}\nTime:{when}"
            )
            return xml_error(400, "InvalidAuthenticationInfo", message)
        match = _DATA_PATH.match(request.path)
        if match is None or match.group(2)[:2] != match.group(1):
            return xml_error(404, "BlobNotFound", "The specified blob does not exist.")
        refusal = sas_refusal(request, self.signer)
        if refusal is not None:
            return refusal
        return serve_file(request, self.backend.blob_file("sha256:" + match.group(2)))
