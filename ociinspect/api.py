"""The table API: open what a reference names, fetch what a table needs, call the pure tables.

Every function takes ``ref``: a reference string (``alpine:3.20``, ``docker://…``,
``oci:DIR:TAG``, ``oci-archive:FILE``, ``docker-archive:FILE``; see :mod:`ociinspect.sources`),
or an :class:`~ociinspect.navigation.Image` / :class:`~ociinspect.navigation.ImageIndex`
already open, which is then reused without fetching its manifest again.
``platform=`` (``"linux/arm64"``) picks an image of an index (default: linux/amd64, else
this machine's, else the only one; see :mod:`ociinspect.navigation`). ``session=`` (a
:class:`~ociinspect.session.Session`) says whose client, credentials, disk cache, memory and
settings (offline, progress) a call uses; without it, the process's default session.

Uncompressed sizes (``sizes=`` of :func:`layers` and :func:`platforms`, see
:mod:`ociinspect.layers.sizes`): ``"none"`` uses only what is known without a request (uncompressed
layers, and layers streamed or estimated before, in this process or, through the disk cache, an
earlier one); ``"estimate"`` adds one small read per other layer (a ``Range`` request for a
registry); ``"exact"`` streams every layer not known exactly (downloads them). :func:`layers`
estimates by default (one request per compressed layer, concurrently); :func:`platforms` does
not (an index of 8 images of 10 layers would cost 80 requests): pass ``sizes="estimate"``.

Progress: streaming a layer (:func:`files`, :func:`filesystem`, :func:`wasted`) shows a bar
for layers of 8 MiB or more; ``progress=True`` shows one for every layer, ``progress=False`` (or
a session made with ``progress=False``, e.g. from ``OCIINSPECT_PROGRESS=0``) none.

All tables are :class:`~ociinspect.tables.Table`\\ s; their columns are documented in
:mod:`ociinspect.tables`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

from .errors import ArchiveError, PlatformNotFoundError
from .layers.contents import Limits, TarEntry, iter_entries
from .layers.overlay import analyse
from .layers.sizes import cache_of, listing_size, uncompressed_sizes
from .navigation import Image, ImageIndex
from .navigation import image as _choose_image
from .navigation import open as _open_ref
from .progress import NullProgress, Progress, bar_for, counted
from .session import Session
from .sources import Source, open_source
from .tables import (
    Comparison,
    Table,
    compare_frames,
    config_frame,
    env_frame,
    files_frame,
    filesystem_frame,
    history_frame,
    labels_frame,
    layers_frame,
    platforms_frame,
    referrers_frame,
    tags_frame,
    wasted_frame,
)
from .tables.index import Loaded
from .values import mediatypes as mt
from .values.entries import ARTIFACT, ATTESTATION, IMAGE, INDEX, IndexEntry
from .values.models import Descriptor, ImageConfig, Manifest
from .values.platforms import Platform

Ref = str | Image | ImageIndex


def _open(ref: Ref, session: Session | None) -> Image | ImageIndex:
    if isinstance(ref, (Image, ImageIndex)):
        return ref
    return _open_ref(ref, session=session)


def _image(ref: Ref, platform: Platform | str | None, session: Session | None) -> Image:
    return _choose_image(_open(ref, session), platform)


def _config(img: Image) -> ImageConfig | None:
    """The image config, or None for an artifact whose config is not one (no fetch then)."""
    if img.manifest.config.media_type not in mt.CONFIG_TYPES:
        return None
    return img.config


# --------------------------------------------------------------------------- platforms


def _single_row(img: Image) -> Loaded:
    """A lone manifest as if it were the only entry of an index."""
    try:
        config = _config(img)
    except Exception as exc:  # shown in the error column, like a failing index entry
        manifest = img.manifest
        desc = img.descriptor or Descriptor(manifest.media_type, img.digest, len(manifest.raw))
        return IndexEntry(0, desc, IMAGE), exc, None
    desc = img.descriptor or Descriptor(
        img.manifest.media_type,
        img.digest,
        len(img.manifest.raw),
        platform=config.platform if config is not None else None,
    )
    kind = ARTIFACT if img.manifest.is_artifact else IMAGE
    return IndexEntry(0, desc, kind), img.manifest, config


def _loaded(index: ImageIndex) -> list[Loaded]:
    rows: list[Loaded] = []
    for entry, target in index.images(kinds=(IMAGE, ATTESTATION, INDEX, ARTIFACT)):
        if isinstance(target, Exception):
            rows.append((entry, target, None))
        elif isinstance(target, ImageIndex):
            rows.append((entry, target.index, None))
        else:
            cached = target.__dict__.get("config")  # fetched by images() for image entries
            rows.append((entry, target.manifest, cached))
    return rows


def _only(rows: list[Loaded], platform: Platform | str) -> list[Loaded]:
    """The image entries matching ``platform`` and the attestations describing them."""
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    images = [r for r in rows if r[0].kind in (IMAGE, INDEX)]
    kept = [r for r in images if r[0].platform is not None and wanted.matches(r[0].platform)]
    if not kept:
        raise PlatformNotFoundError(
            str(wanted), [r[0].platform_string for r in images], where="the index"
        )
    chosen = {r[0].position for r in kept}
    digests = {r[0].descriptor.digest for r in kept}
    return [r for r in rows if r[0].position in chosen or r[0].describes in digests]


def platforms(
    ref: Ref,
    platform: Platform | str | None = None,
    sizes: str = "none",
    *,
    session: Session | None = None,
) -> Table:
    """Every entry of an index: images, attestations (with the image they ``describe``),
    nested indexes and artifacts, with sizes, layer counts and creation times. Manifests and
    configs are fetched concurrently; an entry that fails shows why in ``error``.
    With ``platform``, only the matching images and their attestations.
    A single image gives one row. ``uncompressed_size`` follows ``sizes`` (default ``"none"``:
    no request; ``"estimate"`` costs one request per distinct layer; see the module doc)."""
    found = _open(ref, session)
    if isinstance(found, Image):
        rows = [_single_row(_choose_image(found, platform))]
    else:
        rows = _loaded(found)
        if platform is not None:
            rows = _only(rows, platform)
    layers = [
        d for e, doc, _ in rows if e.kind == IMAGE and isinstance(doc, Manifest) for d in doc.layers
    ]
    unpacked = uncompressed_sizes(found.source, layers, found.session.sizes, sizes)
    return platforms_frame(rows, unpacked)


# --------------------------------------------------------------------------- one image


def layers(
    ref: Ref,
    platform: Platform | str | None = None,
    sizes: str = "estimate",
    *,
    session: Session | None = None,
) -> Table:
    """The image's layers, bottom first: digest, media type, compression, size, share of the
    image, uncompressed size (exact or estimated, per ``sizes``: see the module doc), diff_id
    and the history step that made each one."""
    img = _image(ref, platform, session)
    unpacked = uncompressed_sizes(img.source, img.layers, img.session.sizes, sizes)
    return layers_frame(img.manifest, _config(img), unpacked)


def history(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """Every history step, empty or not, with the layer (position, size) it made."""
    img = _image(ref, platform, session)
    return history_frame(img.config, img.manifest)


def config(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """A one-row summary of the image config (platform, created, user, entrypoint, cmd, …)."""
    img = _image(ref, platform, session)
    return config_frame(img.config, img.manifest)


def env(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """The config's environment variables as ``key``, ``value``."""
    return env_frame(_image(ref, platform, session).config)


