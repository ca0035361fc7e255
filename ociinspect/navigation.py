"""Navigation over any source: reference -> index -> platform -> manifest -> config -> layers.

:func:`open` returns what a reference names, an :class:`ImageIndex` or an :class:`Image`;
:func:`image` always ends at one image, choosing a platform when it meets an index.

Platform choice without an explicit platform (documented, and recorded in
:attr:`Image.selection`): ``linux/amd64`` when the index has it, else the platform of this
machine, else the only image entry; never an attestation. With several candidates and none of
these, the first image entry is taken and the selection says so. When an explicit platform
matches nothing, :class:`~ociinspect.errors.PlatformNotFoundError` lists what exists.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager

from .errors import (
    InvalidDocumentError,
    LayerNotFoundError,
    PlatformNotFoundError,
    SizeLimitError,
)
from .session import Session, session_of
from .sources import Source, open_source
from .values import mediatypes as mt
from .values.digest import Digest
from .values.entries import (
    ARTIFACT,
    ATTESTATION,
    IMAGE,
    INDEX,
    IndexEntry,
    choose,
    entries,
    parse_platform,
)
from .values.models import (
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    ManifestInfo,
    layer_history,
    parse_config,
    parse_document,
)
from .values.platforms import Platform

#: How many manifests and configs are fetched at once for an index: 16 covers 8 platforms and
#: their 8 attestations in one round trip (each worker holds one pooled connection).
MAX_WORKERS = 16
#: Index nesting deeper than this is refused (a loop, or a hostile document).
MAX_DEPTH = 4

def _capped(desc: Descriptor, session: Session) -> int:
    """``desc.size`` once it is known to be within the session's manifest limit (checked
    before any source reads a byte; each source also enforces its limit while reading)."""
    limit = session.settings.max_manifest_size
    if desc.size > limit:
        raise SizeLimitError(f"manifest {desc.digest} (by its descriptor)", limit, desc.size)
    return desc.size


def _document(info: ManifestInfo) -> Index | Manifest:
    return parse_document(info.raw, info.media_type, info.digest)


class Image:
    """One platform's image: its manifest, config and layers, fetched lazily from a source."""

    def __init__(
        self,
        source: Source,
        manifest: Manifest,
        descriptor: Descriptor | None = None,
        selection: str | None = None,
        reference: str | None = None,
        session: Session | None = None,
    ) -> None:
        self.source = source
        #: The session this image was opened in: its memory of sizes, its trace.
        self.session = session_of(session)
        self.manifest = manifest
        self.descriptor = descriptor
        self.selection = selection
        self.reference = reference or source.name

    def __repr__(self) -> str:
        return f"<Image {self.reference} {self.manifest.digest[:19]} layers={len(self.layers)}>"

    def _repr_html_(self) -> str:
        from .display import image_html

        return image_html(self)

    @property
    def digest(self) -> Digest:
        return self.manifest.digest

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers

    @property
    def config(self) -> ImageConfig:
        """The image config, fetched (verified) on first use and kept in ``__dict__["config"]``.

        Not ``functools.cached_property``: before Python 3.12 that holds one lock per class,
        so the configs of an index's images would be fetched one at a time, not concurrently.
        """
        cached: ImageConfig | None = self.__dict__.get("config")
        if cached is not None:
            return cached
        desc = self.manifest.config
        if desc.media_type not in mt.CONFIG_TYPES:
            raise InvalidDocumentError(
                f"config of {self.reference}",
                f"media type {desc.media_type!r} is not an image config (an artifact?)",
            )
        limit = self.session.settings.max_config_size  # before the first byte, and while read
        if desc.size > limit:
            what = f"config of {self.reference} (by its descriptor)"
            raise SizeLimitError(what, limit, desc.size)
        raw = self.source.blob(desc.digest, desc.size, max_size=limit)
        cached = parse_config(raw, desc.digest)
        self.__dict__["config"] = cached
        return cached

    @property
    def platform(self) -> Platform | None:
        if self.descriptor is not None and self.descriptor.platform is not None:
            return self.descriptor.platform
        try:
            return self.config.platform
        except (InvalidDocumentError, AttributeError):
            return None

    @property
    def size(self) -> int:
        """Stored bytes (``stored_size``): manifest + config + layers, as a registry stores
        them; the layers alone are ``compressed_size`` (see :mod:`ociinspect.tables`)."""
        return len(self.manifest.raw) + self.manifest.config.size + sum(d.size for d in self.layers)

    def history(self) -> list[History | None]:
        """The history step behind each layer (None where history is missing)."""
        steps = layer_history(self.config)
        return steps + [None] * (len(self.layers) - len(steps))

    def open_layer(self, layer: int | str) -> AbstractContextManager[Iterator[bytes]]:
        """The compressed bytes of a layer (by position or digest), streamed and verified."""
        desc = self.layer(layer)
        return self.source.open_blob(desc.digest, desc.size)

    def layer(self, layer: int | str) -> Descriptor:
        """A layer by position (negative counts from the top) or by digest: full, or a prefix
        as tables shorten it (``sha256:0123456789ab`` or the hex digits alone) that names
        exactly one layer. Raises :class:`LayerNotFoundError` otherwise."""
        count = len(self.layers)
        if isinstance(layer, int):
            if not -count <= layer < count:
                raise LayerNotFoundError(
                    f"no layer {layer} in {self.reference}: it has {count} (0 to {count - 1})"
                )
            return self.layers[layer]
        prefix = layer if ":" in layer else f"sha256:{layer}"
        found = {d.digest for d in self.layers if layer and d.digest.startswith(prefix)}
        if len(found) != 1:
            problem = "no layer" if not found else f"{len(found)} layers match"
            raise LayerNotFoundError(f"{problem} {layer!r} in {self.reference} ({count} layers)")
        digest = found.pop()
        return next(d for d in self.layers if d.digest == digest)

    def referrers(self, artifact_type: str | None = None) -> Index:
        info = self.source.referrers(self.digest, artifact_type)
        doc = _document(info)
        if not isinstance(doc, Index):
            raise InvalidDocumentError("referrers", "the answer is not an index")
        return doc


