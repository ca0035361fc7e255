"""ociinspect.session: Settings from the environment, sessions that share nothing, pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from rig import ALICE, BOB, Registry, rig_session, seed

import ociinspect as oi
from ociinspect.cache import DEFAULT_MAX_BYTES
from ociinspect.distribution.credentials import Credentials
from ociinspect.errors import SettingsError
from ociinspect.session import Session, Settings, default_cache_dir

# -- Settings.from_env: the one place that reads the environment ---------------------------------

DIRS = [
    ("linux", {"OCIINSPECT_CACHE_DIR": "{tmp}/explicit"}, "{tmp}/explicit"),
    ("win32", {"OCIINSPECT_CACHE_DIR": "{tmp}/explicit"}, "{tmp}/explicit"),
    ("linux", {"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/xdg/ociinspect"),
    ("linux", {"XDG_CACHE_HOME": "relative/xdg"}, "{tmp}/home/.cache/ociinspect"),
    ("linux", {}, "{tmp}/home/.cache/ociinspect"),
    ("darwin", {"XDG_CACHE_HOME": "{tmp}/xdg"}, "{tmp}/home/Library/Caches/ociinspect"),
    ("win32", {"LOCALAPPDATA": "{tmp}/local"}, "{tmp}/local/ociinspect/Cache"),
]


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    DIRS,
    ids=[
        "OCIINSPECT_CACHE_DIR wins on Linux",
        "OCIINSPECT_CACHE_DIR wins on Windows",
        "Linux honours an absolute XDG_CACHE_HOME",
        "Linux ignores a relative XDG_CACHE_HOME",
        "Linux falls back to ~/.cache",
        "macOS uses ~/Library/Caches",
        "Windows uses LOCALAPPDATA/ociinspect/Cache",
    ],
)
def test_cache_directory_follows_the_platform_and_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, platform: str, env: dict[str, str],
    expected: str,
) -> None:
    """default_cache_dir(env) and Settings.from_env(env) pick the documented directory."""
    given = {"HOME": str(tmp_path / "home")}
    given.update({name: value.format(tmp=tmp_path) for name, value in env.items()})
    monkeypatch.setattr(sys, "platform", platform)
    assert default_cache_dir(given) == Path(expected.format(tmp=tmp_path))
    assert Settings.from_env(given).cache_dir == expected.format(tmp=tmp_path)


FLAGS = [
    ("OCIINSPECT_CACHE", "cache", True),
    ("OCIINSPECT_OFFLINE", "offline", False),
    ("OCIINSPECT_PROGRESS", "progress", True),
    ("OCIINSPECT_DEBUG", "debug", False),
]


@pytest.mark.parametrize(("variable", "field", "default"), FLAGS, ids=[f[0] for f in FLAGS])
@pytest.mark.parametrize(
    ("text", "value"),
    [("1", True), ("on", True), ("TRUE", True), (" yes ", True), ("0", False), ("off", False),
     ("False", False), ("no", False), ("", None)],
    ids=["1", "on", "TRUE", "yes", "0", "off", "False", "no", "empty means default"],
)
def test_every_flag_is_parsed_one_way(
    variable: str, field: str, default: bool, text: str, value: bool | None
) -> None:
    """Every on/off variable takes the same words, and empty means the default."""
    got = getattr(Settings.from_env({variable: text}), field)
    assert got == (default if value is None else value)


@pytest.mark.parametrize("variable", [f[0] for f in FLAGS])
def test_an_unreadable_flag_is_a_settings_error(variable: str) -> None:
    """A value that is neither on nor off is a SettingsError naming the variable and value."""
    with pytest.raises(SettingsError, match=rf"{variable} = 'maybe': use 1/on/true/yes"):
        Settings.from_env({variable: "maybe"})


def test_cache_bound_comes_from_the_environment() -> None:
    """OCIINSPECT_CACHE_MAX_BYTES takes sizes with units; a bad one names the variable."""
    assert Settings.from_env({}).cache_max_bytes == DEFAULT_MAX_BYTES
    assert Settings.from_env({"OCIINSPECT_CACHE_MAX_BYTES": "500M"}).cache_max_bytes == 500 << 20
    with pytest.raises(SettingsError, match="OCIINSPECT_CACHE_MAX_BYTES = 'lots'"):
        Settings.from_env({"OCIINSPECT_CACHE_MAX_BYTES": "lots"})


def test_a_disabled_cache_gives_a_session_without_one(tmp_path: Path) -> None:
    """OCIINSPECT_CACHE=off: the session keeps no disk cache; on: one in OCIINSPECT_CACHE_DIR."""
    assert Session(Settings.from_env({"OCIINSPECT_CACHE": "off"})).cache is None
    env = {"OCIINSPECT_CACHE_DIR": str(tmp_path / "c")}
    on = Session(Settings.from_env(env))
    assert on.cache is not None and on.cache.directory == tmp_path / "c"


def test_settings_keep_the_credential_locations() -> None:
    """The variables credential lookups read are kept, so a rebuilt session finds the same files."""
    env = {"HOME": "/h", "DOCKER_CONFIG": "/d", "UNRELATED": "x"}
    assert dict(Settings.from_env(env).config_env) == {"HOME": "/h", "DOCKER_CONFIG": "/d"}


def test_unknown_settings_are_refused() -> None:
    """Session(colour=1) is a SettingsError that lists the settings there are."""
    with pytest.raises(SettingsError, match="colour: not a setting"):
        Session(Settings(), colour=1)


def test_no_secret_in_settings_or_session_reprs() -> None:
    """Credentials given to a session appear in no repr of its settings or itself."""
    secret = "hunter2-secret"
    s = Session(Settings(credentials={"r.example": Credentials("u", secret)}))
    assert secret not in repr(s.settings) and secret not in repr(s) and secret not in str(s)


# -- sessions share nothing ---------------------------------------------------------------------


def test_two_sessions_keep_separate_traces_and_memories() -> None:
    """Opening the sample in one session leaves another's trace, sizes and hints untouched."""
    one, two = rig_session(), rig_session()
    oi.layers(oi.SAMPLE, session=one)
    assert len(one.sizes) > 0 and len(two.sizes) == 0
    assert one.trace is not two.trace and one.tokens is not two.tokens


