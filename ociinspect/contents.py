"""Layer contents: a streamed tar listing, the merged filesystem with whiteouts, wasted space.

Listing (:func:`iter_entries`) reads a layer blob as the iterator of byte chunks it arrives in,
decompresses on the fly and lists the tar entries without extracting anything and without holding
the layer in memory: file data is skipped, not buffered. Decompressed bytes are counted and hashed
as they pass, so the exact uncompressed size and the ``diff_id`` (image-spec config.md,
"rootfs.diff_ids": the digest of the uncompressed tar) are known when the listing ends.

How the archive is read, and why:

- ``tarfile.TarFile(fileobj=..., mode="r")`` over :class:`_Stream`, a forward-only file object
  (``read``/``tell`` and a ``seek`` that only moves forward). Stream mode (``"r|"``) would also
  work, but then tarfile skips file data by copying it through its own 10 KiB buffer; here a skip
  drops whole decompressed pieces, and every ``read`` (only header data is ever read) is checked
  against :attr:`Limits.max_pax_header` *before* the bytes are produced.
- tarfile decodes names as UTF-8 with ``surrogateescape``, so no name fails to decode. An
  :class:`Entry` keeps that lossless ``name`` (:attr:`Entry.raw_name` gives the bytes back) and
  shows a display-safe ``path`` with U+FFFD for undecodable bytes (``undecodable=True``);
  merging uses the lossless form, so two different undecodable names never collide.
- tarfile silently stops at a damaged header once one member was read; the listing checks how it
  stopped (end-of-archive zero block, clean end of data, or not) and raises :class:`ArchiveError`
  for a truncated or invalid header. Truncated or corrupt gzip/zstd streams are errors too.
- gzip: ``zlib.decompressobj(wbits=31)``, member after member (RFC 1952 allows concatenated
  members; anything else after a member is refused, as Go's ``compress/gzip`` does). When the
  optional ``isal`` package is installed its ``isal_zlib`` (same API, about twice as fast) is used.
- zstd: ``zstandard``'s ``stream_reader`` with ``read_across_frames=True`` (bounded output per
  read, so a bomb cannot inflate in one call). It reports neither a stream cut short nor one that
  ends mid-frame, so :class:`_ZstdFrames` walks frame and block headers (RFC 8878 section 3.1) on
  the compressed bytes to tell the two apart. Frames needing a window over libzstd's default limit
  (128 MiB) are refused by libzstd.

Merging (:func:`merge`, :func:`wasted`, :func:`analyse`) applies layers in order with the
image-spec layer.md rules: "Whiteouts" (``.wh.<name>`` removes ``<name>`` and its subtree from lower
layers; ``.wh..wh..opq`` hides every lower-layer child of its directory; whiteouts apply only to
lower layers and never appear in the result) and "Changeset over existing files" (a later entry
replaces an earlier one at the same path; a directory over a directory only updates its metadata;
anything else over a directory removes the directory's subtree).
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import zstandard

from .errors import ArchiveError, OCIInspectError, SizeLimitError


def _load_isal() -> Any:
    """ISA-L's inflate (the optional ``isal`` package), a faster drop-in for zlib's; or None."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return isal_zlib


_isal_zlib: Any = _load_isal()

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: Upper bound of one decompressed piece: what a decompressor may produce per call.
_PIECE = 1 * MiB
_BLOCK = tarfile.BLOCKSIZE

ENTRY_TYPES = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other")
WHITEOUTS = ("file", "opaque", "meta")
WASTE_KINDS = ("overwritten", "deleted", "hidden")

_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.GNUTYPE_SPARSE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}
# ls shows a hardlink as the regular file it is; "other" has no type letter.
_S_IFMT = {
    "file": stat.S_IFREG,
    "hardlink": stat.S_IFREG,
    "dir": stat.S_IFDIR,
    "symlink": stat.S_IFLNK,
    "char": stat.S_IFCHR,
    "block": stat.S_IFBLK,
    "fifo": stat.S_IFIFO,
    "other": 0,
}

WHITEOUT_PREFIX = ".wh."  # image-spec layer.md "Whiteouts"
OPAQUE_WHITEOUT = ".wh..wh..opq"  # image-spec layer.md "Opaque Whiteout"
_WHITEOUT_META = ".wh..wh."  # aufs metadata (.wh..wh.plnk, ...): not a whiteout of a name


