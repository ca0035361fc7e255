"""Layers applied in order: the merged filesystem, with whiteouts, and the space it wastes.

:func:`merge`, :func:`wasted` and :func:`analyse` take the listings of
:func:`ociinspect.layers.contents.iter_entries` (bottom layer first) and apply them with the rules
of image-spec layer.md: "Whiteouts" (``.wh.<name>`` removes ``<name>`` and its subtree from lower
layers; "Opaque Whiteout" ``.wh..wh..opq`` hides every lower-layer child of its directory;
whiteouts apply only to lower layers and never appear in the result) and "Applying Changesets",
"Changeset over existing files" (a later entry replaces an earlier one at the same path; a
directory over a directory only updates its metadata; anything else over a directory removes the
directory's subtree).

Which entry is a whiteout, and of what, is read when listing (``TarEntry.whiteout``,
``TarEntry.whiteout_target``, by :mod:`ociinspect.layers.contents`); this module applies them. Paths
are compared in their lossless form, so two different undecodable names never collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The listing's own path and whiteout-name rules, reused for undecodable names.
from .contents import TarEntry, _normalise, _whiteout, mode_string

__all__ = ["WASTE_KINDS", "MergedEntry", "Wasted", "WastedCopy", "analyse", "merge", "wasted"]

WASTE_KINDS = ("overwritten", "deleted", "hidden")


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


def _parent(path: str) -> str:
    return path.rpartition("/")[0] or "."


class _Overlay:
    """The merged view, keyed by lossless normalised path, with a child index for subtrees."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[TarEntry, int]] = {}
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

    def add(self, entry: TarEntry, key: str, layer: int) -> None:
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

    def apply(self, entries: Iterable[TarEntry], layer: int) -> None:
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


def _key(entry: TarEntry) -> str:
    return _normalise(entry.name)[0] if entry.undecodable else entry.path


def _target_key(entry: TarEntry) -> str:
    if not entry.undecodable:
        return entry.whiteout_target or "."
    return _whiteout(_key(entry))[1] or "."


def analyse(layers: Iterable[Iterable[TarEntry]]) -> tuple[list[MergedEntry], Wasted]:
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


def merge(layers: Iterable[Iterable[TarEntry]]) -> list[MergedEntry]:
    """The filesystem the layers make, bottom layer first, sorted by path.

    Whiteouts never appear; a whiteout removes only what lower layers added (image-spec
    layer.md). An entry below a path that a layer made a non-directory is not checked for (such a
    layer fails to apply in Docker); it is shown as listed.
    """
    return analyse(layers)[0]


def wasted(layers: Iterable[Iterable[TarEntry]]) -> Wasted:
    """Superseded file copies of the layers, each counted once; see :class:`Wasted`."""
    return analyse(layers)[1]
