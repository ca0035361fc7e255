"""The facts a fixture records: what a layer holds and what the unpacked image looks like.

:func:`tree_facts` walks a tree that ``umoci unpack --rootless`` made from the final image; that
tree is the reference answer for a merged filesystem (its regular files and their bytes' sha256,
symlinks and their targets, directories, hardlink groups and two byte totals).
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import layout as oci
from ._tools import sha256_file

#: Kinds of :class:`Change`. ``deleted`` is a whiteout (``.wh.<name>``) or a lower path hidden
#: by an opaque directory; ``metadata`` is a mode change with identical bytes; ``type`` is a path
#: whose file type changed (a file became a directory); ``opaque`` is a directory whose lower
#: contents are hidden wholesale (``.wh..wh..opq``).
CHANGE_KINDS = ("added", "modified", "deleted", "metadata", "type", "opaque")

_MAX_FILES = 200_000


@dataclass(frozen=True)
class Change:
    """One intended change of a layer to the filesystem below it (directories that only carry a
    path down to a change are not listed)."""

    path: str
    kind: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise ValueError(f"change kind {self.kind!r} is not one of {CHANGE_KINDS}")
        if not self.path.startswith("/"):
            raise ValueError(f"change path {self.path!r} is not absolute")


@dataclass(frozen=True)
class LayerFacts:
    """One layer as built: its descriptor, its diff_id, who made it and what it changes."""

    index: int
    media_type: str
    digest: str
    size: int
    diff_id: str
    entries: int
    made_by: str
    summary: str
    changes: tuple[Change, ...] = ()

    def paths(self, kind: str) -> tuple[str, ...]:
        """The paths of this layer's changes of one kind, in order."""
        if kind not in CHANGE_KINDS:
            raise ValueError(f"change kind {kind!r} is not one of {CHANGE_KINDS}")
        return tuple(change.path for change in self.changes if change.kind == kind)


@dataclass(frozen=True)
class FileFact:
    """A regular file of an unpacked tree: absolute path, size, sha256 (hex) of its bytes,
    permission bits and how many names its inode has in the tree."""

    path: str
    size: int
    sha256: str
    mode: int
    links: int


@dataclass(frozen=True)
class TreeFacts:
    """An unpacked filesystem tree, paths absolute and sorted.

    ``bytes_per_inode`` counts each inode once (what ``du --apparent-size -b`` gives over the
    regular files); ``bytes_per_name`` counts every name (``du --apparent-size -b --count-links``).
    They differ by the sizes of the extra names in ``hardlink_groups``.
    """

    files: tuple[FileFact, ...]
    symlinks: tuple[tuple[str, str], ...]
    directories: tuple[str, ...]
    hardlink_groups: tuple[tuple[str, ...], ...]
    bytes_per_name: int
    bytes_per_inode: int

    def file(self, path: str) -> FileFact:
        """The regular file at ``path``; LookupError if there is none."""
        for fact in self.files:
            if fact.path == path:
                return fact
        raise LookupError(f"no regular file {path!r} in the unpacked tree")

    def symlink_target(self, path: str) -> str:
        """The target of the symlink at ``path``; LookupError if there is none."""
        for name, target in self.symlinks:
            if name == path:
                return target
        raise LookupError(f"no symlink {path!r} in the unpacked tree")


def tree_facts(root: Path) -> TreeFacts:
    """Walk ``root`` (no symlink is followed) and record every entry; at most 200,000 entries."""
    files: list[FileFact] = []
    symlinks: list[tuple[str, str]] = []
    directories: list[str] = []
    names_by_inode: dict[tuple[int, int], list[str]] = {}
    size_by_inode: dict[tuple[int, int], int] = {}
    for count, (path, info) in enumerate(_walk(root), start=1):
        if count > _MAX_FILES:
            raise ValueError(f"{root}: more than {_MAX_FILES} entries")
        name = "/" + path.relative_to(root).as_posix()
        if stat.S_ISDIR(info.st_mode):
            directories.append(name)
        elif stat.S_ISLNK(info.st_mode):
            symlinks.append((name, os.readlink(path)))
        elif stat.S_ISREG(info.st_mode):
            files.append(
                FileFact(
                    path=name,
                    size=info.st_size,
                    sha256=sha256_file(path),
                    mode=stat.S_IMODE(info.st_mode),
                    links=info.st_nlink,
                )
            )
            inode = (info.st_dev, info.st_ino)
            names_by_inode.setdefault(inode, []).append(name)
            size_by_inode[inode] = info.st_size
        else:
            raise ValueError(f"{path}: unexpected file type {stat.filemode(info.st_mode)}")
    groups = sorted(tuple(sorted(names)) for names in names_by_inode.values() if len(names) > 1)
    return TreeFacts(
        files=tuple(sorted(files, key=lambda fact: fact.path)),
        symlinks=tuple(sorted(symlinks)),
        directories=tuple(sorted(directories)),
        hardlink_groups=tuple(groups),
        bytes_per_name=sum(fact.size for fact in files),
        bytes_per_inode=sum(size_by_inode.values()),
    )


def _walk(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        base = Path(directory)
        for name in sorted(subdirectories) + sorted(names):
            path = base / name
            yield path, path.lstat()


def layer_members(layout: Path, digest: str, media_type: str) -> list[tarfile.TarInfo]:
    """The tar members of a gzip or uncompressed layer blob, in stored order."""
    path = oci.blob_path(layout, digest)
    if media_type.endswith("+gzip") or media_type.endswith(".tar.gzip"):
        with gzip.open(path, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            return list(tar)
    if media_type.endswith(".tar") or media_type.endswith("rootfs.diff.tar"):
        with tarfile.open(path, mode="r:") as tar:
            return tar.getmembers()
    raise ValueError(f"layer_members reads gzip and plain tar layers, not {media_type}")


def describe_layers(
    layout: Path, tag: str, plans: tuple[tuple[str, str, tuple[Change, ...]], ...]
) -> tuple[LayerFacts, ...]:
    """LayerFacts for each layer of ``tag``, from its manifest and config plus the build plan
    (``made_by``, ``summary``, ``changes``) for each layer, bottom first."""
    manifest = oci.manifest(layout, tag).value
    diff_ids = oci.config(layout, tag).value["rootfs"]["diff_ids"]
    layers = manifest["layers"]
    if not len(layers) == len(diff_ids) == len(plans):
        raise ValueError(
            f"{layout}:{tag} has {len(layers)} layers and {len(diff_ids)} diff_ids; "
            f"the plan has {len(plans)}"
        )
    facts = []
    for index, (descriptor, diff_id, (made_by, summary, changes)) in enumerate(
        zip(layers, diff_ids, plans, strict=True)
    ):
        members = layer_members(layout, descriptor["digest"], descriptor["mediaType"])
        facts.append(
            LayerFacts(
                index=index,
                media_type=descriptor["mediaType"],
                digest=descriptor["digest"],
                size=descriptor["size"],
                diff_id=diff_id,
                entries=len(members),
                made_by=made_by,
                summary=summary,
                changes=changes,
            )
        )
    return tuple(facts)
