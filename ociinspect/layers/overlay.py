"""Layers applied in order: the merged filesystem, what each layer changed, and wasted bytes.

:func:`apply_layers` (and its parts :func:`merge`, :func:`wasted`, :func:`analyse`) takes the
listings of :func:`ociinspect.layers.contents.iter_entries` (bottom layer first) and applies them
with the rules of image-spec layer.md: "Whiteouts" (``.wh.<name>`` removes ``<name>`` and its
subtree from lower layers; "Opaque Whiteout" ``.wh..wh..opq`` hides every lower-layer child of
its directory; whiteouts apply only to lower layers and never appear in the result) and
"Applying Changesets", "Changeset over existing files" (a later entry replaces an earlier one at
the same path; a directory over a directory only updates its metadata; anything else over a
directory removes the directory's subtree).

Hardlinks (image-spec layer.md "Hardlinks"). A tar hardlink entry carries no data: it names the
path whose data it shares. containerd's applier links it to whatever is at that path when the
entry is applied: an earlier entry of the same layer's tar, which is where image-spec says the
target must be ("hardlinks MUST be created in the same changeset"), or, failing that, a path of
the layers below. This module does the same. In the merged filesystem a hardlink to a regular
file is a regular file (``type == "file"``) with its target's size, mode, owner and time, as
``umoci unpack`` and an overlay mount show it; ``hardlink_to`` keeps what the tar linked it to,
and ``links``/``inode`` group the names that share the data, as ``ls -li`` would. A hardlink to
another non-directory (a symlink, a device) takes that entry's type and attributes; one whose
target is missing or a directory stays a ``hardlink`` of size 0, as listed. A later layer that
stores a new regular file at one name gives that name new data and leaves the other names
alone (overlayfs's copy-up breaks the link the same way).

Wasted bytes follow the data, not the names: a copy's bytes are wasted when the *last* name
holding them goes. Debian's ``rm /usr/bin/perl``, where ``perl`` carries the data and
``perl5.36.0`` is its hardlink, wastes nothing: the bytes stay in the image under
``perl5.36.0`` (and count as wasted only if a later layer removes that name too).

Which entry is a whiteout, and of what, is read when listing (``TarEntry.whiteout``,
``TarEntry.whiteout_target``, by :mod:`ociinspect.layers.contents`); this module applies them.
Paths are compared in their lossless form, so two different undecodable names never collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import ArchiveError
from .changes import (
    ADDED,
    DELETED,
    HIDDEN,
    METADATA,
    MODIFIED,
    TYPE_CHANGED,
    Change,
)

# The listing's own path and whiteout-name rules, reused for undecodable names.
from .contents import Limits, TarEntry, _normalise, _whiteout, mode_string

__all__ = [
    "WASTE_KINDS",
    "Applied",
    "MergedEntry",
    "Wasted",
    "WastedCopy",
    "analyse",
    "apply_layers",
    "changes",
    "merge",
    "wasted",
]

WASTE_KINDS = ("overwritten", "deleted", "hidden")
#: The most paths (and superseded copies) the merged view holds by default: as many entries as
#: one layer may list (:class:`~ociinspect.layers.contents.Limits`), whatever the layer count.
MAX_MERGED_ENTRIES = Limits().max_entries


@dataclass(frozen=True, slots=True)
class MergedEntry:
    """One path of the merged filesystem; ``layer`` is the index of the layer it comes from.

    For a hardlink to a regular file: ``type`` is ``file``, ``size`` and ``mode`` are the
    target's, ``hardlink_to`` the path the tar linked it to. ``links`` (names sharing the data)
    and ``inode`` (a number shared by those names, 1 and up in the order the data was added) are
    set for regular files only. ``link_target`` is a symlink's target.
    """

    path: str
    type: str
    size: int
    mode: int
    layer: int
    link_target: str | None = None
    hardlink_to: str | None = None
    links: int | None = None
    inode: int | None = None
    uid: int = 0
    gid: int = 0
    mtime: float = 0.0
    mtime_ns: int | None = None
    content_digest: str | None = None

    @property
    def mode_string(self) -> str:
        return mode_string(self.type, self.mode)


@dataclass(frozen=True, slots=True)
class WastedCopy:
    """A file copy that the merged filesystem does not show but a layer still ships.

    ``path`` is where the copy's bytes are stored (the name that carried the data in its
    layer's tar). ``how``: ``overwritten`` (a later entry at the same path, in a later layer or
    later in the same layer, or a non-directory replacing an ancestor directory), ``deleted`` (a
    ``.wh.`` whiteout of the path or of an ancestor) or ``hidden`` (an opaque whiteout of an
    ancestor): what removed the last name holding the bytes.
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
    copies of 0 bytes are left out of ``copies``. A copy still reachable through a hardlink is
    not wasted (see the module docstring); it is when its last name goes.

    ``efficiency = 1 - wasted_bytes / file_bytes``, with ``file_bytes`` the sum of the sizes of
    every file entry of every layer (superseded ones included; a hardlink entry stores no bytes);
    1.0 when there are no files.

    dive's score differs: per path it divides the smallest size seen by the sum of all sizes
    seen, where a whiteout adds the size of what it removes; so a file that is deleted scores
    0.5 there and 0 here. dive's "wasted bytes" add up every copy of a path that appears more
    than once, the surviving copy included (layers 0, 1, 2 -> size0 + size1 + size2), and it
    does not follow hardlinks.
    """

    copies: tuple[WastedCopy, ...]
    wasted_bytes: int
    file_bytes: int

    @property
    def efficiency(self) -> float:
        if self.file_bytes == 0:
            return 1.0
        return 1.0 - self.wasted_bytes / self.file_bytes


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_layers` found: the merged filesystem (sorted by path), the wasted
    copies, and (when tracked) one :class:`~ociinspect.layers.changes.Change` per path per
    layer, by layer then path."""

    merged: list[MergedEntry]
    wasted: Wasted
    changes: list[Change] = field(default_factory=list)


