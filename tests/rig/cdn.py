"""The "CDN" the registry redirects blob downloads to: a different host, 127.0.0.2.

distribution's ``redirect`` storage middleware answers blob GET/HEAD with 307 to
``<scheme>://<baseurl host>/docker/registry/v2/blobs/sha256/<xx>/<hex>/data`` (2.8.2 keeps only
scheme and host of ``baseurl``). This server serves exactly those paths from the registry's
storage directory, with single-range support, and records every request, so tests can assert
that no ``Authorization`` header ever reaches it. Fault rules (:class:`~rig.httpd.Faults`)
let a test corrupt, truncate or fail downloads.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from .httpd import Faults, Handler, Recorded, Recorder, Response, Server

_BLOB_PATH = re.compile(r"/docker/registry/v2/blobs/sha256/([a-f0-9]{2})/([a-f0-9]{64})/data")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Cdn:
    """Serves the blobs of ``storage_dir`` on 127.0.0.2 (or ``host``), ephemeral port."""

    def __init__(self, storage_dir: Path, host: str = "127.0.0.2") -> None:
        self.storage_dir = Path(storage_dir)
        self.recorder = Recorder()
        self.faults = Faults()
        self._sent: list[int] = []  # body bytes written per answered GET, in order
        self._sent_lock = threading.Lock()
        self._server = Server(_CdnHandler, self, host)
        self.host = self._server.host
        self.url = self._server.url

    def requests(self) -> list[Recorded]:
        """Every request received since the last reset, in arrival order."""
        return self.recorder.all()

    def reset(self) -> None:
        self.recorder.clear()
        self.faults.clear()
        with self._sent_lock:
            self._sent.clear()

    def bytes_sent(self) -> int:
        """Body bytes this CDN wrote (GET answers, blobs and ranges) since the last reset."""
        with self._sent_lock:
            return sum(self._sent)

    def count_sent(self, size: int) -> None:
        with self._sent_lock:
            self._sent.append(size)

    def stop(self) -> None:
        self._server.stop()

    def blob_path(self, digest: str) -> Path:
        hex_ = digest.split(":", 1)[1]
        return self.storage_dir / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"


def _content_range(spec: str, size: int) -> tuple[int, int] | None:
    """``(start, end_inclusive)`` of a single byte range, or None if unsatisfiable/invalid."""
    match = _RANGE.fullmatch(spec.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


class _CdnHandler(Handler):
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        cdn: Cdn = self.server.owner  # type: ignore[attr-defined]
        if self.intercept(cdn.faults, cdn.recorder):
            return
        response = self._answer(cdn, self.path)
        cdn.faults.apply_response(self.command, self.path, response)
        cdn.recorder.add(self.record(response.status))
        self.send(response)
        if self.command == "GET":
            kept = response.truncate_to
            cdn.count_sent(len(response.body) if kept is None else min(kept, len(response.body)))

    def _answer(self, cdn: Cdn, path: str) -> Response:
        match = _BLOB_PATH.fullmatch(path.split("?", 1)[0])
        target = cdn.blob_path(f"sha256:{match.group(2)}") if match else None
        if (
            match is None
            or target is None
            or match.group(2)[:2] != match.group(1)
            or not target.is_file()
        ):
            return Response(404, [("Content-Type", "text/plain")], b"not found\n")
        data = target.read_bytes()
        headers = [
            ("Content-Type", "application/octet-stream"),
            ("Accept-Ranges", "bytes"),
            ("ETag", f'"sha256:{match.group(2)}"'),
        ]
        range_header = self.headers.get("Range")
        if range_header is None:
            return Response(200, headers, data)
        span = _content_range(range_header, len(data))
        if span is None:
            return Response(416, [*headers, ("Content-Range", f"bytes */{len(data)}")], b"")
        start, end = span
        return Response(
            206,
            [*headers, ("Content-Range", f"bytes {start}-{end}/{len(data)}")],
            data[start : end + 1],
        )
