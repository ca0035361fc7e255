"""The HTTP trace as a table: one row per exchange a :class:`~ociinspect.distribution.trace.Trace`
recorded. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ..distribution.trace import Exchange, summarize
from .frame import BOOL, FLOAT, INT, OPTIONAL_INT, STRING, TIME, Table, table

TRACE_COLUMNS: dict[str, Any] = {
    "method": STRING,
    "url": STRING,
    "status": OPTIONAL_INT,
    "purpose": STRING,
    "bytes": INT,
    "elapsed_ms": FLOAT,
    "started": TIME,
    "error": STRING,
    "pull": BOOL,
    "ratelimit_limit": OPTIONAL_INT,
    "ratelimit_remaining": OPTIONAL_INT,
    "ratelimit_window": OPTIONAL_INT,
    "ratelimit_reset": TIME,
    "mirror_for": STRING,
    "proxy": STRING,
}


def trace_frame(exchanges: Iterable[Exchange]) -> Table:
    """One row per exchange, in the order they were recorded.

    ``method``, ``url`` (string; already redacted by the trace), ``status`` (Int64; <NA> when
    no answer came), ``purpose`` (string: manifest, blob, token, …), ``bytes`` (int64, body
    bytes received), ``elapsed_ms`` (float64), ``started`` (datetime64[ns, UTC]), ``error``
    (string: what stood in for an answer, else <NA>); ``pull`` (bool: a manifest GET, which
    Docker Hub counts against its pull limit; a HEAD is free); ``ratelimit_limit``,
    ``ratelimit_remaining`` and ``ratelimit_window`` (Int64: what the answer's rate-limit headers
    said, the window in seconds; <NA> when they said nothing), ``ratelimit_reset``
    (datetime64[ns, UTC]: when the limit resets, if said); ``mirror_for`` (string: the registry
    a mirror answered for, else <NA>); ``proxy`` (string: the proxy the request went through,
    credentials hidden, else <NA>). The address the pulls are counted against is left out.
    ``attrs["summary"]`` is :func:`~ociinspect.distribution.trace.summarize` of the rows.
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
        "pull": [e.pull for e in rows],
        "ratelimit_limit": [e.ratelimit.limit if e.ratelimit else None for e in rows],
        "ratelimit_remaining": [e.ratelimit.remaining if e.ratelimit else None for e in rows],
        "ratelimit_window": [e.ratelimit.window_seconds if e.ratelimit else None for e in rows],
        "ratelimit_reset": [e.ratelimit.reset if e.ratelimit else None for e in rows],
        "mirror_for": [e.mirror_for for e in rows],
        "proxy": [getattr(e, "proxy", None) for e in rows],
    }
    out = table(columns, TRACE_COLUMNS, size_columns=("bytes",))
    out.attrs["summary"] = summarize(rows)
    return out


__all__ = ["TRACE_COLUMNS", "trace_frame"]
