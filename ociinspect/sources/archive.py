"""Image archives: ``oci-archive:FILE[:TAG]`` and ``docker-archive:FILE[:REF]``.

Nothing is extracted. :class:`TarStorage` scans the tar's headers once and keeps, per member,
where its data starts and how long it is; every read opens the file, seeks and reads that range,
so reads are random-access and independent (thread-safe). Symlinks and hard links between
members are followed inside the archive (skopeo's ``docker-archive`` writes
``<id>/layer.tar -> ../<hex>.tar``); member names are normalised (``./x`` is ``x``) and names
that leave the archive (``../x``, ``/x``) are ignored. A gzip- or zstd-compressed tar cannot be
read at random, so it is decompressed once into a temporary file, removed by :meth:`close` (or
when the source is garbage collected).

:class:`OciArchiveSource` is :class:`~.layout.LayoutSource` over a :class:`TarStorage`.

:class:`DockerArchiveSource` reads ``docker save`` output: ``manifest.json`` lists images as
``{Config, RepoTags, Layers, LayerSources?}``, with legacy members (``<id>.json``,
``<id>/layer.tar``) or, since Docker 25, blobs of an OCI layout (``blobs/sha256/<hex>``). An
archive holds no manifest as a registry stores it, so, as skopeo does, :meth:`root` is a
**synthesised** Docker v2 schema2 manifest:

- config: the ``Config`` member (``application/vnd.docker.container.image.v1+json``), its
  digest the sha256 of its bytes; when the member is named by a digest (``<hex>.json``,
  ``blobs/sha256/<hex>``), the bytes must hash to it (DigestMismatchError otherwise).
- layers: each ``Layers`` member as stored, its size the member's size; media type by magic
  bytes: gzip ``…rootfs.diff.tar.gzip``, else ``…rootfs.diff.tar`` (skopeo 1.9 labels every
  layer ``tar.gzip``, even uncompressed ones: the only difference between its bytes and ours).
  Digest: the one the member is named by (``blobs/sha256/<hex>``); else, for an uncompressed
  member, the config's ``rootfs.diff_ids`` entry at that position (which is, by definition,
  the digest of the uncompressed tar); else sha256 of the member, streamed once when the source
  is opened. Reads verify these digests, so a tampered layer raises DigestMismatchError when it
  is read instead of being described by a digest of the tampered bytes.
- a zstd layer has no Docker media type: such an image is synthesised as an OCI manifest
  (OCI media types throughout). A layer missing from the archive whose diff_id is in
  ``LayerSources`` (a foreign layer) keeps the descriptor given there.
- serialised like containers/image's ``manifest.Schema2``: fields in the order
  schemaVersion, mediaType, config, layers; descriptors mediaType, size, digest[, urls]; no
  spaces. The manifest's digest is sha256 of those bytes.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import posixpath
import tarfile
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import (
    InvalidDigestError,
    InvalidDocumentError,
    SizeLimitError,
    SizeMismatchError,
    SourceError,
)
from ..values import mediatypes as mt
from ..values.digest import Digest, sha256
from ..values.models import Descriptor, ManifestInfo, oci_index
from ..values.reference import parse as parse_reference
from .base import BlobRange
from .layout import (
    CHUNK,
    MAX_INDEX_SIZE,
    MAX_MANIFEST_SIZE,
    LayoutSource,
    blob_path,
    document,
    normalise_reference,
    open_verified,
    read_file,
    read_range,
    read_verified,
)

#: Largest image config read from a docker archive.
MAX_CONFIG_SIZE = 16 * 1024 * 1024
#: Links followed from one member before giving up (a loop).
MAX_LINK_HOPS = 16

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def clean_member_name(name: str) -> str | None:
    """``./a//b/`` -> ``a/b``; None for names that leave the archive or name its root."""
    cleaned = posixpath.normpath(name) if name else "."
    if cleaned.startswith("/") or cleaned in (".", "..") or cleaned.startswith("../"):
        return None
    return cleaned


@dataclass(frozen=True)
class _Member:
    offset: int = 0
    size: int = 0
    #: Normalised target of a symlink or hard link ("" for a link that leaves the archive).
    link: str | None = None
    regular: bool = True


