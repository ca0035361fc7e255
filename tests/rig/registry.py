"""Run Debian's ``docker-registry`` (distribution 2.8.2) for the tests, in one of three modes.

Facts about 2.8.2 this module relies on (checked against the binary and the v2.8.2 source):

- With ``http.addr: 127.0.0.1:0`` it listens on an ephemeral port and logs the real address:
  ``listening on 127.0.0.1:41234`` (registry.go logs ``ln.Addr()``), so no port is guessed.
- The access log (gorilla CombinedLoggingHandler, Apache combined format) goes to **stdout**;
  application logs (``log.formatter: json``) go to stderr.
- Storage middleware ``redirect`` makes blob GET *and* HEAD answer 307 to
  ``<scheme>://<host of baseurl>/docker/registry/v2/blobs/sha256/<xx>/<hex>/data``; the path
  of ``baseurl`` is ignored. Manifests are never redirected.
- htpasswd auth accepts bcrypt hashes only, and creates a file with a random user when the
  configured one is missing.
- Every ``REGISTRY_*`` environment variable overrides configuration (so a test's
  ``REGISTRY_AUTH_FILE`` would become ``auth.file``): the child gets a scrubbed environment.

The configuration is written as JSON, which the registry's YAML parser reads as is.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import users
from .cdn import Cdn
from .env import child_env
from .httpd import wait_until
from .proxy import Proxy
from .tokenserver import TokenServer

if TYPE_CHECKING:
    from .seed import SeededImage

Mode = Literal["open", "basic", "token", "seed"]
REGISTRY_BINARY = "/usr/bin/docker-registry"
#: Path of the marker requests that flush the access log (outside /v2/, answered 404).
SYNC_PATH = "/__rig_log_sync__/"
HTPASSWD_REALM = "ociinspect-rig"

_LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")
_ACCESS = re.compile(
    r'^(?P<remote>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<target>\S+) [^"]*" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "[^"]*" "(?P<agent>(?:[^"\\]|\\.)*)"'
)


@dataclass(frozen=True)
class AccessRecord:
    """One line of the registry's access log."""

    remote: str
    method: str
    target: str  # request-target as sent: path and query
    status: int
    size: int
    user_agent: str

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def parse_access_line(line: str) -> AccessRecord | None:
    match = _ACCESS.match(line)
    if match is None:
        return None
    size = match.group("size")
    return AccessRecord(
        match.group("remote"),
        match.group("method"),
        match.group("target"),
        int(match.group("status")),
        0 if size == "-" else int(size),
        match.group("agent"),
    )


def registry_config(
    mode: Mode,
    storage_dir: Path,
    *,
    cdn_url: str | None = None,
    htpasswd_path: Path | None = None,
    token_server: TokenServer | None = None,
    rootcertbundle: Path | None = None,
) -> dict[str, Any]:
    """The registry configuration for ``mode`` (seed: open, no redirect, for pushing)."""
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage_dir)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": "127.0.0.1:0", "secret": "ociinspect-rig-not-a-secret"},
        "health": {"storagedriver": {"enabled": False}},
    }
    if cdn_url is not None:
        config["middleware"] = {"storage": [{"name": "redirect", "options": {"baseurl": cdn_url}}]}
    if mode == "basic":
        config["auth"] = {"htpasswd": {"realm": HTPASSWD_REALM, "path": str(htpasswd_path)}}
    elif mode == "token":
        assert token_server is not None and rootcertbundle is not None
        config["auth"] = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": str(rootcertbundle),
            }
        }
    return config


