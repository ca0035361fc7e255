"""OCI and Docker media types, and the kind of document each one names.

Sources: image-spec ``media-types.md`` and ``specs-go/v1/mediatype.go``; Docker's
"Image Manifest V 2, Schema 2" (distribution ``docs/spec/manifest-v2-2.md``).
"""

from __future__ import annotations

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_FOREIGN_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_LAYER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_PLUGIN_CONFIG = "application/vnd.docker.plugin.v1+json"

#: What a registry is asked for on every manifest request. A distribution registry answers 404
#: to OCI content, and converts Docker content to schema1, when these are missing.
MANIFEST_ACCEPT: tuple[str, ...] = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
SCHEMA1_TYPES = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})
#: Content-Types that say nothing about a document (CDNs and some registries send them for
#: anything): the document's own ``mediaType`` decides.
GENERIC_CONTENT_TYPES = frozenset(
    {"application/json", "application/octet-stream", "binary/octet-stream", "text/plain"}
)
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

_COMPRESSION = {
    OCI_LAYER: "none",
    OCI_LAYER_GZIP: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    OCI_LAYER_ND: "none",
    OCI_LAYER_ND_GZIP: "gzip",
    OCI_LAYER_ND_ZSTD: "zstd",
    DOCKER_LAYER_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN_GZIP: "gzip",
    DOCKER_LAYER_FOREIGN: "none",
    DOCKER_LAYER: "none",
}

#: Layer media types whose blobs may legitimately be absent from a registry (foreign layers).
NONDISTRIBUTABLE = frozenset(
    {
        OCI_LAYER_ND,
        OCI_LAYER_ND_GZIP,
        OCI_LAYER_ND_ZSTD,
        DOCKER_LAYER_FOREIGN_GZIP,
        DOCKER_LAYER_FOREIGN,
    }
)


def strip_parameters(content_type: str | None) -> str | None:
    """``"application/json; charset=utf-8"`` -> ``"application/json"``; None stays None."""
    if content_type is None:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


def kind(media_type: str | None) -> str:
    """One of ``index``, ``manifest``, ``config``, ``layer``, ``schema1``, ``other``."""
    if media_type in INDEX_TYPES:
        return "index"
    if media_type in MANIFEST_TYPES:
        return "manifest"
    if media_type in CONFIG_TYPES:
        return "config"
    if media_type in (DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED):
        return "schema1"
    if media_type is not None and compression(media_type) is not None:
        return "layer"
    return "other"


def compression(media_type: str) -> str | None:
    """``gzip``, ``zstd`` or ``none`` for a layer media type; None when it is not a layer type.

    Unknown ``+gzip`` / ``+zstd`` suffixes (e.g. artifact layers) are recognised by suffix.
    """
    if media_type in _COMPRESSION:
        return _COMPRESSION[media_type]
    if media_type.endswith(("+gzip", ".gzip")):
        return "gzip"
    if media_type.endswith("+zstd"):
        return "zstd"
    if media_type.endswith(".tar"):
        return "none"
    return None
