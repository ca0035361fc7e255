"""The browser's Files tab: every entry of a layer or of the merged filesystem, as a table
(:class:`~.grid.FileGrid`) or a tree (:class:`~.tree.FileTree`), the selected entry's facts and
contents, and for the merged view the image's wasted space.

Listings come from the table API (:func:`ociinspect.api.files`, :func:`~ociinspect.api.filesystem`,
:func:`~ociinspect.api.wasted`), what a layer changed from ``changes()`` and file contents from
``read_file()`` when this version of ociinspect has them (:func:`optional_api`); without them
the tab says what is not available instead of guessing. Slow work goes through the browser's
``submit`` (its background runner). One grid and one tree are made once and given new frames,
so switching layers creates no widgets.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from .. import api, navigation
from ..values.units import format_size
from . import contents as show
from .format import esc, size_html, table_html
from .grid import FileGrid
from .htmlview import HTMLView
from .tree import FileTree, resolve_link

#: browser._submit(channel, action, work, show, busy, failed)
Submit = Callable[..., None]
MERGED = -1  # the Files tab's "layer" when the merged view is on
TABLE, TREE = "Table", "Tree"
#: Columns of a listing shown until "All columns" is ticked (the rest are one click away).
MAIN_COLUMNS = (
    "path",
    "hardlink_to",
    "type",
    "size",
    "mode",
    "uid",
    "gid",
    "mtime",
    "link_target",
    "layer",
    "change",
    "whiteout",
)
#: Wasted-space rows listed under the merged view (the largest first).
WASTED_ROWS = 200


def optional_api(name: str) -> Callable[..., Any] | None:
    """A table function that other parts of ociinspect add (``changes``, ``read_file``,
    ``open_file``, ``packages``, ``os_release``), or None in a version without it."""
    import importlib

    import ociinspect

    for place in (api, ociinspect):
        found = getattr(place, name, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    try:
        reading = importlib.import_module("ociinspect.reading")
    except ImportError:
        return None
    found = getattr(reading, name, None)
    return found if callable(found) else None


def css(widget: Any, *classes: str) -> Any:
    for name in classes:
        widget.add_class(name)
    return widget


def _links(row: pd.Series | dict[str, Any], paths: set[str]) -> list[tuple[str, str | None]]:
    kind = str(row.get("type", ""))
    target = row.get("link_target")
    hard = row.get("hardlink_to")
    if hard is not None and not pd.isna(hard):
        kind, target = "hardlink", hard
    if kind not in ("symlink", "hardlink") or target is None or pd.isna(target):
        return []
    resolved = resolve_link(str(row["path"]), kind, str(target))
    return [(str(target), resolved if resolved in paths else None)]


def _kind_column(changes: pd.DataFrame) -> str:
    return "kind" if "kind" in changes.columns else "change"


def state_after(changes: pd.DataFrame, layer: int) -> pd.DataFrame:
    """dive's tree for ``layer``, from ``changes()`` rows: every path that exists after the
    layers up to ``layer`` (its last change there is not a removal), with its type, size and
    the layer it comes from, and ``change`` saying what ``layer`` itself did; plus the paths
    ``layer`` deleted or hid, as ghosts with the size they had."""
    kind = _kind_column(changes)
    upto = changes[changes["layer"] <= layer]
    upto = upto.sort_values("layer", kind="stable")
    last = upto.drop_duplicates("path", keep="last")
    removal = last[kind].astype(str).isin(("deleted", "hidden"))
    alive = last[~removal]
    here = alive["layer"] == layer
    size = alive["size_after"] if "size_after" in alive.columns else alive.get("size", 0)
    frame = pd.DataFrame(
        {
            "path": alive["path"].astype(str).to_numpy(),
            "type": alive["type"].astype(str).to_numpy(),
            "size": pd.Series(size).fillna(0).astype("int64").to_numpy(),
            "layer": alive["layer"].astype("int64").to_numpy(),
            "link_target": (
                alive["link_target"].to_numpy() if "link_target" in alive.columns else None
            ),
            "change": alive[kind].astype(str).where(here.to_numpy(), None).to_numpy(),
        }
    )
    ghosts = changes[
        (changes["layer"] == layer) & changes[kind].astype(str).isin(("deleted", "hidden"))
    ]
    if len(ghosts):
        before = ghosts["size_before"] if "size_before" in ghosts.columns else 0
        extra = pd.DataFrame(
            {
                "path": ghosts["path"].astype(str).to_numpy(),
                "type": ghosts["type"].astype(str).to_numpy(),
                "size": pd.Series(before).fillna(0).astype("int64").to_numpy(),
                "layer": layer,
                "link_target": None,
                "change": ghosts[kind].astype(str).to_numpy(),
            }
        )
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame


def layer_tree_frame(listing: pd.DataFrame) -> pd.DataFrame:
    """Without ``changes()``: the layer's own entries, its whiteouts shown as the deletions
    they are (the tar says so), nothing else coloured."""
    if "whiteout" not in listing.columns:
        return listing
    frame = listing[listing["whiteout"].isna()].drop(columns=["whiteout"])
    outs = listing[listing["whiteout"].notna()]
    targets = outs["whiteout_target"] if "whiteout_target" in outs.columns else outs["path"]
    ghosts_rows = []
    for kind, target in zip(outs["whiteout"], targets, strict=True):
        if kind == "file" and isinstance(target, str):
            ghosts_rows.append({"path": target, "type": "file", "size": 0, "change": "deleted"})
        elif kind == "opaque" and isinstance(target, str):
            ghosts_rows.append({"path": target, "type": "dir", "size": 0, "change": "hidden"})
    frame = frame.assign(change=None)
    if ghosts_rows:
        frame = pd.concat([frame, pd.DataFrame(ghosts_rows)], ignore_index=True)
    return frame


class FilesPane:
    """Pick a layer (or the merged view) and a Table or Tree view of it; select an entry to see
    its facts and contents."""

    def __init__(
        self,
        submit: Submit,
        error_html: Callable[[BaseException], str],
        open_layer: Callable[[int], None],
    ) -> None:
        self._submit = submit
        self._error_html = error_html
        self._open_layer = open_layer
        self._lock = threading.RLock()
        self.picker = css(
            w.Dropdown(
                description="Layer",
                options=[],
                layout=w.Layout(width="auto", flex="0 1 420px", min_width="200px"),
            ),
            "oi-layer",
        )
        self.merged_box = css(
            w.Checkbox(
                description="Merged view (all layers, whiteouts applied)",
                indent=False,
                layout=w.Layout(width="auto"),
            ),
            "oi-merged",
        )
        self.view_picker = css(
            w.ToggleButtons(
                options=[TABLE, TREE],
                value=TABLE,
                tooltips=["Every entry: sort, filter", "Directories with sizes"],
                style={"button_width": "64px"},
            ),
            "oi-files-mode",
        )
        self.all_columns = css(
            w.Checkbox(description="All columns", indent=False, layout=w.Layout(width="auto")),
            "oi-all-columns",
        )
        self.summary = css(HTMLView(), "oi-files-summary")
        self.holder = css(w.Box(layout=w.Layout(display="block")), "oi-files-holder")
        self.details = css(HTMLView(), "oi-file-details")
        self.wasted_view = css(HTMLView(layout=w.Layout(display="none")), "oi-wasted-view")
        # What older code and tests call the listing: the summary above the grid or tree.
        self.view = self.summary
        controls = css(
            w.HBox(
                [self.picker, self.merged_box, self.view_picker, self.all_columns],
                layout=w.Layout(flex_flow="row wrap", align_items="center"),
            ),
            "oi-files-controls",
        )
        self.box = css(
            w.VBox([controls, self.summary, self.holder, self.details, self.wasted_view]),
            "oi-files-pane",
        )
        self.grid: FileGrid | None = None
        self.tree: FileTree | None = None
        self._image: navigation.Image | None = None
        self._frames: dict[tuple[str, int], pd.DataFrame] = {}
        self._trees: dict[tuple[str, int], pd.DataFrame] = {}
        self._notes: dict[tuple[str, int], str] = {}
        self._wasted: dict[str, pd.DataFrame] = {}
        self._changes: dict[str, pd.DataFrame] = {}
        self._position = 0
        self._shown: pd.DataFrame | None = None
        self._by_path: dict[str, int] = {}
        self.details.on_action("layer", lambda arg: self._open_layer(int(arg)))
        self.details.on_action("select", self.select)
        self.summary.on_action("layer", lambda arg: self._open_layer(int(arg)))
        self.wasted_view.on_action("select", self.select)
        self.view_picker.observe(lambda _c: self.refresh(), "value")
        self.all_columns.observe(lambda _c: self.refresh(), "value")

    # -- state ----------------------------------------------------------------------------

    def reset(self, img: navigation.Image | None, layer: int) -> int:
        """Show ``img``'s layers in the picker; returns ``layer`` kept within range."""
        self._image = img
        layers = img.layers if img is not None else ()
        self.picker.options = [
            (f"#{i}  {d.digest[:19]}…  {format_size(d.size)}", i) for i, d in enumerate(layers)
        ]
        layer = min(max(layer, 0), len(layers) - 1) if layers else 0
        self.picker.value = layer if layers else None
        self.summary.value = "" if img is not None else '<p class="oi-empty">Nothing loaded.</p>'
        self.details.value = ""
        self.wasted_view.layout.display = "none"
        self.holder.children = []
        self._shown = None
        return layer

    @property
    def mode(self) -> str:
        return str(self.view_picker.value)

    def show(self, layer: int, merged: bool) -> None:
        """List ``layer`` (or the merged view), from memory when listed before."""
        img = self._image
        if img is None or not img.layers:
            self.summary.value = '<p class="oi-empty">No layers to list.</p>'
            self.holder.children = []
            return
        position = MERGED if merged else layer
        self._position = position
        key = (img.digest, position)
        if key in self._frames:
            self.refresh()
            return
        what = "the merged filesystem" if position == MERGED else f"layer {position}"
        self.summary.value = f'<p class="oi-note">Listing {esc(what)}…</p>'
        self.holder.children = []
        self.details.value = ""

        def work() -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str]:
            return self._fetch(img, position)

        def shown(
            result: tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str],
        ) -> None:
            listing, tree, wasted, note = result
            self._frames[key] = listing
            if tree is not None:
                self._trees[key] = tree
            if wasted is not None:
                self._wasted[img.digest] = wasted
            self._notes[key] = note
            if self._image is img and self._position == position:
                self.refresh()

        def failed(error: BaseException) -> None:
            if self._image is img:
                self.summary.value = self._error_html(error)

        self._submit("aux", f"list {what}", work, shown, f"Listing {what}…", failed)

    def _fetch(
        self, img: navigation.Image, position: int
    ) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str]:
        """The listing, the tree's rows when they cost nothing more, the wasted table (merged
        view) and a note. A layer's tree (from ``changes()``, which reads every layer) is made
        only when the Tree is asked for (:meth:`_fetch_tree`)."""
        if position == MERGED:
            listing = pd.DataFrame(api.filesystem(img))
            wasted = api.wasted(img)
            frame = pd.DataFrame(wasted)
            frame.attrs.update(wasted.attrs)
            return listing, listing, frame, ""
        listing = pd.DataFrame(api.files(img, position))
        if optional_api("changes") is None:
            note = (
                "Colours for added and modified paths need changes(), which this version "
                "of ociinspect does not have; deletions are read from the layer's whiteouts."
            )
            return listing, layer_tree_frame(listing), None, note
        note = (
            "The table lists the layer's own tar entries; the tree shows the filesystem after "
            f"layer {position}, coloured by what this layer changed."
        )
        return listing, None, None, note

    def _fetch_tree(self, img: navigation.Image, position: int) -> pd.DataFrame:
        """dive's tree of ``position`` from ``changes()`` (read once per image)."""
        changes = optional_api("changes")
        assert changes is not None  # _fetch made the tree itself otherwise
        every = self._changes.get(img.digest)
        if every is None:
            every = pd.DataFrame(changes(img))
            self._changes[img.digest] = every
        return state_after(every, position)

    def _ask_tree(self, img: navigation.Image, position: int) -> None:
        key = (img.digest, position)
        self.summary.value += '<p class="oi-note">Reading what each layer changed…</p>'

        def shown(frame: pd.DataFrame) -> None:
            self._trees[key] = frame
            if self._image is img and self._position == position:
                self.refresh()

        def failed(error: BaseException) -> None:
            if self._image is img:
                self.summary.value = self._error_html(error)

        self._submit(
            "aux",
            f"changes of layer {position}",
            lambda: self._fetch_tree(img, position),
            shown,
            "Reading what each layer changed…",
            failed,
        )

    # -- drawing --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Draw the current listing in the current mode (Table or Tree)."""
        img = self._image
        if img is None:
            return
        key = (img.digest, self._position)
        listing = self._frames.get(key)
        if listing is None:
            return
        with self._lock:
            merged = self._position == MERGED
            self.summary.value = self._summary_html(listing, merged, self._notes.get(key, ""))
            if self.mode == TREE:
                frame = self._trees.get(key)
                if frame is None:
                    self.holder.children = []
                    self._ask_tree(img, self._position)
                    return
                self._shown = frame
                if self.tree is None:
                    self.tree = css(FileTree(frame, height=420), "oi-files-tree")
                    self.tree.observe(self._on_select, "selected")
                else:
                    self.tree.frame = frame
                self.holder.children = [self.tree]
            else:
                every = self._changes.get(img.digest)
                if every is not None and not merged and "change" not in listing.columns:
                    mine = every[every["layer"] == self._position]
                    kinds = dict(
                        zip(
                            mine["path"].astype(str),
                            mine[_kind_column(mine)].astype(str),
                            strict=True,
                        )
                    )
                    listing = listing.assign(change=listing["path"].astype(str).map(kinds))
                    self._frames[key] = listing
                self._shown = listing
                hidden = (
                    ()
                    if self.all_columns.value
                    else [c for c in listing.columns if c not in MAIN_COLUMNS]
                )
                if self.grid is None:
                    self.grid = css(FileGrid(listing, hidden=hidden, height=420), "oi-files-grid")
                    self.grid.observe(self._on_select, "selected")
                else:
                    self.grid._hidden = tuple(hidden)
                    self.grid.frame = listing
                self.holder.children = [self.grid]
            self._by_path = {str(p): i for i, p in enumerate(self._shown["path"].tolist())}
            self.details.value = '<p class="oi-note">Select an entry to see its contents.</p>'
            self._draw_wasted(img, merged)

    def _summary_html(self, listing: pd.DataFrame, merged: bool, note: str) -> str:
        rows = len(listing)
        files = listing[listing["type"].astype(str) == "file"] if "type" in listing else listing
        noun = "paths" if merged else "entries"
        text = f"{rows:,} {noun}, {size_html(int(files['size'].sum()))} in {len(files):,} files"
        if merged:
            text += " (the filesystem a container from this image starts with)"
        out = f'<div class="oi-summary">{text}</div>'
        if note:
            out += f'<p class="oi-note">{esc(note)}</p>'
        return out

    def _draw_wasted(self, img: navigation.Image, merged: bool) -> None:
        wasted = self._wasted.get(img.digest) if merged else None
        if wasted is None:
            self.wasted_view.layout.display = "none"
            return
        attrs = wasted.attrs
        wasted_bytes = int(attrs.get("wasted_bytes", int(wasted["size"].sum())))
        file_bytes = int(attrs.get("file_bytes", 0))
        efficiency = float(attrs.get("efficiency", 1.0))
        head = (
            f'<div class="oi-h">Wasted space</div><div class="oi-summary">'
            f"{size_html(wasted_bytes)} of {size_html(file_bytes)} in files is shipped but "
            f"not visible (overwritten, deleted or hidden by a later layer): efficiency "
            f"{efficiency:.1%}, {len(wasted):,} cop{'ies' if len(wasted) != 1 else 'y'}.</div>"
        )
        from .format import Column, text

        top = wasted.sort_values("size", ascending=False, kind="stable").head(WASTED_ROWS)
        columns = [
            Column("path", "path", lambda v: f"<code>{esc(v)}</code>", css="oi-path"),
            Column("size", "size", size_html, numeric=True),
            Column("added_in", "added in", lambda v: f"#{int(v)}", numeric=True),
            Column("superseded_in", "superseded in", lambda v: f"#{int(v)}", numeric=True),
            Column("how", "how", text),
        ]
        body = table_html(top, columns, css="oi-wasted", empty="Nothing is wasted.")
        if len(wasted) > WASTED_ROWS:
            body += (
                f'<p class="oi-note">The {WASTED_ROWS} largest of {len(wasted):,}; all: '
                "<code>ociinspect.wasted(ref)</code></p>"
            )
        self.wasted_view.value = head + body
        self.wasted_view.layout.display = ""

    # -- selection and contents -----------------------------------------------------------

    def _on_select(self, change: dict[str, Any]) -> None:
        path = change["new"]
        if path is not None:
            self.show_entry(str(path))

    def select(self, path: str) -> None:
        """Select ``path`` in the view shown (a link target, a wasted copy), as a click does."""
        widget = self.tree if self.mode == TREE else self.grid
        if widget is not None and path in self._by_path:
            if widget.selected == path:
                self.show_entry(path)
            else:
                widget.selected = path
        else:
            self.show_entry(path)

    def show_entry(self, path: str) -> None:
        """The facts of ``path`` in the listing shown, then its contents (read in the
        background when ``read_file`` is available)."""
        frame = self._shown
        img = self._image
        if frame is None or img is None:
            return
        at = self._by_path.get(path)
        if at is None:
            self.details.value = f'<p class="oi-note">{esc(path)} is not in this listing.</p>'
            return
        row = {str(k): v for k, v in frame.iloc[at].to_dict().items()}
        facts = show.facts_html(row, _links(row, set(self._by_path)))
        kind = str(row.get("type", ""))
        change = row.get("change")
        if isinstance(change, str) and change in ("deleted", "hidden"):
            self.details.value = facts + f'<p class="oi-note">This layer {esc(change)} it.</p>'
            return
        if kind not in ("file", "hardlink", "symlink"):
            self.details.value = facts
            return
        reader = optional_api("read_file")
        if reader is None:
            self.details.value = facts + (
                '<p class="oi-note">File contents need read_file(), which this version of '
                "ociinspect does not have.</p>"
            )
            return
        self.details.value = facts + '<p class="oi-note">Reading…</p>'
        size = None if pd.isna(row.get("size")) else int(row["size"])
        position = self._position

        def work() -> tuple[bytes, int | None]:
            return read_head(img, path, size, position)

        def shown(result: tuple[bytes, int | None]) -> None:
            data, total = result
            if self._image is img and self._shown is frame:
                self.details.value = facts + show.contents_html(path, data, total)

        def failed(error: BaseException) -> None:
            if self._image is img:
                self.details.value = facts + self._error_html(error)

        self._submit("aux", f"read {path}", work, shown, f"Reading {path}…", failed)


def read_head(
    img: navigation.Image, path: str, size: int | None, position: int = MERGED
) -> tuple[bytes, int | None]:
    """The file's bytes, whole when at most :data:`contents.DOWNLOAD_LIMIT`, else its first
    :data:`contents.TEXT_LIMIT` bytes; and its size. Through ``open_file`` for a large file
    when available. The merged view reads the file as a container sees it; a layer's listing
    too (``read_file`` answers for the image: the same bytes unless a later layer changed
    them, which the layer's tree shows)."""
    del position
    if size is not None and size > show.DOWNLOAD_LIMIT:
        opener = optional_api("open_file")
        if opener is not None:
            with opener(img, path) as stream:
                return stream.read(show.TEXT_LIMIT), size
    reader = optional_api("read_file")
    if reader is None:
        raise RuntimeError("read_file is not available")
    data = reader(img, path)
    return bytes(data), len(data)


__all__ = [
    "MAIN_COLUMNS",
    "MERGED",
    "TABLE",
    "TREE",
    "FilesPane",
    "layer_tree_frame",
    "optional_api",
    "read_head",
]
