"""ociinspect.distribution.credentials: Docker config.json, containers auth.json and credential
helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from ociinspect.distribution.credentials import (
    DOCKER_HUB_SERVER,
    CredentialHelperError,
    Credentials,
    HelperAnswers,
    auth_files,
    lookup,
)
from ociinspect.errors import InvalidDocumentError

SECRET = "s3cr3t-pw"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose every credentials location lives under tmp_path."""
    home = tmp_path / "home"
    (tmp_path / "bin").mkdir()
    (tmp_path / "run").mkdir()
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
    }


def write(path: str | Path, doc: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def docker_config(env: dict[str, str], doc: Any) -> Path:
    return write(Path(env["HOME"], ".docker", "config.json"), doc)


HELPER = r"""#!/bin/sh
[ "$1" = get ] || exit 3
read -r server || true
printf '%s\n' "$server" >> "{log}"
answer() {{ printf '{{"ServerURL":"%s","Username":"%s","Secret":"%s"}}' "$server" "$1" "$2"; }}
case "$server" in
  https://index.docker.io/v1/) answer hubuser hub-s3cr3t ;;
  reg.example) answer alice s3cr3t-pw ;;
  tokens.example) answer '<token>' id-s3cr3t ;;
  empty.example) answer '' '' ;;
  colon.example) answer a:b s3cr3t-pw ;;
  broken.example) echo "keychain is locked" >&2; exit 1 ;;
  garbage.example) echo "Secret: s3cr3t-pw but not JSON" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"""


def install_helper(tmp_path: Path, name: str = "test") -> Path:
    """Write docker-credential-<name> into tmp_path/bin; return the log of servers it was asked."""
    log = tmp_path / f"{name}.log"
    log.write_text("")
    exe = tmp_path / "bin" / f"docker-credential-{name}"
    exe.write_text(HELPER.format(log=log))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return log


def asked(log: Path) -> list[str]:
    return log.read_text().splitlines()


def summary(creds: Credentials | None) -> tuple[str, str | None, str | None] | None:
    return None if creds is None else (creds.username, creds.password, creds.identity_token)


# --------------------------------------------------------------------------- auths entries


@pytest.mark.parametrize(
    ("auths", "registry", "expected"),
    [
        pytest.param(
            {"reg.example": {"auth": b64("alice:" + SECRET)}},
            "reg.example",
            ("alice", SECRET, None),
            id="base64 auth for a host",
        ),
        pytest.param(
            {"reg.example": {"username": "bob", "password": SECRET}},
            "reg.example",
            ("bob", SECRET, None),
            id="username and password fields",
        ),
        pytest.param(
            {"reg.example": {"auth": b64("alice:pa:ss")}},
            "reg.example",
            ("alice", "pa:ss", None),
            id="a password may contain a colon",
        ),
        pytest.param(
            {"reg.example": {"auth": b64("alice:pw\x00\x00")}},
            "reg.example",
            ("alice", "pw", None),
            id="trailing NULs of a password are trimmed as Docker does",
        ),
        pytest.param(
            {DOCKER_HUB_SERVER: {"auth": b64("hub:" + SECRET)}},
            "docker.io",
            ("hub", SECRET, None),
            id="the Hub URL key serves docker.io",
        ),
        pytest.param(
            {DOCKER_HUB_SERVER: {"auth": b64("hub:" + SECRET)}},
            "registry-1.docker.io",
            ("hub", SECRET, None),
            id="the Hub URL key serves registry-1.docker.io",
        ),
        pytest.param(
            {DOCKER_HUB_SERVER: {"auth": b64("hub:" + SECRET)}},
            "index.docker.io",
            ("hub", SECRET, None),
            id="the Hub URL key serves index.docker.io",
        ),
        pytest.param(
            {"http://localhost:5000": {"auth": b64("l:" + SECRET)}},
            "localhost:5000",
            ("l", SECRET, None),
            id="an http URL key matches host and port",
        ),
        pytest.param(
            {"https://reg.example/v1/": {"auth": b64("u:" + SECRET)}},
            "reg.example",
            ("u", SECRET, None),
            id="an https URL key with a path matches the host",
        ),
        pytest.param(
            {"localhost:5000": {"auth": b64("l:" + SECRET)}},
            "localhost:5001",
            None,
            id="another port does not match",
        ),
        pytest.param(
            {"Reg.Example": {"auth": b64("u:" + SECRET)}},
            "reg.example",
            ("u", SECRET, None),
            id="host names match case-insensitively",
        ),
        pytest.param(
            {"[::1]:5000": {"auth": b64("v6:" + SECRET)}},
            "[::1]:5000",
            ("v6", SECRET, None),
            id="an IPv6 host with port",
        ),
        pytest.param(
            {"reg.example": {"identitytoken": "id-" + SECRET}},
            "reg.example",
            ("", None, "id-" + SECRET),
            id="an identity token alone",
        ),
        pytest.param(
            {"reg.example": {"auth": b64("u:p"), "identitytoken": "tok"}},
            "reg.example",
            ("u", "p", "tok"),
            id="auth and an identity token together",
        ),
        pytest.param(
            {"reg.example": {}}, "reg.example", None, id="an empty entry is no credentials"
        ),
        pytest.param(
            {"other.example": {"auth": b64("u:p")}},
            "reg.example",
            None,
            id="no entry for the registry",
        ),
    ],
)
def test_docker_config_auths(
    env: dict[str, str],
    auths: dict[str, Any],
    registry: str,
    expected: tuple[str, str | None, str | None] | None,
) -> None:
    """auths entries of ~/.docker/config.json are found and decoded as Docker does."""
    docker_config(env, {"auths": auths})
    assert summary(lookup(registry, env=env)) == expected


@pytest.mark.parametrize(
    ("auths", "repository", "user"),
    [
        pytest.param(
            {
                "quay.example": {"auth": b64("reg:p")},
                "quay.example/org": {"auth": b64("org:p")},
                "quay.example/org/app": {"auth": b64("app:p")},
            },
            "org/app",
            "app",
            id="the repository key beats namespace and registry keys",
        ),
        pytest.param(
            {"quay.example": {"auth": b64("reg:p")}, "quay.example/org": {"auth": b64("org:p")}},
            "org/other",
            "org",
            id="a namespace key covers its repositories",
        ),
        pytest.param(
            {"quay.example": {"auth": b64("reg:p")}, "quay.example/org": {"auth": b64("org:p")}},
            "organisation/app",
            "reg",
            id="a namespace key does not cover a longer name",
        ),
        pytest.param(
            {"quay.example/org": {"auth": b64("org:p")}},
            None,
            None,
            id="a namespace key does not serve a registry-wide lookup",
        ),
        pytest.param(
            {
                "https://quay.example/v1/": {"auth": b64("url:p")},
                "quay.example": {"auth": b64("reg:p")},
            },
            "org/app",
            "url",
            id="at equal specificity the first key in the file wins",
        ),
    ],
)
def test_repository_scoped_keys(
    env: dict[str, str], auths: dict[str, Any], repository: str | None, user: str | None
) -> None:
    """auth.json host/namespace keys: the most specific key covering the repository wins."""
    write(Path(env["XDG_RUNTIME_DIR"], "containers", "auth.json"), {"auths": auths})
    creds = lookup("quay.example", repository, env=env)
    assert (creds.username if creds else None) == user


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            '{"auths": {"reg.example": {"auth": "' + b64("u:" + SECRET) + '"',
            "line 1",
            id="truncated JSON",
        ),
        pytest.param(["reg.example"], "top level is not an object", id="a JSON list"),
        pytest.param({"auths": ["reg.example"]}, "'auths' is not an object", id="auths is a list"),
        pytest.param(
            {"auths": {"reg.example": "u:" + SECRET}}, "is not an object", id="an entry is a string"
        ),
        pytest.param(
            {"auths": {"reg.example": {"auth": SECRET + "!!"}}},
            "auth is not base64",
            id="auth is not base64",
        ),
        pytest.param(
            {"auths": {"reg.example": {"auth": b64(SECRET)}}},
            "auth is not user:password",
            id="auth has no colon",
        ),
        pytest.param(
            {"auths": {"reg.example": {"username": 1, "password": SECRET}}},
            "not strings",
            id="a username that is not a string",
        ),
        pytest.param(
            {"credsStore": {"name": SECRET}},
            "helper name is not a string",
            id="credsStore not a string",
        ),
    ],
)
def test_broken_files_raise_without_secrets(env: dict[str, str], content: Any, reason: str) -> None:
    """A malformed file is an InvalidDocumentError naming the file, never quoting a secret."""
    path = docker_config(env, content)
    with pytest.raises(InvalidDocumentError) as info:
        lookup("reg.example", env=env)
    message = str(info.value)
    assert reason in message and str(path) in message
    assert SECRET not in message and b64("u:" + SECRET) not in message


