"""Image references, parsed and normalised the way the Docker CLI does it.

The grammar is distribution/reference's (``reference.go``; regexes in ``regexp.go``)::

    reference         := name [ ":" tag ] [ "@" digest ]
    name              := [domain "/"] remote-name
    domain            := host [":" port-number]
    host              := domain-name | IPv4address | "[" IPv6address "]"   ; rfc3986 appendix-A
    domain-name       := domain-component ["." domain-component]*
    domain-component  := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number       := /[0-9]+/
    remote-name       := path-component ["/" path-component]*
    path-component    := alpha-numeric [separator alpha-numeric]*
    alpha-numeric     := /[a-z0-9]+/
    separator         := /[_.]|__|[-]+/
    tag               := /[\\w][\\w.-]{0,127}/
    digest            := algorithm ":" hex
    algorithm         := /[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*/
    hex               := /[0-9a-fA-F]{32,}/     ; then validated by ociinspect.values.digest (exact
    length) identifier        := /[a-f0-9]{64}/         ; an image ID, never a repository name

Normalisation (``normalize.go``): a first component is a registry host when it contains ``.``
or ``:``, is ``localhost``, or has an uppercase letter; otherwise the registry is ``docker.io``
and a single-component name gets the ``library/`` prefix. ``index.docker.io`` is written
``docker.io``. The path (name without host) is at most 255 characters.

Functions, with the distribution function each mirrors:

* :func:`parse` -- what ``docker pull`` uses: normalised, default tag ``latest``; a reference
  with both tag and digest keeps both, and :attr:`Reference.identifier` is the digest.
* :func:`parse_docker_ref` -- ``ParseDockerRef`` exactly (the tag is dropped beside a digest).
* :func:`parse_normalized_named` -- ``ParseNormalizedNamed`` (no default tag).
* :func:`parse_raw` -- ``Parse``: syntax only; ``registry`` is ``""`` when none was written.
* :func:`parse_any` -- ``ParseAnyReference``: a bare 64-hex ID or ``alg:hex`` is a :class:`Digest`.
* :func:`parse_named` -- ``ParseNamed``: the text must already be canonical.
* :func:`with_name`, :meth:`Reference.with_tag`, :meth:`Reference.with_digest` -- ``WithName``,
  ``WithTag``, ``WithDigest``.
* :func:`familiar_match` -- ``FamiliarMatch`` (``path.Match`` on the familiar form).

One deliberate difference: where distribution's normalisation yields a name with *no*
registry (``foo_bar.com/app``: the first component looks like a host but is not one),
:func:`parse_normalized_named` and the functions built on it refuse the text.

Every failure is an :class:`~ociinspect.errors.InvalidReferenceError` whose ``reason`` starts
with distribution's message (``invalid reference format``, ``repository name must be
lowercase``...) followed, where it can tell, by which part is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from ..errors import InvalidDigestError, InvalidReferenceError
from .digest import Digest

#: Docker Hub as written in normalised references, and the host its API answers on.
DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
LEGACY_DEFAULT_REGISTRY = "index.docker.io"
OFFICIAL_REPOSITORY_PREFIX = "library/"
DEFAULT_TAG = "latest"
#: reference.go NameTotalLengthMax: applies to the path (the name without its registry).
NAME_TOTAL_LENGTH_MAX = 255
TAG_LENGTH_MAX = 128

# --- grammar (regexp.go), composed from the productions above; always used with fullmatch ---
_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6_ADDRESS = r"\[[a-fA-F0-9:]+\]"  # no zone ids (rfc6874), no IPv4-embedded forms
_DOMAIN_AND_PORT = rf"(?:{_DOMAIN_NAME}|{_IPV6_ADDRESS})(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"  # Go's \w is ASCII-only; Python's is not
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN_AND_PORT}/)?{_REMOTE_NAME}"

#: ``domainAndPort``: a registry host with optional port.
DOMAIN_RE = re.compile(_DOMAIN_AND_PORT)
#: ``anchoredNameRegexp``: groups ``domain`` (None when absent) and ``path``.
NAME_RE = re.compile(rf"(?:(?P<domain>{_DOMAIN_AND_PORT})/)?(?P<path>{_REMOTE_NAME})")
#: ``ReferenceRegexp``: groups ``name``, ``tag``, ``digest``.
REFERENCE_RE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")
#: ``anchoredTagRegexp``.
TAG_RE = re.compile(_TAG)
#: ``anchoredDigestRegexp``: the reference grammar's (looser) view of a digest.
DIGEST_RE = re.compile(_DIGEST)
#: ``anchoredIdentifierRegexp``: a 64-hex image ID.
IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
_REMOTE_NAME_RE = re.compile(_REMOTE_NAME)

# distribution's sentinel messages; reasons start with them so they can be recognised.
_INVALID_FORMAT = "invalid reference format"
_NAME_EMPTY = "repository name must have at least one component"
_UPPERCASE = "repository name must be lowercase"
_TOO_LONG = f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
_NOT_CANONICAL = "repository name must be canonical"
_TAG_FORMAT = "invalid tag format"
_DIGEST_FORMAT = "invalid digest format"


@dataclass(frozen=True)
class Reference:
    """A parsed image reference. Build one with :func:`parse` (or a sibling), not by hand.

    ``registry`` is ``""`` only for :func:`parse_raw` / :func:`with_name` results that named no
    registry. ``digest`` is a :class:`Digest` (text given is parsed by :meth:`Digest.parse`).
    """

    registry: str
    repository: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        text = self._text()
        if not isinstance(self.registry, str) or (
            self.registry and not DOMAIN_RE.fullmatch(self.registry)
        ):
            raise InvalidReferenceError(text, f"{_INVALID_FORMAT}: bad registry {self.registry!r}")
        if not isinstance(self.repository, str) or not _REMOTE_NAME_RE.fullmatch(self.repository):
            raise InvalidReferenceError(
                text, f"{_INVALID_FORMAT}: bad repository path {self.repository!r}"
            )
        if len(self.repository) > NAME_TOTAL_LENGTH_MAX:
            raise InvalidReferenceError(text, _TOO_LONG)
        if self.tag is not None and not (isinstance(self.tag, str) and TAG_RE.fullmatch(self.tag)):
            raise InvalidReferenceError(text, f"{_TAG_FORMAT}: {_tag_problem(self.tag)}")
        if self.digest is not None:
            try:
                digest = Digest.parse(self.digest)
            except InvalidDigestError as exc:
                raise InvalidReferenceError(text, f"{_DIGEST_FORMAT}: {exc.reason}") from None
            object.__setattr__(self, "digest", digest)  # text given is parsed once, here

    def _text(self) -> str:
        name = f"{self.registry}/{self.repository}" if self.registry else f"{self.repository}"
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{name}{tag}{digest}"

    def __str__(self) -> str:
        """``registry/repository[:tag][@digest]``, as distribution's ``String()``."""
        return self._text()

    @property
    def name(self) -> str:
        """``registry/repository``, e.g. ``docker.io/library/ubuntu``."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def identifier(self) -> str:
        """What to ask the registry for: the digest if set, else the tag, else ``latest``."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def api_host(self) -> str:
        """The host whose ``/v2/`` API serves this registry (Docker Hub's is not docker.io)."""
        if self.registry in (DEFAULT_REGISTRY, LEGACY_DEFAULT_REGISTRY):
            return DOCKER_HUB_API_HOST
        return self.registry

    @property
    def familiar_name(self) -> str:
        """The name as ``docker images`` shows it: ``ubuntu``, ``user/app``, ``ghcr.io/o/app``."""
        if self.registry != DEFAULT_REGISTRY:
            return self.name
        path = self.repository
        rest = path.removeprefix(OFFICIAL_REPOSITORY_PREFIX)
        # normalize.go familiarizeName: only "library/<one component>" is shortened.
        return rest if rest != path and "/" not in rest else path

    @property
    def familiar(self) -> str:
        """The short form, e.g. ``ubuntu:latest`` (distribution's ``FamiliarString``)."""
        tag = f":{self.tag}" if self.tag is not None else ""
        digest = f"@{self.digest}" if self.digest is not None else ""
        return f"{self.familiar_name}{tag}{digest}"

    def with_tag(self, tag: str) -> Reference:
        """This reference with ``tag`` (``WithTag``); the digest, if any, is kept."""
        if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
            raise InvalidReferenceError(f"{self.name}:{tag}", f"{_TAG_FORMAT}: {_tag_problem(tag)}")
        return replace(self, tag=tag)

    def with_digest(self, digest: str | Digest) -> Reference:
        """This reference pinned to ``digest`` (``WithDigest``); the tag, if any, is kept.

        Unlike distribution's ``WithDigest``, the digest must be one ociinspect can verify
        (right algorithm and length): a truncated digest can never match any content.
        """
        try:
            parsed = Digest.parse(digest)
        except InvalidDigestError as exc:
            raise InvalidReferenceError(
                f"{self.name}@{digest}", f"{_DIGEST_FORMAT}: {exc.reason}"
            ) from None
        return replace(self, digest=parsed)


