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
from ..layers.toc import toc_format
from ..values.models import History, ImageConfig, Index, Manifest, layer_history
from .frame import BOOL, FLOAT, INT, OPTIONAL_INT, STRING, TIME, Table, table, utc

COMPRESSION_DTYPE = pd.CategoricalDtype(["gzip", "zstd", "none"])

LAYERS_COLUMNS: dict[str, Any] = {
    "position": INT,
    "digest": STRING,
    "media_type": STRING,
    "compression": COMPRESSION_DTYPE,
    "toc": STRING,
    "compressed_size": INT,
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
    "compressed_size": OPTIONAL_INT,
}
CONFIG_COLUMNS: dict[str, Any] = {
    "platform": STRING,
    "os": STRING,
    "architecture": STRING,
    "variant": STRING,
    "os_version": STRING,
    "os_features": STRING,
    "created": TIME,
    "author": STRING,
    "user": STRING,
    "working_dir": STRING,
    "entrypoint": STRING,
    "cmd": STRING,
    "shell": STRING,
    "exposed_ports": STRING,
    "volumes": STRING,
    "stop_signal": STRING,
    "healthcheck": STRING,
    "on_build": STRING,
    "args_escaped": "boolean",
    "other_fields": STRING,
    "env_count": INT,
    "label_count": INT,
    "layers": INT,
    "compressed_size": OPTIONAL_INT,
    "stored_size": OPTIONAL_INT,
    "base_name": STRING,
    "base_digest": STRING,
    "digest": STRING,
    "config_digest": STRING,
}
KEY_VALUE_COLUMNS: dict[str, Any] = {"key": STRING, "value": STRING}
ANNOTATED = ("index", "entry", "manifest", "config", "layer")
ANNOTATIONS_COLUMNS: dict[str, Any] = {
    "document": pd.CategoricalDtype(list(ANNOTATED)),
    "position": OPTIONAL_INT,
    "digest": STRING,
    "key": STRING,
    "value": STRING,
}
TAGS_COLUMNS: dict[str, Any] = {"tag": STRING}
REFERRERS_COLUMNS: dict[str, Any] = {
    "artifact_type": STRING,
    "digest": STRING,
    "media_type": STRING,
    "manifest_size": INT,
    "annotations": STRING,
}


def json_list(values: Sequence[str] | None) -> str | None:
    """A list field as JSON text (``["/bin/sh", "-c"]``); None stays None (absent != [])."""
    return None if values is None else json.dumps(list(values), ensure_ascii=False)


