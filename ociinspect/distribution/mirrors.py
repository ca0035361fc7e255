"""Pull-through mirrors, configured the way the ecosystem configures them.

Two sources, merged into one frozen :class:`MirrorConfig`:

**containers-registries.conf(5)**, version 2 (TOML), as containers/image's
``pkg/sysregistriesv2/system_registries_v2.go`` reads it (github.com/containers/image @
df7e80d2d198; the man pages are ``docs/containers-registries.conf.5.md`` and
``docs/containers-registries.conf.d.5.md``):

* ``[[registry]]`` tables with ``prefix``, ``location``, ``insecure``, ``blocked``,
  ``mirror-by-digest-only`` and ``[[registry.mirror]]`` tables (``location``, ``insecure``,
  ``pull-from-mirror`` = ``all`` | ``digest-only`` | ``tag-only``). A missing or empty ``prefix``
  is the ``location``; trailing ``/`` are stripped and ``http(s)://`` is refused
  (``parseLocation``).
* Only the table with the longest matching prefix applies (``FindRegistry``); a prefix matches a
  name that equals it or continues with ``/``, ``:`` or ``@`` (``refMatchingPrefix``, which also
  lets ``example.com`` match ``example.com:5000``: "unintended ... DON'T RELY" upstream, kept
  here for fidelity); ``*.example.com`` matches any number of subdomains and nothing with a ``/``
  before them (``refMatchingSubdomainPrefix``).
* The repository is rewritten: the matched prefix is replaced by the endpoint's location
  (``rewriteReference``); a ``*.`` prefix without location keeps the name. The result must be a
  canonical name, so ``prefix = "docker.io/library"``, ``location = "docker.io"`` is an error.
* Mirrors are tried in order, then the primary location (``PullSourcesFromReference``); with
  ``mirror-by-digest-only`` mirrors serve digest pulls only; ``pull-from-mirror`` restricts one
  mirror to digest or tag pulls.
* ``unqualified-search-registries`` is read (host[:port] entries) and exposed; ociinspect
  normalises short names the Docker way (``docker.io``), so nothing here searches.
* Left out on purpose: ``[aliases]`` and ``short-name-mode`` (short-name resolution, not
  mirroring), ``credential-helpers`` and ``additional-layer-store-auth-helper``; they are
  ignored, not validated. The deprecated version 1 tables (``[registries.search|insecure|block]``)
  are converted as ``ConvertToV2`` does; mixing them with version 2 keys is refused.
* Drop-ins: ``*.conf`` files (nothing else, no sub-directories) of each ``registries.conf.d``
  directory, in lexical order. containers-registries.conf.d(5), "CONFIGURATION PRECEDENCE":
  "Specified fields in a conf file will overwrite any previous setting ... The ``[[registry]]``
  tables merged by overwriting existing items if the prefixes are identical while new ones are
  added" (``updateWithConfigurationFrom``: a drop-in's table replaces the whole table of the same
  prefix, mirrors included; ``unqualified-search-registries`` is replaced when the drop-in sets
  it, even to ``[]``). Drop-ins must be version 2.
* Conflicts (one location with two ``insecure`` or ``blocked`` values) are errors within a file;
  the first table of a repeated prefix wins within a file (``postProcessRegistries``).

``blocked`` follows the man page ("pulling images with matching names is forbidden") and
containers/image: the primary location of a blocked table is never tried, and neither is any
endpoint whose *rewritten* name falls under a blocked table; the mirrors of a blocked table are
still used (containers/image issue #2497: "newDockerClient is called with the mirror's
reference"), which is how disconnected sites pull only from their mirror. When nothing is left,
:class:`BlockedRegistryError` names the file (and line) that blocked it. Upstream checks only the
rewritten name, so a blocked table whose location differs from its prefix still reaches its
location there; here it does not.

**Docker's daemon.json** ``registry-mirrors``: a list of ``http(s)://host[:port]`` URLs for Docker
Hub only (docker/docs ``content/manuals/docker-hub/image-library/mirror.md``: "Only the central Hub
can be mirrored"; moby ``registry/service_v2.go`` ``lookupV2Endpoints``: mirrors in order, then
the official registry, for tag and digest pulls alike), validated as moby's ``ValidateMirror`` does
(scheme required, no user-info, query or fragment). A path in the URL is refused: older Docker
refused it too, newer Docker treats it as an API base path, which :class:`Endpoint` cannot carry.
A mirror is insecure when its URL is ``http://`` or its host[:port] (or an IP-literal host inside
a CIDR) is listed in ``insecure-registries``.

How the sources combine: daemon.json mirrors become a ``docker.io`` table; registries.conf is
applied over it (a registries.conf ``docker.io`` table replaces it) by :func:`from_env`; a Session
applies its own list last: ``config.merged(MirrorConfig.from_mirrors(urls))``.

Where the files are (:func:`locations`, pure, mirroring ``newConfigWrapperWithHomeDir`` and
``pkg/cli/environment``): ``$CONTAINERS_REGISTRIES_CONF`` (else ``$REGISTRIES_CONFIG_PATH``;
empty means unset) names the main file, which must then exist, and both drop-in directories are
read; otherwise ``$HOME/.config/containers/registries.conf`` when it exists (for any user, root
too; ``XDG_CONFIG_HOME`` is not consulted upstream), with only
``$HOME/.config/containers/registries.conf.d``; otherwise ``/etc/containers/registries.conf`` (a
missing file is an empty one) with ``/etc/containers/registries.conf.d`` and then the user's
directory. Only :func:`read_registries_conf`, :func:`read_daemon_json` and :func:`from_env` touch
the disk; every file is bounded by :data:`MAX_CONFIG_BYTES`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from ..errors import InvalidDocumentError, InvalidReferenceError, OCIInspectError, SizeLimitError
from ..values.reference import (
    DEFAULT_REGISTRY,
    DOCKER_HUB_API_HOST,
    DOMAIN_RE,
    normalize_registry,
    parse_named,
    parse_normalized_named,
)
from .protocol import api_host

SYSTEM_REGISTRIES_CONF = "/etc/containers/registries.conf"
SYSTEM_REGISTRIES_CONF_D = "/etc/containers/registries.conf.d"
USER_REGISTRIES_CONF = ".config/containers/registries.conf"
USER_REGISTRIES_CONF_D = ".config/containers/registries.conf.d"
DOCKER_DAEMON_JSON = "/etc/docker/daemon.json"
SESSION_SOURCE = "session setting"

#: Largest configuration file read (registries.conf, a drop-in, daemon.json).
MAX_CONFIG_BYTES = 1024 * 1024
#: Most drop-in files read from all ``registries.conf.d`` directories together.
MAX_DROP_INS = 256
#: Most ``[[registry]]`` tables in one file, and mirrors in one table.
MAX_REGISTRIES = 4096
MAX_MIRRORS = 64
#: Most ``unqualified-search-registries`` entries.
MAX_SEARCH_REGISTRIES = 256

PULL_FROM_MIRROR = ("all", "digest-only", "tag-only")

_V2_KEYS = frozenset(
    {
        "registry",
        "unqualified-search-registries",
        "credential-helpers",
        "short-name-mode",
        "additional-layer-store-auth-helper",
        "aliases",
    }
)
_Fail = Callable[[str], "MirrorConfigError"]
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
_REGISTRY_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*registry[ \t]*\]\][ \t]*(?:#.*)?$", re.MULTILINE)


class MirrorConfigError(InvalidDocumentError):
    """A registries.conf, drop-in or daemon.json is unreadable, malformed or inconsistent.

    ``path`` is the file, ``line`` the line (1-based) where known.
    """

    def __init__(
        self, path: str, reason: str, *, line: int | None = None, kind: str = "registries.conf"
    ) -> None:
        self.path = path
        self.line = line
        where = f"{path} line {line}" if line is not None else path
        super().__init__(f"{kind} {where}", reason)


class BlockedRegistryError(OCIInspectError):
    """Every endpoint for a name is blocked by a ``blocked = true`` table of registries.conf."""

    def __init__(self, name: str, prefix: str, source: str, line: int | None = None) -> None:
        self.name = name
        self.prefix = prefix
        self.source = source
        self.line = line
        where = f"{source} line {line}" if line is not None else source
        super().__init__(
            f"pulling {name} is blocked by the [[registry]] table with prefix {prefix!r} in "
            f"{where}; remove 'blocked = true' there, or add a [[registry.mirror]] to pull from"
        )


@dataclass(frozen=True)
class Mirror:
    """One ``[[registry.mirror]]``: where to look first, and for which pulls."""

    location: str
    insecure: bool = False
    pull_from_mirror: str = "all"
    scheme: str | None = None


@dataclass(frozen=True)
class RegistryEntry:
    """One ``[[registry]]`` table after post-processing (``prefix`` set, locations cleaned).

    ``location`` is ``""`` only under a ``*.`` prefix (no rewrite). ``source``/``line`` name
    where the table was written.
    """

    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirror_by_digest_only: bool = False
    mirrors: tuple[Mirror, ...] = ()
    source: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Endpoint:
    """One place to try: ``registry`` as configured (``docker.io``), ``host`` as the protocol
    needs it (``registry-1.docker.io``), the repository there, and how to talk to it.

    ``insecure``: plain http and unverified TLS are allowed. ``scheme`` is set when the
    configuration named one (a daemon.json URL). ``source`` is the file that produced it (None
    for a name no configuration mentions). Credentials are looked up for ``registry``, never
    carried over from the origin to a mirror (containers/image ``newImageSourceAttempt`` drops
    them for a mirror on another domain).
    """

    registry: str
    repository: str
    insecure: bool = False
    mirror: bool = False
    scheme: str | None = None
    source: str | None = None

    @property
    def host(self) -> str:
        return api_host(self.registry)

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"


@dataclass(frozen=True)
class MirrorConfig:
    """All mirror configuration in force: tables sorted by prefix, one per prefix.

    ``unqualified_search_registries`` is None when no file set it.
    """

    registries: tuple[RegistryEntry, ...] = ()
    unqualified_search_registries: tuple[str, ...] | None = None
    unqualified_search_origin: str | None = None
    sources: tuple[str, ...] = field(default=(), compare=False)

    def find(self, name: str) -> RegistryEntry | None:
        """The table with the longest prefix matching ``name`` (``FindRegistry``), or None."""
        best: RegistryEntry | None = None
        for entry in self.registries:
            if match_prefix(name, entry.prefix) != -1 and (
                best is None or len(entry.prefix) > len(best.prefix)
            ):
                best = entry
        return best

    def has_mirrors(self, registry: str, repository: str) -> bool:
        """Whether any mirror is configured for this repository (for :func:`ratelimit.hint`)."""
        entry = self.find(logical_name(registry, repository))
        return entry is not None and bool(entry.mirrors)

    def merged(self, update: MirrorConfig) -> MirrorConfig:
        """This configuration with ``update`` applied the way a drop-in is (see the module doc)."""
        by_prefix = {entry.prefix: entry for entry in self.registries}
        by_prefix.update({entry.prefix: entry for entry in update.registries})
        search, origin = self.unqualified_search_registries, self.unqualified_search_origin
        if update.unqualified_search_registries is not None:
            search, origin = update.unqualified_search_registries, update.unqualified_search_origin
        return MirrorConfig(
            tuple(by_prefix[prefix] for prefix in sorted(by_prefix)),
            search,
            origin,
            self.sources + update.sources,
        )

    @classmethod
    def from_mirrors(
        cls,
        mirrors: Iterable[str],
        *,
        registry: str = DEFAULT_REGISTRY,
        source: str = SESSION_SOURCE,
    ) -> MirrorConfig:
        """A configuration from a plain list of mirrors for one registry (a Session setting).

        Each item is a Docker-style URL (``https://mirror.gcr.io``, no path) or a
        registries.conf location (``harbor.example.com/dockerhub-proxy``, a namespace allowed).
        """
        host = _normalize_registry_name(registry)
        items = list(_bounded(mirrors, MAX_MIRRORS, source, "mirrors"))
        entries = tuple(_session_mirror(item, source) for item in items)
        entry = RegistryEntry(host, host, mirrors=entries, source=source)
        return cls((entry,), sources=(source,))

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, daemon_json: str | None = DOCKER_DAEMON_JSON
    ) -> MirrorConfig:
        """See :func:`from_env`."""
        return from_env(env, daemon_json=daemon_json)


# -- matching and rewriting (containers/image pkg/sysregistriesv2) --------------------------


def match_prefix(ref: str, prefix: str) -> int:
    """The length of ``prefix`` matched at the start of ``ref``, or -1 (``refMatchingPrefix``)."""
    if prefix.startswith("*."):
        return _match_subdomain(ref, prefix)
    if len(ref) < len(prefix) or not ref.startswith(prefix):
        return -1
    if len(ref) == len(prefix):
        return len(prefix)
    return len(prefix) if ref[len(prefix)] in ":/@" else -1


def _match_subdomain(ref: str, prefix: str) -> int:
    """``refMatchingSubdomainPrefix``: the first ``.example.com`` in ``ref``, before any ``/``."""
    suffix = prefix[1:]
    index = ref.find(suffix)
    if index == -1 or "/" in ref[:index]:
        return -1
    index += len(suffix)
    if index == len(ref) or ref[index] in ":/@":
        return index
    return -1


def rewrite(ref: str, prefix: str, location: str) -> str:
    """``ref`` with its ``prefix`` replaced by ``location`` (``rewriteReference``).

    Raises :class:`InvalidReferenceError` when the prefix does not match, when ``location`` is
    empty under a prefix that is not ``*.``, or when the result is not a canonical reference.
    """
    matched = match_prefix(ref, prefix)
    if matched == -1:
        raise InvalidReferenceError(ref, f"prefix {prefix!r} does not match it")
    if location == "":
        if not prefix.startswith("*."):
            raise InvalidReferenceError(
                ref, f"empty location under prefix {prefix!r}, which is not *.example.com"
            )
        return ref
    rewritten = location + ref[matched:]
    try:
        parse_named(rewritten)
    except InvalidReferenceError as exc:
        raise InvalidReferenceError(
            ref, f"prefix {prefix!r} -> location {location!r} gives {rewritten!r}: {exc.reason}"
        ) from None
    return rewritten


def logical_name(registry: str, repository: str) -> str:
    """``registry/repository`` normalised as containers/image names images: Docker Hub is
    ``docker.io`` (also for ``index.docker.io``, ``registry-1.docker.io``, ``""``) and a
    one-component Hub repository gets ``library/``."""
    host = _normalize_registry_name(registry)
    return parse_normalized_named(f"{host}/{repository}").name


def endpoints(
    registry: str, repository: str, *, by_digest: bool, config: MirrorConfig
) -> list[Endpoint]:
    """Where to pull ``registry/repository`` from, in order: allowed mirrors, then the origin.

    ``by_digest`` says whether the pull names a digest (mirror-by-digest-only, pull-from-mirror).
    Raises :class:`BlockedRegistryError` when every endpoint is blocked and
    :class:`MirrorConfigError` when a table rewrites the name into something invalid.
    """
    name = logical_name(registry, repository)
    entry = config.find(name)
    if entry is None:
        return [_endpoint(name, insecure=False, mirror=False, scheme=None, source=None)]
    found: list[Endpoint] = []
    for mirror in _mirrors_for(entry, by_digest):
        physical = _rewrite_or_error(name, entry, mirror.location)
        if not _blocked(config, physical):
            found.append(_endpoint(physical, mirror.insecure, True, mirror.scheme, entry.source))
    physical = _rewrite_or_error(name, entry, entry.location)
    if not entry.blocked and not _blocked(config, physical):
        found.append(_endpoint(physical, entry.insecure, False, None, entry.source))
    if not found:
        blocker = entry if entry.blocked else config.find(physical) or entry
        raise BlockedRegistryError(name, blocker.prefix, blocker.source, blocker.line)
    return found


def _mirrors_for(entry: RegistryEntry, by_digest: bool) -> list[Mirror]:
    if entry.mirror_by_digest_only:
        return list(entry.mirrors) if by_digest else []
    wanted = "tag-only" if by_digest else "digest-only"  # the restriction that excludes us
    return [m for m in entry.mirrors if m.pull_from_mirror != wanted]


def _rewrite_or_error(name: str, entry: RegistryEntry, location: str) -> str:
    try:
        return rewrite(name, entry.prefix, location)
    except InvalidReferenceError as exc:
        raise MirrorConfigError(entry.source, exc.reason, line=entry.line) from None


def _blocked(config: MirrorConfig, physical: str) -> bool:
    entry = config.find(physical)
    return entry is not None and entry.blocked


def _endpoint(
    name: str, insecure: bool, mirror: bool, scheme: str | None, source: str | None
) -> Endpoint:
    registry, _, repository = name.partition("/")
    return Endpoint(registry, repository, insecure, mirror, scheme, source)


def _normalize_registry_name(registry: str) -> str:
    return DEFAULT_REGISTRY if registry == DOCKER_HUB_API_HOST else normalize_registry(registry)


# -- registries.conf: text -> MirrorConfig (pure) -------------------------------------------


def parse_registries_conf(data: bytes | str, source: str, *, drop_in: bool = False) -> MirrorConfig:
    """One registries.conf (or, with ``drop_in``, a registries.conf.d file) -> MirrorConfig."""
    if len(data) > MAX_CONFIG_BYTES:
        raise SizeLimitError(f"registries.conf {source}", MAX_CONFIG_BYTES, len(data))
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MirrorConfigError(source, f"not UTF-8 (byte {exc.start})") from None
    try:
        document = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        position = _TOML_POSITION.search(str(exc))
        line = int(position.group(1)) if position else None
        raise MirrorConfigError(source, f"not valid TOML: {exc}", line=line) from None
    except RecursionError:
        raise MirrorConfigError(source, "not valid TOML: nested too deeply") from None
    lines = [data.count("\n", 0, m.start()) + 1 for m in _REGISTRY_HEADER.finditer(data)]
    return _from_document(document, source, drop_in, lines)


def _from_document(
    document: dict[str, Any], source: str, drop_in: bool, header_lines: list[int]
) -> MirrorConfig:
    v1 = _v1_tables(document, source)
    if v1 is not None:
        if drop_in:
            raise MirrorConfigError(source, "registry must be in v2 format but is in v1")
        if _V2_KEYS & document.keys():
            raise MirrorConfigError(source, "mixing sysregistry v1/v2 is not supported")
        return _post_process(_convert_v1(v1, source), v1.get("search"), source)
    tables = document.get("registry", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise MirrorConfigError(source, "[[registry]] must be an array of tables")
    if len(tables) > MAX_REGISTRIES:
        raise SizeLimitError(f"[[registry]] tables in {source}", MAX_REGISTRIES, len(tables))
    lines: list[int | None] = list(header_lines) if len(header_lines) == len(tables) else []
    entries = [
        _entry(table, source, lines[i] if lines else None, i + 1) for i, table in enumerate(tables)
    ]
    search = document.get("unqualified-search-registries")
    return _post_process(entries, search, source)


def _entry(table: dict[str, Any], source: str, line: int | None, number: int) -> RegistryEntry:
    where = f"[[registry]] #{number}"

    def fail(reason: str) -> MirrorConfigError:
        return MirrorConfigError(source, f"{where}: {reason}", line=line)

    location = _location(_string(table, "location", fail), fail)
    prefix = _location(_string(table, "prefix", fail), fail)
    if prefix == "":
        if location == "":
            raise fail("invalid condition: both location and prefix are unset")
        prefix = location
    elif not prefix.startswith("*.") and location == "":
        raise fail(
            "invalid condition: location is unset and prefix is not in the format: *.example.com"
        )
    if prefix.startswith("*.") and any(c in prefix for c in "/@:"):
        raise fail(f"wildcarded prefix {prefix!r} must be in the format *.example.com")
    if _string(table, "pull-from-mirror", fail):
        raise fail(f"pull-from-mirror must not be set for a non-mirror registry {_q(prefix)}")
    by_digest_only = _bool(table, "mirror-by-digest-only", fail)
    raw_mirrors = table.get("mirror", [])
    if not isinstance(raw_mirrors, list) or not all(isinstance(m, dict) for m in raw_mirrors):
        raise fail("[[registry.mirror]] must be an array of tables")
    if len(raw_mirrors) > MAX_MIRRORS:
        raise SizeLimitError(f"mirrors of {where} in {source}", MAX_MIRRORS, len(raw_mirrors))
    mirrors = []
    for raw in raw_mirrors:
        mirror_location = _location(_string(raw, "location", fail), fail)
        if mirror_location == "":
            raise fail("invalid condition: mirror location is unset")
        pull_from = _string(raw, "pull-from-mirror", fail)
        if by_digest_only and pull_from:
            raise fail(
                f"cannot set mirror usage mirror-by-digest-only for the registry ({_q(prefix)}) "
                f"and pull-from-mirror for per-mirror ({_q(mirror_location)}) at the same time"
            )
        if pull_from and pull_from not in PULL_FROM_MIRROR:
            value, mirror_name = _q(pull_from), _q(mirror_location)
            raise fail(f"unsupported pull-from-mirror value {value} for mirror {mirror_name}")
        mirrors.append(Mirror(mirror_location, _bool(raw, "insecure", fail), pull_from or "all"))
    return RegistryEntry(
        prefix,
        location,
        _bool(table, "insecure", fail),
        _bool(table, "blocked", fail),
        by_digest_only,
        tuple(mirrors),
        source,
        line,
    )


def _post_process(entries: list[RegistryEntry], search: Any, source: str) -> MirrorConfig:
    """Conflicts within the file, first table per prefix, sorted; the search list checked."""
    seen: dict[str, RegistryEntry] = {}
    for entry in entries:
        key = entry.location or entry.prefix
        other = seen.setdefault(key, entry)
        for flag in ("insecure", "blocked"):
            if getattr(other, flag) != getattr(entry, flag):
                raise MirrorConfigError(
                    source,
                    f"registry {key!r} is defined multiple times with conflicting {flag!r} setting",
                    line=entry.line,
                )
    unique: dict[str, RegistryEntry] = {}
    for entry in entries:
        unique.setdefault(entry.prefix, entry)
    registries = tuple(unique[prefix] for prefix in sorted(unique))
    if search is None:
        return MirrorConfig(registries, None, None, (source,))
    if not isinstance(search, list) or not all(isinstance(s, str) for s in search):
        raise MirrorConfigError(source, "unqualified-search-registries must be a list of strings")
    if len(search) > MAX_SEARCH_REGISTRIES:
        raise SizeLimitError(f"unqualified-search-registries in {source}", MAX_SEARCH_REGISTRIES)
    cleaned = []
    for item in search:
        host = _location(item, lambda reason: MirrorConfigError(source, reason))
        if not DOMAIN_RE.fullmatch(host):
            raise MirrorConfigError(source, f"invalid unqualified-search-registries entry {host!r}")
        cleaned.append(host)
    return MirrorConfig(registries, tuple(cleaned), source, (source,))


def _v1_tables(document: dict[str, Any], source: str) -> dict[str, list[str]] | None:
    """The version 1 lists that are set (an empty array counts as set), or None."""
    registries = document.get("registries")
    if not isinstance(registries, dict):
        return None
    found: dict[str, list[str]] = {}
    for kind in ("search", "insecure", "block"):
        table = registries.get(kind)
        if isinstance(table, dict) and "registries" in table:
            values = table["registries"]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise MirrorConfigError(source, f"[registries.{kind}] registries must be strings")
            if len(values) > MAX_REGISTRIES:
                raise SizeLimitError(f"[registries.{kind}] in {source}", MAX_REGISTRIES)
            found[kind] = values
    return found or None


def _convert_v1(v1: dict[str, list[str]], source: str) -> list[RegistryEntry]:
    """``ConvertToV2``: one table per location, in order of first mention (block, insecure)."""
    by_location: dict[str, RegistryEntry] = {}

    def fail(reason: str) -> MirrorConfigError:
        return MirrorConfigError(source, reason)

    for kind in ("block", "insecure"):
        for raw in v1.get(kind, []):
            location = _location(raw, fail)
            entry = by_location.get(location, RegistryEntry(location, location, source=source))
            if kind == "block":
                by_location[location] = replace(entry, blocked=True)
            else:
                by_location[location] = replace(entry, insecure=True)
    return list(by_location.values())


def _q(text: str) -> str:
    """Go's %q for the messages upstream tests quote: a double-quoted string."""
    return json.dumps(text)


def _location(value: str, fail: _Fail) -> str:
    """``parseLocation``: trailing slashes stripped; URI schemes refused."""
    trimmed = value.rstrip("/")
    if trimmed.startswith(("http://", "https://")):
        raise fail(f"invalid location {value!r}: URI schemes are not supported")
    return trimmed


def _string(table: dict[str, Any], key: str, fail: _Fail) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise fail(f"{key!r} must be a string, not {type(value).__name__}")
    return value


def _bool(table: dict[str, Any], key: str, fail: _Fail) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise fail(f"{key!r} must be true or false, not {value!r}"[:200])
    return value


# -- daemon.json and session lists: URLs -> MirrorConfig (pure) -----------------------------


def parse_daemon_json(data: bytes | str, source: str = DOCKER_DAEMON_JSON) -> MirrorConfig:
    """Docker's daemon.json -> a ``docker.io`` table holding its ``registry-mirrors``."""
    if len(data) > MAX_CONFIG_BYTES:
        raise SizeLimitError(f"daemon.json {source}", MAX_CONFIG_BYTES, len(data))

    def fail(reason: str, line: int | None = None) -> MirrorConfigError:
        return MirrorConfigError(source, reason, line=line, kind="Docker daemon configuration")

    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON: {exc.msg}", exc.lineno) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise fail(f"not valid JSON: {type(exc).__name__}") from None
    if not isinstance(document, dict):
        raise fail("must be a JSON object")
    urls = document.get("registry-mirrors", [])
    insecure = document.get("insecure-registries", [])
    for key, value in (("registry-mirrors", urls), ("insecure-registries", insecure)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"{key!r} must be a list of strings")
        if len(value) > MAX_MIRRORS * 16:
            raise SizeLimitError(f"{key} in {source}", MAX_MIRRORS * 16, len(value))
    if len(urls) > MAX_MIRRORS:
        raise SizeLimitError(f"registry-mirrors in {source}", MAX_MIRRORS, len(urls))
    if not urls:
        return MirrorConfig(sources=(source,))
    mirrors = tuple(_docker_mirror(url, insecure, fail) for url in urls)
    entry = RegistryEntry(DEFAULT_REGISTRY, DEFAULT_REGISTRY, mirrors=mirrors, source=source)
    return MirrorConfig((entry,), sources=(source,))


def _docker_mirror(url: str, insecure_registries: Sequence[str], fail: _Fail) -> Mirror:
    """moby ``ValidateMirror``, plus: no path (see the module doc)."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        raise fail(f"invalid mirror: no scheme specified for {url!r}: use https:// or http://")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as exc:
        raise fail(f"invalid mirror: {url!r} is not a valid URI ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise fail(f"invalid mirror: unsupported scheme {parts.scheme!r} in {url!r}")
    if parts.query or parts.fragment:
        raise fail(f"invalid mirror: query or fragment at end of the URI {url!r}")
    if "@" in parts.netloc:
        raise fail("invalid mirror: username/password not allowed in a mirror URI")
    if parts.path not in ("", "/"):
        raise fail(f"invalid mirror: a path ({parts.path!r}) is not supported by ociinspect")
    host = parts.netloc
    hostname = (parts.hostname or "").lower()
    if not host or not DOMAIN_RE.fullmatch(host):
        raise fail(f"invalid mirror: bad host in {url!r}")
    insecure = parts.scheme == "http" or _listed_insecure(host, hostname, insecure_registries)
    return Mirror(host, insecure, "all", parts.scheme)


def _listed_insecure(host: str, hostname: str, listed: Sequence[str]) -> bool:
    """``insecure-registries`` names host[:port] or CIDRs; names are not resolved here."""
    if host in listed:
        return True
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        return False
    for item in listed:
        try:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        except ValueError:
            continue
    return False


def _session_mirror(item: str, source: str) -> Mirror:
    def fail(reason: str) -> MirrorConfigError:
        return MirrorConfigError(source, reason, kind="mirror list")

    if not isinstance(item, str):
        raise fail(f"a mirror must be a string, not {type(item).__name__}")
    if "://" in item:
        return _docker_mirror(item, (), fail)
    location = _location(item, fail)
    host = location.partition("/")[0]
    if not location or not DOMAIN_RE.fullmatch(host):
        raise fail(f"invalid mirror {item!r}: expected host[:port][/namespace] or a URL")
    return Mirror(location)


def _bounded(items: Iterable[str], limit: int, source: str, what: str) -> Iterable[str]:
    for count, item in enumerate(items):
        if count >= limit:
            raise SizeLimitError(f"{what} in {source}", limit)
        yield item


# -- where the files are (pure) and reading them (the only I/O) -----------------------------


@dataclass(frozen=True)
class ConfigPlan:
    """Which registries.conf to read (and whether it must exist), then which drop-in dirs."""

    main: str
    main_required: bool
    drop_in_dirs: tuple[str, ...]


@dataclass(frozen=True)
class ConfigLocations:
    """The candidate paths an environment implies; :meth:`plan` picks among them."""

    override: str | None
    user_file: str | None
    user_dir: str | None
    system_file: str = SYSTEM_REGISTRIES_CONF
    system_dir: str = SYSTEM_REGISTRIES_CONF_D

    def plan(self, *, user_file_exists: bool) -> ConfigPlan:
        """``newConfigWrapperWithHomeDir``: override, else an existing user file, else system."""
        user_dirs = (self.user_dir,) if self.user_dir else ()
        if self.override:
            return ConfigPlan(self.override, True, (self.system_dir, *user_dirs))
        if user_file_exists and self.user_file:
            return ConfigPlan(self.user_file, True, user_dirs)
        return ConfigPlan(self.system_file, False, (self.system_dir, *user_dirs))


def locations(env: Mapping[str, str]) -> ConfigLocations:
    """Where registries.conf may be, from an environment mapping (``os.environ`` or a dict)."""
    override = env.get("CONTAINERS_REGISTRIES_CONF") or None
    if "CONTAINERS_REGISTRIES_CONF" not in env:
        override = env.get("REGISTRIES_CONFIG_PATH") or None
    home = env.get("HOME") or None
    user_file = os.path.join(home, USER_REGISTRIES_CONF) if home else None
    user_dir = os.path.join(home, USER_REGISTRIES_CONF_D) if home else None
    return ConfigLocations(override, user_file, user_dir)


def read_registries_conf(plan: ConfigPlan) -> MirrorConfig:
    """Read the main file and the drop-ins of ``plan`` (missing drop-in dirs are fine)."""
    data = _read(plan.main, "registries.conf")
    if data is None:
        if plan.main_required:
            raise MirrorConfigError(plan.main, "no such file or directory")
        config = MirrorConfig()
    else:
        config = parse_registries_conf(data, plan.main)
    for path in _drop_ins(plan.drop_in_dirs):
        dropped = _read(path, "registries.conf")
        if dropped is not None:  # removed since the listing: skipped, as upstream does
            config = config.merged(parse_registries_conf(dropped, path, drop_in=True))
    return config


def read_daemon_json(path: str = DOCKER_DAEMON_JSON, *, required: bool = False) -> MirrorConfig:
    """Docker's daemon.json at ``path``; a missing file has no mirrors unless ``required``."""
    data = _read(path, "Docker daemon configuration")
    if data is None:
        if required:
            raise MirrorConfigError(path, "no such file", kind="Docker daemon configuration")
        return MirrorConfig()
    return parse_daemon_json(data, path)


def from_env(
    env: Mapping[str, str], *, daemon_json: str | None = DOCKER_DAEMON_JSON
) -> MirrorConfig:
    """Locate and read every source an environment implies (``daemon_json=None`` skips Docker)."""
    where = locations(env)
    user_exists = bool(where.user_file) and os.path.exists(where.user_file or "")
    containers = read_registries_conf(where.plan(user_file_exists=user_exists))
    docker = read_daemon_json(daemon_json) if daemon_json else MirrorConfig()
    return docker.merged(containers)


def _drop_ins(directories: Sequence[str]) -> list[str]:
    """``*.conf`` regular files of each directory (no recursion), each directory sorted."""
    paths: list[str] = []
    for directory in directories:
        try:
            with os.scandir(directory) as entries:
                names = sorted(
                    e.name for e in entries if e.name.endswith(".conf") and not e.is_dir()
                )
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise MirrorConfigError(directory, f"cannot list: {exc.strerror}") from None
        paths.extend(os.path.join(directory, name) for name in names)
        if len(paths) > MAX_DROP_INS:
            raise SizeLimitError("registries.conf.d drop-in files", MAX_DROP_INS, len(paths))
    return paths


def _read(path: str, kind: str) -> bytes | None:
    """At most MAX_CONFIG_BYTES of the regular file ``path``; None when it does not exist.

    Opened non-blocking and checked with fstat, so a FIFO or device dropped into a
    ``registries.conf.d`` is refused instead of hanging or streaming forever.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MirrorConfigError(path, f"cannot read: {exc.strerror or exc}", kind=kind) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise MirrorConfigError(path, "not a regular file", kind=kind)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise MirrorConfigError(
                path, f"cannot read: {exc.strerror or exc}", kind=kind
            ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise SizeLimitError(f"{kind} {path}", MAX_CONFIG_BYTES)
    return data


__all__ = [
    "BlockedRegistryError",
    "ConfigLocations",
    "ConfigPlan",
    "Endpoint",
    "Mirror",
    "MirrorConfig",
    "MirrorConfigError",
    "RegistryEntry",
    "endpoints",
    "from_env",
    "locations",
    "logical_name",
    "match_prefix",
    "parse_daemon_json",
    "parse_registries_conf",
    "read_daemon_json",
    "read_registries_conf",
    "rewrite",
]
