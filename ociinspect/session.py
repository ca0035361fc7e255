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
``OCIINSPECT_REQUEST_DEADLINE`` ``request_deadline``: seconds one exchange may take      120 s
``OCIINSPECT_OPERATION_DEADLINE`` ``operation_deadline``: seconds for auth+redirects+retries 300 s
``OCIINSPECT_MIN_BLOB_RATE`` ``min_blob_rate``: bytes/s a blob must keep up (``off``)  16 KiB/s
``OCIINSPECT_MAX_CONFIG_SIZE`` ``max_config_size``: largest image config read           4 MiB
``HTTP(S)_PROXY``, ``NO_PROXY`` ``proxy_env``: proxies by Go's rules (loopback direct)  unset
``OCIINSPECT_MAX_READ_BYTES`` ``max_read_bytes``: largest file ``read_file`` returns     64 MiB
``OCIINSPECT_IMAGE`` …     ``lesson_images``: the notebooks' images (notebook.py)    unset
``OCIINSPECT_MIRRORS``     ``mirrors``: Docker Hub mirrors (``a,b``; ``none``)       see below
``OCIINSPECT_REGISTRIES_CONF`` read registries.conf and daemon.json into ``mirrors`` on
``OCIINSPECT_RESOLVE``     ``resolve``: ``host=address:port,…`` (like curl's         unset
                           ``--connect-to``): where this session connects for a host
``OCIINSPECT_CA_BUNDLE``   ``ca_bundle``: CA certificates (PEM) to trust instead      unset
========================== ========================================================= =========

On/off variables take ``1/on/true/yes`` and ``0/off/false/no`` (any case); anything else is a
:class:`~ociinspect.errors.SettingsError` naming the variable.

``mirrors`` (a :class:`~ociinspect.distribution.mirrors.MirrorConfig`) holds the pull-through
mirrors tried before a registry: containers' ``registries.conf`` (and its drop-ins), Docker's
``daemon.json`` ``registry-mirrors``, ``OCIINSPECT_MIRRORS``, and on Binder
``mirror.gcr.io`` for Docker Hub (see :mod:`ociinspect.distribution.configured`).
``Session(mirrors=["mirror.gcr.io"])`` puts a list of Docker Hub mirrors over that
(``mirrors=[]``: none for Docker Hub); a ``MirrorConfig`` replaces it all.
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
from .distribution import routing
from .distribution.auth import TokenCache
from .distribution.client import RegistryClient
from .distribution.credentials import Credentials, HelperAnswers, lookup
from .distribution.deadlines import Deadlines
from .distribution.mirrors import MirrorConfig, MirrorConfigError
from .distribution.protocol import MAX_MANIFEST_SIZE
from .distribution.retry import RetryPolicy
from .distribution.trace import Trace
from .distribution.transport import ENVIRONMENT as TRANSPORT_VARIABLES
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
#: Which variable names each role of :attr:`Settings.lesson_images`.
LESSON_IMAGE_VARIABLES = {
    "image": "OCIINSPECT_IMAGE",
    "image_b": "OCIINSPECT_IMAGE_B",
    "multiarch": "OCIINSPECT_MULTIARCH_IMAGE",
    "other": "OCIINSPECT_OTHER_IMAGE",
}

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


