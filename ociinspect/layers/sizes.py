"""Uncompressed layer sizes: exact once a layer has been streamed, else a cheap estimate.

A manifest gives each layer's size *as stored* (compressed). What it unpacks to is found, from
cheapest to dearest, as :attr:`UncompressedSize.how` says:

=================  =====  ==============================================================
``how``            exact  where the number comes from
=================  =====  ==============================================================
``uncompressed``   yes    a layer stored without compression is its own size (no I/O)
``listed``         yes    the layer was streamed once (``files``, ``filesystem``, ``wasted``
                          or ``sizes="exact"``) and its decompressed bytes counted and hashed
``whole-blob``     yes    a registry ignored a ``Range`` request and sent the whole blob: it
                          was decompressed once in memory (and cached) rather than wasted
``gzip-isize``     no     the blob's last four bytes, ISIZE: the size modulo 2**32 of its
                          last gzip member (RFC 1952 section 2.3.1); see :func:`estimate_gzip`
``zstd-header``    no     Frame_Content_Size of the first zstd frame (RFC 8878 section
                          3.1.1.1), from the blob's first 18 bytes
``annotation``     no     eStargz's ``io.containers.estargz.uncompressed-size`` annotation
``seen``           no     at least this many bytes: a reader that stopped early (reading one
                          file) decompressed them, and no estimate says more
``unknown``        no     none of these (not asked, a header without a size, a multi-part
                          layout such as zstd:chunked, or the read failed)
=================  =====  ==============================================================

Estimates cost one small read per layer: a ``Range`` request to a registry (``bytes=-4`` or
``bytes=0-17``), or a read in place of a local layout or archive (sources that implement
:class:`~ociinspect.sources.base.RangeSource`). Exact sizes and estimates are remembered per
compressed digest, in the session's memory (:class:`SizeMemo`) and, for a registry source with a
disk cache, in the cache's metadata (:meth:`~ociinspect.cache.BlobCache.put_meta`), so a later run
repeats no request and a later process knows what an earlier one streamed. An exact size is never
replaced by an estimate, and no estimate is shown below what bytes already seen prove (the blob's
own size for a zstd frame, :func:`zstd_floor`; the decompressed bytes a partial read counted,
:meth:`SizeMemo.saw`). A failed estimate is ``unknown`` (logged), never an error: the tables that
show it are about something else.

diff_ids: a layer decompressed here (``sizes="exact"``, or a registry that answered a ``Range``
request with the whole blob) is checked against the diff_id its image's config lists
(:class:`Expected`, :func:`~ociinspect.layers.verify.check_diff_id`) before its size is
remembered; a mismatch raises :class:`~ociinspect.errors.DiffIdMismatchError` and nothing is
kept. A size remembered with its diff_id (from an earlier listing) is checked the same way
before it is shown for an image whose config lists another diff_id.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..cache import BlobCache
from ..errors import DigestMismatchError, OCIInspectError
from ..sources.base import RangeSource, Source
from ..values.digest import Digest
from ..values.models import Descriptor
from .compression import gzip_isize, zstd_content_size
from .contents import LayerListing
from .verify import check_diff_id, expected_diff_id

#: What :func:`uncompressed_sizes` may do: no I/O, one small read per layer, or stream them.
MODES = ("none", "estimate", "exact")
HOWS = ("uncompressed", "listed", "whole-blob", "gzip-isize", "zstd-header", "annotation",
        "seen", "unknown")
EXACT_HOWS = frozenset({"uncompressed", "listed", "whole-blob"})
#: The ratio :func:`estimate_gzip` assumes when ISIZE alone cannot say (container layers
#: typically unpack to 2-4 times their gzip size; the lower end errs toward smaller sizes).
TYPICAL_RATIO = 2.0
#: deflate's best case is about 1032:1 (258-byte matches coded in about 2 bits).
MAX_DEFLATE_RATIO = 1032
#: Bytes a gzip blob may hold beyond its deflate data: header with optional extra field, name
#: and comment, and trailer. Generous: only used to bound what ISIZE can mean.
GZIP_SLACK = 64 * 1024
#: Stored deflate blocks grow data by 5 bytes per 65535.
_STORED_GROWTH = 65540 / 65535
ZSTD_HEADER = 18
ZSTD_BLOCK = 128 * 1024  # Block_Maximum_Size, RFC 8878 section 3.1.1.2.4
ESTARGZ_SIZE = "io.containers.estargz.uncompressed-size"
#: Layers made of many gzip members or zstd frames: their tail or head says nothing of the whole.
#: zstd:chunked has two key families: containers/storage's current ``io.github.containers.*``
#: and the older ``io.containers.*`` that skopeo 1.9 writes.
MULTI_PART = (
    "containerd.io/snapshot/stargz/toc.digest",
    "io.github.containers.zstd-chunked.manifest-checksum",
    "io.github.containers.zstd-chunked.manifest-position",
    "io.containers.zstd-chunked.manifest-checksum",
    "io.containers.zstd-chunked.manifest-position",
)
_META_KEY = "uncompressed"
_WORKERS = 8
#: ``sizes="estimate"`` reads at most this many distinct layers (one request each); the others
#: show what is known without a request, and the table says so (:func:`estimate_note`).
MAX_ESTIMATES = 256
#: Sizes past int64 (what pandas columns and the image spec hold) are no sizes: an estimate or
#: annotation above it is unknown, a total above it is unknown.
INT64_MAX = 2**63 - 1
log = logging.getLogger("ociinspect.layers.sizes")


@dataclass(frozen=True)
class UncompressedSize:
    """What a layer unpacks to: ``size`` in bytes (None when unknown), whether it is
    ``exact``, ``how`` it was found (one of :data:`HOWS`, see the module docstring), and the
    ``diff_id`` computed when the layer was decompressed (None otherwise)."""

    size: int | None = None
    exact: bool = False
    how: str = "unknown"
    diff_id: str | None = None

    def __post_init__(self) -> None:
        if self.how not in HOWS:
            raise ValueError(f"UncompressedSize.how must be one of {HOWS}, got {self.how!r}")
        if self.size is not None and (isinstance(self.size, bool) or self.size < 0):
            raise ValueError(f"UncompressedSize.size must be None or >= 0, got {self.size!r}")
        if self.exact != (self.how in EXACT_HOWS) or (self.size is None and self.how != "unknown"):
            raise ValueError(f"UncompressedSize: {self.how!r} cannot be exact={self.exact}")

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"size": self.size, "exact": self.exact, "how": self.how}
        if self.diff_id is not None:
            body["diffId"] = self.diff_id
        return body

    @classmethod
    def from_json(cls, body: Any) -> UncompressedSize | None:
        """The value :meth:`to_json` wrote, or None for anything else (a damaged file)."""
        if not isinstance(body, dict) or not isinstance(body.get("size"), int):
            return None
        diff_id = body.get("diffId")
        try:
            if diff_id is not None:
                diff_id = str(Digest.parse(diff_id))
            return cls(body["size"], body.get("exact") is True, str(body.get("how")), diff_id)
        except ValueError:
            return None


UNKNOWN = UncompressedSize()


# --------------------------------------------------------------------------- pure estimates


def estimate_gzip(isize: int, compressed: int) -> int | None:
    """The uncompressed size a gzip blob of ``compressed`` bytes most likely has, given its
    ISIZE (the true size modulo 2**32); None when no size fits.

    The true size is ``isize + k * 2**32`` for some k >= 0. Candidates must fit deflate's
    bounds: at least ``compressed`` less :data:`GZIP_SLACK` (stored blocks add 5 bytes per
    65535, never less) and at most :data:`MAX_DEFLATE_RATIO` times ``compressed``. Among those,
    the one nearest ``compressed * TYPICAL_RATIO`` is taken. So below 2 GiB compressed ISIZE is
    taken as it is unless it is impossibly small (then 4 GiB are added: such a blob is over 4
    GiB); above, the typical ratio decides. Wrong for a blob of several gzip members (only the
    last one's ISIZE is at the end): such layers are marked by annotations (:data:`MULTI_PART`)
    and not estimated this way.
    """
    if isize < 0 or compressed <= 0:
        return None
    low = max(compressed - GZIP_SLACK, 0) / _STORED_GROWTH
    high = compressed * MAX_DEFLATE_RATIO + GZIP_SLACK
    wrap = 2**32
    k_min = max(math.ceil((low - isize) / wrap), 0)
    k_max = math.floor((high - isize) / wrap)
    if k_min > k_max:
        return None
    k = math.floor((compressed * TYPICAL_RATIO - isize) / wrap + 0.5)
    found = isize + min(max(k, k_min), k_max) * wrap
    return found if found <= INT64_MAX else None


def from_tail(tail: bytes, compressed: int) -> UncompressedSize:
    """An estimate from the last bytes of a gzip blob (at least four)."""
    if len(tail) < 4:
        return UNKNOWN
    size = estimate_gzip(gzip_isize(tail[-4:]), compressed)
    return UNKNOWN if size is None else UncompressedSize(size, False, "gzip-isize")


def zstd_floor(compressed: int) -> int:
    """The fewest bytes a single zstd frame of ``compressed`` bytes can decompress to: every
    block of stored (raw) data costs a 3-byte header per 128 KiB, plus the frame header (at most
    18 bytes) and checksum (4) (RFC 8878 sections 3.1.1, 3.1.1.2)."""
    blocks = compressed // (ZSTD_BLOCK + 3) + 1
    return max(compressed - ZSTD_HEADER - 4 - 3 * blocks, 0)


def from_head(head: bytes, compressed: int) -> UncompressedSize:
    """An estimate from the first bytes of a zstd blob (:data:`ZSTD_HEADER` or all of it).

    A stated size below what one frame of ``compressed`` bytes can hold (:func:`zstd_floor`)
    is the first of several frames (zstd:chunked writes one per file): unknown then, never an
    estimate below what the blob's size proves."""
    try:
        size = zstd_content_size(head)
    except OCIInspectError:
        return UNKNOWN
    if size is None or size < zstd_floor(compressed) or size > INT64_MAX:
        return UNKNOWN
    return UncompressedSize(size, False, "zstd-header")


def without_io(desc: Descriptor) -> UncompressedSize:
    """What a descriptor alone says: its own size for an uncompressed layer, eStargz's
    annotation, else unknown."""
    if desc.compression == "none":
        return UncompressedSize(desc.size, True, "uncompressed")
    annotated = desc.annotations.get(ESTARGZ_SIZE)
    if (
        desc.compression is not None and annotated and annotated.isascii()
        and annotated.isdigit() and len(annotated) <= 19 and int(annotated) <= INT64_MAX
    ):  # fmt: skip
        return UncompressedSize(int(annotated), False, "annotation")
    return UNKNOWN


def listing_size(listing: LayerListing) -> UncompressedSize:
    """The exact size and diff_id of a finished listing."""
    return UncompressedSize(listing.uncompressed_size, True, "listed", listing.diff_id)


# --------------------------------------------------------------------------- what is known

def cache_of(source: Source) -> BlobCache | None:
    """The disk cache a source keeps (a registry source's), or None."""
    cache = getattr(source, "cache", None)
    return cache if isinstance(cache, BlobCache) else None


@dataclass(frozen=True)
class Expected:
    """What an image's config says of one of its layers, for the diff_id check: ``image``
    names the image in errors, ``position`` is the layer's, ``diff_id`` what
    :func:`~ociinspect.layers.verify.expected_diff_id` gives (None: nothing to check)."""

    image: str
    position: int
    diff_id: str | None

    def check(self, layer: Digest, actual: str | None) -> None:
        """DiffIdMismatchError unless ``actual`` (a computed diff_id; None checks nothing) is
        the expected one."""
        if actual is not None:
            check_diff_id(self.image, self.position, layer, self.diff_id, actual)


def expectations(
    image: str, layers: Iterable[Descriptor], diff_ids: Sequence[str] | None
) -> dict[str, Expected]:
    """:class:`Expected` for each layer of one image, by layer digest (the first position of a
    layer listed twice). ``diff_ids`` is the config's (None: not an image config)."""
    found: dict[str, Expected] = {}
    for position, desc in enumerate(layers):
        found.setdefault(
            desc.digest, Expected(image, position, expected_diff_id(diff_ids, position))
        )
    return found


class SizeMemo:
    """What a session learned of uncompressed sizes, by compressed digest (and, through a
    source's disk cache, what earlier processes learned). Thread-safe."""

    def __init__(self) -> None:
        self._sizes: dict[str, UncompressedSize] = {}
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<SizeMemo {len(self._sizes)}>"

    def __len__(self) -> int:
        return len(self._sizes)

    def known(self, digest: Digest, cache: BlobCache | None = None) -> UncompressedSize | None:
        """What this memo, or ``cache``'s metadata, holds about a compressed blob."""
        with self._lock:
            found = self._sizes.get(digest)
        if found is not None or cache is None:
            return found
        found = UncompressedSize.from_json(cache.get_meta(digest).get(_META_KEY))
        if found is not None:
            with self._lock:
                self._sizes.setdefault(digest, found)
        return found

    def remember(
        self, digest: Digest, size: UncompressedSize, cache: BlobCache | None = None
    ) -> UncompressedSize:
        """Keep ``size`` for ``digest`` (here, and in ``cache``'s metadata), unless an exact
        size is known already; returns what is kept."""
        if size.how in ("unknown", "uncompressed"):
            return size
        with self._lock:
            old = self._sizes.get(digest)
            if old is not None and old.exact and not size.exact:
                return old
            self._sizes[digest] = size
        if cache is not None:
            try:
                cache.put_meta(digest, {_META_KEY: size.to_json()})
            except OSError as exc:  # a read-only cache: the size stays known in this memo
                log.warning("cannot record the uncompressed size of %s: %s", digest, exc)
        return size

    def saw(self, digest: Digest, decompressed: int) -> None:
        """A reader decompressed ``decompressed`` bytes of the layer before it stopped (reading
        one file, say): its size is at least that, whatever an estimate says."""
        with self._lock:
            if decompressed > self._seen.get(digest, 0):
                self._seen[digest] = decompressed

    def floor(self, digest: Digest) -> int:
        """The most bytes :meth:`saw` was told of (0 when none)."""
        with self._lock:
            return self._seen.get(digest, 0)

    def clear(self) -> None:
        """Forget what was learned (the disk caches keep theirs)."""
        with self._lock:
            self._sizes.clear()
            self._seen.clear()


# --------------------------------------------------------------------------- finding out


def _decompressed(
    data: bytes, compression: str, digest: Digest, expected: Expected | None
) -> UncompressedSize:
    listing = LayerListing([data], compression, what=f"layer {digest}")
    for _ in listing:
        pass
    if expected is not None:
        expected.check(digest, listing.diff_id)
    return UncompressedSize(listing.uncompressed_size, True, "whole-blob", listing.diff_id)


def _streamed(source: Source, desc: Descriptor, expected: Expected | None) -> UncompressedSize:
    assert desc.compression is not None
    with source.open_blob(desc.digest, desc.size) as chunks:
        listing = LayerListing(chunks, desc.compression, what=f"layer {desc.digest}")
        for _ in listing:
            pass
    if expected is not None:
        expected.check(desc.digest, listing.diff_id)
    return listing_size(listing)


def _estimated(source: Source, desc: Descriptor, expected: Expected | None) -> UncompressedSize:
    if not isinstance(source, RangeSource) or any(k in desc.annotations for k in MULTI_PART):
        return UNKNOWN
    if desc.compression == "gzip":
        got = source.blob_range(desc.digest, -4, None, desc.size)
    else:
        got = source.blob_range(desc.digest, 0, ZSTD_HEADER - 1, desc.size)
    if got.whole:
        assert desc.compression is not None
        return _decompressed(got.data, desc.compression, desc.digest, expected)
    if desc.compression == "gzip":
        return from_tail(got.data, desc.size)
    return from_head(got.data, desc.size)


def _at_least(size: UncompressedSize, floor: int) -> UncompressedSize:
    """An estimate raised to what a partial read already decompressed."""
    if size.exact or floor <= (size.size or 0):
        return size
    return UncompressedSize(floor, False, "seen")


def uncompressed_size(
    source: Source,
    desc: Descriptor,
    memo: SizeMemo,
    mode: str = "estimate",
    expected: Expected | None = None,
) -> UncompressedSize:
    """One layer's uncompressed size as far as ``mode`` (one of :data:`MODES`) allows; what is
    learned is kept in ``memo`` (a session's). ``expected``: what the image's config says of
    the layer, checked whenever its diff_id is known (DiffIdMismatchError); see the module
    docstring."""
    if mode not in MODES:
        raise ValueError(f"sizes must be one of {', '.join(MODES)}; got {mode!r}")
    free = without_io(desc)
    if free.exact or desc.compression is None:
        return free
    found = memo.known(desc.digest, cache_of(source))
    if found is not None and expected is not None:
        expected.check(desc.digest, found.diff_id)
    floor = memo.floor(desc.digest)
    if found is not None and (found.exact or mode != "exact"):
        return _at_least(found, floor)
    if mode == "none":
        return _at_least(found or free, floor)
    if free.how == "annotation" and mode == "estimate":
        return _at_least(free, floor)
    try:
        if mode == "exact":
            got = _streamed(source, desc, expected)
        else:
            got = _estimated(source, desc, expected)
    except DigestMismatchError:  # the bytes are not what the documents say: not a size issue
        raise
    except OCIInspectError as exc:
        log.warning("uncompressed size of %s unknown: %s", desc.digest, exc)
        return _at_least(found or free, floor)
    if got.how == "unknown":
        return _at_least(found or free, floor)
    return _at_least(memo.remember(desc.digest, got, cache_of(source)), floor)


def uncompressed_sizes(
    source: Source,
    layers: Iterable[Descriptor],
    memo: SizeMemo,
    mode: str = "estimate",
    expected: Mapping[str, Expected] | None = None,
) -> dict[str, UncompressedSize]:
    """:func:`uncompressed_size` of each distinct layer, by digest; reads run concurrently.
    ``expected`` maps layer digests to what their images' configs say (:func:`expectations`)."""
    unique = {d.digest: d for d in layers}
    if mode not in MODES:
        raise ValueError(f"sizes must be one of {', '.join(MODES)}; got {mode!r}")
    wants = expected or {}
    # Estimates for the first MAX_ESTIMATES distinct layers only (see estimate_note).
    bounded = set(list(unique)[:MAX_ESTIMATES]) if mode == "estimate" else set(unique)

    def one(desc: Descriptor) -> UncompressedSize:
        how = mode if desc.digest in bounded else "none"
        return uncompressed_size(source, desc, memo, how, wants.get(desc.digest))

    if mode == "none" or len(unique) <= 1:
        return {k: one(d) for k, d in unique.items()}
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(unique))) as pool:
        return dict(zip(unique, pool.map(one, unique.values()), strict=True))


