"""``FileGrid``: every row of a file listing in the browser, filtered and sorted client-side.

The frame is encoded once (:func:`encode_frame`, pure) into a columnar JSON payload that the
widget's ES module (``static/grid.js``, an anywidget) decodes in the browser. There it keeps
two arrays, the sort order and the rows that pass the filter, and draws only the rows in view
(virtual scrolling, 24 px rows): a keystroke in the filter box, a click on a header or a
scroll never waits on the kernel. ``filter``, ``sort`` and ``selected`` are synchronised back
(the filter debounced by 250 ms), so the kernel always knows what is shown:
:meth:`FileGrid.visible_frame` applies the same rules with pandas (:func:`filter_mask`,
:func:`view_order`).

Rules shared by both sides (and pinned by the tests on both):

- filter: a pattern with ``*``, ``?`` or ``[`` is a glob in :func:`fnmatch.fnmatchcase`
  syntax, matched against the whole path or, when it contains no ``/``, the base name too
  (like a ``.gitignore`` line); anything else is a substring. Both are case-sensitive, as
  paths in a layer are; leading and trailing spaces are ignored.
- sort: stable (ties keep frame order), missing values last in either direction, numbers and
  sizes by value (sizes are shown as ``1.5 KiB`` but ordered by bytes), times by instant, text
  by code unit (Python's order but for characters beyond U+FFFF, which JavaScript compares
  by their UTF-16 surrogates).

Encoding (:func:`encode_frame`) of each column kind; ``null`` is a missing value:

==========  ==========================================================================
kind        values
==========  ==========================================================================
``text``    strings; or ``dict`` + ``codes`` (index into ``dict``, -1 missing) when at
            most half the values are distinct (``type``, ``mode``, owners); or, when that
            keeps at most 60% of the characters (paths in listing order), front-coded:
            ``shared`` (UTF-16 units shared with the previous string, -1 missing) +
            ``suffixes``
``int``     JSON numbers, exact for ``|v| <= 2**53 - 1`` (JavaScript's safe integers);
            a column holding any larger value is sent as decimal strings with
            ``"big": true`` and compared as ``BigInt`` in the browser, so it stays exact
``size``    an ``int`` column shown human-readable (binary units) and sorted by bytes
``float``   JSON numbers; NaN and infinities become missing
``time``    seconds (``"unit": "s"``, when all are whole) or milliseconds (``"ms"``) since
            the Unix epoch, UTC (naive times are taken as UTC); shown ``YYYY-MM-DD
            HH:MM:SS`` UTC
``bool``    ``true`` / ``false``
==========  ==========================================================================
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
from traitlets import Any as AnyTrait
from traitlets import Dict, Int, Unicode, validate

from ..errors import OCIInspectError

STATIC = Path(__file__).resolve().parent / "static"
#: The columns of a layer listing, in the order a person reads them.
LISTING_COLUMNS = ("path", "type", "size", "mode", "uid", "gid", "mtime", "link_target")
#: Rows one grid holds: 1,000,000 rows of 24 px stay under Chromium's 33.5 M px element limit.
MAX_ROWS = 1_000_000
#: Columns one grid holds.
MAX_COLUMNS = 64
#: JavaScript's Number.MAX_SAFE_INTEGER: larger integers are sent as strings.
MAX_SAFE_INTEGER = 2**53 - 1
#: Text columns with at most this share of distinct values are dictionary-encoded.
DICTIONARY_SHARE = 0.5
#: Other text columns are front-coded when that leaves at most this share of the characters.
FRONT_CODING_SHARE = 0.6
GLOB_CHARACTERS = frozenset("*?[")
PAYLOAD_VERSION = 1


class GridInputError(OCIInspectError, ValueError):
    """A frame, column or sort key that a :class:`FileGrid` cannot show."""


class GridTooLargeError(OCIInspectError, ValueError):
    """A frame with more rows or columns than one grid holds."""

    def __init__(self, what: str, limit: int, size: int) -> None:
        self.what = what
        self.limit = limit
        self.size = size
        super().__init__(
            f"the frame has {size:,} {what}; a FileGrid shows at most {limit:,}: "
            f"select part of it first (e.g. frame[frame.path.str.startswith('usr/')])"
        )


# -- encoding (pure) ------------------------------------------------------------------------------


def _nullable(values: Iterable[Any], mask: np.ndarray) -> list[Any]:
    return [None if missing else value for value, missing in zip(values, mask, strict=True)]


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b`` (binary search on C-level slices)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _utf16_length(text: str) -> int:
    """``len`` as JavaScript counts it (UTF-16 code units; lone surrogates count one)."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def _front_code(strings: list[str | None]) -> tuple[list[int], list[str], int]:
    """Each string as (length shared with the previous string, in UTF-16 units; the rest);
    missing -> (-1, ''). Also the characters the suffixes hold."""
    shared: list[int] = []
    suffixes: list[str] = []
    previous = ""
    kept = 0
    for text in strings:
        if text is None:
            shared.append(-1)
            suffixes.append("")
            continue
        common = _common_prefix(previous, text)
        shared.append(_utf16_length(text[:common]))
        suffixes.append(text[common:])
        kept += len(text) - common
        previous = text
    return shared, suffixes, kept


