"""The :class:`Table` every table function returns, its dtypes, and human-readable sizes.

A :class:`Table` is a :class:`pandas.DataFrame` whose values stay what they are (sizes are
``int64`` bytes) while its notebook HTML and its ``repr`` show sizes as ``1.5 KiB`` and shares as
``12.5%``. Which columns are sizes is kept on the table (``size_columns``, in pandas'
``_metadata``, so it survives slicing, filtering and sorting).

Dtype conventions of every table in :mod:`ociinspect.tables`: text is pandas' ``string`` dtype
(missing is ``<NA>``); closed vocabularies (kind, compression, status) are categoricals with
fixed categories; counts and sizes are ``int64``, or ``Int64`` (nullable) where a value can be
missing; times are ``datetime64[ns, UTC]``; flags are ``bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from ..values.units import format_share, format_size  # noqa: F401 - the tables' renderers

STRING = pd.StringDtype()
TIME = pd.DatetimeTZDtype(unit="ns", tz="UTC")
INT = "int64"
OPTIONAL_INT = pd.Int64Dtype()
FLOAT = "float64"
BOOL = "bool"

#: Columns whose values are digests; the CLI shortens them in its ``table`` format.
DIGEST_COLUMNS = frozenset(
    {"digest", "diff_id", "describes", "config_digest", "subject", "manifest", "layer",
     "actual_diff_id", "base_digest", "layer_digest"}
)


#: RFC 3339 section 5.6 date-time, with the fraction kept apart (Go writes nanoseconds).
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?"
    r"(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)


def utc(value: str | datetime | None) -> pd.Timestamp | None:
    """A config time as a UTC timestamp: RFC 3339 text or a datetime; naive means UTC.
    Every digit of a fraction down to nanoseconds is kept (``datetime`` alone stops at
    microseconds). None when absent, unreadable, or outside what datetime64[ns] holds."""
    if value is None:
        return None
    nanoseconds = 0
    if isinstance(value, str):
        text = value.strip()
        found = _RFC3339.fullmatch(text)
        if found is not None:
            offset = found["offset"].upper().replace("Z", "+00:00")
            text = f"{found['date']}T{found['time']}{offset}"
            fraction = (found["fraction"] or "")[:9]
            nanoseconds = int(fraction.ljust(9, "0")) if fraction else 0
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        stamp = pd.Timestamp(value).tz_convert("UTC").as_unit("ns")
        return stamp + pd.Timedelta(nanoseconds, unit="ns") if nanoseconds else stamp
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return None


class Table(pd.DataFrame):
    """A DataFrame that shows sizes (and shares) human-readably; its values are unchanged.

    ``size_columns`` and ``share_columns`` name the columns shown as ``1.5 KiB`` / ``12.5%``;
    columns that are no longer in the table (after selecting some) are ignored.
    """

    _metadata = ["size_columns", "share_columns"]
    size_columns: tuple[str, ...] = ()
    share_columns: tuple[str, ...] = ()

    @property
    def _constructor(self) -> Callable[..., Table]:
        return Table

    @classmethod
    def of(
        cls,
        frame: pd.DataFrame,
        size_columns: Sequence[str] = (),
        share_columns: Sequence[str] = (),
    ) -> Table:
        """``frame`` as a Table (its data is not copied)."""
        table = cls(frame)
        table.size_columns = tuple(size_columns)
        table.share_columns = tuple(share_columns)
        return table

    def formatters(self) -> dict[str, Callable[[Any], str]]:
        """``to_string``-style formatters for the size and share columns present."""
        out: dict[str, Callable[[Any], str]] = {}
        for name in self.size_columns:
            if name in self.columns:
                out[name] = format_size
        for name in self.share_columns:
            if name in self.columns:
                out[name] = format_share
        return out

    def __repr__(self) -> str:
        """pandas' repr (same options, same truncation) with sizes and shares formatted."""
        from pandas.io.formats import format as pandas_format

        # What DataFrame.__repr__ passes to to_string (display options); absent in old pandas.
        params_of = getattr(pandas_format, "get_dataframe_repr_params", dict)
        text = str(self.to_string(formatters=self.formatters(), **params_of()))
        note = self.attrs.get("note")  # what the rows alone do not say (see ociinspect.api)
        return f"{text}\n{note}" if note else text

    def _repr_html_(self) -> str:
        """Notebook HTML (:func:`ociinspect.display.table_html`): short digests and human
        sizes while the values stay exact, sizes, modes and times unwrapped, text left and
        numbers right, every cell escaped; a big table shows its first rows and says how to
        see them all."""
        from ..display import table_html

        return table_html(self)


def frame(columns: Mapping[str, Iterable[Any]], dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame with exactly the columns of ``dtypes``, in that order, each of its dtype
    (so an empty frame has the same columns and dtypes as a full one)."""
    data = {}
    for name, dtype in dtypes.items():
        values = list(columns[name])
        if dtype == TIME:
            data[name] = pd.Series(pd.to_datetime(values, utc=True), dtype=TIME)
        else:
            data[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(data, columns=list(dtypes))


def table(
    columns: Mapping[str, Iterable[Any]],
    dtypes: Mapping[str, Any],
    size_columns: Sequence[str] = (),
    share_columns: Sequence[str] = (),
) -> Table:
    """:func:`frame` as a :class:`Table`."""
    return Table.of(frame(columns, dtypes), size_columns, share_columns)


__all__ = [
    "BOOL",
    "DIGEST_COLUMNS",
    "FLOAT",
    "INT",
    "OPTIONAL_INT",
    "STRING",
    "TIME",
    "Table",
    "format_share",
    "format_size",
    "frame",
    "table",
    "utc",
]
