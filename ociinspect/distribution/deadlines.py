"""When an exchange or an operation must be over, decided without I/O.

A socket's read timeout bounds the wait for each piece of an answer, not the answer: a server
that sends one byte every half second keeps a 4 MiB manifest read alive for weeks. So every
exchange the client sends carries a :class:`Deadline`, which the transport enforces on the
whole exchange (connecting, the headers and the body, until the answer is closed):

==================  ====================================================  ======================
what                bound                                                 setting (variable)
==================  ====================================================  ======================
a document          the exchange ends within ``request`` seconds:         ``request_deadline``
(manifest, token,   headers and body, error bodies and listing pages      (``OCIINSPECT_REQUEST
listing, error)     included                                              _DEADLINE``) 120 s
an operation        every exchange of one call (the 401, the token, the   ``operation_deadline``
                    redirects, the retries) ends by ``operation`` seconds  300 s
                    after the call began
a blob              the body arrives at ``min_blob_rate`` bytes/s on      ``min_blob_rate``
                    average, after a grace of ``request`` seconds          16 KiB/s
                    (so any size can stream, a drip cannot)
==================  ====================================================  ======================

:class:`Deadlines` is the policy a client is built with (from the session's settings);
:meth:`Deadlines.exchange` gives one exchange's :class:`Deadline`; :func:`due` is the moment a
deadline runs out given the bytes seen so far, and :func:`explain` says which bound it was and
which setting raises it, for the :class:`~ociinspect.errors.DeadlineError` the client raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..values.units import format_size

__all__ = ["Deadline", "Deadlines", "due", "explain"]


@dataclass(frozen=True)
class Deadline:
    """When one exchange must be over, on the ``time.monotonic`` clock.

    ``at``: the whole exchange (connect, headers, body) ends by then (None: no such bound).
    ``min_rate`` (bytes/s) with ``start`` and ``grace``: the body must keep up an average of
    ``min_rate`` after ``grace`` seconds, i.e. the exchange may last ``grace + received /
    min_rate`` seconds from ``start``. ``request`` and ``operation`` remember the settings that
    made ``at`` (for the message)."""

    at: float | None = None
    start: float = 0.0
    min_rate: float | None = None
    grace: float = 0.0
    request: float | None = None
    operation: float | None = None


def due(deadline: Deadline, received: int) -> float:
    """The monotonic time at which ``deadline`` runs out, ``received`` body bytes in."""
    limits = [math.inf]
    if deadline.at is not None:
        limits.append(deadline.at)
    if deadline.min_rate:
        limits.append(deadline.start + deadline.grace + received / deadline.min_rate)
    return min(limits)


def explain(deadline: Deadline, received: int, now: float) -> str:
    """Why ``deadline`` ran out at ``now``, and which setting would allow more."""
    elapsed = now - deadline.start
    got = f"{format_size(received)} of the body had arrived" if received else "no body yet"
    if deadline.min_rate and (deadline.at is None or now < deadline.at - 0.001):
        rate = received / elapsed if elapsed > 0 else 0.0
        return (
            f"it arrived at {format_size(int(rate))}/s over {elapsed:.1f} s, under the minimum "
            f"of {format_size(int(deadline.min_rate))}/s after a grace of {deadline.grace:g} s "
            f"({got}; Settings.min_blob_rate, OCIINSPECT_MIN_BLOB_RATE)"
        )
    by_request = deadline.request is not None and (
        deadline.operation is None or deadline.start + deadline.request <= (deadline.at or 0)
    )
    if by_request:
        return (
            f"no complete answer within the {deadline.request:g} s deadline of one exchange "
            f"({got}; Settings.request_deadline, OCIINSPECT_REQUEST_DEADLINE)"
        )
    return (
        f"the {deadline.operation:g} s deadline of the whole operation (auth, redirects, "
        f"retries) ran out ({got}; Settings.operation_deadline, OCIINSPECT_OPERATION_DEADLINE)"
    )


@dataclass(frozen=True)
class Deadlines:
    """A client's deadline policy (see the module docstring); ``None`` turns a bound off."""

    request: float | None = 120.0
    operation: float | None = 300.0
    min_blob_rate: float | None = 16 * 1024

    def __post_init__(self) -> None:
        for name in ("request", "operation", "min_blob_rate"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"Deadlines.{name} must be a positive number or None")

    def operation_end(self, now: float) -> float | None:
        """When an operation starting ``now`` must be over."""
        return now + self.operation if self.operation is not None else None

    def exchange(self, now: float, until: float | None, blob: bool = False) -> Deadline:
        """The deadline of an exchange starting ``now`` within an operation ending ``until``.

        A blob's body is bounded by the minimum rate, not by a fixed time (any size may
        stream); its headers still come within ``request`` seconds (the grace)."""
        if blob and self.min_blob_rate is not None:
            grace = self.request if self.request is not None else 0.0
            return Deadline(None, now, self.min_blob_rate, grace, self.request, None)
        ends = [t for t in (until, now + self.request if self.request else None) if t]
        at = min(ends) if ends else None
        return Deadline(at, now, None, 0.0, self.request, self.operation)
