"""The :class:`Session`: everything a kernel shares, owned by one object.

A session holds the registry client (its transport, token cache and HTTP trace), the disk cache,
what was learned in memory (uncompressed sizes, the digests tags last pointed at) and the
settings that decide progress bars and offline mode. Two sessions share nothing: separate
traces, tokens, credentials and memories. Every table function, :func:`ociinspect.open`,
:func:`ociinspect.image`, the image browser and the CLI take ``session=``; without one they use
:func:`default_session`, one per process, made on first use from the environment::

    import ociinspect as oi
    work = oi.Session(credentials={"registry.example": oi.Credentials("me", "secret")})
    oi.platforms("registry.example/team/app:1.0", session=work)
    offline = oi.Session(offline=True)          # answers from the disk cache only

:class:`Settings` is a frozen value: :meth:`Settings.from_env` is the one place that reads the
``OCIINSPECT_*`` variables and the locations of Docker's and containers' config files. A session
pickles as its settings, so ``pickle.loads(pickle.dumps(session))`` in another process (a Dask
worker) is a working session there with the same configuration and an empty memory.

========================== ========================================================= =========
variable                   setting                                                   default
========================== ========================================================= =========
``OCIINSPECT_CACHE``       ``cache``: keep verified blobs and manifests on disk      on
``OCIINSPECT_CACHE_DIR``   ``cache_dir``                                             per user
``OCIINSPECT_CACHE_MAX_BYTES`` ``cache_max_bytes`` (``500M``, ``20G``, bytes)        10 GiB
``OCIINSPECT_OFFLINE``     ``offline``: no request; answer from the disk cache       off
``OCIINSPECT_PROGRESS``    ``progress``: bars for downloads of 8 MiB or more         on
``OCIINSPECT_DEBUG``       ``debug``: the CLI shows tracebacks                       off
========================== ========================================================= =========

On/off variables take ``1/on/true/yes`` and ``0/off/false/no`` (any case); anything else is a
:class:`~ociinspect.errors.SettingsError` naming the variable.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import DEFAULT_MAX_BYTES, BlobCache, parse_size
from .distribution.auth import TokenCache
from .distribution.client import RegistryClient
from .distribution.credentials import Credentials, HelperAnswers, lookup
from .distribution.protocol import MAX_MANIFEST_SIZE
from .distribution.retry import RetryPolicy
from .distribution.trace import Trace
from .distribution.transport import RequestsTransport, Transport
from .errors import SettingsError
from .layers.sizes import SizeMemo
from .values.digest import Digest

if TYPE_CHECKING:
    from .navigation import Image, ImageIndex
    from .sources import Source
    from .values.platforms import Platform

_ON = frozenset({"1", "on", "true", "yes"})
_OFF = frozenset({"0", "off", "false", "no"})

#: The environment variables credential lookups and helpers depend on (kept in the settings, so
#: a session rebuilt in another process finds the same files and helpers).
CONFIG_VARIABLES = (
    "HOME",
    "PATH",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_CONFIG_HOME",
    "XDG_RUNTIME_DIR",
)


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """The on/off variable ``name``: unset or empty gives ``default``."""
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in _ON:
        return True
    if text in _OFF:
        return False
    raise SettingsError(name, env.get(name, ""), "use 1/on/true/yes or 0/off/false/no")


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$OCIINSPECT_CACHE_DIR``, else the platform's per-user cache directory for ociinspect.

    Linux and others: ``$XDG_CACHE_HOME/ociinspect`` (an absolute value only, as the XDG base
    directory spec says) or ``~/.cache/ociinspect``; macOS: ``~/Library/Caches/ociinspect``;
    Windows: ``%LOCALAPPDATA%\\ociinspect\\Cache``.
    """
    env = os.environ if env is None else env
    explicit = env.get("OCIINSPECT_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if sys.platform == "win32":
        local = env.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else home / "AppData" / "Local"
        return base / "ociinspect" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "ociinspect"
    xdg = env.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / "ociinspect"


@dataclass(frozen=True)
class Settings:
    """How a :class:`Session` behaves: a frozen value, safe to print, pickle and compare.

    ``credentials`` are explicit credentials: one :class:`Credentials` for every registry, or
    registry host -> Credentials. They never appear in a repr. ``docker_config=False`` stops the
    lookup in Docker's ``config.json`` and containers' ``auth.json`` (found through
    ``config_env``). ``schemes`` forces http/https per registry host (default: http for
    loopback only). ``resolve`` maps host names to ``(address, port)`` for this session's
    connections only (tests reproduce public registries on loopback with it; the machine's
    resolver is not touched) and ``ca_bundle`` names extra trusted CA certificates (PEM).
    """

    cache: bool = True
    cache_dir: str | None = None
    cache_max_bytes: int | None = DEFAULT_MAX_BYTES
    offline: bool = False
    progress: bool = True
    debug: bool = False
    credentials: Credentials | tuple[tuple[str, Credentials], ...] | None = field(
        default=None, repr=False
    )
    docker_config: bool = True
    config_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    schemes: tuple[tuple[str, str], ...] = ()
    timeout: tuple[float, float] = (10.0, 60.0)
    max_redirects: int = 10
    max_manifest_size: int = MAX_MANIFEST_SIZE
    pool_size: int = 32
    resolve: tuple[tuple[str, tuple[str, int]], ...] = ()
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.credentials, Mapping):
            object.__setattr__(self, "credentials", tuple(sorted(self.credentials.items())))
        for name in ("schemes", "config_env", "resolve"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, tuple(sorted(value.items())))
        if self.cache_max_bytes is not None and self.cache_max_bytes < 0:
            raise SettingsError("cache_max_bytes", str(self.cache_max_bytes), "must be >= 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **changes: Any) -> Settings:
        """Settings from ``env`` (default ``os.environ``): the ``OCIINSPECT_*`` variables and
        the variables credential lookups need, then ``changes`` on top."""
        env = os.environ if env is None else env
        text = env.get("OCIINSPECT_CACHE_MAX_BYTES", "").strip()
        try:
            bound = parse_size(text) if text else DEFAULT_MAX_BYTES
        except ValueError as exc:
            raise SettingsError("OCIINSPECT_CACHE_MAX_BYTES", text, str(exc)) from None
        found = cls(
            cache=flag(env, "OCIINSPECT_CACHE", True),
            cache_dir=str(default_cache_dir(env)),
            cache_max_bytes=bound,
            offline=flag(env, "OCIINSPECT_OFFLINE", False),
            progress=flag(env, "OCIINSPECT_PROGRESS", True),
            debug=flag(env, "OCIINSPECT_DEBUG", False),
            config_env=tuple((k, env[k]) for k in CONFIG_VARIABLES if k in env),
        )
        return found.replace(**changes) if changes else found

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (names of fields; an unknown name is a SettingsError)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SettingsError(unknown[0], "", f"not a setting; settings are {sorted(known)}")
        return replace(self, **changes)

    def credentials_map(self) -> Credentials | dict[str, Credentials] | None:
        """The explicit credentials as the client takes them."""
        if self.credentials is None or isinstance(self.credentials, Credentials):
            return self.credentials
        return dict(self.credentials)


class Session:
    """What one user's work shares: a registry client, a disk cache, what was learned.

    ``Session()`` reads :meth:`Settings.from_env`; ``Session(settings)`` uses the value given;
    keyword arguments change settings (``Session(offline=True)``). ``transport`` replaces the
    HTTP adapter (see :mod:`ociinspect.distribution.transport`); ``sleep`` is how retries
    wait. A session is thread-safe and is closed with :meth:`close` (or ``with``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        /,
        *,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **changes: Any,
    ) -> None:
        base = settings if settings is not None else Settings.from_env()
        self.settings = base.replace(**changes) if changes else base
        s = self.settings
        self.trace = Trace()
        self.tokens = TokenCache()
        env = dict(s.config_env)
        helpers = HelperAnswers()

        def find(registry: str, repository: str | None) -> Credentials | None:
            return lookup(registry, repository, env=env, helpers=helpers)

        self.transport = transport or RequestsTransport(
            pool_size=s.pool_size, resolve=dict(s.resolve), ca_bundle=s.ca_bundle
        )
        self.client = RegistryClient(
            self.transport,
            self.tokens,
            s.credentials_map(),
            retry=RetryPolicy(),
            timeout=s.timeout,
            max_redirects=s.max_redirects,
            max_manifest_size=s.max_manifest_size,
            schemes=dict(s.schemes),
            trace=self.trace,
            credential_lookup=find if s.docker_config else None,
            sleep=sleep,
        )
        self.cache: BlobCache | None = (
            BlobCache(s.cache_dir or default_cache_dir(), s.cache_max_bytes) if s.cache else None
        )
        self.sizes = SizeMemo()
        self._hints: dict[str, str] = {}
        self._hints_lock = threading.Lock()

    def __repr__(self) -> str:
        mode = " offline" if self.settings.offline else ""
        cache = self.cache.directory if self.cache is not None else "off"
        counts = f"tokens={len(self.tokens)} exchanges={len(self.trace)}"
        return f"<Session{mode} cache={cache} {counts}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its settings: the copy is a fresh session configured the same way."""
        return (Session, (self.settings,))

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections; the session can still be used (they reopen)."""
        self.transport.close()

    # -- what was learned ------------------------------------------------------------------

    def tag_hint(self, key: str) -> str | None:
        """The digest ``key`` (``registry/repo:tag``) pointed at when last seen in this
        session, else in the disk cache: a hint a HEAD confirms, never trusted alone."""
        with self._hints_lock:
            hint = self._hints.get(key)
        if hint is None and self.cache is not None:
            hint = self.cache.tag(key)
        return hint

    def remember_tag(self, key: str, digest: Digest) -> None:
        with self._hints_lock:
            self._hints[key] = digest

    def forget(self) -> None:
        """Forget what was learned in memory (sizes, tag hints); the disk cache keeps its own."""
        with self._hints_lock:
            self._hints.clear()
        self.sizes.clear()

    # -- opening things --------------------------------------------------------------------

    def source(self, ref: str) -> Source:
        """The :class:`~ociinspect.sources.Source` a reference string names."""
        from .sources import open_source

        return open_source(ref, self)

    def open(self, ref: str) -> Image | ImageIndex:
        """What ``ref`` names (see :func:`ociinspect.navigation.open`)."""
        from .navigation import open as open_ref

        return open_ref(ref, session=self)

    def image(self, ref: str, platform: Platform | str | None = None) -> Image:
        """One image of what ``ref`` names (see :func:`ociinspect.navigation.image`)."""
        from .navigation import image

        return image(ref, platform, session=self)


_default: Session | None = None
_default_lock = threading.Lock()


def default_session() -> Session:
    """The process-wide session every call without ``session=`` uses, made on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Session()
        return _default


def set_default_session(session: Session | None) -> Session | None:
    """Make ``session`` the default (None: a new one from the environment on next use);
    returns the previous default."""
    global _default
    with _default_lock:
        previous, _default = _default, session
        return previous


def session_of(session: Session | None) -> Session:
    """``session``, or the default one."""
    return session if session is not None else default_session()


__all__ = [
    "CONFIG_VARIABLES",
    "Session",
    "Settings",
    "default_cache_dir",
    "default_session",
    "flag",
    "session_of",
    "set_default_session",
]
