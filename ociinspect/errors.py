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
    ├── InvalidCosignTagError          (also ValueError) not cosign's sha256-<hex>.sig|.att|.sbom
    ├── DigestMismatchError            bytes do not hash to the digest they were asked for
    │   └── DiffIdMismatchError        a layer's uncompressed tar is not its config's diff_id
    ├── SizeMismatchError              bytes are not the size a descriptor promised
    ├── SizeLimitError                 a manifest, token body or layer is over a limit
    │   └── CountLimitError            more entries (packages, subjects) than a parser may read
    ├── InvalidDocumentError           (also ValueError) malformed JSON, or JSON of the wrong shape
    │   ├── UnsupportedMediaTypeError  a media type ociinspect does not read (schema1, unknown)
    │   └── InvalidAttestationError    a statement, SBOM, provenance or signature is malformed
    ├── PlatformNotFoundError          (also LookupError) no entry matches; lists what exists
    ├── LayerNotFoundError             (also IndexError) no layer at that position or digest
    ├── SourceError                    a local source (OCI layout, archive) is broken or missing
    ├── ArchiveError                   a layer tarball is malformed or over the safety limits
    ├── ImageFileError                 a path of an image cannot be read as a file
    │   ├── ImagePathNotFoundError     (also LookupError) no such path, or a whiteout removed it
    │   ├── NotAFileError              a directory, device, FIFO or sparse file is there
    │   └── SymlinkLoopError           more than 40 symlinks followed (a loop)
    ├── UnsafeUrlError                 (also ValueError) a URL refused, or parsers read it apart
    ├── ProxyConfigError               (also ValueError) a proxy variable that cannot be used
    ├── InsecureCredentialsError       credentials would go over plain http to a non-loopback host
    │   └── ClearTextProxyError        credentials would cross a proxy in clear (plain http)
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
            └── DeadlineError          an exchange or operation outlived its deadline, or a
                                       blob arrived slower than the minimum rate
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OCIInspectError(Exception):
    """Base of every error ociinspect raises on purpose.

    ``str(error)`` is safe to print: control, format and invisible characters a server or an
    image put in it (ESC, BEL, CR, bidi overrides) are escaped
    (:func:`ociinspect.terminal.printable`)."""

    def __str__(self) -> str:
        from .terminal import printable

        return printable(super().__str__())

    def _render_traceback_(self) -> list[str]:
        """What IPython shows when this error ends a cell: its one line and the next step,
        not frames of the client's internals (:func:`ociinspect.display.error_lines`)."""
        from .display import error_lines

        return error_lines(self)

    def _repr_html_(self) -> str:
        """The error as a notebook shows a value (:func:`ociinspect.display.error_html`)."""
        from .display import error_html

        return error_html(self)


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


class InvalidCosignTagError(OCIInspectError, ValueError):
    """A tag that does not follow cosign's ``sha256-<hex>.sig|.att|.sbom`` scheme."""

    def __init__(self, tag: str, reason: str) -> None:
        self.tag = tag
        self.reason = reason
        super().__init__(f"invalid cosign tag {tag!r}: {reason}")


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


class CountLimitError(SizeLimitError):
    """A document holds more entries, or nests deeper, than the parser was allowed to read.

    The limit is an argument of the parser (``max_packages=``, ``max_components=``,
    ``max_depth=`` ...); ``argument`` names it and the message says to raise it.
    """

    def __init__(self, what: str, limit: int, size: int, argument: str) -> None:
        self.argument = argument
        OCIInspectError.__init__(
            self,
            f"{what} is over the limit of {limit} (got {size}); pass {argument}= to read more",
        )
        self.what = what
        self.limit = limit
        self.size = size


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


class InvalidAttestationError(InvalidDocumentError):
    """A supply-chain document (in-toto statement, DSSE envelope, SBOM, provenance, signature,
    Sigstore bundle) is malformed JSON, or JSON of the wrong shape.

    ``str(err)`` names the document and each bad field by path, e.g.
    ``invalid in-toto statement: subject[0].digest: missing (required)``; ``fields`` holds
    those paths (``("subject[0].digest",)``), empty when the problem is the whole document.
    """

    def __init__(self, what: str, reason: str, fields: tuple[str, ...] = ()) -> None:
        self.fields = tuple(fields)
        super().__init__(what, reason)


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


class ImageFileError(OCIInspectError):
    """A path of an image cannot be read as a file (see :mod:`ociinspect.reading`).

    ``image`` names the image, ``path`` the path asked for (absolute), ``reason`` what is there
    instead; the message ends with what to do next."""

    def __init__(self, image: str, path: str, reason: str, hint: str = "") -> None:
        self.image = image
        self.path = path
        self.reason = reason
        self.hint = hint
        tail = f" ({hint})" if hint else ""
        super().__init__(f"{path} in {image}: {reason}{tail}")


class ImagePathNotFoundError(ImageFileError, LookupError):
    """No layer holds the path, a whiteout or an opaque directory removed it, or a component on
    the way is not a directory; ``reason`` says which, and names the nearest path that exists."""


