"""An on-disk, content-addressed cache of blobs and manifests.

Layout (the ``blobs/`` part is the OCI image-layout's, image-spec image-layout.md "blobs")::

    <directory>/blobs/<algorithm>/<hex>        the exact bytes of a blob or manifest
    <directory>/meta/<algorithm>/<hex>.json    small facts about a digest: {"mediaType": ...} for
                                               entries stored by put_manifest, and what
                                               put_meta adds (a layer's uncompressed size)
    <directory>/tags/<sha256 of ref>.json      the digest a tag pointed at when last resolved
    <directory>/index/<algorithm>/<hex>.idx    a layer's seekable index (tar entries, access
                                               points; :mod:`ociinspect.layers.layerindex`)

Keys are digests only. **Tags are never answered from the cache**: a tag is a mutable pointer, so
a caller that starts from a tag must resolve it against the registry (a manifest HEAD is enough)
and then ask the cache for the digest it got back. :meth:`BlobCache.put_tag` remembers the last
digest seen, as a *hint* (whether a HEAD is likely to find the manifest here; what an explicit
offline mode may fall back to, saying so). Passing a tag where a digest is expected raises
:class:`~ociinspect.errors.InvalidDigestError`.

Metadata (``meta/``) is facts about content, true whatever happens to the bytes: it stays when an
entry is evicted or found corrupted (a few hundred bytes per digest), and only :meth:`clear`
removes it. Metadata and tag files are written atomically too (temporary file, rename).

Integrity:

* Writes are verified before anything becomes visible: bytes are hashed (while streaming for
  :meth:`BlobCache.put_stream`), written to a temporary file in the entry's own directory,
  fsync'd and renamed over the entry with :func:`os.replace`. A mismatch raises
  :class:`~ociinspect.errors.DigestMismatchError` and leaves no file behind, temporary or not.
* Readers never see a partial file, and concurrent puts of one digest (threads or processes)
  both succeed: the rename is atomic and both writers hold the same bytes.
* Entries of at most ``verify_limit`` bytes (4 MiB by default: every manifest and config, small
  layers) are re-hashed on every read. Larger entries are checked on every read against the
  fingerprint recorded (in their metadata) when they were written, verified: the file's size,
  its inode (a file put in its place is another inode) and a hash of 16 blocks of 4 KiB spread
  over it (64 KiB read whatever the size). When these disagree, or none was recorded, the whole
  entry is re-hashed (and its fingerprint recorded when sound). :meth:`BlobCache.verify` re-hashes
  one on demand. An entry found corrupted is deleted, the read reports a miss, and
  :meth:`BlobCache.damaged` says so (a registry source then refetches it and says "cache entry
  damaged, refetched"). A change in place that keeps the size and misses every sampled block is
  not seen before the bytes are used; every consumer of a layer hashes what it reads anyway.

Eviction is least-recently-used: every read touches the entry's mtime, and when a put takes the
cache over ``max_bytes`` the oldest entries are deleted (never the one just written). The
session's cache is bounded by its ``cache_max_bytes`` setting (:mod:`ociinspect.session`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from .values.digest import ALGORITHMS, Digest, Verifier
from .values.models import ManifestInfo
from .values.streams import verified
from .values.units import format_size

GIB = 1024**3
#: Default bound of a cache's size on disk.
DEFAULT_MAX_BYTES = 10 * GIB
#: Entries up to this size are re-hashed on every read.
DEFAULT_VERIFY_LIMIT = 4 * 1024**2
#: Temporary files older than this are left over by a crashed writer and are removed by prune().
STALE_TEMP_SECONDS = 24 * 3600
_CHUNK = 1024**2
#: The metadata key of a large entry's fingerprint, and how many blocks it samples.
_FINGERPRINT = "file"
_SAMPLES = 16
#: Largest metadata or tag file read back (they hold a few small fields).
MAX_META_BYTES = 64 * 1024
_ENTRY = re.compile(r"[a-f0-9]+")
_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``"500M"`` -> 524288000: bytes, with an optional binary suffix K, M, G or T
    (``KiB``/``KB`` read the same). ValueError for anything else."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r} (expected bytes, or a number and K, M, G or T)")
    number, unit = int(match.group(1)), match.group(2).lower()
    return number * 1024 ** (" kmgt".index(unit) if unit else 0)


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds on disk (``entries``, ``bytes``) and how this process used it."""

    entries: int
    bytes: int
    hits: int
    misses: int


