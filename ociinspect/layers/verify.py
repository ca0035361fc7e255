"""diff_id verification: the one rule for "this layer's tar is the one the config names".

image-spec config.md, ``rootfs.diff_ids``: "An array of layer content hashes (DiffIDs), in order
from first to last"; a DiffID is the digest of the layer's *uncompressed* tar. The blob digest
of the manifest protects the compressed bytes; only the diff_id ties them to the config, which
is what an image's identity (its config digest, its image ID) is made of. containerd (when it
unpacks) and ``crane validate`` refuse an image whose layer decompresses to anything else.

Every reader that decompresses a whole layer (the listing behind ``files``, ``filesystem``,
``wasted`` and ``changes``, exact sizes, ``validate``, a reader of file contents that streams a
whole layer) computes the sha256 of the decompressed stream and calls :func:`check_diff_id`
with what :func:`expected_diff_id` says the config lists, *before* anything derived from the
layer is remembered (the session's size memory, the disk cache's metadata) or returned. A
mismatch raises :class:`~ociinspect.errors.DiffIdMismatchError` (a
:class:`~ociinspect.errors.DigestMismatchError`) naming the image, the layer position, the
layer's blob digest and both diff_ids.

::

    expected = expected_diff_id(config, position)          # None: nothing to check
    check_diff_id(img.reference, position, desc.digest, expected, listing.diff_id)
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DiffIdMismatchError
from ..values.models import ImageConfig

__all__ = ["NOT_LISTED", "check_diff_id", "expected_diff_id"]

#: What :func:`expected_diff_id` returns for a layer the config lists no diff_id for (the
#: config has fewer ``rootfs.diff_ids`` than the manifest has layers): never equal to a digest,
#: so :func:`check_diff_id` fails, and the error says why.
NOT_LISTED = "(none: the config lists fewer rootfs.diff_ids than the manifest has layers)"


def expected_diff_id(
    config: ImageConfig | Sequence[str] | None, position: int
) -> str | None:
    """The diff_id an image config expects for the layer at ``position`` (0 = bottom).

    ``config`` is the image's :class:`~ociinspect.values.models.ImageConfig` (or its
    ``diff_ids``). None when there is nothing to check against: no config, or a manifest whose
    config is not an image config (an artifact). :data:`NOT_LISTED` when the config lists too
    few diff_ids (a check against it always fails).
    """
    if config is None:
        return None
    diff_ids = config.diff_ids if isinstance(config, ImageConfig) else config
    if 0 <= position < len(diff_ids):
        return str(diff_ids[position])
    return NOT_LISTED


def check_diff_id(
    image: str, position: int, layer: str, expected: str | None, actual: str
) -> None:
    """Raise :class:`~ociinspect.errors.DiffIdMismatchError` unless ``actual`` (``sha256:<hex>``
    of the layer's decompressed tar, e.g. :attr:`~ociinspect.layers.contents.LayerListing.diff_id`)
    is ``expected`` (from :func:`expected_diff_id`; None checks nothing).

    ``image`` names the image in the error (its reference), ``layer`` is the layer's blob
    digest. Call it after the last byte of the layer and before keeping or returning anything
    derived from it.
    """
    if expected is None or expected == actual:
        return
    raise DiffIdMismatchError(image, position, str(layer), expected, actual)