#: A compressed archive may expand to this many times its size (and to 1 GiB in any case).
MAX_EXPANSION = 64
MIN_EXPANSION_LIMIT = 1 << 30


def _copy_bounded(
    read: Callable[[int], bytes], out: BinaryIO, limit: int, path: Path
) -> None:
    copied = 0
    while chunk := read(CHUNK):
        copied += len(chunk)
        if copied > limit:
            raise SizeLimitError(f"decompressed archive {path}", limit, copied)
        out.write(chunk)


def _decompress(path: Path, magic: bytes) -> str:
    """Decompress the archive at ``path`` into a temporary file; return the file's path.

    The copy is bounded (:data:`MAX_EXPANSION` times the compressed size, at least 1 GiB):
    image archives hold already-compressed layers, so a larger expansion is a bomb.
    """
    limit = max(MIN_EXPANSION_LIMIT, MAX_EXPANSION * path.stat().st_size)
    handle, temp = tempfile.mkstemp(prefix="ociinspect-", suffix=".tar")
    try:
        with open(path, "rb") as raw, os.fdopen(handle, "wb") as out:
            if magic.startswith(_GZIP_MAGIC):
                with gzip.GzipFile(fileobj=raw) as stream:
                    _copy_bounded(stream.read, out, limit, path)
            else:
                import zstandard

                with zstandard.ZstdDecompressor().stream_reader(raw) as stream:
                    _copy_bounded(stream.read, out, limit, path)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        os.unlink(temp)
        raise SourceError(f"cannot decompress archive {path}: {exc}") from None
    except BaseException:
        os.unlink(temp)
        raise
    return temp


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class TarStorage:
    """The members of a tar file, read in place (see the module doc)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self.where = f"archive {self.path}"
        if not self.path.is_file():
            problem = "not a file" if self.path.exists() else "no such file"
            raise SourceError(f"no archive at {self.path} ({problem})")
        with open(self.path, "rb") as handle:
            magic = handle.read(4)
        self._data = str(self.path)
        self._cleanup: weakref.finalize | None = None
        if magic.startswith(_GZIP_MAGIC) or magic == _ZSTD_MAGIC:
            self._data = _decompress(self.path, magic)
            self._cleanup = weakref.finalize(self, _unlink, self._data)
        try:
            self._members = self._scan()
        except BaseException:
            self.close()
            raise

    def _scan(self) -> dict[str, _Member]:
        members: dict[str, _Member] = {}
        try:
            with tarfile.open(self._data, mode="r:") as archive:
                for info in archive:
                    name = clean_member_name(info.name)
                    if name is None:
                        continue
                    if info.isreg() and info.sparse is None:
                        members[name] = _Member(info.offset_data, info.size)
                    elif info.issym():
                        target = posixpath.join(posixpath.dirname(name), info.linkname)
                        absolute = info.linkname.startswith("/")
                        link = None if absolute else clean_member_name(target)
                        members[name] = _Member(link=link or "")
                    elif info.islnk():
                        members[name] = _Member(link=clean_member_name(info.linkname) or "")
                    else:
                        members[name] = _Member(regular=False)
        except (tarfile.TarError, EOFError) as exc:
            raise SourceError(f"{self.path} is not a readable tar archive: {exc}") from None
        return members

    def _resolve(self, path: str) -> _Member | None:
        name = clean_member_name(path)
        for _ in range(MAX_LINK_HOPS):
            member = self._members.get(name) if name else None
            if member is None or member.link is None:
                return member if member is not None and member.regular else None
            name = member.link
        raise SourceError(f"{path} in {self.where}: more than {MAX_LINK_HOPS} links (a loop?)")

    def size(self, path: str) -> int | None:
        member = self._resolve(path)
        return None if member is None else member.size

    def chunks(self, path: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        member = self._resolve(path)
        if member is None:
            raise SourceError(f"no member {path} in {self.where}")
        try:
            handle = open(self._data, "rb")  # noqa: SIM115 -- closed by the with below
        except OSError as exc:
            raise SourceError(f"cannot read {self.where}: {exc.strerror}") from None
        with handle:
            handle.seek(member.offset)
            remaining = member.size
            while remaining:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    raise SourceError(f"{path} in {self.where} is cut short")
                remaining -= len(chunk)
                yield chunk

    def read_at(self, path: str, offset: int, length: int) -> bytes:
        """``length`` bytes of a member from ``offset`` (fewer at its end), read in place."""
        member = self._resolve(path)
        if member is None:
            raise SourceError(f"no member {path} in {self.where}")
        length = max(min(length, member.size - offset), 0)
        try:
            with open(self._data, "rb") as handle:
                handle.seek(member.offset + offset)
                return handle.read(length)
        except OSError as exc:
            raise SourceError(f"cannot read {self.where}: {exc.strerror}") from None

    def head(self, path: str, count: int = 8) -> bytes:
        """The first ``count`` bytes of a member (for magic numbers)."""
        for chunk in self.chunks(path, count):
            return chunk
        return b""

    def close(self) -> None:
        """Remove the temporary decompressed copy, if one was made."""
        if self._cleanup is not None:
            self._cleanup()


class OciArchiveSource(LayoutSource):
    """``oci-archive:FILE[:TAG]``: a tar (optionally gzip/zstd) of an OCI image layout."""

    scheme = "oci-archive"

    def __init__(self, path: str | os.PathLike[str], tag: str | None = None) -> None:
        super().__init__(path, tag, storage=TarStorage(path))


# --------------------------------------------------------------------------- docker-archive


@dataclass(frozen=True)
class DockerImage:
    """One entry of a docker-archive's ``manifest.json``."""

    config: str
    repo_tags: tuple[str, ...]
    layers: tuple[str, ...]
    layer_sources: Mapping[str, Any] = field(default_factory=dict)


