"""Protocol pieces every personality uses: routes of the read-only ``/v2/`` API, OCI error bodies,
challenges, Basic/Bearer parsing, scopes, a token book, signed CDN URLs and file serving.

Each rule names its source: the OCI distribution spec (``distribution-spec/spec.md``), the Docker
token authentication spec (``distribution/docs/spec/auth/token.md``, scope grammar in
``scope.md``), RFC 6750 (Bearer challenges and ``error=``), RFC 7617 (Basic), RFC 9110 (ranges).
What a personality adds on top is documented in its own module.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import jwt
from rig.httpd import Response

from .backend import Backend
from .front import App, Counters, Pull, Request

#: On every /v2/ answer (distribution API spec, "API Version Check").
API_VERSION = ("Docker-Distribution-Api-Version", "registry/2.0")
#: Repository name grammar (distribution-spec "Pulling manifests": ``<name>``).
NAME = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
#: A tag (distribution-spec: ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``) or a digest.
REFERENCE = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}|[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"
_ROUTES = (
    ("manifest", re.compile(rf"^/v2/(?P<name>{NAME})/manifests/(?P<ref>{REFERENCE})$")),
    ("upload", re.compile(rf"^/v2/(?P<name>{NAME})/blobs/uploads/.*$")),
    ("blob", re.compile(rf"^/v2/(?P<name>{NAME})/blobs/(?P<ref>sha256:[a-f0-9]{{64}})$")),
    ("tags", re.compile(rf"^/v2/(?P<name>{NAME})/tags/list$")),
    ("referrers", re.compile(rf"^/v2/(?P<name>{NAME})/referrers/(?P<ref>sha256:[a-f0-9]{{64}})$")),
)
#: Tokens a book remembers at most (older ones are forgotten first).
MAX_TOKENS = 10_000
ANONYMOUS = "anonymous"

RouteKind = Literal["base", "catalog", "manifest", "upload", "blob", "tags", "referrers"]


@dataclass(frozen=True)
class Route:
    """Which ``/v2/`` endpoint a path names (distribution-spec "Endpoints" table)."""

    kind: RouteKind
    name: str = ""
    reference: str = ""

    @property
    def scope(self) -> str:
        """``repository:<name>:pull`` for repository routes, "" otherwise."""
        return f"repository:{self.name}:pull" if self.name else ""


def parse_route(path: str) -> Route | None:
    """The route of ``path``, or None for a path that is no /v2/ endpoint."""
    if path in ("/v2/", "/v2"):
        return Route("base")
    if path == "/v2/_catalog":
        return Route("catalog")
    if len(path) > 2048:
        return None
    for kind, pattern in _ROUTES:
        match = pattern.match(path)
        if match:
            return Route(kind, match.group("name"), match.groupdict().get("ref") or "")  # type: ignore[arg-type]
    return None


Visibility = Literal["public", "private", "foreign"]


@dataclass(frozen=True)
class Repo:
    """A repository a personality publishes and the seeded one whose content it copies.

    ``public``: anyone may pull; ``private``: only the personality's user; ``foreign``: private
    to some other account, so the personality's user is refused too.
    """

    seed: str
    visibility: Visibility = "public"

    def may_pull(self, identity: str, user: str) -> bool:
        """True when ``identity`` (a user name or :data:`ANONYMOUS`) may pull this repository."""
        return self.visibility == "public" or (self.visibility == "private" and identity == user)


@dataclass(frozen=True)
class Site:
    """One front of a personality: its loopback address, host names and app."""

    ip: str
    hosts: tuple[str, ...]
    app: App


@dataclass(frozen=True)
class Credentials:
    """What a user of the personality logs in with (``docker login -u username -p password``),
    plus named extras (ACR's AAD token and tenant, GAR's JSON key…)."""

    username: str
    password: str
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __repr__(self) -> str:
        extras = sorted(self.extra)
        return f"Credentials(username={self.username!r}, password=<hidden>, extra={extras})"


# ----------------------------------------------------------------------------- answers


def json_response(status: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """``body`` as compact JSON (``application/json``)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return Response(status, [("Content-Type", "application/json"), *headers], data)


def oci_error(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    with_detail: bool = True,
) -> Response:
    """The distribution error body ``{"errors":[{"code","message","detail"}]}`` (distribution-spec
    "Error Codes"); ``with_detail=False`` leaves ``detail`` out, as some registries do."""
    entry: dict[str, Any] = {"code": code, "message": message}
    if with_detail:
        entry["detail"] = detail
    return json_response(status, {"errors": [entry]}, (API_VERSION, *headers))


