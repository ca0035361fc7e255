"""The rate-limit table: what a registry said of its pull limit, one row. Pure."""

from __future__ import annotations

from typing import Any

from ..distribution.ratelimit import RateLimit
from .frame import BOOL, INT, OPTIONAL_INT, STRING, TIME, Table, table

RATELIMIT_COLUMNS: dict[str, Any] = {
    "registry": STRING,
    "repository": STRING,
    "limit": OPTIONAL_INT,
    "remaining": OPTIONAL_INT,
    "window_seconds": OPTIONAL_INT,
    "reset": TIME,
    "source": STRING,
    "logged_in": BOOL,
    "mirrors": STRING,
    "status": INT,
    "pulls_spent": INT,
    "note": STRING,
}


def ratelimit_frame(
    registry: str,
    repository: str | None,
    rate: RateLimit | None,
    *,
    status: int,
    logged_in: bool,
    mirrors: tuple[str, ...] = (),
    pulls_spent: int = 0,
) -> Table:
    """One row.

    ==================  ===================  ===================================================
    column              dtype                meaning
    ==================  ===================  ===================================================
    ``registry``        string               the registry asked (``docker.io``)
    ``repository``      string               the repository whose manifest was HEADed (<NA>: the
                                             ``/v2/`` endpoint)
    ``limit``           Int64                pulls allowed per window; <NA> when not announced
    ``remaining``       Int64                pulls left in this window
    ``window_seconds``  Int64                the window (``w=``): 21600 is 6 hours
    ``reset``           datetime64[ns, UTC]  when the limit resets, when the registry says so
    ``source``          string               what the pulls are counted against, as Docker Hub
                                             says it: your address, or your account's id
    ``logged_in``       bool                 credentials were sent (a higher limit on Docker Hub)
    ``mirrors``         string               mirrors configured for this registry, in order
    ``status``          int64                the HEAD's status
    ``pulls_spent``     int64                manifest GETs this check made (always 0)
    ``note``            string               the same, in words
    ==================  ===================  ===================================================
    """
    if rate is None:
        note = "no rate-limit headers: this registry (or this account) announces no pull limit"
    else:
        public = RateLimit(rate.limit, rate.remaining, rate.window_seconds, rate.reset)
        note = public.describe()
    if mirrors:
        note += f"; pulls go through {', '.join(mirrors)} first"
    columns: dict[str, list[Any]] = {
        "registry": [registry],
        "repository": [repository],
        "limit": [rate.limit if rate else None],
        "remaining": [rate.remaining if rate else None],
        "window_seconds": [rate.window_seconds if rate else None],
        "reset": [rate.reset if rate else None],
        "source": [rate.source if rate else None],
        "logged_in": [logged_in],
        "mirrors": [", ".join(mirrors) or None],
        "status": [status],
        "pulls_spent": [pulls_spent],
        "note": [note],
    }
    return table(columns, RATELIMIT_COLUMNS)


__all__ = ["RATELIMIT_COLUMNS", "ratelimit_frame"]