def _encode_text(series: pd.Series) -> dict[str, Any]:
    mask = series.isna().to_numpy()
    as_text = series.astype(object).where(~mask, None)
    strings = [None if value is None else str(value) for value in as_text.tolist()]
    codes, uniques = pd.factorize(pd.Series(strings, dtype=object), use_na_sentinel=True)
    if len(series) and len(uniques) <= DICTIONARY_SHARE * len(series):
        return {"kind": "text", "dict": [str(u) for u in uniques], "codes": codes.tolist()}
    shared, suffixes, kept = _front_code(strings)
    if kept <= FRONT_CODING_SHARE * sum(len(text) for text in strings if text is not None):
        return {"kind": "text", "shared": shared, "suffixes": suffixes}
    return {"kind": "text", "values": strings}


def _encode_int(series: pd.Series, kind: str) -> dict[str, Any]:
    mask = series.isna().to_numpy()
    present = series[~mask]
    # Python ints: exact whatever the dtype (int64, uint64, Int64, object of ints).
    ints = [int(value) for value in present.tolist()]
    big = any(abs(value) > MAX_SAFE_INTEGER for value in ints)
    out = iter(str(value) for value in ints) if big else iter(ints)
    values = [None if missing else next(out) for missing in mask]
    column: dict[str, Any] = {"kind": kind, "values": values}
    if big:
        column["big"] = True
    return column


def _encode_float(series: pd.Series) -> dict[str, Any]:
    numbers = series.astype("float64").to_numpy()
    finite = np.isfinite(numbers)
    return {"kind": "float", "values": _nullable(numbers.tolist(), ~finite)}


