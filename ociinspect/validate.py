"""``validate``: read every blob of an image and check it, like ``crane validate``, as a table.

For the image a reference names (an index: the image of ``platform``, or with
``all_platforms=True`` every entry, attestations and nested indexes included):

- the index and each manifest: digest (the source verifies every document against the digest
  it was asked for, or the registry's ``Docker-Content-Digest``), size (against the descriptor
  that points at it) and shape (parsed as its media type);
- the config: digest, size, parsed; its ``rootfs.diff_ids`` counted against the layers;
- each layer: streamed whole, digest and size checked as bytes arrive; a tar layer (gzip, zstd
  or uncompressed) is decompressed and read to its end, and the sha256 of the tar compared with
  the config's diff_id (:func:`~ociinspect.layers.verify.check_diff_id`); a layer that is not a
  tar (an in-toto statement) is its own uncompressed form, so its diff_id must be its digest.

A failure is a row with ``ok == False`` and the error, never an exception: every blob is read
however many fail. What cannot be reached at all (no such image, no registry) raises as every
table function does. A layer that passes has its exact uncompressed size remembered (as
:func:`ociinspect.files` would); one that fails leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

from .api import Ref, _config, _open, _open_layer
from .errors import OCIInspectError
from .layers.contents import LayerListing
from .layers.sizes import cache_of, listing_size
from .layers.verify import check_diff_id, expected_diff_id
from .navigation import MAX_DEPTH, Image, ImageIndex
from .navigation import image as choose_image
from .progress import bar_for
from .session import Session
from .tables.frame import Table
from .tables.index import error_text
from .tables.validation import BlobCheck, validate_frame
from .values import mediatypes as mt
from .values.entries import INDEX, IndexEntry
from .values.models import Descriptor, ImageConfig
from .values.platforms import Platform

__all__ = ["validate"]


def validate(
    ref: Ref,
    platform: Platform | str | None = None,
    all_platforms: bool = False,
    *,
    progress: bool | None = None,
    session: Session | None = None,
) -> Table:
    """Check every blob of the image ``ref`` names: one row per blob with what was checked and
    the outcome (columns in :func:`~ociinspect.tables.validation.validate_frame`); ``attrs``
    says whether all passed (``ok``) and how many failed. ``platform`` picks the image of an
    index; ``all_platforms`` checks every entry of the index instead (attestations and nested
    indexes too). Large layers show a progress bar unless ``progress=False``."""
    found = _open(ref, session)
    checks: list[BlobCheck] = []
    if isinstance(found, ImageIndex):
        checks.append(_index_check(found))
        if all_platforms:
            _walk(found, checks, progress, 0)
        else:
            img = found.image(platform)
            checks.extend(_image_checks(img, progress, _position_in(found, img)))
    else:
        checks.extend(_image_checks(choose_image(found, platform), progress, None))
    return validate_frame(checks)


def _position_in(index: ImageIndex, img: Image) -> int | None:
    for entry in index.entries:
        if entry.descriptor.digest == img.digest:
            return entry.position
    return None


def _index_check(index: ImageIndex) -> BlobCheck:
    doc = index.index
    return BlobCheck(
        kind="index",
        digest=doc.digest,
        media_type=doc.media_type,
        checked=("digest", "json"),
        ok=True,
        manifest=doc.digest,
        read_size=len(doc.raw),
    )


def _walk(index: ImageIndex, checks: list[BlobCheck], progress: bool | None, depth: int) -> None:
    for entry in index.entries:
        try:
            target = index.fetch(entry)
        except OCIInspectError as exc:
            checks.append(_failed_document(entry, exc))
            continue
        if isinstance(target, ImageIndex):
            checks.append(_nested(entry, target, depth))
            if depth + 1 < MAX_DEPTH:
                _walk(target, checks, progress, depth + 1)
            continue
        checks.extend(_image_checks(target, progress, entry.position))


def _failed_document(entry: IndexEntry, error: Exception) -> BlobCheck:
    desc = entry.descriptor
    return BlobCheck(
        kind="index" if entry.kind == INDEX else "manifest",
        digest=desc.digest,
        media_type=desc.media_type,
        checked=("digest", "size", "json"),
        ok=False,
        platform=str(desc.platform) if desc.platform is not None else None,
        manifest=desc.digest,
        position=entry.position,
        declared_size=desc.size,
        error=error_text(error),
    )


def _nested(entry: IndexEntry, target: ImageIndex, depth: int) -> BlobCheck:
    too_deep = depth + 1 >= MAX_DEPTH
    return BlobCheck(
        kind="index",
        digest=target.digest,
        media_type=target.index.media_type,
        checked=("digest", "size", "json"),
        ok=not too_deep,
        manifest=target.digest,
        position=entry.position,
        declared_size=entry.descriptor.size,
        read_size=len(target.index.raw),
        error=f"index nested deeper than {MAX_DEPTH}: not followed" if too_deep else None,
    )


def _platform_of(img: Image) -> str | None:
    if img.descriptor is not None and img.descriptor.platform is not None:
        return str(img.descriptor.platform)
    try:
        config = _config(img)
    except OCIInspectError:
        return None
    return str(config.platform) if config is not None else None


def _image_checks(img: Image, progress: bool | None, position: int | None) -> list[BlobCheck]:
    manifest = img.manifest
    platform = _platform_of(img)
    named = img.descriptor is not None  # by a descriptor, so its size was checked too
    checks = [
        BlobCheck(
            kind="manifest",
            digest=manifest.digest,
            media_type=manifest.media_type,
            checked=("digest", "size", "json") if named else ("digest", "json"),
            ok=True,
            platform=platform,
            manifest=manifest.digest,
            position=position,
            declared_size=img.descriptor.size if img.descriptor is not None else None,
            read_size=len(manifest.raw),
        )
    ]
    config, config_check = _config_check(img, platform)
    checks.append(config_check)
    for layer, desc in enumerate(manifest.layers):
        checks.append(_layer_check(img, layer, desc, config, platform, progress))
    return checks


def _config_check(img: Image, platform: str | None) -> tuple[ImageConfig | None, BlobCheck]:
    desc = img.manifest.config
    common: dict[str, Any] = {
        "kind": "config",
        "digest": desc.digest,
        "media_type": desc.media_type,
        "platform": platform,
        "manifest": img.digest,
        "declared_size": desc.size,
    }
    if desc.media_type not in mt.CONFIG_TYPES:  # an artifact's config: bytes only
        try:
            data = img.source.blob(desc.digest, desc.size)
        except OCIInspectError as exc:
            return None, BlobCheck(checked=("digest", "size"), ok=False, error=error_text(exc),
                                   **common)
        return None, BlobCheck(checked=("digest", "size"), ok=True, read_size=len(data), **common)
    try:
        config = img.config
    except OCIInspectError as exc:
        return None, BlobCheck(checked=("digest", "size", "json"), ok=False,
                               error=error_text(exc), **common)
    layers, listed = len(img.manifest.layers), len(config.diff_ids)
    problem = None
    if listed != layers:
        problem = (
            f"the config lists {listed} rootfs.diff_ids for the manifest's {layers} layers"
        )
    return config, BlobCheck(
        checked=("digest", "size", "json", "diff_ids"),
        ok=problem is None,
        read_size=len(config.raw),
        error=problem,
        **common,
    )


def _layer_check(
    img: Image,
    position: int,
    desc: Descriptor,
    config: ImageConfig | None,
    platform: str | None,
    progress: bool | None,
) -> BlobCheck:
    expected = expected_diff_id(config, position)
    compression = desc.compression
    checked = ["digest", "size"]
    if compression is not None:
        checked.append("tar")
    if expected is not None:
        checked.append("diff_id")
    common: dict[str, Any] = {
        "kind": "layer",
        "digest": desc.digest,
        "media_type": desc.media_type,
        "checked": tuple(checked),
        "platform": platform,
        "manifest": img.digest,
        "position": position,
        "declared_size": desc.size,
        "diff_id": expected,
    }
    label = f"layer {position + 1}/{len(img.layers)} {desc.digest}"
    if progress is None and not img.session.settings.progress:
        progress = False
    bar = bar_for(progress, desc.size, label)
    read: int | None = None
    listing: LayerListing | None = None
    actual: str | None = None
    try:
        with _open_layer(img, desc, bar, label, quiet=progress is False) as chunks:
            if compression is None:  # not a tar: the blob is its own uncompressed form
                read = sum(len(chunk) for chunk in chunks)
                actual = str(desc.digest) if desc.digest.startswith("sha256:") else None
            else:
                listing = LayerListing(chunks, compression, what=f"layer {desc.digest}")
                for _ in listing:
                    pass
                read, actual = listing.compressed_size, listing.diff_id
        if actual is not None:
            check_diff_id(img.reference, position, desc.digest, expected, actual)
    except OCIInspectError as exc:
        return BlobCheck(
            ok=False,
            error=error_text(exc),
            read_size=read,
            uncompressed_size=listing.uncompressed_size if listing and listing.done else None,
            actual_diff_id=actual,
            **common,
        )
    finally:
        if bar is not None:
            bar.close()
    if listing is not None:
        img.session.sizes.remember(desc.digest, listing_size(listing), cache_of(img.source))
    return BlobCheck(
        ok=True,
        read_size=read,
        uncompressed_size=listing.uncompressed_size if listing is not None else None,
        actual_diff_id=actual,
        **common,  # type: ignore[arg-type]
    )
