"""The browser's Packages and Referrers tabs, fetched when first opened.

Packages: the image's OS (``os_release()``) and installed packages (``packages()``), each
package's layer a button that lists that layer in the Files tab. Referrers: what refers to the
image (signatures, SBOMs, attestations), as a tree when ``referrers(..., depth=N)`` gives one
row per edge with its ``subject``, else as the flat table of the image's referrers. A function
this version of ociinspect lacks is said to be not available, never guessed at.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from .. import api, navigation
from .files import css, optional_api
from .format import Column, definition_list, digest_html, esc, missing, size_html, table_html, text
from .htmlview import HTMLView, action_attrs

Submit = Callable[..., None]
#: How deep the Referrers tab follows referrers of referrers.
REFERRERS_DEPTH = 3
#: Rows drawn in the Packages table (the table function has them all).
PACKAGES_SHOWN = 5000


def _layer_cell(value: object) -> str:
    if missing(value):
        return ""
    layer = int(value)  # type: ignore[call-overload]
    return (
        f'<button type="button" class="oi-linkish"{action_attrs("layer", layer)}>#{layer}</button>'
    )


def packages_html(os_release: Any, packages: pd.DataFrame | None) -> str:
    """The OS facts and the packages table (columns as ``packages()`` documents them; the
    ``layer`` column links to the layer that installed each package)."""
    parts = ['<div class="oi-h">Operating system</div>']
    if os_release is None:
        parts.append('<p class="oi-empty">Not known.</p>')
    elif isinstance(os_release, pd.DataFrame):
        if len(os_release) and {"key", "value"} <= set(os_release.columns):
            pairs = [
                (str(k), esc(v))
                for k, v in zip(os_release["key"], os_release["value"], strict=True)
            ]
            parts.append(definition_list(pairs))
        elif len(os_release):
            row = os_release.iloc[0].to_dict()
            parts.append(
                definition_list((str(k), esc(v)) for k, v in row.items() if not missing(v))
            )
        else:
            parts.append(
                '<p class="oi-empty">No os-release file (a distroless or scratch image?).</p>'
            )
    elif isinstance(os_release, dict):
        parts.append(definition_list((str(k), esc(v)) for k, v in os_release.items()))
    else:
        parts.append(f"<p>{esc(os_release)}</p>")
    count = 0 if packages is None else len(packages)
    parts.append(f'<div class="oi-h">Packages ({count:,})</div>')
    if packages is None or not count:
        parts.append('<p class="oi-empty">No package database found.</p>')
        return "".join(parts)
    first = ["name", "version", "architecture", "source", "manager", "layer"]
    names = [c for c in first if c in packages.columns]
    names += [c for c in packages.columns if c not in names]
    columns = [
        Column(
            str(c),
            str(c),
            _layer_cell if c == "layer" else (lambda v: text(v, 80)),
            numeric=c == "layer",
            extra=c not in first,
        )
        for c in names
    ]
    parts.append(table_html(packages, columns, css="oi-packages", limit=PACKAGES_SHOWN))
    return "".join(parts)


def referrers_html(frame: pd.DataFrame, root_digests: tuple[str, ...]) -> str:
    """Referrers as a tree (rows with ``subject``) or a table."""
    if frame is None or len(frame) == 0:
        return (
            '<p class="oi-empty">Nothing refers to this image (no signature, SBOM or '
            "attestation found).</p>"
        )
    if "subject" not in frame.columns:
        columns = [
            Column("artifact_type", "artifact type", lambda v: text(v, 60)),
            Column("digest", "digest", digest_html),
            Column("media_type", "media type", lambda v: text(v, 60), extra=True),
            Column("size", "size", size_html, numeric=True),
            Column("annotations", "annotations", lambda v: text(v, 80), extra=True),
        ]
        return table_html(frame, columns, css="oi-referrers")
    children: dict[str, list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        children.setdefault(str(row["subject"]), []).append(row)

    def node(row: dict[str, Any], seen: frozenset[str]) -> str:
        named = [row.get(k) for k in ("kind", "artifact_type", "media_type")]
        kind = next((str(v) for v in named if not missing(v) and str(v)), "artifact")
        how = row.get("found_by")
        label = f"<b>{esc(kind)}</b> {digest_html(row.get('digest'))}"
        if not missing(row.get("predicate_type")):
            label += f" <code>{esc(row['predicate_type'])}</code>"
        if not missing(how):
            label += f' <span class="oi-note">({esc(how)})</span>'
        if not missing(row.get("error")):
            label += f' <span class="oi-error-cell">{esc(row["error"])}</span>'
        digest = str(row.get("digest"))
        below = "" if digest in seen else branch(digest, seen | {digest})
        return f"<li>{label}{below}</li>"

    def branch(subject: str, seen: frozenset[str]) -> str:
        rows = children.get(subject, [])
        if not rows:
            return ""
        return "<ul>" + "".join(node(r, seen) for r in rows) + "</ul>"

    roots = [d for d in root_digests if d in children] or list(children)[:1]
    parts = ['<div class="oi-referrers-tree">']
    for digest in roots:
        parts.append(f"<div>{digest_html(digest)}</div>{branch(digest, frozenset({digest}))}")
    parts.append("</div>")
    return "".join(parts)


class ExtrasPane:
    """The Packages and Referrers tabs of one image."""

    def __init__(
        self,
        submit: Submit,
        error_html: Callable[[BaseException], str],
        open_layer: Callable[[int], None],
    ) -> None:
        self._submit = submit
        self._error_html = error_html
        self.packages_view = css(HTMLView(), "oi-packages-view")
        self.referrers_view = css(HTMLView(), "oi-referrers-view")
        self.packages_box = css(w.VBox([self.packages_view]), "oi-packages-pane")
        self.referrers_box = css(w.VBox([self.referrers_view]), "oi-referrers-pane")
        self.packages_view.on_action("layer", lambda arg: open_layer(int(arg)))
        self._image: navigation.Image | None = None
        self._root: navigation.Image | navigation.ImageIndex | None = None
        self._done: dict[tuple[str, str], str] = {}

    def reset(
        self,
        img: navigation.Image | None,
        root: navigation.Image | navigation.ImageIndex | None = None,
    ) -> None:
        self._image, self._root = img, root or img
        empty = '<p class="oi-empty">Nothing loaded.</p>' if img is None else ""
        self.packages_view.value = self.referrers_view.value = empty

    def _run(self, what: str, view: HTMLView, work: Callable[[], str]) -> None:
        img = self._image
        if img is None:
            return
        key = (img.digest, what)
        if key in self._done:
            view.value = self._done[key]
            return
        view.value = f'<p class="oi-note">Reading {esc(what)}…</p>'

        def shown(html: str) -> None:
            self._done[key] = html
            if self._image is img:
                view.value = html

        def failed(error: BaseException) -> None:
            if self._image is img:
                view.value = self._error_html(error)

        self._submit("aux", f"read {what}", work, shown, f"Reading {what}…", failed)

    def show_packages(self) -> None:
        """Fill the Packages tab (in the background, once per image)."""
        img = self._image
        packages = optional_api("packages")
        os_release = optional_api("os_release")
        if packages is None and os_release is None:
            self.packages_view.value = (
                '<p class="oi-note">Not available: the Packages view needs packages() and '
                "os_release(), which this version of ociinspect does not have.</p>"
            )
            return

        def work() -> str:
            release = os_release(img) if os_release is not None else None
            table = pd.DataFrame(packages(img)) if packages is not None else None
            return packages_html(release, table)

        self._run("packages", self.packages_view, work)

    def show_referrers(self) -> None:
        """Fill the Referrers tab (in the background, once per image)."""
        img = self._image
        root = self._root
        if img is None:
            return
        deep = "depth" in inspect.signature(api.referrers).parameters

        def work() -> str:
            if deep and root is not None:
                options: dict[str, Any] = {"depth": REFERRERS_DEPTH}
                if isinstance(root, navigation.ImageIndex):
                    options["all_platforms"] = True
                frame = pd.DataFrame(api.referrers(root, **options))
                roots = tuple(dict.fromkeys([root.digest, img.digest]))
                return referrers_html(frame, roots)
            frame = pd.DataFrame(api.referrers(img))
            note = (
                '<p class="oi-note">The referrers of this image; referrers of referrers '
                "(a signature on an SBOM) need referrers(depth=), which this version of "
                "ociinspect does not have.</p>"
            )
            return note + referrers_html(frame, (img.digest,))

        self._run("referrers", self.referrers_view, work)


__all__ = ["REFERRERS_DEPTH", "ExtrasPane", "packages_html", "referrers_html"]
