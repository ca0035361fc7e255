"""Where a repository request goes (configured mirrors in order, then the origin) and what each
answer said about rate limits. No I/O: :class:`~ociinspect.distribution.client.RegistryClient`
asks, this module decides.

Routing follows :func:`ociinspect.distribution.mirrors.endpoints` (registries.conf, Docker's
daemon.json ``registry-mirrors``, a Session's ``mirrors``): a name no configuration mentions goes
to its own registry as given. A mirror answer is used when its status is one the caller accepts;
any other answer, or no answer, moves on to the next endpoint, the origin last (as
containers/image and moby do), and the origin's answer is final. Content addressed by digest is
verified by the caller whoever served it: a mirror that serves other bytes is a
:class:`~ociinspect.errors.DigestMismatchError`, not a reason to trust the next one less.

While an endpoint is being asked, :func:`asking` records which (a context variable: the client's
loops run in the caller's thread), so the trace marks exchanges that a mirror answered
(``Exchange.mirror_for``) and credentials are looked up for the mirror's own host: the
origin's never go to a mirror.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

from ..errors import InvalidReferenceError, RateLimitedError
from ..values.reference import is_loopback
from . import ratelimit
from .mirrors import Endpoint, MirrorConfig, endpoints, logical_name
from .protocol import api_host
from .trace import Exchange


@dataclass(frozen=True)
class Asking:
    """The endpoint a request is for: ``registry``/``repository`` as asked there, and, for a
    mirror, the registry it stands in for."""

    registry: str
    repository: str
    mirror_for: str | None = None


_asking: ContextVar[Asking | None] = ContextVar("ociinspect_asking", default=None)


@contextlib.contextmanager
def asking(where: Asking) -> Iterator[None]:
    """Mark the requests sent inside the block as being for ``where``."""
    token = _asking.set(where)
    try:
        yield
    finally:
        _asking.reset(token)


def current() -> Asking | None:
    """The endpoint being asked in this thread, if any."""
    return _asking.get()


def by_digest(path: str) -> bool:
    """Whether ``manifests/<ref>``, ``blobs/<digest>`` or ``referrers/<digest>`` names content by
    digest (mirror-by-digest-only and pull-from-mirror decide on it)."""
    kind, _, rest = path.partition("/")
    if kind == "manifests":
        return ":" in rest.split("?", 1)[0]
    return kind in ("blobs", "referrers")


def plan(
    registry: str, repository: str, path: str, config: MirrorConfig | None
) -> list[Endpoint]:
    """The endpoints to try for ``registry/repository``, the last one final.

    Raises :class:`~ociinspect.distribution.mirrors.BlockedRegistryError` when configuration
    blocks every endpoint.
    """
    origin = [Endpoint(registry, repository)]
    if config is None or not config.registries:
        return origin
    try:
        if config.find(logical_name(registry, repository)) is None:
            return origin
    except InvalidReferenceError:
        return origin
    return endpoints(registry, repository, by_digest=by_digest(path), config=config)


def schemes(config: MirrorConfig | None) -> dict[str, str]:
    """Schemes the configuration fixes per host: a daemon.json mirror's URL scheme; ``http``
    for an ``insecure`` mirror or location that is not loopback (which would be http anyway)."""
    found: dict[str, str] = {}
    if config is None:
        return found
    for entry in config.registries:
        places = [(m.location, m.scheme, m.insecure) for m in entry.mirrors]
        places.append((entry.location, None, entry.insecure))
        for location, scheme, insecure in places:
            host = location.partition("/")[0]
            if not host:
                continue
            if scheme is not None:
                found.setdefault(host, scheme)
            elif insecure and not is_loopback(host):
                found.setdefault(host, "http")
    return found


def mirrored(config: MirrorConfig | None, registry: str, repository: str | None) -> bool:
    """Whether mirrors are configured for this repository (the 429 hint then says "wait")."""
    if config is None or repository is None:
        return False
    try:
        return config.has_mirrors(registry, repository)
    except InvalidReferenceError:
        return False


def annotate(exchange: Exchange, headers: Mapping[str, str] | None, now: datetime) -> Exchange:
    """``exchange`` with the rate limit its answer announced and, for a request to a mirror's
    own host (not its token server or CDN), the registry the mirror stood in for."""
    rate = ratelimit.parse(headers, now) if headers else None
    where = current()
    mirror_for = where.mirror_for if where is not None else None
    if where is not None and mirror_for is not None:
        host = urlsplit(exchange.url).netloc.lower()
        mirror_for = mirror_for if host == host_of(where.registry).lower() else None
    if rate is None and mirror_for is None:
        return exchange
    return replace(exchange, ratelimit=rate, mirror_for=mirror_for)


def rate_limited(
    error: RateLimitedError,
    headers: Mapping[str, str],
    now: datetime,
    *,
    logged_in: bool,
    mirror_configured: bool,
) -> RateLimitedError:
    """``error`` again, with what the 429's headers said and the next step in its message."""
    rate = ratelimit.parse(headers, now)
    advice = ratelimit.hint(
        rate, now, logged_in=logged_in, mirror_configured=mirror_configured
    )
    better = RateLimitedError(
        error.method,
        error.url,
        error.status,
        error.errors,
        reason=ratelimit.error_reason(rate, advice),
    )
    better.ratelimit = rate
    better.hint = advice
    return better


def host_of(registry: str) -> str:
    """The host requests for ``registry`` go to (``docker.io`` -> ``registry-1.docker.io``)."""
    return api_host(registry)


__all__ = [
    "Asking",
    "annotate",
    "asking",
    "by_digest",
    "current",
    "host_of",
    "mirrored",
    "plan",
    "rate_limited",
    "schemes",
]
