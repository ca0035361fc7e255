"""The small protocol every image source implements.

A source answers four questions, each by digest except the first, and verifies every byte it
returns against the digest asked for. Everything else (indexes, platforms, configs, tables) is
derived once, in :mod:`ociinspect.navigation`, from these.

Optional capabilities, checked with ``isinstance`` (a source without them still works):

- :class:`RangeSource`: ``blob_range`` reads a few bytes of a blob without the rest (a gzip
  layer's last four bytes, a zstd frame header), for cheap uncompressed-size estimates.
- ``reports_progress = True``: ``open_blob`` also takes ``progress=`` (a
  :class:`~ociinspect.progress.Progress`) and reports the bytes it fetches as they arrive,
  even when it downloads the whole blob before yielding the first chunk (a registry source
  filling its disk cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..values.digest import Digest
from ..values.models import ManifestInfo


@runtime_checkable
class Source(Protocol):
    """Where an image's documents and blobs come from (a registry, a layout, an archive)."""

    #: How a person would name what was opened, e.g. ``oci:/tmp/sample:latest``. No secrets.
    name: str

    def root(self) -> ManifestInfo:
        """The document the reference names: an index or a manifest."""
        ...

    def manifest(self, digest: Digest, size: int | None = None) -> ManifestInfo:
        """A manifest or index by digest, verified."""
        ...

    def blob(self, digest: Digest, size: int | None = None, max_size: int | None = None) -> bytes:
        """A blob (config, small layer) by digest, verified."""
        ...

    def open_blob(
        self, digest: Digest, size: int | None = None
    ) -> AbstractContextManager[Iterator[bytes]]:
        """A blob as a stream of chunks; exhausting the iterator verifies the digest."""
        ...

    def tags(self) -> Iterator[str]:
        """Tags the source knows for this repository (lazily, for registries)."""
        ...

    def referrers(self, digest: Digest, artifact_type: str | None = None) -> ManifestInfo:
        """An OCI index of the artifacts that refer to ``digest`` (empty when none)."""
        ...


@dataclass(frozen=True)
class BlobRange:
    """Bytes of a blob read by :meth:`RangeSource.blob_range`.

    ``whole`` is True when ``data`` is the entire blob, verified against its digest: a
    registry that ignores ``Range`` sends everything, and the caller should use it (compute
    exact facts) rather than waste it. Otherwise ``data`` is the range asked for, unverified
    (a part of a blob cannot be checked against the blob's digest).
    """

    data: bytes
    whole: bool = False


@runtime_checkable
class RangeSource(Protocol):
    """A source that can read part of a blob cheaply."""

    def blob_range(
        self, digest: Digest, start: int, end: int | None = None, size: int | None = None
    ) -> BlobRange:
        """Bytes ``start..end`` (inclusive, like HTTP ``Range``) of a blob; a negative
        ``start`` means the last ``-start`` bytes. ``size`` is the descriptor's, checked when
        the source can. A range past the end is cut at the end."""
        ...