def _tag_problem(tag: object) -> str:
    if not isinstance(tag, str):
        return "a tag must be a string"
    if not tag:
        return "the tag after ':' is empty"
    if len(tag) > TAG_LENGTH_MAX:
        return f"tag too long ({len(tag)} characters, at most {TAG_LENGTH_MAX})"
    return (
        f"tag {tag!r} may only use letters, digits, '_', '.' and '-', "
        "and must not start with '.' or '-'"
    )


def _diagnose(text: str) -> str:
    """Best-effort hint saying which part of an unparsable reference is wrong."""
    if not text:
        return "the reference is empty"
    if "://" in text:
        scheme = text.split("://", 1)[0]
        return f"a reference has no URL scheme; drop {scheme + '://'!r}"
    if any(ch.isspace() for ch in text):
        return "a reference cannot contain whitespace"
    name_tag, at, digest = text.partition("@")
    if at:
        if "@" in digest:
            return "only one '@digest' is allowed"
        if not DIGEST_RE.fullmatch(digest):
            return "the digest after '@' must be algorithm:hex with at least 32 hex digits"
    if name_tag.startswith("[") and "/" not in name_tag:
        return "a registry host must be followed by '/' and a repository path"
    name = name_tag
    colon = name_tag.rfind(":")
    if colon > name_tag.rfind("/"):
        name, tag = name_tag[:colon], name_tag[colon + 1 :]
        if not TAG_RE.fullmatch(tag):
            return _tag_problem(tag)
    if not name:
        return "the repository name is missing"
    components = name.split("/")
    if "" in components:
        return "empty path component (a leading, trailing or doubled '/')"
    if len(components) > 1 and DOMAIN_RE.fullmatch(components[0]):
        components = components[1:]
    elif len(components) > 1 and (":" in components[0] or "[" in components[0]):
        return (
            f"registry {components[0]!r} is not host[:port] "
            "(an IPv6 address goes in brackets, without a zone)"
        )
    for component in components:
        if not _PATH_COMPONENT_RE.fullmatch(component):
            return (
                f"path component {component!r} must be lowercase letters and digits "
                "separated by '.', '_', '__' or dashes"
            )
    return ""