class BlobCache:
    """A content-addressed store of verified bytes under ``directory`` (see the module docstring).

    ``max_bytes=None`` means unbounded. Directories are created on the first write, so a cache
    that is only read never touches the disk. Thread-safe; safe enough across processes that
    share the directory (atomic renames, missing files treated as misses).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        *,
        verify_limit: int = DEFAULT_VERIFY_LIMIT,
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0 or None, got {max_bytes}")
        self.directory = Path(directory).expanduser()
        self.max_bytes = max_bytes
        self.verify_limit = verify_limit
        self._lock = threading.Lock()
        self._prune_lock = threading.Lock()
        self._meta_lock = threading.Lock()
        self._hits = 0
        self._misses = 0
        self._estimate: int | None = None  # bytes on disk as last scanned plus what we added
        self._damaged: set[str] = set()  # digests whose entry a read found damaged

    def __repr__(self) -> str:
        bound = "unbounded" if self.max_bytes is None else f"max={format_size(self.max_bytes)}"
        counts = f"hits={self._hits} misses={self._misses}"
        return f"<BlobCache {str(self.directory)!r} {bound} {counts}>"

    # -- paths ---------------------------------------------------------------------------------

    def _blob_path(self, digest: Digest) -> Path:
        return self.directory / "blobs" / digest.algorithm / digest.encoded

    def _meta_path(self, digest: Digest) -> Path:
        return self.directory / "meta" / digest.algorithm / f"{digest.encoded}.json"

    def _tag_path(self, reference: str) -> Path:
        return self.directory / "tags" / f"{hashlib.sha256(reference.encode()).hexdigest()}.json"

    # -- reads ---------------------------------------------------------------------------------

    def has(self, digest: str | Digest) -> bool:
        """Whether an entry exists (not verified, not counted as a hit or miss, not touched)."""
        return self._blob_path(Digest.parse(digest)).is_file()

    def open(self, digest: str | Digest) -> BinaryIO | None:
        """The entry opened for binary reading (caller closes it), or None on a miss."""
        key = Digest.parse(digest)
        path = self._blob_path(key)
        try:
            handle = path.open("rb")
        except OSError:  # missing, or a cache directory that cannot exist: a miss either way
            return self._count(None)
        try:
            info = os.fstat(handle.fileno())
            if info.st_size <= self.verify_limit:
                sound = _hashes_to(handle, key)
            else:  # size and fingerprint; the whole file again only when they disagree
                sound = self._fingerprint_holds(key, handle, info) or self._reverify(key, handle)
            if not sound:
                handle.close()
                self._remove(key)
                with self._lock:
                    self._damaged.add(str(key))
                return self._count(None)
            handle.seek(0)
        except BaseException:
            handle.close()
            raise
        _touch(path)
        return self._count(handle)

    def get(self, digest: str | Digest) -> bytes | None:
        """The entry's bytes, or None on a miss (absent, or found corrupted and deleted)."""
        handle = self.open(digest)
        if handle is None:
            return None
        with handle:
            return handle.read()

    def path(self, digest: str | Digest) -> Path | None:
        """The entry's file, or None on a miss. Read it promptly and never write to it: another
        process may evict it (an already open handle keeps working on POSIX)."""
        handle = self.open(digest)
        if handle is None:
            return None
        handle.close()
        return self._blob_path(Digest.parse(digest))

    def get_manifest(self, digest: str | Digest) -> ManifestInfo | None:
        """The manifest stored by :meth:`put_manifest`, with its media type, or None on a miss.

        An entry without metadata takes its media type from the body's ``mediaType``. Raises
        :class:`~ociinspect.errors.InvalidDocumentError` if the entry is not a JSON object.
        """
        key = Digest.parse(digest)
        raw = self.get(key)
        if raw is None:
            return None
        media_type = self.get_meta(key).get("mediaType")
        if not isinstance(media_type, str):
            media_type = None
        return ManifestInfo.from_bytes(raw, key, media_type)

    def get_meta(self, digest: str | Digest) -> dict[str, Any]:
        """The metadata stored for ``digest`` (see :meth:`put_meta`); ``{}`` when there is none
        or the file is unreadable. Values are whatever JSON held: callers check their types."""
        return _read_json(self._meta_path(Digest.parse(digest)))

    def tag(self, reference: str) -> Digest | None:
        """The digest :meth:`put_tag` last remembered for ``reference``, or None. A hint only:
        never answer a tag with it without saying so (see the module docstring)."""
        found = _read_json(self._tag_path(reference))
        digest = found.get("digest")
        if found.get("reference") != reference or not isinstance(digest, str):
            return None
        try:
            return Digest.parse(digest)
        except ValueError:
            return None

    def tags(self) -> dict[str, str]:
        """Every remembered ``reference -> digest`` hint."""
        found: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for path in sorted((self.directory / "tags").iterdir()):
                if path.name.startswith(".") or path.suffix != ".json":
                    continue
                body = _read_json(path)
                reference, digest = body.get("reference"), body.get("digest")
                if isinstance(reference, str) and isinstance(digest, str):
                    found[reference] = digest
        return found

    def verify(self, digest: str | Digest) -> bool:
        """Re-hash an entry whatever its size; delete it if corrupted. True if present and sound."""
        key = Digest.parse(digest)
        try:
            with self._blob_path(key).open("rb") as handle:
                sound = _hashes_to(handle, key)
        except FileNotFoundError:
            return False
        if not sound:
            self._remove(key)
            with self._lock:
                self._damaged.add(str(key))
        return sound

    def damaged(self, digest: str | Digest) -> bool:
        """Whether a read in this process found the entry for ``digest`` damaged (truncated,
        replaced or altered) and deleted it; asking forgets it (one report per damage)."""
        with self._lock:
            found = str(Digest.parse(digest)) in self._damaged
            self._damaged.discard(str(Digest.parse(digest)))
        return found

    def _fingerprint_holds(self, key: Digest, handle: BinaryIO, info: os.stat_result) -> bool:
        """Whether the file still is what :meth:`_record_fingerprint` saw: same size, same
        inode (a replaced file is a new one) and the same bytes at sampled offsets."""
        recorded = self.get_meta(key).get(_FINGERPRINT)
        if not isinstance(recorded, dict):
            return False
        return (
            recorded.get("size") == info.st_size
            and recorded.get("inode") == info.st_ino
            and recorded.get("sample") == _sample(handle, info.st_size)
        )

    def _reverify(self, key: Digest, handle: BinaryIO) -> bool:
        """Hash the whole entry; when sound, record its new fingerprint."""
        handle.seek(0)
        if not _hashes_to(handle, key):
            return False
        with contextlib.suppress(OSError):  # a read-only cache re-verifies next time too
            self._record_fingerprint(key, handle)
        return True

    def _record_fingerprint(self, key: Digest, handle: BinaryIO) -> None:
        info = os.fstat(handle.fileno())
        sample = _sample(handle, info.st_size)
        self.put_meta(
            key, {_FINGERPRINT: {"size": info.st_size, "inode": info.st_ino, "sample": sample}}
        )

    # -- writes --------------------------------------------------------------------------------

    def put(self, digest: str | Digest, data: bytes) -> Path:
        """Store ``data`` under ``digest`` after checking that it hashes to it.

        Raises :class:`~ociinspect.errors.DigestMismatchError` (writing nothing) otherwise.
        """
        key = Digest.parse(digest)
        key.verify(data, f"cache entry {key}")
        return self._store(key, (data,))

    def put_stream(
        self, digest: str | Digest, chunks: Iterable[bytes], size: int | None = None
    ) -> Path:
        """Store streamed chunks, hashing them on the way to a temporary file; rename if sound.

        Raises :class:`~ociinspect.errors.DigestMismatchError` or
        :class:`~ociinspect.errors.SizeMismatchError` (``size`` is checked as bytes arrive);
        on those or any other exception (the iterator's own included) nothing is left behind.
        """
        key = Digest.parse(digest)
        return self._store(key, verified(chunks, Verifier(key, f"cache entry {key}", size)))

    def put_manifest(self, info: ManifestInfo) -> Path:
        """Store a manifest's exact bytes and remember its media type."""
        key = Digest.parse(info.digest)
        key.verify(info.raw, f"manifest {key}")
        meta = json.dumps({"mediaType": info.media_type}).encode()
        # Metadata first: whoever sees the blob also sees its media type.
        _write_atomically(self._meta_path(key), (meta,))
        return self._store(key, (info.raw,))

    def put_meta(self, digest: str | Digest, values: Mapping[str, Any]) -> None:
        """Merge ``values`` (JSON-serialisable) into the metadata of ``digest``, atomically.

        The entry itself need not be held: metadata is facts about the digest. Concurrent
        writers of one digest each write a whole file; the last rename wins (both hold facts
        about the same bytes).
        """
        key = Digest.parse(digest)
        with self._meta_lock:
            merged = {**self.get_meta(key), **values}
            body = json.dumps(merged, sort_keys=True, separators=(",", ":")).encode()
            _write_atomically(self._meta_path(key), (body,))

    def get_index(self, digest: str | Digest, max_bytes: int = 512 * 1024**2) -> bytes | None:
        """The index stored by :meth:`put_index` for ``digest``, or None (missing, unreadable or
        over ``max_bytes``). Its reader checks its own integrity (the index format's checksum).
        An index is a fact about the digest, like metadata: it stays when the blob is evicted."""
        try:
            with self._index_path(Digest.parse(digest)).open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError:
            return None
        return data if len(data) <= max_bytes else None

    def put_index(self, digest: str | Digest, data: bytes) -> None:
        """Store a layer's index beside its blob (the blob need not be held), atomically."""
        _write_atomically(self._index_path(Digest.parse(digest)), (data,))

    def _index_path(self, digest: Digest) -> Path:
        return self.directory / "index" / digest.algorithm / f"{digest.encoded}.idx"

    def put_tag(self, reference: str, digest: str | Digest) -> None:
        """Remember that ``reference`` (a full tag reference) pointed at ``digest`` just now."""
        body = {"reference": reference, "digest": str(Digest.parse(digest)), "seen": time.time()}
        _write_atomically(self._tag_path(reference), (json.dumps(body).encode(),))

    # -- size and eviction ---------------------------------------------------------------------

    def _entries(self) -> list[tuple[float, str, Path, int]]:
        """(mtime, digest, path, size) of every entry; removes stale temporary files on the way."""
        found = []
        now = time.time()
        for algorithm in ALGORITHMS:
            folder = self.directory / "blobs" / algorithm
            try:
                names = os.listdir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for name in names:
                path = folder / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                if name.startswith("."):
                    if now - stat.st_mtime > STALE_TEMP_SECONDS:
                        _unlink(path)
                elif len(name) == ALGORITHMS[algorithm] and _ENTRY.fullmatch(name):
                    found.append((stat.st_mtime, f"{algorithm}:{name}", path, stat.st_size))
        return found

    def size(self) -> int:
        """Bytes held on disk by entries (metadata sidecars and temporary files not counted)."""
        return sum(entry[3] for entry in self._entries())

    def stats(self) -> CacheStats:
        """Entries and bytes on disk now; hits and misses counted by this object."""
        entries = self._entries()
        with self._lock:
            hits, misses = self._hits, self._misses
        return CacheStats(len(entries), sum(e[3] for e in entries), hits, misses)

    def prune(self, max_bytes: int | None = None, *, keep: str | Digest | None = None) -> list[str]:
        """Delete least-recently-used entries until at most ``max_bytes`` (default: the cache's
        bound; nothing happens if both are None) remain. ``keep`` is never evicted.

        Returns the evicted digests, oldest first.
        """
        bound = self.max_bytes if max_bytes is None else max_bytes
        kept = str(Digest.parse(keep)) if keep is not None else None
        with self._prune_lock:
            entries = sorted(self._entries())
            total = sum(e[3] for e in entries)
            evicted = []
            for _mtime, digest, _path, size in entries:
                if bound is None or total <= bound:
                    break
                if digest == kept:
                    continue
                self._remove(Digest.parse(digest))
                total -= size
                evicted.append(digest)
            with self._lock:
                self._estimate = total
        return evicted

    def clear(self) -> None:
        """Remove every entry, all metadata and layer indexes and every remembered tag, and reset
        the hit and miss counters.

        Temporary files of writes in progress are left to finish (stale ones are removed).
        """
        for *_, path, _size in self._entries():
            _unlink(path)
        folders = [self.directory / "meta" / algorithm for algorithm in ALGORITHMS]
        folders += [self.directory / "index" / algorithm for algorithm in ALGORITHMS]
        for folder in [*folders, self.directory / "tags"]:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                for meta in folder.iterdir():
                    if not meta.name.startswith("."):
                        _unlink(meta)
        with self._lock:
            self._hits = self._misses = 0
            self._estimate = 0

    # -- internals -----------------------------------------------------------------------------

    def _count(self, handle: BinaryIO | None) -> BinaryIO | None:
        with self._lock:
            if handle is None:
                self._misses += 1
            else:
                self._hits += 1
        return handle

    def _remove(self, key: Digest) -> None:
        """Drop an entry's bytes; its metadata stays (see the module docstring)."""
        _unlink(self._blob_path(key))

    def _store(self, key: Digest, chunks: Iterable[bytes]) -> Path:
        """Write an entry atomically, then prune (sparing it) if the bound is passed."""
        target = self._blob_path(key)
        size = _write_atomically(target, chunks)
        if size > self.verify_limit:  # verified as written: what later reads compare with
            with contextlib.suppress(OSError), target.open("rb") as handle:
                self._record_fingerprint(key, handle)
        if self.max_bytes is None:
            return target
        with self._lock:
            estimate = self._estimate
        if estimate is None:
            estimate = self.size()  # includes the entry just written
        else:
            estimate += size
        with self._lock:
            self._estimate = estimate
        if estimate > self.max_bytes:
            self.prune(keep=key)
        return target