@lru_cache(maxsize=4096)
def mode_string(type: str, mode: int) -> str:
    """``ls -l`` style mode: ``-rwxr-xr-x``, ``drwxrwxrwt``, ``-rwsr-xr-x``, ``lrwxrwxrwx``.

    setuid/setgid/sticky show as ``s``/``s``/``t`` over an execute bit and ``S``/``S``/``T``
    without one. A hardlink shows as ``-`` (what ls shows for it); an unknown type as ``?``.
    """
    return stat.filemode(_S_IFMT.get(type, 0) | (mode & 0o7777))


@dataclass(frozen=True)
class Limits:
    """Safety limits against decompression bombs and hostile archives.

    - ``max_uncompressed``: bytes of decompressed tar, checked as pieces (at most 1 MiB each)
      come out of the decompressor, so a bomb stops within 1 MiB of the limit.
      -> :class:`SizeLimitError`.
    - ``max_entries``: tar entries (whiteouts included). -> :class:`ArchiveError`.
    - ``max_pax_header``: header bytes read for one entry: its ustar block(s), PAX records,
      GNU long names/links and sparse maps. Checked before the bytes are read.
      -> :class:`SizeLimitError`.
    """

    max_uncompressed: int = 16 * GiB
    max_entries: int = 1_000_000
    max_pax_header: int = 1 * MiB

    def __post_init__(self) -> None:
        for name in ("max_uncompressed", "max_entries", "max_pax_header"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if self.max_pax_header < 2 * _BLOCK:
            raise ValueError(f"Limits.max_pax_header must be at least {2 * _BLOCK} bytes")


@dataclass(frozen=True, slots=True)
class Entry:
    """One tar entry of a layer, listed as it is in the archive.

    - ``path``: normalised (``./`` and leading ``/`` removed, empty and ``.`` components dropped,
      ``..`` kept); the layer root is ``"."``. Display-safe: undecodable bytes show as U+FFFD.
    - ``name``: the name as tarfile read it (PAX ``path``, GNU long name or ustar prefix/name;
      a directory's trailing ``/`` removed), decoded with ``surrogateescape`` so it is lossless;
      :attr:`raw_name` gives the bytes.
    - ``type``: one of :data:`ENTRY_TYPES` (``other`` for typeflags tarfile does not know, whose
      data is skipped like a file's). ``size``: the header's size in bytes.
    - ``mode``: permission bits (``& 0o7777``); :attr:`mode_string` shows them like ls.
    - ``mtime``: float seconds since the Unix epoch, UTC; PAX sub-second precision is kept. A float
      and not a datetime because tar allows times no datetime holds; the tables convert it.
    - ``link_target``: a symlink's target verbatim, or a hardlink's target normalised like
      ``path`` (it names another member); None for other types.
    - ``whiteout``: None, ``"file"`` for ``.wh.<name>`` (``whiteout_target`` is the path removed),
      ``"opaque"`` for ``.wh..wh..opq`` (``whiteout_target`` is the directory whose lower children
      are hidden) or ``"meta"`` for other ``.wh..wh.*`` aufs metadata (ignored when merging, as
      Docker does). A ``.wh.`` naming nothing usable (``""``, ``.``, ``..``) has no target.
    - ``unsafe_path``: the name (or a hardlink's target) is absolute or has a ``..`` component,
      i.e. a naive extractor would write outside its root. Listing never extracts.
    - ``link_missing``: a hardlink whose target was not listed earlier in this layer.
    - ``duplicate``: an earlier entry of this layer had the same path (both are listed).
    """

    path: str
    name: str
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float
    link_target: str | None = None
    whiteout: str | None = None
    whiteout_target: str | None = None
    unsafe_path: bool = False
    link_missing: bool = False
    duplicate: bool = False
    undecodable: bool = False
    devmajor: int = 0
    devminor: int = 0

    def __post_init__(self) -> None:
        if self.type not in _S_IFMT:
            raise ValueError(f"Entry.type must be one of {ENTRY_TYPES}, got {self.type!r}")
        if self.whiteout is not None and self.whiteout not in WHITEOUTS:
            raise ValueError(f"Entry.whiteout must be None or one of {WHITEOUTS}")

    @property
    def raw_name(self) -> bytes:
        """The entry's name as bytes, exactly as the archive spelled it."""
        return self.name.encode("utf-8", "surrogateescape")

    @property
    def mode_string(self) -> str:
        return mode_string(self.type, self.mode)


# --- decompression -----------------------------------------------------------------------------


class _SourceFailure(Exception):
    """Carries an exception raised by the caller's chunk iterator through tarfile, unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


def _gzip_decompressobj() -> Any:
    if _isal_zlib is not None:
        return _isal_zlib.decompressobj(wbits=31)
    return zlib.decompressobj(wbits=31)


_GZIP_ERRORS: tuple[type[BaseException], ...] = (zlib.error,)
if _isal_zlib is not None:  # pragma: no cover - depends on the environment
    _GZIP_ERRORS = (zlib.error, _isal_zlib.error)


def _gunzip(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """Inflate gzip members one after another, in pieces of at most :data:`_PIECE` bytes."""
    d = _gzip_decompressobj()
    fed = False  # the current member has had input
    members = 0
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = d.decompress(data, _PIECE)
            except _GZIP_ERRORS as exc:
                raise ArchiveError(
                    f"{what}: corrupt gzip stream (member {members + 1}): {exc}"
                ) from exc
            fed = True
            if out:
                yield out
            if d.eof:
                members += 1
                data = d.unused_data
                d, fed = _gzip_decompressobj(), False
            else:
                data = d.unconsumed_tail
    while fed and not d.eof:  # output still held back by the size bound
        try:
            out = d.decompress(b"", _PIECE)
        except _GZIP_ERRORS as exc:
            raise ArchiveError(
                f"{what}: corrupt gzip stream (member {members + 1}): {exc}"
            ) from exc
        if not out:
            break
        yield out
    if fed and not d.eof:
        raise ArchiveError(f"{what}: truncated gzip stream: member {members + 1} has no end")
    if members == 0:
        raise ArchiveError(f"{what}: empty gzip stream")


_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50  # .. 0x184D2A5F, RFC 8878 section 3.1.2


class _ZstdFrames:
    """Walk zstd frame and block headers over the compressed bytes (RFC 8878 section 3.1).

    It decompresses nothing: it only follows Frame_Header and Block_Header sizes, to know whether
    the stream ended on a frame boundary (zstandard's stream_reader does not say).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.frames = 0  # frames started
        self.offset = 0  # compressed bytes seen
        self._head = b""
        self._want = 4
        self._step: Callable[[bytes], None] = self._magic
        self._skip = 0
        self._checksum = False

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                take = min(self._skip, end - pos)
                self._skip -= take
                pos += take
                continue
            take = min(self._want - len(self._head), end - pos)
            self._head += data[pos : pos + take]
            pos += take
            if len(self._head) == self._want:
                head, self._head = self._head, b""
                self._step(head)
        self.offset += end

    def finish(self) -> None:
        if self.offset == 0:
            raise ArchiveError(f"{self.what}: empty zstd stream")
        if self._step != self._magic or self._head or self._skip:
            raise ArchiveError(
                f"{self.what}: truncated zstd stream: it ends inside frame {max(self.frames, 1)} "
                f"after {self.offset} compressed bytes"
            )

    def _fail(self, reason: str) -> None:
        raise ArchiveError(f"{self.what}: corrupt zstd stream in frame {self.frames}: {reason}")

    def _magic(self, head: bytes) -> None:
        self.frames += 1
        magic = int.from_bytes(head, "little")
        if magic == _ZSTD_MAGIC:
            self._want, self._step = 1, self._descriptor
        elif magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
            self._want, self._step = 4, self._skippable
        else:
            self._fail(f"bad magic number {magic:#010x}")

    def _skippable(self, head: bytes) -> None:
        self._skip = int.from_bytes(head, "little")
        self._want, self._step = 4, self._magic

    def _descriptor(self, head: bytes) -> None:
        rest, self._checksum = _zstd_header_rest(head[0], self._fail)
        if rest:
            self._want, self._step = rest, self._header_rest
        else:
            self._want, self._step = 3, self._block

    def _header_rest(self, head: bytes) -> None:
        self._want, self._step = 3, self._block

    def _block(self, head: bytes) -> None:
        header = int.from_bytes(head, "little")
        block_type = header >> 1 & 3
        if block_type == 3:
            self._fail("reserved block type")
        self._skip = 1 if block_type == 1 else header >> 3  # an RLE block holds one byte
        if header & 1:  # Last_Block
            self._skip += 4 if self._checksum else 0
            self._want, self._step = 4, self._magic


def _zstd_header_rest(descriptor: int, fail: Callable[[str], None]) -> tuple[int, bool]:
    """Bytes after Frame_Header_Descriptor up to the first block; whether a checksum ends it."""
    if descriptor & 0x08:
        fail("reserved bit set in Frame_Header_Descriptor")
    single_segment = descriptor >> 5 & 1
    fcs = (single_segment, 2, 4, 8)[descriptor >> 6]
    dictionary_id = (0, 1, 2, 4)[descriptor & 3]
    return (1 - single_segment) + dictionary_id + fcs, bool(descriptor >> 2 & 1)


class _ChunkReader:
    """The ``read(size)`` source zstandard's stream_reader pulls compressed chunks from."""

    def __init__(self, chunks: Iterator[bytes], frames: _ZstdFrames) -> None:
        self._chunks = chunks
        self._frames = frames

    def read(self, size: int = -1) -> bytes:
        for chunk in self._chunks:
            if chunk:
                self._frames.feed(chunk)
                return chunk
        return b""


def _unzstd(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    frames = _ZstdFrames(what)
    reader = zstandard.ZstdDecompressor().stream_reader(
        _ChunkReader(chunks, frames),  # type: ignore[arg-type]  # duck-typed: only read() is used
        read_size=256 * KiB,
        read_across_frames=True,
        closefd=False,
    )
    while True:
        try:
            out = reader.read(_PIECE)
        except zstandard.ZstdError as exc:
            raise ArchiveError(
                f"{what}: corrupt zstd stream in frame {max(frames.frames, 1)}: {exc}"
            ) from exc
        if not out:
            break
        yield out
    frames.finish()


def _plain(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk if type(chunk) is bytes else bytes(chunk)


_DECOMPRESSORS: dict[str, Callable[[Iterator[bytes], str], Iterator[bytes]]] = {
    "gzip": _gunzip,
    "zstd": _unzstd,
    "none": _plain,
}


# --- the tar side ------------------------------------------------------------------------------


class _Stream:
    """Forward-only file object over decompressed pieces, counting and hashing every byte."""

    def __init__(self, pieces: Iterator[bytes], limits: Limits, what: str) -> None:
        self._pieces = pieces
        self._limits = limits
        self._what = what
        self._buf = b""
        self._pos = 0
        self._start = 0  # stream offset of _buf[0]
        self.total = 0
        self.sha256 = hashlib.sha256()
        self.budget = limits.max_pax_header
        self.last_read = b""

    def _pull(self) -> bool:
        piece = next(self._pieces, None)
        if piece is None:
            return False
        self.total += len(piece)
        if self.total > self._limits.max_uncompressed:
            raise SizeLimitError(
                f"{self._what} uncompressed", self._limits.max_uncompressed, self.total
            )
        self.sha256.update(piece)
        self._start += len(self._buf)
        self._buf, self._pos = piece, 0
        return True

    def tell(self) -> int:
        return self._start + self._pos

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            raise ValueError("_Stream.read needs a size")
        if size > self.budget:
            raise SizeLimitError(
                f"{self._what}: tar header data of the entry at offset {self.tell()}",
                self._limits.max_pax_header,
                self._limits.max_pax_header - self.budget + size,
            )
        self.budget -= size
        end = self._pos + size
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
        else:
            parts = [self._buf[self._pos :]]
            need = size - len(parts[0])
            self._pos = len(self._buf)
            while need and self._pull():
                part = self._buf[:need]
                parts.append(part)
                need -= len(part)
                self._pos = len(part)
            out = b"".join(parts)
        self.last_read = out
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        here = self.tell()
        if whence != 0 or offset < here:
            raise ArchiveError(f"{self._what}: tar header at offset {here} points backwards")
        skip = offset - here
        while skip > len(self._buf) - self._pos:
            skip -= len(self._buf) - self._pos
            self._pos = len(self._buf)
            if not self._pull():
                return self.tell()  # cut short: tarfile's next read finds no data
        self._pos += skip
        return offset

    def write(self, data: bytes) -> int:
        raise io.UnsupportedOperation("a layer listing is read-only")

    def close(self) -> None:
        """Nothing to release: the caller owns the chunk iterator."""

    def drain(self) -> None:
        self._pos = len(self._buf)
        while self._pull():
            self._pos = len(self._buf)


def _normalise(name: str) -> tuple[str, bool]:
    """``(path, unsafe)``: ``./a//b/`` -> ``a/b``; unsafe when absolute or with ``..``."""
    if not name.startswith(("/", ".")) and "//" not in name and "/." not in name:
        return name.rstrip("/") or ".", False
    parts = [p for p in name.split("/") if p and p != "."]
    return "/".join(parts) or ".", name.startswith("/") or ".." in parts


def _display(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes) replaced by U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _parent(path: str) -> str:
    return path.rpartition("/")[0] or "."


def _whiteout(key: str) -> tuple[str | None, str | None]:
    """``(whiteout kind, target key)`` of a normalised path (image-spec layer.md "Whiteouts")."""
    parent, _, base = key.rpartition("/")
    if not base.startswith(WHITEOUT_PREFIX):
        return None, None
    if base == OPAQUE_WHITEOUT:
        return "opaque", parent or "."
    if base.startswith(_WHITEOUT_META):
        return "meta", None
    target = base[len(WHITEOUT_PREFIX) :]
    if target in ("", ".", ".."):
        return "file", None
    return "file", f"{parent}/{target}" if parent else target


def _entry(info: tarfile.TarInfo, seen: set[str], what: str) -> Entry:
    for field in ("size", "uid", "gid"):  # Go's archive/tar reads these as int64 too
        value = getattr(info, field)
        if not 0 <= value < 1 << 63:
            raise ArchiveError(
                f"{what}: entry {_display(info.name)!r} has {field} {value} out of range"
            )
    name = info.name
    key, unsafe = _normalise(name)
    kind = _TYPES.get(info.type, "other")
    link: str | None = None
    missing = False
    if kind == "hardlink":
        link, link_unsafe = _normalise(info.linkname)
        unsafe = unsafe or link_unsafe
        missing = link not in seen
    elif kind == "symlink":
        link = info.linkname
    whiteout, target = _whiteout(key) if ".wh." in key else (None, None)
    duplicate = key in seen
    if whiteout is None:
        seen.add(key)
    undecodable = not name.isascii() and _display(name) != name
    return Entry(
        path=_display(key) if undecodable else key,
        name=name,
        type=kind,
        size=info.size,
        mode=info.mode & 0o7777,
        uid=info.uid,
        gid=info.gid,
        uname=_display(info.uname),
        gname=_display(info.gname),
        mtime=float(info.mtime),
        link_target=None if link is None else _display(link),
        whiteout=whiteout,
        whiteout_target=None if target is None else _display(target),
        unsafe_path=unsafe,
        link_missing=missing,
        duplicate=duplicate,
        undecodable=undecodable,
        devmajor=info.devmajor if kind in ("char", "block") else 0,
        devminor=info.devminor if kind in ("char", "block") else 0,
    )


class LayerListing(Iterator[Entry]):
    """An iterator of a layer's :class:`Entry` values; totals are set once it is exhausted.

    After the last entry the rest of the stream (end-of-archive padding, and whatever follows)
    is read too, so :attr:`uncompressed_size` and :attr:`diff_id` cover the whole blob, as
    containerd and Docker compute them. Reading them before then raises :class:`RuntimeError`.
    The caller's chunk iterator is not closed: whoever opened it closes it.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        compression: str,
        *,
        limits: Limits | None = None,
        what: str = "layer",
    ) -> None:
        if compression not in _DECOMPRESSORS:
            raise ValueError(f"unknown compression {compression!r}; expected gzip, zstd or none")
        self.what = what
        self.compression = compression
        self.limits = limits or Limits()
        self.compressed_size = 0
        self.entry_count = 0
        self._uncompressed_size: int | None = None
        self._diff_id: str | None = None
        self._source = iter(chunks)
        self._entries = self._run()

    def __iter__(self) -> LayerListing:
        return self

    def __next__(self) -> Entry:
        return next(self._entries)

    def close(self) -> None:
        """Stop early; the totals stay unset."""
        self._entries.close()

    @property
    def done(self) -> bool:
        return self._diff_id is not None

    @property
    def uncompressed_size(self) -> int:
        """Exact bytes of the decompressed tar stream."""
        if self._uncompressed_size is None:
            raise RuntimeError(f"{self.what}: uncompressed_size is known once listing has ended")
        return self._uncompressed_size

    @property
    def diff_id(self) -> str:
        """``sha256:<hex>`` of the decompressed tar stream (image-spec config.md diff_ids)."""
        if self._diff_id is None:
            raise RuntimeError(f"{self.what}: diff_id is known once listing has ended")
        return self._diff_id

    def _chunks(self) -> Iterator[bytes]:
        while True:
            try:
                chunk = next(self._source)
            except StopIteration:
                return
            except Exception as exc:  # the caller's own failure: passed through untouched
                raise _SourceFailure(exc) from exc
            self.compressed_size += len(chunk)
            yield chunk

    def _run(self) -> Generator[Entry, None, None]:
        what = self.what
        pieces = _DECOMPRESSORS[self.compression](self._chunks(), what)
        stream = _Stream(pieces, self.limits, what)
        try:
            tar = tarfile.TarFile(
                fileobj=stream, mode="r", encoding="utf-8", errors="surrogateescape"
            )
            seen: set[str] = set()
            while True:
                stream.budget = self.limits.max_pax_header
                info = tar.next()
                if info is None:
                    break
                # TarFile keeps every member it read (undocumented list); a listing must not.
                tar.members.clear()  # type: ignore[attr-defined]
                self.entry_count += 1
                if self.entry_count > self.limits.max_entries:
                    raise ArchiveError(
                        f"{what} has more than {self.limits.max_entries} entries "
                        "(Limits.max_entries)"
                    )
                yield _entry(info, seen, what)
            _check_end(stream, tar, what)
            stream.drain()
        except _SourceFailure as failure:
            raise failure.error from None
        except OCIInspectError:
            raise
        except RecursionError as exc:  # tarfile recurses once per chained PAX/GNU header
            raise ArchiveError(
                f"{what}: too many chained extended headers (PAX or GNU long name) "
                f"at offset {stream.tell()}"
            ) from exc
        except Exception as exc:  # tarfile on hostile input: any failure is a broken archive
            detail = str(exc) or type(exc).__name__
            raise ArchiveError(
                f"{what}: malformed tar at offset {stream.tell()}: {detail}"
            ) from exc
        self._uncompressed_size = stream.total
        self._diff_id = "sha256:" + stream.sha256.hexdigest()


def _check_end(stream: _Stream, tar: tarfile.TarFile, what: str) -> None:
    """Tell an archive that ended from one whose next header is cut short or invalid.

    tarfile stops quietly on either once it has read one member. Accepted ends: a zero block
    (the end-of-archive marker; GNU tar writes two, one is enough, as for GNU tar and Go) or the
    end of the data exactly on a header boundary (Go's archive/tar accepts that too).
    """
    last = stream.last_read
    if not last or last == bytes(_BLOCK):
        return
    if len(last) < _BLOCK:
        raise ArchiveError(f"{what}: truncated tar: header at offset {tar.offset} is cut short")
    raise ArchiveError(f"{what}: invalid tar header at offset {tar.offset} (bad checksum)")


def iter_entries(
    chunks: Iterable[bytes],
    compression: str,
    *,
    limits: Limits | None = None,
    what: str = "layer",
) -> LayerListing:
    """List a layer blob streamed as byte ``chunks``; ``compression`` is gzip, zstd or none.

    ``what`` names the layer in errors (e.g. its digest). Raises :class:`ArchiveError` for a
    corrupt, truncated or malformed blob and :class:`SizeLimitError` past ``limits``; errors of
    the chunk iterator itself pass through unchanged. See :class:`LayerListing` for totals.
    """
    return LayerListing(chunks, compression, limits=limits, what=what)


# --- cheap size estimates ----------------------------------------------------------------------


def gzip_isize(last4: bytes) -> int:
    """ISIZE of a gzip stream from its last 4 bytes (RFC 1952 section 2.3.1), little-endian.

    It is the uncompressed size modulo 2**32 of the *last member only*: wrong for layers of
    4 GiB or more, and for multi-member gzip (pigz, some layer tools) it misses earlier members.
    Use it as an estimate; :attr:`LayerListing.uncompressed_size` is exact.
    """
    if len(last4) != 4:
        raise ValueError(f"gzip_isize needs the last 4 bytes of the blob, got {len(last4)}")
    return int.from_bytes(last4, "little")


def zstd_content_size(first_bytes: bytes) -> int | None:
    """Frame_Content_Size of the first zstd frame (RFC 8878 section 3.1.1.1), or None.

    None when the frame does not record it (streamed compression) or the blob starts with a
    skippable frame. For multi-frame blobs (zstd:chunked) it is the first frame's size only.
    The header is at most 18 bytes; pass at least that many (or the whole blob if shorter).
    """

    def fail(reason: str) -> None:
        raise ArchiveError(f"not a zstd frame header: {reason}")

    if len(first_bytes) < 5:
        fail(f"need at least 5 bytes, got {len(first_bytes)}")
    magic = int.from_bytes(first_bytes[:4], "little")
    if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
        return None
    if magic != _ZSTD_MAGIC:
        fail(f"bad magic number {magic:#010x}")
    descriptor = first_bytes[4]
    _zstd_header_rest(descriptor, fail)
    single_segment = descriptor >> 5 & 1
    size = (single_segment, 2, 4, 8)[descriptor >> 6]
    if size == 0:
        return None
    start = 5 + (1 - single_segment) + (0, 1, 2, 4)[descriptor & 3]
    field = first_bytes[start : start + size]
    if len(field) < size:
        fail(f"need {start + size} bytes, got {len(first_bytes)}")
    value = int.from_bytes(field, "little")
    return value + 256 if size == 2 else value


# --- merging layers ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MergedEntry:
    """One path of the merged filesystem; ``layer`` is the index of the layer it comes from."""

    path: str
    type: str
    size: int
    mode: int
    layer: int
    link_target: str | None = None

    @property
    def mode_string(self) -> str:
        return mode_string(self.type, self.mode)


@dataclass(frozen=True, slots=True)
class WastedCopy:
    """A file copy that the merged filesystem does not show but a layer still ships.

    ``how``: ``overwritten`` (a later entry at the same path, in a later layer or later in the
    same layer, or a non-directory replacing an ancestor directory), ``deleted`` (a ``.wh.``
    whiteout of the path or of an ancestor) or ``hidden`` (an opaque whiteout of an ancestor).
    """

    path: str
    size: int
    added_in: int
    superseded_in: int
    how: str

    def __post_init__(self) -> None:
        if self.how not in WASTE_KINDS:
            raise ValueError(f"WastedCopy.how must be one of {WASTE_KINDS}, got {self.how!r}")


@dataclass(frozen=True)
class Wasted:
    """Bytes that layers ship but the merged filesystem does not show.

    Each superseded copy counts once, in the layer that added it: a file written in layers
    0, 1 and 2 wastes size0 + size1. Only regular files count (other types hold no bytes) and
    copies of 0 bytes are left out of ``copies``. Hardlinks are not followed: a copy that is
    still reachable through a hardlink is counted as wasted all the same.

    ``efficiency = 1 - wasted_bytes / file_bytes``, with ``file_bytes`` the sum of the sizes of
    every file entry of every layer (superseded ones included); 1.0 when there are no files.

    dive's score differs: per path it divides the smallest size seen by the sum of all sizes
    seen, where a whiteout adds the size of what it removes; so a file that is deleted scores
    0.5 there and 0 here. dive's "wasted bytes" add up every copy of a path that appears more
    than once, the surviving copy included (layers 0, 1, 2 -> size0 + size1 + size2).
    """

    copies: tuple[WastedCopy, ...]
    wasted_bytes: int
    file_bytes: int

    @property
    def efficiency(self) -> float:
        if self.file_bytes == 0:
            return 1.0
        return 1.0 - self.wasted_bytes / self.file_bytes


class _Overlay:
    """The merged view, keyed by lossless normalised path, with a child index for subtrees."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[Entry, int]] = {}
        self.children: dict[str, set[str]] = {}  # every key here is linked to its parent
        self.copies: list[WastedCopy] = []
        self.file_bytes = 0

    def _link(self, key: str) -> None:
        while key != ".":
            parent = _parent(key)
            kids = self.children.get(parent)
            if kids is not None:
                kids.add(key)
                return
            self.children[parent] = {key}
            key = parent

    def _waste(self, key: str, by: int, how: str) -> None:
        node = self.nodes.pop(key, None)
        if node is not None:
            entry, layer = node
            if entry.type == "file" and entry.size:
                self.copies.append(WastedCopy(entry.path, entry.size, layer, by, how))

    def _remove_children(self, key: str, by: int, how: str) -> None:
        """Remove the subtree below ``key``, depth first in path order (deterministic)."""
        stack = sorted(self.children.pop(key, ()), reverse=True)
        while stack:
            child = stack.pop()
            self._waste(child, by, how)
            stack.extend(sorted(self.children.pop(child, ()), reverse=True))

    def remove(self, key: str, by: int, how: str) -> None:
        if key == ".":
            return
        self._waste(key, by, how)
        self._remove_children(key, by, how)
        kids = self.children.get(_parent(key))
        if kids is not None:
            kids.discard(key)

    def add(self, entry: Entry, key: str, layer: int) -> None:
        if entry.type == "file":
            self.file_bytes += entry.size
        old = self.nodes.get(key)
        is_dir = entry.type == "dir"
        if old is not None and not (is_dir and old[0].type == "dir"):
            self._waste(key, layer, "overwritten")
        if not is_dir and key != ".":
            self._remove_children(key, layer, "overwritten")
        self.nodes[key] = (entry, layer)
        self._link(key)

    def apply(self, entries: Iterable[Entry], layer: int) -> None:
        entries = list(entries)
        additions = []
        opaque = []
        for entry in entries:
            if entry.whiteout is None:
                additions.append(entry)
            elif entry.whiteout == "file" and entry.whiteout_target is not None:
                self.remove(_target_key(entry), layer, "deleted")
            elif entry.whiteout == "opaque":
                opaque.append(entry)
        for entry in opaque:
            self._remove_children(_target_key(entry), layer, "hidden")
        for entry in additions:
            self.add(entry, _key(entry), layer)


def _key(entry: Entry) -> str:
    return _normalise(entry.name)[0] if entry.undecodable else entry.path


def _target_key(entry: Entry) -> str:
    if not entry.undecodable:
        return entry.whiteout_target or "."
    return _whiteout(_key(entry))[1] or "."


def analyse(layers: Iterable[Iterable[Entry]]) -> tuple[list[MergedEntry], Wasted]:
    """:func:`merge` and :func:`wasted` in one pass over the layers (bottom layer first)."""
    overlay = _Overlay()
    for index, entries in enumerate(layers):
        overlay.apply(entries, index)
    merged = [
        MergedEntry(entry.path, entry.type, entry.size, entry.mode, layer, entry.link_target)
        for _, (entry, layer) in sorted(overlay.nodes.items())
    ]
    waste = sum(copy.size for copy in overlay.copies)
    return merged, Wasted(tuple(overlay.copies), waste, overlay.file_bytes)


def merge(layers: Iterable[Iterable[Entry]]) -> list[MergedEntry]:
    """The filesystem the layers make, bottom layer first, sorted by path.

    Whiteouts never appear; a whiteout removes only what lower layers added (image-spec
    layer.md). An entry below a path that a layer made a non-directory is not checked for (such a
    layer fails to apply in Docker); it is shown as listed.
    """
    return analyse(layers)[0]


def wasted(layers: Iterable[Iterable[Entry]]) -> Wasted:
    """Superseded file copies of the layers, each counted once; see :class:`Wasted`."""
    return analyse(layers)[1]


__all__ = [
    "ENTRY_TYPES",
    "WASTE_KINDS",
    "WHITEOUTS",
    "Entry",
    "LayerListing",
    "Limits",
    "MergedEntry",
    "Wasted",
    "WastedCopy",
    "analyse",
    "gzip_isize",
    "iter_entries",
    "merge",
    "mode_string",
    "wasted",
    "zstd_content_size",
]