def text_response(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(
        status, [("Content-Type", "text/plain; charset=utf-8"), *headers], text.encode()
    )


def xml_error(status: int, code: str, message: str, extra: str = "") -> Response:
    """An S3/Azure-Storage style ``<Error><Code>…</Code><Message>…</Message></Error>`` answer."""
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message>{extra}</Error>"
    )
    return Response(status, [("Content-Type", "application/xml")], body.encode())


def read_only(route: Route) -> Response:
    """Writes are refused by every personality front (a rig policy, not a registry behaviour):
    ``405 UNSUPPORTED`` (distribution-spec error code for an operation the registry does not do)."""
    return oci_error(405, "UNSUPPORTED", "personality fronts are read-only", {"route": route.kind})


def bearer_challenge(
    realm: str, service: str | None = None, scope: str | None = None, error: str | None = None
) -> str:
    """``Bearer realm="…",service="…",scope="…",error="…"`` (token spec "How to authenticate";
    ``error`` values from RFC 6750 section 3.1); parameters left out when None."""
    parts = [f'realm="{realm}"']
    for key, value in (("service", service), ("scope", scope), ("error", error)):
        if value:
            parts.append(f'{key}="{value}"')
    return "Bearer " + ",".join(parts)


def forward_with(response: Response, *extra: tuple[str, str]) -> Response:
    """``response`` with ``extra`` headers appended (replacing ones of the same names)."""
    names = {k.lower() for k, _ in extra}
    kept = [(k, v) for k, v in response.headers if k.lower() not in names]
    return Response(response.status, [*kept, *extra], response.body)


# ----------------------------------------------------------------------------- credentials


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """``Basic base64(user:password)`` (RFC 7617 section 2) -> (user, password); None when the
    header is absent, not Basic, or not decodable (the caller treats that as wrong credentials)."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def parse_bearer(header: str | None) -> str | None:
    """The token of ``Bearer <token>`` (RFC 6750 section 2.1), or None."""
    if not header or header[:7].lower() != "bearer ":
        return None
    token = header[7:].strip()
    return token or None


def requested_scopes(values: list[str]) -> tuple[str, ...]:
    """Every ``scope`` value; one parameter may hold several, space separated (token spec
    "Requesting a Token": scope may be repeated; RFC 6749 section 3.3 space-delimits)."""
    return tuple(s for value in values for s in value.split() if s)


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``repository:a/b:pull,push`` -> ("repository", "a/b", ("pull", "push")) (scope.md
    grammar: ``resourcetype ":" resourcename ":" action *("," action)``)."""
    type_, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not type_ or not name:
        return None
    return type_, name, tuple(a for a in actions.split(",") if a)


# ----------------------------------------------------------------------------- tokens


Access = frozenset[tuple[str, str, str]]  # (type, name, action)


@dataclass(frozen=True)
class Grant:
    """What a token lets its holder do, until when."""

    subject: str  # "" for anonymous
    access: Access
    expires_at: float

    def allows(self, name: str, action: str = "pull") -> bool:
        return ("repository", name, action) in self.access or (
            "repository",
            name,
            "*",
        ) in self.access


class TokenBook:
    """Tokens a personality issued, with their grants (thread-safe, at most :data:`MAX_TOKENS`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._grants: dict[str, Grant] = {}

    def remember(self, token: str, grant: Grant) -> str:
        with self._lock:
            if len(self._grants) >= MAX_TOKENS:
                self._grants.pop(next(iter(self._grants)))
            self._grants[token] = grant
        return token

    def find(self, token: str | None) -> Grant | None:
        """The grant of ``token`` (expired or not), or None for a token never issued here."""
        if token is None:
            return None
        with self._lock:
            return self._grants.get(token)

    def valid(self, token: str | None) -> Grant | None:
        """The grant of ``token`` when it is known and not expired."""
        grant = self.find(token)
        return grant if grant is not None and grant.expires_at > self.clock() else None

    def clear(self) -> None:
        with self._lock:
            self._grants.clear()


def jwt_token(claims: Mapping[str, Any], secret: bytes) -> str:
    """A JWT (RFC 7519) with ``claims``, HS256 over ``secret``: registries hand out JWTs that
    clients treat as opaque; some clients read ``exp`` without verifying the signature."""
    return jwt.encode(dict(claims), secret, algorithm="HS256")


def opaque_token(prefix: str = "") -> str:
    """A random opaque token (URL-safe base64)."""
    return prefix + secrets.token_urlsafe(32)


def issued_at(now: float) -> str:
    """RFC 3339 UTC time, as ``issued_at`` in token answers (token spec "Token Response Fields")."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