def _sample(handle: BinaryIO, size: int) -> str:
    """A cheap fingerprint of a large file: sha256 of :data:`_SAMPLES` blocks of 4 KiB spread
    evenly over it, first and last included (64 KiB read, whatever the size)."""
    hasher = hashlib.sha256(str(size).encode())
    block = 4096
    last = max(size - block, 0)
    for i in range(_SAMPLES):
        handle.seek(last * i // (_SAMPLES - 1))
        hasher.update(handle.read(block))
    return hasher.hexdigest()


def _hashes_to(handle: BinaryIO, key: Digest) -> bool:
    hasher = key.hasher()
    while chunk := handle.read(_CHUNK):
        hasher.update(chunk)
    return hasher.hexdigest() == key.encoded


def _read_json(path: Path) -> dict[str, Any]:
    """A small JSON object file, or {} when it is missing, too large or not an object."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_META_BYTES + 1)
        value = json.loads(raw) if len(raw) <= MAX_META_BYTES else None
    except (OSError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _touch(path: Path) -> None:
    """Record a use for LRU eviction (a read-only cache directory simply keeps its order)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        path.unlink()


def _write_atomically(target: Path, chunks: Iterable[bytes]) -> int:
    """Write chunks to a temporary file beside ``target``, fsync, rename; return bytes written.

    The iterator may raise (a failed verification, a broken download): the temporary file is
    removed and nothing appears at ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:16]}.", suffix=".part", dir=target.parent)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.replace(tmp, target)
        except PermissionError:
            # Windows refuses to replace a file that is open. The entry is content-addressed,
            # so the file already there holds the same bytes: keep it.
            if not target.is_file():
                raise
            _unlink(Path(tmp))
    except BaseException:
        _unlink(Path(tmp))
        raise
    return written


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_VERIFY_LIMIT",
    "BlobCache",
    "CacheStats",
    "parse_size",
]