class ImageIndex:
    """An OCI image index or Docker manifest list, with its entries classified."""

    def __init__(
        self,
        source: Source,
        index: Index,
        reference: str | None = None,
        session: Session | None = None,
    ) -> None:
        self.source = source
        self.session = session_of(session)
        self.index = index
        self.reference = reference or source.name

    def __repr__(self) -> str:
        kinds = [e.kind for e in self.entries]
        return (
            f"<ImageIndex {self.reference} {self.index.digest[:19]} "
            f"images={kinds.count(IMAGE)} attestations={kinds.count(ATTESTATION)}>"
        )

    def _repr_html_(self) -> str:
        from .display import index_html

        return index_html(self)

    @property
    def digest(self) -> Digest:
        return self.index.digest

    @functools.cached_property
    def entries(self) -> tuple[IndexEntry, ...]:
        return entries(self.index)

    @property
    def platforms(self) -> list[str]:
        return [e.platform_string for e in self.entries if e.kind == IMAGE]

    def image(self, platform: Platform | str | None = None) -> Image:
        """The image for ``platform`` (or the default choice), following nested indexes."""
        return _descend(self.source, self.index, platform, self.reference, 0, self.session)

    def fetch(self, entry: IndexEntry) -> Image | ImageIndex:
        """What one entry points at."""
        desc = entry.descriptor
        doc = _document(self.source.manifest(desc.digest, _capped(desc, self.session)))
        if isinstance(doc, Index):
            return ImageIndex(self.source, doc, f"{self.reference}@{desc.digest}", self.session)
        return Image(self.source, doc, desc, None, self.reference, self.session)

    def images(
        self,
        kinds: Sequence[str] = (IMAGE, ATTESTATION),
        with_config: bool = True,
        among: Sequence[IndexEntry] | None = None,
    ) -> list[tuple[IndexEntry, Image | ImageIndex | Exception]]:
        """Every entry's target, fetched concurrently on the shared session (manifest, then
        config, per entry). A failing entry yields its exception instead of stopping the rest.
        Only entries of ``kinds`` are fetched (each costs a manifest GET: a pull on Docker Hub),
        and with ``among`` only those of these entries."""
        pool_of = self.entries if among is None else among
        wanted = [e for e in pool_of if e.kind in kinds]

        def load(entry: IndexEntry) -> Image | ImageIndex | Exception:
            try:
                target = self.fetch(entry)
                if with_config and isinstance(target, Image) and entry.kind == IMAGE:
                    target.config  # noqa: B018 - fetch now, in this worker
                return target
            except Exception as exc:  # returned, so one broken entry doesn't hide the others
                return exc

        if not wanted:
            return []
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(wanted))) as pool:
            return list(zip(wanted, pool.map(load, wanted), strict=True))

    def listed(
        self,
        fetch: Sequence[str] = (IMAGE, INDEX, ARTIFACT),
        among: Sequence[IndexEntry] | None = None,
    ) -> list[tuple[IndexEntry, Image | ImageIndex | Exception | None]]:
        """Every entry (of ``among``), in index order, with its target when its kind is in
        ``fetch`` (see :meth:`images`) and None otherwise: by default attestation entries are
        listed from the index alone, which spares a manifest GET (a pull) for each."""
        entries_ = list(self.entries if among is None else among)
        fetched = {e.position: target for e, target in self.images(fetch, among=entries_)}
        return [(entry, fetched.get(entry.position)) for entry in entries_]


def _descend(
    source: Source,
    index: Index,
    platform: Platform | str | None,
    reference: str,
    depth: int,
    session: Session,
) -> Image:
    if depth >= MAX_DEPTH:
        raise InvalidDocumentError(f"index {index.digest}", f"nested deeper than {MAX_DEPTH}")
    entry, why = choose(entries(index), platform)
    desc = entry.descriptor
    doc = _document(source.manifest(desc.digest, _capped(desc, session)))
    if isinstance(doc, Index):
        return _descend(source, doc, platform, reference, depth + 1, session)
    return Image(source, doc, desc, why, reference, session)


def open(  # noqa: A001 - the natural name; builtins.open is not used here
    ref: str | Source, *, session: Session | None = None
) -> Image | ImageIndex:
    """What ``ref`` names: an :class:`ImageIndex` or an :class:`Image` (see module docs),
    opened in ``session`` (default: :func:`~ociinspect.session.default_session`)."""
    session = session_of(session)
    source = ref if isinstance(ref, Source) else open_source(ref, session)
    doc = _document(source.root())
    if isinstance(doc, Index):
        return ImageIndex(source, doc, session=session)
    return Image(source, doc, session=session)


def image(
    ref: str | Source | Image | ImageIndex,
    platform: Platform | str | None = None,
    *,
    session: Session | None = None,
) -> Image:
    """The image ``ref`` names; for an index, the one for ``platform`` (or the default)."""
    found = ref if isinstance(ref, (Image, ImageIndex)) else open(ref, session=session)
    if isinstance(found, ImageIndex):
        return found.image(platform)
    if platform is not None and found.platform is not None:
        wanted = parse_platform(platform)
        if not wanted.matches(found.platform):
            raise PlatformNotFoundError(str(wanted), [str(found.platform)], where=found.reference)
    return found


__all__ = ["Image", "ImageIndex", "image", "open"]
