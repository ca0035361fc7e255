"""Fixtures for tests against the personalities, imported by tests/conftest.py.

``running(name)`` starts a personality once per session (all share one test CA) and stops them
at the end; ``hub``, ``ghcr``, ``quay``, ``gar``, ``ecr``, ``acr`` give one, reset before and
after the test. ``loopback_guard`` refuses (and records) any lookup of a name that is not
loopback and fails the test if one ran: with it, a test proves it never reached the real
registries (test modules use it with ``pytestmark = pytest.mark.usefixtures("loopback_guard")``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rig import SeedResult

from . import Personality, start
from .ca import CertificateAuthority, create_ca


def is_loopback_name(name: str) -> bool:
    """``localhost``, ``*.localhost``, or a loopback address (IPv6 zone and brackets allowed)."""
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse (and record) any lookup of a name that is not loopback; fail the test if one ran."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if not is_loopback_name(name):
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"personality tests: {name!r} is not loopback")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield refused
    assert refused == [], f"a test looked up non-loopback names: {refused}"


@pytest.fixture(scope="session")
def personality_ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """One test CA for every personality of the session."""
    return create_ca(tmp_path_factory.mktemp("personality-ca"))


@pytest.fixture(scope="session")
def running(
    tmp_path_factory: pytest.TempPathFactory,
    seeded_storage: SeedResult,
    personality_ca: CertificateAuthority,
) -> Iterator[Callable[[str], Personality]]:
    """``running(name)`` starts a personality once per session; all are stopped at the end."""
    started: dict[str, Personality] = {}

    def get(name: str) -> Personality:
        if name not in started:
            workdir = tmp_path_factory.mktemp(f"personality-{name}")
            started[name] = start(
                name, workdir, seed_storage=seeded_storage.storage, ca=personality_ca
            )
        return started[name]

    yield get
    for personality in started.values():
        personality.stop()


def fresh(running: Callable[[str], Personality], name: str) -> Iterator[Personality]:
    """The running personality ``name``, reset before and after."""
    personality = running(name)
    personality.reset()
    try:
        yield personality
    finally:
        personality.reset()


@pytest.fixture
def hub(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """Docker Hub, reset."""
    yield from fresh(running, "dockerhub")


@pytest.fixture
def ghcr(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """GHCR, reset."""
    yield from fresh(running, "ghcr")


@pytest.fixture
def quay(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """Quay.io, reset."""
    yield from fresh(running, "quay")


@pytest.fixture
def gar(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """Google Artifact Registry, reset."""
    yield from fresh(running, "gar")


@pytest.fixture
def ecr(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """Amazon ECR, reset."""
    yield from fresh(running, "ecr")


@pytest.fixture
def acr(running: Callable[[str], Personality]) -> Iterator[Personality]:
    """Azure Container Registry, reset."""
    yield from fresh(running, "acr")
