"""What the browser shows, computed in its background thread. No widget is touched here.

:func:`fetch_root` opens a reference and, for an index, fetches every entry once (manifests
and configs, concurrently, through :meth:`ociinspect.image.ImageIndex.images`); the images are
kept, so switching platform later costs no request. :func:`image_view` calls the table
functions for one image and renders their HTML. :func:`fetch_document` fetches what a Raw-tab
link points at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .. import api, navigation
from ..errors import PlatformNotFoundError
from ..session import Session, session_of
from ..sources import Source
from ..tables import layers_frame, platforms_frame
from ..values.entries import ARTIFACT, ATTESTATION, IMAGE, INDEX, choose
from ..values.models import Index, parse_document
from . import raw as rawdocs
from . import render
from .chart import Bar, bars_from_layers

ENTRY_KINDS = (IMAGE, ATTESTATION, INDEX, ARTIFACT)


@dataclass
class ImageView:
    """One image's tabs."""

    image: navigation.Image
    platform: str
    selection: str
    layers: pd.DataFrame
    layers_html: str
    history_html: str
    config_html: str
    created: Any


@dataclass
class RootView:
    """What a reference names; for an index, its entries and every image's layers."""

    found: navigation.Image | navigation.ImageIndex
    platforms: pd.DataFrame | None = None
    options: list[str] = field(default_factory=list)  # image platforms, for the selector
    images: dict[int, navigation.Image] = field(default_factory=dict)  # entry position -> image
    bars: list[Bar] = field(default_factory=list)
    view: ImageView | None = None
    view_error: PlatformNotFoundError | None = None  # the asked-for platform is missing

    @property
    def is_index(self) -> bool:
        return isinstance(self.found, navigation.ImageIndex)

    @property
    def local(self) -> bool:
        """Read from files (a layout or an archive), so no HTTP request is ever made."""
        return not self.found.source.name.startswith("docker://")


def fetch_root(ref: str, platform: str | None, session: Session | None = None) -> RootView:
    """Open ``ref`` in ``session``; for an index fetch each entry, tabulate them, and pick the
    image."""
    with session_of(session).client.fanout():  # preconnected for the per-platform fetches
        return _fetch_root(ref, platform, session)


def _fetch_root(ref: str, platform: str | None, session: Session | None) -> RootView:
    found = navigation.open(ref, session=session)
    root = RootView(found)
    if isinstance(found, navigation.ImageIndex):
        rows: list[Any] = []  # (entry, document or error, config): tables.index.Loaded
        # Attestation entries are tabulated from the index alone: no manifest GET (a pull on
        # Docker Hub) for what the browser does not show.
        for entry, target in found.listed():
            if target is None:
                rows.append((entry, None, None))
            elif isinstance(target, Exception):
                rows.append((entry, target, None))
            elif isinstance(target, navigation.ImageIndex):
                rows.append((entry, target.index, None))
            elif entry.kind == IMAGE:
                rows.append((entry, target.manifest, target.config))  # config: fetched already
                root.images[entry.position] = target
            else:
                rows.append((entry, target.manifest, None))
        root.platforms = platforms_frame(rows)
        images = [e for e in found.entries if e.kind == IMAGE]
        root.options = list(dict.fromkeys(e.platform_string for e in images))
        root.bars = bars_from_layers(
            {
                found.entries[position].platform_string: layers_frame(img.manifest)
                for position, img in root.images.items()
            }
        )
    try:
        root.view = fetch_image(root, platform)
    except PlatformNotFoundError as exc:
        root.view_error = exc
    return root


def fetch_image(root: RootView, platform: str | None) -> ImageView:
    """The view of ``platform``'s image (the default choice for None), from memory if it can."""
    found = root.found
    if isinstance(found, navigation.Image):
        return image_view(navigation.image(found, platform or None), None)
    entry, why = choose(found.entries, platform or None)
    img = root.images.get(entry.position)
    if img is None:  # a nested index, or an entry that failed with the others: try again
        img = found.image(platform or None)
        why = img.selection or why
    return image_view(img, why, entry.platform_string)


def image_view(img: navigation.Image, why: str | None, label: str | None = None) -> ImageView:
    """Tables of one image, as HTML. Uncompressed sizes are not shown, so none are estimated
    (no request beyond the manifest and config)."""
    layers = api.layers(img, sizes="none")
    config = api.config(img)
    return ImageView(
        image=img,
        platform=label or (str(img.platform) if img.platform is not None else ""),
        selection=why or img.selection or "the only image",
        layers=layers,
        layers_html=render.layers_html(layers),
        history_html=render.history_html(api.history(img)),
        config_html=render.config_html(config, api.env(img), api.labels(img)),
        created=config["created"].iloc[0] if len(config) else None,
    )


def fetch_document(source: Source, link: rawdocs.Link, title: str) -> rawdocs.Doc:
    """What a Raw-tab link points at: a manifest or index, a small JSON blob, or its facts."""
    descriptor = link.descriptor
    if link.target in (rawdocs.INDEX, rawdocs.MANIFEST):
        info = source.manifest(descriptor.digest, descriptor.size)
        doc = parse_document(info.raw, info.media_type, info.digest)
        if isinstance(doc, Index):
            return rawdocs.index_doc(doc, title)
        return rawdocs.manifest_doc(doc, title)
    if link.target == rawdocs.JSON_BLOB:
        data = source.blob(descriptor.digest, descriptor.size, rawdocs.MAX_SHOWN_BLOB)
        return rawdocs.blob_doc(descriptor, data, title)
    note = (
        "A layer of another image: choose its platform to list it in the Files tab."
        if link.target == rawdocs.LAYER
        else "Not shown: a binary or large blob."
    )
    return rawdocs.blob_doc(descriptor, None, title, note)


__all__ = ["ImageView", "RootView", "fetch_document", "fetch_image", "fetch_root", "image_view"]
