"""The small protocol every image source implements.

A source answers four questions, each by digest except the first, and verifies every byte it
returns against the digest asked for. Everything else (indexes, platforms, configs, tables) is
derived once, in :mod:`ociinspect.navigation`, from these.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from ..models import ManifestInfo


@runtime_checkable
class Source(Protocol):
    """Where an image's documents and blobs come from (a registry, a layout, an archive)."""

    #: How a person would name what was opened, e.g. ``oci:/tmp/sample:latest``. No secrets.
    name: str

    def root(self) -> ManifestInfo:
        """The document the reference names: an index or a manifest."""
        ...

    def manifest(self, digest: str, size: int | None = None) -> ManifestInfo:
        """A manifest or index by digest, verified."""
        ...

    def blob(self, digest: str, size: int | None = None, max_size: int | None = None) -> bytes:
        """A blob (config, small layer) by digest, verified."""
        ...

    def open_blob(
        self, digest: str, size: int | None = None
    ) -> AbstractContextManager[Iterator[bytes]]:
        """A blob as a stream of chunks; exhausting the iterator verifies the digest."""
        ...

    def tags(self) -> Iterator[str]:
        """Tags the source knows for this repository (lazily, for registries)."""
        ...

    def referrers(self, digest: str, artifact_type: str | None = None) -> ManifestInfo:
        """An OCI index of the artifacts that refer to ``digest`` (empty when none)."""
        ...
