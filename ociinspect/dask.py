"""The fleet inventory on a Dask cluster: a ``dask.dataframe.DataFrame``, one partition per
repository, with the columns and dtypes of :func:`ociinspect.fleet.inventory`.

Needs the ``dask`` extra (``pip install 'ociinspect[dask]'``: dask's DataFrame and
``distributed``) and a ``distributed.Client`` the caller made; ociinspect never starts or manages
a cluster::

    from distributed import Client, LocalCluster
    import ociinspect.dask

    client = Client(LocalCluster(n_workers=2, threads_per_worker=4))   # or any Client you have
    frame = ociinspect.dask.inventory("registry.example", client=client)
    frame.groupby("repository").compressed_size.sum().compute()
    frame.compute()              # the same rows as ociinspect.fleet.inventory(...) (index aside)

How the work is shared:

- The catalog (or the repositories named) is read by the caller; each repository is a
  partition, read on a worker. Tags of a repository are read on ``threads`` threads there.
- Each worker process has one :class:`~ociinspect.session.Session`, built from the caller's
  session's settings (a session pickles as its settings; credentials travel inside them, as the
  settings describe them, and are never printed: ``Settings`` keeps them out of its repr). It is
  kept by a ``distributed`` worker plugin, so a worker process earns one token per repository
  scope and keeps its connections; workers that share a disk share the disk cache.
- The per-registry rate limit spans the cluster: a ``distributed.Semaphore`` named after the
  registry bounds the tags in flight across every worker (``concurrency``), and a
  ``distributed.Variable`` carries the time until which a ``Retry-After`` asked everyone to wait;
  each process also keeps its own :class:`~ociinspect.fleet.RegistryLimiter`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

try:
    import dask
    import dask.dataframe as dd
    import distributed
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError as exc:  # pragma: no cover - exercised where the extra is missing
    raise ImportError(
        "ociinspect.dask needs dask's DataFrame and distributed: pip install 'ociinspect[dask]'"
    ) from exc

from .fleet import (
    CONCURRENCY,
    MAX_WAIT,
    PlatformFilter,
    Reader,
    RegistryLimiter,
    Repositories,
    TagSelector,
    check_fields,
    choose_repositories,
    previous_rows,
    read_repositories,
    split_source,
)
from .session import Session, Settings, session_of
from .tables.fleet import inventory_frame

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger("ociinspect.dask")
#: Tags of one repository read at once on a worker, by default.
THREADS = 8

class ClusterGate:
    """What the workers share about one registry (:class:`ociinspect.fleet.Shared`): a
    ``distributed.Semaphore`` of ``concurrency`` leases (one per tag in flight) and a
    ``distributed.Variable`` holding the ``time.time()`` until which all wait. Picklable:
    workers reach the same scheduler-side objects by name."""

    def __init__(self, registry: str, concurrency: int, client: Client | None = None) -> None:
        name = f"ociinspect:{registry}:{concurrency}"
        self.registry = registry
        self.semaphore = distributed.Semaphore(max_leases=concurrency, name=name)
        self.variable = distributed.Variable(f"{name}:pause", client=client)

    def start(self) -> None:
        """On the caller, before the graph runs: give the pause variable a value (0: none), so
        workers read it without waiting. A concurrent inventory's pause is announced again
        by its next 429."""
        self.variable.set(0.0)

    def bind(self) -> None:
        """Bind to this worker's scheduler connection; call in the task's own thread (Dask
        finds the worker through thread-local state the tag threads do not have)."""
        self.semaphore.register()
        _ = self.variable.client

    def slot(self) -> contextlib.AbstractContextManager[object]:
        return self.semaphore  # type: ignore[no-any-return]

    def paused_until(self) -> float:
        """The cluster's pause; 0 when none, or when the scheduler cannot say (the pause is
        advice: each process still honours what it saw itself)."""
        try:
            return float(self.variable.get(timeout=0))
        except Exception as exc:  # noqa: BLE001 - advice only; never fail a read for it
            log.debug("pause of %s unknown: %r", self.registry, exc)
            return 0.0

    def announce(self, until: float) -> None:
        try:
            if until > self.paused_until():
                self.variable.set(until)
        except Exception as exc:  # noqa: BLE001 - advice only; this process pauses anyway
            log.warning("could not tell the cluster to pause %s: %r", self.registry, exc)


@dataclass(frozen=True)
class _Spec:
    """What every partition of one inventory needs (pickled into the graph once)."""

    settings: Settings
    plugin: str
    registry: str
    tags: TagSelector
    platforms: PlatformFilter
    fields: tuple[str, ...]
    sizes: str
    concurrency: int
    threads: int
    max_wait: float
    gate: ClusterGate


class SessionPlugin(WorkerPlugin):  # type: ignore[misc]
    """A ``distributed`` worker plugin that owns the worker process's :class:`Session` (made
    from ``settings`` in :meth:`setup`) and one :class:`RegistryLimiter` per registry."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.session: Session | None = None
        self._limiters: dict[tuple[str, int], RegistryLimiter] = {}
        self._lock: threading.Lock | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__init__(state["settings"])  # type: ignore[misc]

    def setup(self, worker: Any = None) -> None:
        self._lock = threading.Lock()
        self.session = Session(self.settings)

    def teardown(self, worker: Any = None) -> None:
        if self.session is not None:
            self.session.close()

    def limiter(self, spec: _Spec) -> tuple[Session, RegistryLimiter]:
        if self.session is None or self._lock is None:
            self.setup()
        assert self.session is not None and self._lock is not None
        with self._lock:
            key = (spec.registry, spec.concurrency)
            found = self._limiters.get(key)
            if found is None:
                found = RegistryLimiter(
                    self.session, spec.registry, spec.concurrency, max_wait=spec.max_wait,
                    shared=spec.gate,
                )
                self._limiters[key] = found
            return self.session, found


