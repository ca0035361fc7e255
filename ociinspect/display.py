"""Short notebook HTML for an :class:`~ociinspect.navigation.Image` or
:class:`~ociinspect.navigation.ImageIndex` (their ``_repr_html_``).

Rendering never fetches anything: it shows what is already loaded (the manifest or index; the
config only if something fetched it before). Every value is escaped, since registries and
image authors choose annotations, tags and commands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

from .values.entries import ATTESTATION

if TYPE_CHECKING:
    from .navigation import Image, ImageIndex
from .values import mediatypes as mt
from .values.units import format_size, short_digest

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
        f"{escape(format_size(img.size))} compressed",
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
            escape(e.platform_string),
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


__all__ = ["MAX_ROWS", "image_html", "index_html"]
