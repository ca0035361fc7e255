"""The fleet tables: a registry's repositories, and one row per (repository, tag, platform image).
Pure: :mod:`ociinspect.fleet` fetches, these functions only shape rows into tables.

Columns are part of the API (see :func:`inventory_frame`); an empty inventory has exactly the
same columns and dtypes as a full one, and so does every partition of
:func:`ociinspect.dask.inventory`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from .frame import BOOL, OPTIONAL_INT, STRING, TIME, Table, table

#: ``status`` of an inventory row: read, a repository with no tag to read, or failed.
OK, EMPTY, ERROR = "ok", "empty", "error"
STATUS_DTYPE = pd.CategoricalDtype([OK, EMPTY, ERROR])
#: The ``labels`` column holds a dict per row (or None): pandas' object dtype.
OBJECT = "object"

CATALOG_COLUMNS: dict[str, Any] = {
    "registry": STRING,
    "namespace": STRING,
    "repository": STRING,
}

INVENTORY_COLUMNS: dict[str, Any] = {
    "registry": STRING,
    "repository": STRING,
    "tag": STRING,
    "status": STATUS_DTYPE,
    "index_digest": STRING,
    "index_media_type": STRING,
    "digest": STRING,
    "media_type": STRING,
    "platform": STRING,
    "layers": OPTIONAL_INT,
    "compressed_size": OPTIONAL_INT,
    "uncompressed_size": OPTIONAL_INT,
    "uncompressed_exact": BOOL,
    "created": TIME,
    "base_name": STRING,
    "base_digest": STRING,
    "labels": OBJECT,
    "attestations": OPTIONAL_INT,
    "error_type": STRING,
    "error_code": STRING,
    "error": STRING,
}

#: Columns that :func:`ociinspect.fleet.inventory` adds for each optional field asked for.
OPTIONAL_COLUMNS: dict[str, dict[str, Any]] = {
    "referrers": {"referrers": OPTIONAL_INT, "referrer_types": STRING},
    "os": {"os_id": STRING, "os_version_id": STRING, "os_pretty_name": STRING},
    "packages": {"packages": OPTIONAL_INT},
}

#: Size columns shown as ``1.5 KiB``.
SIZE_COLUMNS = ("compressed_size", "uncompressed_size")


def catalog_frame(registry: str, repositories: Iterable[str]) -> Table:
    """One row per repository, in the order given.

    ==============  ======  ==============================================================
    column          dtype   meaning
    ==============  ======  ==============================================================
    ``registry``    string  the registry as named (``registry.example:5000``)
    ``namespace``   string  the repository's path without its last component (``team/app``
                            -> ``team``; ``""`` for a top-level name)
    ``repository``  string  the repository name as ``_catalog`` lists it
    ==============  ======  ==============================================================
    """
    names = list(repositories)
    columns = {
        "registry": [registry] * len(names),
        "namespace": [name.rpartition("/")[0] for name in names],
        "repository": names,
    }
    return table(columns, CATALOG_COLUMNS)


def inventory_dtypes(fields: Sequence[str] = ()) -> dict[str, Any]:
    """The inventory's columns and dtypes with the optional ``fields`` (their columns go just
    before ``error_type``)."""
    extra: dict[str, Any] = {}
    for name in fields:
        extra.update(OPTIONAL_COLUMNS[name])
    if not extra:
        return dict(INVENTORY_COLUMNS)
    out: dict[str, Any] = {}
    for name, dtype in INVENTORY_COLUMNS.items():
        if name == "error_type":
            out.update(extra)
        out[name] = dtype
    return out


def inventory_frame(rows: Iterable[Mapping[str, Any]], fields: Sequence[str] = ()) -> Table:
    """One row per (repository, tag, platform image), in the order given.

    ======================  ===================  ============================================
    column                  dtype                meaning
    ======================  ===================  ============================================
    ``registry``            string               the registry as named
    ``repository``          string               the repository
    ``tag``                 string               the tag; <NA> on a repository-level row (no
                                                 tags, or listing them failed)
    ``status``              category             ``ok``; ``empty``: a repository with no tag
                                                 (to read); ``error``: see ``error``
    ``index_digest``        string               the index (manifest list) the tag names;
                                                 <NA> when the tag names one manifest
    ``index_media_type``    string               its media type
    ``digest``              string               the platform image's manifest digest (the
                                                 tag's own digest when it names a manifest)
    ``media_type``          string               that manifest's media type
    ``platform``            string               ``linux/arm64/v8`` (from the index entry, or
                                                 the config of a lone manifest)
    ``layers``              Int64                layer count
    ``compressed_size``     Int64                config + layers as stored (bytes)
    ``uncompressed_size``   Int64                the layers unpacked (bytes), estimated from
                                                 gzip/zstd headers unless known exactly; <NA>
                                                 when any layer's is unknown
    ``uncompressed_exact``  bool                 every layer's size is exact
    ``created``             datetime64[ns, UTC]  the config's ``created``
    ``base_name``           string               ``org.opencontainers.image.base.name``
    ``base_digest``         string               ``org.opencontainers.image.base.digest``
    ``labels``              object               the config's labels, a dict (None if unread)
    ``attestations``        Int64                attestation manifests in the index that
                                                 describe this image (BuildKit's layout)
    ``error_type``          string               the typed error's class name
                                                 (``NotFoundError``, ``DeniedError``, …)
    ``error_code``          string               the registry's error code
                                                 (``MANIFEST_UNKNOWN``, ``DENIED``, …)
    ``error``               string               the error, one line; <NA> when all is well
    ======================  ===================  ============================================

    Optional fields (``fields=``) add columns before ``error_type``: ``referrers`` adds
    ``referrers`` (Int64: artifacts that refer to the image or its index, OCI referrers API
    or its tag schema) and ``referrer_types`` (their artifact types, sorted, comma-separated);
    ``os`` adds ``os_id``, ``os_version_id``, ``os_pretty_name`` (the image's os-release, read
    with :func:`ociinspect.reading.os_release`; <NA> when it has none); ``packages`` adds
    ``packages`` (Int64: installed packages, :func:`ociinspect.reading.packages`).
    """
    dtypes = inventory_dtypes(fields)
    records = list(rows)
    columns: dict[str, list[Any]] = {name: [] for name in dtypes}
    for record in records:
        for name in dtypes:
            value = record.get(name)
            if name == "uncompressed_exact":
                value = bool(value)
            columns[name].append(value)
    return table(columns, dtypes, size_columns=SIZE_COLUMNS)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of an inventory frame as dicts (missing values as None), to build another."""
    out: list[dict[str, Any]] = []
    names = list(frame.columns)
    for values in frame.itertuples(index=False, name=None):
        record: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            missing = not isinstance(value, dict) and value is not None and pd.isna(value)
            record[name] = None if missing else value
        out.append(record)
    return out


__all__ = [
    "CATALOG_COLUMNS",
    "EMPTY",
    "ERROR",
    "INVENTORY_COLUMNS",
    "OK",
    "OPTIONAL_COLUMNS",
    "SIZE_COLUMNS",
    "STATUS_DTYPE",
    "catalog_frame",
    "frame_records",
    "inventory_dtypes",
    "inventory_frame",
]
