"""The entries of an image index, classified, and the rule that picks one (no I/O).

Each entry of an index is an ``image`` (a manifest with a platform), an ``attestation``
(BuildKit's ``vnd.docker.reference.type: attestation-manifest``, about the image named by
``vnd.docker.reference.digest``), a nested ``index``, or an ``artifact`` (anything else: an
``artifactType``, or a media type that is not a manifest). :func:`choose` picks the image a
caller means: the platform asked for, else linux/amd64, else this machine's, else the only one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidDocumentError, PlatformNotFoundError
from . import mediatypes as mt
from .models import Descriptor, Index
from .platforms import Platform, host_platform

DEFAULT_PLATFORM = Platform("linux", "amd64")

IMAGE, ATTESTATION, INDEX, ARTIFACT = "image", "attestation", "index", "artifact"


def classify(descriptor: Descriptor) -> str:
    """What an index entry points at: ``image``, ``attestation``, ``index`` or ``artifact``."""
    if descriptor.is_attestation:
        return ATTESTATION
    if descriptor.media_type in mt.INDEX_TYPES:
        return INDEX
    if descriptor.artifact_type or descriptor.media_type not in mt.MANIFEST_TYPES:
        return ARTIFACT
    return IMAGE


@dataclass(frozen=True)
class IndexEntry:
    """One entry of an index, classified."""

    position: int
    descriptor: Descriptor
    kind: str

    @property
    def platform(self) -> Platform | None:
        return self.descriptor.platform

    @property
    def platform_string(self) -> str:
        return str(self.platform) if self.platform is not None else "unknown/unknown"

    @property
    def describes(self) -> str | None:
        """For an attestation, the digest of the image manifest it is about."""
        return self.descriptor.reference_digest


def entries(index: Index) -> tuple[IndexEntry, ...]:
    return tuple(IndexEntry(i, d, classify(d)) for i, d in enumerate(index.manifests))


def choose(
    found: Sequence[IndexEntry], platform: Platform | str | None = None
) -> tuple[IndexEntry, str]:
    """The entry to use and why (see the module docstring for the rules)."""
    images = [e for e in found if e.kind in (IMAGE, INDEX)]
    if platform is not None:
        wanted = parse_platform(platform)
        for entry in images:
            if entry.platform is not None and wanted.matches(entry.platform):
                return entry, f"platform {wanted} as asked"
        raise PlatformNotFoundError(
            str(wanted), [e.platform_string for e in images], where="the index"
        )
    if not images:
        kinds = ", ".join(sorted({e.kind for e in found})) or "nothing"
        raise PlatformNotFoundError("any image", [], where=f"the index (it holds {kinds})")
    for candidate, why in ((DEFAULT_PLATFORM, "default"), (host_platform(), "this machine's")):
        for entry in images:
            if entry.platform is not None and candidate.matches(entry.platform):
                return entry, f"{entry.platform_string} ({why} platform)"
    if len(images) == 1:
        return images[0], f"{images[0].platform_string} (the only image)"
    return images[0], (
        f"{images[0].platform_string} (first of {len(images)} images; "
        "pass platform= to choose another)"
    )


def parse_platform(value: Platform | str) -> Platform:
    """A Platform from what a user passed; anything else is an InvalidDocumentError too."""
    if isinstance(value, Platform):
        return value
    if isinstance(value, str):
        return Platform.parse(value)
    raise InvalidDocumentError("platform", f"expected 'os/arch[/variant]', got {value!r}")


__all__ = [
    "ARTIFACT",
    "ATTESTATION",
    "DEFAULT_PLATFORM",
    "IMAGE",
    "INDEX",
    "IndexEntry",
    "choose",
    "classify",
    "entries",
    "parse_platform",
]
