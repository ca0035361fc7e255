"""The backend every personality fronts: Debian's ``docker-registry`` (distribution 2.8.2) in open
mode, no redirect middleware, on a copy of the rig's seeded storage with the repositories renamed
to the personality's public names.

Renaming is a file copy: distribution keeps blobs once, globally, under
``docker/registry/v2/blobs``, and a repository is only a directory of links under
``docker/registry/v2/repositories/<name>/`` (``_manifests/tags/<tag>/current/link``,
``_manifests/revisions/…``, ``_layers/…``). Copying ``repositories/demo/multi`` to
``repositories/library/alpine`` gives a registry that serves the seeded bytes, digests and tags
under ``library/alpine``, as a real one would after a push. Other seeded repositories are left
out, so the backend holds exactly what the personality publishes.

The backend is only ever reached through a front (which enforces the personality's auth and
refuses writes); it listens on 127.0.0.1 and an ephemeral port (see :mod:`rig.registry`).
"""

from __future__ import annotations

import http.client
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from rig.httpd import Response
from rig.registry import RegistryProcess, registry_config

#: Largest body the front reads from the backend in one answer (the seeded blobs are < 3 MiB).
MAX_BACKEND_BODY = 64 * 1024 * 1024
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
#: Request headers a front passes on to the backend (never credentials).
_FORWARDED = ("accept", "range", "if-none-match", "user-agent")
#: Answer headers a front drops: hop-by-hop ones, and Date/Server, which the front writes itself.
_DROPPED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "date", "server"}
)
_REPOSITORIES = Path("docker/registry/v2/repositories")
_BLOBS = Path("docker/registry/v2/blobs/sha256")


class Backend:
    """A running open registry holding ``repositories`` (public name -> seeded name)."""

    def __init__(self, workdir: Path, seed_storage: Path, repositories: Mapping[str, str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.storage = workdir / "storage"
        if self.storage.exists():
            shutil.rmtree(self.storage)
        shutil.copytree(seed_storage / _BLOBS.parent, self.storage / _BLOBS.parent)
        for public, seeded in repositories.items():
            source = seed_storage / _REPOSITORIES / seeded
            if not source.is_dir():
                raise FileNotFoundError(
                    f"the seed storage {seed_storage} has no repository {seeded!r}"
                )
            shutil.copytree(source, self.storage / _REPOSITORIES / public)
        self.repositories = dict(repositories)
        self.process = RegistryProcess(workdir, registry_config("open", self.storage))
        host, _, port = self.process.host.rpartition(":")
        self.host, self.port = host, int(port)

    def forward(self, method: str, target: str, headers: tuple[tuple[str, str], ...]) -> Response:
        """Send ``method target`` to the backend with the safe subset of ``headers``; read the
        whole answer (bounded) and return it without hop-by-hop headers (nor Date/Server)."""
        if method not in ("GET", "HEAD"):
            raise ValueError(f"the backend is only read through a front, not with {method}")
        sent = {k: v for k, v in headers if k.lower() in _FORWARDED}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, target, headers=sent)
            reply = connection.getresponse()
            length = reply.getheader("Content-Length")
            if length is not None and length.isdigit() and int(length) > MAX_BACKEND_BODY:
                raise RuntimeError(f"backend answer of {length} bytes is over the rig's bound")
            body = reply.read(MAX_BACKEND_BODY + 1)
            if len(body) > MAX_BACKEND_BODY:
                raise RuntimeError("backend answer is over the rig's bound")
            kept = [(k, v) for k, v in reply.getheaders() if k.lower() not in _DROPPED]
            return Response(reply.status, kept, body)
        finally:
            connection.close()

    def blob_file(self, digest: str) -> Path | None:
        """The stored file for ``digest`` (``sha256:<hex>``), or None when the backend has none."""
        if not DIGEST.match(digest):
            return None
        hex_ = digest.split(":", 1)[1]
        path = self.storage / _BLOBS / hex_[:2] / hex_ / "data"
        return path if path.is_file() else None

    def stop(self) -> None:
        self.process.stop()
