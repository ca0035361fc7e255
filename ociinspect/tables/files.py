"""Layer contents as pandas DataFrames: pure builders over :mod:`ociinspect.layers.contents` and
:mod:`ociinspect.layers.overlay` values.

The columns and dtypes are part of the API. Sizes are in bytes. Text columns use pandas'
``string`` dtype (missing values are ``<NA>``); closed vocabularies are categoricals, so their
categories are fixed even when a frame is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ..layers.changes import CHANGE_KINDS, Change
from ..layers.contents import ENTRY_TYPES, WHITEOUTS, TarEntry
from ..layers.overlay import WASTE_KINDS, MergedEntry, Wasted, WastedCopy

ENTRY_TYPE_DTYPE = pd.CategoricalDtype(list(ENTRY_TYPES))
WHITEOUT_DTYPE = pd.CategoricalDtype(list(WHITEOUTS))
HOW_DTYPE = pd.CategoricalDtype(list(WASTE_KINDS))
CHANGE_DTYPE = pd.CategoricalDtype(list(CHANGE_KINDS))
STRING = pd.StringDtype()
MTIME_DTYPE = pd.DatetimeTZDtype(unit="ns", tz="UTC")

FILES_COLUMNS: dict[str, Any] = {
    "path": STRING,
    "type": ENTRY_TYPE_DTYPE,
    "size": "int64",
    "mode": STRING,
    "mode_octal": STRING,
    "uid": "int64",
    "gid": "int64",
    "mtime": MTIME_DTYPE,
    "link_target": STRING,
    "whiteout": WHITEOUT_DTYPE,
    "unsafe_path": "bool",
    "uname": STRING,
    "gname": STRING,
    "whiteout_target": STRING,
    "link_missing": "bool",
    "duplicate": "bool",
}
FILESYSTEM_COLUMNS: dict[str, Any] = {
    "path": STRING,
    "type": ENTRY_TYPE_DTYPE,
    "size": "int64",
    "mode": STRING,
    "layer": "int64",
    "link_target": STRING,
    "hardlink_to": STRING,
    "links": pd.Int64Dtype(),
    "inode": pd.Int64Dtype(),
    "uid": "int64",
    "gid": "int64",
    "mtime": MTIME_DTYPE,
}
CHANGES_COLUMNS: dict[str, Any] = {
    "layer": "int64",
    "path": STRING,
    "change": CHANGE_DTYPE,
    "type": ENTRY_TYPE_DTYPE,
    "type_before": ENTRY_TYPE_DTYPE,
    "size_before": pd.Int64Dtype(),
    "size_after": pd.Int64Dtype(),
    "layer_before": pd.Int64Dtype(),
    "wasted": "bool",
    "wasted_size": "int64",
    "opaque": "bool",
    "hardlink_to": STRING,
    "link_target": STRING,
}
WASTED_COLUMNS: dict[str, Any] = {
    "path": STRING,
    "size": "int64",
    "added_in": "int64",
    "superseded_in": "int64",
    "how": HOW_DTYPE,
}


def _frame(columns: Mapping[str, Any], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """Columns in ``dtypes`` order, each with its dtype (so empty frames keep them too)."""
    return pd.DataFrame({name: pd.Series(columns[name], dtype=dtypes[name]) for name in dtypes})


def _mtimes(values: list[float], exact: list[int | None] | None = None) -> pd.Series:
    """Times as datetime64[ns, UTC]: from integer nanoseconds where known (every digit of a
    PAX time kept), else from float seconds. Times outside datetime64[ns] (before 1677, after
    2262) become NaT rather than failing."""
    seconds = pd.Series(values, dtype="float64")
    times = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
    if exact is not None:
        known = pd.Series([n if n is not None else pd.NA for n in exact], dtype="Int64")
        precise = pd.to_datetime(known, unit="ns", utc=True, errors="coerce")
        times = precise.where(known.notna(), times)
    return times.astype(MTIME_DTYPE)


def files_frame(entries: Iterable[TarEntry]) -> pd.DataFrame:
    """One row per tar entry of one layer, in archive order (whiteouts and duplicates included).

    ========================  ======================  ==========================================
    column                    dtype                   meaning
    ========================  ======================  ==========================================
    ``path``                  string                  normalised path (``TarEntry.path``)
    ``type``                  category                file, dir, symlink, hardlink, char, block,
                                                      fifo, other
    ``size``                  int64                   bytes, from the tar header
    ``mode``                  string                  like ls: ``-rwxr-xr-x``, ``drwxrwxrwt``
    ``mode_octal``            string                  permission bits, e.g. ``0755``, ``4755``
    ``uid``, ``gid``          int64                   numeric owner
    ``mtime``                 datetime64[ns, UTC]     NaT when outside what datetime64[ns] holds
    ``link_target``           string                  symlink target verbatim / hardlink target
                                                      normalised; <NA> for other types
    ``whiteout``              category                file, opaque, meta; NaN for normal entries
    ``unsafe_path``           bool                    absolute or with a ``..`` component
    ``uname``, ``gname``      string                  owner names from the header (may be "")
    ``whiteout_target``       string                  what a whiteout removes/hides; else <NA>
    ``link_missing``          bool                    hardlink to a path not listed before it
    ``duplicate``             bool                    path listed earlier in the same layer
    ========================  ======================  ==========================================
    """
    rows = list(entries)
    columns: dict[str, Any] = {
        "path": [e.path for e in rows],
        "type": [e.type for e in rows],
        "size": [e.size for e in rows],
        "mode": [e.mode_string for e in rows],
        "mode_octal": [f"{e.mode:04o}" for e in rows],
        "uid": [e.uid for e in rows],
        "gid": [e.gid for e in rows],
        "mtime": _mtimes([e.mtime for e in rows], [e.mtime_ns for e in rows]),
        "link_target": [e.link_target for e in rows],
        "whiteout": [e.whiteout for e in rows],
        "unsafe_path": [e.unsafe_path for e in rows],
        "uname": [e.uname for e in rows],
        "gname": [e.gname for e in rows],
        "whiteout_target": [e.whiteout_target for e in rows],
        "link_missing": [e.link_missing for e in rows],
        "duplicate": [e.duplicate for e in rows],
    }
    return _frame(columns, FILES_COLUMNS)


def filesystem_frame(merged: Iterable[MergedEntry]) -> pd.DataFrame:
    """One row per path of the merged filesystem (:func:`ociinspect.layers.overlay.merge`), by path.

    ===============  ======================  ================================================
    column           dtype                   meaning
    ===============  ======================  ================================================
    ``path``         string                  normalised path
    ``type``         category                as in :func:`files_frame`; a hardlink to a
                                             regular file is ``file`` (as unpacked)
    ``size``         int64                   bytes of the file (a hardlink: its target's)
    ``mode``         string                  ls style (a hardlink: its target's)
    ``layer``        int64                   layer the path comes from (0 = bottom)
    ``link_target``  string                  a symlink's target; <NA> for other types
    ``hardlink_to``  string                  for a name stored as a tar hardlink, the path it
                                             links to (which may be gone); else <NA>
    ``links``        Int64                   names sharing this file's data (``ls -l``'s
                                             link count); <NA> unless a regular file
    ``inode``        Int64                   a number shared by those names (1, 2, … in the
                                             order the data was added); <NA> unless a file
    ``uid``, ``gid`` int64                   numeric owner (a hardlink: its target's)
    ``mtime``        datetime64[ns, UTC]     modification time (a hardlink: its target's)
    ===============  ======================  ================================================

    Sums, as on an image unpacked by ``umoci unpack``: ``size`` over ``type == "file"`` counts
    every name (``du --apparent-size -b --count-links`` over the regular files);
    ``frame[frame.type == "file"].drop_duplicates("inode").size.sum()`` counts each file's bytes
    once (``du --apparent-size -b``).
    """
    rows = list(merged)
    columns: dict[str, Any] = {
        "path": [m.path for m in rows],
        "type": [m.type for m in rows],
        "size": [m.size for m in rows],
        "mode": [m.mode_string for m in rows],
        "layer": [m.layer for m in rows],
        "link_target": [m.link_target for m in rows],
        "hardlink_to": [m.hardlink_to for m in rows],
        "links": [m.links for m in rows],
        "inode": [m.inode for m in rows],
        "uid": [m.uid for m in rows],
        "gid": [m.gid for m in rows],
        "mtime": _mtimes([m.mtime for m in rows], [m.mtime_ns for m in rows]),
    }
    return _frame(columns, FILESYSTEM_COLUMNS)


def changes_frame(changes: Iterable[Change]) -> pd.DataFrame:
    """One row per path per layer that touches it (:func:`ociinspect.layers.overlay.changes`),
    by layer, then path: dive's per-layer view.

    ================  ==============  =====================================================
    column            dtype           meaning
    ================  ==============  =====================================================
    ``layer``         int64           the layer (0 = bottom)
    ``path``          string          normalised path
    ``change``        category        added, modified, metadata, deleted, hidden,
                                      type_changed (:mod:`ociinspect.layers.changes`)
    ``type``          category        entry type after the layer (before it, if removed)
    ``type_before``   category        entry type below the layer; NaN when added
    ``size_before``   Int64           file bytes below the layer; <NA> when added
    ``size_after``    Int64           file bytes after it; <NA> when removed
    ``layer_before``  Int64           the layer the earlier copy came from
    ``wasted``        bool            the earlier copy's bytes are now wasted
    ``wasted_size``   int64           bytes this change left unreachable (0 when the earlier
                                      copy lives on through a hardlink)
    ``opaque``        bool            the layer made this directory opaque
    ``hardlink_to``   string          a name the layer stores as a tar hardlink: its target
    ``link_target``   string          a symlink's target after the layer
    ================  ==============  =====================================================

    ``frame["wasted_size"].sum()`` is :func:`wasted`'s ``wasted_bytes``.
    """
    rows = list(changes)
    columns: dict[str, Any] = {
        "layer": [c.layer for c in rows],
        "path": [c.path for c in rows],
        "change": [c.kind for c in rows],
        "type": [c.type for c in rows],
        "type_before": [c.type_before for c in rows],
        "size_before": [c.size_before for c in rows],
        "size_after": [c.size_after for c in rows],
        "layer_before": [c.layer_before for c in rows],
        "wasted": [c.wasted for c in rows],
        "wasted_size": [c.wasted_size for c in rows],
        "opaque": [c.opaque for c in rows],
        "hardlink_to": [c.hardlink_to for c in rows],
        "link_target": [c.link_target for c in rows],
    }
    return _frame(columns, CHANGES_COLUMNS)


def wasted_frame(wasted: Wasted | Iterable[WastedCopy]) -> pd.DataFrame:
    """One row per superseded file copy (:func:`ociinspect.layers.overlay.wasted`), in apply order.

    Columns: ``path`` (string, where the copy's bytes are stored), ``size`` (int64, bytes),
    ``added_in`` (int64, layer that shipped the copy), ``superseded_in`` (int64, layer that
    overwrote/deleted/hid its last name; equal to ``added_in`` for a duplicate inside one
    layer), ``how`` (category: overwritten, deleted, hidden). Each copy appears once, so
    ``frame["size"].sum()`` is ``Wasted.wasted_bytes``; a copy that a hardlink keeps reachable
    is not one.
    """
    rows = list(wasted.copies if isinstance(wasted, Wasted) else wasted)
    columns: dict[str, Any] = {
        "path": [c.path for c in rows],
        "size": [c.size for c in rows],
        "added_in": [c.added_in for c in rows],
        "superseded_in": [c.superseded_in for c in rows],
        "how": [c.how for c in rows],
    }
    return _frame(columns, WASTED_COLUMNS)


__all__ = [
    "CHANGES_COLUMNS",
    "CHANGE_DTYPE",
    "FILESYSTEM_COLUMNS",
    "FILES_COLUMNS",
    "WASTED_COLUMNS",
    "changes_frame",
    "files_frame",
    "filesystem_frame",
    "wasted_frame",
]
