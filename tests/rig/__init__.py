"""The real-registry test rig: docker-registry in three auth modes, a token server, a CDN on
127.0.0.2 for blob redirects, misbehaving proxies, and images seeded with ociinspect.testing.build.

Fixtures live in tests/conftest.py; the pieces are importable as ``rig`` (tests/ is on
sys.path for pytest's default import mode)::

    from rig import seed, users

    def test_pull(registry_token):
        ...

Modules: :mod:`~rig.registry` (processes, access log), :mod:`~rig.tokenserver`,
:mod:`~rig.cdn`, :mod:`~rig.proxy`, :mod:`~rig.httpd` (server base, fault rules),
:mod:`~rig.seed` (catalog and skopeo), :mod:`~rig.users` (users and policy),
:mod:`~rig.env` (loopback-only environments).
"""

import os
import weakref
from typing import Any

from ociinspect.cache import BlobCache
from ociinspect.distribution import client as ociinspect_registry
from ociinspect.distribution.transport import RequestsTransport, Transport
from ociinspect.session import Session, Settings

from .cdn import Cdn
from .httpd import Faults, Recorded
from .proxy import Proxy
from .registry import AccessRecord, Registry, start_registry
from .seed import SeededImage, SeedResult, seed_storage
from .tokenserver import TokenRequest, TokenServer
from .users import ALICE, ANONYMOUS, BOB, USERS

__all__ = [
    "rig_client",
    "rig_session",
    "session_for",
    "ALICE",
    "ANONYMOUS",
    "BOB",
    "USERS",
    "AccessRecord",
    "Cdn",
    "Faults",
    "Proxy",
    "Recorded",
    "Registry",
    "SeedResult",
    "SeededImage",
    "TokenRequest",
    "TokenServer",
    "seed_storage",
    "start_registry",
]


def rig_session(
    cache: BlobCache | str | os.PathLike[str] | None = None,
    *,
    transport: Transport | None = None,
    **changes: Any,
) -> Session:
    """A session for tests: reads no user credentials and no ``OCIINSPECT_*`` variable, shows
    no progress bar, never sleeps between retries; a disk cache only when ``cache`` is one (or
    names its directory). ``changes`` are settings (``offline=True``, ``credentials=...``)."""
    given = cache if isinstance(cache, BlobCache) else None
    directory = str(given.directory if given else cache) if cache is not None else None
    settings = Settings(
        cache=cache is not None, cache_dir=directory, progress=False, docker_config=False
    ).replace(**changes)
    session = Session(settings, transport=transport, sleep=lambda seconds: None)
    if given is not None:
        session.cache = given
    return session


_SESSIONS: weakref.WeakKeyDictionary[BlobCache, dict[str, Session]] = (
    weakref.WeakKeyDictionary()
)


def session_for(cache: BlobCache | None, **changes: Any) -> Session:
    """The test's session over ``cache`` (one per cache and settings, so calls of one test share
    what they learn, as calls in one process do); a new one each time for ``cache=None``."""
    if cache is None:
        return rig_session(**changes)
    key = repr(sorted(changes.items()))
    per_cache = _SESSIONS.setdefault(cache, {})
    if key not in per_cache:
        per_cache[key] = rig_session(cache, **changes)
    return per_cache[key]


def rig_client(**options: object) -> ociinspect_registry.RegistryClient:
    """A client for rig tests: reads no user credentials and never sleeps between retries."""
    options.setdefault("credential_lookup", None)
    options.setdefault("sleep", lambda seconds: None)
    if "session" in options:  # a requests.Session of the test's: the transport over it
        options["transport"] = RequestsTransport(options.pop("session"))  # type: ignore[arg-type]
    return ociinspect_registry.RegistryClient(**options)  # type: ignore[arg-type]