def _encode_time(series: pd.Series) -> dict[str, Any]:
    times = pd.to_datetime(series, utc=True, errors="coerce")
    mask = times.isna().to_numpy()
    nanoseconds = times.astype("datetime64[ns, UTC]").dt.tz_localize(None).to_numpy().view("i8")
    millis = np.floor_divide(nanoseconds, 1_000_000)
    present = millis[~mask]
    if bool((present % 1000 == 0).all()):  # whole seconds, as tar headers mostly hold
        return {"kind": "time", "unit": "s", "values": _nullable((millis // 1000).tolist(), mask)}
    return {"kind": "time", "unit": "ms", "values": _nullable(millis.tolist(), mask)}


def _encode_bool(series: pd.Series) -> dict[str, Any]:
    mask = series.isna().to_numpy()
    return {"kind": "bool", "values": _nullable((bool(v) for v in series.tolist()), mask)}


def _encode_column(series: pd.Series, size: bool) -> dict[str, Any]:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return _encode_bool(series)
    if pd.api.types.is_integer_dtype(dtype):
        return _encode_int(series, "size" if size else "int")
    if pd.api.types.is_float_dtype(dtype):
        if size:
            whole = series.dropna()
            if bool((whole == whole.round()).all()) and bool(np.isfinite(whole).all()):
                return _encode_int(series.astype("Int64"), "size")
        return _encode_float(series)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _encode_time(series)
    return _encode_text(series)


def encode_frame(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    size_columns: Iterable[str] = ("size",),
    mono_columns: Iterable[str] = ("mode", "mode_octal"),
    path_column: str = "path",
    max_rows: int = MAX_ROWS,
) -> dict[str, Any]:
    """The JSON payload of ``frame``'s ``columns`` (default: all, in frame order), one list per
    column (module docstring: kinds, missing values, integers beyond 2**53). The index is not
    sent: rows are addressed by position; ``mono_columns`` are drawn in the code font. Raises
    :class:`GridInputError` for a missing or duplicated column or a ``path_column`` that is not
    text, :class:`GridTooLargeError` over ``max_rows`` rows or :data:`MAX_COLUMNS` columns
    (checked before any work)."""
    if not isinstance(frame, pd.DataFrame):
        raise GridInputError(f"FileGrid needs a pandas DataFrame, got {type(frame).__name__}")
    names = [str(name) for name in (frame.columns if columns is None else columns)]
    if len(frame) > max_rows:
        raise GridTooLargeError("rows", max_rows, len(frame))
    if len(names) > MAX_COLUMNS:
        raise GridTooLargeError("columns", MAX_COLUMNS, len(names))
    if len(set(map(str, frame.columns))) != len(frame.columns):
        raise GridInputError(f"the frame's column names are not unique: {list(frame.columns)}")
    available = {str(name): name for name in frame.columns}
    unknown = [name for name in names if name not in available]
    if unknown:
        raise GridInputError(
            f"no column {', '.join(map(repr, unknown))} in the frame; it has {list(available)}"
        )
    if path_column not in names:
        raise GridInputError(
            f"the path column {path_column!r} is not among the columns shown {names}: "
            "pass path_column= naming the column that holds paths"
        )
    sizes, mono = set(size_columns), set(mono_columns)
    encoded = []
    for name in names:
        column = _encode_column(frame[available[name]], name in sizes)
        if name == path_column and column["kind"] != "text":
            raise GridInputError(f"the path column {name!r} holds {column['kind']}, not text")
        if name in mono:
            column["mono"] = True
        encoded.append({"name": name, **column})
    return {
        "version": PAYLOAD_VERSION,
        "rows": len(frame),
        "path": path_column,
        "columns": encoded,
    }


def column_order(
    frame: pd.DataFrame, first: Sequence[str], hidden: Iterable[str] = ()
) -> list[str]:
    """``first`` (those the frame has, in that order), then the frame's other columns in frame
    order, less ``hidden``."""
    names = [str(name) for name in frame.columns]
    drop = set(hidden)
    leading = [name for name in first if name in names and name not in drop]
    return leading + [name for name in names if name not in leading and name not in drop]


# -- filter and sort (pure; the same rules as static/grid.js) ---------------------------------


def is_glob(pattern: str) -> bool:
    """True when ``pattern`` is matched as a glob rather than a substring."""
    return any(character in GLOB_CHARACTERS for character in pattern)


def path_matches(path: str, pattern: str) -> bool:
    """Whether one path passes the filter ``pattern`` (module docstring: the rules)."""
    pattern = pattern.strip()
    if not pattern:
        return True
    if not is_glob(pattern):
        return pattern in path
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return "/" not in pattern and fnmatch.fnmatchcase(path.rpartition("/")[2], pattern)


def filter_mask(paths: pd.Series, pattern: str) -> pd.Series:
    """A boolean Series: which ``paths`` pass ``pattern``; missing paths pass only ''."""
    if not pattern.strip():
        return pd.Series(True, index=paths.index)
    return paths.map(lambda p: False if p is None or p is pd.NA else path_matches(str(p), pattern))


def view_order(frame: pd.DataFrame, column: str, ascending: bool) -> np.ndarray:
    """Row positions of ``frame`` sorted by ``column`` (stable; missing values last); the
    frame's own order when ``column`` is ''."""
    if not column:
        return np.arange(len(frame))
    if column not in frame.columns:
        raise GridInputError(f"cannot sort by {column!r}: the frame has {list(frame.columns)}")
    series = frame[column].reset_index(drop=True)
    if isinstance(series.dtype, pd.CategoricalDtype) or series.dtype == object:
        series = series.astype("string")
    ordered = series.sort_values(ascending=ascending, kind="stable", na_position="last")
    return ordered.index.to_numpy()


def _sort_key(value: Any) -> tuple[str, bool]:
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], bool)
    ):
        return value[0], value[1]
    raise GridInputError(
        f"sort must be (column, ascending), e.g. ('size', False), got {value!r}"
    )


