"""Notebook HTML for ociinspect's values (their ``_repr_html_``) and IPython's short form of its
errors (``_render_traceback_``).

:func:`image_html` and :func:`index_html` draw an opened image or index; :func:`manifest_html`,
:func:`config_html`, :func:`descriptor_html`, :func:`platform_html` and
:func:`manifest_info_html` the spec's documents; :func:`table_html` every
:class:`~ociinspect.tables.Table` (short digests and human sizes while the dtypes stay exact;
sizes, modes and times never wrap; text left, numbers right; for a big table, the first rows
and :func:`grid` for all of them, filtered and sorted in the page). :func:`error_lines` is what
a notebook shows for an :class:`~ociinspect.errors.OCIInspectError`: its one line and the next
step; the full traceback is ``OCIINSPECT_DEBUG=1`` (or a session with ``debug=True``) or
``traceback.print_last()`` away.

Rendering never fetches anything: it shows what is already loaded (the manifest or index; the
config only if something fetched it before). Every value is escaped, since registries and
image authors choose annotations, tags and commands.
"""

from __future__ import annotations

import json
import numbers
import traceback
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from .values.entries import ATTESTATION

if TYPE_CHECKING:
    from .navigation import Image, ImageIndex
    from .values.models import Descriptor, ImageConfig, Manifest, ManifestInfo
    from .values.platforms import Platform
from .values import mediatypes as mt
from .values.units import format_share, format_size, short_digest

_STYLE = "border-collapse:collapse;font-size:90%"
_CELL = "padding:1px 8px;text-align:left"
#: Rows shown before "… n more".
MAX_ROWS = 20


def _digest(digest: str | None) -> str:
    """A short digest with the full one as its tooltip."""
    if not digest:
        return ""
    return f'<code title="{escape(digest)}">{escape(short_digest(digest))}</code>'


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], total: int) -> str:
    """A small HTML table; cells are already-escaped HTML."""
    head = "".join(f'<th style="{_CELL}">{escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in row) + "</tr>"
        for row in rows
    )
    more = ""
    if total > MAX_ROWS:
        more = f"<tr><td colspan={len(header)}>… {total - MAX_ROWS} more</td></tr>"
    return f'<table style="{_STYLE}"><tr>{head}</tr>{body}{more}</table>'


def image_html(img: Image) -> str:
    """Reference, digest, platform, size and the layers of one image."""
    config = img.__dict__.get("config")  # only if already fetched: no I/O in a repr
    platform = None
    if img.descriptor is not None and img.descriptor.platform is not None:
        platform = str(img.descriptor.platform)
    elif config is not None:
        platform = str(config.platform)
    steps = img.history() if config is not None else [None] * len(img.layers)
    facts = [
        f"digest {_digest(img.digest)}",
        f"platform {escape(platform)}" if platform else None,
        f"{len(img.layers)} layers",
        f"{escape(format_size(sum(d.size for d in img.layers)))} compressed layers, "
        f"{escape(format_size(img.size))} stored",
    ]
    rows = [
        (
            str(position),
            escape(format_size(desc.size)),
            escape(desc.compression or desc.media_type),
            _digest(desc.digest),
            escape((step.created_by or "") if step is not None else ""),
        )
        for position, (desc, step) in enumerate(zip(img.layers, steps, strict=False))
    ][:MAX_ROWS]
    selection = f"<br><small>{escape(img.selection)}</small>" if img.selection else ""
    return (
        f"<div><b>Image</b> <code>{escape(img.reference)}</code><br>"
        + " · ".join(f for f in facts if f)
        + selection
        + _table(("layer", "size", "compression", "digest", "created by"), rows, len(img.layers))
        + "</div>"
    )


def index_html(idx: ImageIndex) -> str:
    """Reference, digest and the entries of an index (platform, kind, digest, size)."""
    entries = idx.entries
    kinds = [e.kind for e in entries]
    facts = [
        f"digest {_digest(idx.digest)}",
        "Docker manifest list" if idx.index.media_type == mt.DOCKER_MANIFEST_LIST else "OCI index",
        f"{kinds.count('image')} images",
        f"{kinds.count(ATTESTATION)} attestations" if ATTESTATION in kinds else None,
    ]
    rows = [
        (
            str(e.position),
            escape(e.platform_string if e.platform is not None else "(no platform)"),
            escape(e.kind),
            _digest(e.descriptor.digest),
            escape(format_size(e.descriptor.size)),
            f"describes {_digest(e.describes)}" if e.kind == ATTESTATION else "",
        )
        for e in entries[:MAX_ROWS]
    ]
    return (
        f"<div><b>Image index</b> <code>{escape(idx.reference)}</code><br>"
        + " · ".join(f for f in facts if f)
        + _table(("#", "platform", "kind", "digest", "manifest", ""), rows, len(entries))
        + "</div>"
    )


