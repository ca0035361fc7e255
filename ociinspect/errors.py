"""The one exception tree of ociinspect.

Every error the package raises on purpose is an :class:`OCIInspectError`. An error says what was
asked, of whom, and what came back; it never contains a secret (password, token or
``Authorization`` value): messages are built from URLs with credentials stripped and from the
registry's parsed error body only.

::

    OCIInspectError
    ├── SettingsError                  (also ValueError) a setting or OCIINSPECT_* variable is bad
    ├── InvalidReferenceError          (also ValueError) a reference string does not parse
    ├── InvalidDigestError             (also ValueError) a digest string does not parse
    ├── DigestMismatchError            bytes do not hash to the digest they were asked for
    │   └── DiffIdMismatchError        a layer's uncompressed tar is not its config's diff_id
    ├── SizeMismatchError              bytes are not the size a descriptor promised
    ├── SizeLimitError                 a manifest, token body or layer is over a limit
    ├── InvalidDocumentError           (also ValueError) malformed JSON, or JSON of the wrong shape
    │   └── UnsupportedMediaTypeError  a media type ociinspect does not read (schema1, unknown)
    ├── PlatformNotFoundError          (also LookupError) no entry matches; lists what exists
    ├── LayerNotFoundError             (also IndexError) no layer at that position or digest
    ├── SourceError                    a local source (OCI layout, archive) is broken or missing
    ├── ArchiveError                   a layer tarball is malformed or over the safety limits
    ├── InsecureCredentialsError       credentials would go over plain http to a non-loopback host
    ├── CredentialHelperError          a docker-credential-* helper failed (never quotes a secret)
    └── RegistryError                  an HTTP exchange failed; carries method, url, status, errors
        ├── NotFoundError              404 / MANIFEST_UNKNOWN / BLOB_UNKNOWN / NAME_UNKNOWN
        ├── AuthError
        │   ├── UnauthorizedError      401 (no or bad credentials)
        │   ├── DeniedError            403 / DENIED / insufficient_scope
        │   ├── ChallengeError         a WWW-Authenticate header that cannot be used
        │   └── TokenError             the token endpoint failed or answered garbage
        ├── RateLimitedError           429 after the retries ran out
        ├── RedirectError
        │   ├── TooManyRedirectsError  more hops than allowed, or a loop
        │   └── InsecureRedirectError  https -> http downgrade
        ├── ServerError                5xx after the retries ran out
        └── TransportError             connection refused/reset, timeout, truncated body
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OCIInspectError(Exception):
    """Base of every error ociinspect raises on purpose."""


class SettingsError(OCIInspectError, ValueError):
    """A setting (or the ``OCIINSPECT_*`` variable it comes from) has a value that cannot be
    used: ``name`` and ``value`` say which, ``hint`` what would work."""

    def __init__(self, name: str, value: str, hint: str) -> None:
        self.name = name
        self.value = value
        self.hint = hint
        shown = f" = {value!r}" if value else ""
        super().__init__(f"setting {name}{shown}: {hint}")


class InvalidReferenceError(OCIInspectError, ValueError):
    """A reference string does not follow distribution's grammar."""

    def __init__(self, reference: str, reason: str) -> None:
        self.reference = reference
        self.reason = reason
        super().__init__(f"invalid reference {reference!r}: {reason}")


class InvalidDigestError(OCIInspectError, ValueError):
    """A digest string is not ``algorithm:encoded`` of a supported algorithm."""

    def __init__(self, digest: str, reason: str) -> None:
        self.digest = digest
        self.reason = reason
        super().__init__(f"invalid digest {digest!r}: {reason}")


class DigestMismatchError(OCIInspectError):
    """Content does not hash to the digest it was asked for; the content is discarded."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"digest mismatch for {what}: expected {expected}, got {actual}")


class DiffIdMismatchError(DigestMismatchError):
    """A layer decompressed to a tar whose digest is not the ``rootfs.diff_ids`` entry the
    image config lists for it (image-spec config.md). containerd and ``crane validate`` refuse
    such an image; nothing derived from the layer is returned or cached."""

    def __init__(self, image: str, position: int, layer: str, expected: str, actual: str) -> None:
        self.image = image
        self.position = position
        self.layer = layer
        super().__init__(
            f"layer {position} ({layer}) of {image}: uncompressed tar (diff_id)", expected, actual
        )


class SizeMismatchError(OCIInspectError):
    """Content is not the size its descriptor (or Content-Length) promised."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"size mismatch for {what}: expected {expected} bytes, got {actual}")


class SizeLimitError(OCIInspectError):
    """Something is larger than ociinspect is willing to read."""

    def __init__(self, what: str, limit: int, size: int | None = None) -> None:
        self.what = what
        self.limit = limit
        self.size = size
        got = f"{size} bytes" if size is not None else "more"
        super().__init__(f"{what} is over the limit of {limit} bytes (got {got})")


class InvalidDocumentError(OCIInspectError, ValueError):
    """A JSON document is malformed or does not have the shape its media type requires."""

    def __init__(self, what: str, reason: str) -> None:
        self.what = what
        self.reason = reason
        super().__init__(f"invalid {what}: {reason}")


