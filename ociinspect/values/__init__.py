"""The value types: frozen, self-validating, built from raw bytes; no I/O, no other layer.

=================  ==========================================================================
``reference``      image references with distribution/reference semantics (docker.io defaults)
``digest``         :class:`Digest`, the type of every digest inside the package; verifiers
``platforms``      :class:`Platform`: parse, normalise (x86_64 -> amd64, arm -> arm/v7), match
``mediatypes``     OCI and Docker media types, and the one rule for generic Content-Types
``models``         :class:`Descriptor`, :class:`Index`, :class:`Manifest`, :class:`ImageConfig`
=================  ==========================================================================
"""

from __future__ import annotations

from .digest import Digest
from .models import Descriptor, ImageConfig, Index, Manifest, ManifestInfo
from .platforms import Platform
from .reference import Reference

__all__ = [
    "Descriptor",
    "Digest",
    "ImageConfig",
    "Index",
    "Manifest",
    "ManifestInfo",
    "Platform",
    "Reference",
]