# -- the spec's documents ------------------------------------------------------------------------

_NOWRAP = "white-space:nowrap"
_RIGHT = "text-align:right;white-space:nowrap"
_LEFT = "text-align:left"
#: Bytes of a raw document shown by :func:`manifest_info_html`.
MAX_RAW_SHOWN = 4096


def _dl(title: str, facts: Iterable[tuple[str, str | None]]) -> str:
    """A titled two-column table of facts (values are HTML, escaped by the caller)."""
    rows = "".join(
        f'<tr><th style="{_LEFT};padding:1px 8px;font-weight:500">{escape(k)}</th>'
        f'<td style="{_LEFT};padding:1px 8px">{v}</td></tr>'
        for k, v in facts
        if v not in (None, "")
    )
    return f'<div><b>{escape(title)}</b><table style="{_STYLE}">{rows}</table></div>'


def _size(size: int | None) -> str:
    if size is None:
        return ""
    return f'<span style="{_NOWRAP}" title="{size:,} bytes">{escape(format_size(size))}</span>'


def _pairs(mapping: Mapping[str, str], limit: int = MAX_ROWS) -> str:
    items = list(mapping.items())
    shown = "<br>".join(
        f"<code>{escape(k)}</code> = {escape(str(v))}" for k, v in items[:limit]
    )
    more = f"<br>… {len(items) - limit} more" if len(items) > limit else ""
    return shown + more


def platform_html(platform: Platform) -> str:
    """``linux/arm64/v8`` in code, with ``os.version`` and features when set."""
    extra = []
    if platform.os_version:
        extra.append(f"os.version {escape(platform.os_version)}")
    if platform.os_features:
        extra.append(f"os.features {escape(', '.join(platform.os_features))}")
    if platform.features:
        extra.append(f"features {escape(', '.join(platform.features))}")
    tail = f" <small>({'; '.join(extra)})</small>" if extra else ""
    return f"<code>{escape(str(platform))}</code>{tail}"


def descriptor_html(desc: Descriptor) -> str:
    """A descriptor's media type, digest, size, platform, artifact type and annotations."""
    return _dl(
        "Descriptor",
        [
            ("media type", f"<code>{escape(desc.media_type)}</code>"),
            ("digest", f"<code>{escape(desc.digest)}</code>"),
            ("size", _size(desc.size)),
            ("platform", platform_html(desc.platform) if desc.platform is not None else None),
            ("artifact type", escape(desc.artifact_type) if desc.artifact_type else None),
            ("urls", "<br>".join(escape(u) for u in desc.urls) or None),
            ("annotations", _pairs(desc.annotations) or None),
        ],
    )


def manifest_html(manifest: Manifest) -> str:
    """A manifest: media type, digest, config, each layer, subject and annotations."""
    rows = [
        (
            str(position),
            escape(desc.compression or desc.media_type),
            _size(desc.size),
            _digest(desc.digest),
        )
        for position, desc in enumerate(manifest.layers[:MAX_ROWS])
    ]
    facts = _dl(
        "Manifest",
        [
            ("media type", f"<code>{escape(manifest.media_type)}</code>"),
            ("digest", f"<code>{escape(manifest.digest)}</code>"),
            ("artifact type", escape(manifest.artifact_type) if manifest.artifact_type else None),
            ("config", f"{_digest(manifest.config.digest)} {_size(manifest.config.size)} "
                       f"<code>{escape(manifest.config.media_type)}</code>"),
            ("layers", f"{len(manifest.layers)} ({_size(sum(d.size for d in manifest.layers))})"),
            ("subject", _digest(manifest.subject.digest) if manifest.subject else None),
            ("annotations", _pairs(manifest.annotations) or None),
        ],
    )
    return facts + _table(("layer", "compression", "size", "digest"), rows, len(manifest.layers))