class UnsupportedMediaTypeError(InvalidDocumentError):
    """A document's media type is one ociinspect does not read (Docker schema1, unknown types)."""

    def __init__(self, what: str, media_type: str | None, reason: str | None = None) -> None:
        self.media_type = media_type
        super().__init__(what, reason or f"unsupported media type {media_type!r}")


class PlatformNotFoundError(OCIInspectError, LookupError):
    """No entry of an index matches the platform asked for."""

    def __init__(self, wanted: str, available: list[str], where: str = "index") -> None:
        self.wanted = wanted
        self.available = list(available)
        listed = ", ".join(self.available) if self.available else "none"
        super().__init__(f"no platform {wanted!r} in {where}; available: {listed}")


class LayerNotFoundError(OCIInspectError, IndexError):
    """No layer at the position, or with the digest (prefix), that was asked for."""


class SourceError(OCIInspectError):
    """A local source (OCI layout directory, OCI or Docker archive) is missing or broken."""


class ArchiveError(OCIInspectError):
    """A layer tarball is malformed, or exceeds the entry/size safety limits."""


class InsecureCredentialsError(OCIInspectError):
    """Credentials would be sent over plain http to a host that is not loopback."""


class CredentialHelperError(OCIInspectError):
    """A ``docker-credential-*`` helper failed (missing, non-zero exit, garbage, timeout).

    The message names the helper and registry and quotes at most the first line of the
    helper's stderr; it never holds the secret.
    """

    def __init__(self, helper: str, registry: str, reason: str) -> None:
        self.helper = helper
        self.registry = registry
        self.reason = reason
        super().__init__(f"credential helper {helper} for {registry}: {reason}")


@dataclass(frozen=True)
class RegistryErrorDetail:
    """One entry of a registry's ``{"errors": [{code, message, detail}]}`` body."""

    code: str
    message: str
    detail: Any = None

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.message else self.code
        if self.detail not in (None, "", {}, []):
            text += f" ({self.detail})"
        return text


class RegistryError(OCIInspectError):
    """An HTTP exchange with a registry (or its token server) failed.

    ``str(err)`` reads like ``GET http://host/v2/repo/manifests/tag: 404 MANIFEST_UNKNOWN: ...``.
    The URL never carries credentials, and no header value is ever included.
    """

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None = None,
        errors: tuple[RegistryErrorDetail, ...] | list[RegistryErrorDetail] = (),
        reason: str | None = None,
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.errors = tuple(errors)
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"{self.method} {self.url}:"]
        if self.status is not None:
            parts.append(str(self.status))
        if self.errors:
            parts.append("; ".join(str(e) for e in self.errors))
        if self.reason:
            parts.append(self.reason)
        return " ".join(parts)

    @property
    def codes(self) -> tuple[str, ...]:
        """The registry's error codes, e.g. ``("MANIFEST_UNKNOWN",)``."""
        return tuple(e.code for e in self.errors)


class NotFoundError(RegistryError, LookupError):
    """404, or MANIFEST_UNKNOWN / BLOB_UNKNOWN / NAME_UNKNOWN."""


class AuthError(RegistryError):
    """Authentication or authorisation failed."""


class UnauthorizedError(AuthError):
    """401: no credentials, wrong credentials, or a token the registry did not accept."""


class DeniedError(AuthError):
    """403: the credentials are valid but do not grant the access asked for."""


class ChallengeError(AuthError):
    """A ``WWW-Authenticate`` challenge that cannot be used (no realm, unknown scheme, garbage)."""


class TokenError(AuthError):
    """The token endpoint failed, or answered something that is not a token."""


class RateLimitedError(RegistryError):
    """429 Too Many Requests, still so after the retry budget was spent."""


class RedirectError(RegistryError):
    """A redirect that ociinspect refuses to follow."""


class TooManyRedirectsError(RedirectError):
    """More redirect hops than allowed, or a redirect loop."""


class InsecureRedirectError(RedirectError):
    """A redirect from https to http."""


class ServerError(RegistryError):
    """5xx, still so after the retry budget was spent."""


class TransportError(RegistryError):
    """The connection failed: refused, reset, timed out, or the body was cut short."""


__all__ = [
    "ArchiveError",
    "AuthError",
    "ChallengeError",
    "CredentialHelperError",
    "DeniedError",
    "DigestMismatchError",
    "InsecureCredentialsError",
    "InsecureRedirectError",
    "InvalidDigestError",
    "InvalidDocumentError",
    "InvalidReferenceError",
    "LayerNotFoundError",
    "NotFoundError",
    "OCIInspectError",
    "PlatformNotFoundError",
    "RateLimitedError",
    "RedirectError",
    "RegistryError",
    "RegistryErrorDetail",
    "ServerError",
    "SizeLimitError",
    "SizeMismatchError",
    "SourceError",
    "TokenError",
    "TooManyRedirectsError",
    "TransportError",
    "UnauthorizedError",
    "UnsupportedMediaTypeError",
]
