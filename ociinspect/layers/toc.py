"""Layers that carry their own table of contents: zstd:chunked.

containers/storage's zstd:chunked (``pkg/chunked``) writes every file's bytes as zstd frames of
their own and, near the end of the blob, the table of contents: a zstd frame of JSON
(``{"version": 1, "entries": [...]}``, one entry per tar header: ``type``, ``name``, ``mode``,
``size``, ``linkName``, ``digest`` of the file's bytes, and the compressed ``offset`` /
``endOffset`` of its frames; large files continue in ``chunk`` entries). The layer descriptor's
annotations say where it is and what it hashes to:

- ``io.github.containers.zstd-chunked.manifest-position`` (older: ``io.containers.…``, as
  skopeo 1.9 writes): ``offset:length:uncompressed length:type``;
- ``…zstd-chunked.manifest-checksum``: the sha256 of those ``length`` compressed bytes.

The manifest that carries the annotations is verified, the TOC is checked against the checksum,
and each file's bytes against the TOC's ``digest``: a read fetches the TOC once (it is then kept
in the disk cache with the layer's index) and then only the frames of the file. The layer's own
digest and diff_id are *not* checked on such reads: that needs the whole blob (a full stream, as
for any other layer, does check them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import zstandard

from ..errors import ArchiveError, DigestMismatchError, SizeLimitError
from ..values.models import Descriptor
from .contents import _normalise, _whiteout
from .layerindex import LayerIndex, Member

__all__ = ["MAX_TOC_BYTES", "ZSTD_CHUNKED", "TocLocation", "toc_location", "zstd_chunked_index"]

ZSTD_CHUNKED = "zstd:chunked"
#: Bytes of a TOC, compressed or not, read at most.
MAX_TOC_BYTES = 256 * 1024 * 1024
_PREFIXES = ("io.github.containers.zstd-chunked.", "io.containers.zstd-chunked.")
_TYPES = {
    "reg": "file",
    "dir": "dir",
    "symlink": "symlink",
    "hardlink": "hardlink",
    "char": "char",
    "block": "block",
    "fifo": "fifo",
}


class TocLocation:
    """Where a layer's TOC is (``offset``, ``length``, ``uncompressed`` bytes) and its sha256."""

    def __init__(self, offset: int, length: int, uncompressed: int, checksum: str) -> None:
        self.offset = offset
        self.length = length
        self.uncompressed = uncompressed
        self.checksum = checksum


def toc_location(desc: Descriptor) -> TocLocation | None:
    """The zstd:chunked TOC a layer descriptor announces, or None (annotations missing or not
    usable: the layer is then read as plain zstd)."""
    if desc.compression != "zstd":
        return None
    notes: Mapping[str, str] = desc.annotations
    for prefix in _PREFIXES:
        position = notes.get(prefix + "manifest-position")
        checksum = notes.get(prefix + "manifest-checksum")
        if position is None or checksum is None:
            continue
        parts = position.split(":")
        if len(parts) < 3 or not all(p.isdigit() for p in parts[:3]):
            return None
        offset, length, uncompressed = (int(p) for p in parts[:3])
        if length <= 0 or offset + length > desc.size or not checksum.startswith("sha256:"):
            return None
        return TocLocation(offset, length, uncompressed, checksum)
    return None


def zstd_chunked_index(desc: Descriptor, compressed: bytes, where: TocLocation) -> LayerIndex:
    """The index of a zstd:chunked layer from its TOC's ``compressed`` bytes (checked against
    the annotation's checksum first)."""
    what = f"zstd:chunked TOC of layer {desc.digest}"
    actual = "sha256:" + hashlib.sha256(compressed).hexdigest()
    if actual != where.checksum:
        raise DigestMismatchError(what, where.checksum, actual)
    if where.uncompressed > MAX_TOC_BYTES:
        raise SizeLimitError(what, MAX_TOC_BYTES, where.uncompressed)
    try:
        raw = zstandard.ZstdDecompressor().decompress(
            compressed, max_output_size=max(where.uncompressed, 1)
        )
        body = json.loads(raw)
    except (zstandard.ZstdError, ValueError) as exc:
        raise ArchiveError(f"{what}: not a zstd frame of JSON: {exc}") from exc
    entries = body.get("entries") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        raise ArchiveError(f"{what}: no 'entries' list")
    members = _members(entries, what)
    index = LayerIndex(str(desc.digest), "zstd", "toc", members, None, None, ZSTD_CHUNKED)
    return index


def _members(entries: list[Any], what: str) -> list[Member]:
    members: list[Member] = []
    latest: dict[str, int] = {}
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ArchiveError(f"{what}: entry {number} is not an object with a name")
        kind = entry.get("type")
        if kind == "chunk":
            if not members or members[-1].type != "file":
                raise ArchiveError(f"{what}: entry {number}: a chunk follows no regular file")
            span = _span(entry, number, what)
            last = members[-1]
            members[-1] = Member(**{**_fields(last), "spans": (*last.spans, span)})
            continue
        if kind not in _TYPES:
            raise ArchiveError(f"{what}: entry {number}: unknown type {kind!r}")
        key, _unsafe = _normalise(entry["name"])
        size = _int(entry.get("size", 0), "size", number, what)
        whiteout, target = _whiteout(key) if ".wh." in key else (None, None)
        link = entry.get("linkName")
        link_index = None
        if _TYPES[kind] == "hardlink" and isinstance(link, str):
            link = _normalise(link)[0]
            link_index = latest.get(link)
        digest = entry.get("digest")
        spans: tuple[tuple[int, int], ...] = ()
        sha256 = None
        if _TYPES[kind] == "file":
            if size:
                if not isinstance(digest, str) or not digest.startswith("sha256:"):
                    raise ArchiveError(f"{what}: entry {number} ({key}) has no sha256 digest")
                sha256 = digest.partition(":")[2]
                spans = (_span(entry, number, what),)
            else:
                sha256 = hashlib.sha256().hexdigest()
        member = Member(
            key=key,
            type=_TYPES[kind],
            size=size,
            mode=_int(entry.get("mode", 0), "mode", number, what) & 0o7777,
            link=link if isinstance(link, str) else None,
            link_index=link_index,
            whiteout=whiteout,
            target=target,
            sha256=sha256,
            spans=spans,
            devmajor=_int(entry.get("devMajor", 0), "devMajor", number, what),
            devminor=_int(entry.get("devMinor", 0), "devMinor", number, what),
        )
        if whiteout is None:
            latest[key] = len(members)
        members.append(member)
    return members


def _fields(member: Member) -> dict[str, Any]:
    return {name: getattr(member, name) for name in Member.__slots__}


def _span(entry: dict[str, Any], number: int, what: str) -> tuple[int, int]:
    start = _int(entry.get("offset"), "offset", number, what)
    end = _int(entry.get("endOffset"), "endOffset", number, what)
    if end <= start:
        raise ArchiveError(f"{what}: entry {number}: endOffset {end} is not after offset {start}")
    return start, end


def _int(value: Any, name: str, number: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ArchiveError(f"{what}: entry {number}: {name} {value!r} is not a count")
    return value
