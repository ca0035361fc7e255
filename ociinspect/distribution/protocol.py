"""The distribution spec's rules for requests and answers, without I/O.

:mod:`ociinspect.distribution.client` sends the requests; this module says where they go and what
the answers mean. The rules and the sections of the OCI distribution-spec v1.1 (``spec.md``) they
follow:

- addressing: ``/v2/<name>/...`` endpoints ("Endpoints"), Docker Hub's API host, plain http for
  loopback only (and credentials never over plain http to another host);
- "Pulling manifests": a ``<reference>`` is a tag (``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``) or a
  digest; the bytes must hash to a digest asked for, and to ``Docker-Content-Digest`` when the
  registry sends one; schema1 is refused (image-spec's Docker compatibility notes);
- "Listing Tags" and distribution's docs/spec/api.md "Catalog": pages follow
  ``Link: <...>; rel="next"`` (RFC 8288 section 3) and never leave the registry;
- "Listing Referrers" and "Referrers Tag Schema": ``OCI-Filters-Applied``, the
  ``<alg>-<encoded>`` fallback tag, and an empty index when neither is there;
- RFC 9110 section 8.6: ``Content-Length`` is 1*DIGIT.

A failed answer's body ("Error Codes") is read by :mod:`ociinspect.distribution.error_codes`;
redirects (RFC 9110 section 15.4) by :mod:`ociinspect.distribution.redirects`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import (
    DigestMismatchError,
    InsecureCredentialsError,
    InvalidDigestError,
    InvalidDocumentError,
    InvalidReferenceError,
    RegistryError,
    UnsafeUrlError,
    UnsupportedMediaTypeError,
)
from ..values import mediatypes
from ..values.digest import Digest
from ..values.models import SCHEMA1_MESSAGE, ManifestInfo, canonical_document
from ..values.reference import (
    DEFAULT_REGISTRY,
    DOCKER_HUB_API_HOST,
    LEGACY_DEFAULT_REGISTRY,
    TAG_RE,
    default_scheme,
    is_loopback,
)
from .trace import redact_url
from .urls import checked_url, resolve_reference

__all__ = [
    "MAX_MANIFEST_SIZE",
    "MAX_PAGES",
    "BlobInfo",
    "api_host",
    "base_url",
    "check_reference",
    "content_length",
    "filter_referrers",
    "is_loopback",
    "manifest_info",
    "manifest_media_type",
    "next_link",
    "next_page",
    "origin",
    "page_items",
    "refuse_plain_http",
    "referrers_tag",
    "same_origin",
    "verify_document",
]

#: Manifests larger than this are refused (distribution and containerd use 4 MiB too).
MAX_MANIFEST_SIZE = 4 * 1024 * 1024
#: A listing (tags, catalog) longer than this many pages is refused: a registry that keeps
#: inventing next-page links would otherwise never end.
MAX_PAGES = 10_000

Origin = tuple[str, str, int | None]


@dataclass(frozen=True)
class BlobInfo:
    """What a HEAD (or a completed download) says about a blob or manifest. ``manifest`` holds
    the document when a HEAD had to fall back to a GET, so nobody fetches it a second time."""

    digest: Digest
    size: int | None
    media_type: str | None
    manifest: ManifestInfo | None = field(default=None, repr=False, compare=False)


# -- addressing -----------------------------------------------------------------------------


def api_host(registry: str) -> str:
    """The host to talk to for a registry name: Docker Hub's API lives at registry-1.docker.io."""
    hub = (DEFAULT_REGISTRY, LEGACY_DEFAULT_REGISTRY, DOCKER_HUB_API_HOST)
    return DOCKER_HUB_API_HOST if registry in hub else registry


def base_url(registry: str, schemes: Mapping[str, str]) -> str:
    """``http://127.0.0.1:5000`` or ``https://registry-1.docker.io``: ``schemes`` (by registry
    name or API host) overrides the default, which is http for loopback only."""
    host = api_host(registry)
    scheme = schemes.get(registry) or schemes.get(host)
    if scheme is None:
        scheme = default_scheme(host)
    return f"{scheme}://{host}"


def origin(url: str) -> Origin:
    """The (scheme, host, port) of ``url`` (RFC 6454 section 4) as
    :func:`~ociinspect.distribution.urls.checked_url` reads it, the reading the connection
    uses; :class:`~ociinspect.errors.UnsafeUrlError` (a ValueError) when the URL is refused."""
    return checked_url(url).origin


def same_origin(url: str, other: Origin) -> bool:
    try:
        return origin(url) == other
    except ValueError:
        return False


def refuse_plain_http(url: str, registry: str) -> None:
    """Raise InsecureCredentialsError unless credentials may go to ``url``: https, or loopback."""
    target = checked_url(url)
    if target.scheme != "https" and not target.is_loopback:
        raise InsecureCredentialsError(
            f"refusing to send credentials for {registry} over plain http to {target.host}"
        )


