"""The Raw tab's documents and the links between them. Pure: models in, values out.

A :class:`Doc` is one document as served (its bytes, media type and digest) with a
:class:`Link` per descriptor it holds; following a link shows what the descriptor points at
(another manifest, a config, a layer's listing). The widget fetches; this module only reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..values import mediatypes as mt
from ..values.entries import classify
from ..values.models import Descriptor, Index, Manifest
from ..values.units import format_size, short_digest

#: JSON blobs up to this size are fetched and shown when a link points at one.
MAX_SHOWN_BLOB = 1024 * 1024

INDEX, MANIFEST, JSON_BLOB, LAYER, OTHER = "index", "manifest", "json", "layer", "other"


@dataclass(frozen=True)
class Link:
    """A descriptor inside a document, as a button label and where it leads."""

    label: str
    tooltip: str
    descriptor: Descriptor
    role: str  # entry, config, layer, subject
    position: int | None = None  # index of the entry or layer in its list

    @property
    def target(self) -> str:
        """What following it shows: index, manifest, json, layer or other."""
        return target_kind(self.descriptor)


@dataclass(frozen=True)
class Doc:
    """A document for the Raw tab."""

    key: str  # unique among the documents shown, e.g. "manifest sha256:0123…"
    title: str
    media_type: str | None
    digest: str | None
    raw: bytes | None
    links: tuple[Link, ...] = ()
    note: str = ""


def target_kind(descriptor: Descriptor) -> str:
    """How the Raw tab follows a descriptor (see :class:`Link.target`)."""
    media_type = descriptor.media_type
    if media_type in mt.INDEX_TYPES:
        return INDEX
    if media_type in mt.MANIFEST_TYPES:
        return MANIFEST
    if mt.compression(media_type) is not None:
        return LAYER
    if (media_type.endswith("json") or "+json" in media_type) and descriptor.size <= MAX_SHOWN_BLOB:
        return JSON_BLOB
    return OTHER


def _tip(descriptor: Descriptor) -> str:
    return f"{descriptor.media_type}\n{descriptor.digest}\n{descriptor.size:,} bytes"


def index_doc(index: Index, title: str = "index") -> Doc:
    """An index and a link per entry (``manifests[i] linux/amd64``, attestations named so)."""
    links = []
    for position, descriptor in enumerate(index.manifests):
        kind = classify(descriptor)
        platform = str(descriptor.platform) if descriptor.platform is not None else ""
        what = platform if kind == "image" else f"{kind} {platform}".strip()
        links.append(
            Link(f"manifests[{position}] {what}", _tip(descriptor), descriptor, "entry", position)
        )
    if index.subject is not None:
        links.append(Link("subject", _tip(index.subject), index.subject, "subject"))
    return Doc(
        f"{title} {index.digest}", title, index.media_type, index.digest, index.raw, tuple(links)
    )


def manifest_doc(manifest: Manifest, title: str = "manifest") -> Doc:
    """A manifest and links to its config, each layer, and its subject."""
    config = manifest.config
    links = [Link(f"config {short_digest(config.digest, 8)}", _tip(config), config, "config")]
    for position, layer in enumerate(manifest.layers):
        links.append(
            Link(
                f"layers[{position}] {format_size(layer.size)}",
                _tip(layer),
                layer,
                "layer",
                position,
            )
        )
    if manifest.subject is not None:
        links.append(Link("subject", _tip(manifest.subject), manifest.subject, "subject"))
    return Doc(
        f"{title} {manifest.digest}",
        title,
        manifest.media_type,
        manifest.digest,
        manifest.raw,
        tuple(links),
    )


def blob_doc(descriptor: Descriptor, raw: bytes | None, title: str, note: str = "") -> Doc:
    """A blob (a config, an attestation statement), or only its facts when ``raw`` is None."""
    return Doc(
        f"{title} {descriptor.digest}",
        title,
        descriptor.media_type,
        descriptor.digest,
        raw,
        (),
        note,
    )


__all__ = [
    "INDEX",
    "JSON_BLOB",
    "LAYER",
    "MANIFEST",
    "MAX_SHOWN_BLOB",
    "OTHER",
    "Doc",
    "Link",
    "blob_doc",
    "index_doc",
    "manifest_doc",
    "target_kind",
]
