"""The Raw tab of the browser (the Files tab is :mod:`.files`).

Each pane owns its widgets and asks its browser to run slow work through ``submit`` (the
browser's background runner, which also records the HTTP requests and reports errors).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from .. import navigation
from ..sources import Source
from ..values import mediatypes as mt
from ..values.models import Index
from . import raw as rawdocs
from . import render
from .htmlview import HTMLView
from .views import fetch_document

#: browser._submit(channel, action, work, show, busy, failed)
Submit = Callable[..., None]


def css(widget: Any, *classes: str) -> Any:
    """``widget`` with CSS classes added (tests and the stylesheet select by them)."""
    for name in classes:
        widget.add_class(name)
    return widget


class RawPane:
    """The index, manifest and config as served, and a button per descriptor inside them."""

    def __init__(
        self,
        submit: Submit,
        open_layer: Callable[[int], None],
        error_title: Callable[[BaseException], str],
    ) -> None:
        self._submit = submit
        self._picking = threading.local()
        self._open_layer = open_layer
        self._error_title = error_title
        self.picker = css(
            w.Dropdown(description="Document", options=[], layout=w.Layout(width="520px")),
            "oi-raw-doc",
        )
        self.links = css(w.HBox(layout=w.Layout(flex_flow="row wrap")), "oi-raw-links")
        self.view = css(HTMLView(), "oi-raw-view")
        self.box = css(w.VBox([self.picker, self.links, self.view]), "oi-raw-pane")
        self.docs: dict[str, rawdocs.Doc] = {}
        self._source: Source | None = None
        self._layers: tuple[Any, ...] = ()
        self.picker.observe(self._on_pick, "value")

    def reset(
        self, source: Source, index: Index | None, img: navigation.Image, platform: str
    ) -> None:
        """The documents of a newly shown image: the index (if any), manifest, config."""
        self._source, self._layers = source, img.layers
        docs = [rawdocs.index_doc(index, "index")] if index is not None else []
        docs.append(rawdocs.manifest_doc(img.manifest, f"manifest ({platform or 'image'})"))
        config = img.manifest.config
        raw = img.config.raw if config.media_type in mt.CONFIG_TYPES else None
        docs.append(rawdocs.blob_doc(config, raw, "config"))
        self.docs = {d.key: d for d in docs}
        self.pick(docs[0].key)

    def clear(self) -> None:
        self._source, self._layers, self.docs = None, (), {}
        self.picker.options = []
        self.links.children = []
        self.view.value = '<p class="oi-empty">Nothing loaded.</p>'

    def pick(self, key: str) -> None:
        """Show document ``key`` and its links."""
        self._picking.on = True  # in this thread only: a user's pick meanwhile still counts
        try:
            self.picker.options = [
                (f"{d.title}  {(d.digest or '')[:19]}", k) for k, d in self.docs.items()
            ]
            self.picker.value = key
        finally:
            self._picking.on = False
        doc = self.docs[key]
        self.view.value = render.document_html(
            doc.title, doc.media_type, doc.digest, doc.raw, doc.note
        )
        buttons = []
        for link in doc.links:
            button = css(
                w.Button(
                    description=f"→ {link.label}",
                    tooltip=link.tooltip,
                    layout=w.Layout(width="auto"),
                ),
                "oi-raw-link",
            )
            button.on_click(lambda _button, link=link: self.follow(link))
            buttons.append(button)
        self.links.children = buttons

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not getattr(self._picking, "on", False) and change["new"] in self.docs:
            self.pick(change["new"])

    def follow(self, link: rawdocs.Link) -> None:
        """Show what ``link`` points at; a layer of the image shown opens the Files tab."""
        source = self._source
        if source is None:
            return
        if link.target == rawdocs.LAYER and link.descriptor in self._layers:
            self._open_layer(self._layers.index(link.descriptor))
            return
        known = [k for k, d in self.docs.items() if d.digest == link.descriptor.digest]
        if known:
            self.pick(known[0])
            return
        title = link.label if link.role == "entry" else link.label.split(" ")[0]

        def shown(doc: rawdocs.Doc) -> None:
            if self._source is source:
                self.docs[doc.key] = doc
                self.pick(doc.key)

        def failed(error: BaseException) -> None:
            self.view.value = render.error_html(self._error_title(error), str(error))

        self._submit(
            "aux",
            f"open {title}",
            lambda: fetch_document(source, link, title),
            shown,
            f"Fetching {title}…",
            failed,
        )


__all__ = ["RawPane", "css"]
