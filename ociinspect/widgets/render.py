"""HTML for each part of the image browser, from the table API's DataFrames. Pure, no widgets.

Each function takes what :mod:`ociinspect.api` returns (documented columns; a column that is
missing is simply not shown) and returns escaped HTML for an ``ipywidgets.HTML``. Tests call
these directly; :mod:`ociinspect.widgets.browser` only places their output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .format import (
    Column,
    badge,
    command_html,
    copy_button,
    definition_list,
    digest_html,
    esc,
    missing,
    share_bar,
    size_html,
    table_html,
    text,
    when,
)
from .htmlview import action_attrs

#: Rows of a file listing drawn at once (a layer can hold 100,000 entries).
FILES_LIMIT = 1000

_KIND_BADGES = {"attestation": "attestation", "index": "index", "artifact": "artifact"}
_HEX_RUN = re.compile(r"([0-9a-f]{12})[0-9a-f]{20,}")


def _int(value: object) -> str:
    return "" if missing(value) else f"{int(value):,}"  # type: ignore[call-overload]


def _media(value: object) -> str:
    """A media type shortened for a table cell; the full type in the tooltip."""
    if missing(value):
        return ""
    full = str(value)
    short = full.removeprefix("application/vnd.").removesuffix("+json")
    return f'<span class="oi-media" title="{esc(full)}">{esc(short)}</span>'


def _code(value: object) -> str:
    return "" if missing(value) else f"<code>{esc(value)}</code>"


def platforms_html(frame: pd.DataFrame, selected: str | None = None) -> str:
    """An index's entries; attestations are badged, dimmed and say which image they describe."""
    if frame is None or len(frame) == 0:
        return '<p class="oi-empty">The index lists no manifests.</p>'
    by_digest = {
        str(d): str(p)
        for d, p, k in zip(frame["digest"], frame["platform"], frame["kind"], strict=True)
        if k == "image"
    }
    shown = frame.copy()
    describes = shown["describes"] if "describes" in shown else [None] * len(shown)
    shown["entry"] = [
        _entry_cell(kind, target, by_digest)
        for kind, target in zip(shown["kind"], describes, strict=True)
    ]

    def row_class(row: Mapping[str, Any]) -> str:
        classes = [f"oi-row-{row['kind']}"]
        if row["kind"] == "image":
            classes.append("oi-clickable")
            if selected is not None and row["platform"] == selected:
                classes.append("oi-row-selected")
        return " ".join(classes)

    def row_attrs(row: Mapping[str, Any]) -> str:
        if row["kind"] != "image" or missing(row["platform"]):
            return ""
        return action_attrs("platform", row["platform"]) + f' title="Show {esc(row["platform"])}"'

    columns = [
        Column("position", "#", _int, numeric=True),
        Column("platform", "platform", _code),
        Column("entry", "kind", lambda v: v),
        Column("layers", "layers", _int, numeric=True),
        Column("compressed_size", "layers (compressed)", size_html, numeric=True),
        Column("created", "created", when, extra=True),
        Column("digest", "manifest digest", digest_html),
        Column("media_type", "media type", _media, extra=True),
        Column("manifest_size", "manifest", size_html, numeric=True, extra=True),
        Column("error", "error", lambda v: text(v, 80), css="oi-error-cell"),
    ]
    if "error" in shown and shown["error"].isna().all():
        shown = shown.drop(columns="error")
    return table_html(
        shown, columns, css="oi-platforms", row_class=row_class, row_attrs=row_attrs
    )


def _entry_cell(kind: object, target: object, by_digest: Mapping[str, str]) -> str:
    kind = str(kind)
    if kind == "image":
        return esc("image")
    cell = badge(kind, _KIND_BADGES.get(kind, "other"))
    if kind == "attestation" and not missing(target):
        described = by_digest.get(str(target))
        what = f"for {described}" if described else f"for {str(target)[:19]}…"
        cell += f' <span class="oi-describes" title="{esc(target)}">{esc(what)}</span>'
    return cell