# -- the widget -----------------------------------------------------------------------------------


class FileGrid(anywidget.AnyWidget):
    """A file listing with every row: virtual scrolling, client-side filter and sort.

    ``FileGrid(files_frame)`` shows ``path, type, size, mode, uid, gid, mtime, link_target``
    first (those the frame has), then the frame's other columns. Setting ``filter``, ``sort``
    or ``selected`` in Python does what typing, a header click or a row click does.
    """

    _esm = STATIC / "grid.js"
    _css = STATIC / "grid.css"

    data = Dict(help="The payload of encode_frame(); set it through .frame.").tag(sync=True)
    filter = Unicode("", help="Path filter: a substring, or a glob with * ? [.").tag(sync=True)
    sort = AnyTrait(("", True), help="(column, ascending); '' = frame order.").tag(sync=True)
    selected = Unicode(None, allow_none=True, help="Path of the selected row.").tag(sync=True)
    shown = Int(0, help="Rows that pass the filter, as the browser counted them.").tag(sync=True)
    height = Int(420, help="Height of the scrolling area in pixels.").tag(sync=True)

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        columns_first: Sequence[str] = LISTING_COLUMNS,
        hidden: Iterable[str] = (),
        size_columns: Iterable[str] = ("size",),
        path_column: str = "path",
        height: int = 420,
        max_rows: int = MAX_ROWS,
        **kwargs: Any,
    ) -> None:
        self._columns_first = tuple(columns_first)
        self._hidden = tuple(hidden)
        self._size_columns = tuple(size_columns)
        self._path_column = path_column
        self._max_rows = max_rows
        self._frame = frame
        payload = self._encode(frame)
        super().__init__(data=payload, height=height, shown=len(frame), **kwargs)

    def _encode(self, frame: pd.DataFrame) -> dict[str, Any]:
        if not isinstance(frame, pd.DataFrame):
            raise GridInputError(f"FileGrid needs a pandas DataFrame, got {type(frame).__name__}")
        return encode_frame(
            frame,
            column_order(frame, self._columns_first, self._hidden),
            size_columns=self._size_columns,
            path_column=self._path_column,
            max_rows=self._max_rows,
        )

    @property
    def frame(self) -> pd.DataFrame:
        """The frame shown (as given)."""
        return self._frame

    @frame.setter
    def frame(self, frame: pd.DataFrame) -> None:
        payload = self._encode(frame)  # raises before anything changes
        self._frame = frame
        with self.hold_sync():
            self.selected = None
            self.data = payload

    @validate("sort")
    def _check_sort(self, proposal: Any) -> tuple[str, bool]:
        column, ascending = _sort_key(proposal["value"])
        names = {c["name"] for c in self.data.get("columns", ())} if self.data else set()
        if column and names and column not in names:
            raise GridInputError(f"cannot sort by {column!r}: the grid shows {sorted(names)}")
        return column, ascending

    def visible_frame(self) -> pd.DataFrame:
        """The rows the grid shows, in its order: ``filter`` and ``sort`` applied with pandas."""
        frame = self._frame.reset_index(drop=True)
        column, ascending = self.sort
        ordered = frame.iloc[view_order(frame, column, ascending)]
        return ordered[filter_mask(ordered[self._path_column], self.filter)]


__all__ = [
    "LISTING_COLUMNS",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "MAX_SAFE_INTEGER",
    "FileGrid",
    "GridInputError",
    "GridTooLargeError",
    "column_order",
    "encode_frame",
    "filter_mask",
    "is_glob",
    "path_matches",
    "view_order",
]
