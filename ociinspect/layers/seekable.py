"""Seekable reads of compressed layers: zran-style checkpoints over gzip, marks over zstd.

A gzip stream (RFC 1951/1952) can only be decoded from its start, because every deflate block
may copy from the 32 KiB of output before it. zlib's ``examples/zran.c`` shows the way round:
while decoding once, stop at block boundaries (``inflate(..., Z_BLOCK)``), and now and then
keep an *access point*: the compressed offset, the number of bits of the boundary byte already
used, and the last 32 KiB of output (the window). Later, decoding can restart at an access point
with a raw inflater primed with those bits (``inflatePrime``) and the window as its dictionary
(``inflateSetDictionary``). Python's :mod:`zlib` exposes neither ``Z_BLOCK`` nor the stream's
``data_type``, so :class:`GzipIndexer` drives the same libz through :mod:`ctypes`; that is
"a pure-zlib zran of our own". It was chosen over ``indexed_gzip`` and ``rapidgzip`` by
measurement (``benchmarks/seekable_gzip.md``): both want a seekable file of the whole blob for
their first pass, while a registry layer arrives as a stream, and both read ahead in large
blocks when resuming, which costs Range bytes; this one decodes from the stream at zlib's speed
and resumes with the exact byte span a read needs.

What is kept, per layer (:class:`SeekIndex`):

- ``gzip``: access points every :data:`SPACING` compressed or decoded bytes (``out``, ``in``,
  ``bits`` and the window) and a *mark* ``(in, out)`` at every block boundary: all output
  before ``out`` was produced by the compressed bytes before ``in``. To read uncompressed
  ``[a, b)``, fetch compressed bytes from the last access point at or before ``a`` to the first
  mark at or after ``b``: at most :data:`SPACING` bytes more than the deflate blocks that hold
  the data.
- ``zstd``: only marks (the zstd library cannot restart inside a frame); a read decodes from
  the start of the blob to the first mark past ``b``.
- ``none``: the blob is the tar; offsets are the same.

Multi-member gzip (pigz, some layer tools; RFC 1952 section 2.2) is decoded member after member;
a resumed read crosses member boundaries (trailer skipped, next header parsed).

Corrupt or truncated streams raise :class:`~ociinspect.errors.ArchiveError`. When libz cannot
be loaded (no ``libz`` shared library, e.g. on Windows) :func:`available` is False and readers
fall back to streaming whole layers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import zstandard

from ..errors import ArchiveError

__all__ = [
    "SPACING",
    "WINDOW",
    "AccessPoint",
    "GzipIndexer",
    "SeekIndex",
    "Span",
    "ZstdIndexer",
    "available",
    "inflate_span",
    "unzstd_span",
]

#: Bytes between access points, compressed or decoded (whichever comes first): a resumed read
#: fetches at most this much more than it needs, and decodes at most this much more.
SPACING = 1 << 20
#: deflate's window (RFC 1951 section 2: "back 32K").
WINDOW = 32 * 1024
_OUT = 256 * 1024  # output buffer per inflate call
_PIECE = 1 << 20  # yield decoded output in pieces of at most this much

_Z_OK, _Z_STREAM_END, _Z_NEED_DICT, _Z_BUF_ERROR = 0, 1, 2, -5
_Z_NO_FLUSH, _Z_BLOCK = 0, 5
_GZIP_WBITS, _RAW_WBITS = 31, -15
_GZIP_TRAILER = 8  # CRC32 and ISIZE (RFC 1952 section 2.3.1)


class _ZStream(ctypes.Structure):
    """zlib.h ``z_stream`` (uLong is C ``unsigned long``: 64-bit on LP64, 32 on LLP64)."""

    _fields_ = [
        ("next_in", ctypes.c_void_p),
        ("avail_in", ctypes.c_uint),
        ("total_in", ctypes.c_ulong),
        ("next_out", ctypes.c_void_p),
        ("avail_out", ctypes.c_uint),
        ("total_out", ctypes.c_ulong),
        ("msg", ctypes.c_char_p),
        ("state", ctypes.c_void_p),
        ("zalloc", ctypes.c_void_p),
        ("zfree", ctypes.c_void_p),
        ("opaque", ctypes.c_void_p),
        ("data_type", ctypes.c_int),
        ("adler", ctypes.c_ulong),
        ("reserved", ctypes.c_ulong),
    ]


@functools.lru_cache(maxsize=1)
def _libz() -> Any:
    """libz through ctypes, or None when it cannot be found or lacks what zran needs."""
    name = ctypes.util.find_library("z") or ctypes.util.find_library("zlib")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        stream = ctypes.POINTER(_ZStream)
        lib.zlibVersion.restype = ctypes.c_char_p
        lib.inflateInit2_.argtypes = [stream, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.inflate.argtypes = [stream, ctypes.c_int]
        lib.inflateEnd.argtypes = [stream]
        lib.inflateReset2.argtypes = [stream, ctypes.c_int]
        lib.inflatePrime.argtypes = [stream, ctypes.c_int, ctypes.c_int]
        lib.inflateSetDictionary.argtypes = [stream, ctypes.c_void_p, ctypes.c_uint]
    except (OSError, AttributeError):  # pragma: no cover - depends on the platform
        return None
    return lib


def available() -> bool:
    """Whether seekable gzip indexes can be built and used here (libz loads through ctypes)."""
    return _libz() is not None


class _Inflater:
    """One ``z_stream`` and its output buffer; ``close()`` frees zlib's state."""

    def __init__(self, wbits: int, what: str) -> None:
        lib = _libz()
        if lib is None:  # pragma: no cover - depends on the platform
            raise ArchiveError(f"{what}: libz cannot be loaded for seekable reads")
        self.lib = lib
        self.what = what
        self.stream = _ZStream()
        self.ref = ctypes.byref(self.stream)
        ret = lib.inflateInit2_(self.ref, wbits, lib.zlibVersion(), ctypes.sizeof(_ZStream))
        if ret != _Z_OK:  # pragma: no cover - only out of memory
            raise ArchiveError(f"{what}: inflateInit2 failed ({ret})")
        self.buffer = ctypes.create_string_buffer(_OUT)
        self.base = ctypes.addressof(self.buffer)
        self.used = 0
        self._input: bytes = b""
        self._open = True

    def feed(self, data: bytes) -> None:
        """Point the stream at ``data`` (kept referenced while zlib reads it)."""
        self._input = data
        self.stream.next_in = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value
        self.stream.avail_in = len(data)

    @property
    def consumed(self) -> int:
        """Bytes of the last fed buffer zlib has taken."""
        return len(self._input) - self.stream.avail_in

    def step(self, flush: int) -> int:
        """One ``inflate`` call into the free part of the output buffer; returns zlib's code."""
        self.stream.next_out = self.base + self.used
        self.stream.avail_out = _OUT - self.used
        ret: int = self.lib.inflate(self.ref, flush)
        self.used = _OUT - self.stream.avail_out
        if ret in (_Z_OK, _Z_STREAM_END, _Z_BUF_ERROR):
            return ret
        message = self.stream.msg.decode("ascii", "replace") if self.stream.msg else str(ret)
        raise ArchiveError(f"{self.what}: corrupt gzip stream: {message}")

    def take(self) -> bytes:
        """The output produced since the last take."""
        out = ctypes.string_at(self.base, self.used)
        self.used = 0
        return out

    def reset(self, wbits: int) -> None:
        if self.lib.inflateReset2(self.ref, wbits) != _Z_OK:  # pragma: no cover
            raise ArchiveError(f"{self.what}: inflateReset2 failed")

    def close(self) -> None:
        if self._open:
            self._open = False
            self.lib.inflateEnd(self.ref)


