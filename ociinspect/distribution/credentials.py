"""Registry credentials from the files and helpers that ``docker login`` and ``podman login`` write.

Precedence (only used when the caller passed no explicit credentials; those always win). We follow
containers/image (podman, skopeo, buildah), the one tool family that reads both formats:

1. ``$REGISTRY_AUTH_FILE`` if set, and then nothing else (as containers/image does);
   otherwise, in order, the first file that yields credentials:
2. ``$XDG_RUNTIME_DIR/containers/auth.json`` (``/run/containers/<uid>/auth.json`` without it),
3. ``$XDG_CONFIG_HOME/containers/auth.json`` (``~/.config/containers/auth.json``),
4. ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json``).

Within one file, Docker's rules: ``credHelpers[registry]``, else ``credsStore``, else ``auths``.
A helper saying "credentials not found", an empty ``auths`` entry (``docker login`` with a store
leaves ``{}``) or no match moves on to the next file. ``~/.dockercfg`` (pre-2015) is not read.

``auths`` keys match a registry when they are the host (``localhost:5000``), a URL of it
(``http://localhost:5000``, ``https://host/v1/``; Docker Hub is ``https://index.docker.io/v1/``,
which also serves ``docker.io``, ``index.docker.io`` and ``registry-1.docker.io``) or, an
auth.json extension that we accept in both formats, ``host/namespace[/repo]``: the most specific
key that covers ``repository`` wins; at equal specificity the first in file order.

Credential helpers (``docker-credential-<name> get``, server URL on stdin, ``{"ServerURL",
"Username", "Secret"}`` on stdout; ``Username == "<token>"`` means Secret is an identity token) are
called once per helper executable and server URL per process, thread-safe; answers (found or
not found) are kept in the :class:`HelperAnswers` the caller passes (a session keeps one;
:meth:`HelperAnswers.clear` forgets them), failures are not.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CredentialHelperError, InvalidDocumentError

__all__ = [
    "DOCKER_HUB_SERVER",
    "CredentialHelperError",
    "Credentials",
    "auth_files",
    "HelperAnswers",
    "lookup",
]

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 60.0
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_TOKEN_USERNAME = "<token>"  # docker-credential-helpers: Secret is an identity token
_NOT_FOUND = "credentials not found"  # docker-credential-helpers' ErrCredentialsNotFound text
_PROCESS_KEY = secrets.token_bytes(32)  # keys Credentials.identity; never leaves the process


@dataclass(frozen=True)
class Credentials:
    """A username with a password (Basic / token-server login) or an identity token (OAuth2).

    Secrets never show in repr or str. ``source`` says where they came from (a file or helper).
    """

    username: str
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.password and not self.identity_token:
            raise ValueError("credentials need a password or an identity token")
        if self.password and not self.username:
            raise ValueError("password credentials need a username")
        if ":" in self.username:
            raise ValueError("a username must not contain ':' (RFC 7617 2, user-id)")

    @property
    def identity(self) -> str:
        """A stable, non-secret id for cache keys and traces: ``user:alice#<12 hex>``.

        The suffix is an HMAC of the secret under a per-process random key, so changing the
        password changes the identity, while the id reveals nothing outside this process.
        """
        kind, secret = (
            ("identitytoken", self.identity_token)
            if self.identity_token
            else ("user", self.password or "")
        )
        tag = hmac.new(_PROCESS_KEY, secret.encode(), hashlib.sha256).hexdigest()[:12]
        return f"{kind}:{self.username}#{tag}"


def lookup(
    registry: str,
    repository: str | None = None,
    env: Mapping[str, str] | None = None,
    helpers: HelperAnswers | None = None,
) -> Credentials | None:
    """Credentials for ``registry`` (``docker.io``, ``localhost:5000``) and optionally a
    repository (``library/alpine``, for repo-scoped auth.json keys); None if there are none.

    ``env`` defaults to ``os.environ`` (``HOME``, ``DOCKER_CONFIG``, ``REGISTRY_AUTH_FILE``,
    ``XDG_*`` and the ``PATH`` helpers are found on). Raises InvalidDocumentError for a file that
    is not valid JSON of the expected shape, CredentialHelperError for a failing helper.
    """
    env = os.environ if env is None else env
    host, _ = _split_key(registry)
    for path, docker_format in auth_files(env):
        doc = _load(path)
        if doc is None:
            continue
        found = _from_document(doc, path, host, repository, docker_format, env, helpers)
        if found is not None:
            return found
    return None


def auth_files(env: Mapping[str, str] | None = None) -> list[tuple[Path, bool]]:
    """The files :func:`lookup` reads, in order, each with True if it is Docker's config.json."""
    env = os.environ if env is None else env
    if env.get("REGISTRY_AUTH_FILE"):
        return [(Path(env["REGISTRY_AUTH_FILE"]), False)]
    home = Path(env.get("HOME") or Path.home())
    runtime = env.get("XDG_RUNTIME_DIR")
    files = [
        Path(runtime, "containers", "auth.json")
        if runtime
        else Path("/run/containers", str(os.getuid()), "auth.json"),
        Path(env.get("XDG_CONFIG_HOME") or home / ".config", "containers", "auth.json"),
    ]
    docker_dir = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    return [(p, False) for p in files] + [(docker_dir / "config.json", True)]