# --------------------------------------------------------------------------- precedence


def test_auth_files_order(env: dict[str, str], tmp_path: Path) -> None:
    """Without REGISTRY_AUTH_FILE: runtime auth.json, config auth.json, then Docker's config."""
    home = Path(env["HOME"])
    assert auth_files(env) == [
        (tmp_path / "run" / "containers" / "auth.json", False),
        (home / ".config" / "containers" / "auth.json", False),
        (home / ".docker" / "config.json", True),
    ]
    env2 = {**env, "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "DOCKER_CONFIG": str(tmp_path / "dc")}
    assert [p for p, _ in auth_files(env2)][1:] == [
        tmp_path / "cfg" / "containers" / "auth.json",
        tmp_path / "dc" / "config.json",
    ]


def test_runtime_dir_falls_back_to_run_containers(env: dict[str, str]) -> None:
    """Without XDG_RUNTIME_DIR the runtime auth.json is /run/containers/<uid>/auth.json."""
    del env["XDG_RUNTIME_DIR"]
    assert auth_files(env)[0] == (Path("/run/containers", str(os.getuid()), "auth.json"), False)


@pytest.mark.parametrize(
    ("files", "winner"),
    [
        pytest.param(
            {"run": True, "config": True, "docker": True},
            "run",
            id="the runtime auth.json comes first",
        ),
        pytest.param(
            {"config": True, "docker": True},
            "config",
            id="the XDG config auth.json beats Docker's config",
        ),
        pytest.param({"docker": True}, "docker", id="Docker's config.json is the last resort"),
        pytest.param(
            {"run": False, "docker": True},
            "docker",
            id="an empty entry in an earlier file falls through",
        ),
    ],
)
def test_file_precedence(env: dict[str, str], files: dict[str, bool], winner: str) -> None:
    """The first file with credentials for the registry wins, in containers/image's order."""
    places = {
        "run": Path(env["XDG_RUNTIME_DIR"], "containers", "auth.json"),
        "config": Path(env["HOME"], ".config", "containers", "auth.json"),
        "docker": Path(env["HOME"], ".docker", "config.json"),
    }
    for where, filled in files.items():
        entry = {"auth": b64(f"{where}:p")} if filled else {}
        write(places[where], {"auths": {"reg.example": entry}})
    creds = lookup("reg.example", env=env)
    assert creds is not None and creds.username == winner
    assert creds.source == f"{places[winner]} auths['reg.example']"


def test_registry_auth_file_is_exclusive(env: dict[str, str], tmp_path: Path) -> None:
    """REGISTRY_AUTH_FILE is the only file read when set, as containers/image does."""
    docker_config(
        env,
        {
            "auths": {
                "reg.example": {"auth": b64("docker:p")},
                "other.example": {"auth": b64("o:p")},
            }
        },
    )
    chosen = write(tmp_path / "chosen.json", {"auths": {"reg.example": {"auth": b64("chosen:p")}}})
    env["REGISTRY_AUTH_FILE"] = str(chosen)
    assert summary(lookup("reg.example", env=env)) == ("chosen", "p", None)
    assert lookup("other.example", env=env) is None


def test_docker_config_env_names_the_directory(env: dict[str, str], tmp_path: Path) -> None:
    """$DOCKER_CONFIG/config.json replaces ~/.docker/config.json."""
    docker_config(env, {"auths": {"reg.example": {"auth": b64("home:p")}}})
    write(tmp_path / "dc" / "config.json", {"auths": {"reg.example": {"auth": b64("dc:p")}}})
    env["DOCKER_CONFIG"] = str(tmp_path / "dc")
    assert summary(lookup("reg.example", env=env)) == ("dc", "p", None)


def test_no_files_no_credentials(env: dict[str, str]) -> None:
    """With no credentials file anywhere, lookup returns None."""
    assert lookup("reg.example", env=env) is None


# --------------------------------------------------------------------------- helpers


def test_cred_helper_is_called_once_for_two_lookups(env: dict[str, str], tmp_path: Path) -> None:
    """credHelpers names the helper; its answer is cached, so a second lookup runs nothing."""
    log = install_helper(tmp_path)
    docker_config(env, {"credHelpers": {"reg.example": "test"}})
    answers = HelperAnswers()
    first = lookup("reg.example", env=env, helpers=answers)
    second = lookup("reg.example", env=env, helpers=answers)
    assert summary(first) == ("alice", SECRET, None) and first == second
    assert (
        asked(log) == ["reg.example"]
        and first is not None
        and first.source == "docker-credential-test"
    )


def test_concurrent_lookups_call_the_helper_once(env: dict[str, str], tmp_path: Path) -> None:
    """Eight threads looking up the same registry at once run the helper once."""
    log = install_helper(tmp_path)
    docker_config(env, {"credsStore": "test"})
    results: list[Credentials | None] = []
    answers = HelperAnswers()
    threads = [
        threading.Thread(
            target=lambda: results.append(lookup("reg.example", env=env, helpers=answers))
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8 and {summary(r) for r in results} == {("alice", SECRET, None)}
    assert asked(log) == ["reg.example"]


def test_creds_store_gets_the_hub_server_url(env: dict[str, str], tmp_path: Path) -> None:
    """credsStore serves every registry; Docker Hub is asked as https://index.docker.io/v1/."""
    log = install_helper(tmp_path)
    docker_config(env, {"credsStore": "test", "auths": {DOCKER_HUB_SERVER: {}}})
    assert summary(lookup("docker.io", env=env)) == ("hubuser", "hub-s3cr3t", None)
    assert asked(log) == [DOCKER_HUB_SERVER]


def test_cred_helpers_beat_creds_store_and_auths(env: dict[str, str], tmp_path: Path) -> None:
    """A per-registry credHelpers entry wins over credsStore and over an auths entry."""
    install_helper(tmp_path, "test")
    store_log = install_helper(tmp_path, "store")
    docker_config(
        env,
        {
            "credHelpers": {"reg.example": "test"},
            "credsStore": "store",
            "auths": {"reg.example": {"auth": b64("file:p")}},
        },
    )
    assert summary(lookup("reg.example", env=env)) == ("alice", SECRET, None)
    assert asked(store_log) == []


def test_token_username_means_identity_token(env: dict[str, str], tmp_path: Path) -> None:
    """A helper answering Username "<token>" gives an identity token, not a password."""
    install_helper(tmp_path)
    docker_config(env, {"credHelpers": {"tokens.example": "test"}})
    assert summary(lookup("tokens.example", env=env)) == ("", None, "id-s3cr3t")


@pytest.mark.parametrize(
    "registry",
    [
        pytest.param("unknown.example", id="credentials not found"),
        pytest.param("empty.example", id="an empty secret"),
    ],
)
def test_helper_without_credentials_falls_through(
    env: dict[str, str], tmp_path: Path, registry: str
) -> None:
    """ "Not found" from a helper is no credentials: the next file is read; the answer is cached."""
    log = install_helper(tmp_path)
    write(
        Path(env["XDG_RUNTIME_DIR"], "containers", "auth.json"), {"credHelpers": {registry: "test"}}
    )
    answers = HelperAnswers()
    assert lookup(registry, env=env, helpers=answers) is None
    docker_config(env, {"auths": {registry: {"auth": b64("fallback:p")}}})
    assert summary(lookup(registry, env=env, helpers=answers)) == ("fallback", "p", None)
    assert asked(log) == [registry]


@pytest.mark.parametrize(
    ("registry", "reason"),
    [
        pytest.param(
            "broken.example", "exit status 1 (run it by hand", id="a helper that fails"
        ),
        pytest.param("garbage.example", "answer is not JSON", id="a helper that answers garbage"),
        pytest.param(
            "colon.example", "must not contain ':'", id="a helper that answers a bad username"
        ),
    ],
)
def test_helper_failures_name_helper_and_registry(
    env: dict[str, str], tmp_path: Path, registry: str, reason: str
) -> None:
    """A failing helper raises CredentialHelperError naming both, without the secret; not cached."""
    log = install_helper(tmp_path)
    docker_config(env, {"credHelpers": {registry: "test"}})
    for _ in range(2):
        with pytest.raises(CredentialHelperError) as info:
            lookup(registry, env=env)
        message = str(info.value)
        assert "docker-credential-test" in message and registry in message and reason in message
        assert SECRET not in message
    assert asked(log) == [registry, registry]


def test_missing_helper_is_an_error(env: dict[str, str]) -> None:
    """A configured helper that is not on PATH is a CredentialHelperError saying so."""
    docker_config(env, {"credsStore": "nowhere"})
    with pytest.raises(
        CredentialHelperError, match="docker-credential-nowhere for reg.example: not found on PATH"
    ):
        lookup("reg.example", env=env)


def test_cleared_helper_answers_ask_again(env: dict[str, str], tmp_path: Path) -> None:
    """After HelperAnswers.clear() the helper is run again."""
    log = install_helper(tmp_path)
    docker_config(env, {"credsStore": "test"})
    answers = HelperAnswers()
    lookup("reg.example", env=env, helpers=answers)
    answers.clear()
    lookup("reg.example", env=env, helpers=answers)
    assert asked(log) == ["reg.example", "reg.example"]


def test_separate_helper_answers_share_nothing(env: dict[str, str], tmp_path: Path) -> None:
    """Two HelperAnswers (two sessions) each ask the helper: no answer is shared."""
    log = install_helper(tmp_path)
    docker_config(env, {"credsStore": "test"})
    lookup("reg.example", env=env, helpers=HelperAnswers())
    lookup("reg.example", env=env, helpers=HelperAnswers())
    assert asked(log) == ["reg.example", "reg.example"]


# --------------------------------------------------------------------------- Credentials


def test_secrets_never_show_in_repr_or_str() -> None:
    """repr and str of Credentials show the username and source, never password or token."""
    creds = Credentials("alice", SECRET, "id-" + SECRET, source="helper")
    for text in (repr(creds), str(creds), creds.identity):
        assert SECRET not in text
    assert "alice" in repr(creds)


def test_identity_is_stable_and_follows_the_secret() -> None:
    """identity is the same for equal credentials and changes with the password or kind."""
    a = Credentials("alice", "one")
    assert a.identity == Credentials("alice", "one").identity and a.identity.startswith(
        "user:alice#"
    )
    assert a.identity != Credentials("alice", "two").identity
    assert Credentials("alice", identity_token="one").identity.startswith("identitytoken:alice#")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"username": "alice"}, "password or an identity token", id="no secret at all"),
        pytest.param(
            {"username": "", "password": "p"}, "need a username", id="a password without username"
        ),
        pytest.param(
            {"username": "a:b", "password": "p"},
            "must not contain ':'",
            id="a colon in the username",
        ),
    ],
)
def test_credentials_validate(kwargs: dict[str, str], message: str) -> None:
    """Credentials refuse combinations Basic auth cannot carry."""
    with pytest.raises(ValueError, match=message):
        Credentials(**kwargs)
