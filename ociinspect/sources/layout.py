"""OCI image layouts (image-spec ``image-layout.md``) as a :class:`~.base.Source`.

A layout is an ``oci-layout`` file, an ``index.json`` and content-addressed ``blobs/<alg>/<hex>``.
:class:`LayoutSource` reads one through a small :class:`Storage` (``size``, ``chunks``), so the
same class serves a directory (:class:`DirectoryStorage`, here) and a tar of one
(:class:`~.archive.TarStorage`, for ``oci-archive:``).

Which document :meth:`LayoutSource.root` answers:

- with a tag: the ``index.json`` entry whose ``org.opencontainers.image.ref.name`` annotation is
  the tag (skopeo writes the bare tag for ``oci:DIR:TAG``); failing that, an entry whose
  annotation is a full reference ending in ``:TAG``, or, for a tag that is itself a reference
  (``alpine:3.20``), an entry whose ``ref.name`` or ``io.containerd.image.name`` normalises to
  it. No match, or matches with different digests, is a :class:`SourceError` listing the tags.
- without a tag: the only entry of ``index.json``; when there are several, ``index.json``
  itself, which is an image index (skopeo refuses that case; reading the layout's whole
  content is more useful when inspecting). An empty ``index.json`` is a :class:`SourceError`.

Every read is verified against its digest and, when a descriptor gave one, its size. Blob paths
are built only from digests that :meth:`Digest.parse` accepts (sha256/sha512, lowercase hex), so
no digest can name a path outside ``blobs/``; a blob that is a symlink leading out of the layout
directory is refused too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..distribution.protocol import MAX_MANIFEST_SIZE
from ..errors import (
    InvalidDocumentError,
    SizeLimitError,
    SizeMismatchError,
    SourceError,
    UnsupportedMediaTypeError,
)
from ..values import mediatypes as mt
from ..values.digest import Digest
from ..values.models import (
    Descriptor,
    Index,
    ManifestInfo,
    detect_media_type,
    oci_index,
    parse_layout_header,
)
from ..values.reference import parse as parse_reference
from ..values.streams import HASH_AHEAD, verified
from .base import BlobRange

#: Chunk size of :meth:`LayoutSource.open_blob` and of every internal read.
CHUNK = 1024 * 1024
#: Largest ``index.json`` or ``manifest.json`` read: they list every tag of a layout.
MAX_INDEX_SIZE = 16 * 1024 * 1024
#: How deep :meth:`LayoutSource.referrers` follows indexes inside indexes.
MAX_NESTING = 8

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class Storage(Protocol):
    """Read-only access to the files of a layout, by relative POSIX path (``blobs/sha256/…``)."""

    #: How errors name the storage, e.g. ``OCI layout /tmp/x`` or ``archive /tmp/x.tar``.
    where: str

    def size(self, path: str) -> int | None:
        """The size of the regular file at ``path``, None when there is none."""
        ...

    def chunks(self, path: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The file's bytes in chunks of at most ``chunk_size``; opened when first iterated."""
        ...

    def close(self) -> None:
        """Release what the storage holds (temporary files); reads fail afterwards."""
        ...


