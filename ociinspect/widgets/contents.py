"""A file's facts and contents as HTML: text up to a cap, a hex view for binaries, a download
link. Pure: bytes in, escaped HTML out (a file's bytes are untrusted; nothing becomes markup).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from ..values.units import format_size
from .format import definition_list, esc, missing, when
from .htmlview import action_attrs, copy_button

#: Text shown at most (characters of a text file; the rest is cut with a note).
TEXT_LIMIT = 256 * 1024
#: Bytes shown in the hex view of a binary file.
HEX_LIMIT = 4096
#: Files up to this size are read whole and offered as a download link (a data: URL).
DOWNLOAD_LIMIT = 4 * 1024 * 1024
#: Bytes inspected to decide text or binary.
SNIFF = 8192


def is_text(data: bytes) -> bool:
    """UTF-8 without NUL bytes in the first :data:`SNIFF` bytes (a character cut at the
    end of the sample does not count against it)."""
    sample = data[:SNIFF]
    if b"\0" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return len(sample) == SNIFF and exc.start >= len(sample) - 3
    return True


def hexdump(data: bytes, limit: int = HEX_LIMIT) -> str:
    """``hexdump -C`` lines for the first ``limit`` bytes (text, not HTML)."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexes = (
            " ".join(f"{b:02x}" for b in chunk[:8]) + "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        )
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<49} |{shown}|")
    return "\n".join(lines)


def facts_html(row: Mapping[str, Any], links: Sequence[tuple[str, str | None]] = ()) -> str:
    """An entry's facts (path, type, size, mode, owner, time, layer); ``links`` are
    (target text, path in the listing or None): a known target is a button that selects it."""
    facts: list[tuple[str, str]] = []
    path = str(row.get("path", ""))
    kind = str(row.get("type", ""))
    shown = path + ("/" if kind == "dir" else "")
    facts.append(("path", f"<code>{esc(shown)}</code>{copy_button(path, 'path')}"))
    facts.append(("type", esc(kind)))
    if not missing(row.get("size")):
        size = int(row["size"])
        facts.append(("size", f"{esc(format_size(size))} ({size:,} bytes)"))
    for key in ("mode", "uid", "gid", "uname", "gname"):
        value = row.get(key)
        if not missing(value) and value != "":
            facts.append((key, f"<code>{esc(value)}</code>"))
    if not missing(row.get("mtime")):
        facts.append(("modified", esc(when(row["mtime"]))))
    if not missing(row.get("layer")):
        layer = int(row["layer"])
        facts.append(
            (
                "layer",
                f'<button type="button" class="oi-linkish"{action_attrs("layer", layer)}>'
                f"#{layer}</button>",
            )
        )
    for target, resolved in links:
        hard = kind == "hardlink" or not missing(row.get("hardlink_to"))
        arrow = "hard link to" if hard else "points to"
        if resolved is not None:
            cell = (
                f'<button type="button" class="oi-linkish"{action_attrs("select", resolved)}>'
                f"{esc(target)}</button>"
            )
        else:
            cell = f"<code>{esc(target)}</code> (not in this listing)"
        facts.append((arrow, cell))
    if not missing(row.get("whiteout")):
        facts.append(("whiteout", esc(f"{row['whiteout']} of {row.get('whiteout_target') or '?'}")))
    return definition_list(facts)


def contents_html(
    path: str,
    data: bytes | None,
    size: int | None,
    *,
    note: str = "",
    text_limit: int = TEXT_LIMIT,
    hex_limit: int = HEX_LIMIT,
    download_limit: int = DOWNLOAD_LIMIT,
) -> str:
    """What a file holds: text (cut at ``text_limit`` characters), else a hex view of the
    first ``hex_limit`` bytes; a download link when ``data`` is the whole file and at most
    ``download_limit`` bytes. ``data`` may be the head of a larger file (``size`` says)."""
    if data is None:
        return f'<p class="oi-note">{esc(note)}</p>' if note else ""
    total = len(data) if size is None else size
    whole = len(data) >= total
    parts = ['<div class="oi-contents">']
    name = path.rpartition("/")[2] or "file"
    if whole and total <= download_limit:
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<a class="oi-download" download="{esc(name)}" '
            f'href="data:application/octet-stream;base64,{encoded}">'
            f"Download {esc(name)} ({esc(format_size(total))})</a>"
        )
    elif not whole:
        parts.append(
            f'<span class="oi-note">Showing the first {esc(format_size(len(data)))} of '
            f"{esc(format_size(total))}; the whole file: "
            f"<code>ociinspect.read_file(ref, {esc(repr(path))})</code></span>"
        )
    if note:
        parts.append(f'<p class="oi-note">{esc(note)}</p>')
    if total == 0:
        parts.append('<p class="oi-empty">The file is empty.</p>')
    elif is_text(data):
        text = data.decode("utf-8", errors="replace")
        cut = len(text) > text_limit
        shown = text[:text_limit]
        parts.append(f'<pre class="oi-text">{esc(shown)}</pre>')
        if cut:
            parts.append(
                f'<p class="oi-note">Text cut at {text_limit:,} characters of {len(text):,}.</p>'
            )
    else:
        parts.append(f'<pre class="oi-hex">{esc(hexdump(data, hex_limit))}</pre>')
        if len(data) > hex_limit:
            parts.append(
                f'<p class="oi-note">Binary: the first {hex_limit:,} bytes of {total:,}.</p>'
            )
    parts.append("</div>")
    return "".join(parts)


__all__ = [
    "DOWNLOAD_LIMIT",
    "HEX_LIMIT",
    "SNIFF",
    "TEXT_LIMIT",
    "contents_html",
    "facts_html",
    "hexdump",
    "is_text",
]