def _parent(path: str) -> str:
    return path.rpartition("/")[0] or "."


class _Data:
    """The bytes of one regular file entry, shared by every name hardlinked to it."""

    __slots__ = ("entry", "layer", "names", "inode")

    def __init__(self, entry: TarEntry, layer: int, inode: int) -> None:
        self.entry = entry
        self.layer = layer
        self.names = 0
        self.inode = inode


class _Node:
    """A path of the merged view: the entry listed for it, the attributes shown (a resolved
    hardlink shows its target's) and, for a regular file, its data."""

    __slots__ = ("entry", "layer", "shown", "data", "hardlink_to")

    def __init__(
        self,
        entry: TarEntry,
        layer: int,
        shown: TarEntry,
        data: _Data | None,
        hardlink_to: str | None,
    ) -> None:
        self.entry = entry
        self.layer = layer
        self.shown = shown
        self.data = data
        self.hardlink_to = hardlink_to

    @property
    def size(self) -> int:
        return self.data.entry.size if self.data is not None else self.shown.size


class _Touch:
    """A path one layer touched: its node below the layer, what removed it, bytes wasted."""

    __slots__ = ("before", "how", "wasted", "opaque")

    def __init__(self, before: _Node | None) -> None:
        self.before = before
        self.how: str | None = None
        self.wasted = 0
        self.opaque = False


