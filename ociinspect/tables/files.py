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

from ..layers.contents import ENTRY_TYPES, WHITEOUTS, TarEntry
from ..layers.overlay import WASTE_KINDS, MergedEntry, Wasted, WastedCopy

ENTRY_TYPE_DTYPE = pd.CategoricalDtype(list(ENTRY_TYPES))
WHITEOUT_DTYPE = pd.CategoricalDtype(list(WHITEOUTS))
HOW_DTYPE = pd.CategoricalDtype(list(WASTE_KINDS))
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


def _mtimes(values: list[float]) -> pd.Series:
    seconds = pd.Series(values, dtype="float64")
    # Times outside datetime64[ns] (before 1677, after 2262) become NaT rather than failing.
    times = pd.to_datetime(seconds, unit="s", utc=True, errors="coerce")
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
        "mtime": _mtimes([e.mtime for e in rows]),
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

    Columns: ``path`` (string), ``type`` (category, as in :func:`files_frame`), ``size``
    (int64, bytes), ``mode`` (string, ls style), ``layer`` (int64, index of the layer the path
    comes from, 0 = bottom), ``link_target`` (string, <NA> unless a link).
    """
    rows = list(merged)
    columns: dict[str, Any] = {
        "path": [m.path for m in rows],
        "type": [m.type for m in rows],
        "size": [m.size for m in rows],
        "mode": [m.mode_string for m in rows],
        "layer": [m.layer for m in rows],
        "link_target": [m.link_target for m in rows],
    }
    return _frame(columns, FILESYSTEM_COLUMNS)


def wasted_frame(wasted: Wasted | Iterable[WastedCopy]) -> pd.DataFrame:
    """One row per superseded file copy (:func:`ociinspect.layers.overlay.wasted`), in apply order.

    Columns: ``path`` (string), ``size`` (int64, bytes), ``added_in`` (int64, layer that shipped
    the copy), ``superseded_in`` (int64, layer that overwrote/deleted/hid it; equal to
    ``added_in`` for a duplicate inside one layer), ``how`` (category: overwritten, deleted,
    hidden). Each copy appears once, so ``frame["size"].sum()`` is ``Wasted.wasted_bytes``.
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
    "FILESYSTEM_COLUMNS",
    "FILES_COLUMNS",
    "WASTED_COLUMNS",
    "files_frame",
    "filesystem_frame",
    "wasted_frame",
]
