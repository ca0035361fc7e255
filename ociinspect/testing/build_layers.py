"""Layer blobs written byte for byte reproducibly: tar entries, the tar, its compression.

Entries are built with :func:`file`, :func:`directory`, :func:`symlink`, :func:`hardlink`,
:func:`whiteout` and :func:`opaque_whiteout` (image-spec layer.md "Whiteouts"),
:func:`char_device`, :func:`block_device` and :func:`fifo`; :func:`layer` writes them as a layer
blob (image-spec layer.md) whose ``diff_id`` is the digest of the uncompressed tar (config.md
"rootfs.diff_ids"). Use them as ``ociinspect.testing.build.X``: :mod:`ociinspect.testing.build`
re-exports them and builds images, indexes and layouts over the blobs.

- tar: PAX format (``tarfile.PAX_FORMAT``; an extended header appears only where a name or value
  needs one, never a global header), entries sorted by path unless ``sort=False``, mtime fixed
  (:data:`DEFAULT_MTIME`), uid/gid 0, uname/gname empty.
- gzip: ``mtime=0``, no file name, level 9; the header's OS byte is 255 ("unknown") as CPython
  writes it. zstd: level 3, content size written, no checksum, one thread.

Member paths are written as given (a directory gets tar's trailing ``/``): nothing is
normalised, so tests can build hostile layers (``../x``, ``/abs``, duplicates) on purpose.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..values import mediatypes as mt
from ..values.digest import sha256

__all__ = [
    "DEFAULT_MTIME",
    "Blob",
    "Compression",
    "Member",
    "EntryType",
    "block_device",
    "char_device",
    "compress",
    "directory",
    "fifo",
    "file",
    "hardlink",
    "layer",
    "opaque_whiteout",
    "symlink",
    "tar",
    "whiteout",
]

#: Member mtime when none is given: 2024-01-01T00:00:00Z.
DEFAULT_MTIME = 1_704_067_200

Compression = Literal["gzip", "zstd", "none"]
EntryType = Literal["file", "dir", "symlink", "hardlink", "char", "block", "fifo"]

_TAR_TYPES: dict[str, bytes] = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_DEFAULT_MODE = {"dir": 0o755, "symlink": 0o777, "file": 0o644, "hardlink": 0o644}
_OCI_LAYER = {"gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD, "none": mt.OCI_LAYER}


# --------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class Member:
    """One tar member. Build with :func:`file`, :func:`directory`, :func:`symlink`, ... ."""

    path: str
    type: EntryType = "file"
    data: bytes = field(default=b"", repr=False)
    target: str = ""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: int = DEFAULT_MTIME
    devmajor: int = 0
    devminor: int = 0
    pax: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.path or "\0" in self.path:
            raise ValueError(f"entry path must be non-empty and NUL-free, got {self.path!r}")
        if self.type not in _TAR_TYPES:
            raise ValueError(f"unknown entry type {self.type!r} for {self.path!r}")
        if self.data and self.type != "file":
            raise ValueError(f"only regular files carry data ({self.type} {self.path!r})")
        if self.type in ("symlink", "hardlink") and not self.target:
            raise ValueError(f"{self.type} {self.path!r} needs a target")

    def tarinfo(self) -> tarfile.TarInfo:
        """The TarInfo written for this entry (uname/gname empty, fixed mtime)."""
        info = tarfile.TarInfo(self.path)
        info.type = _TAR_TYPES[self.type]
        info.mode = self.mode if self.mode is not None else _DEFAULT_MODE.get(self.type, 0o644)
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""
        info.mtime = self.mtime
        info.size = len(self.data)
        info.linkname = self.target
        info.devmajor, info.devminor = self.devmajor, self.devminor
        info.pax_headers = dict(self.pax)
        return info


def file(
    path: str,
    data: bytes | str = b"",
    *,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    mtime: int = DEFAULT_MTIME,
    xattrs: Mapping[str, str] | None = None,
) -> Member:
    """A regular file; ``str`` data is UTF-8 encoded. ``xattrs`` become SCHILY.xattr.* records."""
    content = data.encode() if isinstance(data, str) else bytes(data)
    pax = tuple(sorted((f"SCHILY.xattr.{k}", v) for k, v in (xattrs or {}).items()))
    return Member(path, "file", content, mode=mode, uid=uid, gid=gid, mtime=mtime, pax=pax)


def directory(
    path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = DEFAULT_MTIME
) -> Member:
    """A directory (tar adds the trailing ``/``)."""
    return Member(path, "dir", mode=mode, uid=uid, gid=gid, mtime=mtime)


def symlink(
    path: str, target: str, *, uid: int = 0, gid: int = 0, mtime: int = DEFAULT_MTIME
) -> Member:
    """A symbolic link to ``target`` (written verbatim, relative or absolute)."""
    return Member(path, "symlink", target=target, uid=uid, gid=gid, mtime=mtime)


def hardlink(path: str, target: str, *, mode: int = 0o644, mtime: int = DEFAULT_MTIME) -> Member:
    """A hard link to the member named ``target`` (tar LNKTYPE, size 0)."""
    return Member(path, "hardlink", target=target, mode=mode, mtime=mtime)


def whiteout(path: str, *, mtime: int = DEFAULT_MTIME) -> Member:
    """Deletes ``path`` from lower layers: an empty file ``dir/.wh.name`` (image-spec layer.md)."""
    parent, _, name = path.rstrip("/").rpartition("/")
    return Member(f"{parent}/.wh.{name}" if parent else f".wh.{name}", "file", mtime=mtime)


def opaque_whiteout(directory_path: str, *, mtime: int = DEFAULT_MTIME) -> Member:
    """Hides every lower-layer child of a directory: ``dir/.wh..wh..opq`` (layer.md)."""
    return Member(f"{directory_path.rstrip('/')}/.wh..wh..opq", "file", mtime=mtime)


def char_device(
    path: str, major: int, minor: int, *, mode: int = 0o666, mtime: int = DEFAULT_MTIME
) -> Member:
    """A character device node."""
    return Member(path, "char", mode=mode, devmajor=major, devminor=minor, mtime=mtime)


def block_device(
    path: str, major: int, minor: int, *, mode: int = 0o660, mtime: int = DEFAULT_MTIME
) -> Member:
    """A block device node."""
    return Member(path, "block", mode=mode, devmajor=major, devminor=minor, mtime=mtime)


def fifo(path: str, *, mode: int = 0o644, mtime: int = DEFAULT_MTIME) -> Member:
    """A named pipe."""
    return Member(path, "fifo", mode=mode, mtime=mtime)


# --------------------------------------------------------------------------- blobs and layers


@dataclass(frozen=True)
class Blob:
    """Bytes with their media type; ``digest`` and ``size`` are computed from ``data``.

    ``diff_id`` is the digest of the uncompressed tar for layers, None otherwise.
    """

    media_type: str
    data: bytes = field(repr=False)
    diff_id: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    digest: str = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", sha256(self.data))
        object.__setattr__(self, "size", len(self.data))

    def descriptor(self, media_type: str | None = None) -> dict[str, Any]:
        """The OCI descriptor of this blob (optionally under another media type)."""
        desc: dict[str, Any] = {
            "mediaType": media_type or self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.annotations:
            desc["annotations"] = dict(self.annotations)
        return desc


def tar(entries: Iterable[Member], *, sort: bool = True) -> bytes:
    """An uncompressed PAX tar of ``entries`` (sorted by path, stable, unless ``sort=False``)."""
    members = sorted(entries, key=lambda e: e.path) if sort else list(entries)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in members:
            archive.addfile(entry.tarinfo(), io.BytesIO(entry.data) if entry.data else None)
    return buffer.getvalue()


def compress(data: bytes, compression: Compression) -> bytes:
    """gzip (mtime 0, no name, level 9), zstd (level 3, no checksum) or nothing."""
    if compression == "none":
        return data
    if compression == "gzip":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
            gz.write(data)
        return buffer.getvalue()
    if compression == "zstd":
        import zstandard

        params = zstandard.ZstdCompressor(level=3, write_checksum=False, write_content_size=True)
        return params.compress(data)
    raise ValueError(f"compression must be gzip, zstd or none, got {compression!r}")


def layer(
    entries: Iterable[Member],
    compression: Compression = "gzip",
    *,
    sort: bool = True,
    annotations: Mapping[str, str] | None = None,
) -> Blob:
    """A layer blob: tar of ``entries``, compressed; ``diff_id`` is the tar's digest."""
    raw = tar(entries, sort=sort)
    data = compress(raw, compression)
    return Blob(
        _OCI_LAYER[compression],
        data,
        diff_id=sha256(raw),
        annotations=tuple(sorted((annotations or {}).items())),
    )