def _worker_state(spec: _Spec) -> tuple[Session, RegistryLimiter]:
    """The worker process's session and limiter (from its plugin); outside a worker, fresh."""
    try:
        worker = distributed.get_worker()
        found = worker.plugins.get(spec.plugin)
    except ValueError:
        found = None
    plugin = found if isinstance(found, SessionPlugin) else SessionPlugin(spec.settings)
    state: tuple[Session, RegistryLimiter] = plugin.limiter(spec)
    return state


def read_partition(
    repository: str, previous: Mapping[tuple[str, str], tuple[str, list[dict]]], spec: _Spec
) -> pd.DataFrame:
    """One partition: the rows of ``repository`` (run on a worker)."""
    spec.gate.bind()
    session, limiter = _worker_state(spec)
    reader = Reader(
        session,
        spec.registry,
        platforms=spec.platforms,
        fields=spec.fields,
        sizes=spec.sizes,
        limiter=limiter,
        previous=previous,
    )
    rows = read_repositories(
        reader, [repository], spec.tags, threads=spec.threads, slot=spec.gate.slot
    )
    return inventory_frame(rows, spec.fields)


def _client(client: Client | None) -> Client:
    if client is not None:
        return client
    try:
        found: Client = distributed.get_client()
    except ValueError:
        raise ValueError(
            "ociinspect.dask.inventory needs a distributed.Client: make one (e.g. "
            "Client(LocalCluster(n_workers=2))) or pass client=; ociinspect starts no cluster"
        ) from None
    return found


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
    threads: int = THREADS,
    max_wait: float = MAX_WAIT,
    client: Client | None = None,
    session: Session | None = None,
) -> dd.DataFrame:
    """:func:`ociinspect.fleet.inventory` as a lazy ``dask.dataframe.DataFrame``, one partition
    per repository (in catalog order), computed on the cluster of ``client`` (default: the
    current ``distributed`` client). ``concurrency`` bounds the tags in flight to the registry
    across the whole cluster; ``threads`` the tags one partition reads at once. The repository
    list (catalog) is read here, by the caller's ``session``; its settings build each worker's
    session. ``.compute()`` has the rows and dtypes of the pandas version; its index restarts
    in each partition (``.reset_index(drop=True)`` numbers the rows as pandas does)."""
    client = _client(client)
    session = session_of(session)
    registry, prefix = split_source(source)
    chosen = check_fields(fields)
    names = choose_repositories(registry, prefix, repositories, session)
    settings = session.settings.replace(progress=False)
    plugin = f"ociinspect-session-{dask.base.tokenize(repr(settings), settings.credentials)}"
    client.register_plugin(SessionPlugin(settings), name=plugin)
    spec = _Spec(
        settings=settings,
        plugin=plugin,
        registry=registry,
        tags=tags,
        platforms=platforms,
        fields=chosen,
        sizes=sizes,
        concurrency=concurrency,
        threads=threads,
        max_wait=max_wait,
        gate=ClusterGate(registry, concurrency, client),
    )
    spec.gate.start()
    earlier = previous_rows(since)
    per_repository: list[dict[tuple[str, str], tuple[str, list[dict]]]] = [
        {} for _ in names
    ]
    position = {name: i for i, name in enumerate(names)}
    for key, value in earlier.items():
        if key[0] in position:
            per_repository[position[key[0]]][key] = value
    meta = inventory_frame([], chosen)
    if not names:
        return dd.from_pandas(meta, npartitions=1)
    # Dask would turn object columns into strings; ``labels`` holds dicts, so keep them.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(
            read_partition,
            names,
            per_repository,
            spec=spec,
            meta=meta,
            label="ociinspect-inventory",
            enforce_metadata=False,
        )


__all__ = ["THREADS", "ClusterGate", "SessionPlugin", "inventory", "read_partition"]
