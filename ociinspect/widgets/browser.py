"""``ImageBrowser``: an ipywidgets view of one image reference, and :func:`browse`.

State lives in traitlets (``reference``, ``platform``, ``status``, ``error``, …); setting one
does what a user's click would. The work is the library's: :mod:`.views` opens the reference
(:mod:`ociinspect.navigation`) and calls the table functions (:mod:`ociinspect.api`,
:mod:`ociinspect.tables`), :mod:`.render` and :mod:`.chart` turn tables into HTML, all in a
background thread (:mod:`.tasks` says why); the widget only places the results. Registry
requests go through the browser's :class:`~ociinspect.session.Session` (the default one unless
``session=`` is given), so browsers share tokens and connections, and the HTTP tab lists what
each action asked, with the ``curl`` that repeats each exchange.

Clicks inside the HTML (a platform row or chart bar, a layer row, a copy button, a tag offered
after "no such tag") are :class:`~.htmlview.HTMLView` actions. A failure is explained by
:mod:`.advice` (what happened, what to do next). Displayed in a notebook, the browser also
leaves a static ``text/html`` snapshot of its last state beside the widget, which a saved
notebook shows where widgets do not run (GitHub, nbviewer); the live page hides it.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as w
from traitlets import Bool, Enum, Int, List, Unicode, observe

from .. import navigation
from ..distribution.trace import Exchange
from ..session import Session, session_of
from ..tables import trace_frame
from . import render
from .advice import Advice, advice_html, error_title, explain
from .chart import bars_from_layers, layer_chart_html
from .commands import image_commands, shell_block
from .extras import ExtrasPane
from .files import FilesPane
from .format import copy_button, digest_html, esc, size_html, when
from .htmlview import HTMLView
from .panes import RawPane, css
from .style import style_html
from .tasks import Runner
from .views import ImageView, RootView, fetch_image, fetch_root

TABS = ("Layers", "History", "Config", "Files", "Packages", "Referrers", "Raw", "HTTP")
LAYERS, HISTORY, CONFIG, FILES, PACKAGES, REFERRERS, RAW, HTTP = range(len(TABS))
#: Exchanges kept for the HTTP tab of one browser (the newest are kept).
MAX_EXCHANGES = 2000


def _guard(step: Callable[..., object], *args: Any) -> None:
    """Run one step of showing a result; a failure there must not stop the steps after it
    (the status line and the buttons must always come back)."""
    with contextlib.suppress(Exception):
        step(*args)


class ImageBrowser(w.VBox):
    """Browse an image or index: platforms, layers, history, config, files, packages,
    referrers, raw JSON, HTTP.

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
    overview = Bool(True, help="The overview (header, platforms, chart) is shown.")

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
        self._advice: Advice | None = None
        self._snapshot_id: str | None = None
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
                layout=w.Layout(width="auto", flex="1 1 320px", min_width="200px",
                                max_width="560px"),
            ),
            "oi-ref",
        )
        self.load_button = css(
            w.Button(
                description="Load",
                button_style="primary",
                tooltip="Load (or press Enter)",
                layout=w.Layout(width="80px", flex="0 0 auto"),
            ),
            "oi-load",
        )
        self.overview_button = css(
            w.ToggleButton(
                value=True,
                description="Overview",
                icon="chevron-up",
                tooltip="Show or hide the header, platforms and chart (keeps the tabs in view)",
                layout=w.Layout(width="auto", flex="0 0 auto"),
            ),
            "oi-overview-toggle",
        )
        self.columns_box = css(
            w.Checkbox(description="All columns", indent=False, value=False,
                       tooltip="In a narrow window, show every column of the tables",
                       layout=w.Layout(width="auto", flex="0 0 auto")),
            "oi-columns-toggle",
        )
        self.status_line = css(html(), "oi-status")
        self.error_box = css(HTMLView(layout=w.Layout(display="none")), "oi-error")
        self.header = css(HTMLView(), "oi-header")
        self.platforms_view = css(HTMLView(), "oi-platforms-view")
        self.index_box = css(w.VBox([self.platforms_view]), "oi-index")
        self.chart_view = css(HTMLView(), "oi-chart-view")
        self.platform_picker = css(
            w.Dropdown(description="Platform", options=[],
                       layout=w.Layout(width="auto", min_width="220px", max_width="320px")),
            "oi-platform",
        )
        self.selection_note = css(html(), "oi-selection")
        self.platform_row = css(
            w.HBox([self.platform_picker, self.selection_note],
                   layout=w.Layout(flex_flow="row wrap", align_items="center")),
            "oi-platform-row",
        )
        self.overview_box = css(
            w.VBox([self.header, self.index_box, self.chart_view]), "oi-overview"
        )
        self.image_header = css(HTMLView(), "oi-image-header")
        self.commands_view = css(HTMLView(), "oi-commands-view")
        self.layers_view = css(HTMLView(), "oi-layers-view")
        self.history_view = css(HTMLView(), "oi-history-view")
        self.config_view = css(HTMLView(), "oi-config-view")
        self.files = FilesPane(self._submit, self._error_html, self._open_layer)
        self.extras = ExtrasPane(self._submit, self._error_html, self._open_layer)
        self.raw = RawPane(self._submit, self._open_layer, error_title)
        self.http_view = css(HTMLView(), "oi-http-view")
        self._panes: dict[str, w.Widget] = dict(
            zip(
                TABS,
                [
                    self.layers_view,
                    self.history_view,
                    self.config_view,
                    self.files.box,
                    self.extras.packages_box,
                    self.extras.referrers_box,
                    self.raw.box,
                    self.http_view,
                ],
                strict=True,
            )
        )
        self.tabs = css(w.Tab(children=list(self._panes.values()), titles=TABS), "oi-tabs")
        self.content = css(
            w.VBox([self.overview_box, self.platform_row, self.image_header, self.commands_view,
                    self.tabs]),
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
        self.overview_button.observe(self._on_overview_button, "value")
        self.columns_box.observe(self._on_columns, "value")
        self.platforms_view.on_action("platform", self._click_platform)
        self.chart_view.on_action("platform", self._click_platform)
        self.layers_view.on_action("layer", lambda arg: self._open_layer(int(arg)))
        self.history_view.on_action("layer", lambda arg: self._open_layer(int(arg)))
        self.error_box.on_action("load", lambda arg: self.load(arg))
        style = html(style_html(), layout=w.Layout(display="none"))
        toolbar = css(
            w.HBox([self.ref_box, self.load_button, self.overview_button, self.columns_box,
                    self.status_line]),
            "oi-toolbar",
        )
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
            explain=lambda error: explain(error, text, session),
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

    def open_tab(self, name: str) -> ImageBrowser:
        """Select the tab called ``name`` (one of :data:`TABS` that is shown)."""
        names = self.tab_names
        if name not in names:
            raise ValueError(f"no tab {name!r} is shown; shown: {names}")
        self.tabs.selected_index = names.index(name)
        return self

    @property
    def tab_names(self) -> list[str]:
        """The titles of the tabs shown now (a failed load leaves only what has content)."""
        if self.tabs.layout.display == "none":
            return []
        return list(self.tabs.titles)

    @property
    def selected_tab(self) -> str | None:
        index = self.tabs.selected_index
        names = self.tab_names
        return names[index] if index is not None and 0 <= index < len(names) else None

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

    @observe("overview")
    def _on_overview(self, change: dict[str, Any]) -> None:
        shown = bool(change["new"])
        self.overview_box.layout.display = "" if shown else "none"
        with self._quiet():
            self.overview_button.value = shown
        self.overview_button.icon = "chevron-up" if shown else "chevron-down"

    def _on_overview_button(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth:
            self.overview = bool(change["new"])

    def _on_columns(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.add_class("oi-all-columns")
        else:
            self.remove_class("oi-all-columns")

    def _on_ref_message(self, _widget: w.Widget, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("event") == "submit":  # the front end's message for Enter in a Text
            self.load()

    def _on_pick_platform(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth and change["new"]:
            self.platform = change["new"]

    def _click_platform(self, platform: str) -> None:
        """A platform row or chart bar was clicked."""
        if platform and platform in self.platforms and platform != self.platform:
            self.platform = platform

    def _on_pick_layer(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth and change["new"] is not None:
            self.layer = change["new"]

    def _on_pick_merged(self, change: dict[str, Any]) -> None:
        if not self._quiet_depth:
            self.merged = bool(change["new"])

    def _on_tab(self, change: dict[str, Any]) -> None:
        if self._quiet_depth:
            return
        name = self.selected_tab
        if name == "Files":
            self.files.show(self.layer, self.merged)
        elif name == "Packages":
            self.extras.show_packages()
        elif name == "Referrers":
            self.extras.show_referrers()

    def _open_layer(self, position: int) -> None:
        """A layer row, a Raw link or a package's layer: list that layer in the Files tab."""
        with self._quiet():
            self.merged = self.merged_box.value = False
            self.layer = self.layer_picker.value = position
            if "Files" in self.tab_names:
                self.tabs.selected_index = self.tab_names.index("Files")
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
        explain: Callable[[BaseException], Advice] | None = None,
    ) -> None:
        """Run ``work`` in the background, then ``show(result)``, or ``failed(error)`` and the
        error message (``explain(error)``, run in the background too, says it for a person).
        ``show`` may return an error to report about a result it did show (an index without
        the platform asked for). A ``load`` supersedes the ``aux`` work (file listings, Raw
        links) in flight. The HTTP tab, the status line and the snapshot follow either way."""
        trace = self.session.trace
        mark = trace.mark()
        started = time.monotonic()
        with self._runner.lock:
            if channel == "load":
                self._runner.supersede("aux")
                self._active.discard("aux")
            self._active.add(channel)
            self._set_busy(busy)

        def measured() -> tuple[Any, BaseException | None, Advice | None, list[Exchange], float]:
            advice = None
            try:
                result, error = work(), None
            except Exception as exc:  # shown in the widget by done()
                result, error = None, exc
                if explain is not None:
                    with contextlib.suppress(Exception):
                        advice = explain(exc)
            return result, error, advice, trace.since(mark), time.monotonic() - started

        def done(out: Any, crash: BaseException | None) -> None:
            result, error, advice, exchanges, seconds = (
                out if crash is None else (None, crash, None, [], 0.0)
            )
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
                self._finish(action, error, seconds, len(exchanges), advice, channel)

        self._runner.submit(channel, measured, done)

    def _set_busy(self, message: str) -> None:
        self.status = "loading"
        self.error = ""
        self._advice = None
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

    def _error_html(self, error: BaseException) -> str:
        """An error inside a pane, said plainly (no request is made to explain it)."""
        return advice_html(explain(error, self.reference, None))

    def _finish(
        self,
        action: str,
        error: BaseException | None,
        seconds: float,
        n: int,
        advice: Advice | None = None,
        channel: str = "load",
    ) -> None:
        self._enable()
        if channel == "load" and self._view is None:
            self._show_tabs(["HTTP"] if self._exchanges else [])
        if error is not None:
            advice = advice or explain(error, self.reference, None)
            self._advice = advice
            self.error = advice.text
            self.error_box.value = advice_html(advice)
            self.error_box.layout.display = ""
            self.status = "error"
            self.status_line.value = render.status_html("error", f"{action} failed")
        else:
            requests = f", {n} HTTP request{'s' * (n != 1)}" if n else ""
            self.status = "loading" if self._active else "ready"
            self.status_line.value = render.status_html(
                "ready", f"{action}: done in {seconds:.2f} s{requests}"
            )
        _guard(self._publish_snapshot)

    def _record(self, action: str, exchanges: list[Exchange], reset: bool) -> None:
        if reset:
            self._exchanges = []
        self._exchanges.extend((action, e) for e in exchanges)
        del self._exchanges[:-MAX_EXCHANGES]
        listed = [e for _, e in self._exchanges]
        try:
            from ..commands import trace_commands

            frame = trace_commands(listed, self.session)
        except ImportError:  # a version without the curl lines: the trace alone
            frame = trace_frame(listed)
        frame.insert(0, "action", [a for a, _ in self._exchanges])
        root = self._root
        local = root.found.source.name if root is not None and root.local else None
        html = render.trace_html(frame, local)
        if listed:
            html = (
                '<p class="oi-note">The copy button of a row gives the <code>curl</code> that '
                "repeats it (set <code>$REGISTRY_USER</code> and <code>$REGISTRY_PASSWORD</code> "
                "where it logs in; the token line sets <code>$TOKEN</code>).</p>" + html
            )
        self.http_view.value = html

    def _show_tabs(self, names: Sequence[str]) -> None:
        """Show only the tabs called ``names`` (in :data:`TABS` order); none hides the tabs."""
        wanted = [name for name in TABS if name in names]
        if not wanted:
            self.tabs.layout.display = "none"
            return
        current = list(self.tabs.titles)
        if current != wanted:
            keep = self.selected_tab
            self.tabs.children = [self._panes[name] for name in wanted]
            self.tabs.titles = tuple(wanted)
            self.tabs.selected_index = wanted.index(keep) if keep in wanted else 0
        self.tabs.layout.display = ""

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
        self.extras.reset(None)
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
        self.commands_view.value = self._commands_html(img)
        self.layers_view.value = view.layers_html
        self.history_view.value = view.history_html
        self.config_view.value = view.config_html
        self.layer = self.files.reset(img, self.layer)
        self.extras.reset(img, root.found if root is not None else img)
        self._show_tabs(TABS)
        found = root.found if root is not None else None
        index = found.index if isinstance(found, navigation.ImageIndex) else None
        self.raw.reset(img.source, index, img, view.platform)
        name = self.selected_tab
        if name == "Files":
            self.files.show(self.layer, self.merged)
        elif name == "Packages":
            self.extras.show_packages()
        elif name == "Referrers":
            self.extras.show_referrers()

    def _commands_html(self, img: navigation.Image) -> str:
        source = img.source
        registry = getattr(source, "registry", None)
        repository = getattr(source, "repository", None)
        root = self._root
        index_digest = root.found.digest if root is not None and root.is_index else None
        plain = False
        if registry:
            with contextlib.suppress(Exception):
                plain = self.session.client.base_url(registry).startswith("http:")
        lines = image_commands(
            source.name,
            img.digest,
            index_digest=index_digest,
            repository=f"{registry}/{repository}" if registry and repository else None,
            plain_http=plain,
        )
        if not lines:
            return ""
        rows = "".join(
            f'<div class="oi-cmd-what">{esc(c.what)}</div>'
            f'<div class="oi-cmd"><code>{esc(c.line)}</code>{copy_button(c.line, "command")}</div>'
            for c in lines
        )
        block = shell_block(lines)
        return (
            '<details class="oi-commands"><summary>Equivalent commands (crane, skopeo, '
            f"docker)</summary>{rows}"
            f'<div class="oi-cmd">Copy all{copy_button(block, "all commands")}</div></details>'
        )

    def _clear_image(self) -> None:
        root = self._root
        self._view = None
        self.image_digest = ""
        self.platform_picker.value = None
        self.selection_note.value = self.image_header.value = self.commands_view.value = ""
        if root is not None and root.platforms is not None:
            self.platforms_view.value = render.platforms_html(root.platforms, None)
        self.chart_view.value = layer_chart_html(root.bars) if root is not None else ""
        self.tabs.layout.display = "none"

    # -- the static snapshot for saved notebooks -------------------------------------------

    def snapshot_html(self) -> str:
        """The browser's current state as static HTML (no widget, no script): what a saved
        notebook shows where widgets do not run. Copy buttons and actions are left out."""
        parts = [
            '<div class="oi-snapshot">',
            f"<p><b>ociinspect image browser</b> · <code>{esc(self.reference or '')}</code> · "
            "a snapshot of its last state; run the notebook for the live browser.</p>",
        ]
        if self.error:
            advice = self._advice
            parts.append(advice_html(advice) if advice is not None else f"<p>{esc(self.error)}</p>")
        if self._root is not None:
            parts.append(self.header.value)
            if self._root.is_index:
                parts.append(self.platforms_view.value)
            parts.append(self.chart_view.value)
        if self._view is not None:
            parts += [self.image_header.value, "<h4>Layers</h4>", self.layers_view.value,
                      "<h4>History</h4>", self.history_view.value]
        parts.append("</div>")
        html = "".join(parts)
        html = re.sub(r'<button type="button" class="oi-copy"[^>]*></button>', "", html)
        return re.sub(r' (data-oi-action|data-oi-arg|tabindex)="[^"]*"', "", html)

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Display the widget and, beside it, the static snapshot (updated after each action,
        so a saved notebook keeps the last state)."""
        from IPython.display import display

        display(self._repr_mimebundle_(**kwargs), raw=True)
        if self._snapshot_id is None:
            self._snapshot_id = f"ociinspect-{uuid.uuid4().hex}"
        display({"text/html": self.snapshot_html()}, raw=True, display_id=self._snapshot_id)

    def _publish_snapshot(self) -> None:
        if self._snapshot_id is None:
            return
        from IPython.display import update_display

        update_display(
            {"text/html": self.snapshot_html()}, raw=True, display_id=self._snapshot_id
        )


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
