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

Progress: streaming a layer (:func:`files`, :func:`filesystem`, :func:`wasted`,
:func:`changes`) shows a bar
for layers of 8 MiB or more; ``progress=True`` shows one for every layer, ``progress=False`` (or
a session made with ``progress=False``, e.g. from ``OCIINSPECT_PROGRESS=0``) none.

All tables are :class:`~ociinspect.tables.Table`\\ s; their columns are documented in
:mod:`ociinspect.tables`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

from . import supply as _supply
from .errors import ArchiveError, PlatformNotFoundError
from .layers.contents import Limits, TarEntry, iter_entries
from .layers.overlay import Wasted, apply_layers
from .layers.sizes import (
    Expected,
    cache_of,
    estimate_note,
    expectations,
    listing_size,
    uncompressed_sizes,
)
from .layers.verify import check_diff_id, expected_diff_id
from .navigation import Image, ImageIndex
from .navigation import image as _choose_image
from .navigation import open as _open_ref
from .progress import NullProgress, Progress, bar_for, counted
from .session import Session, session_of
from .sources import Source, open_source
from .tables import (
    Comparison,
    Table,
    annotations_frame,
    changes_frame,
    compare_frames,
    config_frame,
    env_frame,
    files_frame,
    filesystem_frame,
    history_frame,
    labels_frame,
    layers_frame,
    platforms_frame,
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


def _noted(table: Table, note: str | None) -> Table:
    """``table`` with ``attrs["note"]`` set when there is something to say (shown by its repr,
    its HTML and the CLI)."""
    if note:
        table.attrs["note"] = note
    return table


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


def _loaded(
    index: ImageIndex, listed: Sequence[IndexEntry], fetch_attestations: bool
) -> list[Loaded]:
    """A row per entry of ``listed``; attestation manifests are fetched only when asked (each
    is a manifest GET, which Docker Hub counts as a pull): otherwise their rows show what the
    index says of them."""
    kinds = (IMAGE, INDEX, ARTIFACT) + ((ATTESTATION,) if fetch_attestations else ())
    rows: list[Loaded] = []
    for entry, target in index.listed(kinds, among=listed):
        if target is None:
            rows.append((entry, None, None))
        elif isinstance(target, Exception):
            rows.append((entry, target, None))
        elif isinstance(target, ImageIndex):
            rows.append((entry, target.index, None))
        else:
            cached = target.__dict__.get("config")  # fetched by images() for image entries
            rows.append((entry, target.manifest, cached))
    return rows


def _only(listed: Sequence[IndexEntry], platform: Platform | str) -> list[IndexEntry]:
    """The image entries matching ``platform`` and the attestations describing them."""
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    images = [e for e in listed if e.kind in (IMAGE, INDEX)]
    kept = [e for e in images if e.platform is not None and wanted.matches(e.platform)]
    if not kept:
        raise PlatformNotFoundError(
            str(wanted), [e.platform_string for e in images], where="the index"
        )
    chosen = {e.position for e in kept}
    digests = {e.descriptor.digest for e in kept}
    return [e for e in listed if e.position in chosen or e.describes in digests]


def platforms(
    ref: Ref,
    platform: Platform | str | None = None,
    sizes: str = "none",
    *,
    fetch_attestations: bool = False,
    session: Session | None = None,
) -> Table:
    """Every entry of an index: images, attestations (with the image they ``describe``),
    nested indexes and artifacts, with sizes, layer counts and creation times. Manifests and
    configs are fetched concurrently; an entry that fails shows why in ``error``.
    With ``platform``, only the matching images and their attestations (and only those are
    fetched). Attestation manifests are not fetched unless ``fetch_attestations`` (their
    ``layers`` and ``compressed_size`` are then filled): an index of 8 platforms and 8
    attestations costs 1 + 8 manifest GETs, the pulls Docker Hub counts.
    A single image gives one row. ``uncompressed_size`` follows ``sizes`` (default ``"none"``:
    no request; ``"estimate"`` costs one request per distinct layer; see the module doc)."""
    client = (ref.session if isinstance(ref, Image | ImageIndex) else session_of(session)).client
    with client.fanout():  # a manifest per platform at once: preconnected while the token comes
        return _platforms(ref, platform, sizes, fetch_attestations, session)


def _platforms(
    ref: Ref,
    platform: Platform | str | None,
    sizes: str,
    fetch_attestations: bool,
    session: Session | None,
) -> Table:
    found = _open(ref, session)
    if isinstance(found, Image):
        rows = [_single_row(_choose_image(found, platform))]
    else:
        listed = found.entries if platform is None else _only(found.entries, platform)
        rows = _loaded(found, listed, fetch_attestations)
    layers = [
        d for e, doc, _ in rows if e.kind == IMAGE and isinstance(doc, Manifest) for d in doc.layers
    ]
    expected: dict[str, Expected] = {}
    for entry, doc, conf in rows:  # diff_ids checked wherever a layer's is known
        if entry.kind == IMAGE and isinstance(doc, Manifest) and conf is not None:
            named = f"{found.reference}@{doc.digest}"
            for digest, want in expectations(named, doc.layers, conf.diff_ids).items():
                expected.setdefault(digest, want)
    unpacked = uncompressed_sizes(found.source, layers, found.session.sizes, sizes, expected)
    return _noted(platforms_frame(rows, unpacked), estimate_note(layers, sizes))


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
    conf = _config(img)
    expected = expectations(img.reference, img.layers, conf.diff_ids if conf else None)
    unpacked = uncompressed_sizes(img.source, img.layers, img.session.sizes, sizes, expected)
    out = layers_frame(img.manifest, _config(img), unpacked)
    return _noted(out, estimate_note(img.layers, sizes))


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


def annotations(  # type: ignore[no-redef]  # rebinds the name of __future__'s feature flag
    ref: Ref, platform: Platform | str | None = None, *, session: Session | None = None
) -> Table:
    """Every annotation of the index (its own and its entries') and of the image's manifest
    (its own, its config's and its layers' descriptors): ``org.opencontainers.image.created``,
    ``source``, ``revision``, ``base.name``, ``base.digest``, an OCI layout's ``ref.name``,
    BuildKit's ``vnd.docker.reference.*``; one row per key (columns in
    :func:`~ociinspect.tables.image.annotations_frame`)."""
    found = _open(ref, session)
    if isinstance(found, ImageIndex):
        return annotations_frame(found.index, found.image(platform).manifest)
    return annotations_frame(None, _choose_image(found, platform).manifest)


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


# referrers(ref, platform=None, artifact_type=None, *, all_platforms=False, depth=1, ...): the
# index's own referrers, each platform's, cosign's tags, to a depth (ociinspect.supply).
referrers = _supply.referrers


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
    img: Image,
    position: int,
    limits: Limits | None,
    progress: bool | None = None,
    digests: bool = False,
) -> list[TarEntry]:
    """The layer's entries, once its tar is checked against the config's diff_id
    (:func:`~ociinspect.layers.verify.check_diff_id`: DiffIdMismatchError, nothing kept);
    then its exact uncompressed size and diff_id are remembered (:mod:`ociinspect.layers.sizes`).
    ``digests``: hash each file's data too (for :func:`changes`)."""
    desc = img.layers[position]
    expected = expected_diff_id(_config(img), position)
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
            listing = iter_entries(
                chunks, compression, limits=limits, what=f"layer {desc.digest}", digests=digests
            )
            rows = list(listing)
    finally:
        if bar is not None:
            bar.close()
    check_diff_id(img.reference, position, desc.digest, expected, listing.diff_id)
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
    img: Image, limits: Limits | None, progress: bool | None, digests: bool = False
) -> Iterator[list[TarEntry]]:
    for position in range(len(img.layers)):
        yield _listing(img, position, limits, progress, digests)


