"""The platforms table: one row per entry of an index, images and attestations alike. Pure.

BuildKit lists one attestation manifest per image with platform ``unknown/unknown``; here such
a row has ``kind == "attestation"`` and ``describes`` names the image manifest it is about, so
it no longer reads like a mysterious extra platform. An entry with no platform at all (an OCI
layout's ``index.json`` entries usually have none) has <NA> there, not ``unknown/unknown``, and
its ``ref_name`` tells two tags of one layout apart. The ``os``/``architecture``/``variant``/
``os_version``/``os_features`` columns are the document's own words; ``platform`` is the
normalised form, so a learner can read both side by side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..artifacts.layers import attested
from ..layers.sizes import UncompressedSize, lookup, total
from ..values.entries import ARTIFACT, ATTESTATION, IMAGE, INDEX, IndexEntry
from ..values.models import ImageConfig, Index, Manifest
from .frame import BOOL, INT, OPTIONAL_INT, STRING, TIME, Table, table, utc
from .image import json_text

KIND_DTYPE = pd.CategoricalDtype([IMAGE, ATTESTATION, INDEX, ARTIFACT])

PLATFORMS_COLUMNS: dict[str, Any] = {
    "position": INT,
    "platform": STRING,
    "os": STRING,
    "architecture": STRING,
    "variant": STRING,
    "os_version": STRING,
    "os_features": STRING,
    "ref_name": STRING,
    "kind": KIND_DTYPE,
    "digest": STRING,
    "media_type": STRING,
    "manifest_size": INT,
    "layers": OPTIONAL_INT,
    "config_size": OPTIONAL_INT,
    "compressed_size": OPTIONAL_INT,
    "uncompressed_size": OPTIONAL_INT,
    "uncompressed_exact": BOOL,
    "stored_size": OPTIONAL_INT,
    "created": TIME,
    "describes": STRING,
    "attests": STRING,
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
    ``platform``            string               normalised, as containerd matches it:
                                                 ``aarch64`` -> ``arm64``, an ``arm64`` entry
                                                 without variant -> ``linux/arm64/v8``; from
                                                 the config when the entry names none (an
                                                 OCI layout's ``index.json``); else <NA>
    ``os``                  string               the entry's ``platform.os`` exactly as the
                                                 index writes it; <NA> when absent
    ``architecture``        string               ``platform.architecture`` as written
    ``variant``             string               ``platform.variant`` as written
    ``os_version``          string               ``platform["os.version"]`` as written
    ``os_features``         string               ``platform["os.features"]``, a JSON list
    ``ref_name``            string               the entry's
                                                 ``org.opencontainers.image.ref.name`` (an OCI
                                                 layout's tag for it); <NA> when absent
    ``kind``                category             image, attestation, index, artifact
    ``digest``              string               the manifest's digest
    ``media_type``          string               the manifest's media type (from the entry)
    ``manifest_size``       int64                bytes of the manifest document itself
    ``layers``              Int64                layer count; <NA> when not loaded / an index
    ``config_size``         Int64                bytes of the config blob
    ``compressed_size``     Int64                the layers as stored and transferred, summed
                                                 (Docker Hub's "compressed size")
    ``uncompressed_size``   Int64                the layers' uncompressed sizes summed; <NA>
                                                 when any is unknown (see below)
    ``uncompressed_exact``  bool                 every one of those sizes is exact
    ``stored_size``         Int64                manifest + config + layers: all a registry
                                                 stores for the image (its ``Image.size``)
    ``created``             datetime64[ns, UTC]  the config's ``created`` (images only)
    ``describes``           string               for an attestation: the image it is about
    ``attests``             string               for an attestation: what its layers attest,
                                                 as kinds of their predicate types
                                                 (``slsa-provenance-v0.2, spdx``; from the
                                                 layers' ``in-toto.io/predicate-type``, so
                                                 <NA> when its manifest was not fetched)
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
        raw = written_platform(entry, config)
        layers = sum(d.size for d in manifest.layers) if manifest else None
        columns["position"].append(entry.position)
        if platform is None and config is not None:
            platform = config.platform
        columns["platform"].append(str(platform) if platform is not None else None)
        columns["os"].append(raw.get("os"))
        columns["architecture"].append(raw.get("architecture"))
        columns["variant"].append(raw.get("variant"))
        columns["os_version"].append(raw.get("os.version"))
        columns["os_features"].append(json_text(raw.get("os.features")))
        columns["ref_name"].append(desc.annotations.get(REF_NAME))
        columns["kind"].append(entry.kind)
        columns["digest"].append(desc.digest)
        columns["media_type"].append(desc.media_type)
        columns["manifest_size"].append(desc.size)
        columns["layers"].append(len(manifest.layers) if manifest else None)
        columns["config_size"].append(manifest.config.size if manifest else None)
        columns["compressed_size"].append(layers)
        unpacked, exact = (
            total(lookup(uncompressed, d) for d in manifest.layers) if manifest else (None, False)
        )
        columns["uncompressed_size"].append(unpacked)
        columns["uncompressed_exact"].append(exact)
        columns["stored_size"].append(
            desc.size + manifest.config.size + layers if manifest and layers is not None else None
        )
        columns["created"].append(utc(config.created) if config is not None else None)
        columns["describes"].append(entry.describes if entry.kind == ATTESTATION else None)
        columns["attests"].append(
            attested(manifest.layers) if entry.kind == ATTESTATION and manifest else None
        )
        columns["error"].append(
            error_text(document) if isinstance(document, BaseException) else None
        )
    return table(
        columns,
        PLATFORMS_COLUMNS,
        size_columns=(
            "manifest_size", "config_size", "compressed_size", "uncompressed_size", "stored_size"
        ),
    )


#: The annotation an OCI layout's ``index.json`` names an entry with (image-spec annotations.md).
REF_NAME = "org.opencontainers.image.ref.name"


def written_platform(entry: IndexEntry, config: ImageConfig | None = None) -> dict[str, Any]:
    """The entry's ``platform`` object exactly as its index wrote it (keys ``os``,
    ``architecture``, ``variant``, ``os.version``, ``os.features``); for a lone image (a
    descriptor made here, not read), what its config writes; ``{}`` when there is none."""
    raw = entry.descriptor.raw.get("platform")
    if isinstance(raw, dict):
        return raw
    if not entry.descriptor.raw and config is not None:
        body = json.loads(config.raw)
        keys = ("os", "architecture", "variant", "os.version", "os.features")
        return {key: body[key] for key in keys if body.get(key) is not None}
    return {}


__all__ = [
    "KIND_DTYPE",
    "PLATFORMS_COLUMNS",
    "REF_NAME",
    "Loaded",
    "error_text",
    "platforms_frame",
    "written_platform",
]
