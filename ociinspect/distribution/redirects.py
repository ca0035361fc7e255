"""One redirect hop, decided without I/O: where it goes, with which method, what it may carry.

:mod:`ociinspect.distribution.client` runs the one redirect loop (hop count, loops, dropping
credentials); :func:`next_hop` is its rule for each hop:

- RFC 9110 section 15.4: 301, 302, 303, 307 and 308 with a ``Location``, a URI reference
  resolved against the request's URL (section 10.2.2); only http(s) targets are followed;
- RFC 9110 section 15.4.4: 303 turns the request into GET without a body, and so do 301 and
  302 after POST (sections 15.4.2 and 15.4.3 allow it; browsers and requests do it); 307 and
  308 keep the method and body (sections 15.4.8 and 15.4.9);
- ociinspect's own rules, as docker and containerd: never from https down to http, never a
  body (an OAuth2 form holding a refresh token) re-sent to another origin, and, when the origin
  changes, no credentials (the caller drops ``Authorization``: a CDN never sees them).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InsecureRedirectError, RedirectError, UnsafeUrlError
from .trace import redact_url
from .urls import checked_url, resolve_reference

__all__ = ["REDIRECT_STATUSES", "Hop", "next_hop"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Hop:
    """Where a redirect leads: the URL, the method, whether the body goes along, and whether
    the origin changes (then credentials stay behind)."""

    url: str
    method: str
    keeps_body: bool
    moved: bool


def next_hop(method: str, here: str, status: int, location: str, has_body: bool) -> Hop:
    """The hop that answers ``status`` + ``location`` to ``method here``, or the RedirectError
    (InsecureRedirectError for a downgrade) that refuses it.

    The target is resolved and checked by :func:`~ociinspect.distribution.urls.resolve_reference`
    (the one parser: a ``Location`` that urllib.parse and urllib3 would read as different hosts,
    with a backslash, userinfo, a zone or a percent-encoded delimiter in its authority, is
    refused with what each parser read), and ``Hop.url`` is the string that will be sent."""
    try:
        base = checked_url(here)
        there = resolve_reference(base, location)
    except UnsafeUrlError as exc:  # a port over 65535, a broken IPv6 literal, file:, a differential
        shown = f"; {exc}" if exc.readings else f": {exc.reason}"
        raise RedirectError(
            method, redact_url(here), status, reason=f"unusable Location header{shown}"
        ) from None
    moved = there.origin != base.origin
    if base.scheme == "https" and there.scheme != "https":
        raise InsecureRedirectError(
            method,
            redact_url(here),
            status,
            reason=f"refusing redirect from https to {there.redacted()}",
        )
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, has_body = "GET", False
    if moved and has_body:
        raise RedirectError(
            method,
            redact_url(here),
            status,
            reason=f"refusing to resend a request body to {there.redacted()}",
        )
    return Hop(there.geturl(), method, has_body, moved)
