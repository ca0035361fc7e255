"""How sizes, shares and digests read to a person: the one place that formats them.

Tables keep exact values (int64 bytes, full digests); these functions only render them, for the
CLI, the notebook reprs and the widgets alike.
"""

from __future__ import annotations

import math
from typing import Any

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def format_size(value: Any) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary units, one decimal; bytes below 1 KiB exact);
    missing values -> ``""``."""
    if _missing(value):
        return ""
    number = int(value)
    if abs(number) < 1024:
        return f"{number} B"
    scaled = float(number)
    unit = 0
    while abs(scaled) >= 1024 and unit < len(_UNITS) - 1:
        scaled /= 1024
        unit += 1
    return f"{scaled:.1f} {_UNITS[unit]}"


def format_share(value: Any) -> str:
    """``0.125`` -> ``"12.5%"``; missing -> ``""``."""
    if _missing(value):
        return ""
    return f"{float(value) * 100:.1f}%"


def short_digest(digest: Any, length: int = 12) -> str:
    """``sha256:0123456789ab`` (the first ``length`` hex digits) from a full digest; ``""``
    when missing; text that is not ``algorithm:encoded`` is cut to ``length``."""
    if _missing(digest) or digest == "":
        return ""
    algorithm, _, encoded = str(digest).partition(":")
    return f"{algorithm}:{encoded[:length]}" if encoded else str(digest)[:length]


__all__ = ["format_share", "format_size", "short_digest"]
