"""Fixtures of the hostile-registry suite.

Every test here runs under :func:`loopback_guard`: a name lookup for anything but a loopback
address or ``localhost`` fails at once (no DNS query, no packet leaves the machine) and is
recorded, so a test can also assert that the client never even tried to reach a host.

The names in :data:`kit.ALIASES` (under ``.test``, reserved by RFC 2606) resolve to 127.0.0.1
in-process: to the client they are ordinary remote hosts, which is what the plain-http
credential rules need, while every byte still stays on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kit import ALIASES, Lookups, make_client
from servers import FakeRegistry, Tls, tls_context

from ociinspect.cache import BlobCache
from ociinspect.distribution.client import RegistryClient
from ociinspect.testing import build


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lookups]:
    """Refuse (and record) every lookup of a host that is not loopback, for this test."""
    lookups = Lookups()
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        ok = _is_loopback(host) or name.lower() in ALIASES
        lookups.add(name, ok)
        if not ok:
            raise socket.gaierror(socket.EAI_NONAME, f"hostile tests: {host!r} is not loopback")
        return real("127.0.0.1" if name.lower() in ALIASES else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield lookups


@pytest.fixture
def client() -> Callable[..., RegistryClient]:
    """``client(**kwargs)`` builds a :func:`make_client`."""
    return make_client


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 (server context + CA file for clients)."""
    return tls_context(Path(tmp_path_factory.mktemp("tls")), ALIASES)


@pytest.fixture(scope="session")
def sample() -> build.BuiltImage:
    """A small OCI image: one gzip layer with two files, its config and manifest."""
    layer = build.layer([build.directory("etc"), build.file("etc/hello", b"hello\n" * 64)])
    return build.image([layer])


@pytest.fixture
def fake(sample: build.BuiltImage) -> Iterator[FakeRegistry]:
    """A fake registry on 127.0.0.1 serving ``sample`` as hostile/app:latest."""
    with FakeRegistry() as registry:
        registry.add_manifest(sample.manifest.data, sample.media_type)
        for blob in (sample.config, *sample.layers):
            registry.add_blob(blob.data)
        yield registry


@pytest.fixture
def cache(tmp_path: Path) -> BlobCache:
    """An empty disk cache in the test's tmp dir."""
    return BlobCache(tmp_path / "cache")
