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

from ociinspect.distribution import client as ociinspect_registry

from .cdn import Cdn
from .httpd import Faults, Recorded
from .proxy import Proxy
from .registry import AccessRecord, Registry, start_registry
from .seed import SeededImage, SeedResult, seed_storage
from .tokenserver import TokenRequest, TokenServer
from .users import ALICE, ANONYMOUS, BOB, USERS

__all__ = [
    "rig_client",
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


def rig_client(**options: object) -> ociinspect_registry.RegistryClient:
    """A client for rig tests: reads no user credentials and never sleeps between retries."""
    options.setdefault("credential_lookup", None)
    options.setdefault("sleep", lambda seconds: None)
    return ociinspect_registry.RegistryClient(**options)  # type: ignore[arg-type]