# ----------------------------------------------------------------------------- signed URLs


class Signer:
    """HMAC signatures for CDN URLs: ``sign(*parts)`` and ``check(signature, *parts)``."""

    def __init__(self, algorithm: str = "sha256") -> None:
        self.algorithm = algorithm
        self._secret = secrets.token_bytes(32)

    def raw(self, *parts: str) -> bytes:
        message = "\n".join(parts).encode()
        return hmac.new(self._secret, message, getattr(hashlib, self.algorithm)).digest()

    def sign_b64(self, *parts: str) -> str:
        return base64.b64encode(self.raw(*parts)).decode()

    def sign_hex(self, *parts: str) -> str:
        return self.raw(*parts).hex()

    def check_b64(self, signature: str, *parts: str) -> bool:
        return hmac.compare_digest(signature.encode(), self.sign_b64(*parts).encode())

    def check_hex(self, signature: str, *parts: str) -> bool:
        return hmac.compare_digest(signature.encode(), self.sign_hex(*parts).encode())


#: Azure Storage SAS times (``se``): ISO 8601 UTC, seconds.
SAS_TIME = "%Y-%m-%dT%H:%M:%SZ"
#: S3 presigned ``X-Amz-Date``.
AMZ_DATE = "%Y%m%dT%H%M%SZ"
AZURE_AUTH_FAILED = (
    "Server failed to authenticate the request. Make sure the value of Authorization header is "
    "formed correctly including the signature."
)


def sas_query(signer: Signer, path: str, lifetime: int, version: str) -> str:
    """An Azure Storage service SAS query for reading blob ``path`` (``sv``, ``se``, ``sr=b``,
    ``sp=r``, ``spr=https``, ``sig``: the parameters of a blob service SAS,
    https://learn.microsoft.com/rest/api/storageservices/create-service-sas)."""
    expiry = time.strftime(SAS_TIME, time.gmtime(time.time() + lifetime))
    signature = signer.sign_b64(path, expiry)
    return (
        f"se={quote(expiry, safe='')}&sig={quote(signature, safe='')}"
        f"&sp=r&spr=https&sr=b&sv={version}"
    )


def sas_refusal(request: Request, signer: Signer) -> Response | None:
    """None when ``se``/``sig`` are valid for the path and unexpired; else Azure Storage's 403
    ``AuthenticationFailed``."""
    params = request.params
    expiry = (params.get("se") or [""])[0]
    signature = (params.get("sig") or [""])[0]
    try:
        expired = calendar.timegm(time.strptime(expiry, SAS_TIME)) <= time.time()
    except ValueError:
        expired = True
    if expired or not signer.check_b64(signature, request.path, expiry):
        return xml_error(403, "AuthenticationFailed", AZURE_AUTH_FAILED)
    return None


def presigned_query(
    signer: Signer, path: str, lifetime: int, access_key: str, region: str, session: str = ""
) -> str:
    """An S3 SigV4 presigned query (``X-Amz-Algorithm``, ``-Credential``, ``-Date``, ``-Expires``,
    ``-SignedHeaders``, ``-Signature``, plus ``X-Amz-Security-Token`` for temporary
    credentials: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
    The signature is the rig's HMAC, not SigV4: only the rig checks it."""
    date = time.strftime(AMZ_DATE, time.gmtime())
    credential = quote(f"{access_key}/{date[:8]}/{region}/s3/aws4_request", safe="")
    token = f"X-Amz-Security-Token={quote(session, safe='')}&" if session else ""
    return (
        f"{token}X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Date={date}"
        f"&X-Amz-Expires={lifetime}&X-Amz-SignedHeaders=host"
        f"&X-Amz-Signature={signer.sign_hex(path, date, str(lifetime))}"
    )