def content_length(value: str | None) -> int | None:
    """A Content-Length as an int; None when absent or not 1-19 ASCII digits (``"²"`` passes
    str.isdigit() but not int(), and int() refuses 4301 digits: neither may crash a read)."""
    if value and len(value) < 20 and value.isascii() and value.isdigit():
        return int(value)
    return None


# -- manifests ------------------------------------------------------------------------------


def check_reference(reference: str) -> Digest | None:
    """A digest reference parses to a Digest; a tag is checked against the tag grammar."""
    if ":" in reference:
        try:
            return Digest.parse(reference)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(reference, exc.reason) from None
    if not TAG_RE.fullmatch(reference):
        raise InvalidReferenceError(reference, "not a valid tag or digest")
    return None


def verify_document(
    raw: bytes, expected: Digest | None, header: str | None, what: str
) -> Digest:
    """The digest of a manifest: the one asked for (verified), else computed; header checked."""
    if expected is not None:
        expected.verify(raw, what)
    if header:
        try:
            claimed = Digest.parse(header.strip())
        except InvalidDigestError:
            raise DigestMismatchError(
                f"{what} (Docker-Content-Digest header)", header[:200], "an unparsable digest"
            ) from None
        claimed.verify(raw, f"{what} (Docker-Content-Digest header)")
    return expected if expected is not None else Digest.of(raw)


def manifest_media_type(content_type: str | None, what: str) -> str | None:
    """The media type a manifest answer's ``Content-Type`` names; None for a generic type
    (the document's own ``mediaType`` decides then). Docker schema1 is refused."""
    media_type = mediatypes.strip_parameters(content_type)
    if media_type in mediatypes.GENERIC_CONTENT_TYPES:
        return None
    if media_type in mediatypes.SCHEMA1_TYPES:
        raise UnsupportedMediaTypeError(what, media_type, SCHEMA1_MESSAGE)
    return media_type


def manifest_info(raw: bytes, digest: Digest, media_type: str | None, what: str) -> ManifestInfo:
    """ManifestInfo.from_bytes, also refusing JSON nested deeper than Python's parser goes."""
    try:
        return ManifestInfo.from_bytes(raw, digest, media_type)
    except RecursionError:
        raise InvalidDocumentError(what, "not JSON: nested too deeply") from None


# -- listings -------------------------------------------------------------------------------


def page_items(body: bytes, key: str, url: str, purpose: str) -> list[str]:
    """The strings under ``key`` of a listing page (``tags``, ``repositories``)."""
    try:
        items = json.loads(body).get(key) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError(f"{key!r} is not a list of strings")
    except (ValueError, AttributeError, RecursionError) as exc:
        raise RegistryError(
            "GET", redact_url(url), 200, reason=f"{purpose} page is not valid JSON: {exc}"
        ) from None
    return items


def next_link(link: str | None) -> str | None:
    """The target of ``rel="next"`` in a ``Link`` header (RFC 8288), or None."""
    if not link:
        return None
    for part in link.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None


def next_page(here: str, link: str | None, registry_origin: Origin, purpose: str) -> str:
    """The absolute URL of the page after ``here`` ("" at the end). A link to another origin
    is refused: the request would carry this registry's credentials to whoever it names."""
    nxt = next_link(link)
    if not nxt:
        return ""
    try:
        target = resolve_reference(checked_url(here), nxt)
    except UnsafeUrlError as exc:  # <http://[::1>, a backslash, parsers that disagree
        raise RegistryError(
            "GET", redact_url(here), 200, reason=f"{purpose} next-page link refused: {exc}"
        ) from None
    if target.origin != registry_origin:
        raise RegistryError(
            "GET",
            redact_url(here),
            200,
            reason=f"{purpose} next-page link leaves the registry: {target.redacted()}",
        )
    return target.geturl()


# -- referrers ------------------------------------------------------------------------------


def referrers_tag(digest: Digest) -> str:
    """The fallback tag listing the referrers of ``digest`` (distribution-spec "Referrers Tag
    Schema": ``<alg>-<ref>``, the algorithm truncated to 32 characters and the encoded part to
    64, so a sha512 subject still makes a valid tag)."""
    return f"{digest.algorithm[:32]}-{digest.encoded[:64]}"


def filter_referrers(
    info: ManifestInfo, artifact_type: str | None, filters_applied: str | None = None
) -> ManifestInfo:
    """The referrers index keeping only ``artifact_type``'s entries; as is when no type is
    asked for, or when ``OCI-Filters-Applied`` says the registry filtered already."""
    if not artifact_type or "artifactType" in (filters_applied or ""):
        return info
    kept = [m for m in info.json.get("manifests", []) if m.get("artifactType") == artifact_type]
    return canonical_document(
        dict(info.json, manifests=kept), info.media_type or mediatypes.OCI_INDEX
    )
