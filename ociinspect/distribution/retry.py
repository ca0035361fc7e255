"""When to retry a request and how long to wait: one policy, no I/O.

Only idempotent reads (GET, HEAD) are retried, on 408, 429 and 5xx answers and on connection
errors; ``Retry-After`` (seconds or an HTTP date, RFC 9110 section 10.2.3) is honoured up to a cap;
otherwise waits grow exponentially with full jitter (the AWS architecture blog's "full jitter");
the whole attempt is bounded in count and in total time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_METHODS = frozenset({"GET", "HEAD"})
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit(), not to float()
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. ``RetryPolicy(attempts=1)`` disables retries."""

    attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    total: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    methods: frozenset[str] = RETRY_METHODS

    def retryable(self, method: str, status: int | None) -> bool:
        """Whether ``method`` may be retried after ``status`` (None: no answer at all)."""
        return method.upper() in self.methods and (status is None or status in self.statuses)

    def delay(
        self, attempt: int, retry_after: str | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` counts from 1)."""
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_retry_after)
        ceiling = min(self.max_backoff, self.backoff * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)

    def should_retry(self, attempt: int, elapsed: float, wait: float) -> bool:
        """Whether another attempt fits in the count and time budget."""
        return attempt < self.attempts and elapsed + wait <= self.total