class _Overlay:
    """The merged view, keyed by lossless normalised path, with a child index for subtrees."""

    def __init__(self, track: bool, max_entries: int = MAX_MERGED_ENTRIES) -> None:
        self.max_entries = max_entries
        self.nodes: dict[str, _Node] = {}
        self.children: dict[str, set[str]] = {}  # every key here is linked to its parent
        self.copies: list[WastedCopy] = []
        self.file_bytes = 0
        self.track = track
        self.touched: dict[str, _Touch] = {}
        self.changes: list[Change] = []
        self._inodes = 0

    # -- bookkeeping --------------------------------------------------------------------------

    def _link(self, key: str) -> None:
        while key != ".":
            parent = _parent(key)
            kids = self.children.get(parent)
            if kids is not None:
                kids.add(key)
                return
            self.children[parent] = {key}
            key = parent

    def _touch(self, key: str) -> _Touch | None:
        if not self.track:
            return None
        touch = self.touched.get(key)
        if touch is None:
            touch = self.touched[key] = _Touch(self.nodes.get(key))
        return touch

    def _drop(self, key: str, by: int, how: str) -> None:
        """Remove the node at ``key``; its bytes are wasted if it held the last name of them."""
        touch = self._touch(key)
        node = self.nodes.pop(key, None)
        if node is None:
            return
        if touch is not None:
            touch.how = how
        data = node.data
        if data is None:
            return
        data.names -= 1
        if data.names == 0 and data.entry.size:
            self.copies.append(WastedCopy(data.entry.path, data.entry.size, data.layer, by, how))
            if touch is not None:
                touch.wasted += data.entry.size

    def _remove_children(self, key: str, by: int, how: str) -> None:
        """Remove the subtree below ``key``, depth first in path order (deterministic)."""
        stack = sorted(self.children.pop(key, ()), reverse=True)
        while stack:
            child = stack.pop()
            self._drop(child, by, how)
            stack.extend(sorted(self.children.pop(child, ()), reverse=True))

    def remove(self, key: str, by: int, how: str) -> None:
        if key == ".":
            return
        self._drop(key, by, how)
        self._remove_children(key, by, how)
        kids = self.children.get(_parent(key))
        if kids is not None:
            kids.discard(key)

    # -- applying -----------------------------------------------------------------------------

    def _resolve(self, entry: TarEntry) -> tuple[TarEntry, _Data | None]:
        """What a hardlink entry shows and the data it shares (see the module docstring)."""
        target = self.nodes.get(_normalise(entry.link_target or "")[0])
        if target is None or target.shown.type == "dir":
            return entry, None
        return target.shown, target.data

    def add(self, entry: TarEntry, key: str, layer: int) -> None:
        touch = self._touch(key)
        if entry.type == "file":
            self.file_bytes += entry.size
        is_dir = entry.type == "dir"
        old = self.nodes.get(key)
        if old is not None and not (is_dir and old.shown.type == "dir"):
            self._drop(key, layer, "overwritten")
        if not is_dir and key != ".":
            self._remove_children(key, layer, "overwritten")
        if touch is not None:
            touch.how = None  # there again
        shown, data, hardlink_to = entry, None, None
        if entry.type == "file":
            self._inodes += 1
            data = _Data(entry, layer, self._inodes)
        elif entry.type == "hardlink":
            hardlink_to = entry.link_target
            shown, data = self._resolve(entry)
        if data is not None:
            data.names += 1
        self.nodes[key] = _Node(entry, layer, shown, data, hardlink_to)
        self._link(key)
        if len(self.nodes) > self.max_entries or len(self.copies) > self.max_entries:
            raise ArchiveError(
                f"the merged filesystem of layers 0 to {layer} holds over {self.max_entries:,} "
                "paths (or superseded copies): over the limit (Limits.max_entries); list one "
                "layer at a time with files(ref, layer), or pass limits=Limits(max_entries=...)"
            )

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
            key = _target_key(entry)
            touch = self._touch(key)
            if touch is not None:
                touch.opaque = True
            self._remove_children(key, layer, "hidden")
        for entry in additions:
            self.add(entry, _key(entry), layer)
        if self.track:
            self._record(layer)

    # -- results ------------------------------------------------------------------------------

    def _record(self, layer: int) -> None:
        """One :class:`Change` per path this layer touched, in path order."""
        for key in sorted(self.touched):
            touch = self.touched[key]
            change = _change(layer, touch, self.nodes.get(key))
            if change is not None:
                self.changes.append(change)
        self.touched = {}

    def merged(self) -> list[MergedEntry]:
        out = []
        for _, node in sorted(self.nodes.items()):
            shown, data = node.shown, node.data
            out.append(
                MergedEntry(
                    path=node.entry.path,
                    type=shown.type,
                    size=node.size,
                    mode=shown.mode,
                    layer=node.layer,
                    link_target=shown.link_target if shown.type == "symlink" else None,
                    hardlink_to=node.hardlink_to,
                    links=data.names if data is not None else None,
                    inode=data.inode if data is not None else None,
                    uid=shown.uid,
                    gid=shown.gid,
                    mtime=shown.mtime,
                    mtime_ns=shown.mtime_ns,
                    content_digest=data.entry.content_digest if data is not None else None,
                )
            )
        return out


def _content(node: _Node) -> tuple[object, ...]:
    shown = node.shown
    if node.data is not None:
        entry = node.data.entry
        if entry.content_digest is None:  # listed without digests: size and time decide
            return ("file", entry.size, entry.mtime_ns, entry.mtime)
        return ("file", entry.size, entry.content_digest)
    if shown.type in ("symlink", "hardlink"):
        return (shown.type, shown.link_target)
    if shown.type in ("char", "block"):
        return (shown.type, shown.devmajor, shown.devminor)
    return (shown.type,)


