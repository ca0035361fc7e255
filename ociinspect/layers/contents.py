"""Layer contents: a streamed listing of the tar entries of one layer blob.

Listing (:func:`iter_entries`) reads a layer blob as the iterator of byte chunks it arrives in,
decompresses on the fly (:mod:`ociinspect.layers.compression`) and lists the tar entries without
extracting anything and without holding the layer in memory: file data is skipped, not buffered.
Decompressed bytes are counted and hashed as they pass, so the exact uncompressed size and the
``diff_id`` (image-spec config.md, "rootfs.diff_ids": the digest of the uncompressed tar) are known
when the listing ends. Applying the listed layers one over another (whiteouts, wasted space) is
:mod:`ociinspect.layers.overlay`.

How the archive is read, and why:

- ``tarfile.TarFile(fileobj=..., mode="r")`` over :class:`_Stream`, a forward-only file object
  (``read``/``tell`` and a ``seek`` that only moves forward). Stream mode (``"r|"``) would also
  work, but then tarfile skips file data by copying it through its own 10 KiB buffer; here a skip
  drops whole decompressed pieces, and every ``read`` (only header data is ever read) is checked
  against :attr:`Limits.max_pax_header` *before* the bytes are produced.
- tarfile decodes names as UTF-8 with ``surrogateescape``, so no name fails to decode. An
  :class:`TarEntry` keeps that lossless ``name`` (:attr:`TarEntry.raw_name` gives the bytes back)
  and shows a display-safe ``path`` with U+FFFD for undecodable bytes (``undecodable=True``);
  merging uses the lossless form, so two different undecodable names never collide.
- tarfile silently stops at a damaged header once one member was read; the listing checks how it
  stopped (end-of-archive zero block, clean end of data, or not) and raises :class:`ArchiveError`
  for a truncated or invalid header. Truncated or corrupt gzip/zstd streams are errors too.
- Whiteout files are recognised by name as they are listed (image-spec layer.md "Whiteouts":
  ``.wh.<name>``, the opaque ``.wh..wh..opq``, other ``.wh..wh.*`` aufs metadata) and reported in
  :attr:`TarEntry.whiteout` / :attr:`TarEntry.whiteout_target`; nothing is applied here.
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ArchiveError, OCIInspectError, SizeLimitError
from .compression import decompressor

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_BLOCK = tarfile.BLOCKSIZE

ENTRY_TYPES = ("file", "dir", "symlink", "hardlink", "char", "block", "fifo", "other")
WHITEOUTS = ("file", "opaque", "meta")

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
class TarEntry:
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
            raise ValueError(f"TarEntry.type must be one of {ENTRY_TYPES}, got {self.type!r}")
        if self.whiteout is not None and self.whiteout not in WHITEOUTS:
            raise ValueError(f"TarEntry.whiteout must be None or one of {WHITEOUTS}")

    @property
    def raw_name(self) -> bytes:
        """The entry's name as bytes, exactly as the archive spelled it."""
        return self.name.encode("utf-8", "surrogateescape")

    @property
    def mode_string(self) -> str:
        return mode_string(self.type, self.mode)


class _SourceFailure(Exception):
    """Carries an exception raised by the caller's chunk iterator through tarfile, unchanged."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


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


def _entry(info: tarfile.TarInfo, seen: set[str], what: str) -> TarEntry:
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
    return TarEntry(
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


class LayerListing(Iterator[TarEntry]):
    """An iterator of a layer's :class:`TarEntry` values; totals are set once it is exhausted.

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
        self._decompress = decompressor(compression)  # ValueError for an unknown one
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

    def __next__(self) -> TarEntry:
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

    def _run(self) -> Generator[TarEntry, None, None]:
        what = self.what
        stream = _Stream(self._decompress(self._chunks(), what), self.limits, what)
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


__all__ = [
    "ENTRY_TYPES",
    "WHITEOUTS",
    "TarEntry",
    "LayerListing",
    "Limits",
    "iter_entries",
    "mode_string",
]
