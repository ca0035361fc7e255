"""Pull limits: how many pulls a registry still allows, found out without spending one.

Docker Hub counts every manifest GET as a pull and answers HEAD with the same rate-limit
headers without counting it (docker/docs ``content/manuals/docker-hub/usage/pulls.md``, "View pull
rate and limit", whose example HEADs ``ratelimitpreview/test:latest``). :func:`ratelimit` sends
one HEAD (after the token handshake the registry asks for) and never a GET::

    >>> oi.ratelimit()                       # Docker Hub, as this address (or login) sees it
    >>> oi.ratelimit("docker.io/library/python:3.12")
    >>> oi.ratelimit("registry.example")     # another registry: HEAD /v2/

Every table call reports what it spent: ``session.trace.summary(mark).pulls`` counts the manifest
GETs since ``mark = session.trace.mark()``, and each exchange of the trace table carries what
the registry said of the limit (:func:`ociinspect.tables.trace_frame`).
"""

from __future__ import annotations

from .distribution.mirrors import logical_name
from .errors import InvalidReferenceError, SourceError
from .session import Session, session_of
from .tables import Table
from .tables.ratelimit import ratelimit_frame
from .values.reference import DEFAULT_REGISTRY, DOCKER_HUB_API_HOST, LEGACY_DEFAULT_REGISTRY
from .values.reference import parse as parse_reference

#: The image Docker's documentation HEADs to read the limit.
PROBE_REPOSITORY = "ratelimitpreview/test"
PROBE_TAG = "latest"
_HUB = (DEFAULT_REGISTRY, LEGACY_DEFAULT_REGISTRY, DOCKER_HUB_API_HOST)


def _target(text: str) -> tuple[str, str | None, str]:
    """(registry, repository or None, tag or digest) that ``text`` names."""
    text = text.strip()
    if text.startswith("docker://"):
        text = text[len("docker://") :]
    if not text:
        raise InvalidReferenceError(text, "name a registry (docker.io) or an image")
    bare = "/" not in text and ("." in text or ":" in text or text == "localhost")
    if bare and "@" not in text:
        if text.lower() in _HUB:
            return DEFAULT_REGISTRY, PROBE_REPOSITORY, PROBE_TAG
        return text.lower(), None, PROBE_TAG
    ref = parse_reference(text)
    return ref.registry, ref.repository, ref.identifier


def ratelimit(registry_or_ref: str = DEFAULT_REGISTRY, *, session: Session | None = None) -> Table:
    """What ``registry_or_ref`` says of its pull limit, from one HEAD that costs no pull.

    A registry name (``docker.io``, ``ghcr.io``) or an image reference (``alpine:3.20``).
    For Docker Hub the HEAD goes to the image Docker's docs use (``ratelimitpreview/test``),
    for another bare registry to ``/v2/``. The origin is asked, never a mirror (the question is
    what the origin still allows). One row (columns: :func:`.tables.ratelimit.ratelimit_frame`);
    ``limit`` and ``remaining`` are <NA> where the registry announces no limit (GHCR, Quay, a
    paid Docker account).
    """
    work = session_of(session)
    if work.settings.offline:
        raise SourceError("offline: the rate limit is the registry's to say; go online to ask it")
    registry, repository, reference = _target(registry_or_ref)
    mark = work.trace.mark()
    status, rate = work.client.probe_rate_limit(registry, repository, reference)
    spent = work.trace.summary(mark).pulls
    mirrors: tuple[str, ...] = ()
    if repository is not None:
        try:
            entry = work.settings.mirrors.find(logical_name(registry, repository))
        except InvalidReferenceError:
            entry = None
        if entry is not None:
            mirrors = tuple(m.location for m in entry.mirrors)
    logged_in = work.client.credentials_for(registry, repository) is not None
    return ratelimit_frame(
        registry,
        repository,
        rate,
        status=status,
        logged_in=logged_in,
        mirrors=mirrors,
        pulls_spent=spent,
    )


__all__ = ["PROBE_REPOSITORY", "ratelimit"]