def _metadata(node: _Node) -> tuple[object, ...]:
    shown = node.shown
    return (shown.mode, shown.uid, shown.gid, shown.mtime_ns, shown.mtime)


def _change(layer: int, touch: _Touch, after: _Node | None) -> Change | None:
    before = touch.before
    if before is None and after is None:
        return None
    if before is None:
        kind = ADDED
    elif after is None:
        kind = HIDDEN if touch.how == "hidden" else DELETED
    elif before.shown.type != after.shown.type:
        kind = TYPE_CHANGED
    elif before.data is not None and before.data is after.data:  # the same inode
        kind = METADATA if touch.opaque else ""
    elif _content(before) != _content(after):
        kind = MODIFIED
    elif touch.opaque or _metadata(before) != _metadata(after):
        kind = METADATA
    else:
        kind = ""
    if not kind:
        return None
    now = after if after is not None else before
    assert now is not None
    return Change(
        layer=layer,
        path=now.entry.path,
        kind=kind,
        type=now.shown.type,
        type_before=before.shown.type if before is not None else None,
        size_before=before.size if before is not None else None,
        size_after=after.size if after is not None else None,
        layer_before=before.layer if before is not None else None,
        wasted_size=touch.wasted,
        opaque=touch.opaque,
        hardlink_to=after.hardlink_to if after is not None else None,
        link_target=(
            after.shown.link_target
            if after is not None and after.shown.type == "symlink"
            else None
        ),
    )


def _key(entry: TarEntry) -> str:
    return _normalise(entry.name)[0] if entry.undecodable else entry.path


def _target_key(entry: TarEntry) -> str:
    if not entry.undecodable:
        return entry.whiteout_target or "."
    return _whiteout(_key(entry))[1] or "."


def apply_layers(
    layers: Iterable[Iterable[TarEntry]],
    *,
    track_changes: bool = False,
    max_entries: int = MAX_MERGED_ENTRIES,
) -> Applied:
    """Apply the layers (bottom first): the merged filesystem, the wasted copies and, with
    ``track_changes``, what each layer did to each path it touched. For changes, list the
    layers with ``digests=True`` (:func:`~ociinspect.layers.contents.iter_entries`): without
    content digests a file rewritten with the same size and mtime cannot be told from one that
    kept its bytes, and counts as ``metadata`` or unchanged.

    Memory is bounded: more than ``max_entries`` paths in the merged view (or superseded copies)
    is an :class:`~ociinspect.errors.ArchiveError` as soon as it happens (three layers of a
    million distinct entries would otherwise hold all three million)."""
    overlay = _Overlay(track_changes, max_entries)
    for index, entries in enumerate(layers):
        overlay.apply(entries, index)
    waste = sum(copy.size for copy in overlay.copies)
    return Applied(
        overlay.merged(),
        Wasted(tuple(overlay.copies), waste, overlay.file_bytes),
        overlay.changes,
    )


def analyse(layers: Iterable[Iterable[TarEntry]]) -> tuple[list[MergedEntry], Wasted]:
    """:func:`merge` and :func:`wasted` in one pass over the layers (bottom layer first)."""
    applied = apply_layers(layers)
    return applied.merged, applied.wasted


def merge(layers: Iterable[Iterable[TarEntry]]) -> list[MergedEntry]:
    """The filesystem the layers make, bottom layer first, sorted by path.

    Whiteouts never appear; a whiteout removes only what lower layers added (image-spec
    layer.md). An entry below a path that a layer made a non-directory is not checked for (such a
    layer fails to apply in Docker); it is shown as listed.
    """
    return apply_layers(layers).merged


def wasted(layers: Iterable[Iterable[TarEntry]]) -> Wasted:
    """Superseded file copies of the layers, each counted once; see :class:`Wasted`."""
    return apply_layers(layers).wasted


def changes(layers: Iterable[Iterable[TarEntry]]) -> list[Change]:
    """One :class:`~ociinspect.layers.changes.Change` per path per layer that touches it (see
    :func:`apply_layers` and :mod:`ociinspect.layers.changes`)."""
    return apply_layers(layers, track_changes=True).changes

