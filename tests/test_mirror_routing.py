"""Mirrors as the ecosystem configures them, on real registries: registries.conf (mirrors in
order, fallback to the origin, mirror-by-digest-only, blocked origins), Docker's daemon.json
``registry-mirrors``, a Session's ``mirrors``, ``OCIINSPECT_MIRRORS`` and Binder's default; the
trace says which registry answered; content by digest is verified whoever serves it; the
origin's credentials never go to a mirror.

The mirror registry is a docker-registry of this module's own (an empty open one, filled by
pushing), holding ``library/alpine`` as a Docker Hub mirror would; Docker Hub itself is never
mapped, and ``loopback_guard`` fails any test that looks its hosts up.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from personalities.protocol import mirrors_from, write_registries_conf
from rig import ALICE, Registry, rig_session, seed, start_registry
from rig.push import push

import ociinspect as oi
from ociinspect.distribution import configured, routing
from ociinspect.distribution.credentials import Credentials
from ociinspect.distribution.mirrors import BlockedRegistryError, MirrorConfig
from ociinspect.errors import DigestMismatchError, SettingsError, SizeMismatchError
from ociinspect.session import Settings

pytestmark = [pytest.mark.registry, pytest.mark.usefixtures("loopback_guard")]


@pytest.fixture(scope="module")
def mirror(rig_workdir: Path, registry_open_session: Registry) -> Iterator[Registry]:
    """An open registry of this module holding ``library/alpine`` (the rig's 3-platform index),
    as a pull-through mirror of Docker Hub would."""
    registry = start_registry("open", rig_workdir / "mirror-17", None, {})
    try:
        push(registry.url, "library/alpine", registry_open_session.seeded[seed.MULTI].root)
        yield registry
    finally:
        registry.stop()


@pytest.fixture
def fresh_mirror(mirror: Registry) -> Iterator[Registry]:
    mirror.reset()
    yield mirror
    mirror.reset()


def empty_conf(tmp_path: Path) -> Path:
    path = tmp_path / "empty.conf"
    path.write_text("")
    return path


def hosts_asked(session: oi.Session) -> set[str]:
    return {e.url.split("/")[2] for e in session.trace}


# ----------------------------------------------------------------------------- settings


def test_daemon_json_mirror_answers_for_docker_hub(fresh_mirror: Registry, tmp_path: Path) -> None:
    """daemon.json ``registry-mirrors: ["http://127.0.0.1:PORT"]`` sends ``alpine`` there."""
    daemon = tmp_path / "daemon.json"
    daemon.write_text(f'{{"registry-mirrors": ["http://{fresh_mirror.host}"]}}')
    env = {"CONTAINERS_REGISTRIES_CONF": str(empty_conf(tmp_path))}
    config = configured.mirror_config(env, daemon_json=str(daemon))
    session = rig_session(mirrors=config)
    table = oi.platforms("alpine", session=session)
    assert len(table) == 6 and all(host.startswith("127.0.0.") for host in hosts_asked(session))
    assert session.trace.summary().mirrors == (fresh_mirror.host,)


def test_session_list_of_mirrors_goes_over_the_files(
    fresh_mirror: Registry, tmp_path: Path
) -> None:
    """Session(mirrors=[...]) puts Docker Hub mirrors over what registries.conf says of Docker
    Hub, keeps the rest of it, and mirrors=[] removes Docker Hub's."""
    conf = tmp_path / "registries.conf"
    conf.write_text(
        '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "127.0.0.1:9"\n'
        '[[registry]]\nlocation = "quay.io"\n[[registry.mirror]]\nlocation = "quay.mirror.test"\n'
    )
    base = Settings(mirrors=mirrors_from(conf))
    ours = base.replace(mirrors=[fresh_mirror.host])
    plan = routing.plan("docker.io", "library/alpine", "manifests/latest", ours.mirrors)
    assert [(e.registry, e.mirror) for e in plan] == [
        (fresh_mirror.host, True),
        ("docker.io", False),
    ]
    assert ours.mirrors.has_mirrors("quay.io", "x/y")
    none = base.replace(mirrors=[])
    direct = routing.plan("docker.io", "library/alpine", "blobs/x", none.mirrors)
    assert [e.registry for e in direct] == ["docker.io"]
    session = rig_session(mirrors=[fresh_mirror.host])
    assert len(oi.platforms("alpine", session=session)) == 6


def test_settings_from_env_reads_registries_conf_and_the_mirror_variable(tmp_path: Path) -> None:
    """Settings.from_env: CONTAINERS_REGISTRIES_CONF's tables, then OCIINSPECT_MIRRORS for
    Docker Hub; the settings pickle with them."""
    conf = write_registries_conf(tmp_path, "mirror.example/alpine")
    env = {"CONTAINERS_REGISTRIES_CONF": str(conf), "OCIINSPECT_MIRRORS": "a.example, b.example"}
    settings = Settings.from_env(env)
    hub = settings.mirrors.find("docker.io/library/python")
    assert hub is not None and [m.location for m in hub.mirrors] == ["a.example", "b.example"]
    alpine = settings.mirrors.find("docker.io/library/alpine")
    assert alpine is not None and [m.location for m in alpine.mirrors] == ["mirror.example/alpine"]
    assert pickle.loads(pickle.dumps(settings)) == settings


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        pytest.param({"OCIINSPECT_MIRRORS": "http://a.example/path"}, "OCIINSPECT_MIRRORS",
                     id="a mirror URL with a path"),
        pytest.param({"CONTAINERS_REGISTRIES_CONF": "BROKEN"}, "OCIINSPECT_REGISTRIES_CONF",
                     id="a registries.conf that is not TOML"),
    ],
)  # fmt: skip
def test_bad_mirror_settings_name_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str
) -> None:
    """A bad list or a broken file is a SettingsError naming what to fix."""
    if env.get("CONTAINERS_REGISTRIES_CONF") == "BROKEN":
        broken = tmp_path / "registries.conf"
        broken.write_text("[[registry]\n")
        env = {"CONTAINERS_REGISTRIES_CONF": str(broken)}
    else:
        env = {**env, "CONTAINERS_REGISTRIES_CONF": str(empty_conf(tmp_path))}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert caught.value.name == variable
    if variable == "OCIINSPECT_REGISTRIES_CONF":
        assert "registries.conf" in str(caught.value) and "=0" in str(caught.value)
        ignored = Settings.from_env({**env, "OCIINSPECT_REGISTRIES_CONF": "0"})
        assert ignored.mirrors == MirrorConfig()


