"""The validation table: one row per blob of an image (or index), what was checked, and how it
went. Pure: :func:`ociinspect.validate.validate` reads the blobs and makes the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .frame import BOOL, OPTIONAL_INT, STRING, Table, table

#: What a row is the blob of.
BLOB_KINDS = ("index", "manifest", "config", "layer")
BLOB_KIND_DTYPE = pd.CategoricalDtype(list(BLOB_KINDS))

VALIDATE_COLUMNS: dict[str, Any] = {
    "platform": STRING,
    "manifest": STRING,
    "kind": BLOB_KIND_DTYPE,
    "position": OPTIONAL_INT,
    "digest": STRING,
    "media_type": STRING,
    "declared_size": OPTIONAL_INT,
    "read_size": OPTIONAL_INT,
    "uncompressed_size": OPTIONAL_INT,
    "diff_id": STRING,
    "actual_diff_id": STRING,
    "checked": STRING,
    "ok": BOOL,
    "error": STRING,
}


@dataclass(frozen=True)
class BlobCheck:
    """One blob checked by :func:`ociinspect.validate.validate` (see :func:`validate_frame`)."""

    kind: str
    digest: str
    media_type: str | None
    checked: tuple[str, ...]
    ok: bool
    platform: str | None = None
    manifest: str | None = None
    position: int | None = None
    declared_size: int | None = None
    read_size: int | None = None
    uncompressed_size: int | None = None
    diff_id: str | None = None
    actual_diff_id: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in BLOB_KINDS:
            raise ValueError(f"BlobCheck.kind must be one of {BLOB_KINDS}, got {self.kind!r}")


def validate_frame(checks: Iterable[BlobCheck]) -> Table:
    """One row per blob, in the order they were read (index, then per image its manifest,
    config and layers, bottom first).

    =======================  ========  =====================================================
    column                   dtype     meaning
    =======================  ========  =====================================================
    ``platform``             string    the image's platform as its index entry (else config)
                                       says, normalised; <NA> for the index itself
    ``manifest``             string    digest of the manifest the blob belongs to (the
                                       index's own digest for the index row)
    ``kind``                 category  index, manifest, config, layer
    ``position``             Int64     a layer's position (0 = bottom); an index entry's for a
                                       manifest; else <NA>
    ``digest``               string    the blob's digest, as its descriptor gives it
    ``media_type``           string    as its descriptor gives it
    ``declared_size``        Int64     bytes its descriptor promises (<NA>: no descriptor, a
                                       document named by tag)
    ``read_size``            Int64     bytes read and hashed (<NA> when reading failed first)
    ``uncompressed_size``    Int64     a tar layer's decompressed bytes
    ``diff_id``              string    a layer's diff_id as the config lists it
    ``actual_diff_id``       string    the digest of what the layer decompressed to
    ``checked``              string    what was checked: ``digest``, ``size``, ``json`` (a
                                       document parsed), ``tar`` (a layer read to its end),
                                       ``diff_id``, comma-separated
    ``ok``                   bool      every check passed
    ``error``                string    the first failure (``DiffIdMismatchError: …``)
    =======================  ========  =====================================================

    ``attrs``: ``blobs`` (rows), ``failed`` (rows not ok), ``ok`` (none failed),
    ``read_bytes`` (bytes read in all).
    """
    rows = list(checks)
    columns: dict[str, list[Any]] = {
        "platform": [c.platform for c in rows],
        "manifest": [c.manifest for c in rows],
        "kind": [c.kind for c in rows],
        "position": [c.position for c in rows],
        "digest": [c.digest for c in rows],
        "media_type": [c.media_type for c in rows],
        "declared_size": [c.declared_size for c in rows],
        "read_size": [c.read_size for c in rows],
        "uncompressed_size": [c.uncompressed_size for c in rows],
        "diff_id": [c.diff_id for c in rows],
        "actual_diff_id": [c.actual_diff_id for c in rows],
        "checked": [", ".join(c.checked) for c in rows],
        "ok": [c.ok for c in rows],
        "error": [c.error for c in rows],
    }
    out = table(
        columns,
        VALIDATE_COLUMNS,
        size_columns=("declared_size", "read_size", "uncompressed_size"),
    )
    failed = sum(not c.ok for c in rows)
    out.attrs.update(
        blobs=len(rows),
        failed=failed,
        ok=failed == 0,
        read_bytes=sum(c.read_size or 0 for c in rows),
    )
    return out


__all__ = ["BLOB_KINDS", "BLOB_KIND_DTYPE", "VALIDATE_COLUMNS", "BlobCheck", "validate_frame"]