def filesystem(
    ref: Ref,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """The merged filesystem of all layers (whiteouts applied): one row per path, with the
    layer it comes from. A hardlink to a regular file is a regular file with its target's size
    and mode (``hardlink_to`` says what it links to; ``links`` and ``inode`` group the names
    that share the data), so ``size`` summed over ``type == "file"`` is every name's bytes
    (``du --apparent-size -b --count-links`` of an unpacked image) and over its distinct
    ``inode`` values the bytes on disk (``du --apparent-size -b``)."""
    img = _image(ref, platform, session)
    bound = (limits or Limits()).max_entries  # the merged view too: ArchiveError past it
    merged = apply_layers(_all_layers(img, limits, progress), max_entries=bound).merged
    return Table.of(filesystem_frame(merged), size_columns=("size",))


def _waste_summary(table: Table, waste: Wasted) -> Table:
    table.attrs.update(
        wasted_bytes=waste.wasted_bytes, file_bytes=waste.file_bytes, efficiency=waste.efficiency
    )
    return table


def wasted(
    ref: Ref,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """File copies that layers ship but the merged filesystem does not show (overwritten,
    deleted or hidden), each once: the summary of :func:`changes`, whose ``wasted_size`` adds
    up to the same ``wasted_bytes``. A copy still reachable through a hardlink is not wasted.
    ``attrs`` holds ``wasted_bytes``, ``file_bytes`` and ``efficiency`` (1 - wasted/file bytes)."""
    img = _image(ref, platform, session)
    bound = (limits or Limits()).max_entries
    waste = apply_layers(_all_layers(img, limits, progress), max_entries=bound).wasted
    return _waste_summary(Table.of(wasted_frame(waste), size_columns=("size",)), waste)


def changes(
    ref: Ref,
    platform: Platform | str | None = None,
    limits: Limits | None = None,
    progress: bool | None = None,
    *,
    session: Session | None = None,
) -> Table:
    """What each layer did to each path it touched (dive's per-layer view): one row per path
    per layer, with the kind of change (:data:`~ociinspect.layers.changes.CHANGE_KINDS`: added,
    modified, metadata, deleted, hidden, type_changed), sizes before and after, and the bytes of
    the earlier copy it left wasted. Every file's data is hashed on the way, so a file rewritten
    with the same bytes is ``metadata``, not ``modified``. ``attrs`` holds the totals of
    :func:`wasted`."""
    img = _image(ref, platform, session)
    applied = apply_layers(
        _all_layers(img, limits, progress, digests=True),
        track_changes=True,
        max_entries=(limits or Limits()).max_entries,
    )
    table = Table.of(
        changes_frame(applied.changes), size_columns=("size_before", "size_after", "wasted_size")
    )
    return _waste_summary(table, applied.wasted)


__all__ = [
    "Ref",
    "annotations",
    "changes",
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
