"""A registry repository as a :class:`~ociinspect.sources.base.Source`, backed by the disk cache.

Digest-addressed content (manifests by digest, blobs) is read from the content-addressed cache
when present and written to it, verified, when fetched: a second run, in this process or another
one sharing the cache directory, asks the registry nothing for it, and works without a network.

A tag is never answered from the cache. The digest it last pointed at is remembered, in memory
and in the cache directory (:meth:`~ociinspect.cache.BlobCache.put_tag`), as a hint: when there
is one, the tag is revalidated with a HEAD (one request) and the manifest the HEAD names is read
from the cache; without one, a plain GET resolves it (as cheap, and it brings the bytes along),
except where manifest GETs are counted as pulls (Docker Hub, or a registry whose answers announced
a rate limit): there a HEAD comes first, which costs no pull, and the manifest it names is read
from the cache when any tag or digest brought it there before.

Offline mode (``Session(offline=True)``, or ``OCIINSPECT_OFFLINE=1``) sends no request at all:
content addressed by digest comes from the cache, a tag is answered with the digest it last pointed
at with an :class:`OfflineWarning` (the tag may have moved since), and anything the cache does not
hold is a :class:`~ociinspect.errors.SourceError` saying so. Without offline mode a registry that
cannot be reached is an error (:class:`~ociinspect.errors.TransportError`); when the cache holds
what the tag last named, the message says that offline mode would use it.

Progress: downloads of at least 8 MiB show a bar (see :func:`ociinspect.progress.bar_for`;
``Session(progress=False)`` or ``OCIINSPECT_PROGRESS=0`` silence it);
:meth:`RegistrySource.open_blob` also takes an explicit ``progress=`` (this source
``reports_progress``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from ..cache import BlobCache
from ..distribution.protocol import api_host
from ..errors import SizeLimitError, SourceError, TransportError
from ..progress import Progress, bar_for, counted
from ..values.digest import Digest
from ..values.models import ManifestInfo
from ..values.reference import Reference

if TYPE_CHECKING:
    from ..session import Session
from .base import BlobRange

#: A registry that ignores ``Range`` sends whole blobs; larger ones are refused (not held in
#: memory) when :meth:`RegistrySource.blob_range` is asked for a few bytes.
WHOLE_BLOB_LIMIT = 64 * 1024 * 1024
#: Registries known to count manifest GETs against a pull limit (Docker Hub's usage docs).
METERED_REGISTRIES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
log = logging.getLogger("ociinspect.sources.registry")
_T = TypeVar("_T")


class OfflineWarning(UserWarning):
    """Offline mode answered a tag with the digest it pointed at when last seen."""


class RegistrySource:
    """``docker://`` references: one repository of one registry."""

    reports_progress = True

    def __init__(self, reference: Reference, session: Session) -> None:
        self.reference = reference
        self.session = session
        self.client = session.client
        self.cache: BlobCache | None = session.cache
        self.offline = session.settings.offline
        #: None: bars for large downloads; False: none (see progress.bar_for)
        self.progress: bool | None = None if session.settings.progress else False
        self.registry = reference.registry
        self.repository = reference.repository
        self.name = f"docker://{reference}"
        #: What was served without the registry's word, e.g. a tag answered offline.
        self.notes: list[str] = []

    def __repr__(self) -> str:
        mode = " offline" if self.offline else ""
        return f"<RegistrySource {self.name}{mode}>"

    # -- tags ---------------------------------------------------------------------------------

    def _hint(self, key: str) -> str | None:
        hint = self.session.tag_hint(key)
        if hint is None and self.cache is not None and self.cache is not self.session.cache:
            hint = self.cache.tag(key)
        return hint

    def _store(self, put: Callable[..., object] | None, *args: object) -> None:
        """Write verified content to the cache; a cache that cannot be written is not an error
        for the caller, who has the content already (it is said once, in the log)."""
        if put is None:
            return
        try:
            put(*args)
        except OSError as exc:
            self._cache_failed(exc)

    def _cache_failed(self, exc: OSError) -> None:
        log.warning("disk cache not writable (%s); going on without it", exc.strerror or exc)
        self.cache = None

    def _remember(self, key: str, digest: Digest) -> None:
        self.session.remember_tag(key, digest)
        if self.cache is not None:
            try:
                self.cache.put_tag(key, digest)
            except OSError as exc:  # a read-only cache still serves; the hint is only a hint
                log.warning("cannot remember %s in %s: %s", key, self.cache.directory, exc)

    def root(self) -> ManifestInfo:
        ref = self.reference
        if ref.digest is not None:
            return self.manifest(ref.digest)
        key = str(ref)
        hint = self._hint(key)
        if self.offline:
            return self._offline_tag(key, hint)
        try:
            if self.cache is not None and (hint is not None or self._metered()):
                head = self.client.head_manifest(self.registry, self.repository, ref.identifier)
                if head.manifest is not None:  # the HEAD had no digest header and fell back to GET
                    info = head.manifest
                    self._store(self.cache.put_manifest, info)
                else:
                    info = self.manifest(head.digest)  # from the cache when it holds it
            else:
                info = self.client.get_manifest(self.registry, self.repository, ref.identifier)
                self._store(self.cache.put_manifest if self.cache else None, info)
        except TransportError as exc:
            cached = self.cache.get_manifest(hint) if hint and self.cache is not None else None
            if cached is None:
                raise
            raise TransportError(
                exc.method,
                exc.url,
                exc.status,
                exc.errors,
                reason=f"{exc.reason}; the cache holds {hint}, which {key} named when last "
                "seen: Session(offline=True) or OCIINSPECT_OFFLINE=1 would use it",
            ) from exc
        self._remember(key, info.digest)
        return info

    def _metered(self) -> bool:
        """Whether this registry counts manifest GETs as pulls: Docker Hub, or a host whose
        answers announced a rate limit in this session. There a tag is resolved with a HEAD
        (free) first, so a manifest the cache holds under another name costs no pull."""
        if self.registry in METERED_REGISTRIES:
            return True
        return api_host(self.registry).lower() in self.client.metered

    def _offline_tag(self, key: str, hint: str | None) -> ManifestInfo:
        cached = self.cache.get_manifest(hint) if hint and self.cache is not None else None
        if cached is None:
            raise SourceError(
                f"offline: {key} was never resolved with this cache, so there is no digest to "
                "use (run once online, or name the image by digest)"
            )
        note = (
            f"offline: {key} not revalidated; using {hint}, the digest it named when last "
            "seen (it may have moved since)"
        )
        self.notes.append(note)
        warnings.warn(note, OfflineWarning, stacklevel=3)
        return cached

    # -- digest-addressed content ------------------------------------------------------------

    def _offline_miss(self, what: str) -> SourceError:
        where = "no disk cache" if self.cache is None else f"not in {self.cache.directory}"
        return SourceError(f"offline: {what} of {self.name} is {where}")

    def _cached(self, digest: Digest, read: Callable[[Digest], _T | None]) -> _T | None:
        """What ``read`` (a method of the cache) finds for ``digest``, or None. An entry the
        cache found damaged (and deleted) is said once: "cache entry damaged, refetched"."""
        if self.cache is None:
            return None
        found = read(digest)
        if found is None and self.cache.damaged(digest):
            then = "offline, so not refetched" if self.offline else "refetched"
            note = f"cache entry damaged, {then}: {digest} in {self.cache.directory}"
            self.notes.append(note)
            log.warning("%s", note)
        return found

    def manifest(self, digest: Digest, size: int | None = None) -> ManifestInfo:
        if self.cache is not None:
            cached = self._cached(digest, self.cache.get_manifest)
            if cached is not None:
                return cached
        if self.offline:
            raise self._offline_miss(f"manifest {digest}")
        info = self.client.get_manifest(self.registry, self.repository, digest, size=size)
        self._store(self.cache.put_manifest if self.cache else None, info)
        return info

    def blob(self, digest: Digest, size: int | None = None, max_size: int | None = None) -> bytes:
        """A blob read into memory, verified: at most ``max_size`` bytes (default: the client's
        ``max_blob_in_memory``, 64 MiB), refused by its descriptor ``size`` before the cache or
        the registry is asked, by a cached entry's size before it is read, and by the registry's
        ``Content-Length`` or bytes otherwise (:class:`~ociinspect.errors.SizeLimitError`)."""
        limit = self.client.max_blob_in_memory if max_size is None else max_size
        what = f"blob {self.repository}@{digest}"
        if size is not None and size > limit:
            raise SizeLimitError(f"{what} (by its descriptor)", limit, size)
        handle = self._cached(digest, self.cache.open) if self.cache is not None else None
        if handle is not None:
            with handle:
                held = os.fstat(handle.fileno()).st_size
                if held > limit:
                    raise SizeLimitError(f"{what} (in the disk cache)", limit, held)
                return handle.read()
        if self.offline:
            raise self._offline_miss(f"blob {digest}")
        bar = bar_for(self.progress, size, f"{self.repository}@{digest}")
        if bar is None:
            data = self.client.get_blob(
                self.registry, self.repository, digest, size=size, max_size=limit
            )
        else:
            try:
                with self.client.stream_blob(
                    self.registry, self.repository, digest, size=size, max_size=limit
                ) as chunks:
                    data = b"".join(counted(chunks, bar, size))
            finally:
                bar.close()
        self._store(self.cache.put if self.cache else None, digest, data)
        return data

    @contextlib.contextmanager
    def open_blob(
        self,
        digest: Digest,
        size: int | None = None,
        *,
        progress: Progress | None = None,
        store: bool = True,
    ) -> Iterator[Iterator[bytes]]:
        """Chunks of the blob. With a cache, the blob is first streamed into it (verified,
        atomically), then read back from disk: memory stays bounded either way. ``store=False``
        streams a blob the cache does not hold straight from the registry, without keeping it
        (the verification is then the caller's, at the end of the stream, as without a cache).

        ``progress`` (started here, not closed) sees every byte: downloaded, or read back from
        the cache when it was there already. Without it, a download of 8 MiB or more shows a
        bar of its own (see the module docstring).
        """
        label = f"{self.repository}@{digest}"
        path = self._cached(digest, self.cache.path) if self.cache is not None else None
        if path is None and self.offline:
            raise self._offline_miss(f"blob {digest}")
        own = bar_for(self.progress, size, label) if progress is None and path is None else None
        bar = progress if progress is not None else own
        try:
            if path is None and self.cache is not None and store:
                try:
                    with self.client.stream_blob(
                        self.registry, self.repository, digest, size=size
                    ) as chunks:
                        fetched = counted(chunks, bar, size) if bar is not None else chunks
                        path = self.cache.put_stream(digest, fetched, size=size)
                    bar = None  # every byte was counted on the way in
                except OSError as exc:
                    self._cache_failed(exc)
            if path is None:
                with self.client.stream_blob(
                    self.registry, self.repository, digest, size=size
                ) as chunks:
                    yield counted(chunks, bar, size) if bar is not None else chunks
                    return
            with open(path, "rb") as handle:
                chunks = iter(lambda: handle.read(1024 * 1024), b"")
                yield counted(chunks, bar, size) if bar is not None else chunks
        finally:
            if own is not None:
                own.close()

    def blob_range(
        self, digest: Digest, start: int, end: int | None = None, size: int | None = None
    ) -> BlobRange:
        """Part of a blob (:class:`~.base.RangeSource`): from the cache when it holds the blob,
        else one ``Range`` request. A registry that ignores ``Range`` sends the whole blob
        (up to :data:`WHOLE_BLOB_LIMIT`): it is verified, cached and returned whole."""
        handle = self._cached(digest, self.cache.open) if self.cache is not None else None
        if handle is not None:
            with handle:
                total = os.fstat(handle.fileno()).st_size
                offset = max(total + start, 0) if start < 0 else start
                last = total - 1 if start < 0 or end is None else min(end, total - 1)
                handle.seek(offset)
                return BlobRange(handle.read(max(last - offset + 1, 0)))
        if self.offline:
            raise self._offline_miss(f"blob {digest}")
        data, partial = self.client.get_blob_range(
            self.registry, self.repository, digest, start, end, size=size,
            max_size=WHOLE_BLOB_LIMIT,
        )
        if partial:
            return BlobRange(data)
        self._store(self.cache.put if self.cache else None, digest, data)
        return BlobRange(data, whole=True)

    # -- listings ----------------------------------------------------------------------------

    def tags(self) -> Iterator[str]:
        if self.offline:
            raise SourceError(f"offline: the tags of {self.name} are never cached")
        return self.client.list_tags(self.registry, self.repository)

    def referrers(self, digest: Digest, artifact_type: str | None = None) -> ManifestInfo:
        if self.offline:
            raise SourceError(f"offline: the referrers of {self.name} are never cached")
        return self.client.referrers(self.registry, self.repository, digest, artifact_type)