def config_html(config: ImageConfig) -> str:
    """An image config: platform, created, entrypoint and command, user, environment, labels,
    history and diff_ids counted."""

    def words(values: Sequence[str] | None) -> str | None:
        return None if values is None else f"<code>{escape(json.dumps(list(values)))}</code>"

    env = "<br>".join(f"<code>{escape(e)}</code>" for e in config.env[:MAX_ROWS])
    if len(config.env) > MAX_ROWS:
        env += f"<br>… {len(config.env) - MAX_ROWS} more"
    platform = "/".join(p for p in (config.os, config.architecture, config.variant) if p)
    return _dl(
        "Image config",
        [
            ("digest", f"<code>{escape(config.digest)}</code>"),
            ("platform", f"<code>{escape(platform)}</code>"),
            ("created", escape(config.created) if config.created else None),
            ("author", escape(config.author) if config.author else None),
            ("entrypoint", words(config.entrypoint)),
            ("cmd", words(config.cmd)),
            ("user", escape(config.user) if config.user else None),
            ("working dir", escape(config.working_dir) if config.working_dir else None),
            ("exposed ports", escape(", ".join(config.exposed_ports)) or None),
            ("environment", env or None),
            ("labels", _pairs(config.labels) or None),
            ("history", f"{len(config.history)} steps"),
            ("diff_ids", f"{len(config.diff_ids)} layers"),
        ],
    )


def manifest_info_html(info: ManifestInfo) -> str:
    """A fetched document: media type, digest, size, and its first bytes as served."""
    text = info.raw[:MAX_RAW_SHOWN].decode("utf-8", errors="replace")
    more = (
        f"<br><small>first {MAX_RAW_SHOWN:,} of {len(info.raw):,} bytes</small>"
        if len(info.raw) > MAX_RAW_SHOWN
        else ""
    )
    return _dl(
        "Document as served",
        [
            ("media type", f"<code>{escape(info.media_type or '?')}</code>"),
            ("digest", f"<code>{escape(info.digest)}</code>"),
            ("size", _size(len(info.raw))),
        ],
    ) + f'<pre style="max-height:24em;overflow:auto">{escape(text)}</pre>{more}'


# -- errors --------------------------------------------------------------------------------------


def _advice(exc: BaseException) -> tuple[str, str, list[str]]:
    """(headline, message, next steps) for ``exc``, without any request."""
    try:
        from .widgets.advice import explain
    except ImportError:  # widgets' packages not installed: the message alone
        return type(exc).__name__, str(exc), []
    advice = explain(exc, "", None)
    steps = advice.steps + advice.commands
    hint = getattr(exc, "hint", None)
    if hint and hint not in steps:
        steps.append(str(hint))
    return advice.title, str(exc), steps


def _debug() -> bool:
    try:
        from .session import default_session

        return bool(default_session().settings.debug)
    except Exception:  # a broken environment must not hide the error itself
        return False


def error_lines(exc: BaseException) -> list[str]:
    """IPython's traceback for ``exc``: ``Kind: message`` and the next step, or the whole
    traceback when the session's ``debug`` setting is on (``OCIINSPECT_DEBUG=1``)."""
    if _debug():
        return traceback.format_exception(type(exc), exc, exc.__traceback__)
    title, message, steps = _advice(exc)
    red, bold, reset = "\x1b[31m", "\x1b[1m", "\x1b[0m"
    lines = [f"{red}{bold}{type(exc).__name__}{reset}: {message}"]
    lines += [f"  {title}: {step}" if i == 0 else f"  {step}" for i, step in enumerate(steps)]
    lines.append(
        "  (full traceback: import traceback; traceback.print_last()  ·  or set "
        "OCIINSPECT_DEBUG=1 before starting the kernel)"
    )
    return lines


def error_html(exc: BaseException) -> str:
    """An error shown as a value: its kind, message and next steps."""
    title, message, steps = _advice(exc)
    items = "".join(f"<li>{escape(step)}</li>" for step in steps)
    return (
        f'<div role="alert"><b>{escape(type(exc).__name__)}</b> ({escape(title)}): '
        f"{escape(message)}" + (f"<ul>{items}</ul>" if items else "") + "</div>"
    )


# -- tables --------------------------------------------------------------------------------------

#: Columns whose values are never wrapped (besides sizes, numbers and times).
NOWRAP_COLUMNS = frozenset({"mode", "mode_octal", "platform", "digest", "diff_id"})
#: Rows a table shows inline when pandas' ``display.max_rows`` is unset.
INLINE_ROWS = 60