# ----------------------------------------------------------------------------- Binder


def test_binder_reads_docker_hub_through_mirror_gcr_io(
    fresh_mirror: Registry, tmp_path: Path
) -> None:
    """On Binder, Docker Hub goes through mirror.gcr.io (here mapped to the module's mirror):
    ``alpine`` loads without Docker Hub, and the first cell's note says why."""
    env = {
        "BINDER_LAUNCH_HOST": "https://mybinder.org/",
        "CONTAINERS_REGISTRIES_CONF": str(empty_conf(tmp_path)),
    }
    settings = Settings.from_env(env, cache=False, progress=False, docker_config=False)
    address, _, port = fresh_mirror.host.partition(":")
    session = oi.Session(
        settings,
        resolve={"mirror.gcr.io": (address, int(port))},
        schemes={"mirror.gcr.io": "http"},
    )
    assert len(oi.platforms("alpine", session=session)) == 6
    assert session.trace.summary().mirrors == ("mirror.gcr.io",)
    note = configured.docker_hub_note(session.settings.mirrors)
    assert "mirror.gcr.io" in note and "Binder" in note
    assert "no mirror" in configured.docker_hub_note(settings.replace(mirrors=[]).mirrors)
    off = Settings.from_env({**env, "OCIINSPECT_MIRRORS": "none"})
    assert configured.docker_hub_route(off.mirrors) == ((), None)


# ----------------------------------------------------------------------------- routing


def test_mirrors_are_tried_in_order_then_the_origin(
    registry_open: Registry, fresh_mirror: Registry, tmp_path: Path
) -> None:
    """A closed port, then a mirror without the repository (404), then the origin answers; the
    trace shows each, marked with the registry they stood in for."""
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nlocation = "{registry_open.host}"\n'
        f'[[registry.mirror]]\nlocation = "127.0.0.1:9"\n'
        f'[[registry.mirror]]\nlocation = "{fresh_mirror.host}"\n'
    )
    session = rig_session(mirrors=mirrors_from(conf))
    table = oi.config(registry_open.ref(seed.SINGLE), session=session)
    assert len(table) == 1
    first = next(e for e in session.trace if "/manifests/" in e.url)
    assert first.url.startswith("http://127.0.0.1:9/") and first.status is None
    assert first.mirror_for == registry_open.host
    missed = [e for e in session.trace if fresh_mirror.host in e.url]
    assert missed and {e.status for e in missed} == {404}
    served = [e for e in session.trace if registry_open.host in e.url and e.status == 200]
    assert served and all(e.mirror_for is None for e in served)