def _load(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        what = f"credentials file {path}"
        raise InvalidDocumentError(what, f"cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:  # json's message has a position, not the content
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8"
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidDocumentError(f"credentials file {path}", f"{reason}{where}") from None
    if not isinstance(doc, dict):
        raise InvalidDocumentError(f"credentials file {path}", "top level is not an object")
    return doc


def _split_key(key: str) -> tuple[str, str]:
    """(host, path) of an auths/credHelpers key or a registry name; Hub aliases -> docker.io.

    URL keys (``https://index.docker.io/v1/``) name a whole registry, so their path is dropped.
    """
    rest = key.strip()
    is_url = False
    for prefix in ("https://", "http://"):
        if rest.lower().startswith(prefix):
            rest, is_url = rest[len(prefix) :], True
    host, _, path = rest.partition("/")
    host = host.lower()
    if host in _HUB_ALIASES:
        host = "docker.io"
    return host, "" if is_url else path.strip("/")


def _from_document(
    doc: dict[str, Any],
    path: Path,
    host: str,
    repository: str | None,
    docker_format: bool,
    env: Mapping[str, str],
    helpers: HelperAnswers | None = None,
) -> Credentials | None:
    server = DOCKER_HUB_SERVER if (docker_format and host == "docker.io") else host
    named = _section(doc, "credHelpers", path)
    helper = next((h for k, h in named.items() if _split_key(k)[0] == host), None)
    store = doc.get("credsStore")
    if not isinstance(store, str | None) or not isinstance(helper, str | None):
        raise InvalidDocumentError(
            f"credentials file {path}", "a credential helper name is not a string"
        )
    if helper or store:
        name = str(helper or store)
        return (helpers or HelperAnswers()).get(name, server, env)
    auths = _section(doc, "auths", path)
    best: tuple[int, str, Any] | None = None
    for key, entry in auths.items():
        khost, kpath = _split_key(key)
        if khost != host:
            continue
        if kpath and not (repository and (repository + "/").startswith(kpath + "/")):
            continue
        if best is None or len(kpath) > best[0]:
            best = (len(kpath), key, entry)
    return None if best is None else _decode_entry(best[2], path, best[1])


def _section(doc: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    section = doc.get(name) or {}
    if not isinstance(section, dict):
        raise InvalidDocumentError(f"credentials file {path}", f"{name!r} is not an object")
    return section


def _decode_entry(entry: Any, path: Path, key: str) -> Credentials | None:
    """An ``auths`` entry: ``auth`` (base64 user:pass) or username/password, + identitytoken."""
    what = f"credentials file {path}"
    if not isinstance(entry, dict):
        raise InvalidDocumentError(what, f"auths entry {key!r} is not an object")
    username, password = entry.get("username") or "", entry.get("password") or ""
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidDocumentError(what, f"auths entry {key!r}: auth is not base64") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidDocumentError(what, f"auths entry {key!r}: auth is not user:password")
        password = password.strip("\x00")  # as Docker's decodeAuth does
    token = entry.get("identitytoken") or None
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidDocumentError(what, f"auths entry {key!r}: username/password not strings")
    if not password and not token:
        return None
    try:
        return Credentials(username, password or None, token, source=f"{path} auths[{key!r}]")
    except ValueError as exc:
        raise InvalidDocumentError(what, f"auths entry {key!r}: {exc}") from None


class HelperAnswers:
    """What credential helpers answered, per helper program and server: one call each, even
    when threads ask at once. A :class:`~ociinspect.session.Session` keeps one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._answers: dict[tuple[str, str], Credentials | None] = {}

    def __repr__(self) -> str:
        return f"<HelperAnswers {len(self._answers)}>"

    def clear(self) -> None:
        """Forget every answer (e.g. after ``docker login``)."""
        with self._lock:
            self._answers.clear()

    def get(self, name: str, server: str, env: Mapping[str, str]) -> Credentials | None:
        """``docker-credential-<name> get`` for ``server``, asked once."""
        program = f"docker-credential-{name}"
        exe = shutil.which(program, path=env.get("PATH", os.defpath))
        if exe is None:
            raise CredentialHelperError(program, server, "not found on PATH")
        key = (exe, server)
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            answer = _run_helper(program, exe, server, env)
            with self._lock:
                self._answers[key] = answer
            return answer


def _run_helper(program: str, exe: str, server: str, env: Mapping[str, str]) -> Credentials | None:
    try:
        proc = subprocess.run(
            [exe, "get"],
            input=server.encode(),
            capture_output=True,
            timeout=HELPER_TIMEOUT,
            env=dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialHelperError(program, server, f"no answer in {HELPER_TIMEOUT:g} s") from None
    except OSError as exc:
        raise CredentialHelperError(program, server, f"cannot run: {exc.strerror}") from None
    if proc.returncode != 0:
        said = (proc.stdout + proc.stderr).decode(errors="replace")
        if _NOT_FOUND in said.lower():
            return None
        # The helper's own words are not quoted: a broken helper may print the secret.
        raise CredentialHelperError(
            program, server, f"exit status {proc.returncode} (run it by hand to see why)"
        )
    try:
        answer = json.loads(proc.stdout)
        username, secret = answer["Username"], answer["Secret"]
        if not isinstance(username, str) or not isinstance(secret, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise CredentialHelperError(
            program, server, "answer is not JSON with string Username and Secret"
        ) from None
    if not secret:
        return None
    if username == _TOKEN_USERNAME:
        return Credentials("", identity_token=secret, source=program)
    try:
        return Credentials(username, secret, source=program)
    except ValueError as exc:
        raise CredentialHelperError(program, server, str(exc)) from None