@pytest.mark.registry
def test_two_sessions_in_threads_use_their_own_credentials(
    registry_token: Registry, registry_basic: Registry
) -> None:
    """Alice on the token registry and Bob on the htpasswd registry, in parallel threads: each
    session holds only its own tokens and its own exchanges."""
    alice = rig_session(
        credentials={registry_token.host: Credentials(ALICE.name, ALICE.password)}
    )
    bob = rig_session(credentials={registry_basic.host: Credentials(BOB.name, BOB.password)})
    results: dict[str, str] = {}

    def run(name: str, session: Session, registry: Registry) -> None:
        for _ in range(3):
            results[name] = oi.open(registry.ref(seed.MULTI), session=session).digest

    threads = [
        threading.Thread(target=run, args=("alice", alice, registry_token)),
        threading.Thread(target=run, args=("bob", bob, registry_basic)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["alice"] == results["bob"] == registry_token.seeded[seed.MULTI].digest
    assert len(alice.tokens) == 1 and len(bob.tokens) == 0  # Basic needs no token
    hosts_a = {e.url.split("/")[2] for e in alice.trace}
    hosts_b = {e.url.split("/")[2] for e in bob.trace}
    assert registry_basic.host not in hosts_a and registry_token.host not in hosts_b
    assert registry_token.token_server is not None
    assert registry_token.token_server.count() == 1


# -- pickling: a session is rebuilt from its settings ----------------------------------------------


def test_a_pickled_session_is_a_fresh_session_with_the_same_settings(tmp_path: Path) -> None:
    """pickle gives a working session configured the same way, with an empty memory."""
    s = rig_session(tmp_path / "cache", offline=True)
    oi.layers(oi.SAMPLE, session=s)
    copy = pickle.loads(pickle.dumps(s))
    assert copy.settings == s.settings and copy is not s
    assert len(copy.sizes) == 0 and copy.cache is not None
    assert copy.cache.directory == tmp_path / "cache"


@pytest.mark.registry
def test_a_session_pickled_into_a_subprocess_fetches_there(
    registry_basic: Registry, tmp_path: Path
) -> None:
    """A session with credentials, pickled into another process, fetches a manifest there."""
    session = rig_session(
        credentials={registry_basic.host: Credentials(ALICE.name, ALICE.password)}
    )
    blob = tmp_path / "session.pickle"
    blob.write_bytes(pickle.dumps(session))
    code = (
        "import pickle, sys, ociinspect as oi\n"
        f"s = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
        "print(oi.open(sys.argv[1], session=s).digest)\n"
    )
    ref = registry_basic.ref(seed.MULTI)
    done = subprocess.run(
        [sys.executable, "-c", code, ref], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == registry_basic.seeded[seed.MULTI].digest
    assert ALICE.password not in done.stdout + done.stderr