def total(sizes: Iterable[UncompressedSize]) -> tuple[int | None, bool]:
    """The sum of layer sizes (None if any is unknown) and whether every one is exact."""
    parts = list(sizes)
    if any(p.size is None for p in parts):
        return None, False
    found = sum(p.size or 0 for p in parts)
    if found > INT64_MAX:  # only estimates can add up to this: no such image exists
        return None, False
    return found, all(p.exact for p in parts)


def estimate_note(layers: Iterable[Descriptor], mode: str) -> str | None:
    """What a table says when :func:`uncompressed_sizes` did not estimate every layer (over
    :data:`MAX_ESTIMATES` distinct ones), or None."""
    count = len({d.digest for d in layers})
    if mode != "estimate" or count <= MAX_ESTIMATES:
        return None
    return (
        f"uncompressed sizes estimated for the first {MAX_ESTIMATES} of {count:,} distinct "
        f"layers (one request each); the rest show only what was known already "
        f"(sizes='exact' streams every layer)"
    )


def lookup(
    sizes: Mapping[str, UncompressedSize] | None, desc: Descriptor
) -> UncompressedSize:
    """``sizes[desc.digest]``, else what the descriptor alone says (:func:`without_io`)."""
    found = sizes.get(desc.digest) if sizes is not None else None
    return found if found is not None else without_io(desc)


__all__ = [
    "EXACT_HOWS",
    "INT64_MAX",
    "MAX_ESTIMATES",
    "Expected",
    "HOWS",
    "MODES",
    "UNKNOWN",
    "SizeMemo",
    "UncompressedSize",
    "cache_of",
    "estimate_gzip",
    "estimate_note",
    "expectations",
    "from_head",
    "from_tail",
    "listing_size",
    "lookup",
    "total",
    "uncompressed_size",
    "uncompressed_sizes",
    "without_io",
    "zstd_floor",
]
