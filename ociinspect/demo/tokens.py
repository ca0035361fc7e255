"""The demo's token server: the distribution token-auth flow, small enough to read.

``GET /token?service=…&scope=repository:NAME:pull[,push]`` answers
``{"token": …, "access_token": …, "expires_in": …, "issued_at": …}`` (distribution
docs/spec/auth/token.md "Requesting a Token" and "Token Response Fields"). Anonymous callers get
``pull`` on every repository and the catalog; the demo's one user (``student``, with the
password the running demo holds) also gets ``push`` on ``scratch/…`` repositories. A wrong
password is a 401 with a ``Basic`` challenge, as Docker Hub's token server answers.

Tokens are opaque to clients. Here a token is ``base64url(claims).base64url(HMAC-SHA256)`` with
a key made when the demo starts: the registry checks the MAC, the expiry, the service and the
access list. (distribution's own token server issues JWTs signed with a certificate the
registry trusts; the shape of the exchange is the same.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .http import Handler

SERVICE = "ociinspect-demo"
USER = "student"
#: What repositories the user may push to (and only there).
SCRATCH_PREFIX = "scratch/"
TOKEN_LIFETIME = 300
#: Scopes read from one token request, at most.
MAX_SCOPES = 16


@dataclass(frozen=True)
class Access:
    """One entry of a token's access list: ``repository``/``registry``, a name, actions."""

    type: str
    name: str
    actions: tuple[str, ...]


def parse_scope(text: str) -> Access | None:
    """``repository:team/app:pull,push`` -> Access; None when it has not three parts."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    return Access(kind, name, tuple(a for a in actions.split(",") if a))


def grant(identity: str | None, wanted: Access) -> Access:
    """The part of ``wanted`` that ``identity`` (a user name, or None for anonymous) gets."""
    allowed: set[str] = set()
    if wanted.type == "repository":
        allowed = {"pull"}
        if identity == USER and wanted.name.startswith(SCRATCH_PREFIX):
            allowed |= {"push"}
    elif wanted.type == "registry" and wanted.name == "catalog":
        allowed = {"*"}
    return Access(wanted.type, wanted.name, tuple(a for a in wanted.actions if a in allowed))


@dataclass
class TokenAuthority:
    """Issues and checks the demo's tokens. ``password`` is the user's, made per demo."""

    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    lifetime: int = TOKEN_LIFETIME
    clock: Callable[[], float] = time.time
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def check_password(self, user: str, password: str) -> bool:
        return user == USER and hmac.compare_digest(password.encode(), self.password.encode())

    def issue(self, identity: str | None, access: Sequence[Access]) -> str:
        claims = {
            "sub": identity or "",
            "aud": SERVICE,
            "exp": int(self.clock()) + self.lifetime,
            "access": [
                {"type": a.type, "name": a.name, "actions": list(a.actions)} for a in access
            ],
        }
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` when it is ours, unexpired and for this service."""
        body, _, mac = token.partition(".")
        try:
            good = hmac.compare_digest(base64.urlsafe_b64decode(_pad(mac)), self._mac(body))
            claims = json.loads(base64.urlsafe_b64decode(_pad(body))) if good else None
        except (binascii.Error, ValueError):
            return None
        if not isinstance(claims, dict) or claims.get("aud") != SERVICE:
            return None
        if not isinstance(claims.get("exp"), int) or claims["exp"] < self.clock():
            return None
        return claims

    def valid(self, token: str) -> bool:
        """Whether ``token`` is ours and unexpired, whatever it grants (``GET /v2/``)."""
        return self.claims(token) is not None

    def allows(self, token: str, type_: str, name: str, action: str) -> bool:
        """Whether ``token`` is ours, unexpired, for this service, and grants the action."""
        claims = self.claims(token)
        if claims is None:
            return False
        return any(
            isinstance(a, dict)
            and a.get("type") == type_
            and a.get("name") == name
            and (action in a.get("actions", ()) or "*" in a.get("actions", ()))
            for a in claims.get("access", ())
        )

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pad(text: str) -> str:
    return text + "=" * (-len(text) % 4)


class TokenHandler(Handler):
    """``GET /token``: the realm the registry's challenges name."""

    origin = "token"

    def do_GET(self) -> None:
        authority: TokenAuthority = self.server.app.tokens
        split = urlsplit(self.path)
        if split.path != "/token":
            self.oci_error(404, "NOT_FOUND", "the token endpoint is /token")
            return
        params = parse_qs(split.query)
        identity = self._identity(authority)
        if not isinstance(identity, str | None):
            self.answer_json(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]},
                {"WWW-Authenticate": f'Basic realm="{SERVICE}"'},
            )
            return
        if params.get("service", [SERVICE])[0] != SERVICE:
            self.oci_error(400, "UNSUPPORTED", f"this token server issues tokens for {SERVICE}")
            return
        wanted = [parse_scope(s) for s in params.get("scope", [])[:MAX_SCOPES]]
        access = [grant(identity, w) for w in wanted if w is not None]
        token = authority.issue(identity, access)
        issued = datetime.fromtimestamp(authority.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.answer_json(
            200,
            {
                "token": token,
                "access_token": token,
                "expires_in": authority.lifetime,
                "issued_at": issued,
            },
        )

    def _identity(self, authority: TokenAuthority) -> str | None | bool:
        """The user a Basic header names (None: anonymous; False: a wrong password)."""
        header = self.headers.get("Authorization", "")
        scheme, _, credential = header.partition(" ")
        if not header:
            return None
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(credential.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user if authority.check_password(user, password) else False


__all__ = [
    "SCRATCH_PREFIX",
    "SERVICE",
    "TOKEN_LIFETIME",
    "USER",
    "Access",
    "TokenAuthority",
    "TokenHandler",
    "grant",
    "parse_scope",
]