class NotAFileError(ImageFileError):
    """The path resolves to a directory, a device, a FIFO or another entry without file data;
    ``kind`` is its type (``dir``, ``char``, ``block``, ``fifo``, ...)."""

    def __init__(self, image: str, path: str, kind: str, reason: str, hint: str = "") -> None:
        self.kind = kind
        super().__init__(image, path, reason, hint)


class SymlinkLoopError(ImageFileError):
    """Resolving the path followed more symlinks than the limit (40, as Linux's MAXSYMLINKS)."""


class UnsafeUrlError(OCIInspectError, ValueError):
    """A URL ociinspect will not connect to, or whose parsers disagree
    (:func:`ociinspect.distribution.urls.checked_url`).

    ``url`` is the URL redacted, ``reason`` what is wrong, ``readings`` what each parser read
    as ``(parser, "scheme://host:port")`` pairs (a reading taken from the part of the authority
    left of an ``@`` is shown as ``<redacted>``).
    """

    def __init__(self, url: str, reason: str, readings: tuple[tuple[str, str], ...] = ()) -> None:
        self.url = url
        self.reason = reason
        self.readings = readings
        message = f"refusing URL {url}: {reason}"
        if len({text for _, text in readings}) > 1:
            message += " (" + "; ".join(f"{name} reads {text}" for name, text in readings) + ")"
        super().__init__(message)


class ProxyConfigError(OCIInspectError, ValueError):
    """A proxy variable that cannot be used: broken, unsupported (socks), or HTTP_PROXY under
    CGI (:mod:`ociinspect.distribution.proxies`). The message names the variable and shows its
    value redacted."""

    def __init__(self, variable: str, value: str, reason: str) -> None:
        self.variable = variable
        self.value = value
        self.reason = reason
        shown = f" ({value})" if value else ""
        super().__init__(f"proxy variable {variable}{shown}: {reason}")


class InsecureCredentialsError(OCIInspectError):
    """Credentials would be sent over plain http to a host that is not loopback."""


class ClearTextProxyError(InsecureCredentialsError):
    """Credentials would cross a proxy in clear text (a plain-http request through a proxy)."""


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
    """429 Too Many Requests, still so after the retry budget was spent (or at once, when the
    registry said no pull is left until a reset beyond the retry budget).

    ``limit``, ``remaining``, ``window_seconds`` and ``reset`` (an aware UTC datetime) are what
    the answer's rate-limit headers said (None when not said; see
    :mod:`ociinspect.distribution.ratelimit`); ``hint`` is the next step in one line (log in,
    use a mirror, or wait until HH:MM UTC). Neither the message nor ``hint`` carries the address
    the pulls are counted against; ``ratelimit.source`` does, for a caller who asks.
    """

    ratelimit: Any = None
    hint: str | None = None

    @property
    def limit(self) -> int | None:
        return getattr(self.ratelimit, "limit", None)

    @property
    def remaining(self) -> int | None:
        return getattr(self.ratelimit, "remaining", None)

    @property
    def window_seconds(self) -> int | None:
        return getattr(self.ratelimit, "window_seconds", None)

    @property
    def reset(self) -> Any:
        return getattr(self.ratelimit, "reset", None)


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


class DeadlineError(TransportError):
    """An exchange, or the operation it belongs to, outlived its deadline, or a blob arrived
    slower than the minimum transfer rate (``Settings.request_deadline``,
    ``operation_deadline``, ``min_blob_rate``).

    ``what`` names what was slow (``manifest demo/app:latest``, ``token``, ``blob
    repo@sha256:...``), ``limit`` the deadline in seconds that ran out and ``received`` the
    bytes of the answer's body that had arrived; the message names the setting to raise.
    """

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None = None,
        errors: tuple[RegistryErrorDetail, ...] | list[RegistryErrorDetail] = (),
        reason: str | None = None,
        *,
        what: str = "",
        limit: float | None = None,
        received: int | None = None,
    ) -> None:
        self.what = what
        self.limit = limit
        self.received = received
        super().__init__(method, url, status, errors, reason)


__all__ = [
    "ArchiveError",
    "AuthError",
    "ChallengeError",
    "ClearTextProxyError",
    "CountLimitError",
    "CredentialHelperError",
    "DeadlineError",
    "DeniedError",
    "DigestMismatchError",
    "InsecureCredentialsError",
    "InsecureRedirectError",
    "InvalidAttestationError",
    "InvalidCosignTagError",
    "InvalidDigestError",
    "InvalidDocumentError",
    "InvalidReferenceError",
    "ImageFileError",
    "ImagePathNotFoundError",
    "LayerNotFoundError",
    "NotAFileError",
    "SymlinkLoopError",
    "NotFoundError",
    "OCIInspectError",
    "PlatformNotFoundError",
    "ProxyConfigError",
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
    "UnsafeUrlError",
    "UnsupportedMediaTypeError",
]
