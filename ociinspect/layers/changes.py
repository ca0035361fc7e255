"""What one layer did to one path: the kinds of change, and :class:`Change`, one per path per layer.

This is dive's per-layer view as values. :func:`ociinspect.layers.overlay.apply_layers` makes
the changes while it merges the layers (``track_changes=True``); :func:`ociinspect.changes`
is the table. Which entry is a whiteout, and of what, comes from the listing
(:mod:`ociinspect.layers.contents`).

==================  ==========================================================================
kind                the path, compared with the layers below
==================  ==========================================================================
``added``           was not there (or had been removed): the layer adds it
``modified``        same type, other content: a file's bytes (by sha256 of its data), a
                    symlink's target, a device's numbers
``metadata``        same type and content; mode, owner or mtime differ, or the layer made the
                    directory opaque (overlayfs keeps that as an attribute of the directory)
``deleted``         removed by a whiteout (``.wh.<name>``) of the path or of a directory above
                    it, or because a directory above it became another type
``hidden``          a lower child of a directory the layer made opaque (``.wh..wh..opq``)
``type_changed``    replaced by an entry of another type (a file became a directory, ...)
==================  ==========================================================================

A path the layer lists again exactly as it was (a directory on the way to a change, with the
same mode, owner and mtime) is not a change. A path listed twice in one layer is one change,
from its state below the layer to its last state.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ADDED",
    "CHANGE_KINDS",
    "DELETED",
    "HIDDEN",
    "METADATA",
    "MODIFIED",
    "REMOVALS",
    "TYPE_CHANGED",
    "Change",
]

ADDED = "added"
MODIFIED = "modified"
METADATA = "metadata"
DELETED = "deleted"
HIDDEN = "hidden"
TYPE_CHANGED = "type_changed"
#: Every kind, in the order tables list their categories.
CHANGE_KINDS = (ADDED, MODIFIED, METADATA, DELETED, HIDDEN, TYPE_CHANGED)
#: Kinds after which the path is gone.
REMOVALS = frozenset({DELETED, HIDDEN})


@dataclass(frozen=True, slots=True)
class Change:
    """One path one layer touched, with its state below the layer and after it.

    - ``layer``: the layer's position (0 = bottom); ``path``: normalised, as in listings.
    - ``kind``: one of :data:`CHANGE_KINDS`.
    - ``type``: the entry type after the layer (before it, for a removal); a hardlink to a
      regular file is a ``file``, as on an unpacked image. ``type_before``: None when added.
    - ``size_before``, ``size_after``: bytes of the file (0 for other types); None on the side
      where the path does not exist.
    - ``layer_before``: the layer the earlier copy came from; None when added.
    - ``wasted_size``: bytes of earlier copies that this change left unreachable: still shipped
      by a layer, no longer in the merged filesystem. 0 when the earlier copy is still reachable
      through a hardlink (its bytes then count when the last name goes), or held no bytes.
      Summed over every change of an image, the ``wasted_bytes`` of
      :class:`~ociinspect.layers.overlay.Wasted`.
    - ``opaque``: the layer made this directory opaque.
    - ``hardlink_to``: for a name the layer stores as a tar hardlink, the path it links to.
    - ``link_target``: a symlink's target after the layer.
    """

    layer: int
    path: str
    kind: str
    type: str
    type_before: str | None = None
    size_before: int | None = None
    size_after: int | None = None
    layer_before: int | None = None
    wasted_size: int = 0
    opaque: bool = False
    hardlink_to: str | None = None
    link_target: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in CHANGE_KINDS:
            raise ValueError(f"Change.kind must be one of {CHANGE_KINDS}, got {self.kind!r}")

    @property
    def wasted(self) -> bool:
        """Whether the bytes of the earlier copy are wasted by this change."""
        return self.wasted_size > 0
