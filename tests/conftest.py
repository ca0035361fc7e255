"""Shared fixtures. The registry rig (tests/rig/) starts lazily, once per session and mode.

``registry_open``, ``registry_basic`` and ``registry_token`` give a :class:`rig.Registry`:
the registry process, its CDN on 127.0.0.2 and (token mode) its token server live for the
whole session; each test gets them reset (records and faults cleared, proxies stopped, the
access log marked). The seeded content is shared: push to repositories of your own
(``scratch/<test name>``) and never delete seeded ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from personalities.fixtures import (  # noqa: F401 -- fixtures for every test module
    acr,
    ecr,
    gar,
    ghcr,
    hub,
    loopback_guard,
    personality_ca,
    quay,
    running,
)
from realimages import DebianImage, EstargzImage, RealImages, RpmImage
from rig import ALICE, Registry, SeedResult, env, seed_storage, start_registry
from rig.fleet import FleetSeed, seed_fleet
from rig.registry import Mode

_TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tests never touch the user's cache: the default disk cache lives in a session tmp dir."""
    directory = tmp_path_factory.mktemp("ociinspect-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OCIINSPECT_CACHE_DIR", str(directory))
        patch.setenv("OCIINSPECT_PROGRESS", "0")
        yield directory


@pytest.fixture(scope="session")
def rig_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session temp directory for registry storage, logs and skopeo's HOME."""
    return tmp_path_factory.mktemp("rig")


@pytest.fixture(scope="session")
def loopback_only() -> Iterator[None]:
    """If proxy variables are set, exempt loopback (127/8, ::1, localhost) for the session."""
    with pytest.MonkeyPatch.context() as patch:
        if env.proxies_configured():
            patch.setenv("NO_PROXY", env.LOOPBACK_NO_PROXY)
            patch.setenv("no_proxy", env.LOOPBACK_NO_PROXY)
        yield


@pytest.fixture(scope="session")
def seeded_storage(rig_workdir: Path, loopback_only: None) -> SeedResult:
    """The seed images pushed once, by skopeo, into a storage directory registries copy."""
    result = seed_storage(rig_workdir / "seed")
    _TIMINGS["seed (build + skopeo push)"] = result.seconds
    return result


def _run_registry(mode: Mode, rig_workdir: Path, seeded: SeedResult) -> Iterator[Registry]:
    registry = start_registry(mode, rig_workdir / mode, seeded.storage, seeded.seeded)
    _TIMINGS[f"registry_{mode} startup"] = registry.startup_seconds
    try:
        yield registry
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def registry_open_session(rig_workdir: Path, seeded_storage: SeedResult) -> Iterator[Registry]:
    yield from _run_registry("open", rig_workdir, seeded_storage)


@pytest.fixture(scope="session")
def registry_basic_session(rig_workdir: Path, seeded_storage: SeedResult) -> Iterator[Registry]:
    yield from _run_registry("basic", rig_workdir, seeded_storage)


@pytest.fixture(scope="session")
def registry_token_session(rig_workdir: Path, seeded_storage: SeedResult) -> Iterator[Registry]:
    yield from _run_registry("token", rig_workdir, seeded_storage)


def _fresh(registry: Registry) -> Iterator[Registry]:
    registry.reset()
    try:
        yield registry
    finally:
        registry.reset()


@pytest.fixture
def registry_open(registry_open_session: Registry) -> Iterator[Registry]:
    """A registry without auth; blob downloads redirect to the CDN on 127.0.0.2."""
    yield from _fresh(registry_open_session)


@pytest.fixture
def registry_basic(registry_basic_session: Registry) -> Iterator[Registry]:
    """A registry with htpasswd Basic auth (users in rig.users)."""
    yield from _fresh(registry_basic_session)


@pytest.fixture
def registry_token(registry_token_session: Registry) -> Iterator[Registry]:
    """A registry with Bearer token auth against ``registry.token_server``."""
    yield from _fresh(registry_token_session)


@pytest.fixture(scope="session")
def real_images(tmp_path_factory: pytest.TempPathFactory) -> RealImages:
    """Images built by real tools (umoci, skopeo, dpkg-deb of real .debs), each built on first
    use and kept for the session (see tests/realimages)."""
    return RealImages(tmp_path_factory.mktemp("realimages"))


@pytest.fixture(scope="session")
def debian_image(real_images: RealImages) -> DebianImage:
    """Three layers of real Debian packages: hardlinks, a deleted data-carrying name, an opaque
    directory, symlinks (absolute, relative, a loop), a type change; with umoci's unpack."""
    return real_images.debian()


@pytest.fixture(scope="session")
def estargz_image(real_images: RealImages) -> EstargzImage:
    """The debian image plus a one-big-file layer, converted to eStargz by ctr-remote in a
    private containerd (64 KiB chunks); tag ``gzip`` keeps the image before conversion."""
    return real_images.estargz()


@pytest.fixture(scope="session")
def rpm_image(real_images: RealImages) -> RpmImage:
    """Packages installed by Debian's real rpm 4.18 in two layers, the SQLite rpmdb where
    Fedora keeps it (/var/lib/rpm a symlink), Fedora 42's os-release; tag rpm-bdb keeps only a
    Berkeley DB Packages."""
    return real_images.rpm()


@pytest.fixture(scope="session")
def fleet_registry(
    rig_workdir: Path, loopback_only: None
) -> Iterator[tuple[Registry, FleetSeed, int]]:
    """A token-mode registry of its own holding the fleet (300+ repositories, ~1,500 tags,
    broken cases), seeded once per session as alice through the registry's API
    (rig/fleet.py); the third item counts the access-log lines the seeding made."""
    registry = start_registry("token", rig_workdir / "fleet", None, {})
    try:
        seeded = seed_fleet(
            registry.url, auth=(ALICE.name, ALICE.password), storage_dir=registry.storage_dir
        )
        _TIMINGS["fleet seed"] = seeded.seconds
        yield registry, seeded, registry.count()
    finally:
        registry.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line with the rig's startup times, when the rig ran."""
    if _TIMINGS:
        parts = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in _TIMINGS.items())
        terminalreporter.write_line(f"rig timings: {parts}")
