"""Small pure helpers that turn values and DataFrames into escaped HTML. No widgets, no I/O.

Every function returns a string of HTML in which each value from an image (paths, labels,
commands, URLs) is escaped: image content is untrusted and must never become markup.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from ..values.units import format_size, short_digest


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def missing(value: object) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):  # lists, dicts: never "missing"
        return False


def size_html(size: object) -> str:
    """A human-readable size with the exact byte count in its tooltip."""
    if missing(size):
        return ""
    return f'<span title="{int(size):,} bytes">{esc(format_size(size))}</span>'  # type: ignore[call-overload]


def copy_button(text: str, what: str) -> str:
    """A small button that copies ``text`` in the page (``static/htmlview.js``); ``what`` names
    it for its tooltip and screen readers. Its glyph is drawn by CSS, so it adds no text."""
    return (
        f'<button type="button" class="oi-copy" data-oi-copy="{esc(text)}" '
        f'title="Copy {esc(what)}" aria-label="Copy {esc(what)}"></button>'
    )


def digest_html(digest: object, copy: bool = True) -> str:
    """A short digest in monospace, the full digest in its tooltip and, with ``copy``, a
    button that copies the full digest."""
    if missing(digest):
        return ""
    short = f'<code class="oi-digest" title="{esc(digest)}">{esc(short_digest(digest))}</code>'
    return short + (copy_button(str(digest), "digest") if copy else "")


def command_html(value: object, limit: int = 90) -> str:
    """A build step or command: whole when short; else its start, expandable to the whole
    text (wrapped) with a copy button. Nothing is cut without a way to see it."""
    if missing(value):
        return ""
    full = str(value)
    if len(full) <= limit:
        return esc(full)
    return (
        f'<details class="oi-more"><summary title="Show all {len(full):,} characters">'
        f"{esc(full[: limit - 1])}…</summary>"
        f'<div class="oi-more-body"><code>{esc(full)}</code>{copy_button(full, "command")}'
        "</div></details>"
    )


def when(value: object) -> str:
    """A timestamp as ``2024-05-01 12:34 UTC`` ('' when missing)."""
    if missing(value):
        return ""
    if isinstance(value, str):
        try:
            return when(pd.Timestamp(value))
        except ValueError:
            return value
    if isinstance(value, datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize("UTC")
        return stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def text(value: object, limit: int | None = None) -> str:
    """Escaped text, cut to ``limit`` characters with the whole value in a tooltip."""
    if missing(value):
        return ""
    shown = str(value)
    if limit is not None and len(shown) > limit:
        return f'<span title="{esc(shown)}">{esc(shown[: limit - 1])}…</span>'
    return esc(shown)


def share_bar(share: object) -> str:
    """A horizontal bar for a fraction 0..1 of a total, with the percentage beside it."""
    if missing(share):
        return ""
    fraction = min(max(float(share), 0.0), 1.0)  # type: ignore[arg-type]
    return (
        '<div class="oi-share"><div class="oi-bar">'
        f'<div class="oi-bar-fill" style="width:{fraction * 100:.2f}%"></div></div>'
        f'<span class="oi-pct">{fraction * 100:.1f}%</span></div>'
    )


def badge(label: str, kind: str) -> str:
    """A small coloured label (``kind`` names its CSS modifier, e.g. ``attestation``)."""
    return f'<span class="oi-badge oi-badge-{esc(kind)}">{esc(label)}</span>'


@dataclass(frozen=True)
class Column:
    """How one DataFrame column appears in an HTML table."""

    key: str
    title: str
    render: Callable[[Any], str] = text
    numeric: bool = False
    css: str = ""
    extra: bool = False  # hidden in a narrow browser until "All columns" is ticked


def table_html(
    frame: pd.DataFrame,
    columns: Sequence[Column],
    *,
    css: str = "",
    row_class: Callable[[Any], str] | None = None,
    row_attrs: Callable[[Any], str] | None = None,
    limit: int | None = None,
    empty: str = "Nothing to show.",
    group: str | None = None,
) -> str:
    """An HTML table of ``frame``'s rows; columns ``frame`` lacks are left out.

    ``row_class(row)`` adds CSS classes to a row, ``row_attrs(row)`` attributes (already
    escaped, with a leading space); ``limit`` caps the rows shown and says so;
    ``group`` names a column shown as a heading row (``oi-group``) wherever its value changes.
    """
    if frame is None or len(frame) == 0:
        return f'<p class="oi-empty">{esc(empty)}</p>'
    present = [c for c in columns if c.key in frame.columns and c.key != group]
    head = "".join(f'<th class="{_cell_class(c)}">{esc(c.title)}</th>' for c in present)
    shown = frame if limit is None else frame.head(limit)
    body = []
    heading: object = None
    for values in shown.to_dict("records"):
        if group is not None and values[group] != heading:
            heading = values[group]
            body.append(
                f'<tr class="oi-group"><th colspan="{len(present)}">{text(heading)}</th></tr>'
            )
        cells = "".join(
            f'<td class="{_cell_class(c)}">{c.render(values[c.key])}</td>' for c in present
        )
        extra = f' class="{esc(row_class(values))}"' if row_class is not None else ""
        if row_attrs is not None:
            extra += row_attrs(values)
        body.append(f"<tr{extra}>{cells}</tr>")
    note = ""
    if limit is not None and len(frame) > limit:
        note = f'<p class="oi-note">Showing the first {limit:,} of {len(frame):,} rows.</p>'
    classes = " ".join(filter(None, ["oi-table", css]))
    return (
        f'<div class="oi-scroll"><table class="{esc(classes)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}"
    )


def _cell_class(column: Column) -> str:
    return " ".join(
        filter(
            None,
            [
                f"oi-col-{column.key}",
                "oi-num" if column.numeric else "",
                "oi-extra" if column.extra else "",
                column.css,
            ],
        )
    )


def definition_list(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column key/value table; values are HTML already (escape them first)."""
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="oi-table oi-kv"><tbody>{rows}</tbody></table>'


__all__ = [
    "Column",
    "badge",
    "command_html",
    "copy_button",
    "definition_list",
    "digest_html",
    "esc",
    "missing",
    "share_bar",
    "size_html",
    "table_html",
    "text",
    "when",
]