@dataclass(frozen=True)
class AccessPoint:
    """Where decoding can restart: uncompressed offset ``out``, compressed offset ``in_``
    (of the first byte not wholly consumed), ``bits`` of byte ``in_ - 1`` still unused and
    the ``window`` (the 32 KiB of output before ``out``)."""

    out: int
    in_: int
    bits: int
    window: bytes = field(repr=False)


@dataclass(frozen=True)
class Span:
    """The compressed bytes ``first..last`` (inclusive; ``last`` None = to the end) to fetch
    to decode uncompressed ``[start, end)``; ``point`` is the access point to restart at
    (None: decode from the start of the blob)."""

    first: int
    last: int | None
    point: AccessPoint | None


@dataclass(frozen=True)
class SeekIndex:
    """How to reach an uncompressed offset of one layer blob (see the module doc)."""

    compression: str
    compressed_size: int
    uncompressed_size: int
    points: tuple[AccessPoint, ...] = ()
    marks: tuple[tuple[int, int], ...] = ()  # (in, out), sorted by both

    def span(self, start: int, end: int) -> Span:
        """The compressed span to fetch to decode uncompressed ``[start, end)``."""
        if self.compression == "none":
            return Span(start, max(end - 1, start), None)
        last = None
        if end < self.uncompressed_size:
            outs = [out for _, out in self.marks]
            i = _bisect_left(outs, end)
            if i < len(self.marks):
                last = max(self.marks[i][0] - 1, 0)
        point = None
        if self.compression == "gzip":
            outs = [p.out for p in self.points]
            j = _bisect_right(outs, start) - 1
            if j >= 0:
                point = self.points[j]
        first = 0 if point is None else point.in_ - (1 if point.bits else 0)
        if last is not None and last < first:
            last = first
        return Span(first, last, point)


