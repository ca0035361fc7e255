"""The demo's "CDN": a second origin that serves blobs at pre-signed URLs.

The registry answers a blob GET with ``307`` to
``http://127.0.0.2:PORT/blobs/sha256/<hex>?expires=<unix time>&signature=<HMAC>``: the URL
carries its own short-lived authorisation, so the CDN needs no token. Like S3 and other
storage services, it refuses a request that carries an ``Authorization`` header as well
(``400``: one authentication mechanism at a time), so a client that forwards the registry's
token across the redirect fails here, visibly. ``Range`` requests get ``206``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .http import Handler

if TYPE_CHECKING:
    from . import DemoRegistry

#: How long a pre-signed URL stays good (Docker Hub's CDN URLs last about 20 minutes).
URL_LIFETIME = 20 * 60
_PATH = re.compile(r"/blobs/sha256/(?P<hex>[a-f0-9]{64})")
_RANGE = re.compile(r"bytes=(?P<start>\d*)-(?P<end>\d*)")


@dataclass
class Signer:
    """Signs and checks the CDN's URLs with a key made when the demo starts."""

    clock: Callable[[], float] = time.time
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def sign(self, base: str, digest: str) -> str:
        path = f"/blobs/sha256/{digest.split(':', 1)[1]}"
        expires = int(self.clock()) + URL_LIFETIME
        return f"{base}{path}?expires={expires}&signature={self._mac(path, expires)}"

    def check(self, path: str, expires: str, signature: str) -> bool:
        if not expires.isdigit() or int(expires) < self.clock():
            return False
        return hmac.compare_digest(signature, self._mac(path, int(expires)))

    def _mac(self, path: str, expires: int) -> str:
        return hmac.new(self._key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


class CdnHandler(Handler):
    """``GET``/``HEAD /blobs/sha256/<hex>?expires=…&signature=…``."""

    @property
    def app(self) -> DemoRegistry:
        return self.server.app  # type: ignore[no-any-return]

    origin = "cdn"

    def do_GET(self) -> None:
        path = self.path_only
        match = _PATH.fullmatch(path)
        query = self.query
        if self.command not in ("GET", "HEAD") or match is None:
            self.discard_body()
            self.answer(404, b"not found\n", content_type="text/plain")
            return
        if "Authorization" in self.headers:
            self.answer(
                400,
                b"InvalidArgument: only one auth mechanism allowed: the signed URL, "
                b"or an Authorization header, not both\n",
                content_type="text/plain",
            )
            return
        if not self.app.signer.check(path, query.get("expires", ""), query.get("signature", "")):
            self.answer(
                403, b"AccessDenied: expired or invalid signature\n", content_type="text/plain"
            )
            return
        data = self.app.store.data.get(f"sha256:{match.group('hex')}")
        if data is None:
            self.answer(404, b"NoSuchKey\n", content_type="text/plain")
            return
        self._send(data)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _send(self, data: bytes) -> None:
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "max-age=31536000"}
        wanted = _RANGE.fullmatch(self.headers.get("Range", "").strip())
        if wanted is None or not (wanted.group("start") or wanted.group("end")):
            self.answer(200, data, headers, content_type="application/octet-stream")
            return
        size = len(data)
        if wanted.group("start"):
            start = int(wanted.group("start"))
            end = min(int(wanted.group("end") or size - 1), size - 1)
        else:  # a suffix: the last N bytes
            start, end = max(0, size - int(wanted.group("end"))), size - 1
        if start >= size or start > end:
            self.answer(416, b"", {"Content-Range": f"bytes */{size}"})
            return
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.answer(206, data[start : end + 1], headers, content_type="application/octet-stream")


__all__ = ["URL_LIFETIME", "CdnHandler", "Signer"]