def json_text(value: Any) -> str | None:
    """Any JSON value as compact text with sorted keys; None (absent or null) stays None."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


#: Manifest annotations naming the image an image was built FROM (image-spec annotations.md).
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"

#: Top-level config keys and ``config`` keys shown in a column of their own: image-spec
#: config.md, and Docker's image spec (v1.2/v1.3) extensions ``Healthcheck``, ``OnBuild``,
#: ``Shell`` (``ArgsEscaped`` is in both). Any other key is kept in ``other_fields``.
_TOP_KEYS = frozenset(
    {"created", "author", "architecture", "os", "os.version", "os.features", "variant",
     "config", "rootfs", "history"}
)
_RUN_KEYS = frozenset(
    {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
     "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell"}
)


def other_fields(config: ImageConfig) -> dict[str, Any]:
    """Config keys no column shows, by dotted path (``docker_version``, ``config.Hostname``,
    ``config.Memory``, ...), with their JSON values: Docker's legacy fields and tools' own."""
    body = json.loads(config.raw)
    found = {key: value for key, value in body.items() if key not in _TOP_KEYS}
    run = body.get("config")
    if isinstance(run, dict):
        found.update({f"config.{k}": v for k, v in run.items() if k not in _RUN_KEYS})
    return dict(sorted(found.items()))


def config_fields(config: ImageConfig, manifest: Manifest | None = None) -> dict[str, Any]:
    """Every field of the config (and the base-image annotations of ``manifest``) as the one
    text form :func:`config_frame` and :func:`~ociinspect.tables.compare.compare_frames` show:
    text as written; lists and objects as JSON (``["/bin/sh", "-c"]``, keys sorted); sets
    (``ExposedPorts``, ``Volumes``) as sorted JSON lists; ``args_escaped`` as a bool; and
    None (<NA> in tables) for a field that is absent or null, so "none" looks the same
    everywhere. An empty ``ExposedPorts`` or ``Volumes`` is None too (Go writes ``{}`` and
    omits it alike)."""
    body = json.loads(config.raw)
    run = body.get("config") if isinstance(body.get("config"), dict) else {}
    annotations = manifest.annotations if manifest is not None else {}
    escaped = run.get("ArgsEscaped")
    others = other_fields(config)
    return {
        "platform": str(config.platform),
        "os": config.os,
        "architecture": config.architecture,
        "variant": config.variant,
        "os_version": config.os_version,
        "os_features": json_text(body.get("os.features")),
        "created": config.created,
        "author": config.author,
        "user": config.user,
        "working_dir": config.working_dir,
        "entrypoint": json_list(config.entrypoint),
        "cmd": json_list(config.cmd),
        "shell": json_text(run.get("Shell")),
        "exposed_ports": json_list(sorted(config.exposed_ports)) if config.exposed_ports else None,
        "volumes": json_list(sorted(config.volumes)) if config.volumes else None,
        "stop_signal": config.stop_signal,
        "healthcheck": json_text(run.get("Healthcheck")),
        "on_build": json_text(run.get("OnBuild")),
        "args_escaped": escaped if isinstance(escaped, bool) else None,
        "other_fields": json_text(others) if others else None,
        "base_name": annotations.get(BASE_NAME),
        "base_digest": annotations.get(BASE_DIGEST),
    }


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
    ``toc``                 string               the layer's own table of contents, which
                                                 ``read_file`` uses from the first read:
                                                 ``zstd:chunked``, ``estargz``; <NA> if none
    ``compressed_size``     int64                bytes of the blob as stored and transferred
                                                 (compressed, unless ``compression`` is none)
    ``share``               float64              ``compressed_size`` / the sum over layers
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
    one (their own size, exact). When the manifest names its base image
    (``org.opencontainers.image.base.name`` / ``.digest``, as BuildKit writes them), the columns
    ``base_name`` and ``base_digest`` (string, the same on every row) follow, so a table of many
    images' layers keeps them; ``attrs`` holds them too (None when absent), with
    ``compressed_size``, the layers summed.
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
        "toc": [toc_format(d) for d in layers],
        "compressed_size": [d.size for d in layers],
        "share": [d.size / total if total else 0.0 for d in layers],
        "uncompressed_size": [u.size for u in unpacked],
        "uncompressed_exact": [u.exact for u in unpacked],
        "diff_id": [diff_ids[i] if i < len(diff_ids) else None for i in range(len(layers))],
        "created_by": [s.created_by if s else None for s in steps[: len(layers)]],
        "created": [utc(s.created) if s else None for s in steps[: len(layers)]],
        "comment": [s.comment if s else None for s in steps[: len(layers)]],
    }
    base = {"base_name": BASE_NAME, "base_digest": BASE_DIGEST}
    found = {name: manifest.annotations.get(key) for name, key in base.items()}
    schema = dict(LAYERS_COLUMNS)
    if any(found.values()):
        for name, value in found.items():
            columns[name] = [value] * len(layers)
            schema[name] = STRING
    out = table(
        columns,
        schema,
        size_columns=("compressed_size", "uncompressed_size"),
        share_columns=("share",),
    )
    out.attrs.update(**found, compressed_size=total)
    return out


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
    ``compressed_size``  Int64              that layer's blob, bytes as stored (needs
                                            ``manifest``)
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
        columns["compressed_size"].append(
            sizes[layer] if layer is not None and layer < len(sizes) else None
        )
    return table(columns, HISTORY_COLUMNS, size_columns=("compressed_size",))


def config_frame(config: ImageConfig, manifest: Manifest | None = None) -> Table:
    """A one-row summary of the config: every field of image-spec config.md and of Docker's
    extensions, in the text form of :func:`config_fields` (absent or null is <NA>).

    ==================  ===================  ==================================================
    column              dtype                meaning
    ==================  ===================  ==================================================
    ``platform``        string               normalised (``arm64`` -> ``linux/arm64/v8``)
    ``os``, ``architecture``, ``variant``, ``os_version``: string, exactly as written
    ``os_features``     string               JSON list as written
    ``created``         datetime64[ns, UTC]  nanoseconds kept
    ``author``, ``user``, ``working_dir``, ``stop_signal``: string
    ``entrypoint``, ``cmd``, ``shell``, ``on_build``: string, JSON lists (<NA> when absent,
                                             so an absent Entrypoint differs from ``[]``)
    ``exposed_ports``,  string               sorted JSON lists of the keys; <NA> when none
    ``volumes``
    ``healthcheck``     string               the ``Healthcheck`` object as JSON
    ``args_escaped``    boolean              ``ArgsEscaped`` (Windows images); <NA> if absent
    ``other_fields``    string               JSON object of every other key, dotted
                                             (``config.Hostname``, ``docker_version``)
    ``env_count``, ``label_count``, ``layers``: int64, Env entries, labels, diff_ids
    ``compressed_size`` Int64                the layers as stored (needs ``manifest``)
    ``stored_size``     Int64                manifest + config + layers (needs ``manifest``)
    ``base_name``,      string               the manifest's
    ``base_digest``                          ``org.opencontainers.image.base.*`` annotations
    ``digest``          string               the image manifest (needs ``manifest``)
    ``config_digest``   string               the config blob
    ==================  ===================  ==================================================
    """
    fields = config_fields(config, manifest)
    layers = sum(d.size for d in manifest.layers) if manifest is not None else None
    row: dict[str, list[Any]] = {name: [value] for name, value in fields.items()}
    row.update(
        created=[utc(config.created)],
        env_count=[len(config.env)],
        label_count=[len(config.labels)],
        layers=[len(config.diff_ids)],
        compressed_size=[layers],
        stored_size=[
            len(manifest.raw) + manifest.config.size + layers
            if manifest is not None and layers is not None
            else None
        ],
        digest=[manifest.digest if manifest is not None else None],
        config_digest=[config.digest],
    )
    return table(row, CONFIG_COLUMNS, size_columns=("compressed_size", "stored_size"))


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


def annotations_frame(index: Index | None, manifest: Manifest | None) -> Table:
    """Every annotation of an index and of one image's manifest (image-spec annotations.md),
    one row per key, in document order: the index's own (``document == "index"``), each index
    entry's descriptor (``entry``, with its ``position``: an OCI layout's ``ref.name``,
    BuildKit's ``vnd.docker.reference.*``), the manifest's (``manifest``: ``created``,
    ``source``, ``revision``, ``base.name``, ``base.digest``), its config descriptor's
    (``config``) and each layer descriptor's (``layer``, with its ``position``).

    Columns: ``document`` (category: index, entry, manifest, config, layer), ``position``
    (Int64), ``digest`` (string: the document, or what the descriptor points at), ``key``,
    ``value`` (string).
    """
    columns: dict[str, list[Any]] = {name: [] for name in ANNOTATIONS_COLUMNS}

    def add(document: str, position: int | None, digest: str, found: Mapping[str, str]) -> None:
        for key, value in found.items():
            for name, item in zip(
                ANNOTATIONS_COLUMNS, (document, position, digest, key, value), strict=True
            ):
                columns[name].append(item)

    if index is not None:
        add("index", None, index.digest, index.annotations)
        for position, desc in enumerate(index.manifests):
            add("entry", position, desc.digest, desc.annotations)
    if manifest is not None:
        add("manifest", None, manifest.digest, manifest.annotations)
        add("config", None, manifest.config.digest, manifest.config.annotations)
        for position, desc in enumerate(manifest.layers):
            add("layer", position, desc.digest, desc.annotations)
    return table(columns, ANNOTATIONS_COLUMNS)


def tags_frame(tags: Iterable[str]) -> Table:
    """``tag`` (string), in the order the source lists them."""
    return table({"tag": list(tags)}, TAGS_COLUMNS)


def referrers_frame(index: Index) -> Table:
    """One row per artifact of a referrers index (distribution-spec "Listing Referrers").

    ``artifact_type``, ``digest``, ``media_type`` (string); ``manifest_size`` (int64, bytes of the
    artifact's manifest); ``annotations`` (string: JSON object, sorted keys; <NA> when none).
    """
    rows = index.manifests
    columns: dict[str, list[Any]] = {
        "artifact_type": [d.artifact_type for d in rows],
        "digest": [d.digest for d in rows],
        "media_type": [d.media_type for d in rows],
        "manifest_size": [d.size for d in rows],
        "annotations": [
            json.dumps(dict(d.annotations), sort_keys=True, ensure_ascii=False)
            if d.annotations
            else None
            for d in rows
        ],
    }
    return table(columns, REFERRERS_COLUMNS, size_columns=("manifest_size",))


__all__ = [
    "ANNOTATED",
    "ANNOTATIONS_COLUMNS",
    "BASE_DIGEST",
    "BASE_NAME",
    "COMPRESSION_DTYPE",
    "CONFIG_COLUMNS",
    "HISTORY_COLUMNS",
    "KEY_VALUE_COLUMNS",
    "LAYERS_COLUMNS",
    "REFERRERS_COLUMNS",
    "TAGS_COLUMNS",
    "annotations_frame",
    "config_fields",
    "config_frame",
    "env_frame",
    "history_frame",
    "json_list",
    "json_text",
    "labels_frame",
    "layers_frame",
    "other_fields",
    "referrers_frame",
    "tags_frame",
]