def _strings(value: Any, path: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SourceError(f"{where}: manifest.json {path} must be an array of strings")
    return tuple(value)


def parse_docker_manifest(raw: bytes, where: str) -> list[DockerImage]:
    """The images a docker-archive ``manifest.json`` lists; SourceError saying what is wrong."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: manifest.json is not JSON: {type(exc).__name__}") from None
    if not isinstance(value, list) or not value:
        raise SourceError(f"{where}: manifest.json must be a non-empty JSON array of images")
    images = []
    for i, item in enumerate(value):
        path = f"[{i}]"
        if not isinstance(item, dict):
            raise SourceError(f"{where}: manifest.json{path} must be an object")
        config = item.get("Config")
        if not isinstance(config, str) or not config:
            raise SourceError(f"{where}: manifest.json{path}.Config must name a file")
        if not isinstance(item.get("Layers"), list):
            raise SourceError(f"{where}: manifest.json{path}.Layers must be an array")
        sources = item.get("LayerSources") or {}
        if not isinstance(sources, dict):
            raise SourceError(f"{where}: manifest.json{path}.LayerSources must be an object")
        images.append(
            DockerImage(
                config,
                _strings(item.get("RepoTags"), f"{path}.RepoTags", where),
                _strings(item["Layers"], f"{path}.Layers", where),
                sources,
            )
        )
    return images


def select_image(images: list[DockerImage], ref: str | None, where: str) -> int:
    """The position of the image ``ref`` names: ``@N``, a RepoTag (normalised), or the only one."""
    listing = "; ".join(
        f"@{i}: {', '.join(image.repo_tags) or '(no tags)'}" for i, image in enumerate(images)
    )
    if ref is None:
        if len(images) == 1:
            return 0
        raise SourceError(
            f"{where} holds {len(images)} images; name one (docker-archive:FILE:REF or :@N): "
            f"{listing}"
        )
    if ref.startswith("@"):
        number = ref[1:]
        if not (number.isascii() and number.isdigit()) or int(number) >= len(images):
            raise SourceError(f"no image {ref} in {where} ({len(images)} images): {listing}")
        return int(number)
    wanted = parse_reference(ref)
    if wanted.digest is not None:
        raise SourceError(f"docker-archive reference {ref!r} must not contain a digest")
    found = [
        i
        for i, image in enumerate(images)
        if any(normalise_reference(tag) == str(wanted) for tag in image.repo_tags)
    ]
    if not found:
        raise SourceError(f"no image tagged {ref!r} ({wanted}) in {where}; images: {listing}")
    if len(found) > 1:
        raise SourceError(f"{ref!r} tags several images in {where}: {listing}")
    return found[0]


def _named_digest(path: str, config: bool = False) -> Digest | None:
    """The digest a member is named by: ``blobs/<alg>/<hex>``, or for a config ``<hex>.json``."""
    parts = (clean_member_name(path) or "").split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        candidate = f"{parts[1]}:{parts[2]}"
    elif config and parts[-1].endswith(".json"):
        candidate = f"sha256:{parts[-1][: -len('.json')]}"
    else:
        return None
    try:
        return Digest.parse(candidate)
    except InvalidDigestError:
        return None


_TYPES = {
    "docker": {
        "manifest": mt.DOCKER_MANIFEST,
        "config": mt.DOCKER_CONFIG,
        "gzip": mt.DOCKER_LAYER_GZIP,
        "none": mt.DOCKER_LAYER,
    },
    "oci": {
        "manifest": mt.OCI_MANIFEST,
        "config": mt.OCI_CONFIG,
        "gzip": mt.OCI_LAYER_GZIP,
        "none": mt.OCI_LAYER,
        "zstd": mt.OCI_LAYER_ZSTD,
    },
}


def _compression(head: bytes) -> str:
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    return "zstd" if head.startswith(_ZSTD_MAGIC) else "none"


def _descriptor(media_type: str, size: int, digest: Digest, urls: Any = None) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": media_type, "size": size, "digest": digest}
    if urls:
        desc["urls"] = list(urls)
    return desc


class DockerArchiveSource:
    """``docker-archive:FILE[:REF]``: ``docker save`` output (legacy or OCI-style), one image.

    ``ref`` is a RepoTag (``alpine:3.20`` matches ``docker.io/library/alpine:3.20``) or ``@N``
    (the N-th image of ``manifest.json``); without it the archive must hold one image. The
    archive is read, and the manifest synthesised, when the source is made.
    """

    def __init__(self, path: str | os.PathLike[str], ref: str | None = None) -> None:
        self.path = Path(path).absolute()
        self.ref = ref or None
        self.name = f"docker-archive:{self.path}" + (f":{self.ref}" if self.ref else "")
        self.storage = TarStorage(self.path)
        try:
            self._open()
        except BaseException:
            self.storage.close()
            raise

    def _open(self) -> None:
        where = self.storage.where
        if self.storage.size("manifest.json") is None:
            raise SourceError(f"{where} is not a docker-archive (no manifest.json)")
        raw = read_file(self.storage, "manifest.json", MAX_INDEX_SIZE)
        self.images = parse_docker_manifest(raw, where)
        self.position = select_image(self.images, self.ref, where)
        self.image = self.images[self.position]
        self.repo_tags = self.image.repo_tags
        self._blobs: dict[str, str] = {}
        config_digest, diff_ids = self._read_config()
        kinds = self._layer_kinds()
        family = "oci" if "zstd" in kinds else "docker"
        types = _TYPES[family]
        layers = [self._layer(i, kind, diff_ids, family) for i, kind in enumerate(kinds)]
        config_size = self.storage.size(self.image.config) or 0
        body = {
            "schemaVersion": 2,
            "mediaType": types["manifest"],
            "config": _descriptor(types["config"], config_size, config_digest),
            "layers": layers,
        }
        self.manifest_raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        self._root = ManifestInfo.from_bytes(
            self.manifest_raw, sha256(self.manifest_raw), types["manifest"]
        )

    def _read_config(self) -> tuple[Digest, tuple[str, ...]]:
        where, path = self.storage.where, self.image.config
        if self.storage.size(path) is None:
            raise SourceError(
                f"{where}: manifest.json[{self.position}].Config names {path}, "
                "which is not in the archive"
            )
        named = _named_digest(path, config=True)
        what = f"config {path} of {where}"
        if named is not None:
            raw = read_verified(self.storage, path, named, what, max_size=MAX_CONFIG_SIZE)
            digest = named
        else:
            raw = read_file(self.storage, path, MAX_CONFIG_SIZE)
            digest = sha256(raw)
        try:
            config = json.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise InvalidDocumentError(what, f"not JSON: {exc}") from None
        if not isinstance(config, dict):
            raise InvalidDocumentError(what, "expected a JSON object")
        rootfs = config.get("rootfs")
        diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
        if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
            diff_ids = []
        self._blobs[digest] = path
        return digest, tuple(diff_ids)

    def _layer_kinds(self) -> list[str]:
        """Each layer's compression by magic bytes; "foreign" when it is not in the archive."""
        return [
            "foreign" if self.storage.size(path) is None else _compression(self.storage.head(path))
            for path in self.image.layers
        ]

    def _layer(self, i: int, kind: str, diff_ids: tuple[str, ...], family: str) -> dict[str, Any]:
        path = self.image.layers[i]
        aligned = len(diff_ids) == len(self.image.layers)
        diff_id = diff_ids[i] if aligned else None
        if kind == "foreign":
            source = self.image.layer_sources.get(diff_id or "")
            if source is None:
                raise SourceError(
                    f"{self.storage.where}: manifest.json[{self.position}].Layers[{i}] names "
                    f"{path}, which is not in the archive"
                )
            desc = Descriptor.from_dict(source, f"LayerSources[{diff_id}] of {self.name}")
            return _descriptor(desc.media_type, desc.size, desc.digest, desc.urls)
        size = self.storage.size(path) or 0
        digest = _named_digest(path)
        if digest is None and kind == "none" and diff_id is not None:
            with contextlib.suppress(InvalidDigestError):  # a bad diff_id: hash the member
                digest = Digest.parse(diff_id)
        if digest is None:
            hasher = hashlib.sha256()
            for chunk in self.storage.chunks(path):
                hasher.update(chunk)
            digest = Digest("sha256", hasher.hexdigest())
        self._blobs[digest] = path
        return _descriptor(_TYPES[family][kind], size, digest)

    def close(self) -> None:
        """Release the storage (the temporary file of a compressed archive)."""
        self.storage.close()

    def __enter__(self) -> DockerArchiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<DockerArchiveSource {self.name}>"

    # -- the Source protocol ------------------------------------------------------------------

    def root(self) -> ManifestInfo:
        """The synthesised manifest of the selected image (see the module doc)."""
        return self._root

    def manifest(self, digest: Digest, size: int | None = None) -> ManifestInfo:
        """The synthesised manifest, or a manifest stored as a blob (Docker 25+ archives)."""
        if str(Digest.parse(digest)) == self._root.digest:
            if size is not None and size != len(self.manifest_raw):
                raise SizeMismatchError(f"manifest {digest}", size, len(self.manifest_raw))
            return self._root
        what = f"manifest {digest}"
        raw = read_verified(self.storage, blob_path(digest), digest, what, size, MAX_MANIFEST_SIZE)
        return document(raw, digest, None, f"{what} in {self.storage.where}")

    def _path(self, digest: Digest) -> str:
        return self._blobs.get(str(Digest.parse(digest))) or blob_path(digest)

    def blob(self, digest: Digest, size: int | None = None, max_size: int | None = None) -> bytes:
        return read_verified(
            self.storage, self._path(digest), digest, f"blob {digest}", size, max_size
        )

    def open_blob(
        self, digest: Digest, size: int | None = None
    ) -> contextlib.AbstractContextManager[Iterator[bytes]]:
        return open_verified(self.storage, self._path(digest), digest, f"blob {digest}", size)

    def blob_range(
        self, digest: Digest, start: int, end: int | None = None, size: int | None = None
    ) -> BlobRange:
        """Part of a blob, read in place (:class:`~.base.RangeSource`)."""
        return read_range(self.storage, self._path(digest), f"blob {digest}", start, end, size)

    def tags(self) -> Iterator[str]:
        """Every RepoTag in the archive, as written (each is a valid ``REF``)."""
        seen: set[str] = set()
        for image in self.images:
            for tag in image.repo_tags:
                if tag not in seen:
                    seen.add(tag)
                    yield tag

    def referrers(self, digest: Digest, artifact_type: str | None = None) -> ManifestInfo:
        """Always an empty index: ``docker save`` keeps no referrers."""
        Digest.parse(digest)
        return oci_index()


__all__ = [
    "DockerArchiveSource",
    "DockerImage",
    "OciArchiveSource",
    "TarStorage",
    "clean_member_name",
    "parse_docker_manifest",
    "select_image",
]
