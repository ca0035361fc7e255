"""A registry repository as a :class:`~ociinspect.sources.base.Source`, backed by the disk cache.

Digest-addressed content (manifests by digest, blobs) is read from the content-addressed cache
when present and written to it, verified, when fetched. A tag is never answered from the cache:
it is resolved with a HEAD (one request) once this process has seen it, and with a plain GET the
first time (which is as cheap and brings the bytes along).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..cache import BlobCache
from ..models import ManifestInfo
from ..reference import Reference
from ..registry import RegistryClient

#: tag reference -> digest seen in this process: a hint that a HEAD can confirm, never trusted.
_TAG_HINTS: dict[str, str] = {}
_HINTS_LOCK = threading.Lock()


class RegistrySource:
    """``docker://`` references: one repository of one registry."""

    def __init__(
        self, reference: Reference, client: RegistryClient, cache: BlobCache | None = None
    ) -> None:
        self.reference = reference
        self.client = client
        self.cache = cache
        self.registry = reference.registry
        self.repository = reference.repository
        self.name = f"docker://{reference}"

    def __repr__(self) -> str:
        return f"<RegistrySource {self.name}>"

    def root(self) -> ManifestInfo:
        ref = self.reference
        if ref.digest is not None:
            return self.manifest(ref.digest)
        key = str(ref)
        with _HINTS_LOCK:
            hint = _TAG_HINTS.get(key)
        if hint is not None and self.cache is not None:
            head = self.client.head_manifest(self.registry, self.repository, ref.identifier)
            cached = self.cache.get_manifest(head.digest)
            if cached is not None:
                return cached
        info = self.client.get_manifest(self.registry, self.repository, ref.identifier)
        if self.cache is not None:
            self.cache.put_manifest(info)
        with _HINTS_LOCK:
            _TAG_HINTS[key] = info.digest
        return info

    def manifest(self, digest: str, size: int | None = None) -> ManifestInfo:
        if self.cache is not None:
            cached = self.cache.get_manifest(digest)
            if cached is not None:
                return cached
        info = self.client.get_manifest(self.registry, self.repository, digest, size=size)
        if self.cache is not None:
            self.cache.put_manifest(info)
        return info

    def blob(self, digest: str, size: int | None = None, max_size: int | None = None) -> bytes:
        if self.cache is not None:
            cached = self.cache.get(digest)
            if cached is not None:
                return cached
        data = self.client.get_blob(
            self.registry, self.repository, digest, size=size, max_size=max_size
        )
        if self.cache is not None:
            self.cache.put(digest, data)
        return data

    @contextlib.contextmanager
    def open_blob(self, digest: str, size: int | None = None) -> Iterator[Iterator[bytes]]:
        """Chunks of the blob. With a cache, the blob is first streamed into it (verified,
        atomically), then read back from disk: memory stays bounded either way."""
        if self.cache is None:
            with self.client.stream_blob(
                self.registry, self.repository, digest, size=size
            ) as chunks:
                yield chunks
            return
        path = self.cache.path(digest)
        if path is None:
            with self.client.stream_blob(
                self.registry, self.repository, digest, size=size
            ) as chunks:
                path = self.cache.put_stream(digest, chunks, size=size)
        with open(path, "rb") as handle:
            yield iter(lambda: handle.read(1024 * 1024), b"")

    def tags(self) -> Iterator[str]:
        return self.client.list_tags(self.registry, self.repository)

    def referrers(self, digest: str, artifact_type: str | None = None) -> ManifestInfo:
        return self.client.referrers(self.registry, self.repository, digest, artifact_type)