def _invalid_format(text: str) -> InvalidReferenceError:
    hint = _diagnose(text)
    return InvalidReferenceError(text, f"{_INVALID_FORMAT}: {hint}" if hint else _INVALID_FORMAT)


def _require_str(text: object) -> str:
    if not isinstance(text, str):
        raise InvalidReferenceError(repr(text), f"expected a string, got {type(text).__name__}")
    return text


def parse_raw(text: str) -> Reference:
    """Parse without normalising (distribution's ``Parse``); ``registry`` may be ``""``."""
    text = _require_str(text)
    match = REFERENCE_RE.fullmatch(text)
    if match is None:
        if not text:
            raise InvalidReferenceError(text, _NAME_EMPTY)
        if REFERENCE_RE.fullmatch(text.lower()):
            raise InvalidReferenceError(text, _UPPERCASE)
        raise _invalid_format(text)
    name = NAME_RE.fullmatch(match["name"])
    assert name is not None  # the reference grammar contains the name grammar
    if len(name["path"]) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            text, f"{_TOO_LONG} (the path after the registry has {len(name['path'])})"
        )
    digest = None
    if match["digest"] is not None:
        try:
            digest = Digest.parse(match["digest"])
        except InvalidDigestError as exc:
            raise InvalidReferenceError(text, f"{_DIGEST_FORMAT}: {exc.reason}") from None
    return Reference(name["domain"] or "", name["path"], match["tag"], digest)


