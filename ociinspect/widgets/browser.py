"""``ImageBrowser``: an ipywidgets view of one image reference, and :func:`browse`.

State lives in traitlets (``reference``, ``platform``, ``status``, ``error``, …); setting one
does what a user's click would. The work is the library's: :mod:`.views` opens the reference
(:mod:`ociinspect.navigation`) and calls the table functions (:mod:`ociinspect.api`,
:mod:`ociinspect.tables`), :mod:`.render` and :mod:`.chart` turn tables into HTML, all in a
background thread (:mod:`.tasks` says why); the widget only places the results. Registry
requests go through the browser's :class:`~ociinspect.session.Session` (the default one unless
``session=`` is given), so browsers share tokens and connections,
and the HTTP tab lists what each action asked.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as w
from traitlets import Bool, Enum, Int, List, Unicode, observe

from .. import navigation
from ..distribution.trace import Exchange
from ..errors import (
    AuthError,
    InvalidReferenceError,
    NotFoundError,
    OCIInspectError,
    PlatformNotFoundError,
    SourceError,
    TransportError,
)
from ..session import Session, session_of
from ..tables import trace_frame
from . import render
from .chart import bars_from_layers, layer_chart_html
from .format import digest_html, esc, size_html, when
from .panes import FilesPane, RawPane, css
from .style import style_html
from .tasks import Runner
from .views import ImageView, RootView, fetch_image, fetch_root

TABS = ("Layers", "History", "Config", "Files", "Raw", "HTTP")
LAYERS, HISTORY, CONFIG, FILES, RAW, HTTP = range(len(TABS))
#: Exchanges kept for the HTTP tab of one browser (the newest are kept).
MAX_EXCHANGES = 2000

_ERROR_TITLES: tuple[tuple[type[BaseException], str], ...] = (
    (InvalidReferenceError, "Not a valid image reference"),
    (PlatformNotFoundError, "No such platform"),
    (NotFoundError, "Not found"),
    (AuthError, "Access denied"),
    (TransportError, "Registry unreachable"),
    (SourceError, "Cannot open this source"),
    (OCIInspectError, "Could not load"),
)


def error_title(exc: BaseException) -> str:
    """A short headline for a failure (the message below it says the details)."""
    for kind, title in _ERROR_TITLES:
        if isinstance(exc, kind):
            return title
    return f"Unexpected error ({type(exc).__name__})"


def _guard(step: Callable[..., object], *args: Any) -> None:
    """Run one step of showing a result; a failure there must not stop the steps after it
    (the status line and the buttons must always come back)."""
    with contextlib.suppress(Exception):
        step(*args)


class ImageBrowser(w.VBox):
    """Browse an image or index: platforms, layers, history, config, files, raw JSON, HTTP.

    ``ImageBrowser("alpine:3.20")`` starts loading at once, in the background (:meth:`wait`
    blocks until done). ``session=`` says whose client, cache and trace it uses (default: the
    kernel's :func:`~ociinspect.session.default_session`).
    ``background=False`` loads in the caller's thread instead.
    """

    reference = Unicode("", help="The reference loaded (or loading). Setting it loads it.")
    platform = Unicode("", help="The platform shown ('' = the default). Setting it switches.")
    platforms = List(Unicode(), help="Image platforms of the loaded index ([] for one image).")
    status = Enum(
        ("idle", "loading", "ready", "error"),
        default_value="idle",
        help="idle, loading, ready or error (the message is in `error`).",
    )
    error = Unicode("", help="What went wrong in the last action ('' when nothing did).")
    kind = Unicode("", help="'index' or 'image' once loaded.")
    digest = Unicode("", help="Digest of the document the reference names.")
    image_digest = Unicode("", help="Digest of the manifest of the image shown.")
    layer = Int(0, help="Layer listed in the Files tab (0 = bottom).")
    merged = Bool(False, help="The Files tab shows the merged filesystem of all layers.")

    def __init__(
        self,
        ref: str | None = None,
        platform: str | None = None,
        *,
        background: bool = True,
        session: Session | None = None,
    ) -> None:
        self._runner = Runner(background)
        self.session = session_of(session)
        self._local = threading.local()  # per thread: is this thread setting values itself?
        self._active: set[str] = set()  # channels with work in flight
        self._root: RootView | None = None
        self._view: ImageView | None = None
        self._exchanges: list[tuple[str, Exchange]] = []
        super().__init__(children=self._build())
        css(self, "oi-browser")
        self.content.layout.display = "none"
        self.status_line.value = render.status_html("idle", "Type a reference and press Load.")
        if ref is not None:
            self.load(ref, platform)

    # -- layout -------------------------------------------------------------------------

    def _build(self) -> list[w.Widget]:
        html = w.HTML
        self.ref_box = css(
            w.Text(
                placeholder="registry/repository:tag  ·  oci:/path:tag  ·  docker-archive:…",
                layout=w.Layout(width="auto", flex="0 1 560px", min_width="240px"),
            ),
            "oi-ref",
        )
        self.load_button = css(
            w.Button(
                description="Load",
                button_style="primary",
                tooltip="Load (or press Enter)",
                layout=w.Layout(width="96px", flex="0 0 auto"),
            ),
            "oi-load",
        )
        self.status_line = css(html(), "oi-status")
        self.error_box = css(html(layout=w.Layout(display="none")), "oi-error")
        self.header = css(html(), "oi-header")
        self.platforms_view = css(html(), "oi-platforms-view")
        self.index_box = css(w.VBox([self.platforms_view]), "oi-index")
        self.chart_view = css(html(), "oi-chart-view")
        self.platform_picker = css(
            w.Dropdown(description="Platform", options=[], layout=w.Layout(width="300px")),
            "oi-platform",
        )
        self.selection_note = css(html(), "oi-selection")
        self.platform_row = css(
            w.HBox([self.platform_picker, self.selection_note]), "oi-platform-row"
        )
        self.image_header = css(html(), "oi-image-header")
        self.layers_view = css(html(), "oi-layers-view")
        self.history_view = css(html(), "oi-history-view")
        self.config_view = css(html(), "oi-config-view")
        self.files = FilesPane(self._submit, error_title)
        self.raw = RawPane(self._submit, self._open_layer, error_title)
        self.http_view = css(html(), "oi-http-view")
        panes = [self.layers_view, self.history_view, self.config_view]
        panes += [self.files.box, self.raw.box, self.http_view]
        self.tabs = css(w.Tab(children=panes, titles=TABS), "oi-tabs")
        self.content = css(
            w.VBox(
                [self.header, self.index_box, self.chart_view, self.platform_row]
                + [self.image_header, self.tabs]
            ),
            "oi-content",
        )
        # Shortcuts to the panes' widgets, for tests and notebooks.
        self.layer_picker, self.merged_box = self.files.picker, self.files.merged_box
        self.files_view, self.raw_view, self.raw_links = (
            self.files.view,
            self.raw.view,
            self.raw.links,
        )
        self.raw_picker = self.raw.picker

        self.load_button.on_click(lambda _button: self.load())
        self.ref_box.on_msg(self._on_ref_message)
        self.platform_picker.observe(self._on_pick_platform, "value")
        self.layer_picker.observe(self._on_pick_layer, "value")
        self.merged_box.observe(self._on_pick_merged, "value")
        self.tabs.observe(self._on_tab, "selected_index")
        style = html(style_html(), layout=w.Layout(display="none"))
        toolbar = css(w.HBox([self.ref_box, self.load_button, self.status_line]), "oi-toolbar")
        return [style, toolbar, self.error_box, self.content]

    # -- public actions -----------------------------------------------------------------

    def load(self, ref: str | None = None, platform: str | None = None) -> ImageBrowser:
        """Load ``ref`` (default: what the reference box holds), for ``platform`` if given."""
        text = (self.ref_box.value if ref is None else ref).strip()
        with self._quiet():
            self.reference = self.ref_box.value = text
            self.platform = platform or ""
        session = self.session
        self._submit(
            "load",
            f"load {text}",
            lambda: fetch_root(text, platform, session),
            self._show_root,
            f"Loading {text}…",
            self._show_failed_load,
            reset_http=True,
        )
        return self

    def select_platform(self, platform: str) -> ImageBrowser:
        """Show another image of the loaded index (for one image: check its platform)."""
        with self._quiet():
            self.platform = platform
        root = self._root
        if root is not None:
            self._submit(
                "load",
                f"platform {platform}",
                lambda: fetch_image(root, platform),
                self._show_image,
                f"Loading {platform}…",
                lambda _error: self._clear_image(),
            )
        return self

    def wait(self, timeout: float = 120.0) -> ImageBrowser:
        """Block until loading (and any listing) has finished; returns the browser."""
        self._runner.wait(timeout)
        return self

    @property
    def image(self) -> navigation.Image | None:
        """The image shown, once loaded."""
        return self._view.image if self._view is not None else None

    # -- trait and widget events ---------------------------------------------------------

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Set traits and widget values without them triggering actions, in this thread only:
        a user's change (handled on the kernel's main thread) still counts meanwhile."""
        self._local.quiet = self._quiet_depth + 1
        try:
            yield
        finally:
            self._local.quiet -= 1

    @property
    def _quiet_depth(self) -> int:
        return int(getattr(self._local, "quiet", 0))

    @observe("reference")
    def _on_reference(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth:
            self.load(change["new"])

    @observe("platform")
    def _on_platform(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth:
            self.select_platform(change["new"])

    @observe("layer", "merged")
    def _on_files_choice(self, _change: dict[str, Any]) -> None:
        if self._quiet_depth:
            return
        with self._quiet():
            self.merged_box.value = self.merged
            if self.layer in dict(self.layer_picker.options).values():
                self.layer_picker.value = self.layer
        self.files.show(self.layer, self.merged)

    def _on_ref_message(self, _widget: w.Widget, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":  # the front end's message for Enter in a Text
            self.load()

    def _on_pick_platform(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth and change["new"]:
            self.platform = change["new"]

    def _on_pick_layer(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth and change["new"] is not None:
            self.layer = change["new"]

    def _on_pick_merged(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth:
            self.merged = bool(change["new"])

    def _on_tab(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth and change["new"] == FILES:
            self.files.show(self.layer, self.merged)

    def _open_layer(self, position: int) -> None:
        """The Raw tab's link to a layer: list it in the Files tab."""
        with self._quiet():
            self.merged = self.merged_box.value = False
            self.layer = self.layer_picker.value = position
            self.tabs.selected_index = FILES
        self.files.show(position, False)

    # -- running work --------------------------------------------------------------------

    def _submit(
        self,
        channel: str,
        action: str,
        work: Callable[[], Any],
        show: Callable[[Any], BaseException | None],
        busy: str,
        failed: Callable[[BaseException], None] | None = None,
        reset_http: bool = False,
    ) -> None:
        """Run ``work`` in the background, then ``show(result)``, or ``failed(error)`` and the
        error message. ``show`` may return an error to report about a result it did show (an
        index without the platform asked for). A ``load`` supersedes the ``aux`` work (file
        listings, Raw links) in flight. The HTTP tab and the status line follow either way."""
        trace = self.session.trace
        mark = trace.mark()
        started = time.monotonic()
        with self._runner.lock:
            if channel == "load":
                self._runner.supersede("aux")
                self._active.discard("aux")
            self._active.add(channel)
            self._set_busy(busy)

        def measured() -> tuple[Any, BaseException | None, list[Exchange], float]:
            try:
                result, error = work(), None
            except Exception as exc:  # shown in the widget by done()
                result, error = None, exc
            return result, error, trace.since(mark), time.monotonic() - started

        def done(out: Any, crash: BaseException | None) -> None:
            result, error, exchanges, seconds = out if crash is None else (None, crash, [], 0.0)
            with self._quiet():
                self._active.discard(channel)
                if error is None:
                    try:
                        error = show(result)
                    except Exception as exc:  # drawing failed: undo as for a failed action
                        error = exc
                        if failed is not None:
                            _guard(failed, exc)
                elif failed is not None:
                    _guard(failed, error)
                _guard(self._record, action, exchanges, reset_http)
                self._finish(action, error, seconds, len(exchanges))

        self._runner.submit(channel, measured, done)

    def _set_busy(self, message: str) -> None:
        self.status = "loading"
        self.error = ""
        self.error_box.layout.display = "none"
        self.status_line.value = render.status_html("loading", message)
        self._enable()

    def _enable(self) -> None:
        """Load and the platform selector are off (and the content dimmed) while loading."""
        loading = "load" in self._active
        self.load_button.disabled = self.platform_picker.disabled = loading
        if loading:
            self.content.add_class("oi-stale")
        else:
            self.content.remove_class("oi-stale")

    def _finish(self, action: str, error: BaseException | None, seconds: float, n: int) -> None:
        self._enable()
        if error is not None:
            self.error = f"{error_title(error)}: {error}"
            self.error_box.value = render.error_html(error_title(error), str(error))
            self.error_box.layout.display = ""
            self.status = "error"
            self.status_line.value = render.status_html("error", f"{action} failed")
            return
        requests = f", {n} HTTP request{'s' * (n != 1)}" if n else ""
        self.status = "loading" if self._active else "ready"
        self.status_line.value = render.status_html(
            "ready", f"{action}: done in {seconds:.2f} s{requests}"
        )

    def _record(self, action: str, exchanges: list[Exchange], reset: bool) -> None:
        if reset:
            self._exchanges = []
        self._exchanges.extend((action, e) for e in exchanges)
        del self._exchanges[:-MAX_EXCHANGES]
        frame = trace_frame([e for _, e in self._exchanges])
        frame.insert(0, "action", [a for a, _ in self._exchanges])
        root = self._root
        if root is None and self._exchanges:  # a failed load: what was asked, what came back
            self.tabs.layout.display = ""
            self.tabs.selected_index = HTTP
        local = root.found.source.name if root is not None and root.local else None
        self.http_view.value = render.trace_html(frame, local)

    # -- showing results (in the worker thread, under the runner's lock) ------------------

    def _show_root(self, root: RootView) -> BaseException | None:
        self._root = root
        found = root.found
        self.kind = "index" if root.is_index else "image"
        self.digest = found.digest
        self.platforms = root.options
        self.header.value = render.header_html(_root_facts(found))
        for box in (self.index_box, self.platform_row):
            box.layout.display = "" if root.is_index else "none"
        self.platform_picker.options = root.options
        self.content.layout.display = ""
        if root.view is not None:
            self._show_image(root.view)
        else:
            self._clear_image()
        return root.view_error

    def _show_failed_load(self, _error: BaseException) -> None:
        """Nothing is loaded; the HTTP tab comes back only if requests were made."""
        self._root = None
        self._clear_image()
        self.kind = self.digest = self.header.value = self.chart_view.value = ""
        self.platforms = []
        for box in (self.index_box, self.platform_row):
            box.layout.display = "none"
        nothing = '<p class="oi-empty">Nothing loaded.</p>'
        for view in (self.layers_view, self.history_view, self.config_view):
            view.value = nothing
        self.files.reset(None, 0)
        self.raw.clear()
        self.content.layout.display = ""

    def _show_image(self, view: ImageView) -> None:
        root = self._root
        self._view = view
        img = view.image
        self.platform = view.platform
        self.image_digest = img.digest
        options = root.options if root is not None else []
        self.platform_picker.value = view.platform if view.platform in options else None
        self.selection_note.value = f'<span class="oi-note">Chosen: {esc(view.selection)}</span>'
        if root is not None and root.platforms is not None:
            self.platforms_view.value = render.platforms_html(root.platforms, view.platform)
        bars = root.bars if root is not None and root.bars else None
        bars = bars or bars_from_layers({view.platform or "image": view.layers})
        self.chart_view.value = layer_chart_html(bars, selected=view.platform)
        layer_bytes = size_html(sum(d.size for d in img.layers))
        self.image_header.value = render.header_html(
            [
                ("image", f"<code>{esc(view.platform or '?')}</code>"),
                ("manifest", digest_html(img.digest)),
                ("layers", f"{len(img.layers)} ({layer_bytes})"),
                ("created", esc(when(view.created)) or "–"),
            ]
        )
        self.layers_view.value = view.layers_html
        self.history_view.value = view.history_html
        self.config_view.value = view.config_html
        self.layer = self.files.reset(img, self.layer)
        self.tabs.layout.display = ""
        found = root.found if root is not None else None
        index = found.index if isinstance(found, navigation.ImageIndex) else None
        self.raw.reset(img.source, index, img, view.platform)
        if self.tabs.selected_index == FILES:
            self.files.show(self.layer, self.merged)

    def _clear_image(self) -> None:
        root = self._root
        self._view = None
        self.image_digest = ""
        self.platform_picker.value = None
        self.selection_note.value = self.image_header.value = ""
        if root is not None and root.platforms is not None:
            self.platforms_view.value = render.platforms_html(root.platforms, None)
        self.chart_view.value = layer_chart_html(root.bars) if root is not None else ""
        self.tabs.layout.display = "none"


def _root_facts(found: navigation.Image | navigation.ImageIndex) -> list[tuple[str, str]]:
    """The header line: where it comes from, and for an index what it lists."""
    facts = [("source", f"<code>{esc(found.source.name)}</code>")]
    if isinstance(found, navigation.ImageIndex):
        kinds = [e.kind for e in found.entries]
        counts = ", ".join(
            f"{kinds.count(k)} {k}{'s' * (kinds.count(k) != 1)}" for k in dict.fromkeys(kinds)
        )
        facts += [
            ("index", esc(found.index.media_type)),
            ("digest", digest_html(found.digest)),
            ("entries", esc(counts)),
        ]
    return facts


def browse(
    ref: str | None = None,
    platform: str | None = None,
    *,
    session: Session | None = None,
    background: bool = True,
) -> ImageBrowser:
    """An :class:`ImageBrowser` on ``ref``; with no reference, on the bundled sample image.

    Put it last in a cell to show it. ``platform`` picks an image of an index; ``session``
    whose client and cache it uses; ``background=False`` loads in the caller's thread.
    """
    if ref is None:
        from .._sample import SAMPLE

        ref = SAMPLE
    return ImageBrowser(ref, platform, background=background, session=session)


__all__ = ["TABS", "ImageBrowser", "browse", "error_title"]
