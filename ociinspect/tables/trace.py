"""The HTTP trace as a table: one row per exchange a :class:`~ociinspect.distribution.trace.Trace`
recorded. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..distribution.trace import Exchange
from .frame import FLOAT, INT, OPTIONAL_INT, STRING, TIME, Table, table

TRACE_COLUMNS: dict[str, Any] = {
    "method": STRING,
    "url": STRING,
    "status": OPTIONAL_INT,
    "purpose": STRING,
    "bytes": INT,
    "elapsed_ms": FLOAT,
    "started": TIME,
    "error": STRING,
}


def trace_frame(exchanges: Iterable[Exchange]) -> Table:
    """One row per exchange, in the order they were recorded.

    ``method``, ``url`` (string; already redacted by the trace), ``status`` (Int64; <NA> when
    no answer came), ``purpose`` (string: manifest, blob, token, …), ``bytes`` (int64, body
    bytes received), ``elapsed_ms`` (float64), ``started`` (datetime64[ns, UTC]), ``error``
    (string: what stood in for an answer, else <NA>).
    """
    rows = list(exchanges)
    columns: dict[str, list[Any]] = {
        "method": [e.method for e in rows],
        "url": [e.url for e in rows],
        "status": [e.status for e in rows],
        "purpose": [e.purpose for e in rows],
        "bytes": [e.bytes for e in rows],
        "elapsed_ms": [e.elapsed * 1000.0 for e in rows],
        "started": [datetime.fromtimestamp(e.started, UTC) for e in rows],
        "error": [e.error for e in rows],
    }
    return table(columns, TRACE_COLUMNS, size_columns=("bytes",))


__all__ = ["TRACE_COLUMNS", "trace_frame"]