def layers_html(frame: pd.DataFrame) -> str:
    """Layers with their compressed size, a bar for each one's share, and the step behind it."""
    columns = [
        Column("position", "#", _int, numeric=True),
        Column("digest", "digest", digest_html),
        Column("compression", "compression", text, extra=True),
        Column("compressed_size", "compressed", size_html, numeric=True),
        Column("share", "share of total", share_bar, css="oi-col-bar"),
        Column("created_by", "created by", lambda v: command_html(v, 90), css="oi-command"),
        Column("created", "created", when, extra=True),
    ]

    def row_attrs(row: Mapping[str, Any]) -> str:
        if missing(row.get("position")):
            return ""
        position = int(row["position"])
        return action_attrs("layer", position) + f' title="List layer {position} in Files"'

    body = table_html(
        frame,
        columns,
        css="oi-layers",
        row_class=lambda _row: "oi-clickable",
        row_attrs=row_attrs,
        empty="This image has no layers.",
    )
    if frame is None or len(frame) == 0:
        return body
    total = int(frame["compressed_size"].sum())
    return (
        f'<div class="oi-summary">{len(frame)} layer{"s" * (len(frame) != 1)}, '
        f"{size_html(total)} compressed</div>{body}"
    )


def history_html(frame: pd.DataFrame) -> str:
    """Build steps; steps that made no layer are marked, the others name their layer."""

    def layer_cell(value: object) -> str:
        return badge("no layer", "empty") if missing(value) else f"#{int(value)}"  # type: ignore[call-overload]

    columns = [
        Column("step", "step", _int, numeric=True),
        Column("layer", "layer", layer_cell, numeric=True),
        Column("compressed_size", "compressed", size_html, numeric=True),
        Column("created_by", "created by", lambda v: command_html(v, 120), css="oi-command"),
        Column("created", "created", when, extra=True),
        Column("comment", "comment", lambda v: text(v, 40), extra=True),
        Column("author", "author", lambda v: text(v, 40), extra=True),
    ]

    def row_attrs(row: Mapping[str, Any]) -> str:
        if missing(row.get("layer")):
            return ""
        return action_attrs("layer", int(row["layer"])) + ' title="List this layer in Files"'

    def row_class(row: Mapping[str, Any]) -> str:
        return "" if missing(row.get("layer")) else "oi-clickable"

    return table_html(
        frame,
        columns,
        css="oi-history",
        row_class=row_class,
        row_attrs=row_attrs,
        empty="The config records no history.",
    )


def _value(value: object) -> str:
    """A config value: lists and mappings as compact JSON, times as times, the rest as text."""
    if isinstance(value, (list, tuple)):
        return _code(json.dumps(list(value), ensure_ascii=False))
    if isinstance(value, Mapping):
        return _code(json.dumps(dict(value), ensure_ascii=False, sort_keys=True))
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _value(value.tolist())
    if missing(value):
        return '<span class="oi-none">–</span>'
    if isinstance(value, pd.Timestamp):
        return esc(when(value))
    return esc(value)


_JSON_FIELDS = frozenset(
    {"entrypoint", "cmd", "exposed_ports", "volumes", "shell", "on_build", "healthcheck",
     "os_features", "other_fields"}
)


def _config_value(key: str, value: object) -> str:
    if missing(value):
        return '<span class="oi-none">–</span>'
    if key.endswith("_size"):
        return size_html(value)
    if key.endswith("digest") or key in _JSON_FIELDS:
        return _code(value)
    return _value(value)


def config_html(summary: pd.DataFrame, env: pd.DataFrame, labels: pd.DataFrame) -> str:
    """The config summary (one row, shown as fields), then environment and labels tables."""
    parts = ['<div class="oi-h">Summary</div>']
    if summary is not None and len(summary):
        row = summary.iloc[0].to_dict()
        parts.append(definition_list((str(k), _config_value(str(k), v)) for k, v in row.items()))
    else:
        parts.append('<p class="oi-empty">No config.</p>')
    kv = [Column("key", "name", _code), Column("value", "value", lambda v: text(v, 160))]
    parts.append(f'<div class="oi-h">Environment ({0 if env is None else len(env)})</div>')
    parts.append(table_html(env, kv, css="oi-env", empty="No environment variables."))
    parts.append(f'<div class="oi-h">Labels ({0 if labels is None else len(labels)})</div>')
    parts.append(table_html(labels, kv, css="oi-labels", empty="No labels."))
    return "".join(parts)


def _type_cell(value: object) -> str:
    return (
        "" if missing(value) else f'<span class="oi-type oi-type-{esc(value)}">{esc(value)}</span>'
    )


def _link_cell(value: object) -> str:
    return "" if missing(value) else f"→ {_code(value)}"


