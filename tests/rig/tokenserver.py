"""A Docker token server (distribution "token authentication" spec) run by the tests.

``GET /token?service=S&scope=repository:foo:pull&...`` with optional Basic credentials, and the
OAuth2 form ``POST /token`` (``grant_type=password`` or ``refresh_token``), answer a JWT that
distribution 2.8.2 accepts: RS256, header ``x5c`` holding the self-signed certificate that is the
registry's ``rootcertbundle``, claims ``iss``, ``sub``, ``aud`` (a plain string equal to the
service: 2.8.2 decodes ``aud`` as a string, an array would be a malformed token), ``exp``,
``nbf``, ``iat``, ``jti`` and ``access``. Grants follow :mod:`rig.users`.

Every request is recorded with its scopes, identity and headers, so tests can count token
fetches per scope and identity. ``faults`` (the same rules as the proxy's) make it answer
garbage, fail or stall; ``expires_in``/``lifetime`` shape expiry.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import users
from .httpd import Faults, Handler, Recorder, Response, Server

SERVICE = "ociinspect-rig"
ISSUER = "ociinspect-rig-token-issuer"


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint, as received."""

    method: str
    path: str
    scopes: tuple[str, ...]
    service: str | None
    identity: str  # a user name, "anonymous", or "invalid:<name>" for wrong credentials
    grant_type: str | None
    headers: tuple[tuple[str, str], ...]
    status: int | None  # None: the connection was dropped by a fault rule

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ociinspect rig token issuer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``"repository:a/b:pull,push"`` -> ("repository", "a/b", ("pull", "push"))."""
    type_, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not type_ or not name:
        return None
    return type_, name, tuple(a for a in actions.split(",") if a)


class TokenServer:
    """The token server on 127.0.0.1 (ephemeral port); ``realm`` is its token URL."""

    def __init__(self, service: str = SERVICE, issuer: str = ISSUER) -> None:
        self.service = service
        self.issuer = issuer
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.certificate = _self_signed(self._key)
        self.certificate_pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self._x5c = base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER))
        self.recorder = Recorder()  # raw HTTP view, for the shared fault helpers
        self.faults = Faults()
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        self._refresh: dict[str, str] = {}
        self.reset()
        self._server = Server(_TokenHandler, self)
        self.host = self._server.host
        self.url = self._server.url
        self.realm = f"{self.url}/token"

    # -- configuration ---------------------------------------------------------------------

    def reset(self) -> None:
        """Forget recorded requests and faults; restore the default expiry settings."""
        #: ``expires_in`` written in the body; None leaves it out (clients then assume 60 s).
        self.expires_in: int | None = 300
        #: Seconds from now to the JWT ``exp``; None means ``expires_in`` (or 60).
        #: distribution accepts a token up to 60 s past ``exp`` (its leeway).
        self.lifetime: int | None = None
        #: Which body fields carry the token ("token", "access_token").
        self.token_fields: tuple[str, ...] = ("token", "access_token")
        self.faults.clear()
        self.recorder.clear()
        with self._lock:
            self._requests.clear()

    def write_rootcertbundle(self, path: Path) -> Path:
        path.write_bytes(self.certificate_pem)
        return path

    def stop(self) -> None:
        self._server.stop()

    # -- observation -----------------------------------------------------------------------

    def add_request(self, record: TokenRequest) -> None:
        with self._lock:
            self._requests.append(record)

    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._requests)

    def count(
        self, scope: str | None = None, identity: str | None = None, method: str | None = None
    ) -> int:
        """Token requests that asked for ``scope`` (among others) as ``identity``."""
        return sum(
            (scope is None or scope in r.scopes)
            and (identity is None or r.identity == identity)
            and (method is None or r.method == method)
            for r in self.requests()
        )

    # -- tokens ----------------------------------------------------------------------------

    def mint(
        self,
        access: list[dict[str, Any]],
        subject: str = "",
        lifetime: int | None = None,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> str:
        """A signed JWT granting ``access`` ([{type, name, actions}]) to ``subject``."""
        now = int(time.time())
        if lifetime is None:
            lifetime = self.lifetime if self.lifetime is not None else (self.expires_in or 60)
        claims = {
            "iss": issuer or self.issuer,
            "sub": subject,
            "aud": audience or self.service,
            "exp": now + lifetime,
            "nbf": now - 1,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"x5c": [self._x5c.decode()]}
        )

    def refresh_token_for(self, user: str) -> str:
        """An opaque refresh token (what ``identitytoken`` holds in a Docker config)."""
        token = "rt-" + secrets.token_hex(16)
        with self._lock:
            self._refresh[token] = user
        return token

    def grants(self, identity: str, scopes: list[str]) -> list[dict[str, Any]]:
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            type_, name, wanted = parsed
            granted = users.grant(identity, type_, name, wanted)
            if granted:
                access.append({"type": type_, "name": name, "actions": list(granted)})
        return access

    def answer(
        self,
        method: str,
        query: dict[str, list[str]],
        form: dict[str, list[str]],
        authorization: str | None,
    ) -> tuple[int, dict[str, Any], TokenRequest]:
        """Decide one token request: (status, JSON body, record without headers/path)."""
        params = form if method == "POST" else query
        scopes = [s for value in params.get("scope", []) for s in value.split()]
        service = params["service"][0] if params.get("service") else None
        grant_type = form["grant_type"][0] if method == "POST" and form.get("grant_type") else None
        identity, offline = self._identity(method, form, authorization)
        offline = offline or (query.get("offline_token") or [""])[0] == "true"

        def done(status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any], TokenRequest]:
            record = TokenRequest(
                method, "", tuple(scopes), service, identity, grant_type, (), status
            )
            return status, body, record

        if identity.startswith("invalid:"):
            return done(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]},
            )
        if service is not None and service != self.service:
            return done(
                400, {"errors": [{"code": "DENIED", "message": f"unknown service {service!r}"}]}
            )
        token = self.mint(
            self.grants(identity, scopes), "" if identity == users.ANONYMOUS else identity
        )
        body: dict[str, Any] = {field: token for field in self.token_fields}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        body["issued_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if offline and identity != users.ANONYMOUS:
            body["refresh_token"] = self.refresh_token_for(identity)
        if method == "POST":
            body["scope"] = " ".join(scopes)
        return done(200, body)

    def _identity(
        self, method: str, form: dict[str, list[str]], authorization: str | None
    ) -> tuple[str, bool]:
        """(identity, offline) from Basic credentials or the OAuth2 form."""
        if method == "POST":
            grant = (form.get("grant_type") or [""])[0]
            offline = (form.get("access_type") or [""])[0] == "offline"
            if grant == "password":
                name = (form.get("username") or [""])[0]
                ok = users.check_password(name, (form.get("password") or [""])[0])
                return (name if ok else f"invalid:{name}"), offline
            if grant == "refresh_token":
                with self._lock:
                    user = self._refresh.get((form.get("refresh_token") or [""])[0])
                return (user or "invalid:refresh_token"), offline
            return "invalid:grant_type", offline
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return "invalid:", False
            name, _, password = decoded.partition(":")
            return (name if users.check_password(name, password) else f"invalid:{name}"), False
        return users.ANONYMOUS, False


class _TokenHandler(Handler):
    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        server: TokenServer = self.server.owner  # type: ignore[attr-defined]
        body = self.read_body() if self.command == "POST" else b""
        split = urlsplit(self.path)
        query = _multi(parse_qsl(split.query, keep_blank_values=True))
        form = _multi(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        status, payload, decided = server.answer(
            self.command, query, form, self.headers.get("Authorization")
        )
        faulted = self.intercept(server.faults, server.recorder)
        if faulted is not None:
            self._log(server, decided, faulted.status)
            return
        if split.path != "/token":
            status, payload = 404, {"errors": [{"code": "NOT_FOUND", "message": split.path}]}
        response = Response(
            status, [("Content-Type", "application/json")], json.dumps(payload).encode()
        )
        server.faults.apply_response(self.command, self.path, response)
        self._log(server, decided, status)
        server.recorder.add(self.record(status))
        self.send(response)

    def _log(self, server: TokenServer, decided: TokenRequest, status: int | None) -> None:
        record = dataclasses.replace(
            decided, path=self.path, headers=tuple(self.headers.items()), status=status
        )
        server.add_request(record)


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out
