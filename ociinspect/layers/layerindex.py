"""A layer's index: every tar entry with where its data is, built by one verified pass.

:func:`index_layer` streams a layer blob once: it decompresses it (building a
:class:`~ociinspect.layers.seekable.SeekIndex` on the way for gzip and zstd), walks the tar with
the listing's own rules (:mod:`ociinspect.layers.contents`: names, whiteouts, limits), hashes
every regular file's bytes, the whole tar (the diff_id) and the compressed blob (its digest),
and hands the data of the members a caller asks for to a sink of its choice. Only when the
stream has ended and both digests check out is the :class:`LayerIndex` returned: a failing
layer gives an error and no index, and nothing captured may be used.

A later read of member ``m`` needs only the compressed span that decodes to its bytes
(:meth:`SeekIndex.span`), which a Range request or a read in place fetches; the decoded bytes
are checked against the sha256 the verified pass recorded for ``m``
(:attr:`Member.sha256`). The index is stored beside the blob in the disk cache
(:meth:`~ociinspect.cache.BlobCache.put_index`) by :func:`dumps`/:func:`loads`: a header, the
sha256 of the rest, the zlib-compressed JSON of members, access points and marks, then each
access point's window zlib-compressed.

Layers with a table of contents (zstd:chunked, eStargz: :mod:`ociinspect.layers.toc`) make a
:class:`LayerIndex` of kind ``toc`` without any pass: each member's compressed frames are named
by the TOC, and its bytes are checked against the TOC's digest.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ..errors import ArchiveError, DigestMismatchError, OCIInspectError
from . import seekable
from .compression import decompressor
from .contents import Limits, _check_end, _entry, _normalise
from .contents import _Stream as _TarStream
from .seekable import AccessPoint, SeekIndex

__all__ = [
    "FORMAT",
    "LayerIndex",
    "Member",
    "dumps",
    "index_layer",
    "loads",
]

FORMAT = b"ociinspect layer index 1\n"
_BLOCK = tarfile.BLOCKSIZE

#: ``(position, member) -> sink or None``: where :func:`index_layer` writes a member's bytes.
Capture = Callable[[int, "Member"], IO[bytes] | None]


@dataclass(frozen=True, slots=True)
class Member:
    """One tar entry of a layer, as the index keeps it.

    ``key`` is the normalised path (lossless: undecodable bytes kept as surrogates, see
    :class:`~ociinspect.layers.contents.TarEntry`); ``type`` one of the listing's entry types;
    ``link`` a symlink's target verbatim or a hardlink's target key; ``link_index`` the position
    of the earlier member of this layer a hardlink names (None: not in this layer, so a lower
    layer's); ``whiteout``/``target`` as the listing reads them; ``offset`` where the data
    starts in the uncompressed tar; ``sha256`` of the data (regular files); ``spans`` where a
    TOC layer's file is: zstd:chunked's compressed ``(start, end)`` frames, or eStargz's
    ``(start, end, skip, length)`` (gzip members from ``start`` up to ``end``, whose decoded
    bytes after ``skip`` begin ``length`` bytes of the file); ``sparse`` a GNU sparse file.
    """

    key: str
    type: str
    size: int
    mode: int
    link: str | None = None
    link_index: int | None = None
    whiteout: str | None = None
    target: str | None = None
    offset: int = 0
    sha256: str | None = None
    spans: tuple[tuple[int, ...], ...] = ()
    sparse: bool = False
    devmajor: int = 0
    devminor: int = 0

    def row(self) -> list[Any]:
        return [
            self.key, self.type, self.size, self.mode, self.link, self.link_index,
            self.whiteout, self.target, self.offset, self.sha256,
            [list(s) for s in self.spans], self.sparse, self.devmajor, self.devminor,
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: list[Any]) -> Member:
        (key, kind, size, mode, link, link_index, whiteout, target, offset, sha256, spans,
         sparse, devmajor, devminor) = row  # fmt: skip
        return cls(
            str(key), str(kind), int(size), int(mode), link, link_index, whiteout, target,
            int(offset), sha256, tuple(tuple(int(n) for n in s) for s in spans), bool(sparse),
            int(devmajor), int(devminor),
        )  # fmt: skip


@dataclass
class LayerIndex:
    """What one layer holds and how to reach each member's bytes (see the module doc).

    ``kind``: ``stream`` (built by a verified pass; ``seek`` says how to reach offsets, None
    when this machine cannot seek gzip) or ``toc`` (from the layer's table of contents).
    ``diff_id`` is the sha256 of the tar the pass saw (None for ``toc``).
    """

    digest: str
    compression: str
    kind: str
    members: list[Member]
    seek: SeekIndex | None = None
    diff_id: str | None = None
    toc_format: str | None = None
    _by_key: dict[str, int] = field(default_factory=dict, repr=False)
    _whiteouts: set[str] = field(default_factory=set, repr=False)
    _opaque: set[str] = field(default_factory=set, repr=False)
    _parents: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        for position, member in enumerate(self.members):
            if member.whiteout == "file" and member.target is not None:
                self._whiteouts.add(member.target)
            elif member.whiteout == "opaque" and member.target is not None:
                self._opaque.add(member.target)
            elif member.whiteout is None:
                self._by_key[member.key] = position  # a later entry at a path wins
            parent = member.key.rpartition("/")[0]
            while parent and parent not in self._parents:
                self._parents.add(parent)
                parent = parent.rpartition("/")[0]

    def entry(self, key: str) -> tuple[int, Member] | None:
        """The member at ``key`` (the last one, if the archive has it twice)."""
        position = self._by_key.get(key)
        return None if position is None else (position, self.members[position])

    def has_below(self, key: str) -> bool:
        """Whether some entry of this layer is below ``key`` (a directory made implicitly)."""
        return key == "." or key in self._parents

    def hides(self, key: str) -> str | None:
        """Why this layer hides ``key`` of lower layers (image-spec layer.md "Whiteouts",
        "Changeset over existing files"), or None: a whiteout of it or of an ancestor, an
        opaque ancestor, or an ancestor that this layer makes a non-directory."""
        if key in self._whiteouts:
            return "was deleted by a whiteout"
        parent = key
        while "/" in parent:
            parent = parent.rpartition("/")[0]
            if parent in self._whiteouts:
                return f"is gone: /{parent} was deleted by a whiteout"
            if parent in self._opaque:
                return f"is hidden: /{parent} was made opaque (.wh..wh..opq)"
            found = self.entry(parent)
            if found is not None and found[1].type != "dir":
                return f"is gone: /{parent} was replaced by a {found[1].type}"
        if key != "." and "." in self._opaque:
            return "is hidden: the layer root was made opaque"
        return None

    def children(self, key: str) -> list[str]:
        """Names directly below ``key`` in this layer (whiteouts left out)."""
        prefix = "" if key == "." else key + "/"
        names = set()
        for member_key in self._by_key:
            if member_key.startswith(prefix) and member_key != key:
                names.add(member_key[len(prefix) :].split("/", 1)[0])
        return sorted(names)


# --- the verified pass -------------------------------------------------------------------------


class _Stream(_TarStream):
    """The listing's forward-only stream (:class:`.contents._Stream`), which also hands the
    bytes of one data region to a hasher and a sink and reports each piece's end offset."""

    def __init__(self, pieces: Iterator[bytes], limits: Limits, what: str) -> None:
        super().__init__(pieces, limits, what)
        # Hashed inline: an index pass that fails must leave no helper thread behind.
        self.sha256 = hashlib.sha256()  # type: ignore[assignment]
        self.region: tuple[int, int, Any, IO[bytes] | None] | None = None
        self.on_piece: Callable[[int], None] | None = None

    def _pull(self) -> bool:
        if not super()._pull():
            return False
        if self.on_piece is not None:
            self.on_piece(self.total)
        return True

    def _pass(self, start: int, data: bytes) -> None:
        """``data`` (at tar offset ``start``) goes by: feed the part inside the region."""
        region = self.region
        if region is None:
            return
        lo, hi, hasher, sink = region
        a, b = max(lo, start), min(hi, start + len(data))
        if a < b:
            part = data[a - start : b - start]
            hasher.update(part)
            if sink is not None:
                sink.write(part)

    def read(self, size: int = -1) -> bytes:
        self._spend(size)
        parts = []
        need = size
        while need:
            if self._pos == len(self._buf) and not self._pull():
                break
            part = self._buf[self._pos : self._pos + need]
            self._pass(self.tell(), part)
            self._pos += len(part)
            need -= len(part)
            parts.append(part)
        out = b"".join(parts)
        self.last_read = out
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        here = self.tell()
        if whence != 0 or offset < here:
            raise ArchiveError(f"{self._what}: tar header at offset {here} points backwards")
        skip = offset - here
        while skip:
            if self._pos == len(self._buf) and not self._pull():
                return self.tell()  # cut short: tarfile's next read finds no data
            take = min(skip, len(self._buf) - self._pos)
            if self.region is not None:
                self._pass(self.tell(), self._buf[self._pos : self._pos + take])
            self._pos += take
            skip -= take
        return offset


def _hashed(chunks: Iterable[bytes], hasher: Any, counter: list[int]) -> Iterator[bytes]:
    for chunk in chunks:
        hasher.update(chunk)
        counter[0] += len(chunk)
        yield chunk


def index_layer(
    chunks: Iterable[bytes],
    compression: str,
    digest: str,
    *,
    diff_id: str | None,
    what: str,
    limits: Limits | None = None,
    capture: Capture | None = None,
    on_diff_id: Callable[[str], None] | None = None,
) -> LayerIndex:
    """One verified pass over a layer blob streamed as ``chunks`` (see the module doc).

    ``digest`` is the blob's (checked on the compressed bytes, whatever the source did);
    ``diff_id`` the config's for this layer (checked on the tar; None skips the check, for
    callers that check it themselves through ``on_diff_id``, which is called with the tar's
    digest before the index is returned). ``capture(position, member)`` may return a sink
    for a member's data. Raises :class:`DigestMismatchError` (the blob),
    :class:`~ociinspect.errors.DiffIdMismatchError` through ``on_diff_id``,
    :class:`ArchiveError` and :class:`SizeLimitError` as the listing does.
    """
    limits = limits or Limits()
    blob_hash = hashlib.new(digest.partition(":")[0] or "sha256")
    counted = [0]
    source = _hashed(chunks, blob_hash, counted)
    seek_builder: Any = None
    zstd_marks: seekable.ZstdIndexer | None = None
    if compression == "gzip" and seekable.available():
        seek_builder = seekable.GzipIndexer(what)
        pieces = seek_builder.inflate(source)
    elif compression == "zstd":
        zstd_marks = seekable.ZstdIndexer(what)
        pieces = decompressor("zstd")(zstd_marks.observe(source), what)
    else:
        pieces = decompressor(compression)(source, what)
    stream = _Stream(iter(pieces), limits, what)
    if zstd_marks is not None:
        stream.on_piece = zstd_marks.mark
    members: list[Member] = []
    latest: dict[str, int] = {}
    seen: set[str] = set()
    try:
        tar = tarfile.TarFile(fileobj=stream, mode="r", encoding="utf-8", errors="surrogateescape")
        pending: tuple[int, tarfile.TarInfo, Any] | None = None
        while True:
            stream.budget = limits.max_pax_header
            info = tar.next()  # skipping the previous member's data feeds its region
            if pending is not None:
                members[pending[0]] = _finish(members[pending[0]], pending[2], stream, what)
                pending = None
            stream.region = None
            if info is None:
                break
            tar.members.clear()  # type: ignore[attr-defined]  # TarFile keeps every member
            if len(members) >= limits.max_entries:
                raise ArchiveError(
                    f"{what} has more than {limits.max_entries} entries (Limits.max_entries)"
                )
            entry = _entry(info, seen, what)
            key = _normalise(entry.name)[0] if entry.undecodable else entry.path
            link_index = None
            link = entry.link_target
            if entry.type == "hardlink":
                link = _normalise(info.linkname)[0]
                link_index = latest.get(link)
            target = None
            if entry.whiteout is not None:
                target = entry.whiteout_target
                if entry.undecodable and entry.whiteout_target is not None:
                    from .contents import _whiteout

                    target = _whiteout(key)[1]
            member = Member(
                key=key,
                type=entry.type,
                size=entry.size,
                mode=entry.mode,
                link=entry.link_target if entry.type == "symlink" else link,
                link_index=link_index,
                whiteout=entry.whiteout,
                target=target,
                offset=info.offset_data,
                sparse=info.sparse is not None,  # type: ignore[attr-defined]
                devmajor=entry.devmajor,
                devminor=entry.devminor,
            )
            position = len(members)
            members.append(member)
            if entry.whiteout is None:
                latest[key] = position
            if entry.type == "file" and entry.size and not member.sparse:
                hasher = hashlib.sha256()
                sink = capture(position, member) if capture is not None else None
                stream.region = (info.offset_data, info.offset_data + entry.size, hasher, sink)
                pending = (position, info, hasher)
            elif entry.type == "file":
                members[position] = _with_hash(member, hashlib.sha256().hexdigest())
                if capture is not None and not member.sparse:
                    capture(position, member)
        _check_end(stream, tar, what)
        stream.drain()
    except OCIInspectError:
        raise
    except RecursionError as exc:
        raise ArchiveError(
            f"{what}: too many chained extended headers at offset {stream.tell()}"
        ) from exc
    except Exception as exc:  # tarfile on hostile input: any failure is a broken archive
        raise ArchiveError(
            f"{what}: malformed tar at offset {stream.tell()}: {str(exc) or type(exc).__name__}"
        ) from exc
    for _ in source:  # what the decompressor left (a zstd skippable frame): still hashed
        pass
    actual = f"{blob_hash.name}:{blob_hash.hexdigest()}"
    if actual != digest:
        raise DigestMismatchError(f"layer {digest}", digest, actual)
    tar_digest = "sha256:" + stream.sha256.hexdigest()
    if diff_id is not None and tar_digest != diff_id:
        raise DigestMismatchError(f"layer {digest} uncompressed (diff_id)", diff_id, tar_digest)
    if on_diff_id is not None:
        on_diff_id(tar_digest)
    seek: SeekIndex | None
    if seek_builder is not None:
        seek = seek_builder.index()
    elif zstd_marks is not None:
        zstd_marks.finish(stream.total)
        seek = zstd_marks.index()
    elif compression == "none":
        seek = SeekIndex("none", counted[0], stream.total)
    else:
        seek = None
    return LayerIndex(digest, compression, "stream", members, seek, tar_digest)


def _with_hash(member: Member, sha256: str) -> Member:
    values = {name: getattr(member, name) for name in Member.__slots__}
    values["sha256"] = sha256
    return Member(**values)


def _finish(member: Member, hasher: Any, stream: _Stream, what: str) -> Member:
    """Close a member whose data just went by: all of it must have (else the tar is short)."""
    if stream.tell() < member.offset + member.size:
        raise ArchiveError(f"{what}: truncated tar: data of {member.key!r} is cut short")
    return _with_hash(member, hasher.hexdigest())


# --- storage ------------------------------------------------------------------------------------


def dumps(index: LayerIndex) -> bytes:
    """The index as bytes for :meth:`~ociinspect.cache.BlobCache.put_index`."""
    seek = index.seek
    windows = [zlib.compress(p.window, 6) for p in seek.points] if seek is not None else []
    body: dict[str, Any] = {
        "digest": index.digest,
        "compression": index.compression,
        "kind": index.kind,
        "diff_id": index.diff_id,
        "toc_format": index.toc_format,
        "members": [m.row() for m in index.members],
    }
    if seek is not None:
        body["seek"] = {
            "compression": seek.compression,
            "compressed_size": seek.compressed_size,
            "uncompressed_size": seek.uncompressed_size,
            "points": [
                [p.out, p.in_, p.bits, len(w)] for p, w in zip(seek.points, windows, strict=True)
            ],
            "marks": [n for mark in seek.marks for n in mark],
        }
    head = zlib.compress(json.dumps(body, separators=(",", ":")).encode("utf-8", "surrogateescape"))
    rest = struct.pack(">Q", len(head)) + head + b"".join(windows)
    return FORMAT + hashlib.sha256(rest).digest() + rest


def loads(data: bytes, digest: str) -> LayerIndex | None:
    """An index read back by :func:`dumps`; None when it is not one, is damaged, or is for
    another digest (the caller then builds it again)."""
    if not data.startswith(FORMAT) or len(data) < len(FORMAT) + 40:
        return None
    checksum, rest = data[len(FORMAT) : len(FORMAT) + 32], data[len(FORMAT) + 32 :]
    if hashlib.sha256(rest).digest() != checksum:
        return None
    try:
        (length,) = struct.unpack(">Q", rest[:8])
        body = json.loads(zlib.decompress(rest[8 : 8 + length]).decode("utf-8", "surrogateescape"))
        if body.get("digest") != digest:
            return None
        members = [Member.from_row(row) for row in body["members"]]
        seek = None
        if body.get("seek") is not None:
            raw = body["seek"]
            points, at = [], 8 + length
            for out, in_, bits, size in raw["points"]:
                window = zlib.decompress(rest[at : at + size])
                at += size
                points.append(AccessPoint(int(out), int(in_), int(bits), window))
            flat = raw["marks"]
            marks = tuple(zip(flat[0::2], flat[1::2], strict=True))
            seek = SeekIndex(
                raw["compression"], int(raw["compressed_size"]), int(raw["uncompressed_size"]),
                tuple(points), marks,
            )  # fmt: skip
        return LayerIndex(
            body["digest"], body["compression"], body["kind"], members, seek,
            body.get("diff_id"), body.get("toc_format"),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, zlib.error, struct.error):
        return None