def files_html(frame: pd.DataFrame, limit: int = FILES_LIMIT) -> str:
    """One layer's tar entries in archive order; whiteouts are badged."""

    def whiteout(value: object) -> str:
        return "" if missing(value) else badge(f"whiteout ({value})", "whiteout")

    columns = [
        Column("mode", "mode", _code),
        Column("uid", "uid", _int, numeric=True),
        Column("gid", "gid", _int, numeric=True),
        Column("size", "size", size_html, numeric=True),
        Column("mtime", "modified", when),
        Column("path", "path", _code, css="oi-path"),
        Column("link_target", "target", _link_cell),
        Column("whiteout", "", whiteout),
    ]
    return _listing(frame, columns, limit, "entries", "oi-files")


def filesystem_html(frame: pd.DataFrame, limit: int = FILES_LIMIT) -> str:
    """The merged filesystem: each path once, with the layer it comes from."""
    columns = [
        Column("mode", "mode", _code),
        Column("size", "size", size_html, numeric=True),
        Column("layer", "layer", lambda v: "" if missing(v) else f"#{int(v)}", numeric=True),  # type: ignore[call-overload]
        Column("path", "path", _code, css="oi-path"),
        Column("link_target", "target", _link_cell),
    ]
    return _listing(frame, columns, limit, "paths", "oi-filesystem")


def _listing(
    frame: pd.DataFrame, columns: Sequence[Column], limit: int, noun: str, css: str
) -> str:
    if frame is None or len(frame) == 0:
        return f'<p class="oi-empty">No {noun}.</p>'
    total = int(frame["size"].sum()) if "size" in frame else 0
    head = f'<div class="oi-summary">{len(frame):,} {noun}, {size_html(total)} of file data</div>'
    return head + table_html(frame, columns, css=css, limit=limit)


def _url_cell(value: object) -> str:
    if missing(value):
        return ""
    url = str(value)
    shown = _HEX_RUN.sub(r"\1…", url.split("://", 1)[-1])
    return f'<code class="oi-url" title="{esc(url)}">{esc(shown)}</code>'


def _status_cell(value: object) -> str:
    if missing(value):
        return badge("no answer", "error")
    status = int(value)  # type: ignore[call-overload]
    kind = "ok" if status < 300 else "redirect" if status < 400 else "error"
    return badge(str(status), kind)


def trace_html(frame: pd.DataFrame, source: str | None = None) -> str:
    """HTTP exchanges (``tables.trace_frame`` columns), under a heading per ``action`` when
    that column is there. ``source`` names a local source, which makes no requests."""
    if frame is None or len(frame) == 0:
        why = (
            f"{source} is read from local files: no HTTP requests."
            if source
            else "No HTTP requests yet."
        )
        return f'<p class="oi-empty">{esc(why)}</p>'
    tokens = int((frame["purpose"] == "token").sum())
    nbytes = int(frame["bytes"].fillna(0).sum())
    token_note = (
        f"{tokens} token request{'s' * (tokens != 1)}"
        if tokens
        else "no token request (a token from the shared session was reused, or none needed)"
    )
    summary = (
        f'<div class="oi-summary">{len(frame)} request{"s" * (len(frame) != 1)}, '
        f"{esc(token_note)}, {size_html(nbytes)} received{_span(frame)}. "
        "Credentials and signed URL parameters are redacted.</div>"
    ) + _pulls_html(frame)
    columns = [
        Column("method", "method", text),
        Column("purpose", "purpose", text),
        Column("status", "status", _status_cell),
        Column("url", "URL", _url_cell, css="oi-path"),
        Column("bytes", "bytes", size_html, numeric=True),
        Column("elapsed_ms", "ms", _millis, numeric=True),
        Column("error", "error", text),
        Column("curl", "curl", _curl_cell),
    ]
    if "error" in frame and frame["error"].isna().all():
        frame = frame.drop(columns="error")
    group = "action" if "action" in frame else None
    return summary + table_html(frame, columns, css="oi-http", group=group)


def _curl_cell(value: object) -> str:
    """The exchange's ``curl`` line as a copy button (the line in its tooltip); none where
    curl makes the request by itself (a challenge, a redirect hop) or cannot repeat it."""
    if missing(value) or not value:
        return ""
    return copy_button(str(value), f"curl: {value}")


def _millis(value: object) -> str:
    return "" if missing(value) else f"{float(value):,.1f}"  # type: ignore[arg-type]


def _span(frame: pd.DataFrame) -> str:
    """Wall-clock time from the first request's start to the last one's end (they overlap)."""
    if "started" not in frame or "elapsed_ms" not in frame or frame["started"].isna().all():
        return ""
    ends = frame["started"] + pd.to_timedelta(frame["elapsed_ms"].fillna(0), unit="ms")
    seconds = (ends.max() - frame["started"].min()).total_seconds()
    return f" over {seconds:.2f} s"