def presigned_refusal(request: Request, signer: Signer) -> Response | None:
    """None for a valid, unexpired presigned query; else S3's 403 ``SignatureDoesNotMatch`` or
    ``AccessDenied`` "Request has expired" (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html)."""
    params = request.params
    date = (params.get("X-Amz-Date") or [""])[0]
    expires = (params.get("X-Amz-Expires") or [""])[0]
    signature = (params.get("X-Amz-Signature") or [""])[0]
    if not signer.check_hex(signature, request.path, date, expires):
        return xml_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    try:
        deadline = calendar.timegm(time.strptime(date, AMZ_DATE)) + int(expires)
    except ValueError:
        deadline = 0
    if deadline <= time.time():
        return xml_error(403, "AccessDenied", "Request has expired")
    return None


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def serve_file(
    request: Request, path: Path | None, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """Serve a stored blob: 200, or 206 for one satisfiable ``bytes=`` range, 416 for an
    unsatisfiable one (RFC 9110 sections 14.1.2, 15.3.7, 15.5.17); 404 when there is no file."""
    if path is None:
        return text_response(404, "no such blob\n")
    data = path.read_bytes()
    base = [("Content-Type", "application/octet-stream"), ("Accept-Ranges", "bytes"), *headers]
    spec = request.header("Range")
    if spec is None:
        return Response(200, base, data)
    match = _RANGE.match(spec.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return Response(200, base, data)  # an unparsable Range is ignored (RFC 9110 14.2)
    first, last = match.group(1), match.group(2)
    size = len(data)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        return Response(416, [*base, ("Content-Range", f"bytes */{size}")], b"")
    return Response(
        206, [*base, ("Content-Range", f"bytes {start}-{end}/{size}")], data[start : end + 1]
    )


# ----------------------------------------------------------------------------- settings

WEEK = 7 * 86400


def require_range(settings: Any, low: int, high: int, *names: str) -> None:
    """Raise ValueError unless each named field of ``settings`` is in ``low..high``; every
    personality's ``ip_block`` is checked too (it picks ``127.0.<ip_block>.0/24``)."""
    for name in (*names, "ip_block"):
        lo, hi = (1, 254) if name == "ip_block" else (low, high)
        value = getattr(settings, name)
        if not lo <= value <= hi:
            raise ValueError(
                f"{type(settings).__module__} setting {name}={value!r}: not in {lo}..{hi}"
            )


# ----------------------------------------------------------------------------- services


class Service:
    """A personality at run time: settings (replaceable while running), tokens, the backend.

    Subclasses set ``name`` and ``repositories`` and implement :meth:`sites` (the fronts, each
    with its app) and :meth:`credentials`.
    """

    name: ClassVar[str]
    repositories: ClassVar[Mapping[str, Repo]]

    def __init__(self, backend: Backend, counters: Counters, settings: Any) -> None:
        self.backend = backend
        self.counters = counters
        self.settings = settings
        self.tokens = TokenBook()
        self.secret = secrets.token_bytes(32)
        self._throttle_lock = threading.Lock()
        self._throttled = 0

    def sites(self) -> tuple[Site, ...]:
        raise NotImplementedError

    def credentials(self) -> Credentials:
        raise NotImplementedError

    def forget(self) -> None:
        """Forget issued tokens and any per-client state (rate buckets…)."""
        self.tokens.clear()
        with self._throttle_lock:
            self._throttled = 0

    def throttled(self, route: Route) -> bool:
        """Whether this request gets the registry's own 429 (its answer to a client over its
        request-rate limits, which every one of these registries has: see each module). The
        setting ``throttle`` (0: never) is how many manifest requests, GET or HEAD, are refused
        after :meth:`forget`; the ones after that are served."""
        limit = getattr(self.settings, "throttle", 0)
        if route.kind != "manifest" or limit <= 0:
            return False
        with self._throttle_lock:
            if self._throttled >= limit:
                return False
            self._throttled += 1
            return True

    def ip(self, host_octet: int) -> str:
        """``127.0.<ip_block>.<host_octet>``: each personality owns one /24 of loopback."""
        return f"127.0.{self.settings.ip_block}.{host_octet}"

    def forward(self, request: Request) -> Response:
        """The backend's answer to ``request`` (path and query as sent, safe headers only)."""
        return self.backend.forward(request.method, request.target, request.headers)

    def blob_known(self, route: Route) -> bool:
        """True when the backend has blob ``route.reference`` in repository ``route.name``
        (blobs are repository-scoped: distribution-spec "Checking if content exists")."""
        answer = self.backend.forward("HEAD", f"/v2/{route.name}/blobs/{route.reference}", ())
        return answer.status == 200

    def count_pull(self, identity: str, route: Route) -> None:
        self.counters.add(Pull(identity, route.name, route.reference))
