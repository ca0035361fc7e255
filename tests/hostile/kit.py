"""Helpers shared by the hostile-registry tests (fixtures live in conftest.py)."""

from __future__ import annotations

import threading
from typing import Any

from ociinspect.cache import BlobCache
from ociinspect.distribution.client import RegistryClient
from ociinspect.distribution.transport import RequestsTransport
from ociinspect.session import Session, Settings

#: Names that look remote to the client but resolve to 127.0.0.1 under the loopback guard.
REMOTE_REGISTRY = "registry.hostile.test"
REMOTE_AUTH = "auth.hostile.test"
ALIASES = frozenset({REMOTE_REGISTRY, REMOTE_AUTH})


class Lookups:
    """Host names the process tried to resolve during a test, refused ones apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.allowed: list[str] = []
        self.refused: list[str] = []

    def add(self, host: str, ok: bool) -> None:
        with self._lock:
            (self.allowed if ok else self.refused).append(host)

    def tried(self, host: str) -> bool:
        """True if ``host`` was looked up, allowed or not."""
        with self._lock:
            return host in self.allowed or host in self.refused


def make_client(**kwargs: Any) -> RegistryClient:
    """A client that reads no auth files of the developer and never really sleeps."""
    kwargs.setdefault("credential_lookup", None)
    kwargs.setdefault("sleep", lambda seconds: None)
    if "session" in kwargs:  # a requests.Session of the test's: the transport over it
        kwargs["transport"] = RequestsTransport(kwargs.pop("session"))
    return RegistryClient(**kwargs)


def make_session(cache: BlobCache | None = None, **changes: Any) -> Session:
    """A session that reads no auth files or ``OCIINSPECT_*`` variables of the developer, never
    really sleeps, and keeps ``cache`` (none by default)."""
    settings = Settings(
        cache=cache is not None,
        cache_dir=str(cache.directory) if cache is not None else None,
        progress=False,
        docker_config=False,
    ).replace(**changes)
    session = Session(settings, sleep=lambda seconds: None)
    session.cache = cache
    return session


def cached_files(cache: BlobCache) -> list[str]:
    """Every file under the cache directory (entries, metadata and temporary files)."""
    root = cache.directory
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