def _resolve_from_env(env: Mapping[str, str]) -> tuple[tuple[str, tuple[str, int]], ...]:
    """``OCIINSPECT_RESOLVE=host=address:port,host2=address:port``: the hosts this session
    connects to elsewhere (TLS still names and checks the host), as curl's ``--connect-to``."""
    text = env.get("OCIINSPECT_RESOLVE", "").strip()
    found: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, sep, target = item.partition("=")
        address, colon, port = target.rpartition(":")
        if not (sep and colon and host.strip() and address and port.isdigit()):
            raise SettingsError(
                "OCIINSPECT_RESOLVE", item, "use host=address:port, comma-separated"
            )
        if not 0 < int(port) < 65536:
            raise SettingsError("OCIINSPECT_RESOLVE", item, "the port must be 1 to 65535")
        found[host.strip().lower()] = (address.strip("[]"), int(port))
    return tuple(sorted(found.items()))


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
    mirrors: MirrorConfig = MirrorConfig()
    #: The largest file :func:`ociinspect.read_file` returns (bigger: SizeLimitError before
    #: any byte is read; ``open_file`` streams larger ones).
    max_read_bytes: int = 64 * 1024 * 1024
    #: The images a notebook looks at instead of its defaults, by role (``image``, ``image_b``,
    #: ``multiarch``, ``other``): from ``OCIINSPECT_IMAGE``, ``OCIINSPECT_IMAGE_B``,
    #: ``OCIINSPECT_MULTIARCH_IMAGE`` and ``OCIINSPECT_OTHER_IMAGE`` (see ociinspect.notebook).
    lesson_images: tuple[tuple[str, str], ...] = ()
    #: Deadlines (:mod:`ociinspect.distribution.deadlines`): one exchange of a document
    #: (manifest, token, listing page, error body) ends within ``request_deadline`` seconds,
    #: every exchange of one operation within ``operation_deadline`` of its start, and a
    #: blob's body keeps up ``min_blob_rate`` bytes/s after ``request_deadline`` seconds of
    #: grace; None turns one off. Past one: a DeadlineError naming what was slow.
    request_deadline: float | None = 120.0
    operation_deadline: float | None = 300.0
    min_blob_rate: int | None = 16 * 1024
    #: The largest image config read into memory, from any source: a descriptor naming more is
    #: refused before the first byte, a body growing past it while it is read.
    max_config_size: int = 4 * 1024 * 1024
    #: The proxy and CA-bundle variables the session's transport uses (Go's rules, see
    #: :mod:`ociinspect.distribution.proxies`); ``from_env`` takes them from the environment.
    proxy_env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: Connections opened to a registry while its first token is fetched, so the requests a
    #: call fans out next (one per platform of an index) do not wait for a connect each;
    #: ``OCIINSPECT_PRECONNECT`` (0: off). At most ``pool_size``.
    preconnect: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.mirrors, MirrorConfig):
            object.__setattr__(self, "mirrors", _mirror_list(self.mirrors))
        if isinstance(self.credentials, Mapping):
            object.__setattr__(self, "credentials", tuple(sorted(self.credentials.items())))
        for name in ("schemes", "config_env", "resolve"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, tuple(sorted(value.items())))
        if self.cache_max_bytes is not None and self.cache_max_bytes < 0:
            raise SettingsError("cache_max_bytes", str(self.cache_max_bytes), "must be >= 0")
        if isinstance(self.proxy_env, Mapping):
            object.__setattr__(self, "proxy_env", tuple(sorted(self.proxy_env.items())))
        for name in ("request_deadline", "operation_deadline", "min_blob_rate"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int | float) and value > 0):
                raise SettingsError(name, str(value), "must be a positive number, or None")
        if not isinstance(self.max_config_size, int) or self.max_config_size <= 0:
            raise SettingsError("max_config_size", str(self.max_config_size), "must be > 0")
        if not isinstance(self.preconnect, int) or not 0 <= self.preconnect <= self.pool_size:
            raise SettingsError(
                "preconnect", str(self.preconnect), f"must be 0 to pool_size ({self.pool_size})"
            )

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
        read_text = env.get("OCIINSPECT_MAX_READ_BYTES", "").strip()
        try:
            read_bound = parse_size(read_text) if read_text else cls.max_read_bytes
        except ValueError as exc:
            raise SettingsError("OCIINSPECT_MAX_READ_BYTES", read_text, str(exc)) from None
        found = cls(
            max_read_bytes=read_bound,
            cache=flag(env, "OCIINSPECT_CACHE", True),
            cache_dir=str(default_cache_dir(env)),
            cache_max_bytes=bound,
            offline=flag(env, "OCIINSPECT_OFFLINE", False),
            progress=flag(env, "OCIINSPECT_PROGRESS", True),
            debug=flag(env, "OCIINSPECT_DEBUG", False),
            config_env=tuple((k, env[k]) for k in CONFIG_VARIABLES if k in env),
            proxy_env=tuple((k, env[k]) for k in TRANSPORT_VARIABLES if env.get(k)),
            **_bounds_from_env(env),
            mirrors=_mirrors_from_env(env),
            resolve=_resolve_from_env(env),
            ca_bundle=env.get("OCIINSPECT_CA_BUNDLE", "").strip() or None,
            preconnect=_count(env, "OCIINSPECT_PRECONNECT", cls.preconnect),
            lesson_images=tuple(
                (role, env[name].strip())
                for role, name in LESSON_IMAGE_VARIABLES.items()
                if env.get(name, "").strip()
            ),
        )
        return found.replace(**changes) if changes else found

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (names of fields; an unknown name is a SettingsError)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SettingsError(unknown[0], "", f"not a setting; settings are {sorted(known)}")
        listed = changes.get("mirrors")
        if listed is not None and not isinstance(listed, MirrorConfig):
            changes["mirrors"] = self.mirrors.merged(_mirror_list(listed))
        return replace(self, **changes)

    def credentials_map(self) -> Credentials | dict[str, Credentials] | None:
        """The explicit credentials as the client takes them."""
        if self.credentials is None or isinstance(self.credentials, Credentials):
            return self.credentials
        return dict(self.credentials)


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A count variable: a whole number >= 0 (``8``), or ``default`` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 6:
        raise SettingsError(name, env.get(name, ""), "use a whole number, e.g. 8 (0: off)")
    return int(text)


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    """A deadline variable: seconds (``90``, ``2.5``), or ``0``/``off``/``none`` for no bound."""
    text = env.get(name, "").strip().lower()
    if text in ("0", "off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 < value < float("inf")):
        raise SettingsError(name, env.get(name, ""), "use seconds (e.g. 120), or 0/off for none")
    return value


def _bounds_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """``OCIINSPECT_REQUEST_DEADLINE``, ``OCIINSPECT_OPERATION_DEADLINE`` (seconds, or off),
    ``OCIINSPECT_MIN_BLOB_RATE`` (bytes/s: ``16K``, or off) and ``OCIINSPECT_MAX_CONFIG_SIZE``
    (``4M``), where set."""
    found: dict[str, Any] = {}
    for name, field_name in (("OCIINSPECT_REQUEST_DEADLINE", "request_deadline"),
                             ("OCIINSPECT_OPERATION_DEADLINE", "operation_deadline")):
        if env.get(name, "").strip():
            found[field_name] = _seconds(env, name)
    for name, field_name in (("OCIINSPECT_MIN_BLOB_RATE", "min_blob_rate"),
                             ("OCIINSPECT_MAX_CONFIG_SIZE", "max_config_size")):
        text = env.get(name, "").strip()
        if not text:
            continue
        if text.lower() in ("0", "off", "none") and field_name == "min_blob_rate":
            found[field_name] = None
            continue
        try:
            found[field_name] = parse_size(text)
        except ValueError as exc:
            raise SettingsError(name, text, str(exc)) from None
        if found[field_name] <= 0:
            raise SettingsError(name, text, "must be more than 0")
    return found


def _mirror_list(items: Any) -> MirrorConfig:
    """Docker Hub mirrors given as a list (or one string) -> a configuration."""
    if items is None:
        return MirrorConfig()
    listed = [items] if isinstance(items, str) else list(items)
    try:
        return MirrorConfig.from_mirrors(listed)
    except MirrorConfigError as exc:
        raise SettingsError("mirrors", repr(listed)[:200], exc.reason) from None


def _mirrors_from_env(env: Mapping[str, str]) -> MirrorConfig:
    """registries.conf, daemon.json, OCIINSPECT_MIRRORS and Binder's default (see
    :mod:`ociinspect.distribution.configured`); a broken file or list is a SettingsError."""
    from .distribution import configured

    return configured.mirror_config(env, read_files=flag(env, configured.READ_VARIABLE, True))


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
            pool_size=s.pool_size,
            resolve=dict(s.resolve),
            ca_bundle=s.ca_bundle,
            env=dict(s.proxy_env),
        )
        self.client = RegistryClient(
            self.transport,
            self.tokens,
            s.credentials_map(),
            retry=RetryPolicy(),
            timeout=s.timeout,
            max_redirects=s.max_redirects,
            max_manifest_size=s.max_manifest_size,
            schemes={**routing.schemes(s.mirrors), **dict(s.schemes)},
            trace=self.trace,
            credential_lookup=find if s.docker_config else None,
            sleep=sleep,
            deadlines=Deadlines(s.request_deadline, s.operation_deadline, s.min_blob_rate),
            preconnect=s.preconnect,
        )
        self.client.mirrors = s.mirrors if s.mirrors.registries else None
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