def _pulls_html(frame: pd.DataFrame) -> str:
    """Pulls spent (manifest GETs: Docker Hub counts each, a HEAD is free) and, when the registry
    announced its limit, the pulls left after the last of these requests."""
    if "pull" not in frame:
        return ""
    pulls = int(frame["pull"].fillna(False).astype(bool).sum())
    text_ = f"{pulls} pull{'s' * (pulls != 1)} (manifest GETs)"
    if "ratelimit_remaining" in frame and frame["ratelimit_remaining"].notna().any():
        said = frame[frame["ratelimit_remaining"].notna()]
        last = said.iloc[int(said["ratelimit_remaining"].astype("int64").to_numpy().argmin())]
        left = f"{int(last['ratelimit_remaining'])}"
        if "ratelimit_limit" in frame and not pd.isna(last["ratelimit_limit"]):
            left += f" of {int(last['ratelimit_limit'])}"
        left += " pulls left"
        window = last.get("ratelimit_window")
        if window is not None and not pd.isna(window):
            hours = int(window) / 3600
            left += f" (per {hours:g} h)" if hours >= 1 else f" (per {int(window)} s)"
        host = str(last["url"]).split("://", 1)[-1].split("/", 1)[0]
        text_ += f"; {left} at {host} after this load"
    else:
        text_ += "; the registry announced no pull limit"
    return f'<div class="oi-summary oi-pulls">{esc(text_)}.</div>'


def json_html(value: Any, indent: int = 0) -> str:
    """Pretty JSON with spans for keys, strings, numbers and literals (all text escaped)."""
    pad = "  " * (indent + 1)
    end = "  " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f'{pad}<span class="oi-j-key">{esc(json.dumps(k, ensure_ascii=False))}</span>: '
            f"{json_html(v, indent + 1)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(pad + json_html(v, indent + 1) for v in value) + f"\n{end}]"
    if isinstance(value, str):
        css = "oi-j-digest" if re.fullmatch(r"[a-z0-9]+:[0-9a-f]{32,}", value) else "oi-j-str"
        return f'<span class="{css}">{esc(json.dumps(value, ensure_ascii=False))}</span>'
    if isinstance(value, bool) or value is None:
        return f'<span class="oi-j-lit">{esc(json.dumps(value))}</span>'
    return f'<span class="oi-j-num">{esc(json.dumps(value))}</span>'


def document_html(
    title: str, media_type: str | None, digest: str | None, raw: bytes | None, note: str = ""
) -> str:
    """A raw document: its media type, digest and size, then its JSON as served."""
    facts = [("media type", _code(media_type) if media_type else "–")]
    facts.append(("digest", _code(digest) if digest else "–"))
    if raw is not None:
        facts.append(("size", f"{len(raw):,} bytes"))
    head = f'<div class="oi-h">{esc(title)}</div>{definition_list(facts)}'
    if note:
        head += f'<p class="oi-note">{esc(note)}</p>'
    if raw is None:
        return head
    try:
        body = json_html(json.loads(raw))
    except (ValueError, UnicodeDecodeError):
        body = esc(raw.decode("utf-8", errors="replace"))
    return f'{head}<pre class="oi-json">{body}</pre>'


def status_html(status: str, message: str = "") -> str:
    """The status line: a spinner while loading, else a short message."""
    spinner = '<span class="oi-spinner" aria-hidden="true"></span>' if status == "loading" else ""
    shown = esc(message)
    return f'<span class="oi-status-{esc(status)}" title="{shown}">{spinner}{shown}</span>'


def error_html(title: str, message: str) -> str:
    """A failure, said plainly inside the widget."""
    return (
        f'<div class="oi-error-box" role="alert"><b>{esc(title)}</b>'
        f'<div class="oi-error-message">{esc(message)}</div></div>'
    )


def header_html(facts: Sequence[tuple[str, str]]) -> str:
    """The line above the tabs: what is loaded (values are HTML, escaped by the caller)."""
    items = "".join(
        f'<span class="oi-fact"><span class="oi-fact-key">{esc(k)}</span> {v}</span>'
        for k, v in facts
    )
    return f'<div class="oi-facts">{items}</div>'


__all__ = [
    "FILES_LIMIT",
    "config_html",
    "document_html",
    "error_html",
    "files_html",
    "filesystem_html",
    "header_html",
    "history_html",
    "json_html",
    "layers_html",
    "platforms_html",
    "status_html",
    "trace_html",
]