def labels(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """The config's labels as ``key``, ``value``."""
    return labels_frame(_image(ref, platform, session).config)


def referrers(
    ref: Ref,
    platform: Platform | str | None = None,
    artifact_type: str | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """Artifacts (SBOMs, signatures, attestations) whose ``subject`` is the image (for an
    index, the image of ``platform`` or the default one), optionally of one ``artifact_type``.
    A registry without the referrers API is asked for the ``sha256-<hex>`` tag fallback; none
    found gives an empty table."""
    return referrers_frame(_image(ref, platform, session).referrers(artifact_type))


def tags(
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """The repository's tags (a registry is asked only now, page by page). ``platform`` is
    accepted for symmetry and ignored: tags belong to the repository."""
    del platform
    if isinstance(ref, (Image, ImageIndex)):
        return tags_frame(ref.source.tags())
    return tags_frame(open_source(ref, session).tags())


def compare(
    a: Ref, b: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Comparison:
    """What changed from image ``a`` to image ``b``: layers shared (by digest, else by
    diff_id), added and removed, with sizes, and the config fields that differ."""
    left = _image(a, platform, session)
    right = _image(b, platform, session)
    return compare_frames(left.manifest, _config(left), right.manifest, _config(right))


# --------------------------------------------------------------------------- layer contents


@contextlib.contextmanager
def _counting(
    source: Source, desc: Descriptor, bar: Progress, label: str
) -> Iterator[Iterator[bytes]]:
    with source.open_blob(desc.digest, desc.size) as chunks:
        yield counted(chunks, bar, desc.size, label)


def _open_layer(
    img: Image, desc: Descriptor, bar: Progress | None, label: str, quiet: bool = False
) -> AbstractContextManager[Iterator[bytes]]:
    """The layer's chunks; ``bar`` follows the download (a source that ``reports_progress``
    may fetch the whole blob into its cache before yielding) or else the chunks read."""
    source = img.source
    if bar is None:
        if quiet and getattr(source, "reports_progress", False):
            silent: AbstractContextManager[Iterator[bytes]]
            silent = source.open_blob(  # type: ignore[call-arg]
                desc.digest, desc.size, progress=NullProgress()
            )
            return silent
        return source.open_blob(desc.digest, desc.size)
    if getattr(source, "reports_progress", False):
        opened: AbstractContextManager[Iterator[bytes]]
        opened = source.open_blob(desc.digest, desc.size, progress=bar)  # type: ignore[call-arg]
        return opened
    return _counting(source, desc, bar, label)


def _listing(
    img: Image, position: int, limits: Limits | None, progress: bool | None = None
) -> list[TarEntry]:
    """The layer's entries; its exact uncompressed size and diff_id are remembered on the way
    (:mod:`ociinspect.layers.sizes`)."""
    desc = img.layers[position]
    compression = desc.compression
    if compression is None:
        raise ArchiveError(
            f"layer {position} ({desc.digest}) of {img.reference} is {desc.media_type!r}, "
            "not a tar layer"
        )
    label = f"layer {position + 1}/{len(img.layers)} {desc.digest}"
    if progress is None and not img.session.settings.progress:
        progress = False
    bar = bar_for(progress, desc.size, label)
    try:
        with _open_layer(img, desc, bar, label, quiet=progress is False) as chunks:
            listing = iter_entries(chunks, compression, limits=limits, what=f"layer {desc.digest}")
            rows = list(listing)
    finally:
        if bar is not None:
            bar.close()
    img.session.sizes.remember(desc.digest, listing_size(listing), cache_of(img.source))
    return rows


def _position(img: Image, layer: int | str) -> int:
    """A layer position from a position (negative from the top) or a digest (see Image.layer)."""
    desc = img.layer(layer)  # LayerNotFoundError naming what exists
    if isinstance(layer, int):
        return layer % len(img.layers)
    return img.layers.index(desc)


def files(
    ref: Ref,
    layer: int | str,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """Every tar entry of one layer (by position, negative from the top, or digest), as the
    archive lists it, whiteouts included. The layer is streamed, never held in memory; its
    exact uncompressed size is remembered for :func:`layers`."""
    img = _image(ref, platform, session)
    rows = _listing(img, _position(img, layer), limits, progress)
    return Table.of(files_frame(rows), size_columns=("size",))


def _all_layers(
    img: Image, limits: Limits | None, progress: bool | None
) -> Iterator[list[TarEntry]]:
    for position in range(len(img.layers)):
        yield _listing(img, position, limits, progress)


def filesystem(
    ref: Ref,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """The merged filesystem of all layers (whiteouts applied): one row per path, with the
    layer it comes from."""
    img = _image(ref, platform, session)
    merged, _ = analyse(_all_layers(img, limits, progress))
    return Table.of(filesystem_frame(merged), size_columns=("size",))


def wasted(
    ref: Ref,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """File copies that layers ship but the merged filesystem does not show (overwritten,
    deleted or hidden), each once. ``attrs`` holds ``wasted_bytes``, ``file_bytes`` and
    ``efficiency`` (1 - wasted/file bytes)."""
    img = _image(ref, platform, session)
    _, waste = analyse(_all_layers(img, limits, progress))
    out = Table.of(wasted_frame(waste), size_columns=("size",))
    out.attrs.update(
        wasted_bytes=waste.wasted_bytes, file_bytes=waste.file_bytes, efficiency=waste.efficiency
    )
    return out


__all__ = [
    "Ref",
    "compare",
    "config",
    "env",
    "files",
    "filesystem",
    "history",
    "labels",
    "layers",
    "platforms",
    "referrers",
    "tags",
    "wasted",
]
