"""Read one file of an image as a container started from it would see it, without pulling it.

:class:`ImageReader` resolves a path through the layers top down, with the rules of image-spec
layer.md ("Whiteouts", "Opaque Whiteout", "Changeset over existing files", "Hardlinks"):

- the top-most layer that holds a path decides it; a ``.wh.<name>`` whiteout, a
  ``.wh..wh..opq`` marker on an ancestor, or an ancestor that a layer turns into a
  non-directory hides the path in every lower layer; an entry of a layer below a path of that
  same layer makes the directory implicitly;
- symlinks are followed inside the image's root, as ``chroot`` would: an absolute target starts
  again at the root, ``..`` at the root stays there, so no link leaves the image; after
  :data:`MAX_SYMLINKS` links the read ends with :class:`~ociinspect.errors.SymlinkLoopError`;
- a hardlink gives the bytes of the member it names: the earlier entry of its own layer (even
  when a later layer deletes that name, as overlay filesystems keep the inode), else the path in
  the layers below;
- a directory, a device, a FIFO or a sparse file raise
  :class:`~ociinspect.errors.NotAFileError`, a missing path
  :class:`~ociinspect.errors.ImagePathNotFoundError`, each saying what is there instead.

Reading stops at the first layer that decides the path. A layer is needed only when the lookup
reaches it, and it costs, in this order of preference:

1. nothing, when its index is in memory or in the disk cache
   (:meth:`~ociinspect.cache.BlobCache.get_index`);
2. its table of contents, for zstd:chunked and eStargz layers (:mod:`ociinspect.layers.toc`):
   Range requests for the TOC (eStargz: its footer first), checked against the manifest's
   annotation;
3. one verified pass over the whole layer (:func:`~ociinspect.layers.layerindex.index_layer`):
   streamed, never held, and not stored in the disk cache (a registry layer goes straight from
   the network through the decoder); the blob digest and the config's diff_id are checked at
   its end, before anything is kept; the bytes of the path asked for are captured on the way.

A member's bytes then come from what the pass captured, or from the smallest compressed span
that holds them: a Range request to the registry (pieces of at most 4 MiB), or a read in place
of a local blob (layout, archive, or a blob the disk cache holds). **What is verified when**:
a pass checks the layer's blob digest and diff_id; a later span read cannot (it sees a part of
the blob), so its decoded bytes are checked against the sha256 of that member that the verified
pass recorded (or, for zstd:chunked and eStargz, against the TOC's digest of the file, the
TOC itself checked against the verified manifest). When a span read fails (the registry or CDN
ignores ``Range`` for a blob over 64 MiB, answers a different length, or the bytes do not
check out), the reader falls back to a verified pass, and says so in :attr:`ImageReader.notes`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, BinaryIO

from ..errors import (
    ArchiveError,
    DigestMismatchError,
    ImageFileError,
    ImagePathNotFoundError,
    NotAFileError,
    OCIInspectError,
    SizeLimitError,
    SymlinkLoopError,
)
from ..sources.base import RangeSource
from ..values.models import Descriptor
from . import layerindex, seekable, toc
from .contents import Limits
from .layerindex import LayerIndex, Member
from .verify import check_diff_id, expected_diff_id

if TYPE_CHECKING:
    from ..navigation import Image

__all__ = ["MAX_SYMLINKS", "RANGE_PIECE", "Found", "ImageReader"]

#: Linux's MAXSYMLINKS: links followed in one resolution before it is called a loop.
MAX_SYMLINKS = 40
#: Bytes asked for per Range request (the client accepts answers up to 4 MiB).
RANGE_PIECE = 4 * 1024 * 1024
#: Captured or decoded file bytes are kept in memory up to this size, then in a temporary file.
SPOOL_MEMORY = 8 * 1024 * 1024
_HARDLINK_HOPS = 16
log = logging.getLogger("ociinspect.layers.reader")


@dataclass(frozen=True)
class Found:
    """Where a path was found: layer position, member position (-1: an implicit directory)."""

    layer: int
    position: int
    member: Member


class _Missing:
    def __init__(self, reason: str) -> None:
        self.reason = reason


class _RangeUnusable(Exception):
    """A span read that cannot be trusted or used: fall back to a verified pass."""


def _sink(size: int) -> IO[bytes]:
    if size <= SPOOL_MEMORY:
        return io.BytesIO()
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - returned


def _split(path: str) -> list[str]:
    return [part for part in path.split("/") if part and part != "."]


class ImageReader:
    """Reads files of one image (see the module doc); keep one for several reads of an image.

    ``limits`` bound each layer's pass (:class:`~ociinspect.layers.contents.Limits`).
    :attr:`notes` says what did not go the cheap way (fallbacks); :attr:`passes` counts whole
    layers streamed and :attr:`range_bytes` the bytes read by span.
    """

    def __init__(self, image: Image, limits: Limits | None = None) -> None:
        self.image = image
        self.source = image.source
        self.session = image.session
        self.cache = self.session.cache
        self.limits = limits or Limits()
        self.layers: tuple[Descriptor, ...] = image.layers
        self._indexes: dict[int, LayerIndex] = {}
        self._captured: dict[tuple[int, int], IO[bytes]] = {}
        #: (key, max bytes) of the path being resolved: captured when a pass meets it
        self._want: tuple[str, int] | None = None
        #: members a pass also captures (e.g. package databases), besides ``_want``
        self.also_capture: Callable[[Member], bool] | None = None
        self.notes: list[str] = []
        self.passes = 0
        self.range_bytes = 0
        self.range_requests = 0

    @property
    def name(self) -> str:
        return self.image.reference

    # -- layers ------------------------------------------------------------------------------

    def index(self, layer: int) -> LayerIndex:
        """The index of the layer at ``layer`` (0 = bottom): from memory, the disk cache, the
        layer's TOC, or one verified pass."""
        found = self._indexes.get(layer)
        if found is not None:
            return found
        desc = self.layers[layer]
        if desc.compression is None:
            raise ArchiveError(
                f"layer {layer} ({desc.digest}) of {self.name} is {desc.media_type!r}, "
                "not a tar layer"
            )
        stored = self.cache.get_index(desc.digest) if self.cache is not None else None
        index = layerindex.loads(stored, desc.digest) if stored is not None else None
        if index is None:
            where = toc.toc_location(desc)
            toc_digest = toc.estargz_toc_digest(desc)
            if where is not None:
                index = self._toc_index(layer, desc, where)
            elif toc_digest is not None:
                index = self._estargz_index(layer, desc, toc_digest)
            if index is None:
                index = self._pass(layer)
            self._store(desc, index)
        self._indexes[layer] = index
        return index

    def _store(self, desc: Descriptor, index: LayerIndex) -> None:
        if self.cache is None:
            return
        try:
            self.cache.put_index(desc.digest, layerindex.dumps(index))
        except OSError as exc:  # a cache that cannot be written costs speed, not the answer
            log.warning("cannot store the index of %s: %s", desc.digest, exc)

    def _toc_index(self, layer: int, desc: Descriptor, where: toc.TocLocation) -> LayerIndex | None:
        try:
            data = b"".join(self._range(desc, where.offset, where.offset + where.length - 1))
        except _RangeUnusable as exc:
            self.notes.append(f"layer {layer}: TOC not readable by range ({exc}); streamed")
            return None
        return toc.zstd_chunked_index(desc, data, where)

    def _estargz_index(self, layer: int, desc: Descriptor, toc_digest: str) -> LayerIndex | None:
        what = f"layer {layer} ({desc.digest}) of {self.name}"
        try:
            footer = b"".join(self._range(desc, desc.size - toc.ESTARGZ_FOOTER, None))
            offset = toc.estargz_toc_offset(footer, desc.size, what)
            length = desc.size - toc.ESTARGZ_FOOTER - offset
            if length > toc.MAX_TOC_BYTES:
                raise SizeLimitError(f"eStargz TOC of {what}", toc.MAX_TOC_BYTES, length)
            data = b"".join(self._range(desc, offset, desc.size - toc.ESTARGZ_FOOTER - 1))
        except _RangeUnusable as exc:
            self.notes.append(f"layer {layer}: TOC not readable by range ({exc}); streamed")
            return None
        return toc.estargz_index(desc, data, offset, toc_digest)

    def _open_blob(self, desc: Descriptor) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        from ..sources.registry import RegistrySource

        if isinstance(self.source, RegistrySource):
            return self.source.open_blob(desc.digest, desc.size, store=False)
        return self.source.open_blob(desc.digest, desc.size)

    def _pass(self, layer: int, also: int | None = None) -> LayerIndex:
        """Stream the whole layer once, verified; capture the wanted path (and member
        ``also``) on the way. Nothing captured is kept unless the layer checks out."""
        desc = self.layers[layer]
        compression = desc.compression or "none"
        captured: dict[int, IO[bytes]] = {}
        want = self._want

        def capture(position: int, member: Member) -> IO[bytes] | None:
            extra = self.also_capture
            if (
                position == also
                or (want is not None and member.key == want[0] and member.size <= want[1])
                or (extra is not None and extra(member))
            ):
                sink = _sink(member.size)
                captured[position] = sink
                return sink
            return None

        expected = expected_diff_id(self.image.config, layer)

        def check(actual: str) -> None:
            check_diff_id(self.name, layer, desc.digest, expected, actual)

        self.passes += 1
        try:
            with self._open_blob(desc) as chunks:
                index = layerindex.index_layer(
                    chunks,
                    compression,
                    desc.digest,
                    diff_id=None,
                    what=f"layer {layer} ({desc.digest}) of {self.name}",
                    limits=self.limits,
                    capture=capture,
                    on_diff_id=check,
                )
        except BaseException:
            for sink in captured.values():
                sink.close()
            raise
        for position, sink in captured.items():
            old = self._captured.pop((layer, position), None)
            if old is not None:
                old.close()
            self._captured[(layer, position)] = sink
        return index

    # -- lookups -----------------------------------------------------------------------------

    def lookup(self, key: str, below: int | None = None) -> Found | _Missing:
        """The top-most decision about ``key`` (a normalised path; ``.`` is the root) in the
        layers under ``below`` (default: all), with no symlink followed."""
        if key == ".":
            return Found(len(self.layers) - 1, -1, Member(".", "dir", 0, 0o755))
        top = len(self.layers) if below is None else below
        for layer in range(top - 1, -1, -1):
            index = self.index(layer)
            entry = index.entry(key)
            if entry is not None:
                return Found(layer, entry[0], entry[1])
            if index.has_below(key):
                return Found(layer, -1, Member(key, "dir", 0, 0o755))
            why = index.hides(key)
            if why is not None:
                return _Missing(f"{why} in layer {layer}")
        count = top
        return _Missing(f"is in none of the {count} layer{'s' if count != 1 else ''}")

    def resolve(self, path: str, max_size: int | None = None) -> tuple[str, Found]:
        """``path`` followed to what it names: ``(key, Found)``; raises the typed errors of
        the module doc. ``max_size`` sets what a pass may capture on the way."""
        if not isinstance(path, str) or "\x00" in path:
            raise ImagePathNotFoundError(self.name, str(path), "not a path")
        shown = "/" + "/".join(_split(path))
        queue = _split(path)
        self._want = ("/".join(queue) or ".", max_size if max_size is not None else 1 << 62)
        current: list[str] = []
        followed: list[str] = []
        found = self.lookup(".")
        assert isinstance(found, Found)
        while queue:
            part = queue.pop(0)
            if part == "..":
                if current:
                    current.pop()
                found = self.lookup("/".join(current) or ".")
                assert isinstance(found, Found)
                continue
            key = "/".join([*current, part])
            found_or_missing = self.lookup(key)
            if isinstance(found_or_missing, _Missing):
                near = "/" + "/".join(current)
                raise ImagePathNotFoundError(
                    self.name,
                    shown,
                    f"no such file or directory: /{key} {found_or_missing.reason} "
                    f"({near} is a directory)",
                    "see what is there with ociinspect.filesystem(ref) or "
                    "`ociinspect filesystem REF`",
                )
            found = found_or_missing
            member = found.member
            if member.type == "symlink" and member.link is not None:
                followed.append(f"/{key} -> {member.link}")
                if len(followed) > MAX_SYMLINKS:
                    chain = "; ".join(followed[:4])
                    raise SymlinkLoopError(
                        self.name,
                        shown,
                        f"more than {MAX_SYMLINKS} symlinks followed (a loop): {chain}; …",
                        "read the link itself with ociinspect.files(ref, layer) to see it",
                    )
                target = member.link
                if target.startswith("/"):
                    current = []
                queue = _split(target) + queue
                if not queue:  # a link to "/" or to "."
                    found = self.lookup("/".join(current) or ".")
                    assert isinstance(found, Found)
                continue
            if queue and member.type != "dir":
                raise ImagePathNotFoundError(
                    self.name,
                    shown,
                    f"/{key} is a {_kind(member)} (layer {found.layer}), not a directory",
                )
            current.append(part)
        return "/".join(current) or ".", found

    # -- data ----------------------------------------------------------------------------------

    def data_member(self, key: str, found: Found) -> tuple[int, int, Member]:
        """The member holding the bytes of what ``found`` names (a hardlink's target)."""
        layer, position, member = found.layer, found.position, found.member
        for _ in range(_HARDLINK_HOPS):
            if member.type != "hardlink":
                return layer, position, member
            if member.link_index is not None:
                position = member.link_index
                member = self.index(layer).members[position]
                continue
            if member.link is None:
                break
            below = self.lookup(member.link, below=layer)
            if isinstance(below, _Missing) or below.position < 0:
                raise ImagePathNotFoundError(
                    self.name,
                    f"/{key}",
                    f"a hardlink (layer {layer}) to /{member.link}, which is not in the layers "
                    "below it",
                )
            layer, position, member = below.layer, below.position, below.member
        raise NotAFileError(self.name, f"/{key}", "hardlink", "a chain of hardlinks too long")

    def open(self, path: str, max_size: int | None = None) -> BinaryIO:
        """The bytes of the file at ``path``, verified, as a binary file object (in memory up
        to 8 MiB, else a temporary file). ``max_size`` refuses a larger file before any of its
        bytes is read (:class:`~ociinspect.errors.SizeLimitError`)."""
        key, found = self.resolve(path, max_size)
        return self.open_found(key, found, max_size)

    def open_found(self, key: str, found: Found, max_size: int | None = None) -> BinaryIO:
        """The bytes of the member ``found`` names (a layer's own member, see :meth:`lookup`);
        ``key`` names it in errors. Verified as :meth:`open` says."""
        shown = "/" + ("" if key == "." else key)
        if found.member.type not in ("file", "hardlink"):
            raise _not_a_file(self, shown, found)
        layer, position, member = self.data_member(key, found)
        if member.type != "file" or position < 0:
            raise _not_a_file(self, shown, Found(layer, position, member))
        if member.sparse:
            raise NotAFileError(
                self.name, shown, "file", f"a GNU sparse file (layer {layer}): not read"
            )
        if max_size is not None and member.size > max_size:
            raise SizeLimitError(f"{shown} in {self.name}", max_size, member.size)
        sink = self._captured.pop((layer, position), None)
        if sink is None:
            sink = self._read_member(layer, position, member)
        sink.seek(0)
        return sink  # type: ignore[return-value]

    def read(self, path: str, max_size: int | None = None) -> bytes:
        """The bytes of the file at ``path`` (see :meth:`open`)."""
        with self.open(path, max_size) as handle:
            return handle.read()

    def _read_member(self, layer: int, position: int, member: Member) -> IO[bytes]:
        index = self.index(layer)
        desc = self.layers[layer]
        if index.kind == "stream" and index.seek is None:
            return self._fallback(layer, position, "this machine cannot seek gzip")
        sink = _sink(member.size)
        try:
            digest = hashlib.sha256()
            total = 0
            for piece in self._member_pieces(index, desc, member):
                digest.update(piece)
                total += len(piece)
                sink.write(piece)
            if total != member.size or digest.hexdigest() != member.sha256:
                raise _RangeUnusable(
                    f"bytes of /{member.key} do not match the index "
                    f"({total} of {member.size} bytes, sha256 {digest.hexdigest()[:12]})"
                )
        except (_RangeUnusable, OCIInspectError) as exc:
            sink.close()
            if isinstance(exc, ImageFileError):
                raise
            return self._fallback(layer, position, str(exc))
        return sink

    def _member_pieces(
        self, index: LayerIndex, desc: Descriptor, member: Member
    ) -> Iterator[bytes]:
        what = f"/{member.key} in layer {desc.digest}"
        if index.kind == "toc":
            for frames, compressed in self._spans(desc, member.spans):
                if index.compression == "gzip":  # eStargz: (start, end, skip, length)
                    skip, length = frames[2], frames[3]
                    yield from seekable.inflate_span(compressed, None, skip, length, what)
                else:  # zstd:chunked: (start, end), whole frames
                    yield from seekable.unzstd_span(compressed, 0, 1 << 62, what)
            return
        seek = index.seek
        assert seek is not None
        if member.size == 0:
            return
        span = seek.span(member.offset, member.offset + member.size)
        compressed = self._range(desc, span.first, span.last)
        if seek.compression == "none":
            yield from compressed
        elif seek.compression == "gzip":
            skip = member.offset - (span.point.out if span.point is not None else 0)
            yield from seekable.inflate_span(compressed, span.point, skip, member.size, what)
        else:
            yield from seekable.unzstd_span(compressed, member.offset, member.size, what)

    def _spans(
        self, desc: Descriptor, spans: tuple[tuple[int, ...], ...]
    ) -> Iterator[tuple[tuple[int, ...], Iterable[bytes]]]:
        """Each TOC span with its compressed bytes. Spans that follow each other in the blob
        (a file's chunks) are fetched together, by as few Range requests as their bytes need;
        each small span is then cut out of that stream (at most :data:`RANGE_PIECE` held); a
        bigger one streams by itself."""
        at = 0
        while at < len(spans):
            span = spans[at]
            if span[1] - span[0] > RANGE_PIECE:
                yield span, self._range(desc, span[0], span[1] - 1)
                at += 1
                continue
            run = at + 1
            while (
                run < len(spans)
                and spans[run][0] == spans[run - 1][1]
                and spans[run][1] - spans[run][0] <= RANGE_PIECE
            ):
                run += 1
            stream = self._range(desc, span[0], spans[run - 1][1] - 1)
            held = bytearray()
            for piece in spans[at:run]:
                need = piece[1] - piece[0]
                while len(held) < need:
                    more = next(stream, None)
                    if more is None:
                        raise _RangeUnusable(f"{desc.digest}: the span read ended early")
                    held += more
                yield piece, (bytes(held[:need]),)
                del held[:need]
            at = run

    def _range(self, desc: Descriptor, first: int, last: int | None) -> Iterator[bytes]:
        """Compressed bytes ``first..last`` of a layer blob, by span reads of at most
        :data:`RANGE_PIECE`; a source that sent the whole blob instead is used as it is."""
        if not isinstance(self.source, RangeSource):
            raise _RangeUnusable("the source cannot read part of a blob")
        end = desc.size - 1 if last is None else min(last, desc.size - 1)
        pos = first
        while pos <= end:
            stop = min(pos + RANGE_PIECE - 1, end)
            try:
                got = self.source.blob_range(desc.digest, pos, stop, desc.size)
            except SizeLimitError as exc:  # Range ignored for a blob over the whole-blob limit
                raise _RangeUnusable(f"Range not honoured: {exc}") from exc
            self.range_requests += 1
            if got.whole:
                self.notes.append(f"{desc.digest}: Range ignored; the whole blob came (verified)")
                self.range_bytes += len(got.data)
                yield got.data[pos : end + 1]
                return
            if len(got.data) != stop - pos + 1:
                raise _RangeUnusable(
                    f"asked for bytes {pos}-{stop} of {desc.digest}, got {len(got.data)} bytes"
                )
            self.range_bytes += len(got.data)
            yield got.data
            pos = stop + 1

    def _fallback(self, layer: int, position: int, why: str) -> IO[bytes]:
        """Read a member by a verified pass over its layer (the span read could not be used)."""
        self.notes.append(f"layer {layer}: {why}; streamed the whole layer instead")
        log.info("layer %d of %s: %s; streaming it", layer, self.name, why)
        index = self._pass(layer, also=position)
        self._indexes[layer] = index
        self._store(self.layers[layer], index)
        sink = self._captured.pop((layer, position), None)
        if sink is None:  # pragma: no cover - the pass captures ``also`` or raises
            raise DigestMismatchError(f"layer {layer} of {self.name}", "a member", "none")
        return sink

    def close(self) -> None:
        """Drop what was captured and not read."""
        for sink in self._captured.values():
            sink.close()
        self._captured.clear()

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kind(member: Member) -> str:
    return {
        "file": "regular file",
        "hardlink": "regular file (hardlink)",
        "dir": "directory",
        "symlink": "symlink",
        "char": "character device",
        "block": "block device",
        "fifo": "FIFO",
    }.get(member.type, f"{member.type} entry")


def _not_a_file(reader: ImageReader, shown: str, found: Found) -> NotAFileError:
    member = found.member
    if member.type == "dir":
        names: set[str] = set()
        for layer in range(len(reader.layers)):
            index = reader._indexes.get(layer)
            if index is not None:
                names.update(index.children(member.key))
        listed = ", ".join(sorted(names)[:8]) + (", …" if len(names) > 8 else "")
        return NotAFileError(
            reader.name,
            shown,
            "dir",
            f"is a directory (layer {found.layer})" + (f" holding {listed}" if names else ""),
            "read a file inside it, or list it with ociinspect.filesystem(ref)",
        )
    detail = ""
    if member.type in ("char", "block"):
        detail = f" {member.devmajor}:{member.devminor}"
    return NotAFileError(
        reader.name,
        shown,
        member.type,
        f"is a {_kind(member)}{detail} (layer {found.layer}), which holds no file data",
    )