def _split_docker_domain(text: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain: (registry, remainder) with Docker Hub defaults."""
    first, slash, rest = text.partition("/")
    if not slash:
        return DEFAULT_REGISTRY, OFFICIAL_REPOSITORY_PREFIX + text
    if first == LEGACY_DEFAULT_REGISTRY:
        first = DEFAULT_REGISTRY
    elif not (first == "localhost" or "." in first or ":" in first or first.lower() != first):
        return DEFAULT_REGISTRY, text
    if first == DEFAULT_REGISTRY and "/" not in rest:
        rest = OFFICIAL_REPOSITORY_PREFIX + rest
    return first, rest


def parse_normalized_named(text: str) -> Reference:
    """Normalise as the Docker CLI does (``ParseNormalizedNamed``); no default tag is added."""
    text = _require_str(text)
    if IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError(
            text,
            f"{_INVALID_FORMAT}: a 64-character hex string is an image ID, not a repository "
            "name (write sha256:<id> to mean the digest)",
        )
    registry, remainder = _split_docker_domain(text)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        raise InvalidReferenceError(text, f"{_UPPERCASE} (got {remote!r})")
    try:
        ref = parse_raw(f"{registry}/{remainder}")
    except InvalidReferenceError as exc:
        if exc.reason.startswith(_INVALID_FORMAT):
            raise _invalid_format(text) from None
        raise InvalidReferenceError(text, exc.reason) from None
    if ref.registry != registry:
        # Deliberate divergence: for "foo_bar.com/app" distribution returns a name with no
        # registry at all (the host-looking component fails the host grammar but passes as a
        # path). Nothing could pull that, so say why instead.
        raise InvalidReferenceError(
            text, f"{_INVALID_FORMAT}: {registry!r} looks like a registry but is not host[:port]"
        )
    return ref


def parse(text: str) -> Reference:
    """Parse a reference as ``docker pull`` does: ``ubuntu`` -> ``docker.io/library/ubuntu:latest``.

    A reference with a tag and a digest keeps both; :attr:`Reference.identifier` is the digest.
    """
    ref = parse_normalized_named(text)
    if ref.tag is None and ref.digest is None:
        return replace(ref, tag=DEFAULT_TAG)
    return ref


def parse_docker_ref(text: str) -> Reference:
    """distribution's ``ParseDockerRef``: like :func:`parse`, but a digest drops the tag."""
    ref = parse(text)
    return replace(ref, tag=None) if ref.digest is not None else ref


def parse_any(text: str) -> Reference | Digest:
    """``ParseAnyReference``: a 64-hex image ID or ``alg:hex`` is a :class:`Digest`."""
    text = _require_str(text)
    if IDENTIFIER_RE.fullmatch(text):
        return Digest("sha256", text)
    try:
        return Digest.parse(text)
    except InvalidDigestError:
        return parse_normalized_named(text)


def parse_named(text: str) -> Reference:
    """``ParseNamed``: accept only text that is already fully qualified and canonical."""
    ref = parse_normalized_named(text)
    if str(ref) != text:
        raise InvalidReferenceError(text, f"{_NOT_CANONICAL}: write {str(ref)!r}")
    return ref


def with_name(name: str) -> Reference:
    """``WithName``: a repository name alone (no tag, no digest, no normalisation)."""
    name = _require_str(name)
    match = NAME_RE.fullmatch(name)
    if match is None:  # "" included: WithName says ErrReferenceInvalidFormat for it
        raise _invalid_format(name)
    if len(match["path"]) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            name, f"{_TOO_LONG} (the path after the registry has {len(match['path'])})"
        )
    return Reference(match["domain"] or "", match["path"])