class DirectoryStorage:
    """A layout directory on disk. Holds no file open between reads (thread-safe)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).absolute()
        self.where = f"OCI layout {self.root}"
        self._real_root = os.path.realpath(self.root)

    def _file(self, path: str) -> Path:
        parts = path.split("/")
        if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise SourceError(f"refusing path {path!r} in {self.where}: not a plain relative path")
        full = self.root.joinpath(*parts)
        real = os.path.realpath(full)
        if os.path.commonpath([real, self._real_root]) != self._real_root:
            raise SourceError(f"{path} in {self.where} is a link leading out of the layout")
        return full

    def size(self, path: str) -> int | None:
        try:
            info = self._file(path).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def chunks(self, path: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        try:
            handle = self._file(path).open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path} in {self.where}: {exc.strerror}") from None
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def read_at(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the file from ``offset`` (fewer at its end)."""
        try:
            with self._file(path).open("rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except OSError as exc:
            raise SourceError(f"cannot read {path} in {self.where}: {exc.strerror}") from None

    def close(self) -> None:
        """Nothing to release."""


# --------------------------------------------------------------------------- verified reads


def blob_path(digest: Digest) -> str:
    """``blobs/<alg>/<hex>`` for a digest; InvalidDigestError for anything that is not one."""
    parsed = Digest.parse(digest)
    return f"blobs/{parsed.algorithm}/{parsed.encoded}"


def _check_size(
    storage: Storage, path: str, what: str, size: int | None, max_size: int | None
) -> int:
    actual = storage.size(path)
    if actual is None:
        raise SourceError(f"{what} is missing from {storage.where} (no file {path})")
    if size is not None and actual != size:
        raise SizeMismatchError(what, size, actual)
    if max_size is not None and actual > max_size:
        raise SizeLimitError(what, max_size, actual)
    return actual


def read_file(storage: Storage, path: str, max_size: int) -> bytes:
    """A whole file that has no digest to check (``index.json``, ``manifest.json``)."""
    what = f"{path} of {storage.where}"
    if storage.size(path) is None:
        raise SourceError(f"{storage.where} has no {path}")
    _check_size(storage, path, what, None, max_size)
    data = b"".join(storage.chunks(path))
    if len(data) > max_size:
        raise SizeLimitError(what, max_size, len(data))
    return data


def read_verified(
    storage: Storage,
    path: str,
    digest: Digest,
    what: str,
    size: int | None = None,
    max_size: int | None = None,
) -> bytes:
    """The file at ``path``, which must hash to ``digest`` (and have ``size`` bytes)."""
    verifier = Digest.parse(digest).verifier(what, size)
    _check_size(storage, path, what, size, max_size)
    return b"".join(verified(storage.chunks(path), verifier, max_size=max_size))


@contextlib.contextmanager
def open_verified(
    storage: Storage, path: str, digest: Digest, what: str, size: int | None = None
) -> Iterator[Iterator[bytes]]:
    """Chunks of the file at ``path``; exhausting them verifies ``digest`` (and ``size``)."""
    verifier = Digest.parse(digest).verifier(what, size)
    _check_size(storage, path, what, size, None)
    chunks = storage.chunks(path)
    try:
        yield verified(chunks, verifier, ahead=size is not None and size >= HASH_AHEAD)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def read_range(
    storage: Storage,
    path: str,
    what: str,
    start: int,
    end: int | None = None,
    size: int | None = None,
) -> BlobRange:
    """Bytes ``start..end`` of the file (see :meth:`~.base.RangeSource.blob_range`), read in
    place when the storage has ``read_at`` (both storages here do), else by skipping chunks."""
    total = _check_size(storage, path, what, size, None)
    if start < 0:
        offset = max(total + start, 0)
        last = total - 1
    else:
        offset = start
        last = total - 1 if end is None else min(end, total - 1)
    length = max(last - offset + 1, 0)
    if length == 0:
        return BlobRange(b"")
    read_at = getattr(storage, "read_at", None)
    if read_at is not None:
        data: bytes = read_at(path, offset, length)
        return BlobRange(data)
    parts, seen = [], 0
    for chunk in storage.chunks(path):
        lo, hi = max(offset - seen, 0), min(offset + length - seen, len(chunk))
        if lo < hi:
            parts.append(chunk[lo:hi])
        seen += len(chunk)
        if seen >= offset + length:
            break
    return BlobRange(b"".join(parts))


def document(raw: bytes, digest: Digest, media_type: str | None, what: str) -> ManifestInfo:
    """A manifest or index read from verified bytes; its kind is checked (models' rules)."""
    try:
        kind = detect_media_type(raw, media_type)
    except UnsupportedMediaTypeError as exc:
        raise UnsupportedMediaTypeError(what, exc.media_type, exc.reason) from None
    except InvalidDocumentError as exc:
        raise InvalidDocumentError(what, exc.reason) from None
    return ManifestInfo.from_bytes(raw, digest, kind)


# --------------------------------------------------------------------------- the source


class LayoutSource:
    """``oci:DIR[:TAG]``: an OCI image layout directory (or, with ``storage``, any layout).

    ``index.json`` and ``oci-layout`` are read once, when the source is made; blobs when asked.
    """

    scheme = "oci"

    def __init__(
        self,
        path: str | os.PathLike[str],
        tag: str | None = None,
        *,
        storage: Storage | None = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.tag = tag or None
        self.name = f"{self.scheme}:{self.path}" + (f":{self.tag}" if self.tag else "")
        if storage is None:
            self._refuse_non_directory()
            storage = DirectoryStorage(self.path)
        self.storage = storage
        self._documents: dict[str, ManifestInfo] = {}
        try:
            self._read_header()
            self.index_raw = read_file(storage, "index.json", MAX_INDEX_SIZE)
            self.index = self._parse_index(self.index_raw)
        except BaseException:
            storage.close()
            raise

    def _refuse_non_directory(self) -> None:
        if not self.path.exists():
            raise SourceError(f"no OCI layout at {self.path} (no oci-layout file: no such path)")
        if not self.path.is_dir():
            raise SourceError(
                f"no OCI layout at {self.path} (a file, not a directory; for a tar of a layout "
                f"use oci-archive:{self.path})"
            )

    def _what(self, path: str) -> str:
        return f"{path} of {self.storage.where}"

    def _read_header(self) -> None:
        """image-layout.md "oci-layout file": REQUIRED, ``imageLayoutVersion`` 1.0.0."""
        if self.storage.size("oci-layout") is None:
            raise SourceError(f"no OCI layout at {self.path} (no oci-layout file)")
        what = self._what("oci-layout")
        raw = read_file(self.storage, "oci-layout", 64 * 1024)
        try:
            header = parse_layout_header(raw)
        except InvalidDocumentError as exc:
            raise InvalidDocumentError(what, exc.reason) from None
        if header.image_layout_version.split(".")[0] != "1":
            raise SourceError(
                f"{what}: imageLayoutVersion {header.image_layout_version!r} is not 1.x"
            )

    def _parse_index(self, raw: bytes) -> Index:
        """image-layout.md "index.json file": REQUIRED, an image index (mediaType optional)."""
        what = self._what("index.json")
        try:
            return Index.from_bytes(raw)
        except InvalidDocumentError as exc:
            raise InvalidDocumentError(what, exc.reason) from None

    def close(self) -> None:
        """Release the storage (the temporary file of a compressed archive)."""
        self.storage.close()

    def __enter__(self) -> LayoutSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

    # -- the Source protocol ------------------------------------------------------------------

    def root(self) -> ManifestInfo:
        """The tagged entry, the only entry, or ``index.json`` itself (see the module doc)."""
        entries = self.index.manifests
        if self.tag is not None:
            return self._document(self._entry_for(self.tag))
        if len(entries) == 1:
            return self._document(entries[0])
        if not entries:
            raise SourceError(f"{self._what('index.json')} lists no manifests")
        return self._index_info()

    def manifest(self, digest: Digest, size: int | None = None) -> ManifestInfo:
        """A manifest or index by digest (``index.json``'s own digest included), verified."""
        if str(Digest.parse(digest)) == self.index.digest:
            return self._index_info(size)
        known = next((d for d in self.index.manifests if d.digest == digest), None)
        return self._read_document(digest, size, known.media_type if known else None)

    def blob(self, digest: Digest, size: int | None = None, max_size: int | None = None) -> bytes:
        return read_verified(
            self.storage, blob_path(digest), digest, f"blob {digest}", size, max_size
        )

    def open_blob(
        self, digest: Digest, size: int | None = None
    ) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        return open_verified(self.storage, blob_path(digest), digest, f"blob {digest}", size)

    def blob_range(
        self, digest: Digest, start: int, end: int | None = None, size: int | None = None
    ) -> BlobRange:
        """Part of a blob, read in place (:class:`~.base.RangeSource`)."""
        return read_range(self.storage, blob_path(digest), f"blob {digest}", start, end, size)

    def tags(self) -> Iterator[str]:
        """The ``org.opencontainers.image.ref.name`` annotations of ``index.json``, once each."""
        seen: set[str] = set()
        for entry in self.index.manifests:
            name = entry.annotations.get(REF_NAME)
            if name is not None and name not in seen:
                seen.add(name)
                yield name

    def referrers(self, digest: Digest, artifact_type: str | None = None) -> ManifestInfo:
        """Manifests reachable from ``index.json`` whose ``subject`` is ``digest``.

        Each becomes a descriptor as the distribution-spec referrers API builds it: the
        manifest's ``artifactType`` (else its config's media type) and its ``annotations``.
        """
        wanted = str(Digest.parse(digest))
        found: list[dict[str, Any]] = []
        seen: set[str] = set()

        def visit(entries: tuple[Descriptor, ...], depth: int) -> None:
            for entry in entries:
                if entry.digest in seen or mt.kind(entry.media_type) not in ("index", "manifest"):
                    continue
                seen.add(entry.digest)
                info = self._document(entry)
                body = info.json
                subject = body.get("subject")
                if isinstance(subject, dict) and subject.get("digest") == wanted:
                    found.append(_referrer(info))
                if mt.kind(info.media_type) == "index" and depth < MAX_NESTING:
                    visit(Index.from_bytes(info.raw, info.media_type).manifests, depth + 1)

        visit(self.index.manifests, 0)
        if artifact_type is not None:
            found = [d for d in found if d.get("artifactType") == artifact_type]
        return oci_index(found)

    # -- helpers -----------------------------------------------------------------------------

    def _entry_for(self, tag: str) -> Descriptor:
        entries = self.index.manifests
        matches = [d for d in entries if d.annotations.get(REF_NAME) == tag]
        if not matches and ":" not in tag and "/" not in tag:
            matches = [d for d in entries if d.annotations.get(REF_NAME, "").endswith(f":{tag}")]
        wanted = normalise_reference(tag) if (":" in tag or "/" in tag) else None
        if not matches and wanted is not None:
            matches = [d for d in entries if wanted in _reference_names(d)]
        where = self.storage.where
        if not matches:
            available = ", ".join(self.tags()) or "none"
            raise SourceError(f"no tag {tag!r} in {where}; available tags: {available}")
        if len({d.digest for d in matches}) > 1:
            listed = ", ".join(d.digest for d in matches)
            raise SourceError(f"tag {tag!r} names several manifests in {where}: {listed}")
        return matches[0]

    def _index_info(self, size: int | None = None) -> ManifestInfo:
        if size is not None and size != len(self.index_raw):
            raise SizeMismatchError(self._what("index.json"), size, len(self.index_raw))
        return ManifestInfo.from_bytes(self.index_raw, self.index.digest, self.index.media_type)

    def _document(self, entry: Descriptor) -> ManifestInfo:
        return self._read_document(entry.digest, entry.size, entry.media_type)

    def _read_document(
        self, digest: Digest, size: int | None, media_type: str | None
    ) -> ManifestInfo:
        cached = self._documents.get(digest)
        if cached is not None and (size is None or size == len(cached.raw)):
            return cached
        what = f"manifest {digest}"
        raw = read_verified(self.storage, blob_path(digest), digest, what, size, MAX_MANIFEST_SIZE)
        where = f"{what} in {self.storage.where}"
        info = document(raw, digest, media_type, where)
        self._documents[digest] = info
        return info


def normalise_reference(text: str | None) -> str | None:
    """``alpine:3.20`` -> ``docker.io/library/alpine:3.20``; None when it is not a reference."""
    if not text:
        return None
    try:
        return str(parse_reference(text))
    except ValueError:
        return None


def _reference_names(entry: Descriptor) -> set[str | None]:
    """The normalised references an index.json entry is known by."""
    return {normalise_reference(entry.annotations.get(k)) for k in (REF_NAME, CONTAINERD_NAME)}


def _referrer(info: ManifestInfo) -> dict[str, Any]:
    """distribution-spec "Listing Referrers": descriptor plus artifactType and annotations."""
    body = info.json
    desc: dict[str, Any] = {
        "mediaType": info.media_type,
        "digest": info.digest,
        "size": len(info.raw),
    }
    artifact_type = body.get("artifactType")
    config = body.get("config")
    if artifact_type is None and isinstance(config, dict):
        artifact_type = config.get("mediaType")
    if isinstance(artifact_type, str):
        desc["artifactType"] = artifact_type
    if isinstance(body.get("annotations"), dict) and body["annotations"]:
        desc["annotations"] = body["annotations"]
    return desc


__all__ = [
    "CHUNK",
    "DirectoryStorage",
    "LayoutSource",
    "Storage",
    "blob_path",
    "normalise_reference",
    "open_verified",
    "read_file",
    "read_range",
    "read_verified",
]
