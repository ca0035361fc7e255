"""Tables about one image: layers, history, config, env, labels; and tags, referrers. Pure.

History alignment (image-spec config.md "history"): steps with ``empty_layer: true`` made no
layer; the others map, in order, to ``rootfs.diff_ids`` and so to the manifest's layers. A
step without ``empty_layer`` beyond the last layer has no layer (``<NA>``); a layer beyond the
last such step has no step (``<NA>`` in the history columns of :func:`layers_frame`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from ..layers.sizes import UncompressedSize, lookup
from ..values.models import History, ImageConfig, Index, Manifest, layer_history
from .frame import BOOL, FLOAT, INT, OPTIONAL_INT, STRING, TIME, Table, table, utc

COMPRESSION_DTYPE = pd.CategoricalDtype(["gzip", "zstd", "none"])

LAYERS_COLUMNS: dict[str, Any] = {
    "position": INT,
    "digest": STRING,
    "media_type": STRING,
    "compression": COMPRESSION_DTYPE,
    "size": INT,
    "share": FLOAT,
    "uncompressed_size": OPTIONAL_INT,
    "uncompressed_exact": BOOL,
    "diff_id": STRING,
    "created_by": STRING,
    "created": TIME,
    "comment": STRING,
}
HISTORY_COLUMNS: dict[str, Any] = {
    "step": INT,
    "created": TIME,
    "created_by": STRING,
    "author": STRING,
    "comment": STRING,
    "empty_layer": BOOL,
    "layer": OPTIONAL_INT,
    "size": OPTIONAL_INT,
}
CONFIG_COLUMNS: dict[str, Any] = {
    "platform": STRING,
    "os": STRING,
    "architecture": STRING,
    "variant": STRING,
    "os_version": STRING,
    "created": TIME,
    "author": STRING,
    "user": STRING,
    "working_dir": STRING,
    "entrypoint": STRING,
    "cmd": STRING,
    "exposed_ports": STRING,
    "volumes": STRING,
    "stop_signal": STRING,
    "env_count": INT,
    "label_count": INT,
    "layers": INT,
    "size": OPTIONAL_INT,
    "digest": STRING,
    "config_digest": STRING,
}
KEY_VALUE_COLUMNS: dict[str, Any] = {"key": STRING, "value": STRING}
TAGS_COLUMNS: dict[str, Any] = {"tag": STRING}
REFERRERS_COLUMNS: dict[str, Any] = {
    "artifact_type": STRING,
    "digest": STRING,
    "media_type": STRING,
    "size": INT,
    "annotations": STRING,
}


def json_list(values: Sequence[str] | None) -> str | None:
    """A list field as JSON text (``["/bin/sh", "-c"]``); None stays None (absent != [])."""
    return None if values is None else json.dumps(list(values), ensure_ascii=False)


def layers_frame(
    manifest: Manifest,
    config: ImageConfig | None = None,
    uncompressed: Mapping[str, UncompressedSize] | None = None,
) -> Table:
    """One row per layer of ``manifest``, bottom first, with the step that made it.

    ======================  ===================  ============================================
    column                  dtype                meaning
    ======================  ===================  ============================================
    ``position``            int64                0 = bottom layer
    ``digest``              string               the (compressed) blob's digest
    ``media_type``          string               as the manifest lists it
    ``compression``         category             gzip, zstd, none; NaN for non-layer types
    ``size``                int64                bytes of the blob as stored
    ``share``               float64              ``size`` / sum of all layer sizes (0..1)
    ``uncompressed_size``   Int64                bytes of the tar it unpacks to; <NA> when
                                                 unknown (see :mod:`ociinspect.layers.sizes`)
    ``uncompressed_exact``  bool                 True when that is exact, False for an
                                                 estimate (gzip ISIZE, zstd header) or <NA>
    ``diff_id``             string               digest of the uncompressed tar (the config's)
    ``created_by``          string               the history step that made the layer
    ``created``             datetime64[ns, UTC]  when that step ran
    ``comment``             string               that step's comment
    ======================  ===================  ============================================

    ``uncompressed`` maps layer digests to what is known of their uncompressed sizes
    (:func:`ociinspect.layers.sizes.uncompressed_sizes`); without it only uncompressed layers have
    one (their own size, exact).
    """
    layers = manifest.layers
    unpacked = [lookup(uncompressed, d) for d in layers]
    total = sum(d.size for d in layers)
    diff_ids: Sequence[str] = config.diff_ids if config is not None else ()
    steps: list[History | None] = layer_history(config) if config is not None else []
    steps += [None] * (len(layers) - len(steps))
    columns: dict[str, list[Any]] = {
        "position": list(range(len(layers))),
        "digest": [d.digest for d in layers],
        "media_type": [d.media_type for d in layers],
        "compression": [d.compression for d in layers],
        "size": [d.size for d in layers],
        "share": [d.size / total if total else 0.0 for d in layers],
        "uncompressed_size": [u.size for u in unpacked],
        "uncompressed_exact": [u.exact for u in unpacked],
        "diff_id": [diff_ids[i] if i < len(diff_ids) else None for i in range(len(layers))],
        "created_by": [s.created_by if s else None for s in steps[: len(layers)]],
        "created": [utc(s.created) if s else None for s in steps[: len(layers)]],
        "comment": [s.comment if s else None for s in steps[: len(layers)]],
    }
    return table(
        columns,
        LAYERS_COLUMNS,
        size_columns=("size", "uncompressed_size"),
        share_columns=("share",),
    )


def history_frame(config: ImageConfig, manifest: Manifest | None = None) -> Table:
    """Every history step, empty or not, in order, with the layer it made.

    ===============  =====================  =================================================
    column           dtype                  meaning
    ===============  =====================  =================================================
    ``step``         int64                  0 = first step
    ``created``      datetime64[ns, UTC]    when the step ran (NaT if absent or unreadable)
    ``created_by``   string                 the command (``RUN …``, ``COPY …``)
    ``author``       string                 the step's author
    ``comment``      string                 the step's comment (BuildKit writes one)
    ``empty_layer``  bool                   the step made no layer (ENV, CMD, …)
    ``layer``        Int64                  position of the layer it made; <NA> for empty
                                            steps and for steps with no layer left
    ``size``         Int64                  that layer's blob size (needs ``manifest``)
    ===============  =====================  =================================================
    """
    sizes = [d.size for d in manifest.layers] if manifest is not None else []
    columns: dict[str, list[Any]] = {name: [] for name in HISTORY_COLUMNS}
    made = 0
    for number, step in enumerate(config.history):
        layer = None
        if not step.empty_layer:
            layer = made if made < len(config.diff_ids) else None
            made += 1
        columns["step"].append(number)
        columns["created"].append(utc(step.created))
        columns["created_by"].append(step.created_by)
        columns["author"].append(step.author)
        columns["comment"].append(step.comment)
        columns["empty_layer"].append(step.empty_layer)
        columns["layer"].append(layer)
        columns["size"].append(sizes[layer] if layer is not None and layer < len(sizes) else None)
    return table(columns, HISTORY_COLUMNS, size_columns=("size",))


def config_frame(config: ImageConfig, manifest: Manifest | None = None) -> Table:
    """A one-row summary of the config.

    ``platform``, ``os``, ``architecture``, ``variant``, ``os_version`` (string);
    ``created`` (datetime64[ns, UTC]); ``author``, ``user``, ``working_dir``, ``stop_signal``
    (string); ``entrypoint``, ``cmd``, ``exposed_ports``, ``volumes`` (string: JSON lists,
    <NA> when absent, so an absent Entrypoint differs from ``[]``); ``env_count``,
    ``label_count``, ``layers`` (int64: Env entries, labels, diff_ids); ``size`` (Int64:
    config + layers as stored, needs ``manifest``); ``digest`` (string: the image manifest,
    needs ``manifest``); ``config_digest`` (string).
    """
    platform = config.platform
    row: dict[str, list[Any]] = {
        "platform": [str(platform)],
        "os": [config.os],
        "architecture": [config.architecture],
        "variant": [config.variant],
        "os_version": [config.os_version],
        "created": [utc(config.created)],
        "author": [config.author],
        "user": [config.user],
        "working_dir": [config.working_dir],
        "entrypoint": [json_list(config.entrypoint)],
        "cmd": [json_list(config.cmd)],
        "exposed_ports": [json_list(config.exposed_ports) if config.exposed_ports else None],
        "volumes": [json_list(config.volumes) if config.volumes else None],
        "stop_signal": [config.stop_signal],
        "env_count": [len(config.env)],
        "label_count": [len(config.labels)],
        "layers": [len(config.diff_ids)],
        "size": [
            manifest.config.size + sum(d.size for d in manifest.layers) if manifest else None
        ],
        "digest": [manifest.digest if manifest is not None else None],
        "config_digest": [config.digest],
    }
    return table(row, CONFIG_COLUMNS, size_columns=("size",))


def env_frame(config: ImageConfig) -> Table:
    """``Env`` as ``key``, ``value`` (string), in config order, split at the first ``=``
    (duplicates kept; in Docker a later entry wins)."""
    pairs = [entry.split("=", 1) for entry in config.env if "=" in entry]
    return table(
        {"key": [k for k, _ in pairs], "value": [v for _, v in pairs]}, KEY_VALUE_COLUMNS
    )


def labels_frame(config: ImageConfig) -> Table:
    """``Labels`` as ``key``, ``value`` (string), in config order."""
    items = list(config.labels.items())
    return table({"key": [k for k, _ in items], "value": [v for _, v in items]}, KEY_VALUE_COLUMNS)


def tags_frame(tags: Iterable[str]) -> Table:
    """``tag`` (string), in the order the source lists them."""
    return table({"tag": list(tags)}, TAGS_COLUMNS)


def referrers_frame(index: Index) -> Table:
    """One row per artifact of a referrers index (distribution-spec "Listing Referrers").

    ``artifact_type``, ``digest``, ``media_type`` (string); ``size`` (int64, bytes of the
    artifact's manifest); ``annotations`` (string: JSON object, sorted keys; <NA> when none).
    """
    rows = index.manifests
    columns: dict[str, list[Any]] = {
        "artifact_type": [d.artifact_type for d in rows],
        "digest": [d.digest for d in rows],
        "media_type": [d.media_type for d in rows],
        "size": [d.size for d in rows],
        "annotations": [
            json.dumps(dict(d.annotations), sort_keys=True, ensure_ascii=False)
            if d.annotations
            else None
            for d in rows
        ],
    }
    return table(columns, REFERRERS_COLUMNS, size_columns=("size",))


__all__ = [
    "COMPRESSION_DTYPE",
    "CONFIG_COLUMNS",
    "HISTORY_COLUMNS",
    "KEY_VALUE_COLUMNS",
    "LAYERS_COLUMNS",
    "REFERRERS_COLUMNS",
    "TAGS_COLUMNS",
    "config_frame",
    "env_frame",
    "history_frame",
    "json_list",
    "labels_frame",
    "layers_frame",
    "referrers_frame",
    "tags_frame",
]