def _bisect_left(values: list[int], x: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _bisect_right(values: list[int], x: int) -> int:
    lo, hi = 0, len(values)
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


class GzipIndexer:
    """Decode a gzip blob streamed as chunks, recording access points and marks on the way.

    ``pieces = indexer.inflate(chunks)`` yields the decompressed stream (pieces of at most
    1 MiB); once it is exhausted, :meth:`index` is the :class:`SeekIndex`. Member after member
    as :func:`ociinspect.layers.compression.decompressor` does, with the same refusals.
    """

    def __init__(self, what: str = "layer", spacing: int = SPACING) -> None:
        self.what = what
        self.spacing = spacing
        self.points: list[AccessPoint] = []
        self._marks = array("Q")
        self.compressed = 0
        self.uncompressed = 0
        self.members = 0
        self._done = False

    def index(self) -> SeekIndex:
        if not self._done:
            raise RuntimeError(f"{self.what}: the index is known once the stream has ended")
        marks = tuple(zip(self._marks[0::2], self._marks[1::2], strict=True))
        return SeekIndex(
            "gzip", self.compressed, self.uncompressed, tuple(self.points), marks
        )

    def inflate(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        inflater = _Inflater(_GZIP_WBITS, self.what)
        tail = b""  # the last WINDOW bytes of output already yielded
        base_in = 0  # compressed bytes before the current chunk
        flushed = 0  # output bytes already yielded
        fed = False  # the current member has had input
        ended = False  # the last member ended exactly at the end of a chunk
        last_point = (-self.spacing, -self.spacing)  # (in, out) of the last access point
        last_mark = (-1, -1)
        marks = self._marks
        try:
            for chunk in chunks:
                if not chunk:
                    continue
                if ended:
                    inflater.reset(_GZIP_WBITS)
                    ended = False
                inflater.feed(chunk)
                while True:
                    ret = inflater.step(_Z_BLOCK)
                    fed = True
                    if ret == _Z_STREAM_END:
                        self.members += 1
                        fed = False
                        if inflater.stream.avail_in:
                            inflater.reset(_GZIP_WBITS)
                            continue
                        ended = True
                        break
                    data_type = inflater.stream.data_type
                    if data_type & 128 and not data_type & 64:
                        position = base_in + inflater.consumed
                        out = flushed + inflater.used
                        if (position, out) != last_mark:
                            last_mark = (position, out)
                            marks.append(position)
                            marks.append(out)
                            if (
                                position - last_point[0] >= self.spacing
                                or out - last_point[1] >= self.spacing
                            ):
                                last_point = (position, out)
                                window = tail + ctypes.string_at(inflater.base, inflater.used)
                                self.points.append(
                                    AccessPoint(out, position, data_type & 7, window[-WINDOW:])
                                )
                    if inflater.used >= _OUT // 2:
                        piece = inflater.take()
                        flushed += len(piece)
                        tail = (tail + piece)[-WINDOW:]
                        yield piece
                    elif ret == _Z_BUF_ERROR and inflater.stream.avail_in:
                        raise ArchiveError(f"{self.what}: gzip stream makes no progress")
                    if inflater.stream.avail_in == 0 and inflater.stream.avail_out:
                        break
                base_in += len(chunk)
                self.compressed = base_in
            if inflater.used:
                piece = inflater.take()
                flushed += len(piece)
                yield piece
            if fed:
                raise ArchiveError(
                    f"{self.what}: truncated gzip stream: member {self.members + 1} has no end"
                )
            if self.members == 0:
                raise ArchiveError(f"{self.what}: empty gzip stream")
            self.uncompressed = flushed
            self._done = True
        finally:
            inflater.close()


def inflate_span(
    chunks: Iterable[bytes], point: AccessPoint | None, skip: int, length: int, what: str
) -> Iterator[bytes]:
    """Decode a gzip span fetched for :meth:`SeekIndex.span`: ``chunks`` are the compressed
    bytes from ``span.first`` on; the first ``skip`` decoded bytes are dropped and ``length``
    bytes are yielded (fewer only if the data ends first: the caller checks)."""
    if length <= 0:
        return
    raw = point is not None
    inflater = _Inflater(_RAW_WBITS if raw else _GZIP_WBITS, what)
    prime_bits = point.bits if point is not None else 0
    trailer = 0  # bytes of a member trailer still to skip (raw mode stops before it)
    ended = False
    try:
        if point is not None and point.window:
            window = ctypes.create_string_buffer(point.window, len(point.window))
            ret = inflater.lib.inflateSetDictionary(
                inflater.ref, ctypes.addressof(window), len(point.window)
            )
            if ret != _Z_OK:
                raise ArchiveError(f"{what}: the index's window does not fit ({ret})")
        for chunk in chunks:
            data = bytes(chunk)
            if prime_bits and data:
                value = data[0] >> (8 - prime_bits)
                if inflater.lib.inflatePrime(inflater.ref, prime_bits, value) != _Z_OK:
                    raise ArchiveError(f"{what}: inflatePrime failed")
                prime_bits = 0
                data = data[1:]
            while data:
                if trailer:
                    cut = min(trailer, len(data))
                    trailer -= cut
                    data = data[cut:]
                    continue
                if ended:
                    inflater.reset(_GZIP_WBITS)
                    raw = ended = False
                inflater.feed(data)
                while True:
                    ret = inflater.step(_Z_NO_FLUSH)
                    full = inflater.stream.avail_out == 0
                    if inflater.used:
                        piece = inflater.take()
                        if skip >= len(piece):
                            skip -= len(piece)
                        else:
                            piece = piece[skip : skip + length]
                            skip = 0
                            length -= len(piece)
                            yield piece
                            if length <= 0:
                                return
                    if ret == _Z_STREAM_END:
                        ended = True
                        trailer = _GZIP_TRAILER if raw else 0
                        break
                    if inflater.stream.avail_in == 0 and not full:
                        break
                    if ret == _Z_BUF_ERROR and not full:
                        raise ArchiveError(f"{what}: gzip span makes no progress")
                data = data[inflater.consumed :]
    finally:
        inflater.close()


class ZstdIndexer:
    """Decode a zstd blob streamed as chunks, recording marks ``(in, out)`` per chunk fed."""

    def __init__(self, what: str = "layer") -> None:
        self.what = what
        self._marks = array("Q")
        self.compressed = 0
        self.uncompressed = 0
        self._done = False

    def index(self) -> SeekIndex:
        if not self._done:
            raise RuntimeError(f"{self.what}: the index is known once the stream has ended")
        marks = tuple(zip(self._marks[0::2], self._marks[1::2], strict=True))
        return SeekIndex("zstd", self.compressed, self.uncompressed, (), marks)

    def observe(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass the compressed chunks through, counting them (for :meth:`mark`)."""
        for chunk in chunks:
            self.compressed += len(chunk)
            yield chunk

    def mark(self, out: int) -> None:
        """Record that ``out`` decoded bytes came from the compressed bytes seen so far."""
        self._marks.append(self.compressed)
        self._marks.append(out)

    def finish(self, out: int) -> None:
        self.uncompressed = out
        self._done = True


def unzstd_span(chunks: Iterable[bytes], skip: int, length: int, what: str) -> Iterator[bytes]:
    """Decode zstd bytes fetched from the start of a blob: drop ``skip`` bytes, yield
    ``length`` (fewer only if the data ends: the caller checks)."""
    if length <= 0:
        return
    decoder = zstandard.ZstdDecompressor().decompressobj()
    try:
        for chunk in chunks:
            data = chunk
            while data:
                try:
                    piece = decoder.decompress(data)
                except zstandard.ZstdError as exc:
                    raise ArchiveError(f"{what}: corrupt zstd stream: {exc}") from exc
                data = decoder.unused_data
                if data:  # the next frame: zstandard's decompressobj reads one frame
                    decoder = zstandard.ZstdDecompressor().decompressobj()
                if not piece:
                    continue
                if skip >= len(piece):
                    skip -= len(piece)
                    continue
                piece = piece[skip : skip + length]
                skip = 0
                length -= len(piece)
                yield piece
                if length <= 0:
                    return
    finally:
        del decoder
