"""Fleet inventory: every repository, tag and platform image of a registry in one DataFrame.

::

    import ociinspect as oi
    from ociinspect import fleet

    fleet.catalog("registry.example")                    # the repositories (paginated _catalog)
    inv = fleet.inventory("registry.example")            # one row per repository, tag, platform
    inv[inv.created < "2023-01-01"]                      # images older than that
    inv.groupby("digest").tag.apply(list)                # tags that share a digest
    inv[inv.status == "error"][["repository", "tag", "error_type", "error"]]
    later = fleet.inventory("registry.example", since=inv)   # re-reads only tags that moved

What it costs (one :class:`~ociinspect.session.Session`, so one token per repository scope,
keep-alive connections and the disk cache): per repository one ``tags/list``; per tag one
manifest GET, or one HEAD when the disk cache holds what the tag last named (a second inventory
of an unchanged registry sends one HEAD per tag and no manifest or blob GET); per distinct
platform manifest and config one GET (shared configs and aliases are fetched once); per distinct
compressed layer one small ``Range`` read for the uncompressed estimate (``sizes="none"`` skips
it). With ``since=`` a tag whose HEAD names the digest it had in that frame is not read at all.

A repository or tag that fails gives a row whose ``status`` is ``error`` with its typed error
(``error_type``, ``error_code``, ``error``); the inventory goes on. Requests to a registry go
through a :class:`RegistryLimiter`: at most ``concurrency`` at a time, halved when the registry
answers 429 and grown back one by one after; a ``Retry-After`` pauses every thread of the
inventory (and, on Dask, every worker: :mod:`ociinspect.dask`) until it has passed, and a call
that still ends in :class:`~ociinspect.errors.RateLimitedError` is tried again after the pause,
for up to ``max_wait`` seconds. Progress: a tqdm bar over tags, with failures counted.

Columns: :func:`ociinspect.tables.fleet.inventory_frame`.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from fnmatch import fnmatchcase
from typing import Any, Protocol

import pandas as pd

from .distribution.retry import parse_retry_after
from .errors import (
    AuthError,
    InvalidDocumentError,
    NotFoundError,
    RateLimitedError,
    RegistryError,
)
from .layers.sizes import UncompressedSize, lookup, total, uncompressed_sizes
from .session import Session, session_of
from .sources.registry import RegistrySource
from .tables.fleet import (
    EMPTY,
    ERROR,
    OK,
    OPTIONAL_COLUMNS,
    catalog_frame,
    frame_records,
    inventory_frame,
)
from .tables.frame import Table, utc
from .tables.index import error_text
from .values import mediatypes as mt
from .values.digest import Digest
from .values.entries import ATTESTATION, IMAGE, IndexEntry, entries, parse_platform
from .values.models import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    ManifestInfo,
    parse_config,
    parse_document,
)
from .values.platforms import Platform
from .values.reference import parse as parse_reference

#: Requests in flight to one registry, at most, by default (threads of one inventory).
CONCURRENCY = 16
#: Seconds a call refused with 429 is tried again (after each pause) before its row says so.
MAX_WAIT = 600.0
#: Pause after a 429 that carries no usable ``Retry-After``: doubled per 429 in a row, capped.
BACKOFF, MAX_BACKOFF = 0.5, 30.0
#: Documents (manifests by digest, parsed configs) an inventory keeps in memory, at most.
MEMO_ENTRIES = 1024
BASE_NAME = "org.opencontainers.image.base.name"
BASE_DIGEST = "org.opencontainers.image.base.digest"

#: Optional fields: name -> what it costs.
OPTIONAL_FIELDS: dict[str, str] = {
    "referrers": "the OCI referrers API (or its tag schema) of each image and index: 1-2 "
    "requests each",
    "os": "the layers from the top down to the one holding /etc/os-release (each distinct "
    "image once; layers are shared through the disk cache)",
    "packages": "every layer of each distinct image, for its package databases",
}
#: Fields other issues' APIs would provide; asked for, they are an error that says so.
UNAVAILABLE_FIELDS: dict[str, str] = {}

TagSelector = str | re.Pattern[str] | Callable[[str], bool]
PlatformFilter = bool | str | Platform | Sequence[str | Platform]
Repositories = Iterable[str] | Callable[[str], bool] | None


# --------------------------------------------------------------------------- the catalog


def split_source(source: str) -> tuple[str, str]:
    """``"registry.example:5000/team"`` -> ``("registry.example:5000", "team")``: a registry
    and an optional repository prefix (a ``docker://`` or ``https://`` in front is dropped)."""
    text = source.strip()
    for scheme in ("docker://", "https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    registry, _, prefix = text.partition("/")
    if not registry:
        raise InvalidDocumentError("registry", f"expected a registry name, got {source!r}")
    return registry, prefix.strip("/")


def iter_catalog(
    registry: str, *, page_size: int | None = None, session: Session | None = None
) -> Iterator[str]:
    """The registry's repositories, page by page as they are consumed (``_catalog`` with
    ``Link``; the registry's own page size unless ``page_size``). A registry that offers no
    catalog (404, or a refusal) raises its typed error with the hint to name repositories."""
    client = session_of(session).client
    pages = client.catalog(registry, page_size)
    while True:
        try:
            name = next(pages)
        except StopIteration:
            return
        except (NotFoundError, AuthError) as exc:
            hint = (
                f"{registry} does not list its repositories to this client (_catalog); "
                "pass repositories=[...] (CLI: --repos) to name them"
            )
            raise type(exc)(
                exc.method, exc.url, exc.status, exc.errors, reason=_join(exc.reason, hint)
            ) from exc
        yield name


def catalog(
    registry: str, *, page_size: int | None = None, session: Session | None = None
) -> Table:
    """The repositories of ``registry`` as a table (columns:
    :func:`ociinspect.tables.fleet.catalog_frame`); ``registry/prefix`` keeps those under it."""
    host, prefix = split_source(registry)
    names = iter_catalog(host, page_size=page_size, session=session)
    return catalog_frame(host, (n for n in names if _under(n, prefix)))


def _under(name: str, prefix: str) -> bool:
    return not prefix or name == prefix or name.startswith(prefix + "/")


def _join(reason: str | None, hint: str) -> str:
    return f"{reason}; {hint}" if reason else hint


# --------------------------------------------------------------------------- rate limits


class Shared(Protocol):
    """What the workers of a cluster share about one registry (see :mod:`ociinspect.dask`):
    a slot per tag in flight, and the time (``time.time()``) until which all must wait."""

    def slot(self) -> contextlib.AbstractContextManager[object]: ...

    def paused_until(self) -> float: ...

    def announce(self, until: float) -> None: ...


class RegistryLimiter:
    """At most ``limit`` calls to one registry at a time; slower after a 429, paused by
    ``Retry-After``. Thread-safe; one per registry per inventory (per process on Dask).

    429 answers are seen in the session's trace, where the client records every try (also the
    ones its own retry loop absorbs), so one thread's 429 pauses every thread's next call.
    AIMD: the limit halves on a 429 (once per pause) and grows by one after ``limit`` calls
    without one, up to ``concurrency``. :meth:`call` also tries a call again that ended in
    :class:`RateLimitedError`, after the pause, until ``max_wait`` seconds have passed.
    """

    def __init__(
        self,
        session: Session,
        registry: str,
        concurrency: int = CONCURRENCY,
        *,
        max_wait: float = MAX_WAIT,
        shared: Shared | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.registry = registry
        self.concurrency = concurrency
        self.limit = float(concurrency)
        self.max_wait = max_wait
        self.shared = shared
        self.trace = session.trace
        self.origin = session.client.base_url(registry)
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._mark = self.trace.mark()
        self._active = 0
        self._calm = 0  # calls since the last 429
        self._streak = 0  # 429s in a row
        self._paused_until = 0.0
        self._checked_shared = float("-inf")
        #: 429 answers seen, pauses taken, seconds paused in total, the lowest limit reached.
        self.throttled = 0
        self.pauses = 0
        self.paused_seconds = 0.0
        self.lowest = concurrency

    def __repr__(self) -> str:
        return (
            f"<RegistryLimiter {self.registry} limit={int(self.limit)}/{self.concurrency} "
            f"active={self._active} throttled={self.throttled}>"
        )

    # -- what the registry said ----------------------------------------------------------

    def _scan(self) -> None:
        """Look at the exchanges recorded since the last look (lock held)."""
        end = self.trace.mark()
        new = self.trace.since(self._mark)[: max(0, end - self._mark)]
        self._mark = end
        for exchange in new:
            if exchange.status == 429 and exchange.url.startswith(self.origin):
                headers = {k.lower(): v for k, v in exchange.response_headers.items()}
                self._throttle(parse_retry_after(headers.get("retry-after")))

    def _throttle(self, retry_after: float | None) -> None:
        """One 429: halve the limit (once per pause) and pause everyone (lock held)."""
        now = self._clock()
        self.throttled += 1
        self._calm = 0
        if now >= self._paused_until:
            self.limit = max(1.0, self.limit / 2)
            self.lowest = min(self.lowest, int(self.limit))
            self._streak += 1
        wait = retry_after
        if wait is None:
            wait = min(MAX_BACKOFF, BACKOFF * 2 ** (self._streak - 1))
        until = now + min(wait, self.max_wait)
        if until > self._paused_until:
            self._paused_until = until
            self.pauses += 1
            self.paused_seconds += wait
            if self.shared is not None:
                self.shared.announce(time.time() + wait)

    def _shared_pause(self, now: float) -> None:
        """Take the cluster's pause into account, asking at most twice a second (lock held)."""
        if self.shared is None or now - self._checked_shared < 0.5:
            return
        self._checked_shared = now
        remote = self.shared.paused_until() - time.time()
        if remote > 0:
            self._paused_until = max(self._paused_until, now + remote)

    # -- slots ----------------------------------------------------------------------------

    def acquire(self) -> None:
        """Wait for a slot: no pause in force and fewer than ``limit`` calls in flight."""
        with self._cond:
            while True:
                self._scan()
                now = self._clock()
                self._shared_pause(now)
                if now < self._paused_until:
                    self._cond.wait(min(self._paused_until - now, 0.5))
                    continue
                if self._active < int(self.limit):
                    self._active += 1
                    return
                self._cond.wait(0.5)

    def release(self, calm: bool = True) -> None:
        """Give the slot back; a ``calm`` call (no 429 seen meanwhile) counts toward growth."""
        with self._cond:
            self._active -= 1
            seen = self.throttled
            self._scan()
            if calm and self.throttled == seen and self._clock() >= self._paused_until:
                self._calm += 1
                if self._calm >= self.limit and self.limit < self.concurrency:
                    self.limit += 1
                    self._calm = 0
                    self._streak = 0
            self._cond.notify_all()

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` in a slot; after a :class:`RateLimitedError`, again
        once the pause is over, until ``max_wait`` seconds have passed."""
        deadline = self._clock() + self.max_wait
        while True:
            self.acquire()
            calm = False
            try:
                result = function(*args, **kwargs)
                calm = True
                return result
            except RateLimitedError:
                with self._cond:
                    self._scan()
                    if self._paused_until <= self._clock():
                        self._throttle(None)
                if self._clock() >= deadline:
                    raise
            finally:
                self.release(calm)


# --------------------------------------------------------------------------- reading


def _error_fields(exc: BaseException) -> dict[str, Any]:
    code = exc.codes[0] if isinstance(exc, RegistryError) and exc.codes else None
    return {
        "status": ERROR,
        "error_type": type(exc).__name__,
        "error_code": code,
        "error": error_text(exc),
    }


def select_tags(tags: Iterable[str], selector: TagSelector) -> list[str]:
    """The tags ``selector`` keeps, sorted: ``"all"``; ``"latest"`` (the tag named so); a
    regular expression (``re.fullmatch``: ``r"1\\..*"``); or a predicate on the tag name."""
    listed = sorted(set(tags))
    if selector == "all":
        return listed
    if selector == "latest":
        return [t for t in listed if t == "latest"]
    if callable(selector) and not isinstance(selector, re.Pattern):
        return [t for t in listed if selector(t)]
    pattern = re.compile(selector) if isinstance(selector, str) else selector
    return [t for t in listed if pattern.fullmatch(t)]


def _platform_filter(platforms: PlatformFilter) -> list[Platform] | bool:
    if isinstance(platforms, bool):
        return platforms
    items = [platforms] if isinstance(platforms, (str, Platform)) else list(platforms)
    return [parse_platform(p) for p in items]


def previous_rows(since: pd.DataFrame | None) -> dict[tuple[str, str], tuple[str, list[dict]]]:
    """(repository, tag) -> (the digest the tag named, its rows) for tags read without error
    in an earlier inventory: what ``since=`` lets :func:`inventory` keep after one HEAD."""
    if since is None:
        return {}
    compute = getattr(since, "compute", None)
    frame = compute() if callable(compute) and not isinstance(since, pd.DataFrame) else since
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in frame_records(frame):
        if record.get("tag") is None or record.get("repository") is None:
            continue
        groups.setdefault((record["repository"], record["tag"]), []).append(record)
    out: dict[tuple[str, str], tuple[str, list[dict]]] = {}
    for key, rows in groups.items():
        first = rows[0]
        named = first.get("index_digest") or first.get("digest")
        if named and all(r.get("status") == OK for r in rows):
            out[key] = (str(named), rows)
    return out


class Reader:
    """Reads repositories and tags of one registry into inventory rows, through one session
    and one :class:`RegistryLimiter`. Used by :func:`inventory` and by Dask partitions."""

    def __init__(
        self,
        session: Session,
        registry: str,
        *,
        platforms: PlatformFilter = True,
        fields: Sequence[str] = (),
        since: pd.DataFrame | None = None,
        sizes: str = "estimate",
        limiter: RegistryLimiter | None = None,
        previous: Mapping[tuple[str, str], tuple[str, list[dict]]] | None = None,
    ) -> None:
        self.session = session
        self.client = session.client
        self.registry = registry
        self.platforms = _platform_filter(platforms)
        self.fields = check_fields(fields)
        #: (repository, tag) -> (digest, rows) of an earlier inventory (``since``).
        self.previous = dict(previous) if previous is not None else previous_rows(since)
        self._memo: OrderedDict[str, Any] = OrderedDict()
        self._flights: dict[str, Future[Any]] = {}
        self._memo_lock = threading.Lock()
        self.sizes = sizes
        self.limiter = limiter or RegistryLimiter(session, registry)
        self.call = self.limiter.call

    def once(self, key: str, fetch: Callable[[], Any]) -> Any:
        """``fetch()`` once for ``key`` (a digest: the same bytes in every repository, as in
        the disk cache): threads asking meanwhile wait for that one fetch, later ones get it
        from a memory of the last :data:`MEMO_ENTRIES` documents. Failures are not kept."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not owner:
            return flight.result()
        try:
            value = fetch()
        except BaseException as exc:
            with self._memo_lock:
                del self._flights[key]
            flight.set_exception(exc)
            raise
        with self._memo_lock:
            del self._flights[key]
            self._memo[key] = value
            if len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        flight.set_result(value)
        return value

    # -- repositories ----------------------------------------------------------------------

    def tags_of(self, repository: str) -> list[str] | dict[str, Any]:
        """The repository's tags, or its error row when they cannot be listed."""
        try:
            return list(self.call(lambda: list(self.client.list_tags(self.registry, repository))))
        except Exception as exc:  # a row, never an aborted inventory
            return self._base(repository, None) | _error_fields(exc)

    def empty_row(self, repository: str) -> dict[str, Any]:
        """The row of a repository that has no tag to read."""
        return self._base(repository, None) | {"status": EMPTY}

    def _base(self, repository: str, tag: str | None) -> dict[str, Any]:
        return {"registry": self.registry, "repository": repository, "tag": tag}

    # -- tags -------------------------------------------------------------------------------

    def read_tag(self, repository: str, tag: str) -> list[dict[str, Any]]:
        """The rows of one tag: one per platform image, or one error row."""
        base = self._base(repository, tag)
        try:
            source = RegistrySource(
                parse_reference(f"{self.registry}/{repository}:{tag}"), self.session
            )
            previous = self.previous.get((repository, tag))
            if previous is not None:
                head = self.call(self.client.head_manifest, self.registry, repository, tag)
                if head.digest == previous[0]:
                    return [dict(row) for row in previous[1]]
                info: ManifestInfo = head.manifest or self.call(source.manifest, head.digest)
            else:
                info = self.call(source.root)
            document = parse_document(info.raw, info.media_type, info.digest)
        except Exception as exc:  # a row, never an aborted inventory
            return [base | _error_fields(exc)]
        if isinstance(document, Index):
            return self._index_rows(base, source, document)
        return self._lone_rows(base, source, document)

    def _wanted(self, platform: Platform | None) -> bool:
        if isinstance(self.platforms, bool):
            return True
        return platform is not None and any(p.matches(platform) for p in self.platforms)

    def _index_rows(
        self, base: dict[str, Any], source: RegistrySource, index: Index
    ) -> list[dict[str, Any]]:
        found = entries(index)
        attested = Counter(e.describes for e in found if e.kind == ATTESTATION)
        head = base | {"index_digest": index.digest, "index_media_type": index.media_type}
        index_refs = self._referrers(source, index.digest)
        if self.platforms is False:
            return [head | {"status": OK, **index_refs}]
        images = [e for e in found if e.kind == IMAGE and self._wanted(e.platform)]
        loaded: list[tuple[IndexEntry, Manifest | BaseException, ImageConfig | None]] = []
        for entry in images:
            desc = entry.descriptor
            try:
                info = self.once(
                    f"manifest {desc.digest}",
                    lambda d=desc: self.call(source.manifest, d.digest, d.size),  # type: ignore[misc]
                )
                child = parse_document(info.raw, info.media_type, info.digest)
                if not isinstance(child, Manifest):
                    raise InvalidDocumentError(
                        f"entry {entry.position} of index {index.digest}",
                        "an index where the entry's media type says an image manifest",
                    )
                loaded.append((entry, child, self._config(source, child)))
            except Exception as exc:  # this platform's row says why
                loaded.append((entry, exc, None))
        sizes = self._sizes(source, [m for _, m, _ in loaded if isinstance(m, Manifest)])
        rows = []
        for entry, loaded_manifest, config in loaded:
            desc = entry.descriptor
            row = head | {
                "digest": desc.digest,
                "media_type": desc.media_type,
                "platform": entry.platform_string if entry.platform else None,
                "attestations": attested.get(desc.digest, 0),
            }
            if isinstance(loaded_manifest, BaseException):
                rows.append(row | _error_fields(loaded_manifest))
                continue
            try:
                image_refs = self._referrers(source, loaded_manifest.digest)
                contents = self._contents(source, loaded_manifest, desc)
            except Exception as exc:  # this platform's row says why
                rows.append(row | _error_fields(exc))
                continue
            rows.append(
                row
                | self._image_fields(loaded_manifest, config, sizes, desc)
                | _merge_referrers(index_refs, image_refs)
                | contents
            )
        return rows

    def _contents(
        self, source: RegistrySource, manifest: Manifest, desc: Descriptor | None
    ) -> dict[str, Any]:
        """The ``os`` and ``packages`` fields of one image (each distinct image read once)."""
        if "os" not in self.fields and "packages" not in self.fields:
            return {}
        from . import reading
        from .navigation import Image

        image = Image(source, manifest, desc, None, source.name, self.session)
        out: dict[str, Any] = {}
        if "os" in self.fields:
            found = self.once(
                f"os {manifest.digest}",
                lambda: self.call(reading.os_release, image, session=self.session),
            ).iloc[0]
            for name in ("id", "version_id", "pretty_name"):
                value = found[name]
                out[f"os_{name}"] = None if pd.isna(value) else str(value)
        if "packages" in self.fields:
            out["packages"] = len(
                self.once(
                    f"packages {manifest.digest}",
                    lambda: self.call(reading.packages, image, session=self.session),
                )
            )
        return out

    def _lone_rows(
        self, base: dict[str, Any], source: RegistrySource, manifest: Manifest
    ) -> list[dict[str, Any]]:
        row = base | {"digest": manifest.digest, "media_type": manifest.media_type}
        try:
            config = self._config(source, manifest) if self.platforms is not False else None
            platform = config.platform if config is not None else None
            if not self._wanted(platform):
                return []
            sizes = self._sizes(source, [manifest])
            refs = self._referrers(source, manifest.digest)
            contents = self._contents(source, manifest, None)
        except Exception as exc:  # the tag's row says why
            return [row | _error_fields(exc)]
        fields = self._image_fields(manifest, config, sizes, None)
        return [row | {"platform": str(platform) if platform else None, "attestations": 0}
                | fields | refs | contents]

    def _config(self, source: RegistrySource, manifest: Manifest) -> ImageConfig | None:
        desc = manifest.config
        if desc.media_type not in mt.CONFIG_TYPES:
            return None  # an artifact: its config is not an image config
        found: ImageConfig = self.once(
            f"config {desc.digest}",
            lambda: parse_config(self.call(source.blob, desc.digest, desc.size), desc.digest),
        )
        return found

    def _sizes(
        self, source: RegistrySource, manifests: Sequence[Manifest]
    ) -> dict[str, UncompressedSize]:
        layers = [d for m in manifests for d in m.layers]
        return self.call(uncompressed_sizes, source, layers, self.session.sizes, self.sizes)

    def _image_fields(
        self,
        manifest: Manifest,
        config: ImageConfig | None,
        sizes: Mapping[str, UncompressedSize],
        desc: Descriptor | None,
    ) -> dict[str, Any]:
        unpacked, exact = total(lookup(sizes, d) for d in manifest.layers)
        annotations = {**(desc.annotations if desc is not None else {}), **manifest.annotations}
        return {
            "status": OK,
            "layers": len(manifest.layers),
            "compressed_size": manifest.config.size + sum(d.size for d in manifest.layers),
            "uncompressed_size": unpacked,
            "uncompressed_exact": exact,
            "created": utc(config.created) if config is not None else None,
            "base_name": annotations.get(BASE_NAME),
            "base_digest": annotations.get(BASE_DIGEST),
            "labels": dict(config.labels) if config is not None else None,
        }

    def _referrers(self, source: RegistrySource, digest: Digest) -> dict[str, Any]:
        """``referrers`` / ``referrer_types`` of ``digest`` when that field is asked for."""
        if "referrers" not in self.fields:
            return {}
        info = self.call(self.client.referrers, self.registry, source.repository, digest)
        document = parse_document(info.raw, info.media_type, info.digest)
        manifests = document.manifests if isinstance(document, Index) else ()
        types = {d.artifact_type or d.media_type for d in manifests}
        return {"referrers": len(manifests), "referrer_types": ",".join(sorted(types)) or None}


def _merge_referrers(index: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    if not index and not image:
        return {}
    count = (index.get("referrers") or 0) + (image.get("referrers") or 0)
    types = {t for d in (index, image) for t in (d.get("referrer_types") or "").split(",") if t}
    return {"referrers": count, "referrer_types": ",".join(sorted(types)) or None}


def check_fields(fields: Sequence[str] | str | None) -> tuple[str, ...]:
    """The optional fields asked for, checked: each one of :data:`OPTIONAL_FIELDS`."""
    if fields is None:
        return ()
    names = (fields,) if isinstance(fields, str) else tuple(fields)
    for name in names:
        if name in UNAVAILABLE_FIELDS:
            raise InvalidDocumentError(f"field {name!r}", UNAVAILABLE_FIELDS[name])
        if name not in OPTIONAL_COLUMNS:
            known = ", ".join(sorted(OPTIONAL_FIELDS))
            raise InvalidDocumentError(f"field {name!r}", f"unknown; optional fields: {known}")
    return tuple(dict.fromkeys(names))


# --------------------------------------------------------------------------- progress


class _Bar:
    """A tqdm bar over tags whose total grows as tag lists arrive; failures in its postfix."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.failed = 0
        self._lock = threading.Lock()
        self._bar: Any = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=0, desc=label, unit="tag")

    def grow(self, n: int) -> None:
        if self._bar is not None and n:
            with self._lock:
                self._bar.total += n
                self._bar.refresh()

    def done(self, rows: Sequence[Mapping[str, Any]], tags: int = 1) -> None:
        failures = sum(1 for r in rows if r.get("status") == ERROR)
        with self._lock:
            self.failed += failures
            if self._bar is not None:
                if failures:
                    self._bar.set_postfix(failed=self.failed, refresh=False)
                self._bar.update(tags)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --------------------------------------------------------------------------- the inventory


def read_repositories(
    reader: Reader,
    repositories: Sequence[str],
    tags: TagSelector = "all",
    *,
    threads: int = CONCURRENCY,
    progress: bool = False,
    slot: Callable[[], contextlib.AbstractContextManager[object]] | None = None,
) -> list[dict[str, Any]]:
    """The rows of ``repositories`` in order (tags sorted, platforms in index order): tag lists
    and tags read on ``threads`` threads, each tag read as soon as its list arrives."""
    bar = _Bar(progress, f"inventory {reader.registry}")
    parts: list[list[Future[list[dict[str, Any]]] | list[dict[str, Any]]]] = [
        [] for _ in repositories
    ]

    def one_tag(repository: str, tag: str) -> list[dict[str, Any]]:
        with slot() if slot is not None else contextlib.nullcontext():
            rows = reader.read_tag(repository, tag)
        bar.done(rows)
        return rows

    try:
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            listing = {pool.submit(reader.tags_of, name): i for i, name in enumerate(repositories)}
            for future in as_completed(listing):
                i = listing[future]
                name = repositories[i]
                listed = future.result()
                if isinstance(listed, dict):
                    bar.done([listed], tags=0)
                    parts[i] = [[listed]]
                    continue
                chosen = select_tags(listed, tags)
                if not chosen:
                    parts[i] = [[reader.empty_row(name)]]
                    continue
                bar.grow(len(chosen))
                parts[i] = [pool.submit(one_tag, name, tag) for tag in chosen]
            rows: list[dict[str, Any]] = []
            for part in parts:
                for item in part:
                    rows.extend(item.result() if isinstance(item, Future) else item)
    finally:
        bar.close()
    return rows


def choose_repositories(
    registry: str, prefix: str, repositories: Repositories, session: Session
) -> list[str]:
    """The repositories an inventory reads: those named (glob patterns ``*?[`` match the
    catalog), those of the catalog a predicate keeps, or the whole catalog; under ``prefix``."""
    if repositories is not None and not callable(repositories):
        names = [repositories] if isinstance(repositories, str) else list(repositories)
        if not any(any(c in n for c in "*?[") for n in names):
            return [n for n in dict.fromkeys(names) if _under(n, prefix)]
        listed = list(iter_catalog(registry, session=session))
        chosen = [n for n in listed if any(fnmatchcase(n, p) for p in names)]
        exact = [n for n in names if not any(c in n for c in "*?[") and n not in chosen]
        return [n for n in [*chosen, *exact] if _under(n, prefix)]
    listed = [n for n in iter_catalog(registry, session=session) if _under(n, prefix)]
    return [n for n in listed if repositories(n)] if callable(repositories) else listed


def inventory(
    source: str,
    repositories: Repositories = None,
    tags: TagSelector = "all",
    platforms: PlatformFilter = True,
    fields: Sequence[str] = (),
    since: pd.DataFrame | None = None,
    *,
    sizes: str = "estimate",
    concurrency: int = CONCURRENCY,
    max_wait: float = MAX_WAIT,
    progress: bool | None = None,
    session: Session | None = None,
) -> Table:
    """One row per (repository, tag, platform image) of a registry (columns:
    :func:`ociinspect.tables.fleet.inventory_frame`).

    ``source``: a registry (``registry.example:5000``), optionally with a repository prefix
    (``registry.example/team``). ``repositories``: names (glob patterns match the catalog), a
    predicate over catalog names, or None for the whole catalog. ``tags``: ``"all"``,
    ``"latest"``, a regular expression (full match) or a predicate. ``platforms``: True (a row
    per platform image; attestation manifests are counted in ``attestations``, not rows),
    False (a row per tag, nothing below the tag read), or platforms to keep (``"linux/arm64"``).
    ``fields``: optional columns (:data:`OPTIONAL_FIELDS`). ``since``: an earlier inventory;
    a tag whose HEAD names the digest it had there keeps its rows unread. ``sizes``: ``"estimate"``
    (one small read per distinct layer) or ``"none"``. ``concurrency``: threads and requests in
    flight to the registry. ``progress``: a tqdm bar over tags (default: the session's setting).
    """
    session = session_of(session)
    registry, prefix = split_source(source)
    limiter = RegistryLimiter(session, registry, concurrency, max_wait=max_wait)
    reader = Reader(
        session, registry, platforms=platforms, fields=fields, since=since, sizes=sizes,
        limiter=limiter,
    )
    names = choose_repositories(registry, prefix, repositories, session)
    show = session.settings.progress if progress is None else progress
    rows = read_repositories(reader, names, tags, threads=concurrency, progress=show)
    frame = inventory_frame(rows, reader.fields)
    frame.attrs["throttled"] = limiter.throttled
    frame.attrs["paused_seconds"] = round(limiter.paused_seconds, 3)
    return frame


__all__ = [
    "CONCURRENCY",
    "OPTIONAL_FIELDS",
    "Reader",
    "RegistryLimiter",
    "Shared",
    "catalog",
    "check_fields",
    "choose_repositories",
    "inventory",
    "iter_catalog",
    "previous_rows",
    "read_repositories",
    "select_tags",
    "split_source",
]