def normalize_registry(host: str) -> str:
    """Validate a registry ``host[:port]``; ``""`` and ``index.docker.io`` become ``docker.io``."""
    host = _require_str(host)
    if host in ("", LEGACY_DEFAULT_REGISTRY):
        return DEFAULT_REGISTRY
    if not DOMAIN_RE.fullmatch(host):
        raise InvalidReferenceError(
            host, "registry must be host[:port] (letters, digits, '-', '.', or [IPv6])"
        )
    return host


def _go_path_match_regex(pattern: str) -> re.Pattern[str]:
    """Translate Go's ``path.Match`` pattern: ``*`` and ``?`` stop at ``/``; ``[^...]`` negates."""
    out: list[str] = []
    i, n = 0, len(pattern)

    def bad(why: str) -> InvalidReferenceError:
        return InvalidReferenceError(pattern, f"syntax error in pattern: {why}")

    def char_at(j: int) -> tuple[str, int]:
        if j >= n:
            raise bad("unterminated character class")
        if pattern[j] == "\\":
            if j + 1 >= n:
                raise bad("trailing backslash")
            return pattern[j + 1], j + 2
        if pattern[j] in "-]":
            raise bad(f"unexpected {pattern[j]!r} in character class")
        return pattern[j], j + 1

    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise bad("trailing backslash")
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            items: list[str] = []
            count = 0
            while not (i < n and pattern[i] == "]" and count):
                lo, i = char_at(i)
                hi = lo
                if i < n and pattern[i] == "-":
                    hi, i = char_at(i + 1)
                count += 1
                if lo <= hi:  # Go accepts a reversed range; it matches nothing
                    items.append(f"{re.escape(lo)}-{re.escape(hi)}")
            i += 1
            body = "".join(items)
            if negate:  # unlike '*' and '?', a class may match '/' in Go
                out.append(f"[^{body}]" if body else "(?s:.)")
            else:
                out.append(f"[{body}]" if body else "(?!)")
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def familiar_match(pattern: str, ref: Reference | Digest) -> bool:
    """``FamiliarMatch``: Go ``path.Match`` of ``pattern`` on the familiar string, then name.

    A malformed pattern raises :class:`InvalidReferenceError` (Go: ``path.ErrBadPattern``).
    """
    regex = _go_path_match_regex(pattern)
    if isinstance(ref, Digest):
        return regex.fullmatch(str(ref)) is not None
    return bool(regex.fullmatch(ref.familiar) or regex.fullmatch(ref.familiar_name))


def _split_host(host: str) -> str:
    """The hostname part of ``host[:port]`` / ``[v6]:port`` / bare ``v6``, lowercased."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    if host.count(":") > 1:  # a bare IPv6 literal such as "::1"
        return host.lower()
    return host.partition(":")[0].lower()


def _ip(hostname: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(hostname)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """True for ``localhost``, ``*.localhost`` (RFC 6761 section 6.3), 127.0.0.0/8 and ::1;
    ``host`` may carry a port and IPv6 brackets."""
    hostname = _split_host(host)
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    address = _ip(hostname)
    return address is not None and address.is_loopback


def default_scheme(host: str) -> str:
    """``"http"`` for loopback registries (:func:`is_loopback`), ``"https"`` for everything
    else, including RFC 1918 addresses (go-containerregistry uses http for those; ociinspect
    does not send traffic in clear text off the machine)."""
    return "http" if is_loopback(host) else "https"


_RFC1918 = tuple(
    ipaddress.IPv4Network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def is_rfc1918(host: str) -> bool:
    """True when ``host[:port]`` is an IPv4 address in a private range of RFC 1918 section 3."""
    address = _ip(_split_host(host))
    return isinstance(address, ipaddress.IPv4Address) and any(address in n for n in _RFC1918)


__all__ = [
    "DEFAULT_REGISTRY",
    "DEFAULT_TAG",
    "DIGEST_RE",
    "DOCKER_HUB_API_HOST",
    "DOMAIN_RE",
    "IDENTIFIER_RE",
    "NAME_RE",
    "REFERENCE_RE",
    "TAG_RE",
    "Reference",
    "default_scheme",
    "is_loopback",
    "familiar_match",
    "is_rfc1918",
    "normalize_registry",
    "parse",
    "parse_any",
    "parse_docker_ref",
    "parse_named",
    "parse_normalized_named",
    "parse_raw",
    "with_name",
]