def _looks_like_digest(series: pd.Series) -> bool:
    sample = series.dropna().head(20).astype(str)
    return bool(len(sample)) and bool(sample.str.fullmatch(r"[a-z0-9]+:[0-9a-f]{32,}").all())


def table_html(table: pd.DataFrame, limit: int | None = None) -> str:
    """A :class:`~ociinspect.tables.Table` (or any DataFrame) for a notebook: short digests
    with the full one in a tooltip, human sizes and shares with exact bytes in a tooltip,
    times in UTC; sizes, numbers, modes and times never wrap; text left, numbers right; every
    cell escaped. Over ``limit`` rows (pandas' ``display.max_rows``), the first rows and how
    to see every row (:func:`grid`)."""
    from .tables.frame import DIGEST_COLUMNS

    if limit is None:
        limit = pd.get_option("display.max_rows") or INLINE_ROWS
    sizes = set(getattr(table, "size_columns", ()))
    shares = set(getattr(table, "share_columns", ()))
    shown = table.head(limit)
    renderers = []
    for name in table.columns:
        series = table[name]
        key = str(name)
        if key in sizes:
            renderers.append((key, _RIGHT, lambda v: _size(int(v))))
        elif key in shares:
            renderers.append((key, _RIGHT, lambda v: escape(format_share(v))))
        elif _is_text(series) and (key in DIGEST_COLUMNS or _looks_like_digest(series)):
            renderers.append((key, _NOWRAP, _digest))
        elif pd.api.types.is_bool_dtype(series.dtype):
            renderers.append((key, _LEFT, lambda v: escape(str(bool(v)).lower())))
        elif pd.api.types.is_numeric_dtype(series.dtype):
            renderers.append((key, _RIGHT, _number))
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            renderers.append((key, _NOWRAP, _time))
        else:
            style = _NOWRAP if key in NOWRAP_COLUMNS else _LEFT
            renderers.append((key, f"{style};text-align:left", _text))
    head = "".join(
        f'<th style="{style if style == _RIGHT else _LEFT}">{escape(key)}</th>'
        for key, style, _ in renderers
    )
    body = []
    for row in shown.itertuples(index=False, name=None):
        cells = "".join(
            f'<td style="{style}">{"" if _missing(v) else render(v)}</td>'
            for (_, style, render), v in zip(renderers, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    rows, columns = table.shape
    note = f"{rows:,} rows × {columns} columns"
    if rows > len(shown):
        note = (
            f"first {len(shown):,} of {note}; every row, filtered and sorted in the page: "
            "<code>ociinspect.display.grid(table)</code>"
        )
    if table.attrs.get("note"):  # e.g. sizes estimated for some layers only
        note += f"; {escape(str(table.attrs['note']))}"
    return (
        f'<table style="border-collapse:collapse"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table><p><small>{note}</small></p>"
    )


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or str(series.dtype) == "string"


def _number(value: Any) -> str:
    if isinstance(value, numbers.Integral):
        return escape(f"{int(value):,}")
    return escape(str(value))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return escape(str(value))


def _time(value: Any) -> str:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return escape(stamp.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if stamp.tzinfo else ""))


def grid(table: pd.DataFrame, path_column: str | None = None) -> Any:
    """Every row of ``table`` in a :class:`~ociinspect.widgets.grid.FileGrid` (virtual
    scrolling; sort by any column, filter by ``path_column``: default ``path``, else the
    first text column)."""
    from .widgets.grid import FileGrid

    column = path_column
    if column is None:
        texts = [
            str(c) for c in table.columns
            if table[c].dtype == object or str(table[c].dtype) in ("string", "category")
        ]
        first = texts[0] if texts else str(table.columns[0])
        column = "path" if "path" in table.columns else first
    frame = pd.DataFrame(table)
    if str(frame[column].dtype) != "string":
        frame = frame.assign(**{column: frame[column].astype("string")})
    sizes = tuple(getattr(table, "size_columns", ()))
    return FileGrid(frame, path_column=column, columns_first=(column,), size_columns=sizes)


__all__ = [
    "MAX_ROWS",
    "config_html",
    "descriptor_html",
    "error_html",
    "error_lines",
    "grid",
    "image_html",
    "index_html",
    "manifest_html",
    "manifest_info_html",
    "platform_html",
    "table_html",
]
