"""``FileTree``: a filesystem as collapsible directories with their total sizes, like dive's.

:func:`tree_payload` (pure) turns a listing (``filesystem()``'s or ``files()``'s columns:
``path``, ``type``, ``size``, ``mode``, ``link_target``; optional ``layer`` and ``change``) into
rows in depth-first order, directories' sizes summed over everything below them; the widget's
ES module (``static/tree.js``, an anywidget) draws only the rows in view and collapses and
expands directories in the page, without a kernel round trip. ``selected`` (the path clicked)
and ``only_changes`` are synchronised, so the kernel shows the selected file's contents.

Rows
    Every path of the listing once, plus the directories a path implies when the listing has
    no entry for them (``implied``). Children are ordered by name (code points), as ``ls``.
    ``size`` of a directory is the sum of the ``size`` of every listed entry below it (a tar
    directory entry holds no bytes), so the size of ``usr`` is
    ``frame[frame.path.str.startswith("usr/")]["size"].sum()``.

Changes
    ``change`` names what the layer shown did to a path (``added``, ``modified``,
    ``metadata``, ``deleted``, ``hidden``, ``type_changed``: the kinds of
    :func:`ociinspect.changes`; missing = unchanged). A row whose
    ``change`` is ``deleted`` or ``hidden`` is a *ghost*: shown struck through, with the size
    it had, and left out of its directories' sums (it is no longer there). With
    ``only_changes`` the tree shows changed rows and the directories that lead to them.

Links
    A symlink's target is resolved inside the tree (relative to its directory; an absolute
    target from the root; ``..`` never climbs above the root), a hardlink's target (a
    ``hardlink`` entry's ``link_target``, or ``filesystem()``'s ``hardlink_to``) is a path
    already; when the target is in the tree, clicking it selects it (:func:`resolve_link`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

import anywidget
import pandas as pd
from traitlets import Bool, Dict, Int, Unicode

from .format import missing
from .grid import MAX_ROWS, STATIC, GridInputError, GridTooLargeError

#: What a layer can do to a path (``changes()`` of the exactness issue), in legend order.
CHANGE_KINDS = ("added", "modified", "metadata", "type_changed", "deleted", "hidden")
#: Changes after which the path is gone: shown as ghosts, not counted in sizes.
GONE = frozenset({"deleted", "hidden"})
PAYLOAD_VERSION = 1


def resolve_link(path: str, link_type: str, target: str) -> str | None:
    """Where a link at ``path`` points, as a tree path ('' is the root); None when it
    cannot be said (an empty target). A symlink's relative target is read from the link's
    directory; ``..`` above the root stays at the root, as the kernel does in a chroot."""
    if not target:
        return None
    from_root = link_type == "hardlink" or target.startswith("/")
    base = "" if from_root else posixpath.dirname(path)
    parts: list[str] = []
    for part in posixpath.join(base, target.lstrip("/")).split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _clean(path: str) -> str:
    return path.strip("/").removeprefix("./") if path not in (".", "./", "/") else ""


def _text(value: object) -> str | None:
    return None if missing(value) else str(value)


def tree_payload(frame: pd.DataFrame, *, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """The JSON payload of :class:`FileTree` for ``frame`` (module docstring: rows, sizes,
    changes). Raises :class:`~ociinspect.widgets.grid.GridInputError` without a ``path``
    column, :class:`~ociinspect.widgets.grid.GridTooLargeError` over ``max_rows`` rows."""
    if not isinstance(frame, pd.DataFrame) or "path" not in frame.columns:
        raise GridInputError("a FileTree needs a DataFrame with a 'path' column")
    if len(frame) > max_rows:
        raise GridTooLargeError("rows", max_rows, len(frame))

    def column(name: str) -> list[Any]:
        return frame[name].tolist() if name in frame.columns else [None] * len(frame)

    entries: dict[str, dict[str, Any]] = {}
    for path, kind, size, mode, target, hard, layer, change in zip(
        column("path"),
        column("type"),
        column("size"),
        column("mode"),
        column("link_target"),
        column("hardlink_to"),
        column("layer"),
        column("change"),
        strict=True,
    ):
        if missing(path):
            continue
        key = _clean(str(path))
        if not key:
            continue
        entries[key] = {
            "type": _text(kind) or "file",
            "size": 0 if missing(size) else int(size),
            "mode": _text(mode),
            "target": _text(target) if not missing(target) else _text(hard),
            "hard": not missing(hard) or _text(kind) == "hardlink",
            "layer": None if missing(layer) else int(layer),
            "change": _text(change),
        }
    children: dict[str, list[str]] = {"": []}
    implied: set[str] = set()
    linked: set[str] = set()
    for key in list(entries):
        node = key
        while node and node not in linked:
            linked.add(node)
            parent = node.rpartition("/")[0]
            if parent and parent not in entries:
                implied.add(parent)
            children.setdefault(parent, []).append(node)
            node = parent
    for key in implied:
        entries[key] = {
            "type": "dir",
            "size": 0,
            "mode": None,
            "target": None,
            "hard": False,
            "layer": None,
            "change": None,
        }
    for kids in children.values():
        kids.sort()
    # Depth-first order without recursion: (key, depth).
    order: list[tuple[str, int]] = []
    stack = [(key, 0) for key in reversed(children.get("", []))]
    while stack:
        key, depth = stack.pop()
        order.append((key, depth))
        stack.extend((kid, depth + 1) for kid in reversed(children.get(key, [])))
    rows = len(order)
    end = [0] * rows
    totals = [0] * rows
    changed_below = [0] * rows
    open_at: list[int] = []  # rows of the directories on the current path
    for at, (key, depth) in enumerate(order):
        while open_at and order[open_at[-1]][1] >= depth:
            end[open_at.pop()] = at
        entry = entries[key]
        if entry["type"] == "dir":
            open_at.append(at)
        gone = entry["change"] in GONE
        own = 0 if gone or entry["type"] == "dir" else entry["size"]
        if own:
            for up in open_at:
                totals[up] += own
        if entry["change"] is not None:
            changed_below[at] = 1
            for up in open_at:
                changed_below[up] = 1
    for at in open_at:
        end[at] = rows
    for at, (_key, _depth) in enumerate(order):
        if end[at] == 0:
            end[at] = at + 1
    kinds = sorted(
        {e["change"] for e in entries.values() if e["change"] is not None},
        key=lambda k: CHANGE_KINDS.index(k) if k in CHANGE_KINDS else len(CHANGE_KINDS),
    )
    types = sorted({e["type"] for e in entries.values()})
    return {
        "version": PAYLOAD_VERSION,
        "rows": rows,
        "name": [key.rpartition("/")[2] for key, _ in order],
        "depth": [depth for _, depth in order],
        "end": end,
        "type": [types.index(entries[key]["type"]) for key, _ in order],
        "types": types,
        "size": [
            totals[at] if entries[key]["type"] == "dir" else entries[key]["size"]
            for at, (key, _) in enumerate(order)
        ],
        "mode": [entries[key]["mode"] for key, _ in order],
        "target": [entries[key]["target"] for key, _ in order],
        "hard": [1 if entries[key]["hard"] else 0 for key, _ in order],
        "layer": [entries[key]["layer"] for key, _ in order],
        "change": [
            -1 if entries[key]["change"] is None else kinds.index(entries[key]["change"])
            for key, _ in order
        ],
        "changes": kinds,
        "changed_below": changed_below,
        "implied": [1 if key in implied else 0 for key, _ in order],
        "has_changes": "change" in frame.columns,
    }


def payload_paths(payload: Mapping[str, Any]) -> list[str]:
    """The full path of each row of a payload (what the page rebuilds from names and depths)."""
    stack: list[str] = []
    out = []
    for name, depth in zip(payload["name"], payload["depth"], strict=True):
        del stack[depth:]
        stack.append(name)
        out.append("/".join(stack))
    return out


def directory_sizes(payload: Mapping[str, Any]) -> dict[str, int]:
    """Directory path -> the size the tree shows for it."""
    types = payload["types"]
    return {
        path: size
        for path, kind, size in zip(
            payload_paths(payload), payload["type"], payload["size"], strict=True
        )
        if types[kind] == "dir"
    }


class FileTree(anywidget.AnyWidget):
    """Collapsible directories with total sizes; rows coloured by ``change``; click to select.

    ``FileTree(frame)``; setting ``only_changes`` or ``selected`` in Python does what the
    checkbox or a click does. ``expand_depth`` says how deep directories start open.
    """

    _esm = STATIC / "tree.js"
    _css = STATIC / "tree.css"

    data = Dict(help="The payload of tree_payload(); set it through .frame.").tag(sync=True)
    selected = Unicode(None, allow_none=True, help="Path of the selected row.").tag(sync=True)
    only_changes = Bool(False, help="Show only changed paths and their directories.").tag(sync=True)
    expand_depth = Int(1, help="Directories shallower than this start expanded.").tag(sync=True)
    height = Int(420, help="Height of the scrolling area in pixels.").tag(sync=True)

    def __init__(self, frame: pd.DataFrame, *, height: int = 420, **kwargs: Any) -> None:
        self._frame = frame
        super().__init__(data=tree_payload(frame), height=height, **kwargs)

    @property
    def frame(self) -> pd.DataFrame:
        """The listing shown (as given)."""
        return self._frame

    @frame.setter
    def frame(self, frame: pd.DataFrame) -> None:
        payload = tree_payload(frame)  # raises before anything changes
        self._frame = frame
        with self.hold_sync():
            self.selected = None
            self.data = payload

    def paths(self) -> list[str]:
        """Every row's path, in the tree's order."""
        return payload_paths(self.data)


def changes_by_path(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``(path, change)`` pairs -> path -> change (the last pair of a path wins)."""
    return {_clean(path): change for path, change in rows}


__all__ = [
    "CHANGE_KINDS",
    "GONE",
    "FileTree",
    "changes_by_path",
    "directory_sizes",
    "payload_paths",
    "resolve_link",
    "tree_payload",
]
