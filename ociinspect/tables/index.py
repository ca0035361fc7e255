"""The platforms table: one row per entry of an index, images and attestations alike. Pure.

BuildKit lists one attestation manifest per image with platform ``unknown/unknown``; here such
a row has ``kind == "attestation"`` and ``describes`` names the image manifest it is about, so
it no longer reads like a mysterious extra platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..layers.sizes import UncompressedSize, lookup, total
from ..values.entries import ARTIFACT, ATTESTATION, IMAGE, INDEX, IndexEntry
from ..values.models import ImageConfig, Index, Manifest
from .frame import BOOL, INT, OPTIONAL_INT, STRING, TIME, Table, table, utc

KIND_DTYPE = pd.CategoricalDtype([IMAGE, ATTESTATION, INDEX, ARTIFACT])

PLATFORMS_COLUMNS: dict[str, Any] = {
    "position": INT,
    "platform": STRING,
    "os": STRING,
    "architecture": STRING,
    "variant": STRING,
    "os_version": STRING,
    "kind": KIND_DTYPE,
    "digest": STRING,
    "media_type": STRING,
    "size": INT,
    "layers": OPTIONAL_INT,
    "compressed_size": OPTIONAL_INT,
    "uncompressed_size": OPTIONAL_INT,
    "uncompressed_exact": BOOL,
    "created": TIME,
    "describes": STRING,
    "error": STRING,
}

#: What was loaded for an entry: its manifest (or nested index), or why it failed; and the
#: image config when it was fetched (images only).
Loaded = tuple[IndexEntry, Manifest | Index | BaseException | None, ImageConfig | None]


def error_text(error: BaseException) -> str:
    """One line naming the error: ``NotFoundError: GET …: 404 MANIFEST_UNKNOWN``."""
    text = " ".join(str(error).split()) or "(no message)"
    return f"{type(error).__name__}: {text}"


def platforms_frame(
    loaded: Iterable[Loaded], uncompressed: Mapping[str, UncompressedSize] | None = None
) -> Table:
    """One row per index entry, in index order.

    ======================  ===================  =============================================
    column                  dtype                meaning
    ======================  ===================  =============================================
    ``position``            int64                place in the index (0 = first)
    ``platform``            string               ``linux/arm64/v8``; ``unknown/unknown`` when
                                                 the entry has no platform
    ``os``                  string               from the entry's platform (<NA> when none)
    ``architecture``        string               normalised (``aarch64`` -> ``arm64``)
    ``variant``             string               ``v8``, ``v7``; <NA> when none
    ``os_version``          string               Windows ``os.version``; usually <NA>
    ``kind``                category             image, attestation, index, artifact
    ``digest``              string               the manifest's digest
    ``media_type``          string               the manifest's media type (from the entry)
    ``size``                int64                bytes of the manifest itself
    ``layers``              Int64                layer count; <NA> when not loaded / an index
    ``compressed_size``     Int64                config + layers, bytes as stored (compressed)
    ``uncompressed_size``   Int64                the layers' uncompressed sizes summed; <NA>
                                                 when any is unknown (see below)
    ``uncompressed_exact``  bool                 every one of those sizes is exact
    ``created``             datetime64[ns, UTC]  the config's ``created`` (images only)
    ``describes``           string               for an attestation: the image it is about
    ``error``               string               why this entry failed to load, else <NA>
    ======================  ===================  =============================================

    ``uncompressed`` maps layer digests to what is known of their uncompressed sizes
    (:func:`ociinspect.layers.sizes.uncompressed_sizes`); without it, only images whose layers are
    all uncompressed have an ``uncompressed_size``.
    """
    columns: dict[str, list[Any]] = {name: [] for name in PLATFORMS_COLUMNS}
    for entry, document, config in loaded:
        desc = entry.descriptor
        platform = entry.platform
        manifest = document if isinstance(document, Manifest) else None
        columns["position"].append(entry.position)
        columns["platform"].append(entry.platform_string)
        columns["os"].append(platform.os if platform else None)
        columns["architecture"].append(platform.architecture if platform else None)
        columns["variant"].append(platform.variant if platform else None)
        columns["os_version"].append(platform.os_version if platform else None)
        columns["kind"].append(entry.kind)
        columns["digest"].append(desc.digest)
        columns["media_type"].append(desc.media_type)
        columns["size"].append(desc.size)
        columns["layers"].append(len(manifest.layers) if manifest else None)
        columns["compressed_size"].append(
            manifest.config.size + sum(d.size for d in manifest.layers) if manifest else None
        )
        unpacked, exact = (
            total(lookup(uncompressed, d) for d in manifest.layers) if manifest else (None, False)
        )
        columns["uncompressed_size"].append(unpacked)
        columns["uncompressed_exact"].append(exact)
        columns["created"].append(utc(config.created) if config is not None else None)
        columns["describes"].append(entry.describes if entry.kind == ATTESTATION else None)
        columns["error"].append(
            error_text(document) if isinstance(document, BaseException) else None
        )
    return table(
        columns,
        PLATFORMS_COLUMNS,
        size_columns=("size", "compressed_size", "uncompressed_size"),
    )


__all__ = ["KIND_DTYPE", "PLATFORMS_COLUMNS", "Loaded", "error_text", "platforms_frame"]
