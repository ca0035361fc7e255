"""Verified streams: chunks pass through while they are hashed and counted. No I/O of its own.

OCI distribution-spec v1.1 spec.md "Pulling blobs": the client verifies the content it receives
against the digest it asked for. image-spec descriptor.md "Size" and "Digests": the size is
checked as bytes arrive, so a body longer than its descriptor stops early, and nothing is
trusted before the last chunk is hashed. :func:`verified` is that loop for any iterator of
chunks; :class:`HashAhead` moves the hashing of a big blob to a helper thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable

from ..errors import SizeLimitError, SizeMismatchError
from .digest import Digest, Verifier

__all__ = ["HASH_AHEAD", "HashAhead", "verified"]

#: Blobs at least this long are hashed in a helper thread as they stream: see HashAhead.
HASH_AHEAD = 8 * 1024 * 1024


class HashAhead:
    """Feeds a :class:`Verifier` from a helper thread, a few chunks behind the download.

    hashlib and socket reads both release the GIL, so with a core to spare, receiving the next
    chunk overlaps hashing this one: a verified download then runs at the speed of the slower of
    the two instead of their sum (hashing costs ~3x the receive copy). At most ``depth`` chunks
    wait (memory stays bounded); sizes are checked by the caller as chunks arrive.
    """

    def __init__(self, verifier: Verifier, depth: int = 4) -> None:
        self.verifier = verifier
        self._queue: queue.Queue[bytes | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ociinspect-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.verifier.update(chunk)
                except Exception as exc:  # re-raised by verify(); keep draining meanwhile
                    self._error = exc

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def close(self) -> None:
        """Stop the helper once the queued chunks are hashed; safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def verify(self) -> Digest:
        self.close()
        if self._error is not None:
            raise self._error
        return self.verifier.verify()


def verified(
    chunks: Iterable[bytes],
    verifier: Verifier,
    *,
    max_size: int | None = None,
    ahead: bool = False,
) -> Generator[bytes, None, None]:
    """``chunks`` passed through ``verifier``: a chunk past the verifier's size raises
    SizeMismatchError, past ``max_size`` SizeLimitError, before it is yielded; the end of the
    stream raises on a digest or size mismatch. ``ahead``: hash in a :class:`HashAhead` thread
    (stopped however the stream ends, also when the consumer stops early)."""
    what, size = verifier.what, verifier.size
    hashing: Verifier | HashAhead = HashAhead(verifier) if ahead else verifier
    received = 0
    try:
        for chunk in chunks:
            received += len(chunk)
            if size is not None and received > size:
                raise SizeMismatchError(what, size, received)
            if max_size is not None and received > max_size:
                raise SizeLimitError(what, max_size, received)
            hashing.update(chunk)
            yield chunk
        hashing.verify()
    finally:
        if isinstance(hashing, HashAhead):
            hashing.close()
