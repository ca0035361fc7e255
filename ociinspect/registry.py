"""The seed's contract, kept: fetch a manifest or a blob with one kernel-wide token cache.

::

    from ociinspect.registry import manifest, blob, TokenCache
    info, tokens = manifest("docker.io", "library/alpine", "3.20")
    config = blob("docker.io", "library/alpine", info.manifest.config.digest, tokens)

Both use the default :class:`~ociinspect.session.Session`'s client (its token cache, its
connections, its trace). A ``token_cache`` other than that session's is used for that call
only, with the same transport and trace. Everything else of the distribution client is in
:mod:`ociinspect.distribution`.
"""

from __future__ import annotations

from .distribution.auth import TokenCache
from .distribution.client import RegistryClient
from .session import default_session
from .values.digest import Digest
from .values.models import ManifestInfo


def _client_for(token_cache: TokenCache | None) -> RegistryClient:
    shared = default_session().client
    if token_cache is None or token_cache is shared.token_cache:
        return shared
    return shared.with_token_cache(token_cache)


def manifest(
    registry: str, repo: str, reference: str, token_cache: TokenCache | None = None
) -> tuple[ManifestInfo, TokenCache | None]:
    """Fetch ``repo:reference`` (tag or digest), verified. Returns the manifest and the token
    cache used."""
    client = _client_for(token_cache)
    return client.get_manifest(registry, repo, reference), client.token_cache


def blob(
    registry: str,
    repo: str,
    digest: str,
    token_cache: TokenCache | None = None,
    max_size: int | None = None,
) -> bytes:
    """Download a blob (a config, a small layer) into memory, verified against ``digest``.

    At most ``max_size`` bytes (default: the client's ``max_blob_in_memory``, 64 MiB; a larger
    ``Content-Length`` is refused before the body, a longer body as it arrives, with
    :class:`~ociinspect.errors.SizeLimitError`). Large layers: ``RegistryClient.stream_blob``
    or ``download_blob``."""
    client = _client_for(token_cache)
    return client.get_blob(registry, repo, Digest.parse(digest), max_size=max_size)


__all__ = ["ManifestInfo", "TokenCache", "blob", "manifest"]
