"""Streaming decompression of layer blobs, and uncompressed sizes read from their headers.

:func:`decompressor` gives the function that turns the iterator of compressed chunks a blob
arrives in into decompressed pieces of at most 1 MiB each, so that a caller (the tar listing of
:mod:`ociinspect.layers.contents`) stops a bomb within 1 MiB of its limit; nothing is held beyond
one piece. Truncated or corrupt streams raise :class:`ArchiveError` naming ``what`` (e.g. the
layer's digest).

- gzip (RFC 1952): ``zlib.decompressobj(wbits=31)``, member after member (section 2.2 allows
  concatenated members; anything else after a member is refused, as Go's ``compress/gzip``
  does). When the ``isal`` package is installed (a dependency on x86-64 and ARM64, where it has
  wheels) its ``isal_zlib`` is used: same API, and a real gzip layer lists 1.3x faster (wall
  and CPU time, ``benchmarks/bench_zstd_listing.py``). The member header is checked here for
  both backends (ISA-L ignores reserved flag bits that zlib refuses).
- zstd (RFC 8878): ``zstandard``'s ``stream_reader`` with ``read_across_frames=True`` (bounded
  output per read, so a bomb cannot inflate in one call). It reports neither a stream cut short
  nor one that ends mid-frame, so :class:`_ZstdFrames` walks frame and block headers (section
  3.1) on the compressed bytes to tell the two apart. Frames needing a window over libzstd's
  default limit (128 MiB) are refused by libzstd.
- none: the chunks as they are (empty ones dropped).

:func:`gzip_isize` and :func:`zstd_content_size` estimate the uncompressed size from a few bytes
of the blob (RFC 1952 section 2.3.1 ISIZE, RFC 8878 section 3.1.1.1 Frame_Content_Size).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any, TypeAlias

import zstandard

from ..errors import ArchiveError

__all__ = ["Decompress", "decompressor", "gzip_isize", "zstd_content_size"]


def _load_isal() -> Any:
    """ISA-L's inflate (the optional ``isal`` package), a faster drop-in for zlib's; or None."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return isal_zlib


_isal_zlib: Any = _load_isal()

#: Upper bound of one decompressed piece: what a decompressor may produce per call (1 MiB).
_PIECE = 1 << 20
#: Compressed bytes handed to the gzip inflater at the start of each member (doubling after).
_FIRST_FEED = 4 << 10
#: gzip members that inflate to nothing, beyond which a stream is refused (eStargz ends with
#: one; concatenated empty files make a few).
MAX_EMPTY_GZIP_MEMBERS = 1024
_READ_SIZE = 256 << 10  # compressed bytes zstandard asks for per read


#: ``(chunks, what) -> pieces``: see :func:`decompressor`.
Decompress: TypeAlias = Callable[[Iterator[bytes], str], Iterator[bytes]]


def decompressor(compression: str) -> Decompress:
    """The function that decompresses a blob of ``compression``: gzip, zstd or none.

    ``decompressor("gzip")(chunks, what)`` yields the decompressed pieces (at most 1 MiB each)
    of a blob streamed as the iterator ``chunks``, reading nothing before the first piece is
    asked for. It raises :class:`ArchiveError` naming ``what`` for a truncated or corrupt stream;
    errors of ``chunks`` itself pass through. ValueError for an unknown ``compression``.
    """
    step = _DECOMPRESSORS.get(compression)
    if step is None:
        raise ValueError(f"unknown compression {compression!r}; expected gzip, zstd or none")
    return step


def _gzip_decompressobj() -> Any:
    if _isal_zlib is not None:
        return _isal_zlib.decompressobj(wbits=31)
    return zlib.decompressobj(wbits=31)


_GZIP_ERRORS: tuple[type[BaseException], ...] = (zlib.error,)
if _isal_zlib is not None:  # pragma: no cover - depends on the environment
    _GZIP_ERRORS = (zlib.error, _isal_zlib.error)


def _member_start(head: bytes) -> str | None:
    """What is wrong with the first bytes (up to 4) of a gzip member, or None (RFC 1952
    section 2.3.1: ID1 ID2 = 1f 8b, CM = 8 (deflate), FLG with bits 5-7 reserved: "must be
    zero"). Checked here because ISA-L's inflate, unlike zlib's, ignores reserved flags, and
    both backends must refuse the same streams."""
    if head[:1] not in (b"", b"\x1f") or head[1:2] not in (b"", b"\x8b"):
        return "not a gzip member (bad magic bytes)"
    if head[2:3] not in (b"", b"\x08"):
        return f"compression method {head[2]} is not deflate (8)"
    if len(head) > 3 and head[3] & 0xE0:
        return "reserved header flags set"
    return None


def _gunzip(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    """Inflate gzip members one after another, in pieces of at most :data:`_PIECE` bytes.

    Work is linear in the input however small its members: input is handed to the inflater in
    slices that start at :data:`_FIRST_FEED` bytes for each member and double while it goes
    on (what zlib copies back as ``unused_data`` at a member's end is at most one slice), and
    more than :data:`MAX_EMPTY_GZIP_MEMBERS` members that inflate to nothing are refused (a
    million 20-byte empty members would otherwise cost quadratic copying)."""
    d = _gzip_decompressobj()
    fed = False  # the current member has had input
    produced = False  # the current member has produced output
    members = empty = 0
    head = b""  # the current member's first bytes, until 4 are checked
    step = _FIRST_FEED
    for chunk in chunks:
        queue = memoryview(chunk)  # not yet handed to the inflater
        data: bytes | memoryview = b""
        fresh = True  # data not yet seen (not an unconsumed tail handed back)
        while data or queue:
            if not data:
                data, queue, fresh = queue[:step], queue[step:], True
            if fresh and len(head) < 4:
                head += bytes(data[: 4 - len(head)])
                problem = _member_start(head)
                if problem is not None:
                    raise ArchiveError(
                        f"{what}: corrupt gzip stream (member {members + 1}): {problem}"
                    )
            try:
                out = d.decompress(data, _PIECE)
            except _GZIP_ERRORS as exc:
                raise ArchiveError(
                    f"{what}: corrupt gzip stream (member {members + 1}): {exc}"
                ) from exc
            fed = True
            if out:
                produced = True
                yield out
            if d.eof:
                members += 1
                empty += not produced
                if empty > MAX_EMPTY_GZIP_MEMBERS:
                    raise ArchiveError(
                        f"{what}: over {MAX_EMPTY_GZIP_MEMBERS:,} gzip members that hold "
                        f"nothing (of {members:,} so far): not a layer a tool writes"
                    )
                data = d.unused_data
                d, fed, head, fresh, produced = _gzip_decompressobj(), False, b"", True, False
                step = _FIRST_FEED
            else:
                data, fresh = d.unconsumed_tail, False
                if not data:
                    step = min(step * 2, _PIECE)  # a long member: bigger slices
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
        read_size=_READ_SIZE,
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


_DECOMPRESSORS: dict[str, Decompress] = {
    "gzip": _gunzip,
    "zstd": _unzstd,
    "none": _plain,
}


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
