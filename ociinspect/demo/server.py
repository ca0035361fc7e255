"""The running demo: a registry, its token server and its CDN, on loopback.

:class:`DemoRegistry` binds three servers (registry and token server on ``host``, the CDN on
``cdn_host``, a second loopback address, or on ``host`` with another port where that address
cannot be bound, as on macOS), serves them from daemon threads, and keeps what a lesson wants
to show from the server's side: a bounded log of every request (with the authorisation scheme
it carried, never its value), counters, and the pulls spent against the optional rate limit.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..distribution.credentials import Credentials
from .cdn import CdnHandler, Signer
from .content import Store, demo_store
from .http import LoopbackServer, require_loopback
from .registry import RegistryHandler, Uploads
from .tokens import USER, TokenAuthority, TokenHandler

#: Requests kept in :attr:`DemoRegistry.log`, newest last.
LOG_LIMIT = 2000
#: Docker Hub's window for anonymous pulls (6 hours).
DEFAULT_WINDOW = 21600


@dataclass(frozen=True)
class Seen:
    """One request as a demo server saw it: which server, method, path (no query), status,
    and the scheme word of its ``Authorization`` header ("" when it had none)."""

    origin: str
    method: str
    path: str
    status: int
    authorization: str


class DemoRegistry:
    """A small registry on loopback for lessons: see :mod:`ociinspect.demo`.

    ``rate_limit`` turns on Docker Hub's rate-limit headers on manifest requests (that many
    pulls per ``window`` seconds); ``fail_after`` makes manifest GETs past that many pulls
    answer ``429 TOOMANYREQUESTS`` with ``Retry-After: retry_after``. HEAD is never counted.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        cdn_host: str = "127.0.0.2",
        port: int = 0,
        rate_limit: int | None = None,
        window: int = DEFAULT_WINDOW,
        fail_after: int | None = None,
        retry_after: int = 60,
        store: Store | None = None,
    ) -> None:
        require_loopback(host)
        require_loopback(cdn_host)
        self.store = store if store is not None else demo_store()
        self.tokens = TokenAuthority()
        self.signer = Signer()
        self.uploads = Uploads()
        self.rate_limit = rate_limit if rate_limit is not None else fail_after
        self.window = window
        self.fail_after = fail_after
        self.retry_after = retry_after
        self.log: deque[Seen] = deque(maxlen=LOG_LIMIT)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pulls = 0
        self.registry = LoopbackServer(host, port, RegistryHandler, self)
        self.token_server = LoopbackServer(host, 0, TokenHandler, self)
        try:
            self.cdn = LoopbackServer(cdn_host, 0, CdnHandler, self)
        except OSError:  # 127.0.0.2 is not routed to lo everywhere (macOS): another port
            self.cdn = LoopbackServer(host, 0, CdnHandler, self)
        self._started = False
        self._finalizer = weakref.finalize(
            self, _stop_all, (self.registry, self.token_server, self.cdn)
        )

    def __repr__(self) -> str:
        state = "running" if self._started and self._finalizer.alive else "stopped"
        return f"<DemoRegistry {self.host} {state} pulls={self.pulls}>"

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> DemoRegistry:
        """Serve from daemon threads (they end with the process at the latest)."""
        if not self._started:
            for server in (self.registry, self.token_server, self.cdn):
                server.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Stop the three servers; safe to call twice."""
        self._finalizer()

    def __enter__(self) -> DemoRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._started and self._finalizer.alive

    # -- addresses ----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of this demo's references."""
        return f"{self.registry.host}:{self.registry.port}"

    @property
    def url(self) -> str:
        return self.registry.url

    @property
    def token_url(self) -> str:
        """The realm the registry's challenges name."""
        return f"{self.token_server.url}/token"

    @property
    def cdn_url(self) -> str:
        return self.cdn.url

    def ref(self, name: str) -> str:
        """``"sample:latest"`` -> ``"127.0.0.1:PORT/sample:latest"``."""
        return f"{self.host}/{name}"

    @property
    def credentials(self) -> Credentials:
        """The demo user's login (it may push to ``scratch/…``); never shown in a repr."""
        return Credentials(USER, self.tokens.password)

    # -- what the servers saw -----------------------------------------------------------------

    @property
    def pulls(self) -> int:
        """Manifest GETs answered 200 or 429 so far (what Docker Hub counts as pulls)."""
        with self._lock:
            return self._pulls

    def seen(self, origin: str | None = None) -> list[Seen]:
        """The logged requests (of one server: "registry", "token" or "cdn")."""
        return [s for s in list(self.log) if origin is None or s.origin == origin]

    def saw(self, origin: str, method: str, path: str, status: int, headers: Any) -> None:
        scheme = (headers.get("Authorization") or "").split(" ", 1)[0] if headers else ""
        self.log.append(Seen(origin, method, path.split("?", 1)[0], status, scheme))
        self.count(origin)

    def count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    # -- policies the handlers ask ------------------------------------------------------------

    def take_pull(self) -> str | None:
        """Count one pull; the refusal message when it is over ``fail_after``."""
        with self._lock:
            if self.fail_after is not None and self._pulls >= self.fail_after:
                self._pulls += 1
                return (
                    f"You have reached your pull rate limit ({self.rate_limit} pulls per "
                    f"{self.window} s on this demo). HEAD requests are free; wait, or restart "
                    "the demo with another limit."
                )
            self._pulls += 1
            return None

    def rate_headers(self) -> dict[str, str]:
        """Docker Hub's rate-limit headers, when a limit is on."""
        if self.rate_limit is None:
            return {}
        with self._lock:
            left = max(0, self.rate_limit - self._pulls)
        return {
            "ratelimit-limit": f"{self.rate_limit};w={self.window}",
            "ratelimit-remaining": f"{left};w={self.window}",
            "docker-ratelimit-source": self.registry.host,
        }

    def cdn_location(self, digest: str) -> str:
        return self.signer.sign(self.cdn_url, digest)

    def scratch_room(self) -> int:
        """Bytes a push may still add (pending uploads count)."""
        used = self.store.scratch_bytes + self.uploads.pending_bytes()
        return max(0, self.store.scratch_max_bytes - used)

    def summary(self) -> Mapping[str, int]:
        """Requests per server and pulls, for a lesson's last line."""
        with self._lock:
            return {**self.counts, "pulls": self._pulls}


def _stop_all(servers: tuple[LoopbackServer, ...]) -> None:
    for server in servers:
        server.stop()


def start(**options: Any) -> DemoRegistry:
    """A started :class:`DemoRegistry` (``options`` as its constructor takes them)."""
    return DemoRegistry(**options).start()


__all__ = ["DEFAULT_WINDOW", "LOG_LIMIT", "DemoRegistry", "Seen", "start"]
