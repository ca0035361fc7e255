"""The seed's contract, kept: fetch a manifest or a blob with one kernel-wide token cache.

::

    from ociinspect.registry import manifest, blob, TokenCache
    info, tokens = manifest("docker.io", "library/alpine", "3.20")
    config = blob("docker.io", "library/alpine", info.manifest.config.digest, tokens)

Everything else of the distribution client is :mod:`ociinspect.distribution`; these functions
use the default :class:`~ociinspect.session.Session`'s client.
"""

from __future__ import annotations

from .distribution.auth import TokenCache
from .distribution.client import RegistryClient, blob, default_client, manifest
from .values.models import ManifestInfo

__all__ = ["ManifestInfo", "RegistryClient", "TokenCache", "blob", "default_client", "manifest"]
