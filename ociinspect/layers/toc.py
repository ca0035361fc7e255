"""Layers that carry their own table of contents: zstd:chunked and eStargz.

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

eStargz (containerd/stargz-snapshotter ``docs/estargz.md``) is a gzip layer whose regular
files (and chunks of large ones) each start a gzip member of their own, followed by the TOC and a
footer:

- the footer is the last 51 bytes: an empty gzip member whose Extra field (``SI1 SI2 = "SG"``,
  ``LEN`` 22) holds ``"%016xSTARGZ" % offset_of_TOC``;
- the TOC is one gzip member from that offset to the footer, holding a tar whose only entry is
  ``stargz.index.json``: ``{"version": 1, "entries": [...]}`` with ``offset`` (where the gzip
  member of a file's payload or chunk starts), ``chunkOffset`` / ``chunkSize`` (``0`` for a
  file's last chunk) and ``innerOffset`` (payload start inside that member, ``ctr-remote
  --estargz-min-chunk-size``); ``digest`` is the sha256 of a file's bytes;
- the descriptor's ``containerd.io/snapshot/stargz/toc.digest`` is the sha256 of the TOC's JSON.

A layer without that annotation cannot have its TOC checked, so it is read like any gzip layer.
The TOC's own tar entry, ``stargz.index.json``, is a file of the layer to every extension-agnostic
runtime (it is extracted with the rest), so the index keeps it as a member too: an index built
from the TOC holds exactly the members that a pass over the whole layer finds.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import tarfile
import zlib
from collections.abc import Callable, Mapping
from typing import Any

import zstandard

from ..errors import ArchiveError, DigestMismatchError, SizeLimitError
from ..values.models import Descriptor
from .contents import _normalise, _whiteout
from .layerindex import LayerIndex, Member

__all__ = [
    "ESTARGZ",
    "ESTARGZ_FOOTER",
    "ESTARGZ_TOC_DIGEST",
    "MAX_TOC_BYTES",
    "ZSTD_CHUNKED",
    "TocLocation",
    "estargz_index",
    "estargz_toc_digest",
    "estargz_toc_offset",
    "toc_format",
    "toc_location",
    "zstd_chunked_index",
]

ZSTD_CHUNKED = "zstd:chunked"
ESTARGZ = "estargz"
#: The descriptor annotation that names the sha256 of an eStargz layer's TOC JSON.
ESTARGZ_TOC_DIGEST = "containerd.io/snapshot/stargz/toc.digest"
#: Bytes of an eStargz footer (docs/estargz.md "Footer").
ESTARGZ_FOOTER = 51
_ESTARGZ_NAME = "stargz.index.json"
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


def toc_format(desc: Descriptor) -> str | None:
    """:data:`ZSTD_CHUNKED` or :data:`ESTARGZ` when the descriptor announces a table of contents
    that can be checked (its annotations), else None."""
    if toc_location(desc) is not None:
        return ZSTD_CHUNKED
    if estargz_toc_digest(desc) is not None:
        return ESTARGZ
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
    members = _members(entries, what, lambda entry, number: _span(entry, number, what))
    index = LayerIndex(str(desc.digest), "zstd", "toc", members, None, None, ZSTD_CHUNKED)
    return index


def estargz_toc_digest(desc: Descriptor) -> str | None:
    """The sha256 an eStargz layer descriptor gives for its TOC, or None (not eStargz, or not
    checkable: the layer is then read like any gzip layer)."""
    if desc.compression != "gzip" or desc.size <= ESTARGZ_FOOTER:
        return None
    digest = desc.annotations.get(ESTARGZ_TOC_DIGEST)
    if not isinstance(digest, str) or not digest.startswith("sha256:"):
        return None
    hexpart = digest.partition(":")[2]
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        return None
    return digest


def estargz_toc_offset(footer: bytes, blob_size: int, what: str) -> int:
    """Where the TOC starts, from the last :data:`ESTARGZ_FOOTER` bytes of a blob of
    ``blob_size`` bytes (the footer is an empty gzip member with an ``SG`` Extra subfield)."""
    if (
        len(footer) != ESTARGZ_FOOTER
        or footer[:4] != b"\x1f\x8b\x08\x04"
        or footer[10:16] != b"\x1a\x00SG\x16\x00"
        or footer[32:38] != b"STARGZ"
    ):
        raise ArchiveError(f"{what}: the last {ESTARGZ_FOOTER} bytes are not an eStargz footer")
    digits = footer[16:32]
    if any(c not in b"0123456789abcdef" for c in digits):
        raise ArchiveError(f"{what}: the eStargz footer's TOC offset {digits!r} is not hex")
    offset = int(digits, 16)
    if offset >= blob_size - ESTARGZ_FOOTER:
        raise ArchiveError(
            f"{what}: the eStargz footer puts the TOC at byte {offset}, past the blob's "
            f"{blob_size - ESTARGZ_FOOTER} bytes of payload"
        )
    return offset


def estargz_index(
    desc: Descriptor, compressed: bytes, toc_offset: int, toc_digest: str
) -> LayerIndex:
    """The index of an eStargz layer from its TOC member (``compressed``: the blob's bytes from
    ``toc_offset`` to the footer), checked against ``toc_digest`` (the descriptor's annotation)."""
    what = f"eStargz TOC of layer {desc.digest}"
    header, body = _estargz_toc(compressed, what)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    if actual != toc_digest:
        raise DigestMismatchError(what, toc_digest, actual)
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise ArchiveError(f"{what}: {_ESTARGZ_NAME} is not JSON: {exc}") from exc
    entries = parsed.get("entries") if isinstance(parsed, dict) else None
    if not isinstance(entries, list):
        raise ArchiveError(f"{what}: no 'entries' list")
    starts = sorted({toc_offset, *(_estargz_starts(entries, toc_offset, what))})
    members = _members(entries, what, lambda e, n: _estargz_span(e, n, what, starts))
    members = [_estargz_lengths(m, what) if m.spans else m for m in members]
    # the TOC's own tar entry: a file of the layer to any runtime that extracts it
    members.append(
        Member(
            key=_ESTARGZ_NAME,
            type="file",
            size=len(body),
            mode=header.mode & 0o7777,
            sha256=actual.partition(":")[2],
            spans=((toc_offset, desc.size - ESTARGZ_FOOTER, tarfile.BLOCKSIZE, len(body)),),
        )
    )
    return LayerIndex(str(desc.digest), "gzip", "toc", members, None, None, ESTARGZ)


def _estargz_toc(compressed: bytes, what: str) -> tuple[tarfile.TarInfo, bytes]:
    """The tar header and the JSON of the TOC member, decompressed within :data:`MAX_TOC_BYTES`."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        tar = inflater.decompress(compressed, MAX_TOC_BYTES + 1)
    except zlib.error as exc:
        raise ArchiveError(f"{what}: not a gzip member: {exc}") from exc
    if len(tar) > MAX_TOC_BYTES:
        raise SizeLimitError(what, MAX_TOC_BYTES, len(tar))
    if not inflater.eof:
        raise ArchiveError(f"{what}: the gzip member is cut short")
    try:
        header = tarfile.TarInfo.frombuf(tar[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.TarError as exc:
        raise ArchiveError(f"{what}: no tar header at the TOC's offset: {exc}") from exc
    if header.name != _ESTARGZ_NAME or not header.isreg():
        raise ArchiveError(f"{what}: the TOC's tar entry is {header.name!r}, not {_ESTARGZ_NAME}")
    end = tarfile.BLOCKSIZE + header.size
    if end > len(tar):
        raise ArchiveError(f"{what}: {_ESTARGZ_NAME} is cut short ({len(tar)} bytes of tar)")
    return header, tar[tarfile.BLOCKSIZE : end]


def _estargz_starts(entries: list[Any], toc_offset: int, what: str) -> list[int]:
    """The offsets where payload gzip members start (each must lie before the TOC)."""
    starts = []
    for number, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("type") in ("reg", "chunk") and "offset" in entry:
            offset = _int(entry["offset"], "offset", number, what)
            if offset and offset >= toc_offset:
                raise ArchiveError(
                    f"{what}: entry {number}: offset {offset} is not before the TOC ({toc_offset})"
                )
            starts.append(offset)
    return starts


def _estargz_span(
    entry: dict[str, Any], number: int, what: str, starts: list[int]
) -> tuple[int, ...]:
    """``(start, end, skip, chunkOffset)``: the gzip members from ``offset`` up to the next
    member start; ``skip`` is ``innerOffset``. :func:`_estargz_lengths` turns the last field into
    the chunk's length once all the file's chunks are known."""
    start = _int(entry.get("offset"), "offset", number, what)
    end = starts[bisect.bisect_right(starts, start)]
    skip = _int(entry.get("innerOffset", 0), "innerOffset", number, what)
    return start, end, skip, _int(entry.get("chunkOffset", 0), "chunkOffset", number, what)


def _estargz_lengths(member: Member, what: str) -> Member:
    """A file's spans with chunk lengths (next chunk's offset, or the file's size, minus this
    one's); chunk offsets must start at 0 and rise within the file."""
    spans = member.spans
    bounds = [span[3] for span in spans] + [member.size]
    if bounds[0] != 0 or any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        raise ArchiveError(
            f"{what}: /{member.key}: its {len(spans)} chunks' offsets do not rise from 0 "
            f"within its {member.size} bytes"
        )
    fixed = tuple(
        (start, end, skip, bounds[i + 1] - bounds[i])
        for i, (start, end, skip, _) in enumerate(spans)
    )
    return Member(**{**_fields(member), "spans": fixed})


Span = Callable[[dict[str, Any], int], tuple[int, ...]]


def _members(entries: list[Any], what: str, span: Span) -> list[Member]:
    members: list[Member] = []
    latest: dict[str, int] = {}
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ArchiveError(f"{what}: entry {number} is not an object with a name")
        kind = entry.get("type")
        if kind == "chunk":
            if not members or members[-1].type != "file":
                raise ArchiveError(f"{what}: entry {number}: a chunk follows no regular file")
            last = members[-1]
            members[-1] = Member(**{**_fields(last), "spans": (*last.spans, span(entry, number))})
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
        spans: tuple[tuple[int, ...], ...] = ()
        sha256 = None
        if _TYPES[kind] == "file":
            if size:
                if not isinstance(digest, str) or not digest.startswith("sha256:"):
                    raise ArchiveError(f"{what}: entry {number} ({key}) has no sha256 digest")
                sha256 = digest.partition(":")[2]
                spans = (span(entry, number),)
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