def test_mirror_by_digest_only_resolves_tags_at_the_origin(
    registry_open: Registry, tmp_path: Path
) -> None:
    """With mirror-by-digest-only the tag is asked of the origin, everything by digest of the
    mirror (a proxy in front of the same registry)."""
    proxy = registry_open.proxy()
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nlocation = "{registry_open.host}"\nmirror-by-digest-only = true\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\n'
    )
    session = rig_session(mirrors=mirrors_from(conf))
    oi.config(registry_open.ref(seed.MULTI), session=session)
    manifests = [e for e in session.trace if "/manifests/" in e.url and e.status == 200]
    assert [e.url.split("/")[2] for e in manifests] == [registry_open.host, proxy.host]
    assert proxy.count(path="/manifests/latest") == 0


def test_blocked_origin_is_never_asked(registry_open: Registry, tmp_path: Path) -> None:
    """blocked = true: only the mirror is asked; without a mirror, a BlockedRegistryError
    naming the file says how to allow it."""
    proxy = registry_open.proxy()
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nlocation = "{registry_open.host}"\nblocked = true\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\n'
    )
    session = rig_session(mirrors=mirrors_from(conf))
    oi.config(registry_open.ref(seed.SINGLE), session=session)
    assert registry_open.host not in hosts_asked(session)
    alone = tmp_path / "alone.conf"
    alone.write_text(f'[[registry]]\nlocation = "{registry_open.host}"\nblocked = true\n')
    with pytest.raises(BlockedRegistryError, match="alone.conf"):
        oi.config(registry_open.ref(seed.SINGLE), session=rig_session(mirrors=mirrors_from(alone)))


@pytest.mark.parametrize("what", ["manifest", "blob"])
def test_content_by_digest_is_verified_whoever_serves_it(
    registry_open: Registry, tmp_path: Path, what: str
) -> None:
    """A mirror that serves other bytes for a digest (a changed manifest; a config blob
    redirected to another blob's bytes): a verification error, nothing cached."""
    proxy = registry_open.proxy()
    single = registry_open.seeded[seed.SINGLE].image()
    if what == "manifest":
        proxy.faults.tamper(lambda body: body[:-2] + b"!}", path=f"/manifests/{single.digest}")
    else:
        assert registry_open.cdn is not None
        other = single.layers[0].digest.split(":", 1)[1]
        blobs = f"{registry_open.cdn.url}/docker/registry/v2/blobs/sha256"
        elsewhere = f"{blobs}/{other[:2]}/{other}/data"
        proxy.faults.set_header("Location", elsewhere, path=f"/blobs/{single.config.digest}")
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nlocation = "{registry_open.host}"\n'
        f'[[registry.mirror]]\nlocation = "{proxy.host}"\n'
    )
    session = rig_session(tmp_path / "cache", mirrors=mirrors_from(conf))
    name = registry_open.ref("demo/single")
    with pytest.raises((DigestMismatchError, SizeMismatchError)):
        if what == "manifest":
            oi.open(f"{name}@{single.digest}", session=session)
        else:
            oi.config(f"{name}@{single.digest}", session=session)
    assert session.cache is not None
    if what == "manifest":
        assert session.cache.get_manifest(single.digest) is None
    assert session.cache.get(single.config.digest) is None


def test_credentials_are_looked_up_per_mirror_host(
    registry_open: Registry, registry_basic: Registry, tmp_path: Path
) -> None:
    """A mirror that needs a login gets the one given for its host; one given for every
    registry is the origin's and stays with the origin (the mirror refuses, the origin serves)."""
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f'[[registry]]\nlocation = "{registry_open.host}"\n'
        f'[[registry.mirror]]\nlocation = "{registry_basic.host}"\n'
    )
    alice = Credentials(ALICE.name, ALICE.password)
    own = rig_session(mirrors=mirrors_from(conf), credentials={registry_basic.host: alice})
    oi.config(registry_open.ref(seed.SINGLE), session=own)
    assert registry_open.host not in hosts_asked(own)
    registry_basic.reset()
    everywhere = rig_session(mirrors=mirrors_from(conf), credentials=alice)
    oi.config(registry_open.ref(seed.SINGLE), session=everywhere)
    # alice is a valid login there: any 200 would mean the origin's credentials were sent
    assert {r.status for r in registry_basic.requests()} == {401}
