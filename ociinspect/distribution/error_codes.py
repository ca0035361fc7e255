"""What a registry's failed answer means: its ``{"errors": [...]}`` body and status as an error.

No I/O: :mod:`ociinspect.distribution.client` reads the body (up to :data:`MAX_ERROR_BODY` bytes)
and the challenge, then raises what :func:`answer_error` or :func:`token_refused` returns.

Specs: OCI distribution-spec v1.1 spec.md "Error Codes" (the body's shape; MANIFEST_UNKNOWN,
BLOB_UNKNOWN, NAME_UNKNOWN, DENIED, TOOMANYREQUESTS); RFC 6750 section 3.1 (the ``error`` of a
Bearer challenge that refused a token); distribution's docs/spec/auth/token.md (a token server's
refusal). A registry may echo what it was sent: every string shown is scrubbed of the request's
secrets before it is shortened, so a cut never leaves half a secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..errors import (
    AuthError,
    DeniedError,
    NotFoundError,
    OCIInspectError,
    RateLimitedError,
    RegistryError,
    RegistryErrorDetail,
    ServerError,
    TokenError,
    UnauthorizedError,
)
from .trace import redact_url, scrub, scrub_json

__all__ = ["MAX_ERROR_BODY", "NOT_FOUND_CODES", "answer_error", "error_details", "token_refused"]

#: Error bodies are read up to this size; a longer one is not parsed.
MAX_ERROR_BODY = 64 * 1024
NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"})


def error_details(body: bytes, secrets: Sequence[str]) -> tuple[RegistryErrorDetail, ...]:
    """The entries of an ``{"errors": [...]}`` body (at most 10); anything else yields ()."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return ()
    items = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(items, list):
        return ()
    out = []
    for item in items[:10]:
        if isinstance(item, dict):
            try:  # scrubbed before shortened: a cut must not leave half a secret
                detail = _short(scrub_json(item.get("detail"), secrets))
            except RecursionError:
                detail = "(nested too deeply to show)"
            out.append(
                RegistryErrorDetail(
                    scrub(str(item.get("code", "UNKNOWN")), secrets)[:100],
                    scrub(str(item.get("message", "")), secrets)[:500],
                    detail,
                )
            )
    return tuple(out)


def _short(detail: Any) -> Any:
    text = json.dumps(detail) if not isinstance(detail, str) else detail
    return detail if len(text) <= 500 else text[:500] + "…"


def answer_error(
    method: str,
    url: str,
    status: int,
    errors: tuple[RegistryErrorDetail, ...],
    what: str,
    refusal: str | None = None,
) -> OCIInspectError:
    """The typed error for a non-success answer to ``method url`` asking for ``what``.

    ``refusal`` is the ``error`` param of the 401's Bearer challenge, if any (RFC 6750 3.1).
    """
    codes = {e.code for e in errors}
    shown = redact_url(url)
    if status == 404 or codes & NOT_FOUND_CODES:
        return NotFoundError(method, shown, status, errors, reason=f"{what} not found")
    if status == 401:
        if refusal == "insufficient_scope":
            return DeniedError(
                method, shown, status, errors, reason=f"access to {what} denied ({refusal})"
            )
        known = refusal in ("invalid_token", "invalid_request")  # never echo other text
        why = f" (the registry refused the token: {refusal})" if known else ""
        return UnauthorizedError(
            method, shown, status, errors, reason=f"not authorized to read {what}{why}"
        )
    if status == 403 or "DENIED" in codes:
        return DeniedError(method, shown, status, errors, reason=f"access to {what} denied")
    if status == 429 or "TOOMANYREQUESTS" in codes:
        return RateLimitedError(method, shown, status, errors, reason="rate limited")
    if status >= 500:
        return ServerError(method, shown, status, errors)
    return RegistryError(method, shown, status, errors, reason=f"unexpected answer for {what}")


def token_refused(
    method: str,
    url: str,
    status: int,
    errors: tuple[RegistryErrorDetail, ...],
    username: str | None,
) -> AuthError:
    """The typed error for a token server that answered ``status`` instead of a token."""
    kind: type[AuthError] = {401: UnauthorizedError, 403: DeniedError}.get(status, TokenError)
    who = f"for {username}" if username is not None else "anonymously"
    reason = f"token server refused a token {who}"
    return kind(method, redact_url(url), status, errors, reason=reason)