class RegistryProcess:
    """One ``docker-registry serve`` child with its logs in ``workdir``."""

    def __init__(self, workdir: Path, config: dict[str, Any], startup_timeout: float = 15.0):
        self.workdir = workdir
        self.config_path = workdir / "config.json"
        self.access_log = workdir / "access.log"
        self.app_log = workdir / "registry.log"
        self.config_path.write_text(json.dumps(config, indent=2))
        command = [REGISTRY_BINARY, "serve", str(self.config_path)]
        if setpriv := shutil.which("setpriv"):
            # Linux: the registry gets SIGTERM if pytest dies without running finalisers.
            command = [setpriv, "--pdeathsig", "TERM", *command]
        with self.access_log.open("wb") as out, self.app_log.open("wb") as err:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=workdir,
                env=child_env(),
            )
        try:
            wait_until(self._listening, startup_timeout, "docker-registry to listen")
        except BaseException:
            self.stop()
            raise
        self.host: str = self._address or ""
        self.url = f"http://{self.host}"

    _address: str | None = None

    def _listening(self) -> bool:
        match = _LISTENING.search(self.app_log.read_text(errors="replace"))
        if match:
            self._address = match.group(1)
            return True
        if self.process.poll() is not None:
            raise RuntimeError(
                f"docker-registry exited with {self.process.returncode}:\n"
                + self.app_log.read_text(errors="replace")[-2000:]
            )
        return False

    def sync_access_log(self, timeout: float = 5.0) -> None:
        """Send a marker request and wait until its access-log line is written."""
        marker = f"{SYNC_PATH}{uuid.uuid4().hex}"
        host, port = self.host.rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            connection.request("GET", marker)
            connection.getresponse().read()
        finally:
            connection.close()
        needle = marker.encode()
        wait_until(
            lambda: needle in self.access_log.read_bytes(),
            timeout,
            "the registry to log a marker request",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Registry:
    """A running registry as tests see it (fixtures ``registry_open/basic/token``)."""

    mode: Mode
    process: RegistryProcess
    storage_dir: Path
    cdn: Cdn | None
    token_server: TokenServer | None
    seeded: dict[str, SeededImage]
    startup_seconds: float = 0.0
    _access_offset: int = 0
    _proxies: list[Proxy] = field(default_factory=list)

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``."""
        return self.process.host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.process.url

    @property
    def users(self) -> dict[str, str]:
        """User name -> password accepted by this registry (empty when open)."""
        return {} if self.mode == "open" else {u.name: u.password for u in users.USERS.values()}

    def ref(self, name: str) -> str:
        """``"demo/single:latest"`` -> ``"127.0.0.1:PORT/demo/single:latest"``."""
        return f"{self.host}/{name}"

    def log_lines(self) -> list[str]:
        """The registry's application log (JSON lines on stderr), all of it."""
        return self.process.app_log.read_text(errors="replace").splitlines()

    def requests(self, since_reset: bool = True) -> list[AccessRecord]:
        """Parsed access-log lines (since the last :meth:`reset` unless told otherwise).

        The registry writes a line as a response completes, so first a marker request is
        sent and its line awaited: every response a test has received is logged by then.
        Marker lines are left out.
        """
        self.process.sync_access_log()
        with self.process.access_log.open("rb") as log:
            log.seek(self._access_offset if since_reset else 0)
            text = log.read().decode(errors="replace")
        records = (parse_access_line(line) for line in text.splitlines())
        return [r for r in records if r is not None and not r.path.startswith(SYNC_PATH)]

    def count(self, predicate: Callable[[AccessRecord], bool] | None = None) -> int:
        return sum(1 for r in self.requests() if predicate is None or predicate(r))

    def proxy(self, bind: str = "127.0.0.1") -> Proxy:
        """A fresh :class:`~rig.proxy.Proxy` in front of this registry, stopped at test end."""
        proxy = Proxy(self.url, bind=bind)
        self._proxies.append(proxy)
        return proxy

    def reset(self) -> None:
        """Between tests: stop proxies, clear CDN/token-server records and faults, mark the log."""
        for proxy in self._proxies:
            proxy.stop()
        self._proxies.clear()
        if self.cdn is not None:
            self.cdn.reset()
        if self.token_server is not None:
            self.token_server.reset()
        self.process.sync_access_log()  # lines of finished requests land before the mark
        self._access_offset = self.process.access_log.stat().st_size

    def stop(self) -> None:
        """Stop every process and server this registry owns; safe to call twice."""
        for proxy in self._proxies:
            proxy.stop()
        self._proxies.clear()
        self.process.stop()
        if self.cdn is not None:
            self.cdn.stop()
            self.cdn = None
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None


def start_registry(
    mode: Mode, workdir: Path, storage_template: Path | None, seeded: dict[str, SeededImage]
) -> Registry:
    """Start a registry (plus CDN, plus token server in token mode) on a copy of the seeds."""
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    storage_dir = workdir / "storage"
    if storage_template is not None:
        shutil.copytree(storage_template, storage_dir)
    else:
        storage_dir.mkdir()
    cdn = token_server = None
    try:
        cdn = Cdn(storage_dir)
        htpasswd_path = bundle = None
        if mode == "basic":
            htpasswd_path = workdir / "htpasswd"
            htpasswd_path.write_text(users.htpasswd())
        if mode == "token":
            token_server = TokenServer()
            bundle = token_server.write_rootcertbundle(workdir / "token-ca.pem")
        config = registry_config(
            mode,
            storage_dir,
            cdn_url=cdn.url,
            htpasswd_path=htpasswd_path,
            token_server=token_server,
            rootcertbundle=bundle,
        )
        process = RegistryProcess(workdir, config)
    except BaseException:
        for server in (cdn, token_server):
            if server is not None:
                server.stop()
        raise
    registry = Registry(mode, process, storage_dir, cdn, token_server, seeded)
    registry.startup_seconds = time.monotonic() - started
    return registry
